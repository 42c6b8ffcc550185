package rest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/hubd/hubd/pkg/spec"
)

func BenchmarkOpenAPI(b *testing.B) {
	h := loadSpec(b, "../../configs/hubs/chat.yaml")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := OpenAPI(h); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHandler measures the REST layer's own cost per request (token
// verification, routing, decoding, encoding) over the in-memory fake hub.
func BenchmarkHandler(b *testing.B) {
	benchmarkHandler(b, Options{Logger: zap.NewNop()})
}

// BenchmarkHandlerObserved is BenchmarkHandler with an Observer that does
// as little as a metrics callback: the cost of observing a request.
func BenchmarkHandlerObserved(b *testing.B) {
	var n atomic.Int64
	benchmarkHandler(b, Options{Logger: zap.NewNop(), Observer: func(_, _, _ string, _ int, _ time.Duration) { n.Add(1) }})
	if n.Load() == 0 {
		b.Fatal("the observer was never called")
	}
}

func benchmarkHandler(b *testing.B, opts Options) {
	fx := newFixture(b, opts)
	tests := []struct {
		name, method, path, body string
	}{
		{"list", "GET", "/chatHub/rooms/r1/messages?limit=20", ""},
		{"send", "POST", "/chatHub/rooms/r1/messages", `{"messageType":"text","content":{"body":"hello there"}}`},
		{"openapi", "GET", "/chatHub/openapi.json", ""},
	}
	for _, tc := range tests {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
				r.Header.Set("Authorization", "Bearer "+fx.tokens["u1"])
				w := httptest.NewRecorder()
				fx.handler.ServeHTTP(w, r)
				if w.Code >= http.StatusBadRequest {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
		})
	}
}

// BenchmarkRealHub measures REST requests over the real chat hub with an
// embedded message store: the full send pipeline (authorization against
// the example records, validation, durable write) and a page of history.
func BenchmarkRealHub(b *testing.B) {
	// Without the rate guardrail: the benchmark is one user sending.
	e := newRealEnv(b, "../../configs/hubs/chat.yaml", func(h *spec.Hub) { h.Guardrails.MessageRateLimit = 0 }, zap.NewNop())
	run := func(b *testing.B, method, path, body string, want int) {
		b.ReportAllocs()
		for b.Loop() {
			r := httptest.NewRequest(method, path, strings.NewReader(body))
			r.Header.Set("Authorization", "Bearer "+e.tokens["u1"])
			w := httptest.NewRecorder()
			e.handler.ServeHTTP(w, r)
			if w.Code != want {
				b.Fatalf("%d %s", w.Code, w.Body)
			}
		}
	}
	b.Run("send", func(b *testing.B) {
		run(b, "POST", "/chatHub/rooms/chat1/messages", `{"messageType":"text","content":{"body":"hello there"}}`, http.StatusCreated)
	})
	b.Run("list50", func(b *testing.B) {
		run(b, "GET", "/chatHub/rooms/chat1/messages?limit=50", "", http.StatusOK)
	})
}
