package msgstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.uber.org/zap"
)

// pgAppendOp is one queued Append.
type pgAppendOp struct {
	ctx      context.Context
	m        *Message // normalized, with id and timestamp
	t        *pgTable
	explicit bool // the caller chose the id
	done     chan struct{}
	// deadline: the caller's answer is due (WriteTimeout after Append was
	// called, or the caller's own deadline when sooner); the transaction
	// holding the op ends by then.
	deadline time.Time

	// results, reset by every run
	leader  *pgAppendOp // an earlier op of the batch with the same client message id
	stored  *Message
	created bool
	err     error
}

// pgAppender group-commits appends (see batcher): each of its writers
// takes every append queued when it starts a transaction and stores them
// with one or two pipelined round trips (see appendBatch), so concurrent
// appends share the commit's WAL flush.
type pgAppender struct {
	p *Postgres
	b *batcher[*pgAppendOp]

	commits, appends, fallbacks atomic.Uint64
}

func newPgAppender(p *Postgres) *pgAppender {
	a := &pgAppender{p: p}
	a.b = newBatcher(p.opts.MaxBatch, p.opts.MaxBatchDelay, p.opts.Writers, a.run, p.opts.OnCommit)
	return a
}

// answerMargin is how long after an op's deadline its caller still waits
// for the writer's verdict before it answers ErrOutcomeUnknown.
const answerMargin = 250 * time.Millisecond

func (a *pgAppender) do(op *pgAppendOp) error {
	if err := a.b.enqueue(op.ctx, op); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("%w: queued appends did not drain in time", ErrUnavailable)
		}
		return err
	}
	t := time.NewTimer(time.Until(op.deadline) + answerMargin)
	defer t.Stop()
	select {
	case <-op.done:
		return op.err
	case <-t.C:
		return fmt.Errorf("%w: no answer from the writer in time", ErrOutcomeUnknown)
	}
}

func (a *pgAppender) close() { a.b.close() }

// run stores a batch in one transaction; when that fails for another reason
// than an unavailable database, it stores each append on its own so that
// only the culprit fails.
func (a *pgAppender) run(batch []*pgAppendOp) {
	live := batch[:0:0]
	for _, op := range batch {
		if err := op.ctx.Err(); err != nil {
			op.err = fmt.Errorf("%w: not written before the deadline: %w", ErrUnavailable, err)
			close(op.done)
			continue
		}
		live = append(live, op)
	}
	if len(live) == 0 {
		return
	}
	err := a.tx(live)
	if err != nil && len(live) > 1 && !errors.Is(err, ErrUnavailable) && !errors.Is(err, ErrClosed) && !errors.Is(err, ErrOutcomeUnknown) {
		a.fallbacks.Add(1)
		a.p.log.Warn("append batch failed; storing its appends one by one", zap.Int("appends", len(live)), zap.Error(err))
		for _, op := range live {
			if err := a.tx([]*pgAppendOp{op}); err != nil {
				op.err = err
			}
			close(op.done)
		}
		return
	}
	for _, op := range live {
		if err != nil {
			op.err = err
		}
		close(op.done)
	}
}

// tx stores ops in one transaction that ends by the earliest deadline of
// its ops: a caller told "not stored" (ErrUnavailable) is never stored
// later.
func (a *pgAppender) tx(ops []*pgAppendOp) error {
	deadline := time.Now().Add(a.p.opts.WriteTimeout)
	for _, op := range ops {
		if !op.deadline.IsZero() && op.deadline.Before(deadline) {
			deadline = op.deadline
		}
	}
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if err := pgErr(a.p.appendBatch(ctx, ops)); err != nil {
		return err
	}
	a.commits.Add(1)
	for _, op := range ops {
		if op.err == nil && op.created {
			a.appends.Add(1)
		}
	}
	return nil
}

