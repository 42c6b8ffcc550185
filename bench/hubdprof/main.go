// Command hubdprof is hubd with a CPU and heap profile around it, for
// benchmark runs: the daemon has no pprof endpoint, so this harness runs the
// exact same entry point (server.Main) between pprof.StartCPUProfile and
// StopCPUProfile and writes a heap profile on exit.
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

	"github.com/hubd/hubd/pkg/server"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("hubdprof", flag.ContinueOnError)
	cpu := fs.String("cpuprofile", "cpu.pprof", "CPU profile output")
	mem := fs.String("memprofile", "", "heap profile output, written at exit")
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
	code := server.Main(fs.Args(), os.Stdout, os.Stderr)
	pprof.StopCPUProfile()
	if *mem != "" {
		if err := writeHeap(*mem); err != nil {
			fmt.Fprintln(os.Stderr, "hubdprof:", err)
			return 1
		}
	}
	return code
}

func writeHeap(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("create heap profile: %w", err)
	}
	defer f.Close()
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		return fmt.Errorf("write heap profile: %w", err)
	}
	return nil
}
