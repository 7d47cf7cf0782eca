package web_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/browsertest"
	"github.com/candorhq/candor/internal/incident"
	"github.com/candorhq/candor/internal/public"
	"github.com/candorhq/candor/internal/server"
	"github.com/candorhq/candor/internal/status"
	"github.com/candorhq/candor/internal/store/storetest"
	"github.com/candorhq/candor/internal/web"
)

// TestBrowserStatusUpdate: an approver posts an update from the incident
// page, sees it in the incident's public timeline, then opens the public
// status page in the same browser and reads it there.
func TestBrowserStatusUpdate(t *testing.T) {
	db := storetest.SQLite(t)
	log := slog.New(slog.DiscardHandler)
	svc := app.New(db, log, app.Options{})
	addUser(t, db, auth.Approver)
	in, err := svc.CreateIncident(ctx, auth.CLI, incident.New{Title: "Card numbers stolen", Severity: incident.Critical,
		Facts: incident.Facts{WhatHappened: "Someone copied our customer database."}})
	if err != nil {
		t.Fatal(err)
	}

	l := loopback(t)
	base := "http://" + l.Addr().String()
	site := public.NewSite(public.Options{})
	runner := svc.NewPublicRunner(site, status.Page{Name: "Test", URL: base + "/status", DefaultLocale: "en"})
	if err := runner.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		runner.Run(rctx)
	}()
	t.Cleanup(func() { stop(); <-done })
	srv := serve(t, l, server.Handler(svc, log, server.Options{SecureCookies: true, Public: site, Web: web.Options{Public: site}}))

	const text = "We found how they got in: a stolen staff password."
	b := browsertest.New(t, srv.URL)
	signIn(b, "approver@example.com")
	b.Run("open the incident",
		chromedp.Navigate(fmt.Sprintf("%s/incidents/%d", srv.URL, in.ID)),
		chromedp.WaitVisible(chromedp.ID("f-body")),
	)
	b.Expect("the status page card", "Status page", "No updates yet.", "Post an update", "Not on the status page yet")
	b.Run("post an update",
		chromedp.SetValue(chromedp.ID("f-status"), "identified"),
		chromedp.SendKeys(chromedp.ID("f-body"), text),
		chromedp.SendKeys(chromedp.ID("f-what-to-do"), "Change your password."),
		chromedp.SendKeys(chromedp.ID("f-translations-0-lang"), "fr"),
		chromedp.SendKeys(chromedp.ID("f-translations-0-body"), "Nous avons trouvé comment ils sont entrés."),
		chromedp.Click(chromedp.ID("publish-update")),
		chromedp.WaitVisible(chromedp.CSS(".flash-ok")),
	)
	b.Expect("the update on the incident page", "Published the update: it is on the status page now.", text, "Change your password.", "Identified", "View on the status page")

	// The public side rebuilds as soon as the update is published; give it
	// a moment rather than assume it beat the browser.
	var page string
	for i := 0; i < 50; i++ {
		b.Run("open the status page", chromedp.Navigate(srv.URL+"/status"), chromedp.WaitReady(chromedp.CSS("body")))
		if page = browsertest.Get(b, "read the status page", chromedp.Text(chromedp.CSS("body"))); strings.Contains(page, text) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(page, text) || !strings.Contains(page, "Card numbers stolen") {
		b.Fail("status page", fmt.Errorf("the status page does not show the update; it says:\n%s", page))
	}
}
