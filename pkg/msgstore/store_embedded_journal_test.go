package msgstore

import (
	"context"
	"encoding/binary"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// writeLayoutV1 writes a store file of the first layout (version 1: every
// message in msgs, rooms entries of number and last seq, ids entries of
// msgs keys alone, no journal) holding msgs, all in room r1 of hub chat.
func writeLayoutV1(t *testing.T, path string, msgs []*Message) {
	t.Helper()
	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	defer func() { require.NoError(t, db.Close()) }()
	require.NoError(t, db.Update(func(tx *bolt.Tx) error {
		meta, err := tx.CreateBucket(bucketMeta)
		if err != nil {
			return err
		}
		if err := meta.Put(keyVersion, []byte("1")); err != nil {
			return err
		}
		hub, err := tx.CreateBucket(bucketHubs)
		if err != nil {
			return err
		}
		hb, err := hub.CreateBucket([]byte("chat"))
		if err != nil {
			return err
		}
		for _, name := range hubSubBuckets {
			if string(name) == string(bucketJournal) {
				continue
			}
			if _, err := hb.CreateBucket(name); err != nil {
				return err
			}
		}
		num, err := hb.Bucket(bucketRooms).NextSequence()
		if err != nil {
			return err
		}
		for i, m := range msgs {
			m.Seq = int64(i + 1)
			key := msgKey(num, uint64(m.Seq))
			if err := hb.Bucket(bucketMsgs).Put(key, m.appendJSON(nil)); err != nil {
				return err
			}
			if err := hb.Bucket(bucketIDs).Put([]byte(m.ID), key); err != nil {
				return err
			}
			if m.ClientMessageID != "" {
				if err := hb.Bucket(bucketCmids).Put(cmidKey(m.SenderID, m.ClientMessageID), []byte(m.ID)); err != nil {
					return err
				}
			}
		}
		return hb.Bucket(bucketRooms).Put([]byte("r1"), msgKey(num, uint64(len(msgs))))
	}))
}

// TestEmbeddedOpensLayoutV1: a file of the layout before the journal opens,
// reads as it was (messages, history pages, client ids, unread counts),
// takes appends and updates after its messages, and is marked version 2.
func TestEmbeddedOpensLayoutV1(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "messages.db")
	old := make([]*Message, 5)
	for i := range old {
		m := textMsg("r1", "alice", i)
		m.ID, m.ClientMessageID = uuid.NewString(), uuid.NewString()
		m.Timestamp = time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC)
		require.NoError(t, Normalize(m))
		old[i] = m
	}
	writeLayoutV1(t, path, old)

	e, err := openEmbedded(path, EmbeddedOptions{}, journalLimits{perRoom: 2, foldAt: 5})
	require.NoError(t, err)
	for _, m := range old {
		got, err := e.Get(ctx, "chat", m.ID)
		require.NoError(t, err)
		require.Equal(t, m, got)
		got, err = e.GetByClientID(ctx, "chat", "alice", m.ClientMessageID)
		require.NoError(t, err)
		require.Equal(t, m.ID, got.ID)
	}
	page, err := e.List(ctx, "chat", "r1", Query{Limit: 2, BeforeSeq: 4})
	require.NoError(t, err)
	require.Equal(t, old[1:3], page)
	dup, created, err := e.Append(ctx, &Message{HubName: "chat", RoomID: "r1", SenderID: "alice", MessageType: "text", Content: old[0].Content, ClientMessageID: old[0].ClientMessageID})
	require.NoError(t, err)
	require.False(t, created, "a client id of the old layout is still found")
	require.Equal(t, old[0].ID, dup.ID)

	var added []*Message
	for i := range 4 {
		m, _, err := e.Append(ctx, textMsg("r1", "bob", 10+i))
		require.NoError(t, err)
		require.Equal(t, int64(6+i), m.Seq)
		added = append(added, m)
	}
	edited, err := e.Update(ctx, "chat", old[4].ID, func(m *Message) error {
		m.Content = []byte(`{"text":"edited"}`)
		return nil
	})
	require.NoError(t, err)
	unread, err := e.CountUnread(ctx, "chat", "r1", "carol")
	require.NoError(t, err)
	require.Equal(t, int64(9), unread)
	require.NoError(t, e.Close())

	e, err = OpenEmbedded(path, EmbeddedOptions{})
	require.NoError(t, err)
	defer func() { require.NoError(t, e.Close()) }()
	all, err := e.List(ctx, "chat", "r1", Query{})
	require.NoError(t, err)
	want := append(append(append([]*Message{}, old[:4]...), edited), added...)
	require.Equal(t, want, all)
	require.NoError(t, e.db.View(func(tx *bolt.Tx) error {
		require.Equal(t, schemaVersion, string(tx.Bucket(bucketMeta).Get(keyVersion)))
		return nil
	}))
}

