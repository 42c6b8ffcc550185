package msgstore

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"
	"go.uber.org/zap"
)

// committer is the embedded store's single writer. It group-commits (see
// batcher): every write waiting while a transaction commits goes into the
// next transaction, so N concurrent writers pay for one fsync instead of N.
// A lone write on a quiet store commits at once, unlike bolt.DB.Batch,
// which adds its MaxBatchDelay to every write of a quiet room.
type committer struct {
	db    *bolt.DB
	log   *zap.Logger
	b     *batcher[*writeOp]
	hooks txHooks

	queued   atomic.Uint64 // writes handed to the writer
	commits  atomic.Uint64
	written  atomic.Uint64
	rollback atomic.Uint64
}

// writeOp is one queued write. fn runs inside a write transaction, possibly
// more than once (when another op of its batch fails the transaction), so it
// must derive everything from tx and keep its results in its closure, where
// the last run wins.
type writeOp struct {
	ctx  context.Context
	fn   func(tx *bolt.Tx) error
	done chan error
	soft error // set by the latest run: failed without writing
}

// txHooks see every write transaction of the committer: flush runs in it
// after its last op (an error fails the whole transaction), end after it
// committed or not.
type txHooks interface {
	flush(tx *bolt.Tx) error
	end(committed bool)
}

// cleanFailure marks an op error raised before the op wrote anything: the
// rest of the batch can still commit.
type cleanFailure struct{ err error }

func (c *cleanFailure) Error() string { return c.err.Error() }
func (c *cleanFailure) Unwrap() error { return c.err }

// noWrite wraps err (when not nil) as a failure that left tx untouched.
func noWrite(err error) error {
	if err == nil {
		return nil
	}
	return &cleanFailure{err: err}
}

func newCommitter(db *bolt.DB, log *zap.Logger, opts EmbeddedOptions, hooks txHooks) *committer {
	c := &committer{db: db, log: log, hooks: hooks}
	c.b = newBatcher(opts.MaxBatch, opts.MaxBatchDelay, 1, c.commit, opts.OnCommit)
	return c
}

// do queues fn and waits until its transaction committed or failed. Once
// queued, the op is not abandoned: a context cancelled before the op's
// transaction starts keeps it from running; otherwise the caller learns the
// real outcome.
func (c *committer) do(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	op := &writeOp{ctx: ctx, fn: fn, done: make(chan error, 1)}
	if err := c.b.enqueue(ctx, op); err != nil {
		return err
	}
	c.queued.Add(1)
	return <-op.done
}

// close stops taking writes, finishes the queued ones and returns when the
// writer is idle. It is idempotent.
func (c *committer) close() { c.b.close() }

// commit runs ops in one transaction and answers each of them. An op that
// fails after writing (a hard failure) aborts the transaction; then the ops
// before it are committed on their own and the rest, starting with the
// failed op, run again, so the failed op is answered from a run in which it
// came first and the others see exactly the state they would have seen alone.
func (c *committer) commit(ops []*writeOp) {
	for len(ops) > 0 {
		hard, hardErr := -1, error(nil)
		err := c.db.Update(func(tx *bolt.Tx) error {
			for i, op := range ops {
				op.soft = nil
				if err := op.ctx.Err(); err != nil {
					op.soft = err
					continue
				}
				err := safeCall(op.fn, tx)
				var clean *cleanFailure
				if errors.As(err, &clean) {
					op.soft = clean.err
					continue
				}
				if err != nil {
					hard, hardErr = i, err
					return err
				}
			}
			return c.hooks.flush(tx)
		})
		c.hooks.end(err == nil)
		switch {
		case hard < 0:
			if err != nil {
				c.log.Error("commit failed", zap.Int("writes", len(ops)), zap.Error(err))
				err = fmt.Errorf("%w: commit: %w", ErrUnavailable, err)
			} else {
				c.commits.Add(1)
			}
			for _, op := range ops {
				if op.soft != nil {
					op.done <- op.soft
					continue
				}
				if err == nil {
					c.written.Add(1)
				}
				op.done <- err
			}
			return
		case hard == 0:
			c.rollback.Add(1)
			ops[0].done <- hardErr
			ops = ops[1:]
		default:
			c.rollback.Add(1)
			c.commit(ops[:hard])
			ops = ops[hard:]
		}
	}
}

// safeCall runs fn, turning a panic (for example in an Update callback) into
// an error so that the writer keeps serving.
func safeCall(fn func(tx *bolt.Tx) error, tx *bolt.Tx) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("msgstore: write panicked: %v", r)
		}
	}()
	return fn(tx)
}
