package msgstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// checkJournalInvariants: each room's msgs keys are exactly seqs
// 1..folded, each journaled position holds the room's message of its seq,
// and every ids entry names a message that is where it says.
func checkJournalInvariants(t *testing.T, e *Embedded) {
	t.Helper()
	require.NoError(t, e.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketHubs).ForEachBucket(func(hub []byte) error {
			hb := tx.Bucket(bucketHubs).Bucket(hub)
			byNum := map[uint64]roomPos{}
			require.NoError(t, hb.Bucket(bucketRooms).ForEach(func(k, v []byte) error {
				pos, ok := parseRoomEntry(v)
				require.True(t, ok, "room %q", k)
				byNum[pos.num] = pos
				for i, j := range pos.journaled {
					room, msg, ok := parseJournalValue(hb.Bucket(bucketJournal).Get(journalKey(j)))
					require.True(t, ok, "room %q position %d", k, j)
					require.Equal(t, string(k), string(room))
					var m Message
					require.NoError(t, json.Unmarshal(msg, &m))
					require.Equal(t, int64(pos.folded())+int64(i)+1, m.Seq, "room %q position %d", k, j)
				}
				return nil
			}))
			last := map[uint64]uint64{}
			require.NoError(t, hb.Bucket(bucketMsgs).ForEach(func(k, _ []byte) error {
				num, seq := binary.BigEndian.Uint64(k), binary.BigEndian.Uint64(k[8:])
				require.Equal(t, last[num]+1, seq, "msgs of room %d are 1..folded", num)
				last[num] = seq
				return nil
			}))
			for num, pos := range byNum {
				require.Equal(t, pos.folded(), last[num], "room %d: msgs end at its folded seq", num)
			}
			return nil
		})
	}))
}

// journalBytes returns the bytes the hub's journal holds.
func journalBytes(t *testing.T, e *Embedded, hub string) int {
	t.Helper()
	var n int
	require.NoError(t, e.db.View(func(tx *bolt.Tx) error {
		st := tx.Bucket(bucketHubs).Bucket([]byte(hub)).Bucket(bucketJournal).Stats()
		n = st.LeafInuse + st.InlineBucketInuse
		return nil
	}))
	return n
}

// TestJournalBoundedInBytes: large messages, one per room, never reach a
// room's limit nor the journal's entry limit; the journal still folds
// before it holds more than a few MiB, so a full fold never moves (and a
// transaction never holds) thousands of messages of the largest size, and
// every message reads back in place, also after a reopen.
func TestJournalBoundedInBytes(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "messages.db")
	e, err := OpenEmbedded(path, EmbeddedOptions{NoSync: true})
	require.NoError(t, err)
	defer func() { _ = e.Close() }()
	text := bytes.Repeat([]byte("x"), 60<<10)
	var sent []*Message
	maxJournal := 0
	for i := range 100 {
		m := &Message{HubName: "chat", RoomID: fmt.Sprintf("room-%d", i), SenderID: "alice", MessageType: "text",
			Content: json.RawMessage(fmt.Sprintf(`{"text":"%d %s"}`, i, text))}
		got, _, err := e.Append(ctx, m)
		require.NoError(t, err)
		sent = append(sent, got)
		maxJournal = max(maxJournal, journalBytes(t, e, "chat"))
	}
	require.LessOrEqual(t, maxJournal, 4<<20+64<<10, "the journal holds at most its byte limit and one message")
	check := func() {
		for _, m := range sent {
			got, err := e.List(ctx, "chat", m.RoomID, Query{})
			require.NoError(t, err)
			require.Equal(t, []*Message{m}, got)
		}
		checkJournalInvariants(t, e)
	}
	check()
	require.NoError(t, e.Close())
	e, err = OpenEmbedded(path, EmbeddedOptions{NoSync: true})
	require.NoError(t, err)
	check()
	// the journal's size as the reopened store counts it folds it in time
	for i := range 80 {
		m, _, err := e.Append(ctx, &Message{HubName: "chat", RoomID: fmt.Sprintf("late-%d", i), SenderID: "bob", MessageType: "text",
			Content: json.RawMessage(fmt.Sprintf(`{"text":"%d %s"}`, i, text))})
		require.NoError(t, err)
		sent = append(sent, m)
		require.LessOrEqual(t, journalBytes(t, e, "chat"), 4<<20+64<<10)
	}
	check()
}

// TestJournalBoundedInBytesByEdits: small messages that grow to the
// largest size by edits while they are journaled count against the
// journal's byte limit too.
func TestJournalBoundedInBytesByEdits(t *testing.T) {
	ctx := context.Background()
	e, err := OpenEmbedded(filepath.Join(t.TempDir(), "messages.db"), EmbeddedOptions{NoSync: true})
	require.NoError(t, err)
	defer func() { _ = e.Close() }()
	var sent []*Message
	for i := range 100 {
		m, _, err := e.Append(ctx, textMsg(fmt.Sprintf("room-%d", i), "alice", i))
		require.NoError(t, err)
		sent = append(sent, m)
	}
	text := bytes.Repeat([]byte("x"), 60<<10)
	for i, m := range sent {
		edited, err := e.Update(ctx, "chat", m.ID, func(m *Message) error {
			m.Content = json.RawMessage(fmt.Sprintf(`{"text":"%d %s"}`, i, text))
			return nil
		})
		require.NoError(t, err)
		sent[i] = edited
		require.LessOrEqual(t, journalBytes(t, e, "chat"), 4<<20+64<<10, "edit %d", i)
	}
	for _, m := range sent {
		got, err := e.List(ctx, "chat", m.RoomID, Query{})
		require.NoError(t, err)
		require.Equal(t, []*Message{m}, got)
	}
	checkJournalInvariants(t, e)
}
