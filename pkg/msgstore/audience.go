package msgstore

import (
	"encoding/json"
	"slices"
)

// Audience restricts who may read a stored message: only the listed Users,
// or every reader except the listed Except. A nil Audience is the whole
// room. History, paging, recovery and unread counts show a message only to
// the users it includes (Query.Viewer, CountUnread).
type Audience struct {
	Users  []string `json:"users,omitempty"`
	Except []string `json:"except,omitempty"`
}

// Includes reports whether userID may read a message with audience a.
func (a *Audience) Includes(userID string) bool {
	switch {
	case a == nil:
		return true
	case a.Users != nil:
		return slices.Contains(a.Users, userID)
	}
	return !slices.Contains(a.Except, userID)
}

// Clone returns a copy of a.
func (a *Audience) Clone() *Audience {
	if a == nil {
		return nil
	}
	return &Audience{Users: slices.Clone(a.Users), Except: slices.Clone(a.Except)}
}

// validate reports an audience that names both lists, or neither.
func (a *Audience) validate() error {
	if a == nil {
		return nil
	}
	if (a.Users == nil) == (a.Except == nil) {
		return invalid("audience", "must have exactly one of users and except")
	}
	for _, list := range [][]string{a.Users, a.Except} {
		for _, u := range list {
			if u == "" || len(u) > maxKeyLen {
				return invalid("audience", "user ids must be 1 to 1024 bytes")
			}
		}
	}
	return nil
}

// appendAudience appends a's JSON form.
func appendAudience(b []byte, a *Audience) []byte {
	raw, _ := json.Marshal(a) // only strings: cannot fail
	return append(b, raw...)
}

// decodeAudience reads a stored audience column (nil: the whole room).
func decodeAudience(s *string) (*Audience, error) {
	if s == nil {
		return nil, nil
	}
	var a Audience
	if err := json.Unmarshal([]byte(*s), &a); err != nil {
		return nil, err
	}
	if a.Users == nil && a.Except == nil {
		return nil, nil
	}
	return &a, nil
}

// optAudience is the column value of an audience (nil: NULL).
func optAudience(a *Audience) *string {
	if a == nil {
		return nil
	}
	s := string(appendAudience(nil, a))
	return &s
}
