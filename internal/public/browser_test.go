package public_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/candorhq/candor/internal/browsertest"
	"github.com/candorhq/candor/internal/incident"
	"github.com/candorhq/candor/internal/public"
	"github.com/candorhq/candor/internal/status"
	"github.com/candorhq/candor/internal/status/statustest"
)

// fakeSubscriber records subscription requests.
type fakeSubscriber struct {
	mu   sync.Mutex
	subs []string // "email locale"
}

func (f *fakeSubscriber) Subscribe(_ context.Context, email, locale, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.subs = append(f.subs, email+" "+locale)
	return nil
}
func (f *fakeSubscriber) Confirm(context.Context, string) error     { return nil }
func (f *fakeSubscriber) Unsubscribe(context.Context, string) error { return nil }

// statusSite starts the public site on its own server with snap (its
// address filled in) published.
func statusSite(t *testing.T, snap *status.Snapshot, opt public.Options) (*public.Site, *httptest.Server) {
	t.Helper()
	site := public.NewSite(opt)
	srv := httptest.NewServer(site)
	t.Cleanup(srv.Close)
	snap.Page.URL = srv.URL + "/status"
	if err := site.Publish(snap); err != nil {
		t.Fatal(err)
	}
	return site, srv
}

// TestBrowserStatusPage reads the status page as the public does: the
// incident and its advice first, the timeline newest first, the page in
// French through the switcher, the incident's own page, a phone screen,
// and the subscribe form.
func TestBrowserStatusPage(t *testing.T) {
	subs := &fakeSubscriber{}
	_, srv := statusSite(t, statustest.Example(time.Now()), public.Options{Subscriber: subs})
	b := browsertest.New(t, srv.URL)

	b.Run("open the status page",
		chromedp.Navigate(srv.URL+"/status"),
		chromedp.WaitVisible(chromedp.CSS("h1")),
	)
	b.Expect("the incident comes first", "We are dealing with a security incident", "Security incident affecting customer accounts",
		"Cause identified", "Critical", "Latest update", "closed that access", "What you should do",
		"Check your card statements and call your bank", "How to get in touch", "security@example.com",
		"Questions and answers", "Was my password exposed?", "Affected services", "Customer login", "Unavailable",
		"Get updates by email", "Past incidents", "Phishing emails impersonating us")

	order := browsertest.Get(b, "read the timeline", chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll(".timeline .updates > li")).map(li => li.id)`))
	if strings.Join(order, " ") != "update-33 update-32 update-31" {
		b.Fail("timeline order", fmt.Errorf("timeline %v, want newest first", order))
	}
	// The stylesheet applies (the page's CSP allows it): the advice box
	// stands out from the page.
	box := browsertest.Get(b, "style of the advice box", chromedp.Evaluate[[]string](`(() => {
		const s = getComputedStyle(document.querySelector(".todo")), p = getComputedStyle(document.body);
		return [s.backgroundColor, p.backgroundColor, s.borderLeftWidth];
	})()`))
	if box[0] == box[1] || box[2] != "8px" {
		b.Fail("advice box", fmt.Errorf("the advice box does not stand out: background %s on %s, left border %s", box[0], box[1], box[2]))
	}
	scripts := browsertest.Get(b, "count scripts", chromedp.Evaluate[int](`document.scripts.length`))
	if scripts != 0 {
		b.Fail("no JavaScript", fmt.Errorf("the status page has %d scripts", scripts))
	}

	b.Run("show the earlier text of the edited update",
		chromedp.Click(chromedp.CSS("#update-32 summary")),
		chromedp.WaitVisible(chromedp.CSS("#update-32 .revision")),
	)
	b.Expect("earlier text", "Edited", "We are investigating unauthorized acess to our customer databse.", "Reason for the change: Spelling")

	b.Run("skip link goes to the main content",
		chromedp.Navigate(srv.URL+"/status"),
		chromedp.WaitVisible(chromedp.CSS("h1")),
		chromedp.KeyEvent("\t"),
		chromedp.WaitVisible(chromedp.CSS("a.skip:focus")),
		chromedp.KeyEvent("\r"),
	)
	if id := browsertest.Get(b, "focus after the skip link", chromedp.Evaluate[string](`document.activeElement.id`)); id != "main" {
		b.Fail("skip link", fmt.Errorf("focus is on %q after the skip link, want main", id))
	}

	b.Run("switch to French",
		chromedp.Click(chromedp.CSS(`nav.langs a[hreflang="fr"]`)),
		chromedp.WaitVisible(chromedp.CSS(`html[lang="fr"] h1`)),
	)
	b.Expect("the page in French", "État des services de Example Corp", "Ce que vous devez faire", "Vérifiez vos relevés de carte.",
		"fermé cet accès", "Toutes les mises à jour", "Cause identifiée")
	current := browsertest.Get(b, "current language", chromedp.Evaluate[string](`document.querySelector('nav.langs [aria-current="true"]').hreflang`))
	if current != "fr" {
		b.Fail("current language", fmt.Errorf("the switcher marks %q as current, want fr", current))
	}
	b.Run("the choice sticks",
		chromedp.Navigate(srv.URL+"/status"),
		chromedp.WaitVisible(chromedp.CSS(`html[lang="fr"] h1`)),
	)

	b.Run("open the incident's page",
		chromedp.Click(chromedp.CSS(`.incident .more a`)),
		chromedp.WaitVisible(chromedp.CSS(`h1#incident-7`)),
	)
	b.Expect("incident page in French", "Retour à la page d’état", "Ce que vous devez faire", "Nous contacter")
	if loc := browsertest.Get(b, "incident address", chromedp.Location()); !strings.HasPrefix(loc, srv.URL+"/status/incidents/7") {
		b.Fail("incident address", fmt.Errorf("at %s, want the incident page", loc))
	}
	b.Run("back to English",
		chromedp.Click(chromedp.CSS(`nav.langs a[hreflang="en"]`)),
		chromedp.WaitVisible(chromedp.CSS(`html[lang="en"] h1#incident-7`)),
	)
	b.Expect("incident page", "Back to the status page", "What you should do", "All updates, newest first",
		"We are looking into reports of suspicious activity.", "Get updates by email")

	for _, path := range []string{"/status", "/status/incidents/7", "/status/incidents/3"} {
		b.Run("open "+path+" on a phone",
			chromedp.EmulateViewport(360, 740, chromedp.EmulateMobile),
			chromedp.Navigate(srv.URL+path),
			chromedp.WaitVisible(chromedp.CSS("h1")),
			chromedp.Evaluate[chromedp.Void](`document.querySelectorAll("details").forEach(d => d.open = true)`),
		)
		widths := browsertest.Get(b, "measure "+path, chromedp.Evaluate[[]int](`[document.documentElement.scrollWidth, document.documentElement.clientWidth]`))
		if widths[0] > widths[1] {
			b.Fail("phone "+path, fmt.Errorf("%s scrolls sideways at 360px: %dpx of content in %dpx", path, widths[0], widths[1]))
		}
	}
	b.Run("desktop again", chromedp.EmulateViewport(1280, 900))

	b.Run("subscribe",
		chromedp.Navigate(srv.URL+"/status?lang=fr"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/status/subscribe"] input[type="email"][autocomplete="email"]`)),
		chromedp.SendKeys(chromedp.ID("subscribe-email"), "reader@example.com"),
		chromedp.Submit(chromedp.ID("subscribe-email")),
		chromedp.WaitVisible(chromedp.CSS(`p.message`)),
	)
	b.Expect("subscription answer, in French as the form was", "Consultez votre boîte de réception")
	subs.mu.Lock()
	got := strings.Join(subs.subs, ", ")
	subs.mu.Unlock()
	if got != "reader@example.com fr" {
		t.Errorf("subscriptions %q, want reader@example.com in French", got)
	}
}

