package web_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/audience"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/httpauth"
	"github.com/candorhq/candor/internal/incident"
	"github.com/candorhq/candor/internal/server"
	"github.com/candorhq/candor/internal/store"
	"github.com/candorhq/candor/internal/store/storetest"
	"github.com/candorhq/candor/internal/web"
)

func TestMain(m *testing.M) { storetest.Main(m) }

var ctx = context.Background()

const password = "correct horse battery staple"

// env is a running UI with one signed-in session per role.
type env struct {
	t        *testing.T
	db       *store.DB
	svc      *app.Service
	srv      *httptest.Server
	users    map[auth.Role]auth.User
	sessions map[auth.Role]string
	ips      atomic.Int64
	seq      int
	mailbox  *fakeMailbox // nil without a demo mailbox
}

// newEnv starts the UI with a demo mailbox.
func newEnv(t *testing.T, db *store.DB) *env {
	t.Helper()
	mb := &fakeMailbox{}
	e := newEnvWith(t, db, web.Options{Mailbox: mb})
	e.mailbox = mb
	return e
}

// newEnvWith is newEnv with the UI's options.
func newEnvWith(t *testing.T, db *store.DB, opt web.Options) *env {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	svc := app.New(db, log, app.Options{})
	e := &env{t: t, db: db, svc: svc, users: map[auth.Role]auth.User{}, sessions: map[auth.Role]string{}}
	for _, r := range auth.Roles {
		u := addUser(t, db, r)
		e.users[r] = u
		e.sessions[r] = e.login(u.Email)
	}
	e.srv = httptest.NewServer(server.Handler(svc, log, server.Options{Web: opt}))
	t.Cleanup(e.srv.Close)
	return e
}

// addUser creates the user <role>@example.com, named "The <role>", who
// signs in with password.
func addUser(t *testing.T, db *store.DB, r auth.Role) auth.User {
	t.Helper()
	hash, err := auth.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	u, err := db.CreateUser(ctx, auth.CLI, auth.NewUser{Email: string(r) + "@example.com", Name: "The " + string(r), Role: r}, hash)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// login starts a session directly through the service, each from its own
// address so the sign-in rate limit never trips in tests.
func (e *env) login(email string) string {
	e.t.Helper()
	secret, _, err := e.svc.Login(ctx, email, password, fmt.Sprintf("10.0.%d.1", e.ips.Add(1)), "test")
	if err != nil {
		e.t.Fatalf("login %s: %v", email, err)
	}
	return secret
}

type resp struct {
	status   int
	body     string
	header   http.Header
	location string
}

// request sends a request with the session secret (none when ""). A POST
// carries the session's CSRF token unless noCSRF.
func (e *env) request(secret, method, path string, form url.Values, noCSRF bool) resp {
	e.t.Helper()
	var body io.Reader
	if method == http.MethodPost {
		if form == nil {
			form = url.Values{}
		}
		if secret != "" && !noCSRF && !form.Has(httpauth.CSRFField) {
			form.Set(httpauth.CSRFField, auth.CSRFToken(secret))
		}
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if secret != "" {
		req.AddCookie(&http.Cookie{Name: httpauth.CookieName, Value: secret})
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	r, err := client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return resp{status: r.StatusCode, body: string(b), header: r.Header, location: r.Header.Get("Location")}
}

// upload sends a multipart form with the fields (the session's CSRF token
// first, unless noCSRF) and then a file field named "file".
func (e *env) upload(secret, path string, form url.Values, fileName, content string, noCSRF bool) resp {
	e.t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	if secret != "" && !noCSRF && !form.Has(httpauth.CSRFField) {
		mw.WriteField(httpauth.CSRFField, auth.CSRFToken(secret))
	}
	for k, vs := range form {
		for _, v := range vs {
			mw.WriteField(k, v)
		}
	}
	fw, _ := mw.CreateFormFile("file", fileName)
	io.WriteString(fw, content)
	mw.Close()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+path, &b)
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if secret != "" {
		req.AddCookie(&http.Cookie{Name: httpauth.CookieName, Value: secret})
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	r, err := client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer r.Body.Close()
	body, _ := io.ReadAll(r.Body)
	return resp{status: r.StatusCode, body: string(body), header: r.Header, location: r.Header.Get("Location")}
}

// audience creates an audience of the incident (a standing list for 0)
// holding three recipients.
func (e *env) audience(incidentID int64) audience.Audience {
	e.t.Helper()
	e.seq++
	a, err := e.svc.CreateAudience(ctx, auth.CLI, audience.New{IncidentID: incidentID, Kind: audience.AffectedCustomers, Name: fmt.Sprintf("Audience %d", e.seq)})
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.svc.ImportRecipients(ctx, auth.CLI, a.ID, strings.NewReader("email,jurisdiction,exposed,plan\nana@example.com,US-CA,card_number;card_expiry,business\nbob@example.com,US-NV,card_number,home\ncy@example.com,US-CA,email,home\n"), audience.ImportOptions{}); err != nil {
		e.t.Fatal(err)
	}
	return a
}

// as sends a request as role ("" for anonymous).
func (e *env) as(role auth.Role, method, path string, form url.Values) resp {
	e.t.Helper()
	return e.request(e.sessions[role], method, path, form, false)
}

func (e *env) incident() incident.Incident {
	e.t.Helper()
	in, err := e.svc.CreateIncident(ctx, auth.CLI, incident.New{Title: "Card numbers exposed",
		Facts: incident.Facts{WhatHappened: "An extortionist claims to hold our customer records.", AffectedTotal: 15000, Exposed: []incident.DataKind{"card_number"}}})
	if err != nil {
		e.t.Fatal(err)
	}
	return in
}

// auditCount is the number of audit entries; every change adds at least one.
func (e *env) auditCount() int64 {
	e.t.Helper()
	n, p, err := e.db.VerifyAudit(ctx)
	if err != nil || p != nil {
		e.t.Fatalf("audit: %v %v", err, p)
	}
	return n
}

func (e *env) principal(r auth.Role) auth.Principal {
	u := e.users[r]
	return auth.Principal{UserID: u.ID, Email: u.Email, Role: u.Role, Via: "session"}
}
