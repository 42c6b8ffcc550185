package msgstore_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/internal/testenv"

	"github.com/hubd/hubd/pkg/msgstore"
	"github.com/hubd/hubd/pkg/msgstore/storetest"
	"github.com/hubd/hubd/pkg/spec"
)

// testDSN returns HUBD_TEST_DATABASE_URL or skips the test.
func testDSN(t testing.TB) string {
	t.Helper()
	dsn := testenv.DatabaseURL(t)
	return dsn
}

// freshSchema returns the name of a new schema that is dropped after the test.
func freshSchema(t testing.TB, dsn string) string {
	t.Helper()
	return testenv.FreshSchema(t, dsn, "msgstore_test_")
}

func openPostgres(t testing.TB, dsn, schema string) *msgstore.Postgres {
	t.Helper()
	s, err := msgstore.OpenPostgres(context.Background(), msgstore.PostgresOptions{DSN: dsn, Schema: schema})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestPostgresConformance(t *testing.T) {
	dsn := testDSN(t)
	storetest.Run(t, func(t *testing.T) msgstore.Store {
		return openPostgres(t, dsn, freshSchema(t, dsn))
	})
}

func TestPostgresDurability(t *testing.T) {
	dsn := testDSN(t)
	storetest.RunDurability(t, func(t *testing.T) storetest.Opener {
		schema := freshSchema(t, dsn)
		return func() (msgstore.Store, error) {
			return msgstore.OpenPostgres(context.Background(), msgstore.PostgresOptions{DSN: dsn, Schema: schema})
		}
	})
}

// hubSpec is a hub with the given built-in and custom types and toggles.
func hubSpec(name, dataObject string, types []spec.HubMessageType, custom []string, reply, reaction, fwd bool) *spec.Hub {
	h := &spec.Hub{HubBasics: spec.HubBasics{Name: name}}
	h.MessageSettings = spec.HubMessageSettings{
		DataObjectName: dataObject, MessageTypes: types,
		EnableReplyTo: reply, EnableReaction: reaction, EnableForwarded: fwd,
	}
	for _, c := range custom {
		h.MessageSettings.CustomMessageTypes = append(h.MessageSettings.CustomMessageTypes, spec.HubCustomMessageType{Name: c})
	}
	return h
}

func typedMsg(hub, mt string) *msgstore.Message {
	return &msgstore.Message{HubName: hub, RoomID: "r1", SenderID: "alice", MessageType: mt, Content: json.RawMessage(`{"text":"x"}`)}
}

// enumLabels reads the labels of a hub table's messageType enum.
func enumLabels(t *testing.T, pool *pgxpool.Pool, schema, dataObject string) []string {
	t.Helper()
	var labels []string
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT coalesce(array_agg(e.enumlabel::text ORDER BY e.enumsortorder), '{}')
		FROM pg_enum e JOIN pg_type ty ON ty.oid = e.enumtypid JOIN pg_namespace n ON n.oid = ty.typnamespace
		WHERE n.nspname = $1 AND ty.typname = $2`, schema, dataObject+"_messageType").Scan(&labels))
	return labels
}

func columns(t *testing.T, pool *pgxpool.Pool, schema, table string) map[string]string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT column_name::text, data_type::text FROM information_schema.columns
		WHERE table_schema = $1 AND table_name = $2`, schema, table)
	require.NoError(t, err)
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var c, ty string
		require.NoError(t, rows.Scan(&c, &ty))
		out[c] = ty
	}
	require.NoError(t, rows.Err())
	return out
}

