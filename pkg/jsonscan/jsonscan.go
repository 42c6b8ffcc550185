// Package jsonscan finds the parts of JSON that json.Valid accepted
// without decoding it: the elements of an array, the members of an
// object. The hot paths use it where encoding/json would decode a whole
// payload (by reflection, copying every part) to look at one level of it.
// Every function assumes valid JSON; on anything else its results are
// meaningless (but it never reads out of bounds).
package jsonscan

// SkipSpace returns the index of the first byte at or after i that is not
// JSON whitespace, at most len(d).
func SkipSpace(d []byte, i int) int {
	i = min(i, len(d))
	for i < len(d) && isSpace(d[i]) {
		i++
	}
	return i
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// ValueEnd returns the index just past the value that starts at d[i].
func ValueEnd(d []byte, i int) int {
	if i >= len(d) {
		return len(d)
	}
	switch d[i] {
	case '"':
		return stringEnd(d, i)
	case '{', '[':
		depth := 0
		for j := i; j < len(d); j++ {
			switch d[j] {
			case '"':
				j = stringEnd(d, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(d)
	}
	j := i + 1 // a number, true, false or null; on invalid input this keeps callers moving
	for j < len(d) && !isSpace(d[j]) && d[j] != ',' && d[j] != ']' && d[j] != '}' {
		j++
	}
	return j
}

// stringEnd returns the index just past the string that starts at d[i].
func stringEnd(d []byte, i int) int {
	for j := i + 1; j < len(d); j++ {
		switch d[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(d)
}

// Elements appends the raw elements of the array d (space around it
// allowed) to out, as sub-slices of d capped at their own length (an
// append to one cannot overwrite the next). ok is false when d is not an
// array.
func Elements[S ~[]byte](d []byte, out []S) (_ []S, ok bool) {
	i := SkipSpace(d, 0)
	if i >= len(d) || d[i] != '[' {
		return out, false
	}
	for i = SkipSpace(d, i+1); i < len(d) && d[i] != ']'; {
		end := ValueEnd(d, i)
		out = append(out, S(d[i:end:end]))
		i = SkipSpace(d, end)
		if i < len(d) && d[i] == ',' {
			i = SkipSpace(d, i+1)
		}
	}
	return out, true
}

// Members calls fn with the raw key (quotes included) and the raw value
// of each member of the object d, in order, until fn returns false. ok is
// false when d is not an object.
func Members(d []byte, fn func(key, value []byte) bool) (ok bool) {
	i := SkipSpace(d, 0)
	if i >= len(d) || d[i] != '{' {
		return false
	}
	for i = SkipSpace(d, i+1); i < len(d) && d[i] != '}'; {
		kend := stringEnd(d, i)
		key := d[i:kend]
		i = SkipSpace(d, kend)
		i = SkipSpace(d, i+1) // :
		vend := ValueEnd(d, i)
		if !fn(key, d[i:vend:vend]) {
			return true
		}
		i = SkipSpace(d, vend)
		if i < len(d) && d[i] == ',' {
			i = SkipSpace(d, i+1)
		}
	}
	return true
}
