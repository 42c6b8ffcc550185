package jsonscan

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// cases are valid JSON documents of every shape.
var cases = []string{
	`[]`, ` [ ] `, `[1]`, `[1,"a",null,true,false,-2.5e3]`, ` [ {"a":[1,{"b":"]"}]} , "\"]\\" ,[[]] ] `,
	`{}`, `{"a":1}`, ` { "a" : [1,2] , "b\"}" : {"c":"}"} , "a":"x" } `, `"s"`, `12`, `null`,
	`["\u005d",{"k":"\\"}]`,
}

func FuzzScan(f *testing.F) {
	for _, in := range cases {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if !json.Valid(in) {
			ValueEnd(in, 0) // must not panic
			Elements[[]byte](in, nil)
			Members(in, func(_, _ []byte) bool { return true })
			return
		}
		checkElements(t, in)
		checkMembers(t, in)
	})
}

// checkElements compares Elements with encoding/json's []json.RawMessage.
func checkElements(t *testing.T, in []byte) {
	var want []json.RawMessage
	wantErr := json.Unmarshal(in, &want)
	got, ok := Elements[[]byte](in, nil)
	isNull := string(in) != "" && json.Unmarshal(in, new(any)) == nil && want == nil && wantErr == nil
	if wantErr != nil || isNull {
		require.False(t, ok && len(got) > 0, "input %q", in)
		return
	}
	require.True(t, ok, "input %q", in)
	require.Len(t, got, len(want), "input %q", in)
	for i := range want {
		require.Equal(t, string(want[i]), string(got[i]), "input %q element %d", in, i)
		require.Equal(t, len(got[i]), cap(got[i]))
	}
}

// checkMembers compares Members with a decode into ordered raw members.
func checkMembers(t *testing.T, in []byte) {
	var obj map[string]json.RawMessage
	wantErr := json.Unmarshal(in, &obj)
	last := map[string]string{}
	ok := Members(in, func(key, value []byte) bool {
		var k string
		require.NoError(t, json.Unmarshal(key, &k), "key %q of %q", key, in)
		last[k] = string(value)
		return true
	})
	if wantErr != nil || obj == nil {
		require.False(t, ok && len(last) > 0, "input %q", in)
		return
	}
	require.True(t, ok, "input %q", in)
	require.Len(t, last, len(obj), "input %q", in)
	for k, v := range obj {
		require.Equal(t, string(v), last[k], "input %q key %q", in, k)
	}
}
