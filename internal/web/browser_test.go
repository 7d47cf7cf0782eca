package web_test

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/browsertest"
	"github.com/candorhq/candor/internal/server"
	"github.com/candorhq/candor/internal/store/storetest"
)

// signIn signs in and waits for a page only a signed-in person sees (the
// sign-in page has an h1 too, so waiting for one races the form's post).
func signIn(b *browsertest.Browser, email string) {
	b.T.Helper()
	b.Run("sign in as "+email,
		chromedp.Navigate(b.Base+"/"),
		chromedp.WaitVisible(chromedp.ID("f-email")),
		chromedp.SendKeys(chromedp.ID("f-email"), email),
		chromedp.SendKeys(chromedp.ID("f-password"), password),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/logout"]`)),
	)
	b.Expect("signed in as "+email, "Signed in as", "Incidents")
}

// loopback listens on a free port of 127.0.0.1. Chromium treats the
// address as a secure context, so it keeps the Secure session cookie over
// plain HTTP.
func loopback(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// serve serves h on l until the test ends.
func serve(t *testing.T, l net.Listener, h http.Handler) *httptest.Server {
	t.Helper()
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: h}}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// TestBrowser drives a real Chromium through the crisis team's main path:
// open an incident, record facts, read the history and a diff, lose a race
// with a colleague and see their change, and be refused as a viewer. The
// session cookie is Secure, as in production: Chromium treats 127.0.0.1 as
// a secure context, so it keeps the cookie over plain HTTP on loopback.
func TestBrowser(t *testing.T) {
	db := storetest.SQLite(t)
	log := slog.New(slog.DiscardHandler)
	svc := app.New(db, log, app.Options{})
	addUser(t, db, auth.Editor)
	addUser(t, db, auth.Viewer)
	srv := serve(t, loopback(t), server.Handler(svc, log, server.Options{SecureCookies: true}))

	b := browsertest.New(t, srv.URL)
	signIn(b, "editor@example.com")

	b.Run("open an incident",
		chromedp.Click(chromedp.CSS(`a[href="/incidents/new"]`)),
		chromedp.WaitVisible(chromedp.ID("f-title")),
		chromedp.SendKeys(chromedp.ID("f-title"), "Subscriber card numbers stolen"),
		chromedp.Click(chromedp.CSS(`input[name="severity"][value="critical"]`)),
		chromedp.SendKeys(chromedp.ID("f-what-happened"), "An extortionist claims to hold our customer records."),
		chromedp.Submit(chromedp.ID("f-title")),
		chromedp.WaitVisible(chromedp.CSS(`a[href$="/facts/edit"]`)),
	)
	b.Expect("incident page", "Incident opened", "Subscriber card numbers stolen", "Investigating", "critical", "version 1")
	incidentURL := browsertest.Get(b, "read the incident address", chromedp.Location())

	b.Run("edit the facts",
		chromedp.Click(chromedp.CSS(`a[href$="/facts/edit"]`)),
		chromedp.WaitVisible(chromedp.ID("f-reason")),
		chromedp.Click(chromedp.CSS(`input[name="kind.card_number"][value="exposed"]`)),
		chromedp.Click(chromedp.CSS(`input[name="kind.password_hash"][value="not_exposed"]`)),
		chromedp.SetValue(chromedp.ID("f-affected-total"), "15000"),
		chromedp.SetValue(chromedp.ID("f-affected-by-jurisdiction"), "US-CA 14210\nUS-NV 662"),
		chromedp.SetValue(chromedp.ID("f-discovered-at"), "2024-03-01T14:30"),
		chromedp.SendKeys(chromedp.ID("f-reason"), "Forensics confirmed card numbers were copied"),
		chromedp.Submit(chromedp.ID("f-reason")),
		chromedp.WaitVisible(chromedp.ID("h-facts")),
	)
	b.Expect("facts saved", "Saved facts version 2", "Payment card numbers", "Hashed passwords", "15,000", "US-CA", "14,210", "2024-03-01 14:30 UTC")

	b.Run("open the history",
		chromedp.Click(chromedp.CSS(`a[href$="/versions"]`)),
		chromedp.WaitVisible(chromedp.ID("h-compare")),
	)
	b.Expect("history", "Version 2", "Version 1", "Forensics confirmed card numbers were copied", "Incident opened", "editor@example.com")
	b.Run("compare version 1 and 2",
		chromedp.SetValue(chromedp.ID("f-from"), "1"),
		chromedp.SetValue(chromedp.ID("f-to"), "2"),
		chromedp.Submit(chromedp.ID("f-from")),
		chromedp.WaitVisible(chromedp.CSS(`table.diff`)),
	)
	b.Expect("diff", "Version 1 and version 2 compared", "Data exposed", "Payment card numbers", "Data not exposed", "Hashed passwords", "People affected", "15000")

	// Two tabs open the editor on version 2; the second saves first.
	stale := b.Tab()
	stale.Run("open the editor in a second tab",
		chromedp.Navigate(incidentURL+"/facts/edit"),
		chromedp.WaitVisible(chromedp.ID("f-reason")),
	)
	b.Run("a colleague saves version 3",
		chromedp.Navigate(incidentURL+"/facts/edit"),
		chromedp.WaitVisible(chromedp.ID("f-reason")),
		chromedp.Click(chromedp.CSS(`input[name="kind.card_expiry"][value="exposed"]`)),
		chromedp.SendKeys(chromedp.ID("f-reason"), "Expiry dates were taken too"),
		chromedp.Submit(chromedp.ID("f-reason")),
		chromedp.WaitVisible(chromedp.ID("h-facts")),
	)
	b.Expect("version 3 saved", "Saved facts version 3", "Card expiry dates")
	stale.Run("save from the stale tab",
		chromedp.SetValue(chromedp.ID("f-what-happened"), "Customer records were copied from the billing system."),
		chromedp.SendKeys(chromedp.ID("f-reason"), "Clearer wording"),
		chromedp.Submit(chromedp.ID("f-reason")),
		chromedp.WaitVisible(chromedp.ID("conflict")),
	)
	stale.Expect("conflict message", "Someone else saved these facts while you were editing", "Card expiry dates",
		"Expiry dates were taken too", "editor@example.com", "Your changes are not saved yet")
	typed := browsertest.Get(stale, "the form kept what was typed", chromedp.Value(chromedp.ID("f-what-happened")))
	base := browsertest.Get(stale, "base_version moved on", chromedp.AttributeValue(chromedp.CSS(`input[name="base_version"]`), "value")).Value
	if typed != "Customer records were copied from the billing system." || base != "3" {
		stale.Fail("conflict form", fmt.Errorf("what happened %q, base_version %q; want the typed text and 3", typed, base))
	}

	b.Run("sign out",
		chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
		chromedp.WaitVisible(chromedp.ID("f-email")),
	)
	b.Expect("signed out", "You are signed out")
	signIn(b, "viewer@example.com")
	b.Run("the viewer opens the incident",
		chromedp.Navigate(incidentURL),
		chromedp.WaitVisible(chromedp.ID("h-facts")),
	)
	editLinks := browsertest.Get(b, "count edit controls", chromedp.Evaluate[int](`document.querySelectorAll('a[href$="/facts/edit"], form[action$="/facts"], form[action$="/state"]').length`))
	if editLinks != 0 {
		b.Fail("viewer page", fmt.Errorf("the viewer sees %d edit controls", editLinks))
	}
	b.Run("the viewer visits the editor directly",
		chromedp.Navigate(incidentURL+"/facts/edit"),
		chromedp.WaitVisible(chromedp.CSS(`h1`)),
	)
	b.Expect("edit page refused", "Not allowed", "Your role (viewer) cannot change the facts")
	b.Run("the viewer reloads the incident",
		chromedp.Navigate(incidentURL),
		chromedp.WaitVisible(chromedp.ID("h-facts")),
	)
	// The page's CSP allows no fetch, so the forged request is a real form
	// post built in the page, with the viewer's own valid CSRF token.
	browsertest.Get(b, "the viewer posts the facts form directly", chromedp.Evaluate[bool](`(() => {
		const f = document.createElement("form");
		f.method = "post";
		f.action = location.pathname + "/facts";
		const token = document.querySelector('input[name="csrf_token"]').value;
		for (const [k, v] of Object.entries({csrf_token: token, base_version: "3", reason: "sneaky", what_happened: "nothing"})) {
			const i = document.createElement("input");
			i.type = "hidden"; i.name = k; i.value = v;
			f.appendChild(i);
		}
		document.body.appendChild(f);
		f.submit();
		return true;
	})()`))
	b.Run("the refusal page loads", chromedp.WaitVisible(chromedp.CSS(".error-page")))
	b.Expect("post refused", "Not allowed", "Your role (viewer) cannot change the facts")
	v, err := svc.Facts(ctx, auth.CLI, 1, 0)
	if err != nil || v.Version != 3 {
		t.Fatalf("facts after the viewer's post: version %d, %v; want 3", v.Version, err)
	}
}
