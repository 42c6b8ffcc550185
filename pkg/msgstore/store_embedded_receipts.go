package msgstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// ReadMarks implements Store.
func (e *Embedded) ReadMarks(ctx context.Context, hub, roomID string) ([]ReadMarkEntry, error) {
	out := []ReadMarkEntry{}
	err := e.viewHub(ctx, hub, func(hb *bolt.Bucket) error {
		prefix := pairKey(roomID, "")
		c := hb.Bucket(bucketReads).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			out = append(out, ReadMarkEntry{UserID: string(k[len(prefix):]), At: parseTimeVal(v)})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read marks %s/%s: %w", hub, roomID, err)
	}
	return out, nil
}

// unreadFields are the fields CountUnread decodes.
type unreadFields struct {
	SenderID  string    `json:"senderId"`
	Timestamp string    `json:"timestamp"`
	Status    string    `json:"status"`
	Audience  *Audience `json:"audience"`
}

// CountUnread implements Store. It walks the room's messages newest first
// and so costs one decode per message of the room.
func (e *Embedded) CountUnread(ctx context.Context, hub, roomID, userID string) (int64, error) {
	var n int64
	err := e.viewHub(ctx, hub, func(hb *bolt.Bucket) error {
		r, ok := openRoom(hb, roomID)
		if !ok {
			return nil
		}
		mark := parseTimeVal(hb.Bucket(bucketReads).Get(readKey(roomID, userID)))
		return r.each(func(v []byte) error {
			var f unreadFields
			if err := json.Unmarshal(v, &f); err != nil {
				return fmt.Errorf("decode stored message: %w", err)
			}
			if f.Status != StatusPublished || f.SenderID == userID || !f.Audience.Includes(userID) {
				return nil
			}
			ts, err := ParseTime(f.Timestamp)
			if err != nil {
				return fmt.Errorf("decode stored message: %w", err)
			}
			if ts.After(mark) {
				n++
			}
			return nil
		})
	})
	if err != nil {
		return 0, fmt.Errorf("count unread %s/%s/%s: %w", hub, roomID, userID, err)
	}
	return n, nil
}

// SetDelivered implements Store.
func (e *Embedded) SetDelivered(ctx context.Context, hub, roomID, userID, messageID string, at time.Time) error {
	if err := requireKeys("hub, roomId, userId and messageId", hub, roomID, userID, messageID); err != nil {
		return fmt.Errorf("set delivered: %w", err)
	}
	if at.IsZero() {
		at = time.Now()
	}
	key := pairKey(messageID, userID)
	err := e.w.do(ctx, func(tx *bolt.Tx) error {
		hb, err := hubBucket(tx.Bucket(bucketHubs), []byte(hub))
		if err != nil {
			return err
		}
		b := hb.Bucket(bucketDeliv)
		if b.Get(key) != nil {
			return nil
		}
		return b.Put(key, timeVal(at))
	})
	if err != nil {
		return fmt.Errorf("set delivered %s/%s/%s: %w", hub, messageID, userID, err)
	}
	return nil
}

// Delivered implements Store.
func (e *Embedded) Delivered(ctx context.Context, hub, messageID string) ([]ReadMarkEntry, error) {
	out := []ReadMarkEntry{}
	err := e.viewHub(ctx, hub, func(hb *bolt.Bucket) error {
		prefix := pairKey(messageID, "")
		c := hb.Bucket(bucketDeliv).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			out = append(out, ReadMarkEntry{UserID: string(k[len(prefix):]), At: parseTimeVal(v)})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("delivered %s/%s: %w", hub, messageID, err)
	}
	return out, nil
}

// moderationJSON is the stored form of a Moderation.
type moderationJSON struct {
	Blocked      bool   `json:"blocked"`
	BlockedUntil string `json:"blockedUntil,omitempty"`
	Silenced     bool   `json:"silenced"`
	Reason       string `json:"reason,omitempty"`
	By           string `json:"by,omitempty"`
	UpdatedAt    string `json:"updatedAt"`
}

// SetModeration implements Store.
func (e *Embedded) SetModeration(ctx context.Context, m *Moderation) error {
	n, err := normalizeModeration(m)
	if err != nil {
		return fmt.Errorf("set moderation: %w", err)
	}
	rec := moderationJSON{Blocked: n.Blocked, Silenced: n.Silenced, Reason: n.Reason, By: n.By, UpdatedAt: FormatTime(n.UpdatedAt)}
	if !n.BlockedUntil.IsZero() {
		rec.BlockedUntil = FormatTime(n.BlockedUntil)
	}
	val, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("set moderation: %w", err)
	}
	err = e.w.do(ctx, func(tx *bolt.Tx) error {
		hb, err := hubBucket(tx.Bucket(bucketHubs), []byte(n.HubName))
		if err != nil {
			return err
		}
		return hb.Bucket(bucketMods).Put(pairKey(n.RoomID, n.UserID), val)
	})
	if err != nil {
		return fmt.Errorf("set moderation %s/%s/%s: %w", n.HubName, n.RoomID, n.UserID, err)
	}
	return nil
}

func decodeModeration(hub, room, user string, v []byte) (*Moderation, error) {
	var rec moderationJSON
	if err := json.Unmarshal(v, &rec); err != nil {
		return nil, fmt.Errorf("decode moderation record: %w", err)
	}
	m := &Moderation{HubName: hub, RoomID: room, UserID: user, Blocked: rec.Blocked, Silenced: rec.Silenced, Reason: rec.Reason, By: rec.By}
	var err error
	if m.BlockedUntil, err = ParseTime(rec.BlockedUntil); err != nil {
		return nil, fmt.Errorf("decode moderation record: %w", err)
	}
	if m.UpdatedAt, err = ParseTime(rec.UpdatedAt); err != nil {
		return nil, fmt.Errorf("decode moderation record: %w", err)
	}
	return m, nil
}

// GetModeration implements Store.
func (e *Embedded) GetModeration(ctx context.Context, hub, roomID, userID string) (*Moderation, error) {
	var m *Moderation
	err := e.viewHub(ctx, hub, func(hb *bolt.Bucket) error {
		v := hb.Bucket(bucketMods).Get(pairKey(roomID, userID))
		if v == nil {
			return nil
		}
		var err error
		m, err = decodeModeration(hub, roomID, userID, v)
		return err
	})
	if err == nil && m == nil {
		err = ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get moderation %s/%s/%s: %w", hub, roomID, userID, err)
	}
	return m, nil
}

// ListModeration implements Store.
func (e *Embedded) ListModeration(ctx context.Context, hub, roomID string) ([]*Moderation, error) {
	out := []*Moderation{}
	err := e.viewHub(ctx, hub, func(hb *bolt.Bucket) error {
		prefix := pairKey(roomID, "")
		c := hb.Bucket(bucketMods).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			m, err := decodeModeration(hub, roomID, string(k[len(prefix):]), v)
			if err != nil {
				return err
			}
			out = append(out, m)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list moderation %s/%s: %w", hub, roomID, err)
	}
	return out, nil
}

// SetRoomSettings implements Store.
func (e *Embedded) SetRoomSettings(ctx context.Context, hub, roomID string, settings json.RawMessage) error {
	if err := requireKeys("hub and roomId", hub, roomID); err != nil {
		return fmt.Errorf("set room settings: %w", err)
	}
	val, err := normalizeSettings(settings)
	if err != nil {
		return fmt.Errorf("set room settings %s/%s: %w", hub, roomID, err)
	}
	err = e.w.do(ctx, func(tx *bolt.Tx) error {
		hb, err := hubBucket(tx.Bucket(bucketHubs), []byte(hub))
		if err != nil {
			return err
		}
		if val == nil {
			return hb.Bucket(bucketRoomS).Delete([]byte(roomID))
		}
		return hb.Bucket(bucketRoomS).Put([]byte(roomID), val)
	})
	if err != nil {
		return fmt.Errorf("set room settings %s/%s: %w", hub, roomID, err)
	}
	return nil
}

// RoomSettings implements Store.
func (e *Embedded) RoomSettings(ctx context.Context, hub, roomID string) (json.RawMessage, error) {
	var out json.RawMessage
	err := e.viewHub(ctx, hub, func(hb *bolt.Bucket) error {
		if v := hb.Bucket(bucketRoomS).Get([]byte(roomID)); v != nil {
			out = slices.Clone(v)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("room settings %s/%s: %w", hub, roomID, err)
	}
	return out, nil
}

// viewHub runs fn in a read transaction on the hub's bucket; it does not call
// fn when the hub has none.
func (e *Embedded) viewHub(ctx context.Context, hub string, fn func(hb *bolt.Bucket) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return e.view(func(tx *bolt.Tx) error {
		hb := tx.Bucket(bucketHubs).Bucket([]byte(hub))
		if hb == nil {
			return nil
		}
		return fn(hb)
	})
}
