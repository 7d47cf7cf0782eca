// Package server assembles Candor's HTTP surface — the admin UI, the JSON
// API, health and metrics — behind the middleware every request passes
// through: panic recovery, request logging, Prometheus metrics and
// authentication.
package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/candorhq/candor/internal/api"
	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/httpauth"
	"github.com/candorhq/candor/internal/web"
)

// Options configure the HTTP surface.
type Options struct {
	// SecureCookies sets the Secure attribute on the session cookie.
	SecureCookies bool
	// Version is reported by /healthz.
	Version string
	// Registry is where /metrics reads from; other parts of the process
	// (the dispatcher) register theirs there too. Nil: a new one.
	Registry *prometheus.Registry
	// Web are the admin UI's options.
	Web web.Options
}

// Handler returns the whole HTTP surface over svc.
func Handler(svc *app.Service, log *slog.Logger, opt Options) http.Handler {
	reg := opt.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(collectors.NewDBStatsCollector(svc.DB().SQL(), svc.DB().Dialect()))
	m := newMetrics(reg)

	authn := &httpauth.Authenticator{Svc: svc, Secure: opt.SecureCookies}
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", http.StripPrefix("/api/v1", api.New(svc, log)))
	mux.Handle("/", web.New(svc, authn, log, opt.Web))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if err := svc.DB().Ping(ctx); err != nil {
			log.Error("healthz_db", "err", err)
			w.WriteHeader(http.StatusServiceUnavailable)
			w.Write([]byte(`{"status":"unavailable","database":"unreachable"}` + "\n"))
			return
		}
		w.Write([]byte(`{"status":"ok","database":"` + svc.DB().Dialect() + `","version":"` + opt.Version + `"}` + "\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))

	var h http.Handler = mux
	h = authn.Middleware(h)
	h = m.instrument(mux, h)
	h = logRequests(log.With("component", "http"), h)
	h = recoverPanics(log, h)
	return h
}

// Serve runs srv until ctx ends, then shuts it down gracefully, giving
// in-flight requests up to grace to finish.
func Serve(ctx context.Context, srv *http.Server, l net.Listener, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// NewHTTPServer returns an http.Server with timeouts that protect against
// slow clients.
func NewHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      120 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}