// axeViolation is one rule axe-core found broken on a page.
type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// TestBrowserAccessibility runs axe-core in Chromium on the home page, the
// incident pages and a message page, in two languages and on a phone.
func TestBrowserAccessibility(t *testing.T) {
	axePath := os.Getenv("CANDOR_AXE_JS")
	if axePath == "" {
		t.Skip("set CANDOR_AXE_JS to axe-core's axe.min.js (npm install axe-core) to run the accessibility check")
	}
	axe, err := os.ReadFile(axePath)
	if err != nil {
		t.Fatalf("read axe-core: %v", err)
	}
	_, srv := statusSite(t, statustest.Example(time.Now()), public.Options{})
	b := browsertest.New(t, srv.URL)

	for _, tc := range []struct {
		name, path string
		phone      bool
	}{
		{"home", "/status", false},
		{"home in French", "/status?lang=fr", false},
		{"home on a phone", "/status", true},
		{"open incident", "/status/incidents/7", false},
		{"resolved incident", "/status/incidents/3", false},
		{"message page", "/status/no-such-page", false},
	} {
		w, h := int64(1280), int64(900)
		if tc.phone {
			w, h = 360, 740
		}
		b.Run("open "+tc.name,
			chromedp.EmulateViewport(w, h),
			chromedp.Navigate(srv.URL+tc.path),
			chromedp.WaitVisible(chromedp.CSS("h1")),
			// The edited update's history is checked too.
			chromedp.Evaluate[chromedp.Void](`document.querySelectorAll("details").forEach(d => d.open = true)`),
			// Runtime.evaluate is not subject to the page's CSP.
			chromedp.Evaluate[chromedp.Void](string(axe)),
		)
		raw := browsertest.Get(b, "run axe on "+tc.name, chromedp.Evaluate[string](`axe.run(document, {resultTypes: ["violations"]}).then(r => JSON.stringify({
			passes: r.passes.length,
			violations: r.violations.map(v => ({
				id: v.id, impact: v.impact, help: v.help,
				nodes: v.nodes.map(n => n.target.join(" ") + ": " + n.failureSummary)
			}))
		}))`, chromedp.EvalAwaitPromise))
		var result struct {
			Violations []axeViolation `json:"violations"`
			Passes     int            `json:"passes"`
		}
		if err := json.Unmarshal([]byte(raw), &result); err != nil {
			t.Fatalf("%s: axe result: %v\n%s", tc.name, err, raw)
		}
		if result.Passes < 10 {
			t.Fatalf("%s: axe passed only %d rules; did it run?", tc.name, result.Passes)
		}
		if len(result.Violations) > 0 {
			var sb strings.Builder
			for _, v := range result.Violations {
				fmt.Fprintf(&sb, "\n- %s (%s): %s", v.ID, v.Impact, v.Help)
				for _, n := range v.Nodes {
					fmt.Fprintf(&sb, "\n    %s", strings.ReplaceAll(n, "\n", "\n    "))
				}
			}
			b.Fail("accessibility of "+tc.name, errors.New(tc.path+" has accessibility violations:"+sb.String()))
		}
	}
}

