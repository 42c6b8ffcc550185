// Package msgstore persists hub messages and read marks.
//
// Store is the interface every backend implements; Embedded (a bbolt file
// under the daemon's data directory) is the default when no database is
// configured. Every implementation passes the suite in package storetest.
package msgstore

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Errors returned (wrapped) by every Store.
var (
	// ErrNotFound: no message with that id in that hub.
	ErrNotFound = errors.New("msgstore: not found")
	// ErrClosed: the store was closed.
	ErrClosed = errors.New("msgstore: closed")
	// ErrDuplicateID: Append got an explicit id that the hub already holds.
	ErrDuplicateID = errors.New("msgstore: duplicate message id")
	// ErrInvalid: a message, query or update is malformed; the concrete error
	// is an *InvalidError naming the field.
	ErrInvalid = errors.New("msgstore: invalid")
	// ErrLocked: another process holds the embedded database file.
	ErrLocked = errors.New("msgstore: database locked by another process")
)

// InvalidError names the field that made a message, query or update invalid.
// errors.Is(err, ErrInvalid) holds for it.
type InvalidError struct {
	Field  string
	Reason string
}

func (e *InvalidError) Error() string {
	return fmt.Sprintf("msgstore: invalid %s: %s", e.Field, e.Reason)
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

func invalid(field, reason string) error { return &InvalidError{Field: field, Reason: reason} }

// Query selects messages of one room for List.
type Query struct {
	BeforeSeq int64    // >0: only seq < BeforeSeq
	AfterSeq  int64    // >0: only seq > AfterSeq
	Limit     int      // 0 => no limit
	Statuses  []string // empty => all
}

// Validate reports a negative field as *InvalidError.
func (q Query) Validate() error {
	switch {
	case q.BeforeSeq < 0:
		return invalid("beforeSeq", "negative")
	case q.AfterSeq < 0:
		return invalid("afterSeq", "negative")
	case q.Limit < 0:
		return invalid("limit", "negative")
	}
	return nil
}

// Matches reports whether status passes the query's status filter.
func (q Query) Matches(status string) bool {
	if len(q.Statuses) == 0 {
		return true
	}
	for _, s := range q.Statuses {
		if s == status {
			return true
		}
	}
	return false
}

// Store persists hub messages. Implementations are safe for concurrent use.
// A call returns only after its writes are durable (committed), so a caller
// may acknowledge a message as soon as Append returns.
type Store interface {
	// Append stores m (assigning ID when empty, Seq, and Timestamp when zero)
	// and returns the stored copy with created=true; m itself is not modified.
	// If m.ClientMessageID != "" and the same (HubName, SenderID,
	// ClientMessageID) was stored before, it stores nothing and returns the
	// original (as it is now) with created=false.
	Append(ctx context.Context, m *Message) (stored *Message, created bool, err error)
	// List returns messages of one room, OLDEST FIRST. Without
	// BeforeSeq/AfterSeq and with a Limit: the NEWEST Limit messages (still
	// oldest first). With AfterSeq: the OLDEST Limit messages after it (and
	// before BeforeSeq when both are set). With only BeforeSeq: the newest
	// Limit before it. The status filter applies before the limit. An unknown
	// room gives an empty list.
	List(ctx context.Context, hub, roomID string, q Query) ([]*Message, error)
	// Get returns one message; ErrNotFound when the hub has no such id.
	Get(ctx context.Context, hub, id string) (*Message, error)
	// Update applies fn to a copy of the stored message atomically (edit, soft
	// delete, reactions, approve/reject) and returns the new copy. fn may
	// return an error to abort; Update then returns it wrapped and nothing
	// changes. fn must only modify m: it may run more than once, and must not
	// call the store. ID, RoomID, Seq, SenderID, ClientMessageID and Timestamp
	// cannot change.
	Update(ctx context.Context, hub, id string, fn func(m *Message) error) (*Message, error)
	// SetReadMark records the time up to which userID has read roomID; the
	// last write wins. A zero ts clears the mark.
	SetReadMark(ctx context.Context, hub, roomID, userID string, ts time.Time) error
	// ReadMark returns the mark, or the zero time when none.
	ReadMark(ctx context.Context, hub, roomID, userID string) (time.Time, error)
	// Close releases the store; later calls return ErrClosed.
	Close() error
}

// CheckUpdate returns an *InvalidError when an update changed a field that
// cannot change.
func CheckUpdate(before, after *Message) error {
	switch {
	case after.ID != before.ID:
		return invalid("id", "cannot change")
	case after.HubName != before.HubName:
		return invalid("hubName", "cannot change")
	case after.RoomID != before.RoomID:
		return invalid("roomId", "cannot change")
	case after.Seq != before.Seq:
		return invalid("seq", "cannot change")
	case after.SenderID != before.SenderID:
		return invalid("senderId", "cannot change")
	case after.ClientMessageID != before.ClientMessageID:
		return invalid("clientMessageId", "cannot change")
	case !after.Timestamp.Equal(before.Timestamp):
		return invalid("timestamp", "cannot change")
	}
	return nil
}
