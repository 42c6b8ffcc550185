package msgstore_test

import (
	"context"
	"encoding/json"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/pkg/msgstore"
	"github.com/hubd/hubd/pkg/msgstore/storetest"
)

// TestPostgresMigratesChangeColumns: a database from before the change
// stream (a hub table without rev and change, no index on them, no
// hubd_room_rev) gets them on open and EnsureSchema; its messages read as
// never changed and a room's first update gets rev 1.
func TestPostgresMigratesChangeColumns(t *testing.T) {
	dsn := testDSN(t)
	ctx := context.Background()
	schema := freshSchema(t, dsn)
	s := openPostgres(t, dsn, schema)
	storetest.EnsureHubs(t, s, "chat")
	old, _, err := s.Append(ctx, typedMsg("chat", "text"))
	require.NoError(t, err)
	require.NoError(t, s.Close())

	pool := openPostgres(t, dsn, schema).Pool() // only for its pool
	q := `"` + schema + `"`
	for _, stmt := range []string{
		`DROP INDEX ` + q + `."chatMessage_rev"`,
		`ALTER TABLE ` + q + `."chatMessage" DROP COLUMN rev, DROP COLUMN change`,
		`DROP TABLE ` + q + `.hubd_room_rev`,
		`UPDATE ` + q + `.hubd_schema SET columns = array_remove(array_remove(columns, 'rev'), 'change')`,
	} {
		_, err := pool.Exec(ctx, stmt)
		require.NoError(t, err, stmt)
	}
	require.NotContains(t, columns(t, pool, schema, "chatMessage"), "rev")

	// A store that reads the old layout from hubd_schema (no EnsureSchema
	// yet) reads the messages and refuses to update without a number.
	s = openPostgres(t, dsn, schema)
	got, err := s.Get(ctx, "chat", old.ID)
	require.NoError(t, err)
	require.Equal(t, old, got)
	_, err = s.Update(ctx, "chat", old.ID, func(m *msgstore.Message) error { return nil })
	require.ErrorIs(t, err, msgstore.ErrNoSchema)
	changes, err := s.List(ctx, "chat", "r1", msgstore.Query{Changes: true})
	require.NoError(t, err)
	require.Empty(t, changes)

	storetest.EnsureHubs(t, s, "chat")
	cols := columns(t, pool, schema, "chatMessage")
	require.Equal(t, "bigint", cols["rev"])
	require.Equal(t, "jsonb", cols["change"])
	var index string
	require.NoError(t, pool.QueryRow(ctx, `SELECT indexdef FROM pg_indexes WHERE schemaname = $1 AND indexname = 'chatMessage_rev'`, schema).Scan(&index))
	require.Contains(t, index, `("roomId", rev) WHERE (rev > 0)`)
	var logged []string
	require.NoError(t, pool.QueryRow(ctx, `SELECT statements FROM `+q+`.hubd_schema_log WHERE hub = 'chat' ORDER BY id DESC LIMIT 1`).Scan(&logged))
	require.Len(t, logged, 3, "two columns and the index: %v", logged)

	got, err = s.Get(ctx, "chat", old.ID)
	require.NoError(t, err)
	require.Equal(t, old, got, "an old message reads as never changed")
	changed, err := s.Update(ctx, "chat", old.ID, func(m *msgstore.Message) error {
		m.Content = json.RawMessage(`{"text":"edited"}`)
		m.Change = &msgstore.Change{Kind: msgstore.ChangeEdited, By: "alice"}
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, int64(1), changed.Rev)
	changes, err = s.List(ctx, "chat", "r1", msgstore.Query{Changes: true, Limit: 1})
	require.NoError(t, err)
	require.Equal(t, []*msgstore.Message{changed}, changes)
}

// TestPostgresTwoStoresNumberChanges: updates of one room through two
// stores (as two hubd processes) share its change counter.
func TestPostgresTwoStoresNumberChanges(t *testing.T) {
	dsn := testDSN(t)
	ctx := context.Background()
	schema := freshSchema(t, dsn)
	a, b := openPostgres(t, dsn, schema), openPostgres(t, dsn, schema)
	storetest.EnsureHubs(t, a, "chat")
	var ids []string
	for range 4 {
		m, _, err := a.Append(ctx, typedMsg("chat", "text"))
		require.NoError(t, err)
		ids = append(ids, m.ID)
	}
	const each = 20
	var (
		mu   sync.Mutex
		revs []int64
		wg   sync.WaitGroup
	)
	for i, s := range []*msgstore.Postgres{a, b, a, b} {
		wg.Go(func() {
			for range each {
				m, err := s.Update(ctx, "chat", ids[i], func(m *msgstore.Message) error {
					m.Change = &msgstore.Change{Kind: msgstore.ChangeEdited}
					return nil
				})
				if err != nil {
					t.Errorf("update: %v", err)
					return
				}
				mu.Lock()
				revs = append(revs, m.Rev)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	slices.Sort(revs)
	want := make([]int64, 4*each)
	for i := range want {
		want[i] = int64(i + 1)
	}
	require.Equal(t, want, revs)
}
