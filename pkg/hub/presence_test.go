package hub

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"

	"github.com/hubd/hubd/pkg/authz"
	"github.com/hubd/hubd/pkg/msgstore"
	"github.com/hubd/hubd/pkg/presence"
	"github.com/hubd/hubd/pkg/records"
	"github.com/hubd/hubd/pkg/scripting"
	"github.com/hubd/hubd/pkg/sio"
	"github.com/hubd/hubd/pkg/spec"
)

const socketTestSecret = "presence-test-secret-0123456789abcdef"

// socketEnv serves one hub (testdata/logic/hub.yaml, room "r1") over a real
// Socket.IO server, with deps adjusted by the test.
type socketEnv struct {
	h   *Hub
	url string
}

func newSocketEnv(t *testing.T, adjust func(*Deps)) *socketEnv {
	t.Helper()
	hs, err := spec.LoadFile("testdata/logic/hub.yaml", spec.LoadOptions{})
	require.NoError(t, err)
	eng, err := scripting.NewEngine(scripting.Options{LibDir: "testdata/logic/lib"})
	require.NoError(t, err)
	t.Cleanup(eng.Close)
	def, err := NewDefinition(hs, eng)
	require.NoError(t, err)
	store, err := msgstore.OpenEmbedded(filepath.Join(t.TempDir(), "messages.db"), msgstore.EmbeddedOptions{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = store.Close() })
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "arena.json"), []byte(`[{"id":"r1"}]`), 0o600))
	recs, err := records.NewEmbedded(dir)
	require.NoError(t, err)
	v, err := authz.NewVerifier(authz.VerifierConfig{HS256Secrets: []string{socketTestSecret}})
	require.NoError(t, err)
	deps := Deps{Store: store, Records: recs, Verifier: v, OpTimeout: 5 * time.Second}
	adjust(&deps)
	h := New(def, deps)
	t.Cleanup(func() { h.Close("test over") })
	srv := sio.NewServer(sio.Options{})
	srv.SetNamespaceResolver(func(name string) *sio.Namespace {
		if name == h.Namespace().Name() {
			return h.Namespace()
		}
		return nil
	})
	hs2 := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs2.CloseClientConnections()
		hs2.Close()
		_ = srv.Close(context.Background()) // stops its network pollers
	})
	return &socketEnv{h: h, url: "ws" + strings.TrimPrefix(hs2.URL, "http") + "/socket.io/?EIO=4&transport=websocket"}
}

// join connects a raw Socket.IO client as userID and joins room r1.
func (e *socketEnv) join(t *testing.T, userID string) *websocket.Conn {
	t.Helper()
	rc, _ := e.dialAs(t, userID, nil)
	rc.send("42" + rc.nsp + `,1["hub:join",{"roomId":"r1"}]`)
	ack := rc.read("43" + rc.nsp + ",1")
	require.Contains(t, ack, `"ok":true`, ack)
	return rc.c
}

// gatedRegistry holds Leave calls until released.
type gatedRegistry struct {
	presence.Registry
	mu       sync.Mutex
	leaving  chan struct{} // closed when a Leave is waiting
	release  chan struct{}
	left     chan struct{} // closed when the held Leave is done
	blocking bool
}

func (g *gatedRegistry) Leave(ctx context.Context, hub, room, user string) (bool, error) {
	g.mu.Lock()
	block := g.blocking
	g.blocking = false
	g.mu.Unlock()
	if !block {
		return g.Registry.Leave(ctx, hub, room, user)
	}
	close(g.leaving)
	<-g.release
	defer close(g.left)
	return g.Registry.Leave(ctx, hub, room, user)
}

// TestPresenceFollowsTheLocalOrder: a user's last socket leaves while a new
// socket of theirs joins on the same node, and the registry is slow to
// take the leave. The join must not be recorded before the leave, or the
// late leave would delete the record of a user who is in the room.
func TestPresenceFollowsTheLocalOrder(t *testing.T) {
	reg := &gatedRegistry{Registry: presence.NewLocal(), leaving: make(chan struct{}), release: make(chan struct{}), left: make(chan struct{})}
	e := newSocketEnv(t, func(d *Deps) { d.Presence = reg })
	first := e.join(t, "u1")
	listed := func() []string {
		entries, err := reg.Room(context.Background(), e.h.Name(), "r1")
		require.NoError(t, err)
		var ids []string
		for _, en := range entries {
			ids = append(ids, en.UserID)
		}
		return ids
	}
	require.Equal(t, []string{"u1"}, listed())

	reg.mu.Lock()
	reg.blocking = true
	reg.mu.Unlock()
	require.NoError(t, first.Close()) // the leave reaches the registry and waits
	select {
	case <-reg.leaving:
	case <-time.After(5 * time.Second):
		t.Fatal("the leave did not reach the registry")
	}
	joined := make(chan struct{})
	go func() {
		defer close(joined)
		e.join(t, "u1")
	}()
	// Give the join every chance to overtake the pending leave.
	select {
	case <-joined:
		t.Log("the join finished before the leave")
	case <-time.After(300 * time.Millisecond):
	}
	close(reg.release)
	<-joined
	<-reg.left
	require.Equal(t, []string{"u1"}, listed(), "u1, connected again, is in the registry")
}
