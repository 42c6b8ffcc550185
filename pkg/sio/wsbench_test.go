package sio

// Fan-out write path comparison: one text frame written to N WebSocket
// connections on loopback, per library. Results and reasoning: docs/sio.md.
//
//	go test -run '^$' -bench BenchmarkFanout -benchtime 2000x -benchmem ./pkg/sio

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	coder "github.com/coder/websocket"
	gobwas "github.com/gobwas/ws"
	"github.com/gorilla/websocket"
)

const (
	fanoutConns   = 100
	fanoutPayload = 200
)

// fanoutTarget writes one message to every connection.
type fanoutTarget interface {
	add(w http.ResponseWriter, r *http.Request) error
	broadcast(msg []byte) error
	count() int
	close()
}

type gorillaTarget struct {
	mu    sync.Mutex
	conns []*websocket.Conn
}

func (g *gorillaTarget) add(w http.ResponseWriter, r *http.Request) error {
	c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
	if err != nil {
		return err
	}
	g.mu.Lock()
	g.conns = append(g.conns, c)
	g.mu.Unlock()
	return nil
}

func (g *gorillaTarget) broadcast(msg []byte) error {
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, msg)
	if err != nil {
		return err
	}
	for _, c := range g.conns {
		if err := c.WritePreparedMessage(pm); err != nil {
			return err
		}
	}
	return nil
}

func (g *gorillaTarget) count() int { g.mu.Lock(); defer g.mu.Unlock(); return len(g.conns) }
func (g *gorillaTarget) close() {
	for _, c := range g.conns {
		_ = c.Close()
	}
}

type coderTarget struct {
	mu    sync.Mutex
	conns []*coder.Conn
}

func (g *coderTarget) add(w http.ResponseWriter, r *http.Request) error {
	c, err := coder.Accept(w, r, &coder.AcceptOptions{CompressionMode: coder.CompressionDisabled})
	if err != nil {
		return err
	}
	g.mu.Lock()
	g.conns = append(g.conns, c)
	g.mu.Unlock()
	return nil
}

func (g *coderTarget) broadcast(msg []byte) error {
	ctx := context.Background()
	for _, c := range g.conns {
		if err := c.Write(ctx, coder.MessageText, msg); err != nil {
			return err
		}
	}
	return nil
}

func (g *coderTarget) count() int { g.mu.Lock(); defer g.mu.Unlock(); return len(g.conns) }
func (g *coderTarget) close() {
	for _, c := range g.conns {
		_ = c.CloseNow()
	}
}

type gobwasTarget struct {
	mu    sync.Mutex
	conns []net.Conn
}

func (g *gobwasTarget) add(w http.ResponseWriter, r *http.Request) error {
	c, _, _, err := gobwas.UpgradeHTTP(r, w)
	if err != nil {
		return err
	}
	g.mu.Lock()
	g.conns = append(g.conns, c)
	g.mu.Unlock()
	return nil
}

func (g *gobwasTarget) broadcast(msg []byte) error {
	f, err := gobwas.CompileFrame(gobwas.NewTextFrame(msg))
	if err != nil {
		return err
	}
	for _, c := range g.conns {
		if _, err := c.Write(f); err != nil {
			return err
		}
	}
	return nil
}

func (g *gobwasTarget) count() int { g.mu.Lock(); defer g.mu.Unlock(); return len(g.conns) }
func (g *gobwasTarget) close() {
	for _, c := range g.conns {
		_ = c.Close()
	}
}

// hubdTarget is what this package does: gorilla for the handshake and
// reads, the frame built once by frame.go and written to the raw conn.
type hubdTarget struct {
	mu    sync.Mutex
	conns []net.Conn
	keep  []*websocket.Conn
}

func (g *hubdTarget) add(w http.ResponseWriter, r *http.Request) error {
	c, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
	if err != nil {
		return err
	}
	g.mu.Lock()
	g.conns = append(g.conns, c.NetConn())
	g.keep = append(g.keep, c)
	g.mu.Unlock()
	return nil
}

func (g *hubdTarget) broadcast(msg []byte) error {
	b := newFrameBuf(len(msg))
	b = append(b, msg...)
	w := finish(b, false).wire()
	for _, c := range g.conns {
		if _, err := c.Write(w); err != nil {
			return err
		}
	}
	return nil
}

func (g *hubdTarget) count() int { g.mu.Lock(); defer g.mu.Unlock(); return len(g.conns) }
func (g *hubdTarget) close() {
	for _, c := range g.keep {
		_ = c.Close()
	}
}

func BenchmarkFanout(b *testing.B) {
	targets := []struct {
		name string
		new  func() fanoutTarget
	}{
		{"gorilla-prepared", func() fanoutTarget { return &gorillaTarget{} }},
		{"coder", func() fanoutTarget { return &coderTarget{} }},
		{"gobwas-compiled", func() fanoutTarget { return &gobwasTarget{} }},
		{"hubd-frame", func() fanoutTarget { return &hubdTarget{} }},
	}
	msg := []byte("42" + `["hub:messageArrived",{"roomId":"r1","message":{"content":"` + strings.Repeat("x", fanoutPayload-70) + `"}}]`)
	for _, tt := range targets {
		b.Run(tt.name, func(b *testing.B) {
			tg := tt.new()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if err := tg.add(w, r); err != nil {
					b.Error(err)
				}
			}))
			defer srv.Close()
			u := "ws" + strings.TrimPrefix(srv.URL, "http")
			var readers sync.WaitGroup
			clients := make([]*websocket.Conn, 0, fanoutConns)
			for i := 0; i < fanoutConns; i++ {
				c, _, err := websocket.DefaultDialer.Dial(u, nil)
				if err != nil {
					b.Fatal(err)
				}
				clients = append(clients, c)
				readers.Go(func() {
					for {
						_, r, err := c.NextReader()
						if err != nil {
							return
						}
						_, _ = io.Copy(io.Discard, r)
					}
				})
			}
			deadline := time.Now().Add(5 * time.Second)
			for tg.count() < fanoutConns && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond) // setup only, not a test assertion
			}
			b.SetBytes(int64(len(msg) * fanoutConns))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := tg.broadcast(msg); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*fanoutConns), "ns/delivery")
			tg.close()
			for _, c := range clients {
				_ = c.Close()
			}
			readers.Wait()
		})
	}
}