// TestJournalFolds: appends land in the journal; a room at its limit moves
// its journaled messages to msgs before its next append, and a journal at
// foldAt entries is folded whole and emptied, keeping its positions
// counting; every message reads the same wherever it is.
func TestJournalFolds(t *testing.T) {
	ctx := context.Background()
	e, err := openEmbedded(filepath.Join(t.TempDir(), "messages.db"), EmbeddedOptions{}, journalLimits{perRoom: 3, foldAt: 8})
	require.NoError(t, err)
	defer func() { require.NoError(t, e.Close()) }()
	state := func(room string) (pos roomPos, inMsgs, journal int, counter uint64) {
		require.NoError(t, e.db.View(func(tx *bolt.Tx) error {
			hb := tx.Bucket(bucketHubs).Bucket([]byte("chat"))
			var ok bool
			pos, ok = parseRoomEntry(hb.Bucket(bucketRooms).Get([]byte(room)))
			require.True(t, ok)
			inMsgs = hb.Bucket(bucketMsgs).Stats().KeyN
			journal = hb.Bucket(bucketJournal).Stats().KeyN
			counter = hb.Bucket(bucketJournal).Sequence()
			return nil
		}))
		return
	}
	var sent []*Message
	send := func(room string) {
		m, _, err := e.Append(ctx, textMsg(room, "alice", len(sent)))
		require.NoError(t, err)
		sent = append(sent, m)
	}
	for range 3 {
		send("r1")
	}
	pos, inMsgs, journal, _ := state("r1")
	require.Equal(t, roomPos{num: 1, seq: 3, journaled: []uint64{1, 2, 3}}, pos)
	require.Zero(t, inMsgs)
	require.Equal(t, 3, journal)

	send("r1") // r1 is at its limit: its three move first
	pos, inMsgs, journal, _ = state("r1")
	require.Equal(t, roomPos{num: 1, seq: 4, journaled: []uint64{4}}, pos)
	require.Equal(t, 3, inMsgs)
	require.Equal(t, 4, journal, "a room fold leaves the entries to the full fold")

	for range 4 {
		send("r2") // the journal reaches 8 entries with r2's fourth... r2 folds at its fourth
	}
	pos, inMsgs, journal, counter := state("r2")
	require.Equal(t, roomPos{num: 2, seq: 4}, pos, "the full fold moved everything")
	require.Equal(t, 8, inMsgs)
	require.Zero(t, journal)
	require.Equal(t, uint64(8), counter)
	pos, _, _, _ = state("r1")
	require.Equal(t, roomPos{num: 1, seq: 4}, pos)

	send("r1")
	pos, _, journal, _ = state("r1")
	require.Equal(t, roomPos{num: 1, seq: 5, journaled: []uint64{9}}, pos, "positions are not reused")
	require.Equal(t, 1, journal)

	for _, m := range sent {
		got, err := e.Get(ctx, "chat", m.ID)
		require.NoError(t, err)
		require.Equal(t, m, got)
	}
	r1, err := e.List(ctx, "chat", "r1", Query{})
	require.NoError(t, err)
	require.Equal(t, append(append([]*Message{}, sent[:4]...), sent[8]), r1)
}

