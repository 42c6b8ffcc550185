// Command apicheck validates recorded REST exchanges against the OpenAPI
// document a running hubd served for the hub, using pkg/rest/apitest.
//
// It reads one JSON object on stdin:
//
//	{"document": {...}, "exchanges": [{"method", "path", "status", "body", "request"?}]}
//
// and checks every response (route, status and body schema) and, for
// accepted requests (2xx) that carried one, the request body. It prints one
// line per failure and a summary line, and exits 1 when anything failed.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/hubd/hubd/pkg/rest/apitest"
)

// exchange is one REST request and its response as the e2e suites saw it.
type exchange struct {
	Method  string          `json:"method"`
	Path    string          `json:"path"`
	Status  int             `json:"status"`
	Body    json.RawMessage `json:"body"`
	Request json.RawMessage `json:"request,omitempty"`
}

type input struct {
	Document  json.RawMessage `json:"document"`
	Exchanges []exchange      `json:"exchanges"`
}

// errFailed reports that at least one exchange did not match the document.
var errFailed = errors.New("exchanges do not match the document")

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "apicheck:", err)
		os.Exit(1)
	}
}

func run(r io.Reader, w io.Writer) error {
	var in input
	if err := json.NewDecoder(r).Decode(&in); err != nil {
		return fmt.Errorf("read input: %w", err)
	}
	v, err := apitest.NewValidator(in.Document)
	if err != nil {
		return fmt.Errorf("document: %w", err)
	}
	failed := 0
	for i, ex := range in.Exchanges {
		if err := v.Response(ex.Method, ex.Path, ex.Status, ex.Body); err != nil {
			failed++
			fmt.Fprintf(w, "FAIL %d %s %s -> %d: response: %v\n", i, ex.Method, ex.Path, ex.Status, err)
		}
		if ex.Status/100 == 2 && len(ex.Request) > 0 {
			if err := v.Request(ex.Method, ex.Path, ex.Request); err != nil {
				failed++
				fmt.Fprintf(w, "FAIL %d %s %s: request: %v\n", i, ex.Method, ex.Path, err)
			}
		}
	}
	fmt.Fprintf(w, "apicheck: %d exchanges, %d failures\n", len(in.Exchanges), failed)
	if failed > 0 {
		return fmt.Errorf("%d of %d: %w", failed, len(in.Exchanges), errFailed)
	}
	return nil
}
