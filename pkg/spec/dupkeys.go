package spec

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// jsonDuplicateKeys reports every object key that appears twice in the same
// object of a JSON document, with its field path. encoding/json keeps the
// last value silently; a spec must not. The document is assumed to be
// syntactically valid (it is checked by decodeJSON first).
func jsonDuplicateKeys(data []byte, c *collector) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var walk func(path string) error
	walk = func(path string) error {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'):
			seen := map[string]bool{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return err
				}
				key, _ := kt.(string)
				kp := joinPath(path, key)
				if seen[key] {
					c.add(kp, "duplicate key")
				}
				seen[key] = true
				if err := walk(kp); err != nil {
					return err
				}
			}
			_, err = dec.Token() // '}'
			return err
		case json.Delim('['):
			for i := 0; dec.More(); i++ {
				if err := walk(fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
			_, err = dec.Token() // ']'
			return err
		}
		return nil
	}
	if err := walk(""); err != nil {
		c.add("", "parse json: %v", err)
	}
}
