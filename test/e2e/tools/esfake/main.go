// Command esfake serves the Elasticsearch stand-in of pkg/records/esfake on
// 127.0.0.1 for the end-to-end tests, loaded with a records directory.
//
//	esfake --records DIR [--index-pattern "%s"]
//
// Every <object>.json of DIR (an array of records) is indexed into the index
// named as records.NewElastic names it: fmt.Sprintf(pattern, object),
// lowercased. It prints one JSON line on stdout once ready:
//
//	{"url":"http://127.0.0.1:PORT"}
//
// and runs until stdin is closed or it gets SIGTERM/SIGINT. Besides the
// stand-in's search API it serves, for tests that change records while the
// daemon runs:
//
//	POST /_esfake/index/<object>   [record, ...]   indexes more records of
//	               object (index name as above). 204 when stored.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/hubd/hubd/pkg/records/esfake"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "esfake:", err)
		os.Exit(1)
	}
}

func run() error {
	dir := flag.String("records", "", "records directory of <object>.json arrays (required)")
	pattern := flag.String("index-pattern", "%s", "index name pattern; %s is the object name, the result is lowercased")
	flag.Parse()
	if *dir == "" {
		return errors.New("--records is required")
	}
	if strings.Count(*pattern, "%s") != 1 || strings.Count(*pattern, "%") != 1 {
		return fmt.Errorf("--index-pattern %q must contain exactly one %%s", *pattern)
	}
	indexName := func(object string) string { return strings.ToLower(fmt.Sprintf(*pattern, object)) }

	es := esfake.New()
	if err := load(es, *dir, indexName); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /_esfake/index/{object}", func(w http.ResponseWriter, r *http.Request) {
		var docs []map[string]any
		if err := json.NewDecoder(r.Body).Decode(&docs); err != nil {
			http.Error(w, "want a JSON array of records: "+err.Error(), http.StatusBadRequest)
			return
		}
		if err := es.Index(indexName(r.PathValue("object")), docs); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	mux.Handle("/", es)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	ready, _ := json.Marshal(map[string]string{"url": "http://" + ln.Addr().String()})
	fmt.Println(string(ready))

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	stdinClosed := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		close(stdinClosed)
	}()
	select {
	case <-ctx.Done():
	case <-stdinClosed:
	}
	return nil
}

// load indexes every <object>.json of dir.
func load(es *esfake.Server, dir string, indexName func(string) string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return fmt.Errorf("records: %w", err)
	}
	if len(files) == 0 {
		return fmt.Errorf("records: no <object>.json in %s", dir)
	}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("records: %w", err)
		}
		var docs []map[string]any
		if err := json.Unmarshal(raw, &docs); err != nil {
			return fmt.Errorf("records: %s: %w", file, err)
		}
		object := strings.TrimSuffix(filepath.Base(file), ".json")
		if err := es.Index(indexName(object), docs); err != nil {
			return fmt.Errorf("records: %s: %w", file, err)
		}
	}
	return nil
}