// Append implements Store.
func (p *Postgres) Append(ctx context.Context, m *Message) (*Message, bool, error) {
	if p.closed.Load() {
		return nil, false, fmt.Errorf("append: %w", ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	in := appendCopy(m)
	if err := Normalize(in); err != nil {
		return nil, false, fmt.Errorf("append: %w", err)
	}
	// One deadline for the whole append: the table lookup, the queue and
	// the transaction.
	deadline := time.Now().Add(p.opts.WriteTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	ctx, cancelOp := context.WithDeadline(ctx, deadline)
	defer cancelOp()
	op := &pgAppendOp{ctx: ctx, m: in, done: make(chan struct{}), explicit: in.ID != "", deadline: deadline}
	if in.ID == "" {
		id, err := uuid.NewV7()
		if err != nil {
			return nil, false, fmt.Errorf("append: new id: %w", err)
		}
		in.ID = id.String()
	} else {
		id, err := uuid.Parse(in.ID)
		if err != nil {
			return nil, false, fmt.Errorf("append: %w", invalid("id", "not a UUID"))
		}
		in.ID = id.String()
	}
	if in.Timestamp.IsZero() {
		in.Timestamp = time.Now().UTC().Truncate(time.Millisecond)
	}
	t, err := p.table(ctx, in.HubName)
	if err != nil {
		return nil, false, fmt.Errorf("append to %s/%s: %w", in.HubName, in.RoomID, err)
	}
	if t == nil {
		return nil, false, fmt.Errorf("append to %s/%s: %w", in.HubName, in.RoomID, ErrNoSchema)
	}
	if err := t.check(in, nil); err != nil {
		return nil, false, fmt.Errorf("append to %s/%s: %w", in.HubName, in.RoomID, err)
	}
	op.t = t
	if err := p.app.do(op); err != nil {
		return nil, false, fmt.Errorf("append to %s/%s: %w", in.HubName, in.RoomID, err)
	}
	return op.stored, op.created, nil
}

// check reports fields the table cannot store: a message type the spec does
// not have (unless unchanged from before), an optional field whose column
// was never created.
func (t *pgTable) check(m, before *Message) error {
	if !t.types[m.MessageType] && (before == nil || before.MessageType != m.MessageType) {
		return invalid("messageType", fmt.Sprintf("%q is not a message type of hub %s", m.MessageType, t.hub))
	}
	for _, f := range []struct {
		col string
		set bool
	}{{colReplyTo, m.ReplyTo != nil}, {colReaction, m.Reaction != nil}, {colForwarded, m.Forwarded != nil}, {colAudience, m.Audience != nil}, {colChange, m.Change != nil}} {
		if f.set && !t.cols[f.col] {
			return invalid(f.col, fmt.Sprintf("not enabled for hub %s", t.hub))
		}
	}
	return nil
}

type pgCmidKey struct{ table, sender, cmid string }

// appendBatch stores ops atomically with at most two round trips.
//
// Without client message ids or explicit ids (the common case) it sends one
// pipeline holding one statement per hub table, which PostgreSQL runs as one
// implicit transaction: each statement bumps the sequence rows of its rooms
// (hubd_room_seq, INSERT ... ON CONFLICT DO UPDATE, rooms in byte order) and
// inserts the messages with the seqs that returned. Otherwise a first
// pipeline opens a transaction, takes transaction-scoped advisory locks on
// the client message ids (sorted) and looks up repeats and taken ids; the
// second holds the inserts and COMMIT.
//
// Lock order, the same in every hubd process: client message id locks, then
// sequence rows by (table, room). Failures that change nothing (a repeated
// client message id, a duplicate explicit id) are set on the op; a returned
// error means nothing of the batch was stored.
func (p *Postgres) appendBatch(ctx context.Context, ops []*pgAppendOp) error {
	leaders := map[pgCmidKey]*pgAppendOp{}
	var locks []int64
	explicit := false
	for _, op := range ops {
		op.leader, op.stored, op.created, op.err = nil, nil, false, nil
		explicit = explicit || op.explicit
		if op.m.ClientMessageID == "" {
			continue
		}
		k := pgCmidKey{op.t.dataObject, op.m.SenderID, op.m.ClientMessageID}
		if l := leaders[k]; l != nil {
			op.leader = l
			continue
		}
		leaders[k] = op
		locks = append(locks, lockKey(k.table, k.sender, k.cmid))
	}
	// One statement per table, whatever description of it each op saw: an
	// EnsureSchema during the batch may have replaced it. Columns are only
	// ever added, so the description with the most columns covers all ops.
	latest := map[string]*pgTable{}
	for _, op := range ops {
		if cur := latest[op.t.dataObject]; cur == nil || len(op.t.cols) > len(cur.cols) {
			latest[op.t.dataObject] = op.t
		}
	}
	byTable := map[*pgTable][]*pgAppendOp{}
	var tables []*pgTable
	for _, op := range ops {
		if op.leader != nil {
			continue
		}
		t := latest[op.t.dataObject]
		if byTable[t] == nil {
			tables = append(tables, t)
		}
		byTable[t] = append(byTable[t], op)
	}
	slices.SortFunc(tables, func(a, b *pgTable) int { return strings.Compare(a.dataObject, b.dataObject) })

	conn, err := p.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	explicitTx := len(locks) > 0 || explicit
	if explicitTx {
		if err := p.resolveExisting(ctx, conn.Conn(), tables, byTable, locks); err != nil {
			rollback(conn.Conn())
			return err
		}
	}

	b := &pgx.Batch{}
	if !explicitTx {
		queueBegin(ctx, b)
	}
	var inserting [][]*pgAppendOp
	var insertTables []*pgTable
	for _, t := range tables {
		var fresh []*pgAppendOp
		for _, op := range byTable[t] {
			if op.stored == nil && op.err == nil {
				fresh = append(fresh, op)
			}
		}
		if len(fresh) == 0 {
			continue
		}
		sql, args := insertStatement(p, t, fresh)
		b.Queue(sql, args...)
		inserting = append(inserting, fresh)
		insertTables = append(insertTables, t)
	}
	b.Queue("COMMIT")
	if len(inserting) > 0 || explicitTx {
		br := conn.Conn().SendBatch(ctx, b)
		err := readBegin(br, !explicitTx)
		if err == nil {
			err = readInserts(br, insertTables, inserting)
		}
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			rollback(conn.Conn())
			return commitErr(err)
		}
	}
	for _, op := range ops {
		if l := op.leader; l != nil {
			op.stored, op.created, op.err = l.stored.Clone(), false, l.err
		}
	}
	return nil
}

// queueBegin opens the transaction with a server-side statement timeout
// that fires before the transaction's deadline: a statement that waits
// (on a lock, on a slow disk) is cancelled by PostgreSQL itself, so the
// caller gets a definite "not stored" rather than no answer.
func queueBegin(ctx context.Context, b *pgx.Batch) {
	b.Queue("BEGIN")
	ms := int64(1000)
	if d, ok := ctx.Deadline(); ok {
		ms = max(1, time.Until(d).Milliseconds()-serverTimeoutMargin.Milliseconds())
	}
	b.Queue("SET LOCAL statement_timeout = " + strconv.FormatInt(ms, 10))
}

// serverTimeoutMargin is how much sooner than the client's deadline the
// server's statement timeout fires: time for its answer to arrive.
const serverTimeoutMargin = 150 * time.Millisecond

// readBegin reads the results of queueBegin when begin is set.
func readBegin(br pgx.BatchResults, begin bool) error {
	if !begin {
		return nil
	}
	for range 2 {
		if _, err := br.Exec(); err != nil {
			return err
		}
	}
	return nil
}

// commitErr classifies the failure of the round trip that commits: an
// error answer from PostgreSQL means the transaction was rolled back, and
// an error before anything was sent means it never started; otherwise the
// commit was sent and no answer came (a timeout, a broken connection), so
// the outcome is unknown.
func commitErr(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) || pgconn.SafeToRetry(err) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrOutcomeUnknown, err)
}

