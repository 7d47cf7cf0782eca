package web_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/server"
	"github.com/candorhq/candor/internal/store/storetest"
)

// findChromium returns Debian's chromium, or another Chrome on PATH.
func findChromium(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("browser tests skipped: no Chromium found; install it with apt-get install chromium")
	return ""
}

// browser is one headless Chromium for a test, with a helper to save a
// screenshot of the page a failing step was on.
type browser struct {
	t     *testing.T
	ctx   context.Context
	base  string
	steps int
}

func newBrowser(t *testing.T, base string) *browser {
	exe := findChromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoDefaultBrowserCheck,
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 50*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		t.Fatalf("start chromium (%s): %v", exe, err)
	}
	return &browser{t: t, ctx: ctx, base: base}
}

// tab opens another tab in the same browser, sharing its cookies.
func (b *browser) tab() *browser {
	ctx, cancel := chromedp.NewContext(b.ctx)
	b.t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 900)); err != nil {
		b.t.Fatalf("open tab: %v", err)
	}
	return &browser{t: b.t, ctx: ctx, base: b.base}
}

// run performs one named step; on failure it saves a full-page screenshot
// under testdata/failures and stops the test.
func (b *browser) run(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	b.steps++
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.fail(step, err)
	}
}

// get performs one step that reads a value.
func get[T any](b *browser, step string, a chromedp.Action[T]) T {
	b.t.Helper()
	b.steps++
	v, err := chromedp.Run(b.ctx, a)
	if err != nil {
		b.fail(step, err)
	}
	return v
}

func (b *browser) fail(step string, err error) {
	b.t.Helper()
	shot := ""
	// A fresh context, so a timed-out step can still be photographed.
	if sctx, cancel := context.WithTimeout(b.ctx, 5*time.Second); sctx.Err() == nil {
		defer cancel()
		if png, e := chromedp.Run(sctx, chromedp.FullScreenshot(100)); e == nil {
			dir := filepath.Join("testdata", "failures")
			os.MkdirAll(dir, 0o755)
			name := strings.Map(func(r rune) rune {
				if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
					return r
				}
				return '-'
			}, strings.ToLower(fmt.Sprintf("%s-%02d-%s", b.t.Name(), b.steps, step)))
			shot = filepath.Join(dir, name+".png")
			if e := os.WriteFile(shot, png, 0o644); e != nil {
				shot = ""
			}
		}
	}
	if shot != "" {
		abs, _ := filepath.Abs(shot)
		b.t.Fatalf("step %q: %v (screenshot: %s)", step, err, abs)
	}
	b.t.Fatalf("step %q: %v (no screenshot)", step, err)
}

// text returns the visible text of the page's main element.
func (b *browser) text(step string) string {
	return get(b, step, chromedp.Text(chromedp.CSS("main")))
}

func (b *browser) expect(step string, wants ...string) {
	b.t.Helper()
	s := b.text(step)
	for _, w := range wants {
		if !strings.Contains(s, w) {
			b.fail(step, fmt.Errorf("page does not say %q; it says:\n%s", w, s))
		}
	}
}