// cspGuard records, from before any script of a page runs, every
// Content-Security-Policy violation the page reports.
const cspGuard = `window.__csp = [];
document.addEventListener("securitypolicyviolation", e => window.__csp.push(e.violatedDirective + " " + e.blockedURI + " " + (e.sample || "")));`

// TestBrowserBannerCrossOrigin puts the banner script on a page of another
// origin whose CSP allows scripts from the status site and no styles at
// all: the bar shows, styled, with the right words and link; it is usable
// with the keyboard; dismissing it lasts until the next update.
func TestBrowserBannerCrossOrigin(t *testing.T) {
	now := time.Now()
	site, statusSrv := statusSite(t, statustest.Example(now), public.Options{})
	csp := "default-src 'none'; script-src " + statusSrv.URL + "; style-src 'none'"
	host := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lang := "en"
		if r.URL.Path == "/fr" {
			lang = "fr-FR"
		}
		w.Header().Set("Content-Security-Policy", csp)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><html lang="%s"><head><meta charset="utf-8"><title>Shop</title></head>
<body><h1>Welcome to the shop</h1><p><a href="/products">Products</a></p>
<script src="%s/banner.js" async></script></body></html>`, lang, statusSrv.URL)
	}))
	t.Cleanup(host.Close)
	if strings.TrimPrefix(host.URL, "http://") == strings.TrimPrefix(statusSrv.URL, "http://") {
		t.Fatal("the host page and the status site share an origin")
	}

	b := browsertest.New(t, host.URL)
	if _, err := chromedp.Call(b.Ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: cspGuard}); err != nil {
		t.Fatal(err)
	}
	// Every reload must fetch the banner again, as it would once its
	// cache lifetime is over.
	if _, err := chromedp.Call(b.Ctx, network.SetCacheDisabled, network.SetCacheDisabledParams{CacheDisabled: true}); err != nil {
		t.Fatal(err)
	}
	var consoleMu sync.Mutex
	var consoleErrors []string
	messages := chromedp.Console(b.Ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() || strings.Contains(m.Text, "Content Security Policy") {
				consoleMu.Lock()
				consoleErrors = append(consoleErrors, m.String())
				consoleMu.Unlock()
			}
		}
	}()
	noViolations := func(step string) {
		t.Helper()
		v := browsertest.Get(b, step, chromedp.Evaluate[[]string](`window.__csp`))
		consoleMu.Lock()
		v = append(v, consoleErrors...)
		consoleMu.Unlock()
		if len(v) > 0 {
			b.Fail(step, fmt.Errorf("the page reports: %s", strings.Join(v, "; ")))
		}
	}
	bannerLoaded := func(step string) {
		t.Helper()
		ok := browsertest.Get(b, step, chromedp.Evaluate[bool](`document.readyState === "complete" && performance.getEntriesByType("resource").some(e => e.name.endsWith("/banner.js"))`))
		if !ok {
			b.Fail(step, errors.New("the page did not load banner.js"))
		}
	}

	b.Run("open the host page",
		chromedp.Navigate(host.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("candor-banner")),
	)
	type bar struct {
		Text, Role, Label, Href, LinkText, Button, Background, Color, Lang string
		First                                                              bool
		Top                                                                float64
	}
	readBar := `(() => {
		const bar = document.getElementById("candor-banner"), a = bar.querySelector("a"), s = getComputedStyle(bar);
		return {Text: bar.textContent, Role: bar.getAttribute("role"), Label: bar.getAttribute("aria-label"),
			Href: a.href, LinkText: a.textContent, Button: bar.querySelector("button").getAttribute("aria-label"),
			Background: s.backgroundColor, Color: s.color, Lang: bar.lang,
			First: document.body.firstElementChild === bar, Top: bar.getBoundingClientRect().top};
	})()`
	got := browsertest.Get(b, "read the bar", chromedp.Evaluate[bar](readBar))
	want := bar{
		Text: "Important: security incidentRead what happened and what to do×", Role: "region", Label: "Security incident notice",
		Href: statusSrv.URL + "/status/incidents/7", LinkText: "Read what happened and what to do", Button: "Dismiss this notice",
		// Styles set through the CSSOM apply under style-src 'none'.
		Background: "rgb(168, 32, 26)", Color: "rgb(255, 255, 255)", Lang: "en", First: true,
	}
	// The bar is the body's first child: only the host's body margin (8px
	// by default) is above it.
	top := got.Top
	got.Top = 0
	if got != want || top > 8 {
		b.Fail("the bar", fmt.Errorf("bar\n%+v\nwant\n%+v", got, want))
	}
	noViolations("no CSP violation")

	b.Run("reach the bar with the keyboard and dismiss it",
		chromedp.KeyEvent("\t"),
		chromedp.WaitReady(chromedp.CSS("#candor-banner a:focus")),
		chromedp.KeyEvent("\t"),
		chromedp.WaitReady(chromedp.CSS("#candor-banner button:focus")),
		chromedp.KeyEvent("\r"),
		chromedp.WaitNotPresent(chromedp.ID("candor-banner")),
	)
	if v := browsertest.Get(b, "dismissal is stored", chromedp.Evaluate[string](`localStorage.getItem("candor-banner:c4nd0rpage01")`)); v != "33" {
		b.Fail("dismissal is stored", fmt.Errorf("localStorage holds %q, want the update id 33", v))
	}

	b.Run("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("h1")))
	bannerLoaded("the banner script ran again")
	if n := browsertest.Get(b, "the bar stays dismissed", chromedp.Evaluate[int](`document.querySelectorAll("#candor-banner").length`)); n != 0 {
		b.Fail("the bar stays dismissed", errors.New("the dismissed bar came back without a new update"))
	}

	// A new update brings the bar back.
	next := statustest.Example(now)
	next.Page.URL = statusSrv.URL + "/status"
	u := next.Incidents[0].Updates[0]
	u.ID, u.Status, u.DisplayAt, u.PublishAt = 34, incident.Contained, now, now
	u.Body, u.Translations = "The attacker's access is closed and we are watching for any new attempt.", nil
	next.Incidents[0].Updates = append([]status.Update{u}, next.Incidents[0].Updates...)
	next.Incidents[0].State = incident.Contained
	next.UpdatedAt = now
	if err := site.Publish(next); err != nil {
		t.Fatal(err)
	}
	b.Run("reload after a new update",
		chromedp.Reload(),
		chromedp.WaitVisible(chromedp.ID("candor-banner")),
	)
	noViolations("no CSP violation after the update")

	b.Run("a French page", chromedp.Navigate(host.URL+"/fr"), chromedp.WaitVisible(chromedp.ID("candor-banner")))
	fr := browsertest.Get(b, "read the French bar", chromedp.Evaluate[bar](readBar))
	if fr.Text != "Important : incident de sécuritéLire ce qui s’est passé et ce qu’il faut faire×" || fr.Button != "Masquer cet avis" || fr.Lang != "fr" {
		b.Fail("the French bar", fmt.Errorf("French bar %+v", fr))
	}

	b.Run("click dismiss", chromedp.Click(chromedp.CSS("#candor-banner button")), chromedp.WaitNotPresent(chromedp.ID("candor-banner")))
	if v := browsertest.Get(b, "the new dismissal is stored", chromedp.Evaluate[string](`localStorage.getItem("candor-banner:c4nd0rpage01")`)); v != "34" {
		b.Fail("the new dismissal is stored", fmt.Errorf("localStorage holds %q, want 34", v))
	}

	// Once nothing is open, the script does nothing, even for a reader
	// who never dismissed anything.
	quiet := statustest.Example(now)
	quiet.Page.URL = statusSrv.URL + "/status"
	quiet.Incidents = quiet.Incidents[1:]
	if err := site.Publish(quiet); err != nil {
		t.Fatal(err)
	}
	b.Run("forget the dismissal and reload with nothing open",
		chromedp.Evaluate[chromedp.Void](`localStorage.clear()`),
		chromedp.Navigate(host.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS("h1")),
	)
	bannerLoaded("the quiet banner script ran")
	if n := browsertest.Get(b, "no bar when nothing is open", chromedp.Evaluate[int](`document.querySelectorAll("#candor-banner").length`)); n != 0 {
		b.Fail("no bar when nothing is open", errors.New("the bar shows with no open incident"))
	}
	noViolations("no CSP violation with nothing open")
}
