// Package httpauth resolves who is making an HTTP request — a browser with a
// session cookie or a client with an API token (Authorization: Bearer) — and
// guards browser requests against cross-site request forgery. The admin UI
// and the JSON API share it, so both doors check the same way.
package httpauth

import (
	"context"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/auth"
)

// CookieName is the session cookie.
const CookieName = "candor_session"

// CSRFField is the form field, and CSRFHeader the header, carrying the CSRF
// token on state-changing browser requests.
const (
	CSRFField  = "csrf_token"
	CSRFHeader = "X-CSRF-Token"
)

type ctxKey struct{}

type identity struct {
	principal auth.Principal
	secret    string // the session secret; "" for token requests
	err       error  // why the request is anonymous, if it presented credentials
}

// Authenticator resolves principals. Secure sets the Secure attribute on the
// session cookie; turn it off only for plain-HTTP setups on a non-local host.
type Authenticator struct {
	Svc    *app.Service
	Secure bool
}

// Middleware attaches the request's principal (possibly anonymous) to its
// context. It never rejects a request itself: handlers decide, so the UI can
// redirect to sign-in and the API can answer 401 in JSON.
func (a *Authenticator) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var id identity
		if h := r.Header.Get("Authorization"); h != "" {
			scheme, tok, _ := strings.Cut(h, " ")
			if !strings.EqualFold(scheme, "Bearer") {
				id.err = &apperr.Error{Code: apperr.EUNAUTHORIZED, Message: "use Authorization: Bearer <token>"}
			} else {
				id.principal, id.err = a.Svc.TokenPrincipal(r.Context(), strings.TrimSpace(tok))
			}
		} else if c, err := r.Cookie(CookieName); err == nil && c.Value != "" {
			id.principal, id.err = a.Svc.SessionPrincipal(r.Context(), c.Value)
			if id.err == nil {
				id.secret = c.Value
			}
		}
		if id.err != nil && apperr.Code(id.err) != apperr.EUNAUTHORIZED {
			// A database failure is not "signed out": surface it.
			http.Error(w, "service unavailable", http.StatusServiceUnavailable)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, &id)))
	})
}

func from(ctx context.Context) *identity {
	if id, ok := ctx.Value(ctxKey{}).(*identity); ok {
		return id
	}
	return &identity{}
}

// Principal returns the request's principal; ok is false when anonymous.
func Principal(r *http.Request) (auth.Principal, bool) {
	id := from(r.Context())
	return id.principal, id.principal.Role != ""
}

// AuthError returns why a request that presented credentials is anonymous
// (an expired session, a revoked token), or nil.
func AuthError(r *http.Request) error { return from(r.Context()).err }

// SessionSecret returns the session secret of a cookie-authenticated request.
func SessionSecret(r *http.Request) string { return from(r.Context()).secret }

// CSRFToken returns the token a page must embed in its forms, "" when the
// request has no session.
func CSRFToken(r *http.Request) string {
	if s := SessionSecret(r); s != "" {
		return auth.CSRFToken(s)
	}
	return ""
}

// CheckCSRF reports whether a state-changing request is safe from forgery:
// requests authenticated by an API token are (a browser never adds that
// header on its own); session requests must carry the session's CSRF token in
// the form field or header.
func CheckCSRF(r *http.Request) bool {
	id := from(r.Context())
	if id.principal.Role != "" && id.secret == "" {
		return true
	}
	tok := r.Header.Get(CSRFHeader)
	if tok == "" {
		tok = r.PostFormValue(CSRFField)
	}
	return id.secret != "" && auth.CheckCSRF(id.secret, tok)
}

// SetSession sets the session cookie: HttpOnly so scripts cannot read it,
// SameSite=Lax so other sites cannot send it on their forms' POSTs.
func (a *Authenticator) SetSession(w http.ResponseWriter, secret string, ttl time.Duration) {
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: secret, Path: "/",
		MaxAge: int(ttl.Seconds()), HttpOnly: true, Secure: a.Secure, SameSite: http.SameSiteLaxMode,
	})
}

// ClearSession removes the session cookie.
func (a *Authenticator) ClearSession(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: a.Secure, SameSite: http.SameSiteLaxMode})
}

// ClientIP returns the request's remote address without the port. Candor
// does not trust X-Forwarded-For unless told to by the server's TrustProxy
// setting, which rewrites RemoteAddr before this runs.
func ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
