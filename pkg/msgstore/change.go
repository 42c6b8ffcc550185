package msgstore

import (
	"encoding/json"
	"fmt"
)

// validate reports a change without a kind, or with a field longer than
// the store's keys, as *InvalidError; nil is valid (no change recorded).
func (c *Change) validate() error {
	if c == nil {
		return nil
	}
	if c.Kind == "" {
		return invalid("change.kind", "is required")
	}
	for _, f := range []struct{ name, value string }{{"change.kind", c.Kind}, {"change.by", c.By}, {"change.emoji", c.Emoji}} {
		if len(f.value) > maxKeyLen {
			return invalid(f.name, fmt.Sprintf("longer than %d bytes", maxKeyLen))
		}
	}
	return nil
}

// appendCopy returns the copy of m that Append stores: Rev and Change are
// the store's and Update's to set, so a new message has neither.
func appendCopy(m *Message) *Message {
	in := m.Clone()
	in.Rev, in.Change = 0, nil
	return in
}

// encodeChange is the stored (JSON) form of a change, nil for none.
func encodeChange(c *Change) (*string, error) {
	if c == nil {
		return nil, nil
	}
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode change: %w", err)
	}
	s := string(b)
	return &s, nil
}

// decodeChange reads a stored change; nil or JSON null is none.
func decodeChange(s *string) (*Change, error) {
	if s == nil || *s == "null" {
		return nil, nil
	}
	c := &Change{}
	if err := json.Unmarshal([]byte(*s), c); err != nil {
		return nil, fmt.Errorf("change: %w", err)
	}
	return c, nil
}