func TestPostgresSchema(t *testing.T) {
	dsn := testDSN(t)
	ctx := context.Background()
	schema := freshSchema(t, dsn)
	s := openPostgres(t, dsn, schema)
	pool := s.Pool()
	text, image, video := spec.MessageText, spec.MessageImage, spec.MessageVideo

	// step 1: text only, no toggles
	require.NoError(t, s.EnsureSchema(ctx, hubSpec("chat", "", []spec.HubMessageType{text}, nil, false, false, false)))
	cols := columns(t, pool, schema, "chatMessage")
	for _, c := range []string{"id", "roomId", "seq", "senderId", "messageType", "content", "timestamp", "status", "clientMessageId", "editedAt"} {
		require.Contains(t, cols, c)
	}
	require.Equal(t, "jsonb", cols["content"])
	require.Equal(t, "USER-DEFINED", cols["messageType"])
	for _, c := range []string{"replyTo", "reaction", "forwarded"} {
		require.NotContains(t, cols, c, "toggle off: no column")
	}
	require.Equal(t, []string{"text"}, enumLabels(t, pool, schema, "chatMessage"))
	first, _, err := s.Append(ctx, typedMsg("chat", "text"))
	require.NoError(t, err)

	tests := []struct {
		name  string
		edit  func(m *msgstore.Message)
		field string
	}{
		{"type not in the spec", func(m *msgstore.Message) { m.MessageType = "image" }, "messageType"},
		{"reaction not enabled", func(m *msgstore.Message) { m.Reaction = json.RawMessage(`[]`) }, "reaction"},
		{"replyTo not enabled", func(m *msgstore.Message) { m.ReplyTo = json.RawMessage(`{"id":"x"}`) }, "replyTo"},
		{"id not a uuid", func(m *msgstore.Message) { m.ID = "not-a-uuid" }, "id"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := typedMsg("chat", "text")
			tc.edit(m)
			_, _, err := s.Append(ctx, m)
			var inv *msgstore.InvalidError
			require.ErrorAs(t, err, &inv)
			require.Equal(t, tc.field, inv.Field)
		})
	}

	// step 2: new built-in types, a custom type, reaction enabled
	require.NoError(t, s.EnsureSchema(ctx, hubSpec("chat", "", []spec.HubMessageType{text, image, video}, []string{"poll"}, false, true, false)))
	require.Equal(t, []string{"text", "image", "video", "poll"}, enumLabels(t, pool, schema, "chatMessage"))
	require.Contains(t, columns(t, pool, schema, "chatMessage"), "reaction")
	got, err := s.Get(ctx, "chat", first.ID)
	require.NoError(t, err)
	require.Equal(t, first, got, "existing messages survive the migration")
	_, _, err = s.Append(ctx, typedMsg("chat", "image"))
	require.NoError(t, err)
	_, _, err = s.Append(ctx, typedMsg("chat", "poll"))
	require.NoError(t, err)
	reacted, err := s.Update(ctx, "chat", first.ID, func(m *msgstore.Message) error {
		m.Reaction = json.RawMessage(`[{"emoji":"x","userId":"bob","timestamp":"2026-11-28T00:00:00.000Z"}]`)
		return nil
	})
	require.NoError(t, err)

	// step 3: removing a used type is refused and changes nothing
	err = s.EnsureSchema(ctx, hubSpec("chat", "", []spec.HubMessageType{text}, nil, true, true, false))
	require.ErrorIs(t, err, msgstore.ErrUnsafeMigration)
	require.ErrorContains(t, err, "image")
	require.ErrorContains(t, err, "poll")
	require.NotContains(t, columns(t, pool, schema, "chatMessage"), "replyTo", "a refused migration changes nothing")
	_, _, err = s.Append(ctx, typedMsg("chat", "image"))
	require.NoError(t, err, "the previous schema stays in force")

	// step 4: removing an unused type (video) is allowed; the label stays in
	// the enum, but the store refuses new messages of it. Reaction turned
	// off: column and data kept.
	require.NoError(t, s.EnsureSchema(ctx, hubSpec("chat", "", []spec.HubMessageType{text, image}, []string{"poll"}, false, false, false)))
	require.Equal(t, []string{"text", "image", "video", "poll"}, enumLabels(t, pool, schema, "chatMessage"))
	_, _, err = s.Append(ctx, typedMsg("chat", "video"))
	require.ErrorIs(t, err, msgstore.ErrInvalid)
	require.Contains(t, columns(t, pool, schema, "chatMessage"), "reaction", "turning a toggle off keeps the column")
	got, err = s.Get(ctx, "chat", first.ID)
	require.NoError(t, err)
	require.Equal(t, reacted, got)

	// a reopened store reads the schema from hubd_schema
	other, err := msgstore.OpenPostgres(ctx, msgstore.PostgresOptions{DSN: dsn, Schema: schema})
	require.NoError(t, err)
	got, err = other.Get(ctx, "chat", first.ID)
	require.NoError(t, err)
	require.Equal(t, reacted, got)
	_, _, err = other.Append(ctx, typedMsg("chat", "poll"))
	require.NoError(t, err)
	require.NoError(t, other.Close())

	// a new dataObjectName is a new, empty table; the old one stays
	require.NoError(t, s.EnsureSchema(ctx, hubSpec("chat", "ChatLine", []spec.HubMessageType{text}, nil, false, false, false)))
	list, err := s.List(ctx, "chat", "r1", msgstore.Query{})
	require.NoError(t, err)
	require.Empty(t, list)
	m, _, err := s.Append(ctx, typedMsg("chat", "text"))
	require.NoError(t, err)
	require.Equal(t, int64(1), m.Seq, "sequences are per table")
	require.Contains(t, columns(t, pool, schema, "chatMessage"), "reaction", "old table kept")
	var oldRows int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM "`+schema+`"."chatMessage"`).Scan(&oldRows))
	require.Equal(t, 5, oldRows)

	refused := []struct {
		name string
		hub  *spec.Hub
		want string
	}{
		{"table of another hub", hubSpec("other", "ChatLine", []spec.HubMessageType{text}, nil, false, false, false), "belongs to hub chat"},
		{"foreign table", hubSpec("legacy", "legacyTable", []spec.HubMessageType{text}, nil, false, false, false), "not a hubd message table"},
	}
	_, err = pool.Exec(ctx, `CREATE TABLE "`+schema+`"."legacyTable" (id int)`)
	require.NoError(t, err)
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			err := s.EnsureSchema(ctx, tc.hub)
			require.ErrorIs(t, err, msgstore.ErrUnsafeMigration)
			require.ErrorContains(t, err, tc.want)
		})
	}
	_, _, err = s.Append(ctx, typedMsg("other", "text"))
	require.ErrorIs(t, err, msgstore.ErrNoSchema)

	// a hub without message types (events only) gets an empty enum
	require.NoError(t, s.EnsureSchema(ctx, hubSpec("quiet", "", []spec.HubMessageType{}, nil, false, false, false)))
	require.Empty(t, enumLabels(t, pool, schema, "quietMessage"))
	_, _, err = s.Append(ctx, typedMsg("quiet", "text"))
	require.ErrorIs(t, err, msgstore.ErrInvalid)

	var logged int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM "`+schema+`".hubd_schema_log WHERE hub = 'chat'`).Scan(&logged))
	require.Equal(t, 3, logged, "create, step 2, the new table; the other steps changed nothing")
}

