package server

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"
	"github.com/valyala/fasthttp/fasthttpadaptor"

	"github.com/candorhq/candor/internal/public"
)

// NewPublicServer returns the server of the public side's own listener
// (--public-addr). The documents everybody reads during a surge are served
// by fasthttp straight from the rendered snapshot; every other request
// goes to slow (PublicHandler, through net/http's interface), so the two
// answer alike.
func NewPublicServer(site *public.Site, slow http.Handler, log *slog.Logger, reg prometheus.Registerer) *fasthttp.Server {
	served := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "candor_public_fast_responses_total",
		Help: "Public documents served from memory on the public listener, by status code.",
	}, []string{"code"})
	reg.MustRegister(served)
	ok, notModified := served.WithLabelValues("200"), served.WithLabelValues("304")
	fallback := fasthttpadaptor.NewFastHTTPHandler(slow)
	fast := site.FastHandler(func(ctx *fasthttp.RequestCtx) {
		ctx.SetUserValue(slowKey{}, true)
		fallback(ctx)
	})
	return &fasthttp.Server{
		Handler: func(ctx *fasthttp.RequestCtx) {
			fast(ctx)
			if ctx.UserValue(slowKey{}) != nil {
				return
			}
			switch code := ctx.Response.StatusCode(); code {
			case http.StatusOK:
				ok.Inc()
			case http.StatusNotModified:
				notModified.Inc()
			default:
				served.WithLabelValues(strconv.Itoa(code)).Inc()
			}
		},
		Name:                  "candor",
		ReadTimeout:           60 * time.Second,
		WriteTimeout:          120 * time.Second,
		IdleTimeout:           120 * time.Second,
		MaxRequestBodySize:    64 << 10,
		ReadBufferSize:        16 << 10,
		Concurrency:           256 * 1024,
		NoDefaultServerHeader: true,
		Logger:                fastLogger{log},
	}
}

type slowKey struct{}

type fastLogger struct{ log *slog.Logger }

func (l fastLogger) Printf(format string, args ...any) {
	l.log.Warn("public_http", "msg", format, "args", args)
}

// ServePublic runs srv on l until ctx ends, then shuts it down, giving
// requests in flight up to grace to finish.
func ServePublic(ctx context.Context, srv *fasthttp.Server, l net.Listener, grace time.Duration) error {
	return serveUntil(ctx, fastShutdown{srv}, l, grace)
}

// fastShutdown gives fasthttp's server net/http's Shutdown.
type fastShutdown struct{ *fasthttp.Server }

func (f fastShutdown) Shutdown(ctx context.Context) error { return f.ShutdownWithContext(ctx) }
