package server

import (
	"fmt"
	"io"

	"github.com/hubd/hubd/pkg/gen/ts"
	"github.com/hubd/hubd/pkg/spec"
)

const genUsage = `Usage: hubd gen ts --hubs DIR --out DIR

Writes TypeScript types for every hub spec in --hubs to --out: one
<hubName>.ts per hub (message contents, custom events, roles, the REST API)
and an index.ts. See docs/clients.md.
`

// runGen runs "hubd gen <language>"; TypeScript is the only one.
func runGen(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "ts" {
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
			fmt.Fprint(stdout, genUsage)
			return 0
		}
		fmt.Fprint(stderr, genUsage)
		return 2
	}
	args = args[1:]
	fs := newFlagSet("gen ts", args, stdout, stderr)
	hubs := fs.String("hubs", "", "directory of hub specs (required)")
	out := fs.String("out", "", "directory to write the .ts files to (required)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if *hubs == "" || *out == "" {
		fmt.Fprintln(stderr, "hubd gen ts: --hubs and --out are required")
		return 2
	}
	// The specs are checked as hubd check does, less the scripts: types
	// need no script engine.
	specs, err := spec.LoadDir(*hubs, spec.LoadOptions{})
	if err != nil {
		fmt.Fprintf(stderr, "hubd gen ts: %v\n", err)
		return 1
	}
	written, err := ts.WriteDir(specs, *out)
	if err != nil {
		fmt.Fprintf(stderr, "hubd gen ts: %v\n", err)
		return 1
	}
	for _, p := range written {
		fmt.Fprintln(stdout, p)
	}
	return 0
}
