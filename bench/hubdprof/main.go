// Command hubdprof is hubd with a CPU and heap profile around it, for
// benchmark runs: the harness runs the exact same entry point (server.Main)
// between pprof.StartCPUProfile and StopCPUProfile, so the profile covers the
// whole run (the admin listener's /debug/pprof/ samples a running daemon). The heap profile is written each time the heap in use
// reaches a new high (checked every second), so it shows the peak, not the
// drained state at exit; a goroutine profile is written beside it.
//
//	hubdprof --cpuprofile cpu.pprof --memprofile heap.pprof -- serve --listen 127.0.0.1:0 ...
//
// Stop it with SIGTERM (hubd's graceful shutdown), then
// `go tool pprof -top bin/hubdprof cpu.pprof`.
package main

import (
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/hubd/hubd/pkg/server"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("hubdprof", flag.ContinueOnError)
	cpu := fs.String("cpuprofile", "cpu.pprof", "CPU profile output")
	mem := fs.String("memprofile", "", "heap profile output, rewritten at each new heap high; <path>.goroutine beside it")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	f, err := os.Create(*cpu)
	if err != nil {
		fmt.Fprintln(os.Stderr, "hubdprof:", err)
		return 1
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "hubdprof: start cpu profile:", err)
		return 1
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		if *mem != "" {
			watchHeap(*mem, stop)
		}
	}()
	code := server.Main(fs.Args(), os.Stdout, os.Stderr)
	close(stop)
	<-done
	pprof.StopCPUProfile()
	return code
}

// watchHeap writes heap and goroutine profiles whenever the heap in use grew
// by more than 10% over the last written high.
func watchHeap(path string, stop <-chan struct{}) {
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var high uint64
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		if ms.HeapInuse+ms.StackInuse <= high+high/10 {
			continue
		}
		high = ms.HeapInuse + ms.StackInuse
		for name, file := range map[string]string{"heap": path, "goroutine": path + ".goroutine"} {
			if err := writeProfile(name, file); err != nil {
				fmt.Fprintln(os.Stderr, "hubdprof:", err)
			}
		}
	}
}

func writeProfile(name, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create %s profile: %w", name, err)
	}
	defer f.Close()
	if err := pprof.Lookup(name).WriteTo(f, 0); err != nil {
		return fmt.Errorf("write %s profile: %w", name, err)
	}
	return nil
}
