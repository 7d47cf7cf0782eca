package web_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/candorhq/candor/internal/audience"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/browsertest"
	"github.com/candorhq/candor/internal/dispatch"
	"github.com/candorhq/candor/internal/email"
	"github.com/candorhq/candor/internal/email/mailbox"
	"github.com/candorhq/candor/internal/incident"
	"github.com/candorhq/candor/internal/notice"
	"github.com/candorhq/candor/internal/store"
	"github.com/candorhq/candor/internal/store/storetest"
	"github.com/candorhq/candor/internal/web"
)

// e2eRecipient is one member of the audience the end-to-end test sends to.
type e2eRecipient struct {
	addr, name string
	card       bool // card_number and card_expiry exposed; otherwise email only
}

// e2eAudience returns n recipients with distinct names (no name is part of
// another), some of them outside ASCII so the subject needs RFC 2047
// encoding, and a mix of exposed data.
func e2eAudience(n int) []e2eRecipient {
	first := []string{"Ada", "Bram", "Chidi", "Dagny", "Émile", "Farah", "Gunnar", "Hiroko", "Ines", "Jonah"}
	last := []string{"Okafor", "Lindqvist", "Moreau", "Núñez", "Tanaka", "Zieliński"}
	out := make([]e2eRecipient, n)
	for i := range out {
		out[i] = e2eRecipient{
			addr: fmt.Sprintf("member%02d@example.org", i),
			name: first[i%len(first)] + " " + last[(i/len(first))%len(last)],
			card: i%3 == 0,
		}
	}
	return out
}

