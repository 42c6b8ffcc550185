package msgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// scan reads a row selected with t.selectList.
func (t *pgTable) scan(row pgx.Row) (*Message, error) {
	var (
		m               = &Message{HubName: t.hub}
		content         string
		cmid            *string
		edited          *time.Time
		reply, reaction *string
		fwd             *bool
		audience        *string
		change          *string
	)
	dest := []any{&m.ID, &m.RoomID, &m.Seq, &m.SenderID, &m.MessageType, &content, &m.Timestamp, &m.Status, &cmid, &edited}
	if t.cols[colReplyTo] {
		dest = append(dest, &reply)
	}
	if t.cols[colReaction] {
		dest = append(dest, &reaction)
	}
	if t.cols[colForwarded] {
		dest = append(dest, &fwd)
	}
	if t.cols[colAudience] {
		dest = append(dest, &audience)
	}
	if t.cols[colRev] {
		dest = append(dest, &m.Rev)
	}
	if t.cols[colChange] {
		dest = append(dest, &change)
	}
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	var err error
	if m.Audience, err = decodeAudience(audience); err != nil {
		return nil, fmt.Errorf("decode stored message %s: %w", m.ID, err)
	}
	if m.Change, err = decodeChange(change); err != nil {
		return nil, fmt.Errorf("decode stored message %s: %w", m.ID, err)
	}
	if m.Content, err = compactJSON([]byte(content)); err != nil {
		return nil, fmt.Errorf("decode stored message %s: %w", m.ID, err)
	}
	if m.ReplyTo, err = compactPtr(reply); err != nil {
		return nil, fmt.Errorf("decode stored message %s: %w", m.ID, err)
	}
	if m.Reaction, err = compactPtr(reaction); err != nil {
		return nil, fmt.Errorf("decode stored message %s: %w", m.ID, err)
	}
	m.Timestamp = m.Timestamp.UTC()
	if edited != nil {
		at := edited.UTC()
		m.EditedAt = &at
	}
	if cmid != nil {
		m.ClientMessageID = *cmid
	}
	m.Forwarded = fwd
	return m, nil
}

// List implements Store.
func (p *Postgres) List(ctx context.Context, hub, roomID string, q Query) ([]*Message, error) {
	ctx, cancel, err := p.readCtx(ctx)
	if err != nil {
		return nil, fmt.Errorf("list %s/%s: %w", hub, roomID, err)
	}
	defer cancel()
	if err := q.Validate(); err != nil {
		return nil, fmt.Errorf("list %s/%s: %w", hub, roomID, err)
	}
	out, err := p.list(ctx, hub, roomID, q)
	if err != nil {
		return nil, fmt.Errorf("list %s/%s: %w", hub, roomID, pgErr(err))
	}
	return out, nil
}

