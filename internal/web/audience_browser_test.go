package web_test

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/audience"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/browsertest"
	"github.com/candorhq/candor/internal/incident"
	"github.com/candorhq/candor/internal/server"
	"github.com/candorhq/candor/internal/store/storetest"
)

// TestBrowserAudiences drives Chromium through preparing an incident's
// audience: upload a CSV with bad rows (the script shows the upload's
// progress and lands on the report), read the rejected rows with their
// line numbers and reasons, download them as CSV, then write a segment rule
// and watch the live count follow each edit.
func TestBrowserAudiences(t *testing.T) {
	db := storetest.SQLite(t)
	log := slog.New(slog.DiscardHandler)
	svc := app.New(db, log, app.Options{})
	addUser(t, db, auth.Editor)
	in, err := svc.CreateIncident(ctx, auth.CLI, incident.New{Title: "Subscriber card numbers stolen"})
	if err != nil {
		t.Fatal(err)
	}
	a, err := svc.CreateAudience(ctx, auth.CLI, audience.New{IncidentID: in.ID, Kind: audience.AffectedCustomers, Name: "Affected subscribers"})
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "subscribers.csv")
	var b strings.Builder
	b.WriteString("E-mail,Name,State,exposed,Plan\n")
	for i := range 500 {
		exposed := "card_number"
		if i%2 == 0 {
			exposed += ";card_expiry"
		}
		plan := "home"
		if i%5 == 0 {
			plan = "business"
		}
		fmt.Fprintf(&b, "person%d@example.com,\"Person %d, Jr.\",US-CA,%s,%s\n", i, i, exposed, plan)
	}
	b.WriteString("not-an-email,Bob,US-CA,card_number,home\n")  // line 502
	b.WriteString("cy@example.com,Cy,US-ZZ,card_number,home\n") // line 503
	b.WriteString("dee@example.com,Dee,US-NV,shoe_size,home\n") // line 504
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}

	srv := serve(t, loopback(t), server.Handler(svc, log, server.Options{SecureCookies: true}))

	br := browsertest.New(t, srv.URL)
	signIn(br, "editor@example.com")
	br.Run("open the incident's audiences",
		chromedp.Navigate(fmt.Sprintf("%s/incidents/%d", srv.URL, in.ID)),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`a[href="/incidents/%d/audiences"]`, in.ID))),
		chromedp.WaitVisible(chromedp.CSS(`table.audiences`)),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`a[href="/audiences/%d"]`, a.ID))),
		chromedp.WaitVisible(chromedp.ID("f-file")),
	)
	br.Expect("empty audience", "Affected subscribers", "No recipients yet")

	br.Run("choose the file", chromedp.SetUploadFiles(chromedp.ID("f-file"), []string{file}))
	// Submitting runs the page's script at once: it takes over the upload
	// and shows its progress bar before the report replaces the page.
	progress := browsertest.Get(br, "upload the file", chromedp.Evaluate[bool](`(() => {
		document.getElementById("import-form").requestSubmit();
		return !document.getElementById("upload-progress").hidden;
	})()`))
	if !progress {
		br.Fail("upload progress", fmt.Errorf("the upload's progress bar did not show"))
	}
	br.Run("the report loads", chromedp.WaitVisible(chromedp.ID("rejected")))
	br.Expect("the report", "subscribers.csv", "503", "rows read", "500", "new recipients", "3", "rows rejected",
		"not-an-email", "is not an email address", "US-ZZ", "not a known jurisdiction", "shoe_size", "unknown data kind")
	rows := browsertest.Get(br, "read the rejected rows", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("#rejected tbody tr")).map(tr => Array.from(tr.cells).map(c => c.textContent.trim()).slice(0, 2).join(" "))`))
	if strings.Join(rows, "|") != "502 E-mail|503 State|504 exposed" {
		br.Fail("rejected rows", fmt.Errorf("line and column of the rejected rows: %q", rows))
	}
	csv := browsertest.Get(br, "download the errors as CSV", chromedp.Evaluate[string](`fetch(document.getElementById("errors-csv").href).then(r => r.text().then(t => r.headers.get("Content-Type") + "\n" + t))`, chromedp.EvalAwaitPromise))
	if !strings.HasPrefix(csv, "text/csv") || !strings.Contains(csv, "line,column,value,reason\n502,E-mail,not-an-email,") || !strings.Contains(csv, "\n504,exposed,shoe_size,") {
		br.Fail("errors csv", fmt.Errorf("the download link gave %q", csv))
	}

	br.Run("back to the audience",
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`main a[href="/audiences/%d"]`, a.ID))),
		chromedp.WaitVisible(chromedp.ID("by-exposed")),
	)
	br.Expect("the audience's counts", "500", "Payment card numbers", "Card expiry dates", "250", "US-CA", "person0@example.com", "plan=business")

	br.Run("open the segment editor",
		chromedp.Navigate(fmt.Sprintf("%s/incidents/%d/segments/new?audience=%d", srv.URL, in.ID, a.ID)),
		chromedp.WaitVisible(chromedp.ID("f-c0-value")),
		chromedp.SendKeys(chromedp.ID("f-c0-value"), "card_number"),
	)
	waitCount := func(step, want string) {
		br.Run(step, chromedp.Poll[chromedp.Void](fmt.Sprintf(`(() => { const n = document.getElementById("count-matching"); return n && n.textContent === %q && !document.getElementById("live-count").classList.contains("stale"); })()`, want),
			chromedp.WithPollingTimeout(10*time.Second)))
	}
	waitCount("every card holder counts", "500")
	br.Run("and card expiry",
		chromedp.SetValue(chromedp.ID("f-c1-field"), "exposed"),
		chromedp.SetValue(chromedp.ID("f-c1-op"), "includes"),
		chromedp.SendKeys(chromedp.ID("f-c1-value"), "card_expiry"),
	)
	waitCount("the count narrows to card and expiry", "250")
	br.Run("and not on the business plan",
		chromedp.Click(chromedp.CSS(`input[name="c2.not"]`)),
		chromedp.SetValue(chromedp.ID("f-c2-field"), "attribute"),
		chromedp.SendKeys(chromedp.ID("f-c2-attribute"), "plan"),
		chromedp.SetValue(chromedp.ID("f-c2-op"), "equals"),
		chromedp.SendKeys(chromedp.ID("f-c2-value"), "business"),
	)
	waitCount("the count leaves out the business plan", "200")
	br.Expect("the rule in words", "200 of 500 members match", "exposed includes card_number and exposed includes card_expiry and not (attribute plan = business)")
	br.Run("save the segment",
		chromedp.SendKeys(chromedp.ID("f-name"), "Card and expiry, home plan"),
		chromedp.Click(chromedp.CSS(`button[value="save"]`)),
		chromedp.WaitVisible(chromedp.ID("segment-counts")),
	)
	br.Expect("the saved segment", "Saved the segment", "Card and expiry, home plan", "Affected subscribers", "200", "40%")
}