// rollback ends a failed explicit transaction so the connection goes back
// to the pool clean (pgxpool drops connections left inside a transaction).
func rollback(conn *pgx.Conn) {
	if conn.PgConn().IsClosed() || conn.PgConn().TxStatus() == 'I' {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, _ = conn.Exec(ctx, "ROLLBACK")
}

// resolveExisting opens the transaction, takes the client message id locks
// and answers the ops whose client message id is stored already (with the
// original) and those whose explicit id is taken, in one round trip.
func (p *Postgres) resolveExisting(ctx context.Context, conn *pgx.Conn, tables []*pgTable, byTable map[*pgTable][]*pgAppendOp, locks []int64) error {
	b := &pgx.Batch{}
	queueBegin(ctx, b)
	if len(locks) > 0 {
		slices.Sort(locks)
		locks = slices.Compact(locks)
		b.Queue("SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k", locks)
	}
	type lookup struct {
		t   *pgTable
		ids bool // explicit ids, else client message ids
	}
	var lookups []lookup
	for _, t := range tables {
		var senders, cmids, ids []string
		for _, op := range byTable[t] {
			if op.m.ClientMessageID != "" {
				senders = append(senders, op.m.SenderID)
				cmids = append(cmids, op.m.ClientMessageID)
			}
			if op.explicit {
				ids = append(ids, op.m.ID)
			}
		}
		if len(cmids) > 0 {
			b.Queue(`SELECT `+t.selectList+` FROM `+t.ident+
				` WHERE ("senderId", "clientMessageId") IN (SELECT * FROM unnest($1::text[], $2::text[]))`, senders, cmids)
			lookups = append(lookups, lookup{t: t})
		}
		if len(ids) > 0 {
			b.Queue(`SELECT id::text FROM `+t.ident+` WHERE id = ANY($1::uuid[])`, ids)
			lookups = append(lookups, lookup{t: t, ids: true})
		}
	}
	br := conn.SendBatch(ctx, b)
	err := func() error {
		if err := readBegin(br, true); err != nil {
			return err
		}
		if len(locks) > 0 {
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		for _, l := range lookups {
			rows, err := br.Query()
			if err != nil {
				return err
			}
			if l.ids {
				taken := map[string]bool{}
				for rows.Next() {
					var id string
					if err := rows.Scan(&id); err != nil {
						rows.Close()
						return err
					}
					taken[id] = true
				}
				if err := rows.Err(); err != nil {
					return err
				}
				for _, op := range byTable[l.t] {
					if !op.explicit || op.stored != nil {
						continue
					}
					if taken[op.m.ID] {
						op.err = fmt.Errorf("id %s: %w", op.m.ID, ErrDuplicateID)
						continue
					}
					taken[op.m.ID] = true // a later op of the batch with the same id
				}
				continue
			}
			orig := map[[2]string]*Message{}
			for rows.Next() {
				m, err := l.t.scan(rows)
				if err != nil {
					rows.Close()
					return err
				}
				orig[[2]string{m.SenderID, m.ClientMessageID}] = m
			}
			if err := rows.Err(); err != nil {
				return err
			}
			for _, op := range byTable[l.t] {
				if m := orig[[2]string{op.m.SenderID, op.m.ClientMessageID}]; m != nil && op.m.ClientMessageID != "" {
					op.stored, op.created = m, false
				}
			}
		}
		return nil
	}()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return err
}

// insertStatement builds the statement that assigns the seqs of fresh (ops
// of table t) and inserts them, returning what PostgreSQL stored for the
// JSON fields.
func insertStatement(p *Postgres, t *pgTable, fresh []*pgAppendOp) (string, []any) {
	counts := map[string]int64{}
	n := len(fresh)
	var (
		ids, rooms, senders, types, contents, statuses = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		ks                                             = make([]int64, n)
		times                                          = make([]time.Time, n)
		cmids, replies, reactions                      = make([]*string, n), make([]*string, n), make([]*string, n)
		edited                                         = make([]*time.Time, n)
		forwarded                                      = make([]*bool, n)
		audiences                                      = make([]*string, n)
	)
	for i, op := range fresh {
		m := op.m
		counts[m.RoomID]++
		ks[i] = counts[m.RoomID] // 1-based position within its room in this batch
		ids[i], rooms[i], senders[i], types[i], contents[i], statuses[i] = m.ID, m.RoomID, m.SenderID, m.MessageType, string(m.Content), m.Status
		times[i], edited[i], forwarded[i] = m.Timestamp, m.EditedAt, m.Forwarded
		cmids[i] = optString(m.ClientMessageID)
		replies[i], reactions[i] = optJSON(m.ReplyTo), optJSON(m.Reaction)
		audiences[i] = optAudience(m.Audience)
	}
	seqRooms := make([]string, 0, len(counts))
	for r := range counts {
		seqRooms = append(seqRooms, r)
	}
	slices.Sort(seqRooms)
	seqCounts := make([]int64, len(seqRooms))
	for i, r := range seqRooms {
		seqCounts[i] = counts[r]
	}

	args := []any{seqRooms, seqCounts, t.dataObject, ids, rooms, ks, senders, types, contents, times, statuses, cmids, edited}
	cols := `id, "roomId", seq, "senderId", "messageType", content, "timestamp", status, "clientMessageId", "editedAt"`
	vals := `u.id::uuid, u.room, s.seq - c.n + u.k, u.sender, u.mt::` + t.enum + `, u.content::jsonb, u.ts, u.status, u.cmid, u.edited`
	params := `$4::text[], $5::text[], $6::bigint[], $7::text[], $8::text[], $9::text[], $10::timestamptz[], $11::text[], $12::text[], $13::timestamptz[]`
	names := `id, room, k, sender, mt, content, ts, status, cmid, edited`
	ret := `id::text, seq, content::text`
	if t.cols[colReplyTo] {
		args = append(args, replies)
		cols, vals, names, ret = cols+`, "replyTo"`, vals+`, u.reply::jsonb`, names+`, reply`, ret+`, "replyTo"::text`
		params += fmt.Sprintf(`, $%d::text[]`, len(args))
	}
	if t.cols[colReaction] {
		args = append(args, reactions)
		cols, vals, names, ret = cols+`, reaction`, vals+`, u.reaction::jsonb`, names+`, reaction`, ret+`, reaction::text`
		params += fmt.Sprintf(`, $%d::text[]`, len(args))
	}
	if t.cols[colForwarded] {
		args = append(args, forwarded)
		cols, vals, names = cols+`, forwarded`, vals+`, u.fwd`, names+`, fwd`
		params += fmt.Sprintf(`, $%d::boolean[]`, len(args))
	}
	if t.cols[colAudience] {
		args = append(args, audiences)
		cols, vals, names = cols+`, audience`, vals+`, u.aud::jsonb`, names+`, aud`
		params += fmt.Sprintf(`, $%d::text[]`, len(args))
	}
	with := `WITH c AS (SELECT * FROM unnest($1::text[], $2::bigint[]) AS c(room, n)),
	s AS (
		INSERT INTO ` + p.shared("hubd_room_seq") + ` AS s (data_object, room, seq)
		SELECT $3, c.room, c.n FROM c ORDER BY c.room COLLATE "C"
		ON CONFLICT (data_object, room) DO UPDATE SET seq = s.seq + EXCLUDED.seq
		RETURNING s.room, s.seq)`
	insert := `
	INSERT INTO ` + t.ident + ` (` + cols + `)
	SELECT ` + vals + `
	FROM unnest(` + params + `) AS u(` + names + `)
	JOIN s ON s.room = u.room JOIN c ON c.room = u.room`
	if !p.opts.Outbox {
		return with + insert + ` RETURNING ` + ret, args
	}
	// The outbox rows of a room are numbered in seq order; the room's seq
	// row stays locked until the commit, so a room's later appends get
	// later positions.
	args = append(args, t.hub)
	return with + `,
	ins AS (` + insert + ` RETURNING *),
	ob AS (INSERT INTO ` + p.shared("hubd_outbox") + ` (hub, op, message)
		SELECT $` + strconv.Itoa(len(args)) + `, '` + OutboxCreated + `', to_jsonb(ins) FROM ins ORDER BY ins."roomId" COLLATE "C", ins.seq)
	SELECT ` + ret + ` FROM ins`, args
}

// readInserts reads the insert statements' results (queued in the order of
// tables) and sets the ops' stored copies.
func readInserts(br pgx.BatchResults, tables []*pgTable, inserting [][]*pgAppendOp) error {
	for i, t := range tables {
		ops := inserting[i]
		byID := make(map[string]*pgAppendOp, len(ops))
		for _, op := range ops {
			byID[op.m.ID] = op
		}
		rows, err := br.Query()
		if err != nil {
			return err
		}
		for rows.Next() {
			var (
				id, content     string
				seq             int64
				reply, reaction *string
			)
			dest := []any{&id, &seq, &content}
			if t.cols[colReplyTo] {
				dest = append(dest, &reply)
			}
			if t.cols[colReaction] {
				dest = append(dest, &reaction)
			}
			if err := rows.Scan(dest...); err != nil {
				rows.Close()
				return err
			}
			op := byID[id]
			if op == nil {
				rows.Close()
				return fmt.Errorf("insert returned unknown id %s", id)
			}
			out := op.m.Clone()
			out.Seq = seq
			if out.Content, err = compactJSON([]byte(content)); err == nil {
				if out.ReplyTo, err = compactPtr(reply); err == nil {
					out.Reaction, err = compactPtr(reaction)
				}
			}
			if err != nil {
				rows.Close()
				return err
			}
			op.stored, op.created = out, true
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for _, op := range ops {
			if op.stored == nil {
				return fmt.Errorf("insert did not return message %s", op.m.ID)
			}
		}
	}
	return nil
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func optJSON(raw []byte) *string {
	if raw == nil {
		return nil
	}
	s := string(raw)
	return &s
}

func compactPtr(s *string) ([]byte, error) {
	if s == nil {
		return nil, nil
	}
	return compactOptional([]byte(*s))
}
