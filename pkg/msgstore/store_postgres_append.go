package msgstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.uber.org/zap"
)

// pgAppendOp is one queued Append.
type pgAppendOp struct {
	ctx      context.Context
	m        *Message // normalized, with id and timestamp
	t        *pgTable
	explicit bool // the caller chose the id
	done     chan struct{}

	// results, reset by every run
	leader  *pgAppendOp // an earlier op of the batch with the same client message id
	stored  *Message
	created bool
	err     error
}

// pgAppender group-commits appends: each of its writers takes every append
// queued when it starts a transaction (up to MaxBatch) and stores them with
// a handful of set-based statements, so concurrent appends share the round
// trips and the commit's WAL flush.
type pgAppender struct {
	p   *Postgres
	ops chan *pgAppendOp

	mu     sync.RWMutex // guards closed and sends on ops
	closed bool
	wg     sync.WaitGroup

	commits, appends, fallbacks atomic.Uint64
}

func newPgAppender(p *Postgres) *pgAppender {
	a := &pgAppender{p: p, ops: make(chan *pgAppendOp, p.opts.MaxBatch)}
	for range p.opts.Writers {
		a.wg.Go(a.loop)
	}
	return a
}

func (a *pgAppender) do(op *pgAppendOp) error {
	a.mu.RLock()
	if a.closed {
		a.mu.RUnlock()
		return ErrClosed
	}
	select {
	case a.ops <- op:
	case <-op.ctx.Done():
		a.mu.RUnlock()
		return op.ctx.Err()
	}
	a.mu.RUnlock()
	<-op.done
	return op.err
}

func (a *pgAppender) close() {
	a.mu.Lock()
	if !a.closed {
		a.closed = true
		close(a.ops)
	}
	a.mu.Unlock()
	a.wg.Wait()
}

func (a *pgAppender) loop() {
	batch := make([]*pgAppendOp, 0, a.p.opts.MaxBatch)
	for first := range a.ops {
		batch = append(batch[:0], first)
	collect:
		for len(batch) < a.p.opts.MaxBatch {
			select {
			case op, ok := <-a.ops:
				if !ok {
					break collect
				}
				batch = append(batch, op)
			default:
				break collect
			}
		}
		a.run(batch)
		clear(batch)
	}
}