// TestBrowserSendToMailbox is the product's "done" story with real parts
// instead of a fake sender: an approved, personalised email notice is sent
// from Chromium by the approver; a real dispatcher renders each message and
// sends it over SMTP through the email channel into a real demo mailbox;
// the progress bar fills to 100% and reads Done without a reload; the
// ledger lookup for one recipient links, by Message-ID, to the message the
// mailbox received, whose subject, plain text and sandboxed HTML carry that
// recipient's own name and exposed data; and the mailbox holds exactly one
// message for every member of the audience, each addressed by name.
//
// It runs on PostgreSQL when CANDOR_TEST_POSTGRES_URL names a server and
// on SQLite otherwise, so that it always runs. One dialect only: a run on
// each would take twice as long, and the store itself is tested on both.
func TestBrowserSendToMailbox(t *testing.T) {
	start := time.Now()
	var db *store.DB
	if os.Getenv(storetest.EnvURL) != "" {
		db = storetest.Postgres(t)
		t.Log("database: PostgreSQL")
	} else {
		db = storetest.SQLite(t)
		t.Log("database: SQLite")
	}
	log := slog.New(slog.DiscardHandler)
	mb, err := mailbox.Start("127.0.0.1:0", t.TempDir(), log)
	if err != nil {
		t.Fatal(err)
	}
	// Cleanups run last-registered first: the dispatcher stops (below)
	// before the mailbox it sends to closes.
	t.Cleanup(func() {
		if err := mb.Close(); err != nil {
			t.Errorf("close the mailbox: %v", err)
		}
	})
	e := newEnvWith(t, db, web.Options{Mailbox: mb})
	svc := e.svc

	// The incident, the audience (imported as CSV, as an editor would) and
	// a notice addressed to it, written by the command line and approved by
	// the approver.
	in, err := svc.CreateIncident(ctx, auth.CLI, incident.New{Title: "Customer records stolen", Severity: incident.Critical,
		Facts: incident.Facts{WhatHappened: "Someone copied our customer database.", AffectedTotal: 60,
			Exposed: []incident.DataKind{"card_number", "card_expiry", "email"}}})
	if err != nil {
		t.Fatal(err)
	}
	aud, err := svc.CreateAudience(ctx, auth.CLI, audience.New{IncidentID: in.ID, Kind: audience.AffectedCustomers, Name: "Affected customers"})
	if err != nil {
		t.Fatal(err)
	}
	members := e2eAudience(60)
	var csv strings.Builder
	csv.WriteString("email,name,exposed\n")
	for _, m := range members {
		exposed := "email"
		if m.card {
			exposed = "card_number;card_expiry"
		}
		fmt.Fprintf(&csv, "%s,%s,%s\n", m.addr, m.name, exposed)
	}
	if rep, err := svc.ImportRecipients(ctx, auth.CLI, aud.ID, strings.NewReader(csv.String()), audience.ImportOptions{}); err != nil || rep.Rejected != 0 {
		t.Fatalf("import: %+v %v", rep, err)
	}
	n, err := svc.CreateNotice(ctx, auth.CLI, notice.New{IncidentID: in.ID, Title: "Customer alert", AudienceKind: string(audience.AffectedCustomers), AudienceID: aud.ID,
		Channels: []notice.Channel{notice.ChannelEmail},
		Content: notice.Content{Subject: "{{.Recipient.Name}}, about your account",
			Body: "Dear {{.Recipient.Name}},\n\n{{.Facts.WhatHappened}}\n\nThe information taken about you: {{.Recipient.Exposed}}.\n"}})
	if err != nil {
		t.Fatal(err)
	}
	e.approve(n, 1)

	// A real dispatcher sending through the real email channel.
	sender := dispatch.NewEmailSender(dispatch.EmailConfig{
		SMTP:        email.Config{Addr: mb.Addr(), Security: "none", HeloName: "candor.test"},
		Connections: 4, From: email.Address{Name: "Example Security", Addr: "security@example.com"}, Domain: "example.com",
	}, log)
	d := dispatch.New(db, log, dispatch.Config{Poll: 20 * time.Millisecond}, svc.PrepareRelease, nil, sender)
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

	b := browsertest.New(t, e.srv.URL)
	signIn(b, "approver@example.com")
	b.Run("open the approved notice",
		chromedp.Navigate(fmt.Sprintf("%s/notices/%d", e.srv.URL, n.ID)),
		chromedp.WaitVisible(chromedp.ID("send-form")),
	)
	b.Expect("the send card", "Send by email", "Approved version 1 of “Customer alert” to the audience “Affected customers”", "Send to 60 recipients now")
	if strings.Contains(b.Text("the send card"), "No Candor process is sending") {
		t.Error("the send card says nothing is sending while a dispatcher runs")
	}
	b.Run("confirm and send",
		chromedp.Click(chromedp.ID("f-confirm")),
		chromedp.Click(chromedp.ID("send-now")),
		chromedp.WaitVisible(chromedp.CSS(`.flash-ok`)),
		chromedp.WaitVisible(chromedp.CSS(`progress.release-bar`)),
	)
	b.Expect("sending", "Sending version 1 to 60 recipients", "Release 1: version 1 by email")
	// A marker that a reload would wipe out.
	browsertest.Get(b, "mark the page", chromedp.Evaluate[bool](`window.__notReloaded = true`))
	first := browsertest.Get(b, "the bar when the page loaded", chromedp.Evaluate[int](`document.querySelector("progress.release-bar").value`))
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
	if first < 100 {
		t.Logf("the bar moved from %d%% to 100%% in the page", first)
	} else {
		t.Logf("the release had finished when the page loaded")
	}
	label := browsertest.Get(b, "the state label", chromedp.Text(chromedp.CSS(`[data-field="label-text"]`)))
	big := browsertest.Get(b, "the big percentage", chromedp.Text(chromedp.CSS(`[data-field="percent"]`)))
	sent := browsertest.Get(b, "the sent count", chromedp.Text(chromedp.CSS(`[data-count="sent"]`)))
	finished := browsertest.Get(b, "the finished count", chromedp.Text(chromedp.CSS(`[data-field="finished"]`)))
	if label != "Done" || big != "100%" || sent != "60" || finished != "60" {
		b.Fail("finished", fmt.Errorf("label %q, percentage %q, sent %q, finished %q; want Done, 100%%, 60, 60", label, big, sent, finished))
	}

	// The mailbox got exactly one message per member, each addressed to
	// them by name. Every message was accepted before its delivery was
	// marked sent, so all are here once the release is done.
	if got := mb.Count(); got != len(members) {
		t.Fatalf("the mailbox holds %d messages, want %d", got, len(members))
	}
	entries, total := mb.List(0, 0, "")
	if total != len(members) || len(entries) != len(members) {
		t.Fatalf("the mailbox lists %d of %d messages, want %d", len(entries), total, len(members))
	}
	byAddr := map[string]e2eRecipient{}
	for _, m := range members {
		byAddr[m.addr] = m
	}
	got := map[string]int{}
	for _, en := range entries {
		if len(en.To) != 1 {
			t.Errorf("message %d went to %q, want one recipient", en.ID, en.To)
			continue
		}
		to := strings.ToLower(en.To[0])
		got[to]++
		m, ok := byAddr[to]
		if !ok {
			t.Errorf("message %d went to %s, who is not in the audience", en.ID, to)
			continue
		}
		if want := m.name + ", about your account"; en.Subject != want {
			t.Errorf("message %d to %s has the subject %q, want %q", en.ID, to, en.Subject, want)
		}
		if !strings.HasSuffix(en.MessageID, "@example.com>") {
			t.Errorf("message %d has the Message-ID %q, want one at example.com", en.ID, en.MessageID)
		}
	}
	for _, m := range members {
		if got[m.addr] != 1 {
			t.Errorf("%s received %d messages, want exactly 1", m.addr, got[m.addr])
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// One recipient's ledger entry leads to the message they received.
	who := members[33]   // "Dagny Núñez", whose card was exposed
	other := members[34] // "Émile Núñez", whose email address was
	if !who.card || other.card {
		t.Fatalf("the test's recipients changed: %+v %+v", who, other)
	}
	b.Run("look up a recipient",
		chromedp.Click(chromedp.CSS(`nav a[href="/deliveries"]`)),
		chromedp.WaitVisible(chromedp.ID("f-address")),
		chromedp.SendKeys(chromedp.ID("f-address"), strings.ToUpper(who.addr[:1])+who.addr[1:]),
		chromedp.Submit(chromedp.ID("f-address")),
		chromedp.WaitVisible(chromedp.ID("h-results")),
	)
	b.Expect("lookup", "Customer alert", "Sent", "@example.com>")
	if rows := browsertest.Get(b, "count the ledger rows", chromedp.Evaluate[int](`document.querySelectorAll("table.ledger tbody tr").length`)); rows != 1 {
		b.Fail("lookup", fmt.Errorf("%d deliveries listed for %s, want 1", rows, who.addr))
	}
	mid := browsertest.Get(b, "read the Message-ID", chromedp.Text(chromedp.CSS(`table.ledger a.mid-link code.mid`)))
	want, ok := mb.ByMessageID(mid)
	if !ok || len(want.To) != 1 || !strings.EqualFold(want.To[0], who.addr) {
		b.Fail("lookup", fmt.Errorf("the ledger's Message-ID %q is not the mailbox's message to %s (found %v: %+v)", mid, who.addr, ok, want))
	}
	b.Run("follow the Message-ID to the demo mailbox",
		chromedp.Click(chromedp.CSS(`table.ledger a.mid-link`)),
		chromedp.WaitVisible(chromedp.ID("h-envelope")),
		chromedp.WaitVisible(chromedp.ID("mail-text")),
	)
	if loc := browsertest.Get(b, "the message's address", chromedp.Location()); !strings.HasSuffix(loc, fmt.Sprintf("/mailbox/%d", want.ID)) {
		b.Fail("mailbox message", fmt.Errorf("the link led to %s, want /mailbox/%d", loc, want.ID))
	}
	subject := browsertest.Get(b, "the subject", chromedp.Text(chromedp.CSS(`main h1`)))
	if subject != who.name+", about your account" {
		b.Fail("subject", fmt.Errorf("the message page's subject is %q, want %q", subject, who.name+", about your account"))
	}
	b.Expect("the envelope", "Example Security", who.addr, mid)
	text := browsertest.Get(b, "the plain text", chromedp.TextContent(chromedp.ID("mail-text")))
	cardLine := "The information taken about you: card expiry dates and payment card numbers."
	if !strings.Contains(text, "Dear "+who.name+",") || !strings.Contains(text, cardLine) || !strings.Contains(text, "Someone copied our customer database.") {
		b.Fail("plain text", fmt.Errorf("the plain text is not %s's own:\n%s", who.name, text))
	}
	if strings.Contains(text, other.name) {
		b.Fail("plain text", fmt.Errorf("%s's message names %s:\n%s", who.name, other.name, text))
	}
	src := browsertest.Get(b, "the HTML frame", chromedp.AttributeValue(chromedp.CSS(`iframe.email-frame`), "src"))
	sandbox := browsertest.Get(b, "the frame's sandbox", chromedp.AttributeValue(chromedp.CSS(`iframe.email-frame`), "sandbox"))
	if !src.Exists || src.Value != fmt.Sprintf("/mailbox/%d/html", want.ID) || !sandbox.Exists || sandbox.Value != "" {
		b.Fail("frame", fmt.Errorf("the iframe has src %+v and sandbox %+v; want /mailbox/%d/html and a sandbox allowing nothing", src, sandbox, want.ID))
	}
	// The frame is sandboxed without allow-same-origin, so the page cannot
	// read it; open its address in another tab of the same session.
	frame := b.Tab()
	frame.Run("open the frame's page", chromedp.Navigate(e.srv.URL+src.Value), chromedp.WaitVisible(chromedp.CSS(`body`)))
	html := browsertest.Get(frame, "read the HTML", chromedp.Text(chromedp.CSS(`body`)))
	if !strings.Contains(html, "Dear "+who.name+",") || !strings.Contains(html, cardLine) || strings.Contains(html, other.name) {
		frame.Fail("HTML", fmt.Errorf("the HTML is not %s's own:\n%s", who.name, html))
	}

	// The member next door got their own text, with their own exposed data.
	b.Run("open another member's message",
		chromedp.Navigate(fmt.Sprintf("%s/deliveries?address=%s", e.srv.URL, other.addr)),
		chromedp.WaitVisible(chromedp.ID("h-results")),
		chromedp.Click(chromedp.CSS(`table.ledger a.mid-link`)),
		chromedp.WaitVisible(chromedp.ID("mail-text")),
	)
	text = browsertest.Get(b, "the other plain text", chromedp.TextContent(chromedp.ID("mail-text")))
	if !strings.Contains(text, "Dear "+other.name+",") || !strings.Contains(text, "The information taken about you: email addresses.") || strings.Contains(text, who.name) {
		b.Fail("other plain text", fmt.Errorf("the plain text is not %s's own:\n%s", other.name, text))
	}
	t.Logf("sent %d messages through SMTP and checked them in %s", len(members), time.Since(start).Round(time.Millisecond))
}
