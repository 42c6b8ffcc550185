package msgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"
)

// journalModel is what the store should hold: each room's messages in seq
// order, as last returned by Append or Update.
type journalModel struct {
	rooms map[roomRef][]*Message
	where map[string]roomRef // message id → room
}

func (m *journalModel) put(msg *Message) {
	ref := roomRef{msg.HubName, msg.RoomID}
	list := m.rooms[ref]
	for int64(len(list)) < msg.Seq {
		list = append(list, nil)
	}
	list[msg.Seq-1] = msg
	m.rooms[ref] = list
	m.where[msg.ID] = ref
}

func (m *journalModel) all() []*Message {
	var out []*Message
	for _, list := range m.rooms {
		out = append(out, list...)
	}
	return out
}

// expectSeqQuery is List's contract for a query by seq, on the model.
func expectSeqQuery(list []*Message, q Query) []*Message {
	var in []*Message
	for _, m := range list {
		if (q.AfterSeq == 0 || m.Seq > q.AfterSeq) && (q.BeforeSeq == 0 || m.Seq < q.BeforeSeq) && q.Matches(m.Status) {
			in = append(in, m)
		}
	}
	return limited(in, q.Limit, q.AfterSeq > 0)
}

// limited keeps the first limit messages of in (the oldest) when fromStart,
// else the last ones.
func limited(in []*Message, limit int, fromStart bool) []*Message {
	switch {
	case limit == 0 || len(in) <= limit:
		return in
	case fromStart:
		return in[:limit]
	}
	return in[len(in)-limit:]
}

// expectRevQuery is List's contract for a query over changes, on the model.
func expectRevQuery(list []*Message, q Query) []*Message {
	var in []*Message
	for _, m := range list {
		if m.Rev > 0 && (q.AfterRev == 0 || m.Rev > q.AfterRev) && (q.BeforeRev == 0 || m.Rev < q.BeforeRev) && q.Matches(m.Status) {
			in = append(in, m)
		}
	}
	slices.SortFunc(in, func(a, b *Message) int { return int(a.Rev - b.Rev) })
	return limited(in, q.Limit, q.AfterRev > 0)
}

var reviewStatuses = [][]string{nil, {StatusPublished}, {StatusDeleted}}

// checkJournalModel compares every read path with the model, and the file
// with the journal's invariants.
func checkJournalModel(t *testing.T, rng *rand.Rand, e *Embedded, model *journalModel) {
	t.Helper()
	ctx := context.Background()
	for ref, list := range model.rooms {
		got, err := e.List(ctx, ref.hub, ref.room, Query{})
		require.NoError(t, err)
		require.Equal(t, list, got, "%v: the whole room", ref)
		n := int64(len(list))
		for range 5 {
			q := Query{AfterSeq: rng.Int64N(n + 3), BeforeSeq: rng.Int64N(n + 3), Limit: rng.IntN(int(n) + 2), Statuses: reviewStatuses[rng.IntN(3)]}
			if rng.IntN(3) == 0 {
				q.AfterSeq = 0
			}
			if rng.IntN(3) == 0 {
				q.BeforeSeq = 0
			}
			got, err := e.List(ctx, ref.hub, ref.room, q)
			require.NoError(t, err)
			require.Equal(t, expectSeqQuery(list, q), got, "%v: %+v", ref, q)
		}
		got, err = e.List(ctx, ref.hub, ref.room, Query{Changes: true})
		require.NoError(t, err)
		require.Equal(t, expectRevQuery(list, Query{Changes: true}), got, "%v: changes", ref)
		for range 3 {
			q := Query{Changes: true, AfterRev: rng.Int64N(n + 3), BeforeRev: rng.Int64N(n + 3), Limit: rng.IntN(int(n) + 2), Statuses: reviewStatuses[rng.IntN(3)]}
			if rng.IntN(2) == 0 {
				q.AfterRev = 0
			}
			got, err := e.List(ctx, ref.hub, ref.room, q)
			require.NoError(t, err)
			require.Equal(t, expectRevQuery(list, q), got, "%v: %+v", ref, q)
		}
		var unread int64
		for _, m := range list {
			if m.Status == StatusPublished && m.SenderID != "zed" {
				unread++
			}
		}
		count, err := e.CountUnread(ctx, ref.hub, ref.room, "zed")
		require.NoError(t, err)
		require.Equal(t, unread, count, "%v: unread", ref)
		for _, m := range list {
			got, err := e.Get(ctx, m.HubName, m.ID)
			require.NoError(t, err)
			require.Equal(t, m, got)
			if m.ClientMessageID != "" {
				got, err := e.GetByClientID(ctx, m.HubName, m.SenderID, m.ClientMessageID)
				require.NoError(t, err)
				require.Equal(t, m, got)
			}
		}
	}
	checkJournalInvariants(t, e)
}