// run stores a batch in one transaction; when that fails for another reason
// than an unavailable database, it stores each append on its own so that
// only the culprit fails.
func (a *pgAppender) run(batch []*pgAppendOp) {
	live := batch[:0:0]
	for _, op := range batch {
		if err := op.ctx.Err(); err != nil {
			op.err = err
			close(op.done)
			continue
		}
		live = append(live, op)
	}
	if len(live) == 0 {
		return
	}
	err := a.tx(live)
	if err != nil && len(live) > 1 && !errors.Is(err, ErrUnavailable) && !errors.Is(err, ErrClosed) {
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

func (a *pgAppender) tx(ops []*pgAppendOp) error {
	ctx, cancel := context.WithTimeout(context.Background(), a.p.opts.WriteTimeout)
	defer cancel()
	err := a.p.inTx(ctx, func(tx pgx.Tx) error { return a.p.appendBatch(ctx, tx, ops) })
	if err != nil {
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
	in := m.Clone()
	if err := Normalize(in); err != nil {
		return nil, false, fmt.Errorf("append: %w", err)
	}
	op := &pgAppendOp{ctx: ctx, m: in, done: make(chan struct{}), explicit: in.ID != ""}
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
	rctx, cancel := context.WithTimeout(ctx, p.opts.WriteTimeout)
	t, err := p.table(rctx, in.HubName)
	cancel()
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
	}{{colReplyTo, m.ReplyTo != nil}, {colReaction, m.Reaction != nil}, {colForwarded, m.Forwarded != nil}} {
		if f.set && !t.cols[f.col] {
			return invalid(f.col, fmt.Sprintf("not enabled for hub %s", t.hub))
		}
	}
	return nil
}

type pgCmidKey struct{ table, sender, cmid string }

type roomKey struct{ table, room string }

// appendBatch stores ops inside tx. Lock order, the same in every hubd
// process: advisory locks of the client message ids (sorted), then the room
// sequence rows (sorted), then the inserts. Failures that leave tx untouched
// (a repeated client message id, a duplicate explicit id) are set on the op;
// a returned error fails the transaction.
func (p *Postgres) appendBatch(ctx context.Context, tx pgx.Tx, ops []*pgAppendOp) error {
	leaders := map[pgCmidKey]*pgAppendOp{}
	var locks []int64
	for _, op := range ops {
		op.leader, op.stored, op.created, op.err = nil, nil, false, nil
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
	if len(locks) > 0 {
		slices.Sort(locks)
		locks = slices.Compact(locks)
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k", locks); err != nil {
			return err
		}
	}

	byTable := map[*pgTable][]*pgAppendOp{}
	var tables []*pgTable
	for _, op := range ops {
		if op.leader != nil {
			continue
		}
		if byTable[op.t] == nil {
			tables = append(tables, op.t)
		}
		byTable[op.t] = append(byTable[op.t], op)
	}
	slices.SortFunc(tables, func(a, b *pgTable) int { return strings.Compare(a.dataObject, b.dataObject) })

	// repeats and duplicate ids
	for _, t := range tables {
		if err := p.resolveExisting(ctx, tx, t, byTable[t]); err != nil {
			return err
		}
	}

	// sequences
	counts := map[roomKey]int64{}
	for _, t := range tables {
		for _, op := range byTable[t] {
			if op.stored == nil && op.err == nil {
				counts[roomKey{t.dataObject, op.m.RoomID}]++
			}
		}
	}
	if len(counts) > 0 {
		keys := make([]roomKey, 0, len(counts))
		for k := range counts {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, func(a, b roomKey) int {
			if c := strings.Compare(a.table, b.table); c != 0 {
				return c
			}
			return strings.Compare(a.room, b.room)
		})
		objs, rooms, ns := make([]string, len(keys)), make([]string, len(keys)), make([]int64, len(keys))
		for i, k := range keys {
			objs[i], rooms[i], ns[i] = k.table, k.room, counts[k]
		}
		rows, err := tx.Query(ctx, `INSERT INTO `+p.shared("hubd_room_seq")+` AS s (data_object, room, seq)
			SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
			ON CONFLICT (data_object, room) DO UPDATE SET seq = s.seq + EXCLUDED.seq
			RETURNING data_object, room, seq`, objs, rooms, ns)
		if err != nil {
			return err
		}
		next := map[roomKey]int64{} // first seq of the batch per room
		for rows.Next() {
			var k roomKey
			var last int64
			if err := rows.Scan(&k.table, &k.room, &last); err != nil {
				return err
			}
			next[k] = last - counts[k] + 1
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for _, t := range tables {
			var fresh []*pgAppendOp
			for _, op := range byTable[t] {
				if op.stored != nil || op.err != nil {
					continue
				}
				k := roomKey{t.dataObject, op.m.RoomID}
				op.m.Seq = next[k]
				next[k]++
				fresh = append(fresh, op)
			}
			if err := p.insert(ctx, tx, t, fresh); err != nil {
				return err
			}
		}
	}
	for _, op := range ops {
		if l := op.leader; l != nil {
			op.stored, op.created, op.err = l.stored.Clone(), false, l.err
		}
	}
	return nil
}

// resolveExisting answers the ops whose client message id is stored already
// (with the original) and those whose explicit id is taken.
func (p *Postgres) resolveExisting(ctx context.Context, tx pgx.Tx, t *pgTable, ops []*pgAppendOp) error {
	var senders, cmids, ids []string
	for _, op := range ops {
		if op.m.ClientMessageID != "" {
			senders = append(senders, op.m.SenderID)
			cmids = append(cmids, op.m.ClientMessageID)
		}
		if op.explicit {
			ids = append(ids, op.m.ID)
		}
	}
	if len(cmids) > 0 {
		rows, err := tx.Query(ctx, `SELECT `+t.selectList+` FROM `+t.ident+
			` WHERE ("senderId", "clientMessageId") IN (SELECT * FROM unnest($1::text[], $2::text[]))`, senders, cmids)
		if err != nil {
			return err
		}
		orig := map[[2]string]*Message{}
		for rows.Next() {
			m, err := t.scan(rows)
			if err != nil {
				rows.Close()
				return err
			}
			orig[[2]string{m.SenderID, m.ClientMessageID}] = m
		}
		if err := rows.Err(); err != nil {
			return err
		}
		for _, op := range ops {
			if m := orig[[2]string{op.m.SenderID, op.m.ClientMessageID}]; m != nil && op.m.ClientMessageID != "" {
				op.stored, op.created = m, false
			}
		}
	}
	if len(ids) > 0 {
		var taken []string
		if err := tx.QueryRow(ctx, `SELECT coalesce(array_agg(id::text), '{}') FROM `+t.ident+` WHERE id = ANY($1::uuid[])`, ids).Scan(&taken); err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, id := range taken {
			seen[id] = true
		}
		for _, op := range ops {
			if !op.explicit || op.stored != nil {
				continue
			}
			if seen[op.m.ID] {
				op.err = fmt.Errorf("id %s: %w", op.m.ID, ErrDuplicateID)
				continue
			}
			seen[op.m.ID] = true // a second op of the batch with the same id
		}
	}
	return nil
}

// insert writes fresh messages (seq assigned) and sets their stored copies,
// with JSON fields as PostgreSQL returns them.
func (p *Postgres) insert(ctx context.Context, tx pgx.Tx, t *pgTable, ops []*pgAppendOp) error {
	if len(ops) == 0 {
		return nil
	}
	n := len(ops)
	var (
		ids, rooms, senders, types, contents, statuses = make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		seqs                                           = make([]int64, n)
		times                                          = make([]time.Time, n)
		cmids, replies, reactions                      = make([]*string, n), make([]*string, n), make([]*string, n)
		edited                                         = make([]*time.Time, n)
		forwarded                                      = make([]*bool, n)
	)
	for i, op := range ops {
		m := op.m
		ids[i], rooms[i], senders[i], types[i], contents[i], statuses[i] = m.ID, m.RoomID, m.SenderID, m.MessageType, string(m.Content), m.Status
		seqs[i], times[i], edited[i], forwarded[i] = m.Seq, m.Timestamp, m.EditedAt, m.Forwarded
		cmids[i] = optString(m.ClientMessageID)
		replies[i], reactions[i] = optJSON(m.ReplyTo), optJSON(m.Reaction)
	}
	cols := `id, "roomId", seq, "senderId", "messageType", content, "timestamp", status, "clientMessageId", "editedAt"`
	vals := `u.id::uuid, u.room, u.seq, u.sender, u.mt::` + t.enum + `, u.content::jsonb, u.ts, u.status, u.cmid, u.edited`
	ret := `id::text, content::text`
	args := []any{ids, rooms, seqs, senders, types, contents, times, statuses, cmids, edited}
	params := `$1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::timestamptz[], $8::text[], $9::text[], $10::timestamptz[]`
	names := `id, room, seq, sender, mt, content, ts, status, cmid, edited`
	if t.cols[colReplyTo] {
		cols += `, "replyTo"`
		vals += `, u.reply::jsonb`
		ret += `, "replyTo"::text`
		args = append(args, replies)
		params += fmt.Sprintf(`, $%d::text[]`, len(args))
		names += `, reply`
	}
	if t.cols[colReaction] {
		cols += `, reaction`
		vals += `, u.reaction::jsonb`
		ret += `, reaction::text`
		args = append(args, reactions)
		params += fmt.Sprintf(`, $%d::text[]`, len(args))
		names += `, reaction`
	}
	if t.cols[colForwarded] {
		cols += `, forwarded`
		vals += `, u.fwd`
		args = append(args, forwarded)
		params += fmt.Sprintf(`, $%d::boolean[]`, len(args))
		names += `, fwd`
	}
	sql := `INSERT INTO ` + t.ident + ` (` + cols + `) SELECT ` + vals + ` FROM unnest(` + params + `) AS u(` + names + `) RETURNING ` + ret
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return err
	}
	byID := make(map[string]*pgAppendOp, n)
	for _, op := range ops {
		byID[op.m.ID] = op
	}
	for rows.Next() {
		var (
			id, content     string
			reply, reaction *string
		)
		dest := []any{&id, &content}
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
		if out.Content, err = compactJSON([]byte(content)); err != nil {
			rows.Close()
			return err
		}
		if out.ReplyTo, err = compactPtr(reply); err != nil {
			rows.Close()
			return err
		}
		if out.Reaction, err = compactPtr(reaction); err != nil {
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
