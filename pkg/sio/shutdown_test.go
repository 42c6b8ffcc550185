package sio

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
)

// TestShutdownClosesTransportsWithoutDisconnect: Shutdown ends every
// socket on the server side but sends no namespace DISCONNECT ("41"), so
// that clients reconnect by themselves; a WebSocket client gets a close
// frame, a polling client a noop (not the Engine.IO close packet), then
// finds its session gone.
func TestShutdownClosesTransportsWithoutDisconnect(t *testing.T) {
	s, base := startServer(t, Options{})
	ns := s.Of("/")
	reasons := make(chan string, 2)
	ns.OnDisconnect(func(_ *Socket, r string) { reasons <- r })
	c := dialWS(t, base, "")
	c.readText()
	c.connectNsp("/", "")
	sid := pollingSession(t, base)
	require.Equal(t, 2, s.ConnCount())

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	closed := make(chan error, 1)
	go func() { closed <- s.Shutdown(ctx) }()
	_ = c.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	mt, b, err := c.c.ReadMessage()
	require.Error(t, err, "no packet before the close frame, got %d %q", mt, b)
	require.True(t, websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway, websocket.CloseNoStatusReceived), "a close frame: %v", err)
	_, body := httpGet(t, base+"/socket.io/?EIO=4&transport=polling&sid="+sid)
	require.Equal(t, "6", body)
	require.NoError(t, <-closed)
	code, _ := httpGet(t, base+"/socket.io/?EIO=4&transport=polling&sid="+sid)
	require.Equal(t, http.StatusBadRequest, code, "the session is gone")
	require.Equal(t, "server shutting down", <-reasons)
	require.Equal(t, 0, s.ConnCount())
	require.Equal(t, 0, s.Stats().Sockets)
}
