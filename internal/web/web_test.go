package web_test

import (
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/httpauth"
	"github.com/candorhq/candor/internal/incident"
	"github.com/candorhq/candor/internal/store"
	"github.com/candorhq/candor/internal/store/storetest"
)

func mustContain(t *testing.T, body string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(body, w) {
			t.Errorf("page does not contain %q; page:\n%s", w, snippet(body))
		}
	}
}

var inputValue = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func TestLogin(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	// form fetches the sign-in page and returns its token and cookie.
	form := func() (string, *http.Cookie) {
		r, err := client.Get(e.srv.URL + "/login?next=/incidents/1")
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		var b strings.Builder
		fmt.Fprint(&b, readAll(r))
		m := inputValue.FindStringSubmatch(b.String())
		if m == nil || len(r.Cookies()) == 0 {
			t.Fatalf("sign-in page has no token or cookie")
		}
		return m[1], r.Cookies()[0]
	}
	post := func(v url.Values, c *http.Cookie) resp {
		req, _ := http.NewRequest("POST", e.srv.URL+"/login", strings.NewReader(v.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", "1.2.3.4")
		if c != nil {
			req.AddCookie(c)
		}
		r, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		return resp{status: r.StatusCode, body: readAll(r), header: r.Header, location: r.Header.Get("Location")}
	}

	t.Run("success comes back to the page asked for", func(t *testing.T) {
		tok, c := form()
		got := post(url.Values{"email": {"editor@example.com"}, "password": {password}, "csrf_token": {tok}, "next": {"/incidents/1"}}, c)
		if got.status != http.StatusSeeOther || got.location != "/incidents/1" {
			t.Fatalf("status %d to %q, want 303 to /incidents/1", got.status, got.location)
		}
		var session *http.Cookie
		for _, c := range (&http.Response{Header: got.header}).Cookies() {
			if c.Name == httpauth.CookieName {
				session = c
			}
		}
		if session == nil || !session.HttpOnly || session.SameSite != http.SameSiteLaxMode {
			t.Fatalf("session cookie %+v, want HttpOnly and SameSite=Lax", session)
		}
		page := e.request(session.Value, "GET", "/", nil, false)
		mustContain(t, page.body, "editor@example.com")
		mustContain(t, strings.Join(got.header.Values("Set-Cookie"), "\n"), "candor_flash=ok.")
	})
	t.Run("a wrong password keeps the email and says so", func(t *testing.T) {
		tok, c := form()
		got := post(url.Values{"email": {"editor@example.com"}, "password": {"wrong password!"}, "csrf_token": {tok}}, c)
		if got.status != http.StatusUnauthorized {
			t.Fatalf("status %d, want 401", got.status)
		}
		mustContain(t, got.body, "do not match an account", `value="editor@example.com"`)
	})
	t.Run("a form without its token is refused", func(t *testing.T) {
		got := post(url.Values{"email": {"editor@example.com"}, "password": {password}}, nil)
		if got.status != http.StatusForbidden || strings.Contains(got.header.Get("Set-Cookie"), httpauth.CookieName) {
			t.Fatalf("status %d, want 403 and no session", got.status)
		}
		mustContain(t, got.body, "The form expired")
	})
	t.Run("another site is never the next page", func(t *testing.T) {
		for _, next := range []string{"//evil.example/", "https://evil.example/", "/\\evil.example"} {
			tok, c := form()
			got := post(url.Values{"email": {"viewer@example.com"}, "password": {password}, "csrf_token": {tok}, "next": {next}}, c)
			if got.location != "/" {
				t.Errorf("next %q: redirected to %q, want /", next, got.location)
			}
		}
	})
	t.Run("too many attempts are refused with the wait", func(t *testing.T) {
		var got resp
		for i := 0; i < 8; i++ {
			tok, c := form()
			got = post(url.Values{"email": {"admin@example.com"}, "password": {"not the password"}, "csrf_token": {tok}}, c)
		}
		if got.status != http.StatusTooManyRequests {
			t.Fatalf("status %d, want 429", got.status)
		}
		mustContain(t, got.body, "Too many sign-in attempts", "wait")
	})
	t.Run("sign out ends the session", func(t *testing.T) {
		secret := e.login("responder@example.com")
		got := e.request(secret, "POST", "/logout", nil, false)
		if got.status != http.StatusSeeOther || got.location != "/login?signed_out=1" {
			t.Fatalf("status %d to %q", got.status, got.location)
		}
		if got := e.request(secret, "GET", "/", nil, false); got.status != http.StatusSeeOther {
			t.Fatalf("after sign-out GET / = %d, want a redirect to sign in", got.status)
		}
	})
}

func readAll(r *http.Response) string {
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			return b.String()
		}
	}
}

