package web_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/httpauth"
	"github.com/candorhq/candor/internal/incident"
	"github.com/candorhq/candor/internal/server"
	"github.com/candorhq/candor/internal/store"
	"github.com/candorhq/candor/internal/store/storetest"
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
}

func newEnv(t *testing.T, db *store.DB) *env {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	svc := app.New(db, log, app.Options{})
	e := &env{t: t, db: db, svc: svc, users: map[auth.Role]auth.User{}, sessions: map[auth.Role]string{}}
	for _, r := range auth.Roles {
		hash, err := auth.HashPassword(password)
		if err != nil {
			t.Fatal(err)
		}
		u, err := db.CreateUser(ctx, auth.CLI, auth.NewUser{Email: string(r) + "@example.com", Name: "The " + string(r), Role: r}, hash)
		if err != nil {
			t.Fatal(err)
		}
		e.users[r] = u
		e.sessions[r] = e.login(u.Email)
	}
	e.srv = httptest.NewServer(server.Handler(svc, log, server.Options{}))
	t.Cleanup(e.srv.Close)
	return e
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