func TestPostgresUnavailable(t *testing.T) {
	t.Run("no server", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_, err := msgstore.OpenPostgres(ctx, msgstore.PostgresOptions{DSN: "postgres://u:p@127.0.0.1:1/db?sslmode=disable&connect_timeout=2"})
		require.ErrorIs(t, err, msgstore.ErrUnavailable)
	})
	t.Run("write timeout stores nothing", func(t *testing.T) {
		dsn := testDSN(t)
		ctx := context.Background()
		schema := freshSchema(t, dsn)
		s, err := msgstore.OpenPostgres(ctx, msgstore.PostgresOptions{DSN: dsn, Schema: schema, WriteTimeout: 300 * time.Millisecond})
		require.NoError(t, err)
		t.Cleanup(func() { _ = s.Close() })
		storetest.EnsureHubs(t, s, "chat")
		_, _, err = s.Append(ctx, typedMsg("chat", "text"))
		require.NoError(t, err)

		// hold the room's sequence row so the next append cannot finish
		tx, err := s.Pool().Begin(ctx)
		require.NoError(t, err)
		_, err = tx.Exec(ctx, `SELECT * FROM "`+schema+`".hubd_room_seq FOR UPDATE`)
		require.NoError(t, err)
		_, _, err = s.Append(ctx, typedMsg("chat", "text"))
		require.ErrorIs(t, err, msgstore.ErrUnavailable)
		require.NoError(t, tx.Rollback(ctx))

		list, err := s.List(ctx, "chat", "r1", msgstore.Query{})
		require.NoError(t, err)
		require.Len(t, list, 1, "the failed append stored nothing")
		next, _, err := s.Append(ctx, typedMsg("chat", "text"))
		require.NoError(t, err)
		require.Equal(t, int64(2), next.Seq, "and used no seq")
	})
}