type reviewOutcome struct {
	kind    string
	m       *Message
	created bool
	err     error
	want    *Message // dup: the message whose client id it reused
}

// TestJournalModel drives the embedded store with random group commits
// (appends to several rooms and hubs, client id retries, edits, deletions,
// transactions failed by a panicking write) under several fold limits and
// reopenings, and compares every read path with a model after each.
func TestJournalModel(t *testing.T) {
	limits := []journalLimits{
		{perRoom: 1, foldAt: 1},
		{perRoom: 2, foldAt: 3},
		{perRoom: 3, foldAt: 7, directAt: 2},
		{perRoom: 4, foldAt: 1 << 20},
		{perRoom: 5, foldAt: 1 << 20, directAt: 3, foldBytes: 1500},
		defaultJournalLimits,
	}
	for _, l := range limits {
		t.Run(fmt.Sprintf("perRoom=%d/foldAt=%d/directAt=%d/foldBytes=%d", l.perRoom, l.foldAt, l.directAt, l.foldBytes), func(t *testing.T) {
			runJournalModel(t, l, uint64(l.perRoom*1000+l.foldAt+l.directAt*7+l.foldBytes))
		})
	}
}

func runJournalModel(t *testing.T, l journalLimits, seed uint64) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, 7))
	path := filepath.Join(t.TempDir(), "messages.db")
	e, err := openEmbedded(path, EmbeddedOptions{NoSync: true}, l)
	require.NoError(t, err)
	defer func() { _ = e.Close() }()
	model := &journalModel{rooms: map[roomRef][]*Message{}, where: map[string]roomRef{}}
	hubs, rooms := []string{"chat", "other"}, []string{"r1", "r2", "r3", "r4", "r5"}
	var withCmid []*Message

	// a reader checking that every snapshot holds each room's messages
	// exactly once and in order while folds run
	stop := make(chan struct{})
	var readerErr atomic.Value
	var readers sync.WaitGroup
	readers.Add(1)
	go func() {
		defer readers.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Microsecond):
			}
			cur := e
			got, err := cur.List(ctx, hubs[i%2], rooms[i%len(rooms)], Query{})
			if err != nil {
				if !errors.Is(err, ErrClosed) {
					readerErr.Store(err)
				}
				continue
			}
			for k, m := range got {
				if m.Seq != int64(k+1) {
					readerErr.Store(fmt.Errorf("%s/%s: position %d holds seq %d", hubs[i%2], rooms[i%len(rooms)], k, m.Seq))
				}
			}
		}
	}()

	for round := range 30 {
		release := holdWriter(t, e)
		queued := e.w.queued.Load()
		n := 1 + rng.IntN(14)
		out := make([]chan reviewOutcome, n)
		updated := map[string]bool{}
		for i := range out {
			out[i] = make(chan reviewOutcome, 1)
			ch := out[i]
			hub, room := hubs[rng.IntN(2)], rooms[rng.IntN(len(rooms))]
			switch k := rng.IntN(10); {
			case k < 6:
				m := &Message{HubName: hub, RoomID: room, SenderID: []string{"alice", "bob", "zed"}[rng.IntN(3)], MessageType: "text",
					Content: json.RawMessage(fmt.Sprintf(`{"text":"r%d-%d"}`, round, i))}
				if rng.IntN(2) == 0 {
					m.ClientMessageID = uuid.NewString()
				}
				go func() {
					got, created, err := e.Append(ctx, m)
					ch <- reviewOutcome{kind: "append", m: got, created: created, err: err}
				}()
			case k < 7 && len(withCmid) > 0:
				orig := withCmid[rng.IntN(len(withCmid))]
				m := &Message{HubName: orig.HubName, RoomID: orig.RoomID, SenderID: orig.SenderID, MessageType: "text",
					Content: json.RawMessage(`{"text":"retry"}`), ClientMessageID: orig.ClientMessageID}
				go func() {
					got, created, err := e.Append(ctx, m)
					ch <- reviewOutcome{kind: "dup", m: got, created: created, err: err, want: orig}
				}()
			case k < 9 && len(model.where) > 0:
				all := model.all()
				target := all[rng.IntN(len(all))]
				if updated[target.ID] {
					ch <- reviewOutcome{kind: "none"}
					continue
				}
				updated[target.ID] = true
				del := rng.IntN(3) == 0
				go func() {
					got, err := e.Update(ctx, target.HubName, target.ID, func(m *Message) error {
						if del {
							m.Status = StatusDeleted
						} else {
							m.Content = json.RawMessage(fmt.Sprintf(`{"text":"edit %d"}`, round))
						}
						return nil
					})
					ch <- reviewOutcome{kind: "update", m: got, err: err}
				}()
			default:
				go func() {
					err := e.w.do(ctx, func(*bolt.Tx) error { panic("a failing write") })
					ch <- reviewOutcome{kind: "fail", err: err}
				}()
			}
		}
		waitQueued(t, e, queued+uint64(len(out))-uint64(countNone(out)))
		release()
		for _, ch := range out {
			o := <-ch
			switch o.kind {
			case "append":
				require.NoError(t, o.err)
				require.True(t, o.created)
				model.put(o.m)
				if o.m.ClientMessageID != "" {
					withCmid = append(withCmid, o.m)
				}
			case "dup":
				require.NoError(t, o.err)
				require.False(t, o.created)
				require.Equal(t, o.want.ID, o.m.ID)
				require.Equal(t, o.want.Seq, o.m.Seq)
			case "update":
				require.NoError(t, o.err)
				model.put(o.m)
			case "fail":
				require.Error(t, o.err)
			}
		}
		if v := readerErr.Load(); v != nil {
			t.Fatalf("round %d: a reader saw %v", round, v)
		}
		checkJournalModel(t, rng, e, model)
		if rng.IntN(8) == 0 {
			close(stop)
			readers.Wait()
			require.NoError(t, e.Close())
			if e, err = openEmbedded(path, EmbeddedOptions{NoSync: true}, l); err != nil {
				t.Fatal(err)
			}
			checkJournalModel(t, rng, e, model)
			stop = make(chan struct{})
			readers.Add(1)
			go func() {
				defer readers.Done()
				cur := e
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					case <-time.After(200 * time.Microsecond):
					}
					got, err := cur.List(ctx, hubs[i%2], rooms[i%len(rooms)], Query{})
					if err != nil {
						continue
					}
					for k, m := range got {
						if m.Seq != int64(k+1) {
							readerErr.Store(fmt.Errorf("position %d holds seq %d", k, m.Seq))
						}
					}
				}
			}()
		}
	}
	close(stop)
	readers.Wait()
	// every message was acknowledged exactly once per seq
	for ref, list := range model.rooms {
		for i, m := range list {
			require.NotNil(t, m, "%v seq %d", ref, i+1)
		}
	}
}

func countNone(out []chan reviewOutcome) int {
	n := 0
	for _, ch := range out {
		if len(ch) == 1 {
			n++
		}
	}
	return n
}