// TestFactsValidationKeepsWhatWasTyped posts facts with several mistakes:
// the form comes back with everything typed, each error by its field, a
// summary linking to the fields, and a bad jurisdiction line named by number.
func TestFactsValidationKeepsWhatWasTyped(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		in := e.incident()
		before := e.auditCount()
		got := e.as(auth.Editor, "POST", fmt.Sprintf("/incidents/%d/facts", in.ID), url.Values{
			"base_version":             {"1"},
			"what_happened":            {"A person calling himself \"Mr. Z\" holds our records."},
			"discovered_at":            {"2024-03-01T14:30"},
			"occurred_from":            {"2099-01-01T00:00"},
			"kind.card_number":         {"exposed"},
			"kind.password_hash":       {"not_exposed"},
			"affected_total":           {"15000"},
			"affected_by_jurisdiction": {"US-CA 14210\nUS-XX 5\n\nnonsense line here"},
			"contact.email":            {"not an address"},
			"people_should":            {"Watch your card statements."},
			"reason":                   {""},
		})
		if got.status != http.StatusUnprocessableEntity {
			t.Fatalf("status %d, want 422", got.status)
		}
		if e.auditCount() != before {
			t.Error("a refused save changed the audit log")
		}
		mustContain(t, got.body,
			html.EscapeString(`A person calling himself "Mr. Z" holds our records.`),
			`value="2024-03-01T14:30"`,
			"US-CA 14210\nUS-XX 5\n\nnonsense line here",
			`value="not an address"`,
			"Watch your card statements.",
			`name="kind.card_number" value="exposed" checked`,
			`name="kind.password_hash" value="not_exposed" checked`,
			`value="15000"`,
			"Line 2: unknown jurisdiction",
			"Line 4 (",
			"is in the future",
			"is not an email address",
			"Say why the facts changed",
			`href="#f-contact-email"`,
			`id="f-contact-email-err"`,
			`aria-invalid="true"`,
			"There are ",
		)
	})
}

// TestFactsConflictShowsTheOtherChange saves facts from a stale version: the
// page keeps what was typed, shows what the other person changed, who and
// why, and moves base_version on so that saving again is a decision.
func TestFactsConflictShowsTheOtherChange(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		in := e.incident()
		v1, err := e.svc.Facts(ctx, auth.CLI, in.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		other := v1.Facts
		other.AffectedTotal = 14872
		other.Exposed = append(other.Exposed, "card_expiry")
		if _, err := e.svc.SaveFacts(ctx, e.principal(auth.Approver), in.ID, 1, other, "billing export gives the exact count"); err != nil {
			t.Fatal(err)
		}
		before := e.auditCount()
		form := url.Values{"base_version": {"1"}, "what_happened": {"My own words about the breach."},
			"affected_total": {"15000"}, "kind.card_number": {"exposed"}, "reason": {"clearer wording"}}
		got := e.as(auth.Editor, "POST", fmt.Sprintf("/incidents/%d/facts", in.ID), form)
		if got.status != http.StatusConflict {
			t.Fatalf("status %d, want 409; body:\n%s", got.status, snippet(got.body))
		}
		if e.auditCount() != before {
			t.Error("a conflicting save changed the audit log")
		}
		mustContain(t, got.body,
			"Someone else saved these facts while you were editing",
			"approver@example.com", "billing export gives the exact count",
			"People affected", "15000", "14872", "Card expiry dates",
			"My own words about the breach.", `value="clearer wording"`,
			`name="base_version" value="2"`,
		)
		// Saving again, now from version 2, is accepted.
		form.Set("base_version", "2")
		if got := e.as(auth.Editor, "POST", fmt.Sprintf("/incidents/%d/facts", in.ID), form); got.status != http.StatusSeeOther {
			t.Fatalf("second save: status %d; body:\n%s", got.status, snippet(got.body))
		}
		v, _ := e.svc.Facts(ctx, auth.CLI, in.ID, 0)
		if v.Version != 3 || v.Facts.WhatHappened != "My own words about the breach." {
			t.Fatalf("current facts: version %d %q", v.Version, v.Facts.WhatHappened)
		}
	})
}

