package web_test

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/audience"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/browsertest"
	"github.com/candorhq/candor/internal/incident"
	"github.com/candorhq/candor/internal/notice"
	"github.com/candorhq/candor/internal/server"
	"github.com/candorhq/candor/internal/store/storetest"
)

// TestBrowserResponsePackage drives the response package through Chromium:
// an editor applies the built-in playbook, breaks the customer alert's
// template and sees the live check report it with its line, fixes it,
// saves and submits; cannot approve their own notice; an approver approves
// it from the review queue; the editor is notified; and the preview for a
// chosen recipient shows that recipient's own exposed data.
func TestBrowserResponsePackage(t *testing.T) {
	db := storetest.SQLite(t)
	log := slog.New(slog.DiscardHandler)
	svc := app.New(db, log, app.Options{Company: notice.Company{Name: "Example Shop"}})
	addUser(t, db, auth.Editor)
	addUser(t, db, auth.Approver)
	in, err := svc.CreateIncident(ctx, auth.CLI, incident.New{Title: "Card numbers stolen", Severity: incident.Critical, Facts: incident.Facts{
		WhatHappened: "Someone copied our customer database.", AffectedTotal: 2,
		Exposed: []incident.DataKind{"card_number", "email"}, NotExposed: []incident.DataKind{"password_hash"},
		CompanyActions: "We closed the hole.", PeopleShould: "Watch your statements.",
		Contact: incident.Contact{Email: "help@example.com", URL: "https://example.com/incident"}}})
	if err != nil {
		t.Fatal(err)
	}
	// The affected audience exists before the playbook is applied, so the
	// customer alert is addressed to it.
	aud, err := svc.CreateAudience(ctx, auth.CLI, audience.New{IncidentID: in.ID, Kind: audience.AffectedCustomers, Name: "Card holders"})
	if err != nil {
		t.Fatal(err)
	}
	csv := "email,name,exposed\nalice@example.com,Alice Able,email\nbob@example.com,Bob Baker,card_number;email\n"
	if rep, err := svc.ImportRecipients(ctx, auth.CLI, aud.ID, strings.NewReader(csv), audience.ImportOptions{}); err != nil || rep.Rejected != 0 {
		t.Fatalf("import: %+v %v", rep, err)
	}
	recips, _, err := svc.Recipients(ctx, auth.CLI, aud.ID, 0, 10)
	if err != nil || len(recips) != 2 {
		t.Fatalf("recipients: %v %v", recips, err)
	}
	ids := map[string]int64{}
	for _, r := range recips {
		ids[r.Email] = r.ID
	}

	srv := serve(t, loopback(t), server.Handler(svc, log, server.Options{SecureCookies: true}))
	incidentURL := fmt.Sprintf("%s/incidents/%d", srv.URL, in.ID)

	b := browsertest.New(t, srv.URL)
	signIn(b, "editor@example.com")
	b.Run("apply the built-in playbook",
		chromedp.Navigate(incidentURL),
		chromedp.WaitVisible(chromedp.ID("h-package")),
		chromedp.SetValue(chromedp.ID("f-playbook"), "customer-data-breach"),
		chromedp.Click(chromedp.CSS(`form[action$="/playbook"] button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`table.package`)),
	)
	b.Expect("ten drafts", "Drafted 10 notices", "Customer alert (affected)", "Press release", "Notice to the supervisory authority", "T+14h", "when resolved")
	if n := browsertest.Get(b, "count the drafts", chromedp.Evaluate[int](`document.querySelectorAll('table.package tbody tr').length`)); n != 10 {
		b.Fail("count the drafts", fmt.Errorf("%d notices listed, want 10", n))
	}
	if n := browsertest.Get(b, "count draft badges", chromedp.Evaluate[int](`document.querySelectorAll('table.package .nstate-draft').length`)); n != 10 {
		b.Fail("count draft badges", fmt.Errorf("%d drafts, want 10", n))
	}

	b.Run("open the customer alert's editor",
		chromedp.Click(chromedp.Search(`//table[contains(@class,"package")]//a[text()="Customer alert (affected)"]`)),
		chromedp.WaitVisible(chromedp.ID("h-review")),
		chromedp.Click(chromedp.CSS(`a[href$="/edit"]`)),
		chromedp.WaitVisible(chromedp.ID("f-body")),
		chromedp.WaitVisible(chromedp.CSS(`#checks .checks-ok`)),
	)
	b.Expect("the editor's checks pass on load", "No problems found", "Card holders")
	noticeURL := strings.TrimSuffix(browsertest.Get(b, "read the editor address", chromedp.Location()), "/edit")
	original := browsertest.Get(b, "read the body", chromedp.Value(chromedp.ID("f-body")))

	// Type a placeholder that does not exist on line 3: the panel reports
	// it as the author types, before anything is saved.
	broken := strings.SplitN(original, "\n", 3)
	broken = []string{broken[0], broken[1], "We {{.Facts.Nope}} regret this.\n" + broken[2]}
	typeBody(b, "break the template", strings.Join(broken, "\n"))
	b.Run("the live check reports it", chromedp.WaitVisible(chromedp.CSS(`#checks .finding-error`)))
	panel := browsertest.Get(b, "read the checks panel", chromedp.Text(chromedp.ID("checks")))
	if !strings.Contains(panel, "line 3") || !strings.Contains(panel, `unknown field "Nope"`) || !strings.Contains(panel, "1 problem") {
		b.Fail("the live check", fmt.Errorf("the panel does not report the error on line 3:\n%s", panel))
	}
	b.Run("save the broken text",
		chromedp.SendKeys(chromedp.ID("f-reason"), "Softer opening"),
		chromedp.Click(chromedp.Search(`//button[starts-with(text(),"Save as version")]`)),
		chromedp.WaitVisible(chromedp.ID("error-summary")),
	)
	b.Expect("the save is refused with the line", "There is a problem", "line 3, column", `unknown field "Nope"`)
	if msg := browsertest.Get(b, "the error sits next to the body", chromedp.Text(chromedp.ID("f-body-err"))); !strings.Contains(msg, "Line 3, column") {
		b.Fail("field error", fmt.Errorf("the body's error says %q", msg))
	}
	if typed := browsertest.Get(b, "the form kept the text", chromedp.Value(chromedp.ID("f-body"))); !strings.Contains(typed, "{{.Facts.Nope}}") {
		b.Fail("form kept", fmt.Errorf("the body lost what was typed"))
	}

	typeBody(b, "fix the template", strings.Replace(strings.Join(broken, "\n"), "{{.Facts.Nope}} ", "", 1))
	b.Run("the live check passes", chromedp.WaitVisible(chromedp.CSS(`#checks .checks-ok`)))
	b.Expect("the live check passes", "No problems found")
	b.Run("save the fixed text",
		chromedp.Click(chromedp.Search(`//button[starts-with(text(),"Save as version")]`)),
		chromedp.WaitVisible(chromedp.CSS(`.flash-ok`)),
	)
	b.Expect("saved", "Saved version 2", "No problems found")

	b.Run("submit for review",
		chromedp.Navigate(noticeURL),
		chromedp.WaitVisible(chromedp.ID("submit-form")),
		chromedp.Click(chromedp.CSS(`#submit-form button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.flash-ok`)),
	)
	b.Expect("submitted", "Submitted version 2 for review", "In review", "Needs 1 approval")
	if n := browsertest.Get(b, "the author has no approve button", chromedp.Evaluate[int](`document.querySelectorAll('form[action$="/review"], button[value="approve"]').length`)); n != 0 {
		b.Fail("no approve button", fmt.Errorf("the author sees %d review controls", n))
	}
	browsertest.Get(b, "the author forges an approval", chromedp.Evaluate[bool](`(() => {
		const f = document.createElement("form");
		f.method = "post";
		f.action = location.pathname + "/review";
		const token = document.querySelector('input[name="csrf_token"]').value;
		for (const [k, v] of Object.entries({csrf_token: token, version: "2", decision: "approve"})) {
			const i = document.createElement("input");
			i.type = "hidden"; i.name = k; i.value = v;
			f.appendChild(i);
		}
		document.body.appendChild(f);
		f.submit();
		return true;
	})()`))
	b.Run("the refusal page loads", chromedp.WaitVisible(chromedp.CSS(".error-page")))
	b.Expect("forged approval refused", "Not allowed", "Your role (editor) cannot review notices")

	// Each person signs in in a browser of their own.
	a := browsertest.New(t, srv.URL)
	signIn(a, "approver@example.com")
	a.Run("open the review queue",
		chromedp.Click(chromedp.CSS(`nav a[href="/reviews"]`)),
		chromedp.WaitVisible(chromedp.Search(`//h1[text()="Review queue"]`)),
	)
	a.Expect("the queue", "Review queue", "Customer alert (affected)", "Card numbers stolen")
	a.Run("approve",
		chromedp.Click(chromedp.Search(`//a[text()="Customer alert (affected)"]`)),
		chromedp.WaitVisible(chromedp.ID("review-form")),
		chromedp.SendKeys(chromedp.ID("f-comment"), "Clear and kind."),
		chromedp.Click(chromedp.CSS(`#review-form button[value="approve"]`)),
		chromedp.WaitVisible(chromedp.CSS(`.flash-ok`)),
	)
	a.Expect("approved", "Approved version 2", "Approved", "approver@example.com", "Clear and kind.")

	b = browsertest.New(t, srv.URL)
	signIn(b, "editor@example.com")
	if c := browsertest.Get(b, "the unread count", chromedp.Text(chromedp.ID("unread-count"))); !strings.HasPrefix(c, "1") {
		b.Fail("unread count", fmt.Errorf("the header says %q unread, want 1", c))
	}
	b.Run("open the notifications",
		chromedp.Click(chromedp.CSS(`a.notif-link`)),
		chromedp.WaitVisible(chromedp.CSS(`.notifications`)),
	)
	b.Expect("notified", "approver@example.com approved version 2 of \"Customer alert (affected)\"", "New")
	if n := browsertest.Get(b, "the count is gone", chromedp.Evaluate[int](`document.querySelectorAll('#unread-count').length`)); n != 0 {
		b.Fail("read", fmt.Errorf("the unread count is still shown"))
	}

	// The preview for each recipient shows their own exposed data.
	for _, c := range []struct {
		email string
		name  string
		card  bool
	}{{"bob@example.com", "Bob Baker", true}, {"alice@example.com", "Alice Able", false}} {
		b.Run("preview for "+c.name,
			chromedp.Navigate(noticeURL+"/preview"),
			chromedp.WaitVisible(chromedp.ID("f-recipient")),
			chromedp.SetValue(chromedp.ID("f-recipient"), fmt.Sprint(ids[c.email])),
			chromedp.Click(chromedp.CSS(`#preview-pick button[type="submit"]`)),
			chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#preview-who[data-recipient="%d"]`, ids[c.email]))),
			chromedp.WaitVisible(chromedp.ID("h-email")),
		)
		b.Expect("preview for "+c.name, "For "+c.name, "the default text", "Text message", "GSM-7")
		text := browsertest.Get(b, "plain text for "+c.name, chromedp.TextContent(chromedp.ID("email-text")))
		sms := browsertest.Get(b, "SMS for "+c.name, chromedp.TextContent(chromedp.ID("sms-text")))
		if !strings.Contains(text, "Dear "+c.name) {
			b.Fail("plain text", fmt.Errorf("the plain text is not addressed to %s:\n%s", c.name, text))
		}
		cardLine := "They could also try to use your card."
		if strings.Contains(text, cardLine) != c.card || strings.Contains(sms, cardLine) != c.card {
			b.Fail("exposed data", fmt.Errorf("%s: card line shown = %v, want %v:\n%s", c.name, strings.Contains(text, cardLine), c.card, text))
		}
		src := browsertest.Get(b, "the email frame", chromedp.AttributeValue(chromedp.CSS(`iframe.email-frame`), "src"))
		frame := b.Tab()
		frame.Run("open the email frame's page", chromedp.Navigate(srv.URL+src.Value), chromedp.WaitVisible(chromedp.CSS(`body`)))
		html := browsertest.Get(frame, "read the email", chromedp.Text(chromedp.CSS(`body`)))
		if !strings.Contains(html, "Dear "+c.name) || strings.Contains(html, cardLine) != c.card {
			frame.Fail("email html", fmt.Errorf("the email for %s says:\n%s", c.name, html))
		}
	}
	v, err := svc.NoticeVersion(ctx, auth.CLI, mustNoticeID(t, noticeURL), 0)
	if err != nil || v.State != notice.Approved || v.Number != 2 {
		t.Fatalf("the alert: version %d %s, %v; want 2 approved", v.Number, v.State, err)
	}
}

// typeBody replaces the notice body as typing would: the value changes and
// an input event fires.
func typeBody(b *browsertest.Browser, step, text string) {
	b.T.Helper()
	browsertest.Get(b, step, chromedp.Evaluate[bool](fmt.Sprintf(`(() => { const t = document.getElementById("f-body"); t.value = %q; t.dispatchEvent(new Event("input", {bubbles: true})); return true; })()`, text)))
}

func mustNoticeID(t *testing.T, u string) int64 {
	t.Helper()
	var id int64
	if _, err := fmt.Sscanf(u[strings.LastIndex(u, "/notices/"):], "/notices/%d", &id); err != nil {
		t.Fatal(err)
	}
	return id
}
