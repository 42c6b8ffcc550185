package sio

import (
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"
)

// Publications encoded by notepack.io, the encoder of
// @socket.io/redis-emitter 5.1.0.
var emitterFixtures = map[string]string{
	"room event":   "93a7656d697474657283a47479706502a46461746192a573636f726583a4686f6d6503a461776179cb3ff8000000000000a47461677391a161a36e7370ab2f6875622f73636f72657383a5726f6f6d7392a27231a27232a5666c61677380a665786365707491a27233",
	"all clients":  "93a7656d697474657283a47479706502a46461746192a865766572796f6e65a178a36e7370a12f83a5726f6f6d7390a5666c61677380a665786365707490",
	"binary":       "93a7656d697474657283a47479706502a46461746192a4626c6f62c403010203a36e7370a22f7883a5726f6f6d7390a5666c61677380a665786365707490",
	"not an event": "93a7656d697474657283a47479706506a46461746191a178a36e7370a12f80",
}

func fixture(t testing.TB, name string) []byte {
	b, err := hex.DecodeString(emitterFixtures[name])
	require.NoError(t, err)
	return b
}

func TestDecodeEmitter(t *testing.T) {
	p, err := decodeEmitter(fixture(t, "room event"))
	require.NoError(t, err)
	require.Equal(t, "/hub/scores", p.nsp)
	require.Equal(t, []string{"r1", "r2"}, p.rooms)
	require.Equal(t, []string{"r3"}, p.except)
	require.JSONEq(t, `["score",{"home":3,"away":1.5,"tags":["a"]}]`, string(p.data))
	require.Empty(t, p.atts)

	p, err = decodeEmitter(fixture(t, "all clients"))
	require.NoError(t, err)
	require.Equal(t, "/", p.nsp)
	require.Empty(t, p.rooms)
	require.JSONEq(t, `["everyone","x"]`, string(p.data))

	p, err = decodeEmitter(fixture(t, "binary"))
	require.NoError(t, err)
	require.JSONEq(t, `["blob",{"_placeholder":true,"num":0}]`, string(p.data))
	require.Equal(t, [][]byte{{1, 2, 3}}, p.atts)

	for name, in := range map[string][]byte{
		"not an event":     fixture(t, "not an event"),
		"empty":            nil,
		"not msgpack":      []byte("{}"),
		"short array":      {0x91, 0xa1, 'x'},
		"packet not a map": {0x92, 0xa1, 'x', 0x01},
		"truncated":        fixture(t, "room event")[:40],
	} {
		_, err := decodeEmitter(in)
		require.ErrorIs(t, err, errEmitter, name)
	}
}

func FuzzDecodeEmitter(f *testing.F) {
	for name := range emitterFixtures {
		f.Add(fixture(f, name))
	}
	f.Add([]byte{0x93, 0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := decodeEmitter(b)
		if err == nil {
			args, err := splitArray(p.data)
			require.NoError(t, err)
			require.NotEmpty(t, args)
		}
	})
}
