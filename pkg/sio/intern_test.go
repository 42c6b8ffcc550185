package sio

import (
	"strconv"
	"strings"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// An interner returns the bytes' string, the same string once learnt
// (without allocating), and learns no more than its bounds: maxInterned
// strings of at most maxInternedLen bytes.
func TestInternerIsBounded(t *testing.T) {
	var in interner
	b := []byte("hub:send")
	first := in.str(b)
	require.Equal(t, "hub:send", first)
	b[0] = 'H' // the string is a copy
	require.Equal(t, "hub:send", first)
	b[0] = 'h'
	require.Equal(t, 0.0, testing.AllocsPerRun(50, func() {
		if in.str(b) != "hub:send" {
			t.Fatal("wrong string")
		}
	}))
	long := []byte(strings.Repeat("x", maxInternedLen+1))
	require.Equal(t, string(long), in.str(long))
	require.Equal(t, 1, len(*in.m.Load()), "a long string is not kept")
	for i := range 2 * maxInterned {
		name := "junk" + strconv.Itoa(i)
		require.Equal(t, name, in.str([]byte(name)))
	}
	require.Equal(t, maxInterned, len(*in.m.Load()))
	late := []byte("hub:late")
	require.Equal(t, "hub:late", in.str(late))
	require.Equal(t, 1.0, testing.AllocsPerRun(50, func() { _ = in.str(late) }), "full: allocated as without it")
}

// A server's packets share their namespace and event names.
func TestPacketNamesInterned(t *testing.T) {
	p := newArgsProbe(t)
	p.message([]byte(`2/x,1["hub:send",{"a":1}]`), 0)
	p.message([]byte(`2/x,2["hub:send",{"a":2}]`), 0)
	require.Len(t, p.events, 2)
	require.Equal(t, "hub:send", p.events[1].Name)
	pk1, err := decodeHeader([]byte(`2/x,1[]`), defaultLimits, &p.s.names)
	require.NoError(t, err)
	pk2, err := decodeHeader([]byte(`2/x,2[]`), defaultLimits, &p.s.names)
	require.NoError(t, err)
	require.Equal(t, "/x", pk2.Nsp)
	require.Same(t, unsafe.StringData(pk1.Nsp), unsafe.StringData(pk2.Nsp))
	require.Same(t, unsafe.StringData(p.events[0].Name), unsafe.StringData(p.events[1].Name))
}