// TestFactsRoundTrip saves every field through the form and reads it back on
// the incident page and in the edit form, and checks the history and diff.
func TestFactsRoundTrip(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	in := e.incident()
	path := fmt.Sprintf("/incidents/%d", in.ID)
	edit := e.as(auth.Editor, "GET", path+"/facts/edit", nil)
	mustContain(t, edit.body, `name="base_version" value="1"`, "(UTC)", `type="datetime-local"`)
	got := e.as(auth.Editor, "POST", path+"/facts", url.Values{
		"base_version": {"1"}, "what_happened": {"Card data was copied."}, "discovered_at": {"2024-03-01T14:30"},
		"occurred_from": {"2024-02-01T00:00"}, "occurred_to": {"2024-02-20 08:15"},
		"kind.card_number": {"exposed"}, "kind.password_hash": {"not_exposed"}, "affected_total": {"15,000"},
		"affected_by_jurisdiction": {"us-ca 14210\r\nUS-NV: 662\r\n"}, "company_actions": {"Closed the gap."},
		"people_should": {"Watch statements."}, "contact.email": {"help@example.com"}, "contact.phone": {"+1 951 555 0100"},
		"contact.url": {"https://example.com/incident"}, "became_aware_at": {"2024-03-01T15:00"},
		"breach_determined_at": {"2024-03-02T09:00"}, "materiality_determined_at": {"2024-03-03T10:00"},
		"reason": {"forensics report"},
	})
	if got.status != http.StatusSeeOther || got.location != path {
		t.Fatalf("status %d to %q; body:\n%s", got.status, got.location, snippet(got.body))
	}
	v, _ := e.svc.Facts(ctx, auth.CLI, in.ID, 0)
	want := []incident.Jurisdictional{{Code: "US-CA", Count: 14210}, {Code: "US-NV", Count: 662}}
	if v.Version != 2 || v.Facts.AffectedTotal != 15000 || fmt.Sprint(v.Facts.AffectedBy) != fmt.Sprint(want) ||
		incident.FormatTime(v.Facts.OccurredTo) != "2024-02-20 08:15 UTC" || fmt.Sprint(v.Facts.NotExposed) != "[password_hash]" {
		t.Fatalf("saved facts: %+v", v)
	}
	page := e.as(auth.Editor, "GET", path, nil)
	mustContain(t, page.body, "Payment card numbers", "Hashed passwords", "15,000", "14,210",
		"US-NV", "2024-03-02 09:00 UTC", "help@example.com", "forensics report")
	edit = e.as(auth.Editor, "GET", path+"/facts/edit", nil)
	mustContain(t, edit.body, `name="base_version" value="2"`, "US-CA 14210\nUS-NV 662", `value="2024-02-20T08:15"`)
	hist := e.as(auth.Viewer, "GET", path+"/versions", nil)
	mustContain(t, hist.body, "Version 2", "forensics report", "Incident opened", "editor@example.com")
	diff := e.as(auth.Viewer, "GET", path+"/versions/diff?from=1&to=2", nil)
	mustContain(t, diff.body, "Version 1 said", "Version 2 says", "Data not exposed", "Hashed passwords", "Affected by jurisdiction")
}