func (p *Postgres) list(ctx context.Context, hub, roomID string, q Query) ([]*Message, error) {
	t, err := p.table(ctx, hub)
	if err != nil || t == nil {
		return nil, err
	}
	sql := `SELECT ` + t.selectList + ` FROM ` + t.ident + ` WHERE "roomId" = $1`
	args := []any{roomID}
	order, after, before := `seq`, q.AfterSeq, q.BeforeSeq
	if q.Changes {
		if !t.cols[colRev] {
			return []*Message{}, nil // a table EnsureSchema never migrated holds no change
		}
		// rev > 0 lets PostgreSQL use the partial index on ("roomId", rev)
		order, after, before = `rev`, q.AfterRev, q.BeforeRev
		sql += ` AND rev > 0`
	}
	if after > 0 {
		args = append(args, after)
		sql += ` AND ` + order + ` > $` + strconv.Itoa(len(args))
	}
	if before > 0 {
		args = append(args, before)
		sql += ` AND ` + order + ` < $` + strconv.Itoa(len(args))
	}
	if len(q.Statuses) > 0 {
		args = append(args, q.Statuses)
		sql += ` AND status = ANY($` + strconv.Itoa(len(args)) + `::text[])`
	}
	if q.Viewer != "" && t.cols[colAudience] {
		args = append(args, q.Viewer)
		sql += ` AND ` + audienceIncludes(`$`+strconv.Itoa(len(args))+`::text`)
	}
	forward := after > 0
	if forward {
		sql += ` ORDER BY ` + order + ` ASC`
	} else {
		sql += ` ORDER BY ` + order + ` DESC`
	}
	if q.Limit > 0 {
		sql += ` LIMIT ` + strconv.Itoa(q.Limit)
	}
	rows, err := p.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []*Message{}
	for rows.Next() {
		m, err := t.scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if !forward {
		slices.Reverse(out)
	}
	return out, nil
}

// Get implements Store.
func (p *Postgres) Get(ctx context.Context, hub, id string) (*Message, error) {
	ctx, cancel, err := p.readCtx(ctx)
	if err != nil {
		return nil, fmt.Errorf("get %s/%s: %w", hub, id, err)
	}
	defer cancel()
	m, err := p.get(ctx, p.pool, hub, id, false)
	if err != nil {
		return nil, fmt.Errorf("get %s/%s: %w", hub, id, pgErr(err))
	}
	return m, nil
}

func (p *Postgres) get(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, hub, id string, forUpdate bool) (*Message, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, ErrNotFound
	}
	t, err := p.table(ctx, hub)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, ErrNotFound
	}
	sql := `SELECT ` + t.selectList + ` FROM ` + t.ident + ` WHERE id = $1::uuid`
	if forUpdate {
		sql += ` FOR UPDATE`
	}
	m, err := t.scan(q.QueryRow(ctx, sql, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	return m, err
}

// GetByClientID implements Store.
func (p *Postgres) GetByClientID(ctx context.Context, hub, senderID, clientMessageID string) (*Message, error) {
	ctx, cancel, err := p.readCtx(ctx)
	if err != nil {
		return nil, fmt.Errorf("get %s by client id: %w", hub, err)
	}
	defer cancel()
	m, err := p.getByClientID(ctx, hub, senderID, clientMessageID)
	if err != nil {
		return nil, fmt.Errorf("get %s by client id %q of %s: %w", hub, clientMessageID, senderID, pgErr(err))
	}
	return m, nil
}

func (p *Postgres) getByClientID(ctx context.Context, hub, senderID, clientMessageID string) (*Message, error) {
	if clientMessageID == "" {
		return nil, ErrNotFound
	}
	t, err := p.table(ctx, hub)
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, ErrNotFound
	}
	sql := `SELECT ` + t.selectList + ` FROM ` + t.ident + ` WHERE "senderId" = $1 AND "clientMessageId" = $2`
	m, err := t.scan(p.pool.QueryRow(ctx, sql, senderID, clientMessageID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	return m, err
}

// Update implements Store.
func (p *Postgres) Update(ctx context.Context, hub, id string, fn func(m *Message) error) (*Message, error) {
	if p.closed.Load() {
		return nil, fmt.Errorf("update %s/%s: %w", hub, id, ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, p.opts.WriteTimeout)
	defer cancel()
	var updated *Message
	err := p.inTx(ctx, func(tx pgx.Tx) error {
		cur, err := p.get(ctx, tx, hub, id, true)
		if err != nil {
			return err
		}
		t, err := p.table(ctx, hub)
		if err != nil {
			return err
		}
		next := cur.Clone()
		if err := callUpdate(fn, next); err != nil {
			return err
		}
		if err := CheckUpdate(cur, next); err != nil {
			return err
		}
		if err := Normalize(next); err != nil {
			return err
		}
		if err := t.check(next, cur); err != nil {
			return err
		}
		if !t.cols[colRev] {
			return fmt.Errorf("%w: table %s has no rev column (EnsureSchema adds it)", ErrNoSchema, t.dataObject)
		}
		change, err := encodeChange(next.Change)
		if err != nil {
			return err
		}
		// The room's change counter row stays locked until the commit: the
		// room's next Update waits for it, so revs commit in order.
		sql := `WITH r AS (INSERT INTO ` + p.shared("hubd_room_rev") + ` AS r (data_object, room, rev) VALUES ($6, $7, 1)
			ON CONFLICT (data_object, room) DO UPDATE SET rev = r.rev + 1 RETURNING r.rev)
			UPDATE ` + t.ident + ` SET "messageType" = $2::text::` + t.enum + `, content = $3::jsonb, status = $4, "editedAt" = $5,
			rev = (SELECT r.rev FROM r), change = $8::jsonb`
		args := []any{id, next.MessageType, string(next.Content), next.Status, next.EditedAt, t.dataObject, cur.RoomID, change}
		if t.cols[colReplyTo] {
			args = append(args, optJSON(next.ReplyTo))
			sql += `, "replyTo" = $` + strconv.Itoa(len(args)) + `::jsonb`
		}
		if t.cols[colReaction] {
			args = append(args, optJSON(next.Reaction))
			sql += `, reaction = $` + strconv.Itoa(len(args)) + `::jsonb`
		}
		if t.cols[colForwarded] {
			args = append(args, next.Forwarded)
			sql += `, forwarded = $` + strconv.Itoa(len(args))
		}
		sql += ` WHERE id = $1::uuid RETURNING ` + t.selectList
		if updated, err = t.scan(tx.QueryRow(ctx, sql, args...)); err != nil {
			return err
		}
		return p.putOutbox(ctx, tx, t, updateOp(cur, next), id)
	})
	if err != nil {
		return nil, fmt.Errorf("update %s/%s: %w", hub, id, err)
	}
	return updated, nil
}

// callUpdate runs an Update callback, turning a panic into an error.
func callUpdate(fn func(m *Message) error, m *Message) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("msgstore: update callback panicked: %v", r)
		}
	}()
	return fn(m)
}

