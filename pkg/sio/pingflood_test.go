package sio

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReadersPingFloodIsOneSlowConsumer: a client that floods pings and
// reads none of the pongs fills its write queue and is disconnected as a
// slow consumer, once: the pings that keep coming until the connection
// closes are not each counted as a disconnect (nor each given a goroutine
// to refuse it again).
func TestReadersPingFloodIsOneSlowConsumer(t *testing.T) {
	for _, rc := range readerCases {
		t.Run(rc.name, func(t *testing.T) {
			s, c, reasons := joinedRaw(t, rc.opts)
			ping := clientFrame(wsFinBit|opPing, bytes.Repeat([]byte("p"), wsMaxControlSize), false)
			go func() { _, _ = c.nc.Write(bytes.Repeat(ping, 40_000)) }() // ends when the server closes
			require.Equal(t, "slow consumer", recv(t, reasons))
			require.EqualValues(t, 1, s.Stats().SlowConsumerDisconnects)
		})
	}
}
