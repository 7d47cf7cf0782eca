// Package web is the admin UI: server-rendered pages where the crisis team
// opens incidents, records and corrects their facts, moves them through their
// states, prepares audiences (importing recipients from CSV, attaching
// standing lists) and segments, sends approved notices and follows their
// delivery in the ledger (with a demo mailbox when one is configured),
// publishes updates to the public status page and follows its subscribers
// and quiet period, and, as admins, manages users, API tokens and the audit
// log.
//
// Pages are html/template files embedded in the binary and parsed when the
// handler is built, so a broken template stops the server at start-up rather
// than on the first request. Every page works without JavaScript. Every
// action goes through app.Service, which checks the principal's permission;
// the UI only hides what a role cannot use. Every POST must carry the
// session's CSRF token (see package httpauth).
package web

import (
	"embed"
	"log/slog"
	"net/http"
	"strings"

	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/email/mailbox"
	"github.com/candorhq/candor/internal/httpauth"
	"github.com/candorhq/candor/internal/public"
	"github.com/candorhq/candor/internal/status"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// maxBody bounds every request body. The largest form, the facts, is far
// below it even with every text field at its limit.
const maxBody = 1 << 20

type handler struct {
	svc   *app.Service
	authn *httpauth.Authenticator
	log   *slog.Logger
	pages map[string]*pageTemplate
	// staticVersion is a hash of the static files, appended to their URLs
	// so browsers may cache them forever and still see a new release.
	staticVersion string
	opt           Options
}

// New returns the admin UI handler, mounted at "/". It panics if a template
// does not parse: that is a programming error, caught at start-up and by
// every test.
func New(svc *app.Service, authn *httpauth.Authenticator, log *slog.Logger, opt Options) http.Handler {
	if m, ok := opt.Mailbox.(*mailbox.Mailbox); ok && m == nil {
		opt.Mailbox = nil // a nil *mailbox.Mailbox is no mailbox
	}
	if s, ok := opt.Public.(*public.Site); ok && s == nil {
		opt.Public = nil // a nil *public.Site is no status page
	}
	h := &handler{svc: svc, authn: authn, log: log.With("component", "web"), opt: opt}
	var err error
	if h.pages, err = parsePages(); err != nil {
		panic(err)
	}
	h.staticVersion = staticVersion()
	mux := http.NewServeMux()
	h.routes(mux.HandleFunc)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w.Header())
		limit := int64(maxBody)
		if r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/audiences/") && strings.HasSuffix(r.URL.Path, "/import") {
			limit = maxImportBody
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		mux.ServeHTTP(w, r)
	})
}

// Options are the admin UI's optional parts.
type Options struct {
	// Mailbox, when set, adds the demo mailbox's pages to the menu and
	// links each sent message in the ledger to its copy there.
	Mailbox Mailbox
	// Public, when set, is the status page this process serves: its
	// snapshot tells the UI whether the quiet period is on and how each
	// service is doing. Without it those are not shown.
	Public interface{ Snapshot() *status.Snapshot }
}

// routes registers every page and action. Routes reads the same list, so the
// role tests can check that they cover every route.
func (h *handler) routes(handle func(pattern string, fn func(http.ResponseWriter, *http.Request))) {
	handle("GET /static/", h.static)
	handle("/", h.notFound)

	handle("GET /login", h.loginForm)
	handle("POST /login", h.login)
	handle("POST /logout", h.logout)

	handle("GET /{$}", h.incidents)
	handle("GET /incidents/new", h.newIncidentForm)
	handle("POST /incidents", h.createIncident)
	handle("GET /incidents/{id}", h.incident)
	handle("POST /incidents/{id}/update", h.updateIncident)
	handle("POST /incidents/{id}/state", h.moveIncident)
	handle("GET /incidents/{id}/facts/edit", h.editFacts)
	handle("POST /incidents/{id}/facts", h.saveFacts)
	handle("GET /incidents/{id}/versions", h.versions)
	handle("GET /incidents/{id}/versions/{version}", h.version)
	handle("GET /incidents/{id}/versions/diff", h.diff)
	handle("GET /incidents/{id}/audit", h.incidentAudit)

	handle("GET /incidents/{id}/audiences", h.incidentAudiences)
	handle("POST /incidents/{id}/audiences", h.createIncidentAudience)
	handle("GET /lists", h.lists)
	handle("POST /lists", h.createList)
	handle("GET /audiences/{id}", h.audience)
	handle("POST /audiences/{id}/import", h.importRecipients)
	handle("POST /audiences/{id}/lists", h.attachList)
	handle("GET /imports/{id}", h.importReport)
	handle("GET /imports/{id}/errors.csv", h.importErrors)
	handle("GET /incidents/{id}/segments", h.segments)
	handle("GET /incidents/{id}/segments/new", h.newSegmentForm)
	handle("POST /incidents/{id}/segments", h.saveSegment)
	handle("POST /incidents/{id}/segments/count", h.countSegment)
	handle("GET /segments/{id}", h.segment)

	h.noticeRoutes(handle)
	h.releaseRoutes(handle)
	h.publicRoutes(handle)

	handle("GET /users", h.users)
	handle("POST /users", h.createUser)
	handle("POST /users/{id}/role", h.changeRole)
	handle("POST /users/{id}/disable", h.disableUser)
	handle("POST /users/{id}/enable", h.enableUser)

	handle("GET /tokens", h.tokens)
	handle("POST /tokens", h.createToken)
	handle("POST /tokens/{id}/revoke", h.revokeToken)

	handle("GET /audit", h.audit)
	handle("POST /audit/verify", h.verifyAudit)
}

// Routes lists every route pattern the UI registers ("POST /incidents"),
// except the static files and the not-found fallback.
func Routes() []string {
	var out []string
	(&handler{}).routes(func(p string, _ func(http.ResponseWriter, *http.Request)) {
		if p != "/" && p != "GET /static/" {
			out = append(out, p)
		}
	})
	return out
}

// securityHeaders keeps pages out of frames, scripts to our own files, and
// referrers (which carry incident ids) on our own site.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; connect-src 'self'; frame-src 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
}
