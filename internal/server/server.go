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
	"strings"
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
	// Public serves the public side (status page, feeds, Statuspage JSON,
	// banner, alert, quiet period); nil: not served.
	Public http.Handler
	// Demo serves /demo/… without a session (the demo's webhook receiver).
	Demo http.Handler
}

// publicPrefixes are the paths of the public side. They bypass the
// session middleware: the public needs no login, and a request there never
// touches the database.
var publicPrefixes = []string{"/status", "/banner.js", "/api/v1/alert", "/api/v1/quiet-period", "/api/v2/"}

// IsPublic reports whether path belongs to the public side.
func IsPublic(path string) bool {
	for _, p := range publicPrefixes {
		if path == p || strings.HasPrefix(path, p) && (strings.HasSuffix(p, "/") || path[len(p)] == '/') {
			return true
		}
	}
	return false
}

// PublicHandler wraps the public side alone with the middleware every
// request passes through (panic recovery, logs, metrics), for a listener
// of its own; / leads to the status page.
func PublicHandler(public http.Handler, log *slog.Logger, reg prometheus.Registerer) http.Handler {
	m := newMetrics(reg, "candor_public_http_")
	mux := http.NewServeMux()
	mux.Handle("/", public)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/status", http.StatusFound) })
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	var h http.Handler = mux
	h = m.instrument(mux, h)
	h = logRequests(log.With("component", "public"), h)
	return recoverPanics(log, h)
}

// Handler returns the whole HTTP surface over svc.
func Handler(svc *app.Service, log *slog.Logger, opt Options) http.Handler {
	reg := opt.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(collectors.NewDBStatsCollector(svc.DB().SQL(), svc.DB().Dialect()))
	m := newMetrics(reg, "candor_http_")

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
	if opt.Public != nil {
		// The public side is routed before the session middleware: the
		// public needs no login, and its requests never touch the database.
		// Only reads are public; writes (PUT /api/v1/quiet-period) go to
		// the API, behind authentication. Subscribing posts to /status/….
		pubMux := http.NewServeMux()
		for _, p := range []string{"/status", "/status/", "/banner.js", "/api/v1/alert", "/api/v1/quiet-period", "/api/v2/"} {
			pubMux.Handle(p, opt.Public)
		}
		if opt.Demo != nil {
			pubMux.Handle("/demo/", opt.Demo)
		}
		pub, inner := m.instrument(pubMux, pubMux), h
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if opt.Demo != nil && strings.HasPrefix(r.URL.Path, "/demo/") {
				pub.ServeHTTP(w, r)
				return
			}
			if IsPublic(r.URL.Path) && (r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodOptions || strings.HasPrefix(r.URL.Path, "/status")) {
				pub.ServeHTTP(w, r)
				return
			}
			inner.ServeHTTP(w, r)
		})
	}
	h = logRequests(log.With("component", "http"), h)
	h = recoverPanics(log, h)
	return h
}

// Serve runs srv until ctx ends, then shuts it down gracefully, giving
// in-flight requests up to grace to finish.
func Serve(ctx context.Context, srv *http.Server, l net.Listener, grace time.Duration) error {
	return serveUntil(ctx, srv, l, grace)
}

// listenerServer is what Serve and ServePublic run: net/http's server, or
// fasthttp's behind fastShutdown.
type listenerServer interface {
	Serve(net.Listener) error
	Shutdown(context.Context) error
}

func serveUntil(ctx context.Context, srv listenerServer, l net.Listener, grace time.Duration) error {
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
