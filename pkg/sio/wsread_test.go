package sio

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// wsTrace parses p fed in pieces of at most step bytes (all at once when
// step is 0), the way the poller does with a partial frame kept between
// reads, and describes every event and the error that stopped it.
func wsTrace(p []byte, step int, limit int64) []string {
	var in wsIn
	var out []string
	var pending []byte
	for len(p) > 0 || len(pending) > 0 {
		n := len(p)
		if step > 0 {
			n = min(n, step)
		}
		pending = append(pending, p[:n]...)
		p = p[n:]
		for {
			ev, used, _, err := in.next(pending, limit)
			if err != nil {
				return append(out, "error "+err.Error())
			}
			if used == 0 {
				break
			}
			out = append(out, fmt.Sprintf("%d %t %q", ev.kind, ev.binary, ev.data))
			pending = pending[used:]
		}
		if n == 0 {
			break // no more input and a frame not complete
		}
	}
	return out
}

// FuzzWSFrames: the frame parser gives the same events whether its input
// arrives at once or byte by byte, never reads past its input, and keeps
// every message within the limit.
func FuzzWSFrames(f *testing.F) {
	seeds := [][]byte{
		text(`42["e","a"]`),
		bytes.Join([][]byte{clientFrame(opText, []byte("4"), false), clientFrame(wsFinBit|opPing, []byte("p"), false), clientFrame(wsFinBit|opContinuation, []byte("2[]"), false)}, nil),
		clientFrame(wsFinBit|opBinary, make([]byte, 300), false),
		clientFrame(wsFinBit|opClose, []byte{0x03, 0xE8, 'o', 'k'}, false),
		clientFrame(wsFinBit|0x40|opText, []byte("x"), false),
		clientFrame(wsFinBit|opText, []byte("x"), true),
		{0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0},
		{0x81, 0xFE, 0xFF},
	}
	for _, s := range seeds {
		f.Add(s, uint8(1))
	}
	f.Fuzz(func(t *testing.T, p []byte, step uint8) {
		const limit = 1000
		whole := wsTrace(bytes.Clone(p), 0, limit)
		pieces := wsTrace(bytes.Clone(p), int(step%16)+1, limit)
		require.Equal(t, whole, pieces)
		for _, e := range whole {
			require.LessOrEqual(t, len(e), 2*limit+64, "an event within the limit")
		}
	})
}

func TestMaskWS(t *testing.T) {
	key := []byte{1, 2, 3, 4}
	for n := range 20 {
		p := bytes.Repeat([]byte{0xAA}, n)
		want := bytes.Clone(p)
		for i := range want {
			want[i] ^= key[i%4]
		}
		maskWS(key, p)
		require.Equal(t, want, p, "length %d", n)
	}
}
