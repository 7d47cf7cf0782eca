package web

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/audience"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/httpauth"
	"github.com/candorhq/candor/internal/incident"
	"github.com/candorhq/candor/internal/status"
)

type pageTemplate = template.Template

func templateFuncs() template.FuncMap {
	m := template.FuncMap{
		"time": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return incident.FormatTime(&t)
		},
		"ptime": incident.FormatTime,
		"iso": func(t time.Time) string {
			return t.UTC().Format(time.RFC3339)
		},
		"fid":        fieldID,
		"roles":      func() []auth.Role { return auth.Roles },
		"states":     func() []incident.State { return incident.States },
		"kinds":      func() any { return audience.Kinds },
		"severities": func() []incident.Severity { return incident.Severities },
		// dtstep lets a datetime-local input hold seconds when its value has
		// them; otherwise the browser would refuse to submit the form.
		"dtstep": func(v string) string {
			if len(v) > len("2006-01-02T15:04") {
				return "1"
			}
			return "60"
		},
		"count": formatCount,
		"n":     func(n int64) string { return formatCount(int(n)) },
		"kindLabel": func(k string) string {
			return incident.DataKind(k).Label()
		},
		"pct": func(part, whole int64) string {
			if whole <= 0 {
				return "0%"
			}
			return fmt.Sprintf("%.0f%%", float64(part)*100/float64(whole))
		},
		"add1":    func(n int) int { return n + 1 },
		"prev":    func(n int) int { return n - 1 },
		"invalid": invalidAttrs,
		"ferr":    fieldError,
	}
	for k, f := range noticeFuncs() {
		m[k] = f
	}
	for k, f := range releaseFuncs() {
		m[k] = f
	}
	return m
}

// parsePages parses each page together with the shared layout and partials.
func parsePages() (map[string]*pageTemplate, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*pageTemplate{}
	for _, n := range names {
		base := strings.TrimSuffix(path.Base(n), ".html")
		if base == "layout" || base == "partials" || strings.HasSuffix(base, "_partials") {
			continue
		}
		t, err := template.New(base).Funcs(templateFuncs()).ParseFS(templateFS, "templates/layout.html", "templates/partials.html", "templates/*_partials.html", n)
		if err != nil {
			return nil, fmt.Errorf("parse template %s: %w", n, err)
		}
		pages[base] = t
	}
	return pages, nil
}

// page is what the layout needs on every page; Data is the page's own.
type page struct {
	Title  string
	Nav    string // the highlighted section
	User   auth.Principal
	Signed bool
	CSRF   string
	Flash  *flash
	Static string
	Data   any
	// Unread is the number of the user's unread notifications.
	Unread int
	// Mailbox: a demo mailbox is configured, so the menu links to it.
	Mailbox bool
	// Quiet is the quiet period while it is on, shown in the header.
	Quiet *status.Quiet
}

func (p page) CanEdit() bool { return p.User.Role.Can(auth.EditIncident) }
func (p page) IsAdmin() bool { return p.User.Role.Can(auth.ManageUsers) }

// render writes a whole page. The page is rendered into a buffer first so
// that a template failure gives a clean error page, not half a page.
func (h *handler) render(w http.ResponseWriter, r *http.Request, status int, name string, pg page) {
	t, ok := h.pages[name]
	if !ok {
		panic("web: no template " + name)
	}
	pg.User, pg.Signed = httpauth.Principal(r)
	pg.CSRF = httpauth.CSRFToken(r)
	pg.Static = h.staticVersion
	pg.Mailbox = h.opt.Mailbox != nil
	if pg.Signed {
		// A failure to count leaves the badge off; the page still renders.
		_, pg.Unread, _ = h.svc.Notifications(r.Context(), pg.User)
		pg.Quiet = h.quietPeriod()
	}
	if pg.Flash == nil {
		pg.Flash = h.takeFlash(w, r)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", pg); err != nil {
		h.log.Error("render", "template", name, "err", err)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte("internal error; the details are in the server log\n"))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	// Pages hold incident details and CSRF tokens: keep them out of caches.
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// errorPage is the data of the error template.
type errorPage struct {
	Status  int
	Heading string
	Message string
	Hint    string
}

func (h *handler) errorPage(w http.ResponseWriter, r *http.Request, status int, heading, msg, hint string) {
	h.render(w, r, status, "error", page{Title: heading, Data: errorPage{status, heading, msg, hint}})
}

// fail answers with the page that fits err. doing completes "Your role
// (viewer) cannot …" for refusals, e.g. "change the facts".
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error, doing string) {
	switch apperr.Code(err) {
	case apperr.EUNAUTHORIZED:
		h.toLogin(w, r)
	case apperr.EFORBIDDEN:
		h.forbidden(w, r, doing)
	case apperr.ENOTFOUND:
		h.errorPage(w, r, http.StatusNotFound, "Not found", upperFirst(apperr.Message(err))+".", "It may have been removed, or the link may be mistyped.")
	case apperr.EINVALID:
		h.errorPage(w, r, http.StatusBadRequest, "That request cannot be used", upperFirst(apperr.Message(err))+".", "")
	case apperr.ECONFLICT:
		h.errorPage(w, r, http.StatusConflict, "Someone else changed this", upperFirst(apperr.Message(err))+".", "Reload the page to see the latest version.")
	case apperr.ETOOMANY:
		h.errorPage(w, r, http.StatusTooManyRequests, "Too many attempts", upperFirst(apperr.Message(err))+".", "")
	default:
		h.log.Error("request_failed", "method", r.Method, "path", r.URL.Path, "err", err)
		h.errorPage(w, r, http.StatusInternalServerError, "Something went wrong", "Candor could not complete this request. Nothing was changed by the failed step.", "Try again in a moment; if it keeps failing, the details are in the server log.")
	}
}