// SetReadMark implements Store.
func (p *Postgres) SetReadMark(ctx context.Context, hub, roomID, userID string, ts time.Time) error {
	if err := requireKeys("hub, roomId and userId", hub, roomID, userID); err != nil {
		return fmt.Errorf("set read mark: %w", err)
	}
	var err error
	if ts.IsZero() {
		err = p.exec(ctx, `DELETE FROM `+p.shared("hubd_read_marks")+` WHERE hub = $1 AND room = $2 AND user_id = $3`, hub, roomID, userID)
	} else {
		err = p.exec(ctx, `INSERT INTO `+p.shared("hubd_read_marks")+` (hub, room, user_id, at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (hub, room, user_id) DO UPDATE SET at = EXCLUDED.at`, hub, roomID, userID, ts.UTC().Truncate(time.Millisecond))
	}
	if err != nil {
		return fmt.Errorf("set read mark %s/%s/%s: %w", hub, roomID, userID, err)
	}
	return nil
}

// ReadMark implements Store.
func (p *Postgres) ReadMark(ctx context.Context, hub, roomID, userID string) (time.Time, error) {
	var at time.Time
	err := p.queryRow(ctx, []any{&at}, `SELECT at FROM `+p.shared("hubd_read_marks")+` WHERE hub = $1 AND room = $2 AND user_id = $3`, hub, roomID, userID)
	if errors.Is(err, ErrNotFound) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("read mark %s/%s/%s: %w", hub, roomID, userID, err)
	}
	return at.UTC(), nil
}

// ReadMarks implements Store.
func (p *Postgres) ReadMarks(ctx context.Context, hub, roomID string) ([]ReadMarkEntry, error) {
	out, err := p.entries(ctx, `SELECT user_id, at FROM `+p.shared("hubd_read_marks")+
		` WHERE hub = $1 AND room = $2 ORDER BY user_id COLLATE "C"`, hub, roomID)
	if err != nil {
		return nil, fmt.Errorf("read marks %s/%s: %w", hub, roomID, err)
	}
	return out, nil
}

// CountUnread implements Store.
func (p *Postgres) CountUnread(ctx context.Context, hub, roomID, userID string) (int64, error) {
	rctx, cancel, err := p.readCtx(ctx)
	if err != nil {
		return 0, fmt.Errorf("count unread %s/%s/%s: %w", hub, roomID, userID, err)
	}
	defer cancel()
	t, err := p.table(rctx, hub)
	if err != nil || t == nil {
		if err != nil {
			return 0, fmt.Errorf("count unread %s/%s/%s: %w", hub, roomID, userID, err)
		}
		return 0, nil
	}
	var n int64
	visible := ``
	if t.cols[colAudience] {
		visible = ` AND ` + audienceIncludes(`$2::text`)
	}
	err = p.queryRow(ctx, []any{&n}, `SELECT count(*) FROM `+t.ident+` m
		WHERE m."roomId" = $1 AND m.status = 'published' AND m."senderId" <> $2`+visible+`
		AND m."timestamp" > coalesce((SELECT at FROM `+p.shared("hubd_read_marks")+` WHERE hub = $3 AND room = $1 AND user_id = $2), '-infinity')`,
		roomID, userID, hub)
	if err != nil {
		return 0, fmt.Errorf("count unread %s/%s/%s: %w", hub, roomID, userID, err)
	}
	return n, nil
}

