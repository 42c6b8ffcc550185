package hub

import (
	"fmt"
	"strings"
)

// Markers of the generated event tables in docs/protocol.md: each table
// sits between its Begin marker and the next ProtocolDocEnd.
const (
	ProtocolDocBegin = "<!-- BEGIN generated from pkg/hub/protocol.go (go test ./pkg/hub -run TestProtocolDoc -update) -->"
	OutboundDocBegin = "<!-- BEGIN generated from pkg/hub/outbound.go (go test ./pkg/hub -run TestProtocolDoc -update) -->"
	ProtocolDocEnd   = "<!-- END generated -->"
)

// ProtocolDocSections are the generated sections of docs/protocol.md: the
// Begin marker of each and what it renders.
var ProtocolDocSections = []struct {
	Begin  string
	Render func() string
}{
	{ProtocolDocBegin, ProtocolMarkdown},
	{OutboundDocBegin, OutboundMarkdown},
}

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

// OutboundMarkdown renders the outbound event table of docs/protocol.md
// from the declarations of outbound.go.
func OutboundMarkdown() string {
	var b strings.Builder
	b.WriteString("| event | payload fields | payload type | enabled by | meaning |\n")
	b.WriteString("|---|---|---|---|---|\n")
	for _, o := range Outbounds {
		toggle := "-"
		if o.Toggle != "" {
			toggle = "`" + o.Toggle + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | `%s` | %s | %s |\n", o.Name, fieldList(o.Fields), o.Payload.Name(), toggle, o.Summary)
	}
	fmt.Fprintf(&b, "| custom events (spec) | %s | `CustomEvent` | `eventSettings.customEvents`, `kafkaEvents` | under the event's own name |\n",
		fieldList(CustomEventFields))
	return b.String()
}

func fieldList(fields []string) string {
	if len(fields) == 0 {
		return "-"
	}
	return "`" + strings.Join(fields, "`, `") + "`"
}