func TestParseRoomEntry(t *testing.T) {
	entry := appendRoomEntry(nil, roomPos{num: 7, seq: 9, journaled: []uint64{20, 21}})
	pos, ok := parseRoomEntry(entry)
	require.True(t, ok)
	require.Equal(t, roomPos{num: 7, seq: 9, journaled: []uint64{20, 21}}, pos)
	require.Equal(t, uint64(7), pos.folded())
	for _, bad := range [][]byte{nil, entry[:15], entry[:20], binary.BigEndian.AppendUint64(msgKey(1, 0), 5)} {
		_, ok := parseRoomEntry(bad)
		require.False(t, ok, "%x", bad)
	}
}

// TestBusyRoomSkipsJournal: a room that had directAt appends in its last
// transaction moves its journaled messages to msgs and writes its next
// messages there directly (ids entries without a journal position); once
// quiet again it journals; every message reads the same.
func TestBusyRoomSkipsJournal(t *testing.T) {
	ctx := context.Background()
	e, err := openEmbedded(filepath.Join(t.TempDir(), "messages.db"), EmbeddedOptions{}, journalLimits{perRoom: 32, foldAt: 1 << 20, directAt: 3})
	require.NoError(t, err)
	defer func() { require.NoError(t, e.Close()) }()
	where := func(m *Message) (ref []byte, pos roomPos) {
		require.NoError(t, e.db.View(func(tx *bolt.Tx) error {
			hb := tx.Bucket(bucketHubs).Bucket([]byte("chat"))
			ref = slices.Clone(hb.Bucket(bucketIDs).Get([]byte(m.ID)))
			var ok bool
			pos, ok = parseRoomEntry(hb.Bucket(bucketRooms).Get([]byte("r1")))
			require.True(t, ok)
			return nil
		}))
		return ref, pos
	}
	var sent []*Message
	first, _, err := e.Append(ctx, textMsg("r1", "alice", 0))
	require.NoError(t, err)
	sent = append(sent, first)

	// three appends in one transaction: a blocker holds the one before
	started, unblock := make(chan struct{}), make(chan struct{})
	blocker := make(chan error, 1)
	go func() {
		blocker <- e.w.do(ctx, func(*bolt.Tx) error { close(started); <-unblock; return nil })
	}()
	<-started
	var batch []<-chan appendResult
	for i := range 3 {
		batch = append(batch, appendAsync(e, ctx, textMsg("r1", "bob", 1+i)))
	}
	waitQueued(t, e, 5)
	close(unblock)
	require.NoError(t, <-blocker)
	for _, r := range batch {
		res := <-r
		require.NoError(t, res.err)
		sent = append(sent, res.m)
	}
	slices.SortFunc(sent, func(a, b *Message) int { return int(a.Seq - b.Seq) })
	ref, pos := where(sent[3])
	require.Len(t, ref, 24, "journaled")
	require.Len(t, pos.journaled, 4)

	busy, _, err := e.Append(ctx, textMsg("r1", "carol", 4))
	require.NoError(t, err)
	sent = append(sent, busy)
	ref, pos = where(busy)
	require.Len(t, ref, 16, "written to msgs directly")
	require.Empty(t, pos.journaled, "the journaled ones moved first")
	require.Equal(t, uint64(5), pos.seq)

	quiet, _, err := e.Append(ctx, textMsg("r1", "carol", 5))
	require.NoError(t, err)
	sent = append(sent, quiet)
	ref, pos = where(quiet)
	require.Len(t, ref, 24, "one append in the last transaction: journaled again")
	require.Len(t, pos.journaled, 1)

	all, err := e.List(ctx, "chat", "r1", Query{})
	require.NoError(t, err)
	require.Equal(t, sent, all)
	for _, m := range sent {
		got, err := e.Get(ctx, "chat", m.ID)
		require.NoError(t, err)
		require.Equal(t, m, got)
	}
}