// SetDelivered implements Store.
func (p *Postgres) SetDelivered(ctx context.Context, hub, roomID, userID, messageID string, at time.Time) error {
	if err := requireKeys("hub, roomId, userId and messageId", hub, roomID, userID, messageID); err != nil {
		return fmt.Errorf("set delivered: %w", err)
	}
	if at.IsZero() {
		at = time.Now()
	}
	err := p.exec(ctx, `INSERT INTO `+p.shared("hubd_deliveries")+` (hub, message_id, room, user_id, at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (hub, message_id, user_id) DO NOTHING`, hub, messageID, roomID, userID, at.UTC().Truncate(time.Millisecond))
	if err != nil {
		return fmt.Errorf("set delivered %s/%s/%s: %w", hub, messageID, userID, err)
	}
	return nil
}

// Delivered implements Store.
func (p *Postgres) Delivered(ctx context.Context, hub, messageID string) ([]ReadMarkEntry, error) {
	out, err := p.entries(ctx, `SELECT user_id, at FROM `+p.shared("hubd_deliveries")+
		` WHERE hub = $1 AND message_id = $2 ORDER BY user_id COLLATE "C"`, hub, messageID)
	if err != nil {
		return nil, fmt.Errorf("delivered %s/%s: %w", hub, messageID, err)
	}
	return out, nil
}

const moderationCols = `room, user_id, blocked, blocked_until, silenced, reason, by_user, updated_at`

