package rest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"go.uber.org/zap"
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
	fx := newFixture(b, Options{Logger: zap.NewNop()})
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
