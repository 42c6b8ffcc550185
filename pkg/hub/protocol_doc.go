package hub

import (
	"fmt"
	"strings"
)

// Markers of the generated event table in docs/protocol.md.
const (
	ProtocolDocBegin = "<!-- BEGIN generated from pkg/hub/protocol.go (go test ./pkg/hub -run TestProtocolDoc -update) -->"
	ProtocolDocEnd   = "<!-- END generated -->"
)

// ProtocolMarkdown renders the inbound event table of docs/protocol.md
// from Protocol.
func ProtocolMarkdown() string {
	var b strings.Builder
	b.WriteString("| event | request fields | enabled by | joined room | permission | rate limit | moderated | stored | ephemeral |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return "`" + s + "`"
	}
	yes := func(v bool) string {
		if v {
			return "yes"
		}
		return "-"
	}
	for _, e := range Protocol {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			e.Name, fieldList(e.Fields), dash(e.Toggle), yes(e.Room), dash(string(e.Permission)),
			dash(string(e.Rate)), yes(e.Moderated), dash(string(e.Persist)), yes(e.Ephemeral))
	}
	return b.String()
}

func fieldList(fields []string) string {
	if len(fields) == 0 {
		return "-"
	}
	return "`" + strings.Join(fields, "`, `") + "`"
}
