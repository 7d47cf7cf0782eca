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
	"github.com/candorhq/candor/internal/audience"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/browsertest"
	"github.com/candorhq/candor/internal/delivery"
	"github.com/candorhq/candor/internal/dispatch"
	"github.com/candorhq/candor/internal/incident"
	"github.com/candorhq/candor/internal/notice"
	"github.com/candorhq/candor/internal/server"
	"github.com/candorhq/candor/internal/store/storetest"
)

// slowSender accepts every message after a pause, like a relay far away,
// so that a release takes long enough to watch.
type slowSender struct{ pause time.Duration }

func (slowSender) Channel() notice.Channel { return notice.ChannelEmail }

func (s slowSender) Run(ctx context.Context, jobs <-chan dispatch.Job, results chan<- dispatch.Result) {
	for j := range jobs {
		time.Sleep(s.pause)
		results <- dispatch.Result{ID: j.ID, ReleaseID: j.ReleaseID, State: delivery.Sent, ProviderID: "test"}
	}
}

// TestBrowserRelease: an approver opens an approved notice, is stopped by
// the browser until they tick the confirmation, sends it, and watches the
// progress bar fill to 100% and the state become Done without reloading
// the page; the release page and the ledger lookup show what was sent.
func TestBrowserRelease(t *testing.T) {
	db := storetest.SQLite(t)
	log := slog.New(slog.DiscardHandler)
	svc := app.New(db, log, app.Options{Company: notice.Company{Name: "Example Shop"}})
	approver := addUser(t, db, auth.Approver)
	in, err := svc.CreateIncident(ctx, auth.CLI, incident.New{Title: "Card numbers stolen", Severity: incident.Critical,
		Facts: incident.Facts{WhatHappened: "Someone copied our customer database.", AffectedTotal: 40}})
	if err != nil {
		t.Fatal(err)
	}
	aud, err := svc.CreateAudience(ctx, auth.CLI, audience.New{IncidentID: in.ID, Kind: audience.AffectedCustomers, Name: "Card holders"})
	if err != nil {
		t.Fatal(err)
	}
	var csv strings.Builder
	csv.WriteString("email,name\n")
	for i := range 40 {
		fmt.Fprintf(&csv, "holder%02d@example.com,Holder %d\n", i, i)
	}
	if _, err := svc.ImportRecipients(ctx, auth.CLI, aud.ID, strings.NewReader(csv.String()), audience.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	n, err := svc.CreateNotice(ctx, auth.CLI, notice.New{IncidentID: in.ID, Title: "Customer alert", AudienceKind: "affected_customers", AudienceID: aud.ID,
		Channels: []notice.Channel{notice.ChannelEmail}, Content: notice.Content{Subject: "About your card", Body: "Dear {{.Recipient.Name}},\n\n{{.Facts.WhatHappened}}\n"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.SubmitNotice(ctx, auth.CLI, n.ID, 1, ""); err != nil {
		t.Fatal(err)
	}
	rep, err := svc.CheckNotice(ctx, auth.CLI, n.ID, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	ov := map[string]string{}
	for _, f := range rep.Blocking() {
		ov[f.Key] = "accepted for the test"
	}
	ap := auth.Principal{UserID: approver.ID, Email: approver.Email, Role: auth.Approver, Via: "session"}
	if _, err := svc.ReviewNotice(ctx, ap, n.ID, 1, app.Review{Decision: notice.DecisionApprove, Overrides: ov}); err != nil {
		t.Fatal(err)
	}

	d := dispatch.New(db, log, dispatch.Config{Poll: 20 * time.Millisecond}, svc.PrepareRelease, nil, slowSender{pause: 40 * time.Millisecond})
	svc.SetDispatcherWake(d.Wake)
	dctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := d.Run(dctx); err != nil && dctx.Err() == nil {
			t.Errorf("dispatcher: %v", err)
		}
	}()
	t.Cleanup(func() { stop(); <-done })

	srv := serve(t, loopback(t), server.Handler(svc, log, server.Options{SecureCookies: true}))

	b := browsertest.New(t, srv.URL)
	signIn(b, "approver@example.com")
	b.Run("open the approved notice",
		chromedp.Navigate(fmt.Sprintf("%s/notices/%d", srv.URL, n.ID)),
		chromedp.WaitVisible(chromedp.ID("send-form")),
	)
	b.Expect("the send card", "Send by email", "Approved version 1 of “Customer alert” to the audience “Card holders”", "40", "Only approved version 1 is sent",
		"Send to 40 recipients now", "Schedule for later instead")

	// Unconfirmed, the browser does not send the form.
	b.Run("press send without confirming", chromedp.Click(chromedp.ID("send-now")), chromedp.Sleep(300*time.Millisecond))
	if ps, _ := svc.Releases(ctx, auth.CLI, n.ID); len(ps) != 0 {
		b.Fail("unconfirmed send", fmt.Errorf("%d releases were made without the confirmation", len(ps)))
	}
	if invalid := browsertest.Get(b, "the checkbox is invalid", chromedp.Evaluate[bool](`!document.getElementById("f-confirm").checkValidity()`)); !invalid {
		b.Fail("unconfirmed send", fmt.Errorf("the confirmation checkbox is not required"))
	}

	b.Run("confirm and send",
		chromedp.Click(chromedp.ID("f-confirm")),
		chromedp.Click(chromedp.ID("send-now")),
		chromedp.WaitVisible(chromedp.CSS(`.flash-ok`)),
		chromedp.WaitVisible(chromedp.CSS(`progress.release-bar`)),
	)
	b.Expect("sending", "Sending version 1 to 40 recipients", "Releases", "Release 1: version 1 by email")
	first := browsertest.Get(b, "the bar when the page loaded", chromedp.Evaluate[int](`document.querySelector("progress.release-bar").value`))
	if first >= 100 {
		b.Fail("live progress", fmt.Errorf("the release finished before the page loaded (%d%%); the test cannot see the bar move", first))
	}
	// A marker that a reload would wipe out.
	browsertest.Get(b, "mark the page", chromedp.Evaluate[bool](`window.__notReloaded = true`))
	pct := browsertest.Get(b, "the bar reaches 100%", chromedp.Poll[int](`(() => {
		const bar = document.querySelector("progress.release-bar");
		return bar && bar.value === 100 && bar.closest("[data-release-progress]").dataset.state === "done" ? bar.value : 0;
	})()`, chromedp.WithPollingTimeout(30*time.Second)))
	if pct != 100 {
		b.Fail("bar", fmt.Errorf("the bar stopped at %d", pct))
	}
	if kept := browsertest.Get(b, "the page was not reloaded", chromedp.Evaluate[bool](`window.__notReloaded === true`)); !kept {
		b.Fail("no reload", fmt.Errorf("the page reloaded to show the progress"))
	}
	label := browsertest.Get(b, "the state label", chromedp.Text(chromedp.CSS(`[data-field="label-text"]`)))
	big := browsertest.Get(b, "the big percentage", chromedp.Text(chromedp.CSS(`[data-field="percent"]`)))
	sent := browsertest.Get(b, "the sent count", chromedp.Text(chromedp.CSS(`[data-count="sent"]`)))
	finished := browsertest.Get(b, "the finished count", chromedp.Text(chromedp.CSS(`[data-field="finished"]`)))
	if label != "Done" || big != "100%" || sent != "40" || finished != "40" {
		b.Fail("finished", fmt.Errorf("label %q, percentage %q, sent %q, finished %q; want Done, 100%%, 40, 40", label, big, sent, finished))
	}
	b.Expect("finished", "Finished: every message has reached a final state.")
	if n := browsertest.Get(b, "the controls are hidden", chromedp.Evaluate[int](`[...document.querySelectorAll("[data-release-progress] [data-when]")].filter(e => !e.hidden).length`)); n != 0 {
		b.Fail("controls", fmt.Errorf("%d pause, resume or cancel controls are still shown for a finished release", n))
	}

	b.Run("open the ledger",
		chromedp.Click(chromedp.CSS(`a[href$="#h-ledger"]`)),
		chromedp.WaitVisible(chromedp.ID("h-ledger")),
	)
	b.Expect("ledger", "Release 1: Customer alert", "Done", "holder00@example.com", "Sent (40)")
	b.Run("look up a recipient",
		chromedp.Click(chromedp.CSS(`nav a[href="/deliveries"]`)),
		chromedp.WaitVisible(chromedp.ID("f-address")),
		chromedp.SendKeys(chromedp.ID("f-address"), "Holder07@example.com"),
		chromedp.Submit(chromedp.ID("f-address")),
		chromedp.WaitVisible(chromedp.ID("h-results")),
	)
	b.Expect("lookup", "Sent to Holder07@example.com", "Customer alert", "Sent", "@candor.invalid>")
}