func TestIncidentPages(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	t.Run("create keeps typed values on error", func(t *testing.T) {
		got := e.as(auth.Editor, "POST", "/incidents", url.Values{"title": {"  "}, "severity": {"apocalyptic"}, "what_happened": {"Staff phished."}, "discovered_at": {"yesterday"}})
		if got.status != http.StatusUnprocessableEntity {
			t.Fatalf("status %d", got.status)
		}
		mustContain(t, got.body, "A title is required", "Unknown severity", "Staff phished.", `value="yesterday"`, "is not a date and time")
	})
	t.Run("create then flash", func(t *testing.T) {
		got := e.as(auth.Editor, "POST", "/incidents", url.Values{"title": {"Staff mailboxes read"}, "severity": {"critical"}})
		if got.status != http.StatusSeeOther {
			t.Fatalf("status %d", got.status)
		}
		flash := (&http.Response{Header: got.header}).Cookies()
		req, _ := http.NewRequest("GET", e.srv.URL+got.location, nil)
		req.AddCookie(&http.Cookie{Name: httpauth.CookieName, Value: e.sessions[auth.Editor]})
		for _, c := range flash {
			req.AddCookie(c)
		}
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body := readAll(r)
		r.Body.Close()
		mustContain(t, body, "Incident opened.", "Staff mailboxes read", "sev-critical")
		// A flash cookie forged without the session secret shows nothing.
		req.Header.Del("Cookie")
		req.AddCookie(&http.Cookie{Name: httpauth.CookieName, Value: e.sessions[auth.Editor]})
		req.AddCookie(&http.Cookie{Name: "candor_flash", Value: "ok.SGFja2Vk.0000"})
		r, _ = http.DefaultClient.Do(req)
		if body := readAll(r); strings.Contains(body, "Hacked") {
			t.Error("a forged flash message was shown")
		}
		r.Body.Close()
	})
	t.Run("invalid move shows why", func(t *testing.T) {
		in := e.incident()
		got := e.as(auth.Editor, "POST", fmt.Sprintf("/incidents/%d/state", in.ID), url.Values{"state": {"closed"}, "note": {"done?"}})
		if got.status != http.StatusUnprocessableEntity {
			t.Fatalf("status %d", got.status)
		}
		mustContain(t, got.body, "Cannot move from investigating to closed", "done?")
	})
	t.Run("list filters by state and pages", func(t *testing.T) {
		for i := 0; i < 30; i++ {
			e.incident()
		}
		got := e.as(auth.Viewer, "GET", "/", nil)
		mustContain(t, got.body, "Older incidents", "state-investigating", "version 1")
		if strings.Contains(got.body, "Open an incident") {
			t.Error("a viewer sees the button to open an incident")
		}
		m := regexp.MustCompile(`href="(/\?before=\d+)"`).FindStringSubmatch(got.body)
		if m == nil {
			t.Fatal("no link to older incidents")
		}
		if older := e.as(auth.Viewer, "GET", html.UnescapeString(m[1]), nil); older.status != http.StatusOK || !strings.Contains(older.body, "Newest incidents") {
			t.Errorf("older page: %d", older.status)
		}
		if got := e.as(auth.Viewer, "GET", "/?state=closed", nil); !strings.Contains(got.body, "No incidents are Closed") {
			t.Errorf("filtered list:\n%s", snippet(got.body))
		}
		if got := e.as(auth.Viewer, "GET", "/?state=bogus", nil); got.status != http.StatusBadRequest {
			t.Errorf("unknown state filter: %d, want 400", got.status)
		}
	})
	t.Run("a viewer sees no edit controls", func(t *testing.T) {
		in := e.incident()
		got := e.as(auth.Viewer, "GET", fmt.Sprintf("/incidents/%d", in.ID), nil)
		for _, s := range []string{"Edit the facts", "Move the incident", "/update"} {
			if strings.Contains(got.body, s) {
				t.Errorf("viewer's incident page contains %q", s)
			}
		}
	})
}

func TestErrorPages(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	for _, c := range []struct {
		path   string
		status int
		text   string
	}{
		{"/incidents/abc", 400, "is not a valid number"},
		{"/incidents/0", 400, "is not a valid number"},
		{"/incidents/999999", 404, "Incident 999999 not found"},
		{"/incidents/1/versions/diff?from=x&to=1", 400, "Pick two versions"},
		{"/incidents/999999/facts/edit", 404, "Not found"},
		{"/nowhere", 404, "Page not found"},
		{"/audit?before=-1", 400, "not a valid page position"},
	} {
		got := e.as(auth.Editor, "GET", c.path, nil)
		if got.status != c.status {
			t.Errorf("%s: status %d, want %d", c.path, got.status, c.status)
		}
		mustContain(t, got.body, c.text)
		if n := strings.Count(got.body, "<h1"); n != 1 {
			t.Errorf("%s: %d h1 elements", c.path, n)
		}
	}
	// Bodies are limited: a 2 MiB form is refused before it is read.
	big := url.Values{"what_happened": {strings.Repeat("x", 2<<20)}, "reason": {"r"}, "base_version": {"1"}}
	in := e.incident()
	if got := e.as(auth.Editor, "POST", fmt.Sprintf("/incidents/%d/facts", in.ID), big); got.status != http.StatusRequestEntityTooLarge {
		t.Errorf("2 MiB form: status %d, want 413", got.status)
	}
}