func (h *handler) forbidden(w http.ResponseWriter, r *http.Request, doing string) {
	p, _ := httpauth.Principal(r)
	h.errorPage(w, r, http.StatusForbidden, "Not allowed",
		fmt.Sprintf("Your role (%s) cannot %s.", p.Role, doing),
		"If you need to, ask an admin for a role that can.")
}

func (h *handler) badRequest(w http.ResponseWriter, r *http.Request, msg string) {
	h.errorPage(w, r, http.StatusBadRequest, "That address is not valid", msg, "Check the link, or start again from the incident list.")
}

func (h *handler) notFound(w http.ResponseWriter, r *http.Request) {
	h.errorPage(w, r, http.StatusNotFound, "Page not found", "There is no page at this address.", "Check the link, or start again from the incident list.")
}

// user returns the signed-in principal, or sends the browser to sign in and
// returns false.
func (h *handler) user(w http.ResponseWriter, r *http.Request) (auth.Principal, bool) {
	if p, ok := httpauth.Principal(r); ok {
		return p, true
	}
	h.toLogin(w, r)
	return auth.Principal{}, false
}

// toLogin sends an anonymous browser to sign in, coming back to the page it
// asked for. A POST comes back to nothing: its form has to be sent again.
func (h *handler) toLogin(w http.ResponseWriter, r *http.Request) {
	target := "/login"
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		target += "?next=" + url.QueryEscape(r.URL.RequestURI())
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// action prepares a state-changing request: a signed-in principal, a parsed
// form within the size limit, and a valid CSRF token. It answers and returns
// false when any is missing.
func (h *handler) action(w http.ResponseWriter, r *http.Request) (auth.Principal, bool) {
	p, ok := h.user(w, r)
	if !ok {
		return p, false
	}
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			h.errorPage(w, r, http.StatusRequestEntityTooLarge, "Too much text", "This form sent more than Candor accepts in one request (1 MiB).", "Shorten the longest fields and try again.")
			return p, false
		}
		h.errorPage(w, r, http.StatusBadRequest, "The form could not be read", "Candor could not read what the browser sent.", "Reload the page and try again.")
		return p, false
	}
	if !httpauth.CheckCSRF(r) {
		h.csrfFailed(w, r)
		return p, false
	}
	return p, true
}

func (h *handler) csrfFailed(w http.ResponseWriter, r *http.Request) {
	h.errorPage(w, r, http.StatusForbidden, "The form expired",
		"The form expired; reload the page and try again. Nothing was changed.",
		"This happens when a form was opened before you signed in again, or in another browser session.")
}

// editing starts a handler that changes (or shows the form to change)
// the object named by the {id} path value: it signs the user in — for a
// post, also reading the form and checking its CSRF token — parses the id,
// and refuses a role that may not edit, naming what it tried to do. It
// writes the answer itself and returns false when the handler must stop.
func (h *handler) editing(w http.ResponseWriter, r *http.Request, post bool, what string) (auth.Principal, int64, bool) {
	return h.allowedID(w, r, post, auth.EditIncident, what)
}

// allowedID is how editing, publishing and sending start: it signs the
// user in (for a post, also reading the form and checking its CSRF token),
// parses the {id} path value, and refuses a role without perm, naming
// what it tried to do. It writes the answer itself and returns false when
// the handler must stop.
func (h *handler) allowedID(w http.ResponseWriter, r *http.Request, post bool, perm auth.Permission, what string) (auth.Principal, int64, bool) {
	var p auth.Principal
	var ok bool
	if post {
		p, ok = h.action(w, r)
	} else {
		p, ok = h.user(w, r)
	}
	if !ok {
		return p, 0, false
	}
	id, ok := h.pathID(w, r, "id")
	if !ok {
		return p, 0, false
	}
	if !p.Role.Can(perm) {
		h.forbidden(w, r, what)
		return p, 0, false
	}
	return p, id, true
}

// pathID reads a positive integer path value, answering 400 when it is not.
func (h *handler) pathID(w http.ResponseWriter, r *http.Request, name string) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	if err != nil || id < 1 {
		h.badRequest(w, r, fmt.Sprintf("%q is not a valid number here.", r.PathValue(name)))
		return 0, false
	}
	return id, true
}

// queryCursor reads an optional positive cursor from the query string.
func (h *handler) queryCursor(w http.ResponseWriter, r *http.Request, name string) (int64, bool) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return 0, true
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 {
		h.badRequest(w, r, fmt.Sprintf("%q is not a valid page position.", s))
		return 0, false
	}
	return n, true
}