// SetModeration implements Store.
func (p *Postgres) SetModeration(ctx context.Context, m *Moderation) error {
	n, err := normalizeModeration(m)
	if err != nil {
		return fmt.Errorf("set moderation: %w", err)
	}
	var until *time.Time
	if !n.BlockedUntil.IsZero() {
		until = &n.BlockedUntil
	}
	err = p.exec(ctx, `INSERT INTO `+p.shared("hubd_moderation")+` (hub, `+moderationCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (hub, room, user_id) DO UPDATE SET blocked = EXCLUDED.blocked, blocked_until = EXCLUDED.blocked_until,
			silenced = EXCLUDED.silenced, reason = EXCLUDED.reason, by_user = EXCLUDED.by_user, updated_at = EXCLUDED.updated_at`,
		n.HubName, n.RoomID, n.UserID, n.Blocked, until, n.Silenced, n.Reason, n.By, n.UpdatedAt)
	if err != nil {
		return fmt.Errorf("set moderation %s/%s/%s: %w", n.HubName, n.RoomID, n.UserID, err)
	}
	return nil
}

func scanModeration(hub string, row pgx.Row) (*Moderation, error) {
	m := &Moderation{HubName: hub}
	var until *time.Time
	if err := row.Scan(&m.RoomID, &m.UserID, &m.Blocked, &until, &m.Silenced, &m.Reason, &m.By, &m.UpdatedAt); err != nil {
		return nil, err
	}
	if until != nil {
		m.BlockedUntil = until.UTC()
	}
	m.UpdatedAt = m.UpdatedAt.UTC()
	return m, nil
}

// GetModeration implements Store.
func (p *Postgres) GetModeration(ctx context.Context, hub, roomID, userID string) (*Moderation, error) {
	ctx, cancel, err := p.readCtx(ctx)
	if err != nil {
		return nil, fmt.Errorf("get moderation %s/%s/%s: %w", hub, roomID, userID, err)
	}
	defer cancel()
	m, err := scanModeration(hub, p.pool.QueryRow(ctx, `SELECT `+moderationCols+` FROM `+p.shared("hubd_moderation")+
		` WHERE hub = $1 AND room = $2 AND user_id = $3`, hub, roomID, userID))
	if errors.Is(err, pgx.ErrNoRows) {
		err = ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get moderation %s/%s/%s: %w", hub, roomID, userID, pgErr(err))
	}
	return m, nil
}

// ListModeration implements Store.
func (p *Postgres) ListModeration(ctx context.Context, hub, roomID string) ([]*Moderation, error) {
	ctx, cancel, err := p.readCtx(ctx)
	if err != nil {
		return nil, fmt.Errorf("list moderation %s/%s: %w", hub, roomID, err)
	}
	defer cancel()
	rows, err := p.pool.Query(ctx, `SELECT `+moderationCols+` FROM `+p.shared("hubd_moderation")+
		` WHERE hub = $1 AND room = $2 ORDER BY user_id COLLATE "C"`, hub, roomID)
	if err != nil {
		return nil, fmt.Errorf("list moderation %s/%s: %w", hub, roomID, pgErr(err))
	}
	defer rows.Close()
	out := []*Moderation{}
	for rows.Next() {
		m, err := scanModeration(hub, rows)
		if err != nil {
			return nil, fmt.Errorf("list moderation %s/%s: %w", hub, roomID, pgErr(err))
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list moderation %s/%s: %w", hub, roomID, pgErr(err))
	}
	return out, nil
}

// SetRoomSettings implements Store.
func (p *Postgres) SetRoomSettings(ctx context.Context, hub, roomID string, settings json.RawMessage) error {
	if err := requireKeys("hub and roomId", hub, roomID); err != nil {
		return fmt.Errorf("set room settings: %w", err)
	}
	val, err := normalizeSettings(settings)
	if err != nil {
		return fmt.Errorf("set room settings %s/%s: %w", hub, roomID, err)
	}
	if val == nil {
		err = p.exec(ctx, `DELETE FROM `+p.shared("hubd_room_settings")+` WHERE hub = $1 AND room = $2`, hub, roomID)
	} else {
		err = p.exec(ctx, `INSERT INTO `+p.shared("hubd_room_settings")+` (hub, room, settings) VALUES ($1, $2, $3::jsonb)
			ON CONFLICT (hub, room) DO UPDATE SET settings = EXCLUDED.settings`, hub, roomID, string(val))
	}
	if err != nil {
		return fmt.Errorf("set room settings %s/%s: %w", hub, roomID, err)
	}
	return nil
}

// RoomSettings implements Store.
func (p *Postgres) RoomSettings(ctx context.Context, hub, roomID string) (json.RawMessage, error) {
	var s string
	err := p.queryRow(ctx, []any{&s}, `SELECT settings::text FROM `+p.shared("hubd_room_settings")+` WHERE hub = $1 AND room = $2`, hub, roomID)
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("room settings %s/%s: %w", hub, roomID, err)
	}
	out, err := compactJSON([]byte(s))
	if err != nil {
		return nil, fmt.Errorf("room settings %s/%s: %w", hub, roomID, err)
	}
	return out, nil
}

// exec runs one statement (its own transaction) bounded by WriteTimeout.
func (p *Postgres) exec(ctx context.Context, sql string, args ...any) error {
	ctx, cancel, err := p.readCtx(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	_, err = p.pool.Exec(ctx, sql, args...)
	return pgErr(err)
}

// queryRow scans one row into dest; ErrNotFound when there is none.
func (p *Postgres) queryRow(ctx context.Context, dest []any, sql string, args ...any) error {
	ctx, cancel, err := p.readCtx(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	err = p.pool.QueryRow(ctx, sql, args...).Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	return pgErr(err)
}

// entries reads (user_id, at) rows.
func (p *Postgres) entries(ctx context.Context, sql string, args ...any) ([]ReadMarkEntry, error) {
	ctx, cancel, err := p.readCtx(ctx)
	if err != nil {
		return nil, err
	}
	defer cancel()
	rows, err := p.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, pgErr(err)
	}
	defer rows.Close()
	out := []ReadMarkEntry{}
	for rows.Next() {
		var e ReadMarkEntry
		if err := rows.Scan(&e.UserID, &e.At); err != nil {
			return nil, pgErr(err)
		}
		e.At = e.At.UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, pgErr(err)
	}
	return out, nil
}

// audienceIncludes is the SQL condition that the audience column admits
// the user given by param.
func audienceIncludes(param string) string {
	return `(audience IS NULL OR (audience ? 'users' AND audience->'users' ? ` + param +
		`) OR (audience ? 'except' AND NOT audience->'except' ? ` + param + `))`
}