func (b *browser) login(email string) {
	b.run("sign in as "+email,
		chromedp.Navigate(b.base+"/"),
		chromedp.WaitVisible(chromedp.ID("f-email")),
		chromedp.SendKeys(chromedp.ID("f-email"), email),
		chromedp.SendKeys(chromedp.ID("f-password"), password),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
		// The sign-in page has an h1 too: wait for what only a signed-in
		// page has.
		chromedp.WaitVisible(chromedp.CSS(`form[action="/logout"]`)),
	)
	b.expect("signed in as "+email, "Signed in as", "Incidents")
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
	for _, r := range []auth.Role{auth.Editor, auth.Viewer} {
		hash, err := auth.HashPassword(password)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.CreateUser(ctx, auth.CLI, auth.NewUser{Email: string(r) + "@example.com", Name: "The " + string(r), Role: r}, hash); err != nil {
			t.Fatal(err)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: server.Handler(svc, log, server.Options{SecureCookies: true})}}
	srv.Start()
	t.Cleanup(srv.Close)

	b := newBrowser(t, srv.URL)
	b.login("editor@example.com")

	b.run("open an incident",
		chromedp.Click(chromedp.CSS(`a[href="/incidents/new"]`)),
		chromedp.WaitVisible(chromedp.ID("f-title")),
		chromedp.SendKeys(chromedp.ID("f-title"), "Subscriber card numbers stolen"),
		chromedp.Click(chromedp.CSS(`input[name="severity"][value="critical"]`)),
		chromedp.SendKeys(chromedp.ID("f-what-happened"), "An extortionist claims to hold our customer records."),
		chromedp.Submit(chromedp.ID("f-title")),
		chromedp.WaitVisible(chromedp.CSS(`a[href$="/facts/edit"]`)),
	)
	b.expect("incident page", "Incident opened", "Subscriber card numbers stolen", "Investigating", "critical", "version 1")
	incidentURL := get(b, "read the incident address", chromedp.Location())

	b.run("edit the facts",
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
	b.expect("facts saved", "Saved facts version 2", "Payment card numbers", "Hashed passwords", "15,000", "US-CA", "14,210", "2024-03-01 14:30 UTC")

	b.run("open the history",
		chromedp.Click(chromedp.CSS(`a[href$="/versions"]`)),
		chromedp.WaitVisible(chromedp.ID("h-compare")),
	)
	b.expect("history", "Version 2", "Version 1", "Forensics confirmed card numbers were copied", "Incident opened", "editor@example.com")
	b.run("compare version 1 and 2",
		chromedp.SetValue(chromedp.ID("f-from"), "1"),
		chromedp.SetValue(chromedp.ID("f-to"), "2"),
		chromedp.Submit(chromedp.ID("f-from")),
		chromedp.WaitVisible(chromedp.CSS(`table.diff`)),
	)
	b.expect("diff", "Version 1 and version 2 compared", "Data exposed", "Payment card numbers", "Data not exposed", "Hashed passwords", "People affected", "15000")

	// Two tabs open the editor on version 2; the second saves first.
	stale := b.tab()
	stale.run("open the editor in a second tab",
		chromedp.Navigate(incidentURL+"/facts/edit"),
		chromedp.WaitVisible(chromedp.ID("f-reason")),
	)
	b.run("a colleague saves version 3",
		chromedp.Navigate(incidentURL+"/facts/edit"),
		chromedp.WaitVisible(chromedp.ID("f-reason")),
		chromedp.Click(chromedp.CSS(`input[name="kind.card_expiry"][value="exposed"]`)),
		chromedp.SendKeys(chromedp.ID("f-reason"), "Expiry dates were taken too"),
		chromedp.Submit(chromedp.ID("f-reason")),
		chromedp.WaitVisible(chromedp.ID("h-facts")),
	)
	b.expect("version 3 saved", "Saved facts version 3", "Card expiry dates")
	stale.run("save from the stale tab",
		chromedp.SetValue(chromedp.ID("f-what-happened"), "Customer records were copied from the billing system."),
		chromedp.SendKeys(chromedp.ID("f-reason"), "Clearer wording"),
		chromedp.Submit(chromedp.ID("f-reason")),
		chromedp.WaitVisible(chromedp.ID("conflict")),
	)
	stale.expect("conflict message", "Someone else saved these facts while you were editing", "Card expiry dates",
		"Expiry dates were taken too", "editor@example.com", "Your changes are not saved yet")
	typed := get(stale, "the form kept what was typed", chromedp.Value(chromedp.ID("f-what-happened")))
	base := get(stale, "base_version moved on", chromedp.AttributeValue(chromedp.CSS(`input[name="base_version"]`), "value")).Value
	if typed != "Customer records were copied from the billing system." || base != "3" {
		stale.fail("conflict form", fmt.Errorf("what happened %q, base_version %q; want the typed text and 3", typed, base))
	}

	b.run("sign out",
		chromedp.Click(chromedp.CSS(`form[action="/logout"] button`)),
		chromedp.WaitVisible(chromedp.ID("f-email")),
	)
	b.expect("signed out", "You are signed out")
	b.login("viewer@example.com")
	b.run("the viewer opens the incident",
		chromedp.Navigate(incidentURL),
		chromedp.WaitVisible(chromedp.ID("h-facts")),
	)
	editLinks := get(b, "count edit controls", chromedp.Evaluate[int](`document.querySelectorAll('a[href$="/facts/edit"], form[action$="/facts"], form[action$="/state"]').length`))
	if editLinks != 0 {
		b.fail("viewer page", fmt.Errorf("the viewer sees %d edit controls", editLinks))
	}
	b.run("the viewer visits the editor directly",
		chromedp.Navigate(incidentURL+"/facts/edit"),
		chromedp.WaitVisible(chromedp.CSS(`h1`)),
	)
	b.expect("edit page refused", "Not allowed", "Your role (viewer) cannot change the facts")
	b.run("the viewer reloads the incident",
		chromedp.Navigate(incidentURL),
		chromedp.WaitVisible(chromedp.ID("h-facts")),
	)
	// The page's CSP allows no fetch, so the forged request is a real form
	// post built in the page, with the viewer's own valid CSRF token.
	get(b, "the viewer posts the facts form directly", chromedp.Evaluate[bool](`(() => {
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
	b.run("the refusal page loads", chromedp.WaitVisible(chromedp.CSS(".error-page")))
	b.expect("post refused", "Not allowed", "Your role (viewer) cannot change the facts")
	v, err := svc.Facts(ctx, auth.CLI, 1, 0)
	if err != nil || v.Version != 3 {
		t.Fatalf("facts after the viewer's post: version %d, %v; want 3", v.Version, err)
	}
}