// BenchmarkPostgresAppendParallel: 100 rooms against the real server, the
// same shapes as BenchmarkAppendParallel.
//
//	HUBD_TEST_DATABASE_URL=... go test ./pkg/msgstore -run '^$' -bench Postgres -benchtime 20000x
func BenchmarkPostgresAppendParallel(b *testing.B) {
	dsn := testDSN(b)
	for _, o := range []storetest.BenchOptions{
		{Rooms: 100, Writers: 100},
		{Rooms: 100, Writers: 100, ClientMessageIDs: true},
		{Rooms: 100, Writers: 400},
	} {
		b.Run(fmt.Sprintf("rooms=%d/writers=%d/cmid=%v", o.Rooms, o.Writers, o.ClientMessageIDs), func(b *testing.B) {
			s := openPostgres(b, dsn, freshSchema(b, dsn))
			storetest.EnsureHubs(b, s, "bench")
			storetest.BenchAppendParallel(b, s, o)
			if st := s.Stats(); st.Commits > 0 {
				b.ReportMetric(float64(st.Appends)/float64(st.Commits), "appends/commit")
			}
		})
	}
}

// TestPostgresTwoStores: two stores (as two hubd processes) on one database
// keep seqs gap-free and client message ids unique between them.
func TestPostgresTwoStores(t *testing.T) {
	dsn := testDSN(t)
	ctx := context.Background()
	schema := freshSchema(t, dsn)
	a, b := openPostgres(t, dsn, schema), openPostgres(t, dsn, schema)
	stores := []*msgstore.Postgres{a, b}

	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for _, s := range stores {
		wg.Go(func() { errs <- s.EnsureSchema(ctx, storetest.TestHub("chat")) })
	}
	wg.Wait()
	for range stores {
		require.NoError(t, <-errs)
	}

	const perStore, retries = 40, 8
	var (
		mu      sync.Mutex
		seqs    []int64
		created int
		ids     = map[string]bool{}
	)
	for i, s := range stores {
		for w := range 4 {
			wg.Go(func() {
				for range perStore / 4 {
					m := typedMsg("chat", "text")
					m.SenderID = fmt.Sprintf("s%d-w%d", i, w)
					got, _, err := s.Append(ctx, m)
					if err != nil {
						errs <- err
						return
					}
					mu.Lock()
					seqs = append(seqs, got.Seq)
					mu.Unlock()
				}
			})
		}
		for range retries {
			wg.Go(func() {
				m := typedMsg("chat", "text")
				m.RoomID, m.ClientMessageID = "r2", "same"
				got, c, err := s.Append(ctx, m)
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				ids[got.ID] = true
				if c {
					created++
				}
				mu.Unlock()
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	slices.Sort(seqs)
	want := make([]int64, 2*perStore)
	for i := range want {
		want[i] = int64(i + 1)
	}
	require.Equal(t, want, seqs, "gap-free, no duplicates across stores")
	require.Equal(t, 1, created, "one retried client message id stored once")
	require.Len(t, ids, 1)
	list, err := b.List(ctx, "chat", "r2", msgstore.Query{})
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, int64(1), list[0].Seq)
}

// BenchmarkPostgresListNewest50: the history a join sends, from a room of
// 2,000 messages.
// BenchmarkPostgresAppendOutbox: 100 rooms, one writer each, without and
// with the outbox (the daemon with kafka.brokers).
func BenchmarkPostgresAppendOutbox(b *testing.B) {
	dsn := testDSN(b)
	for _, outbox := range []bool{false, true} {
		b.Run(fmt.Sprintf("outbox=%v", outbox), func(b *testing.B) {
			s, err := msgstore.OpenPostgres(context.Background(), msgstore.PostgresOptions{DSN: dsn, Schema: freshSchema(b, dsn), Outbox: outbox})
			require.NoError(b, err)
			b.Cleanup(func() { _ = s.Close() })
			storetest.EnsureHubs(b, s, "bench")
			storetest.BenchAppendParallel(b, s, storetest.BenchOptions{Rooms: 100, Writers: 100})
		})
	}
}

// BenchmarkPostgresUpdateParallel: the shapes of BenchmarkUpdateParallel
// against the real server.
func BenchmarkPostgresUpdateParallel(b *testing.B) {
	dsn := testDSN(b)
	for _, o := range updateBenchShapes {
		b.Run(fmt.Sprintf("rooms=%d/writers=%d", o.Rooms, o.Writers), func(b *testing.B) {
			s := openPostgres(b, dsn, freshSchema(b, dsn))
			storetest.EnsureHubs(b, s, "bench")
			storetest.BenchUpdateParallel(b, s, o)
		})
	}
}

func BenchmarkPostgresListNewest50(b *testing.B) {
	dsn := testDSN(b)
	s := openPostgres(b, dsn, freshSchema(b, dsn))
	storetest.EnsureHubs(b, s, "bench")
	storetest.BenchList(b, s, 2000, 50)
}

// TestPostgresMigrateWhileAppending: a reload that adds a type and a column
// while appends run loses none of them and leaves no gap.
func TestPostgresMigrateWhileAppending(t *testing.T) {
	dsn := testDSN(t)
	ctx := context.Background()
	s := openPostgres(t, dsn, freshSchema(t, dsn))
	text := spec.MessageText
	require.NoError(t, s.EnsureSchema(ctx, hubSpec("chat", "", []spec.HubMessageType{text}, nil, false, false, false)))

	const writers, each = 4, 30
	var wg sync.WaitGroup
	errs := make(chan error, writers+1)
	for w := range writers {
		wg.Go(func() {
			for range each {
				m := typedMsg("chat", "text")
				m.SenderID = fmt.Sprintf("w%d", w)
				if _, _, err := s.Append(ctx, m); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Go(func() {
		errs <- s.EnsureSchema(ctx, hubSpec("chat", "", []spec.HubMessageType{text, spec.MessageImage}, nil, true, true, true))
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	list, err := s.List(ctx, "chat", "r1", msgstore.Query{})
	require.NoError(t, err)
	got := make([]int64, 0, len(list))
	for _, m := range list {
		got = append(got, m.Seq)
	}
	want := make([]int64, writers*each)
	for i := range want {
		want[i] = int64(i + 1)
	}
	require.Equal(t, want, got)

	fwd := true
	m := typedMsg("chat", "image")
	m.Reaction, m.ReplyTo, m.Forwarded = json.RawMessage(`[]`), json.RawMessage(`{"id":"x"}`), &fwd
	stored, _, err := s.Append(ctx, m)
	require.NoError(t, err)
	again, err := s.Get(ctx, "chat", stored.ID)
	require.NoError(t, err)
	require.Equal(t, stored, again)
	require.JSONEq(t, `{"id":"x"}`, string(again.ReplyTo))
	require.True(t, *again.Forwarded)
}

func TestPostgresOutbox(t *testing.T) {
	dsn := testDSN(t)
	storetest.RunOutbox(t, func(t *testing.T) storetest.Opener {
		schema := freshSchema(t, dsn)
		return func() (msgstore.Store, error) {
			return msgstore.OpenPostgres(context.Background(), msgstore.PostgresOptions{DSN: dsn, Schema: schema, Outbox: true})
		}
	})
}

func TestPostgresAppliedEvents(t *testing.T) {
	dsn := testDSN(t)
	storetest.RunAppliedEvents(t, func(t *testing.T) storetest.Opener {
		schema := freshSchema(t, dsn)
		return func() (msgstore.Store, error) {
			return msgstore.OpenPostgres(context.Background(), msgstore.PostgresOptions{DSN: dsn, Schema: schema})
		}
	})
}
