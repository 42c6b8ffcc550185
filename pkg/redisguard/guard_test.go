package redisguard

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/rueidis"
	"github.com/stretchr/testify/require"
)

// stallProxy forwards TCP to Redis and can stop forwarding (a stalled
// server: connections stay open, nothing answers).
type stallProxy struct {
	ln      net.Listener
	target  string
	mu      sync.Mutex
	stalled bool
	cond    *sync.Cond
}

func newStallProxy(t *testing.T, target string) *stallProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &stallProxy{ln: ln, target: target}
	p.cond = sync.NewCond(&p.mu)
	t.Cleanup(func() { p.setStalled(false); _ = ln.Close() })
	go p.accept()
	return p
}

func (p *stallProxy) addr() string { return p.ln.Addr().String() }

func (p *stallProxy) setStalled(v bool) {
	p.mu.Lock()
	p.stalled = v
	p.cond.Broadcast()
	p.mu.Unlock()
}

func (p *stallProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		r, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = c.Close()
			continue
		}
		go p.pipe(c, r)
		go p.pipe(r, c)
	}
}

// pipe copies src to dst, holding each chunk while stalled.
func (p *stallProxy) pipe(dst, src net.Conn) {
	defer dst.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			for p.stalled {
				p.cond.Wait()
			}
			p.mu.Unlock()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				_ = src.Close()
			}
			return
		}
	}
}

func TestGuardGivesUpQuicklyAndRecovers(t *testing.T) {
	addr := os.Getenv("HUBD_TEST_REDIS_ADDR")
	if addr == "" {
		t.Skip("HUBD_TEST_REDIS_ADDR is not set (scripts/test.sh starts Redis)")
	}
	p := newStallProxy(t, addr)
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{p.addr()}, DisableCache: true})
	require.NoError(t, err)
	var changes []bool
	var mu sync.Mutex
	const timeout = 200 * time.Millisecond
	g := New(Options{Client: c, Timeout: timeout, Failures: 2, ProbeInterval: 50 * time.Millisecond, OnChange: func(d bool) {
		mu.Lock()
		changes = append(changes, d)
		mu.Unlock()
	}})
	defer g.Close()
	var recovered atomic.Int32
	g.OnRecover(func() { recovered.Add(1) })
	ctx := context.Background()
	key := "redisguard:test:" + t.Name()
	require.NoError(t, g.Do(ctx, g.B().Set().Key(key).Value("1").Build()).Error())
	require.False(t, g.Degraded())
	// A nil reply and an error reply are answers, not failures.
	require.True(t, rueidis.IsRedisNil(g.Do(ctx, g.B().Get().Key(key+":none").Build()).Error()))
	require.NoError(t, g.Do(ctx, g.B().Set().Key("redisguard:test:notanumber").Value("x").Build()).Error())
	require.Error(t, g.Do(ctx, g.B().Incr().Key("redisguard:test:notanumber").Build()).Error())
	require.False(t, g.Degraded())

	p.setStalled(true)
	for i := 0; i < 2; i++ {
		start := time.Now()
		err := g.Do(ctx, g.B().Get().Key(key).Build()).Error()
		require.Error(t, err)
		require.Less(t, time.Since(start), 4*timeout, "a stalled Redis is given up on after the timeout")
	}
	require.True(t, g.Degraded())
	// Degraded: refused without asking Redis, single and pipelined.
	require.ErrorIs(t, g.Do(ctx, g.B().Get().Key(key).Build()).Error(), ErrDegraded)
	for _, r := range g.DoMulti(ctx, g.B().Get().Key(key).Build(), g.B().Get().Key(key).Build()) {
		require.ErrorIs(t, r.Error(), ErrDegraded)
	}
	require.Zero(t, recovered.Load())

	p.setStalled(false)
	require.Eventually(t, func() bool { return !g.Degraded() && recovered.Load() == 1 }, 10*time.Second, 10*time.Millisecond)
	require.NoError(t, g.Do(ctx, g.B().Get().Key(key).Build()).Error())
	mu.Lock()
	require.Equal(t, []bool{true, false}, changes)
	mu.Unlock()
}

func TestGuardIgnoresTheCallersOwnCancel(t *testing.T) {
	addr := os.Getenv("HUBD_TEST_REDIS_ADDR")
	if addr == "" {
		t.Skip("HUBD_TEST_REDIS_ADDR is not set (scripts/test.sh starts Redis)")
	}
	p := newStallProxy(t, addr)
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{p.addr()}, DisableCache: true})
	require.NoError(t, err)
	g := New(Options{Client: c, Timeout: time.Second, Failures: 1})
	defer g.Close()
	require.NoError(t, g.Do(context.Background(), g.B().Ping().Build()).Error())
	p.setStalled(true)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	require.Error(t, g.Do(ctx, g.B().Ping().Build()).Error())
	require.False(t, g.Degraded(), "the caller gave up first: Redis is not known to be down")
	p.setStalled(false)
}
