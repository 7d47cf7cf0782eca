package web

import (
	"crypto/subtle"
	"net/http"
	"net/url"
	"strings"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/httpauth"
)

// loginCookie carries the sign-in form's own CSRF token. There is no session
// yet to derive one from, and without it another site could sign a victim's
// browser in to the attacker's account (login CSRF).
const loginCookie = "candor_login"

type loginPage struct {
	Email   string
	Next    string
	Token   string
	Notice  string
	Error   string
	Field   string // the field the error concerns
	Expired bool
}

func (h *handler) loginForm(w http.ResponseWriter, r *http.Request) {
	next := safeNext(r.URL.Query().Get("next"))
	if _, ok := httpauth.Principal(r); ok {
		http.Redirect(w, r, next, http.StatusSeeOther)
		return
	}
	lp := loginPage{Next: next}
	switch {
	case httpauth.AuthError(r) != nil:
		// The cookie named a session that has ended; drop it.
		h.authn.ClearSession(w)
		lp.Notice = "Your session has ended. Sign in again to continue."
	case r.URL.Query().Get("signed_out") == "1":
		lp.Notice = "You are signed out."
	case r.URL.Query().Has("next"):
		lp.Notice = "Sign in to see that page."
	}
	h.renderLogin(w, r, http.StatusOK, lp)
}

func (h *handler) renderLogin(w http.ResponseWriter, r *http.Request, status int, lp loginPage) {
	lp.Token = auth.NewSecret()
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: lp.Token, Path: "/login",
		MaxAge: 3600, HttpOnly: true, Secure: h.authn.Secure, SameSite: http.SameSiteStrictMode})
	h.render(w, r, status, "login", page{Title: "Sign in", Data: lp})
}

func (h *handler) login(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		h.errorPage(w, r, http.StatusBadRequest, "The form could not be read", "Candor could not read what the browser sent.", "Reload the page and try again.")
		return
	}
	lp := loginPage{Email: strings.TrimSpace(r.PostFormValue("email")), Next: safeNext(r.PostFormValue("next"))}
	c, err := r.Cookie(loginCookie)
	tok := r.PostFormValue(httpauth.CSRFField)
	if err != nil || tok == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(tok)) != 1 {
		lp.Error, lp.Expired = "The form expired; reload the page and try again.", true
		h.renderLogin(w, r, http.StatusForbidden, lp)
		return
	}
	secret, u, err := h.svc.Login(r.Context(), lp.Email, r.PostFormValue("password"), httpauth.ClientIP(r), r.UserAgent())
	if err != nil {
		status := http.StatusUnauthorized
		switch apperr.Code(err) {
		case apperr.EUNAUTHORIZED:
		case apperr.ETOOMANY:
			status = http.StatusTooManyRequests
		default:
			h.log.Error("login_failed", "err", err)
		}
		lp.Error = upperFirst(apperr.Message(err)) + "."
		if e := apperr.As(err); e != nil {
			lp.Field = e.Field
		}
		h.renderLogin(w, r, status, lp)
		return
	}
	h.authn.SetSession(w, secret, h.svc.SessionTTL())
	http.SetCookie(w, &http.Cookie{Name: loginCookie, Value: "", Path: "/login", MaxAge: -1, HttpOnly: true, Secure: h.authn.Secure})
	name := u.Name
	if name == "" {
		name = u.Email
	}
	h.setFlash(w, secret, "ok", "Signed in as "+name+" ("+string(u.Role)+").")
	http.Redirect(w, r, lp.Next, http.StatusSeeOther)
}

func (h *handler) logout(w http.ResponseWriter, r *http.Request) {
	p, ok := h.action(w, r)
	if !ok {
		return
	}
	if secret := httpauth.SessionSecret(r); secret != "" {
		if err := h.svc.Logout(r.Context(), p, secret); err != nil {
			h.fail(w, r, err, "sign out")
			return
		}
	}
	h.authn.ClearSession(w)
	http.Redirect(w, r, "/login?signed_out=1", http.StatusSeeOther)
}

// safeNext keeps the after-sign-in redirect on this site: a path, never a
// URL another site controls ("//evil.example", "/\evil.example").
func safeNext(next string) string {
	if next == "" || next[0] != '/' || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || strings.HasPrefix(u.Path, "/login") {
		return "/"
	}
	return next
}