// flash is a one-time message shown on the page after a redirect.
type flash struct {
	Kind    string // "ok" or "error"
	Message string
}

const flashCookie = "candor_flash"

// redirect ends a successful (or refused) action: the browser loads target
// with a flash message, so reloading it does not send the form again.
func (h *handler) redirect(w http.ResponseWriter, r *http.Request, target, kind, msg string) {
	h.setFlash(w, httpauth.SessionSecret(r), kind, msg)
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// setFlash stores the message in a cookie signed with the session secret, so
// that nobody but this server can put words on a Candor page.
func (h *handler) setFlash(w http.ResponseWriter, secret, kind, msg string) {
	if secret == "" || msg == "" {
		return
	}
	v := kind + "." + base64.RawURLEncoding.EncodeToString([]byte(msg))
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: v + "." + flashMAC(secret, v), Path: "/",
		MaxAge: 60, HttpOnly: true, Secure: h.authn.Secure, SameSite: http.SameSiteLaxMode})
}

func (h *handler) takeFlash(w http.ResponseWriter, r *http.Request) *flash {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return nil
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: h.authn.Secure, SameSite: http.SameSiteLaxMode})
	secret := httpauth.SessionSecret(r)
	kind, rest, _ := strings.Cut(c.Value, ".")
	msg64, mac, _ := strings.Cut(rest, ".")
	if secret == "" || !hmac.Equal([]byte(mac), []byte(flashMAC(secret, kind+"."+msg64))) {
		return nil
	}
	msg, err := base64.RawURLEncoding.DecodeString(msg64)
	if err != nil {
		return nil
	}
	return &flash{Kind: kind, Message: string(msg)}
}

func flashMAC(secret, v string) string {
	m := hmac.New(sha256.New, []byte("candor-flash:"+secret))
	m.Write([]byte(v))
	return hex.EncodeToString(m.Sum(nil))
}

// static serves the embedded stylesheet and script. Versioned URLs (the
// layout adds ?v=<hash>) are cached for a year.
func (h *handler) static(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/")
	b, err := staticFS.ReadFile(name)
	if err != nil || strings.HasSuffix(name, "/") {
		h.notFound(w, r)
		return
	}
	if r.URL.Query().Get("v") == h.staticVersion {
		w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		w.Header().Set("Cache-Control", "public, max-age=300")
	}
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(b))
}

func staticVersion() string {
	s := sha256.New()
	fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := staticFS.ReadFile(p)
			s.Write([]byte(p))
			s.Write(b)
		}
		return nil
	})
	return hex.EncodeToString(s.Sum(nil))[:12]
}

// invalidAttrs marks an input whose value was refused and ties it to its
// message, so screen readers announce the problem with the field.
func invalidAttrs(fields map[string]string, field string) template.HTMLAttr {
	if fields[field] == "" {
		return ""
	}
	return template.HTMLAttr(`aria-invalid="true" aria-describedby="` + template.HTMLEscapeString(fieldID(field)) + `-err"`)
}

// fieldError is the message shown next to a refused field, or nothing.
func fieldError(fields map[string]string, field string) template.HTML {
	msg := fields[field]
	if msg == "" {
		return ""
	}
	return template.HTML(`<p class="field-error" id="` + template.HTMLEscapeString(fieldID(field)) + `-err"><span class="vh">Error: </span>` + template.HTMLEscapeString(msg) + `</p>`)
}

// fieldID is the HTML id of a form field, so error summaries can link to it.
func fieldID(field string) string {
	return "f-" + strings.NewReplacer(".", "-", "[", "-", "]", "", "_", "-").Replace(field)
}

// formatCount writes a number of people with thousands separators.
func formatCount(n int) string {
	s := strconv.Itoa(n)
	if n < 0 {
		return s
	}
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// fieldErr is one problem in a form, for the summary at its top.
type fieldErr struct {
	Field   string // "" when it concerns no one field
	Message string
}

// formErrors is what a form shows after a refused submission: a message per
// field and the summary list, in form order.
type formErrors struct {
	Fields  map[string]string
	Summary []fieldErr
}

// Has reports whether there is any error.
func (e formErrors) Has() bool { return len(e.Summary) > 0 }

// add records msg for field; a second message for the same field is joined.
func (e *formErrors) add(field, msg string) {
	msg = upperFirst(msg)
	if e.Fields == nil {
		e.Fields = map[string]string{}
	}
	if field != "" {
		if prev, ok := e.Fields[field]; ok {
			e.Fields[field] = prev + " " + msg
		} else {
			e.Fields[field] = msg
		}
	}
	e.Summary = append(e.Summary, fieldErr{field, msg})
}

// sortSummary orders the summary as the fields appear in the form.
func (e *formErrors) sortSummary(order []string) {
	rank := func(f string) int {
		for i, o := range order {
			if o == f {
				return i
			}
		}
		return len(order)
	}
	s := e.Summary
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && rank(s[j].Field) < rank(s[j-1].Field); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
