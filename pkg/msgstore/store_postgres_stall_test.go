package msgstore_test

import (
	"context"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/pkg/msgstore"
	"github.com/hubd/hubd/pkg/msgstore/storetest"
)

// Honest answers when PostgreSQL stalls: an append answers within
// WriteTimeout plus a small margin; ErrUnavailable means it is not stored
// and never will be; ErrOutcomeUnknown means the commit was sent and no
// answer came, and a retry with the same clientMessageId stores it once.

const stallTimeout = 400 * time.Millisecond

// answerBound is the longest an append may take: WriteTimeout and the
// margins of the store (the writer's verdict, the server's answer), with
// slack for a loaded machine.
const answerBound = stallTimeout + time.Second

func stallStore(t *testing.T) (*msgstore.Postgres, string) {
	t.Helper()
	dsn := testDSN(t)
	schema := freshSchema(t, dsn)
	s, err := msgstore.OpenPostgres(context.Background(), msgstore.PostgresOptions{
		DSN: dsn, Schema: schema, WriteTimeout: stallTimeout, MaxConns: 1,
	})
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	storetest.EnsureHubs(t, s, "chat")
	_, _, err = s.Append(context.Background(), typedMsg("chat", "text"))
	require.NoError(t, err)
	return s, schema
}

func withCmid(m *msgstore.Message, cmid string) *msgstore.Message {
	m.ClientMessageID = cmid
	return m
}

func TestPostgresStalledWriteIsCancelledInTheDatabase(t *testing.T) {
	for _, cmid := range []string{"", "c-lock"} {
		name := "without clientMessageId"
		if cmid != "" {
			name = "with clientMessageId"
		}
		t.Run(name, func(t *testing.T) {
			s, schema := stallStore(t)
			ctx := context.Background()
			// Another connection holds the message table: the insert waits.
			locker, err := pgx.Connect(ctx, testDSN(t))
			require.NoError(t, err)
			defer locker.Close(ctx)
			tx, err := locker.Begin(ctx)
			require.NoError(t, err)
			_, err = tx.Exec(ctx, `LOCK TABLE "`+schema+`"."chatMessage" IN ACCESS EXCLUSIVE MODE`)
			require.NoError(t, err)

			start := time.Now()
			_, _, err = s.Append(ctx, withCmid(typedMsg("chat", "text"), cmid))
			took := time.Since(start)
			require.ErrorIs(t, err, msgstore.ErrUnavailable, "PostgreSQL cancelled the statement: a definite answer")
			require.NotErrorIs(t, err, msgstore.ErrOutcomeUnknown)
			require.Less(t, took, answerBound, "answered within WriteTimeout and a margin")
			require.NoError(t, tx.Rollback(ctx))

			// The failed write is gone for good: the next append gets the
			// next seq, and the history holds only the two that succeeded.
			next, _, err := s.Append(ctx, typedMsg("chat", "text"))
			require.NoError(t, err)
			require.Equal(t, int64(2), next.Seq)
			list, err := s.List(ctx, "chat", "r1", msgstore.Query{})
			require.NoError(t, err)
			require.Len(t, list, 2)
			if cmid != "" {
				_, err := s.GetByClientID(ctx, "chat", "alice", cmid)
				require.ErrorIs(t, err, msgstore.ErrNotFound)
			}
		})
	}
}

func TestPostgresFrozenBackendGivesOutcomeUnknown(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("signalling a PostgreSQL backend needs root")
	}
	s, _ := stallStore(t)
	ctx := context.Background()
	var pid int
	require.NoError(t, s.Pool().QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid))
	// The pool's only backend stops (as a whole server would): it reads
	// nothing and answers nothing.
	require.NoError(t, syscall.Kill(pid, syscall.SIGSTOP))
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
	}
	defer resume()

	m := withCmid(typedMsg("chat", "text"), "c-frozen")
	start := time.Now()
	_, _, err := s.Append(ctx, m)
	took := time.Since(start)
	require.ErrorIs(t, err, msgstore.ErrOutcomeUnknown, "the commit was sent and no answer came")
	require.Less(t, took, answerBound, "answered within WriteTimeout and a margin")
	resume()

	// The retry with the same clientMessageId is safe: stored once,
	// whatever happened to the first attempt.
	require.Eventually(t, func() bool {
		_, _, err := s.Append(ctx, m)
		return err == nil
	}, 10*time.Second, 50*time.Millisecond)
	list, err := s.List(ctx, "chat", "r1", msgstore.Query{})
	require.NoError(t, err)
	n := 0
	for _, got := range list {
		if got.ClientMessageID == "c-frozen" {
			n++
		}
	}
	require.Equal(t, 1, n)
}
