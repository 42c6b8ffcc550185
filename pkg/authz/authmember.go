package authz

import (
	"encoding/json"

	"github.com/hubd/hubd/pkg/jsonscan"
)

// AuthMember reads one member of a handshake's auth payload without
// encoding/json's reflection: the raw value of the last member of the JSON
// object whose name matches name as json.Unmarshal matches a struct field
// tagged name (ASCII letters case folded; name is lower case). raw is nil
// when decoding into such a struct would find no member or would fail
// (auth empty, not valid JSON, or not an object). sure is false when a
// plain scan cannot tell: a member name has escapes or non-ASCII bytes,
// which the decoder unescapes and folds by Unicode rules; the caller then
// decodes auth with encoding/json.
func AuthMember(auth json.RawMessage, name string) (raw json.RawMessage, sure bool) {
	if !json.Valid(auth) {
		return nil, true
	}
	sure = true
	jsonscan.Members(auth, func(key, value []byte) bool {
		key = key[1 : len(key)-1]
		switch {
		case !plainASCII(key):
			sure = false
		case foldedEqual(key, name):
			raw = value
		}
		return sure
	})
	if !sure {
		return nil, false
	}
	return raw, true
}

// plainASCII reports whether the body of a JSON string stands for itself:
// no escapes and no bytes beyond ASCII.
func plainASCII(s []byte) bool {
	for _, c := range s {
		if c == '\\' || c >= 0x80 {
			return false
		}
	}
	return true
}

// foldedEqual reports whether the ASCII key equals the lower-case name with
// ASCII letters case folded.
func foldedEqual(key []byte, name string) bool {
	if len(key) != len(name) {
		return false
	}
	for i, c := range key {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != name[i] {
			return false
		}
	}
	return true
}
