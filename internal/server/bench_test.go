package server_test

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/candorhq/candor/internal/public"
	"github.com/candorhq/candor/internal/server"
	"github.com/candorhq/candor/internal/status/statustest"
)

// BenchmarkPublic measures one public request through the middleware
// every request passes (metrics, logs, panic recovery) and the site:
// the work per reader on the day of the surge, without the network.
//
//	go test ./internal/server -bench Public -benchmem
func BenchmarkPublic(b *testing.B) {
	site := public.NewSite(public.Options{})
	if err := site.Publish(statustest.Example(time.Now())); err != nil {
		b.Fatal(err)
	}
	h := server.PublicHandler(site, slog.New(slog.DiscardHandler), prometheus.NewRegistry())
	for _, path := range []string{"/status", "/api/v2/summary.json", "/api/v1/alert"} {
		b.Run(path, func(b *testing.B) {
			req := httptest.NewRequest("GET", path, nil)
			b.ReportAllocs()
			w := &discard{h: http.Header{}}
			for b.Loop() {
				clear(w.h)
				h.ServeHTTP(w, req)
				if w.code != http.StatusOK {
					b.Fatal(w.code)
				}
			}
		})
	}
}

// discard is a ResponseWriter that keeps nothing, as a socket would.
type discard struct {
	h    http.Header
	code int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) WriteHeader(code int)        { d.code = code }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