func TestHeadersAndStatic(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	for _, c := range []struct {
		role auth.Role
		path string
	}{{auth.Viewer, "/"}, {"", "/login"}, {auth.Viewer, "/nowhere"}} {
		path := c.path
		got := e.as(c.role, "GET", path, nil)
		h := got.header
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		if h.Get("X-Frame-Options") != "DENY" || h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") == "" || h.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: headers %v", path, h)
		}
		if strings.Contains(got.body, "<script>") || strings.Contains(got.body, " style=") || strings.Contains(got.body, " onclick=") {
			t.Errorf("%s: inline script or style", path)
		}
	}
	page := e.as(auth.Viewer, "GET", "/", nil)
	m := regexp.MustCompile(`href="(/static/style\.css\?v=\w+)"`).FindStringSubmatch(page.body)
	if m == nil {
		t.Fatal("no versioned stylesheet link")
	}
	css := e.as("", "GET", m[1], nil)
	if css.status != 200 || !strings.Contains(css.header.Get("Cache-Control"), "immutable") || !strings.HasPrefix(css.header.Get("Content-Type"), "text/css") {
		t.Errorf("stylesheet: %d %v", css.status, css.header)
	}
	if got := e.as("", "GET", "/static/", nil); got.status != 404 {
		t.Errorf("static directory listing: %d", got.status)
	}
}

func TestAdminPages(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	t.Run("add user keeps values and shows errors", func(t *testing.T) {
		got := e.as(auth.Admin, "POST", "/users", url.Values{"email": {"nope"}, "name": {"Nina"}, "role": {"editor"}, "password": {"short"}})
		if got.status != http.StatusUnprocessableEntity {
			t.Fatalf("status %d", got.status)
		}
		mustContain(t, got.body, `value="nope"`, `value="Nina"`, `value="editor" checked`, "is not an email address", "Use at least 12 characters")
		if strings.Contains(got.body, "short") {
			t.Error("the password was echoed back")
		}
	})
	t.Run("the last admin cannot be demoted", func(t *testing.T) {
		got := e.as(auth.Admin, "POST", fmt.Sprintf("/users/%d/role", e.users[auth.Admin].ID), url.Values{"role": {"viewer"}})
		if got.status != http.StatusSeeOther || got.location != "/users" {
			t.Fatalf("status %d to %q", got.status, got.location)
		}
	})
	t.Run("a token is shown once", func(t *testing.T) {
		got := e.as(auth.Admin, "POST", "/tokens", url.Values{"email": {"editor@example.com"}, "name": {"status sync"}, "role": {"viewer"}})
		m := regexp.MustCompile(`value="(` + auth.TokenPrefix + `[^"]+)"`).FindStringSubmatch(got.body)
		if got.status != 200 || m == nil {
			t.Fatalf("status %d; body:\n%s", got.status, snippet(got.body))
		}
		mustContain(t, got.body, "shown only once")
		list := e.as(auth.Admin, "GET", "/tokens", nil)
		mustContain(t, list.body, "status sync", "editor@example.com")
		if strings.Contains(list.body, m[1]) {
			t.Error("the token list shows the secret")
		}
		bad := e.as(auth.Admin, "POST", "/tokens", url.Values{"email": {"viewer@example.com"}, "role": {"admin"}})
		if bad.status != http.StatusUnprocessableEntity {
			t.Errorf("token above the user's role: %d", bad.status)
		}
		mustContain(t, bad.body, "cannot have more power than its user")
	})
	t.Run("verify the chain", func(t *testing.T) {
		got := e.as(auth.Admin, "POST", "/audit/verify", nil)
		flash := (&http.Response{Header: got.header}).Cookies()
		req, _ := http.NewRequest("GET", e.srv.URL+"/audit", nil)
		req.AddCookie(&http.Cookie{Name: httpauth.CookieName, Value: e.sessions[auth.Admin]})
		for _, c := range flash {
			req.AddCookie(c)
		}
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		mustContain(t, readAll(r), "The audit chain is intact", "user.create")
	})
}
