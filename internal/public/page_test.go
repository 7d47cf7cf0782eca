package public

import (
	"bytes"
	"fmt"
	"html/template"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/candorhq/candor/internal/incident"
	"github.com/candorhq/candor/internal/status"
	"github.com/candorhq/candor/internal/status/statustest"
)

// pageNow fixes the example's clock, so its pages are the same every run.
var pageNow = time.Date(2026, 3, 2, 14, 5, 0, 0, time.UTC)

func renderPages(t *testing.T, s *status.Snapshot, locale string) map[string]string {
	t.Helper()
	pages, err := Pages(s, locale)
	if err != nil {
		t.Fatalf("Pages(%q): %v", locale, err)
	}
	out := map[string]string{}
	for k, v := range pages {
		out[k] = string(v)
	}
	return out
}

// between returns the part of s from the first start to the next end
// after it, or fails.
func between(t *testing.T, s, start, end string) string {
	t.Helper()
	i := strings.Index(s, start)
	if i < 0 {
		t.Fatalf("no %q in:\n%s", start, s)
	}
	j := strings.Index(s[i:], end)
	if j < 0 {
		t.Fatalf("no %q after %q", end, start)
	}
	return s[i : i+j+len(end)]
}

func mustContain(t *testing.T, what, s string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(s, w) {
			t.Errorf("%s does not contain %q", what, w)
		}
	}
}

func TestPagesPaths(t *testing.T) {
	pages := renderPages(t, statustest.Example(pageNow), "en")
	var paths []string
	for p := range pages {
		paths = append(paths, p)
	}
	want := []string{"/status", "/status/incidents/3", "/status/incidents/7"}
	if fmt.Sprint(sortedStrings(paths)) != fmt.Sprint(want) {
		t.Fatalf("paths %v, want %v", sortedStrings(paths), want)
	}
	for p, body := range pages {
		if !strings.HasPrefix(body, "<!doctype html>\n<html lang=\"en\">") || !strings.HasSuffix(strings.TrimSpace(body), "</html>") {
			t.Errorf("%s is not a complete document:\n%.200s", p, body)
		}
	}
}

func sortedStrings(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestPagesHome(t *testing.T) {
	home := renderPages(t, statustest.Example(pageNow), "en")["/status"]

	mustContain(t, "home", home,
		"<title>Example Corp status</title>",
		`<link rel="stylesheet" href="/status/status.css">`,
		`<link rel="alternate" type="application/atom+xml" title="Atom feed" href="/status/feed.atom">`,
		`<link rel="alternate" type="application/rss+xml" title="RSS feed" href="/status/feed.rss">`,
		`<a class="skip" href="#main">Skip to main content</a>`,
		`<main id="main"`, "<header", "<footer", `<nav class="langs" aria-label="Language">`,
		`<h2 id="incident-7">Security incident affecting customer accounts</h2>`,
		`<dd class="state">Cause identified</dd>`, `<dd class="severity">Critical</dd>`,
		`<a href="/status/incidents/7">`,
		`<a href="mailto:security@example.com">`, `<a href="tel:&#43;15550100">`, `<a href="https://example.com/security">`,
		// Visible feed links, not only <link> elements.
		`<a href="/status/feed.atom" type="application/atom+xml">Atom feed</a>`,
	)

	latest := between(t, home, `<section class="latest">`, "</section>")
	mustContain(t, "latest update", latest, `<time datetime="2026-03-02T13:05:00Z">March 2, 2026, 13:05 UTC</time>`, "<strong>closed that access</strong>")

	todo := between(t, home, `<section class="todo"`, "</section>")
	mustContain(t, "what-to-do box", todo, `<h3 id="incident-7-todo">What you should do</h3>`, "Check your card statements and call your bank")

	// The timeline is newest first, with each update's time and status.
	timeline := between(t, home, `<section class="timeline">`, "</section>")
	i33, i32, i31 := strings.Index(timeline, `id="update-33"`), strings.Index(timeline, `id="update-32"`), strings.Index(timeline, `id="update-31"`)
	if i33 < 0 || i32 < 0 || i31 < 0 || !(i33 < i32 && i32 < i31) {
		t.Errorf("timeline order: update 33 at %d, 32 at %d, 31 at %d; want newest first", i33, i32, i31)
	}
	mustContain(t, "timeline", timeline, `<time datetime="2026-03-01T12:05:00Z">March 1, 2026, 12:05 UTC</time> <span class="state">Investigating</span>`)

	// The edited update says so, and keeps its earlier text one click away.
	edited := between(t, timeline, `id="update-32"`, "</li>")
	mustContain(t, "edited update", edited, `<span class="edited">Edited</span>`, "<details>", "<summary>Show the earlier text</summary>",
		"We are investigating unauthorized acess to our customer databse.", "Reason for the change: Spelling", `<time datetime="2026-03-01T19:05:00Z">`)
	if strings.Contains(between(t, timeline, `id="update-33"`, "</li>"), "edited") {
		t.Error("update 33 is marked edited")
	}

	// The Q&A's own headings sit below the document's title (h4 on the home
	// page), so the outline stays in order.
	docs := between(t, home, `<section class="documents">`, "</section>\n</section>")
	mustContain(t, "documents", docs, "<h3>More information</h3>", "<h4>Questions and answers</h4>", "<h5>Was my password exposed?</h5>")

	comps := between(t, home, `<section class="components">`, "</section>")
	mustContain(t, "affected services", comps, "Customer login", `<td class="component-major_outage">Unavailable</td>`, "Billing", "Slower than usual")
	if strings.Contains(comps, "Email") {
		t.Error("the open incident lists a service it does not affect")
	}

	form := between(t, home, "<form", "</form>")
	mustContain(t, "subscribe form", form, `method="post" action="/status/subscribe"`, `<input type="hidden" name="lang" value="en">`,
		`<label for="subscribe-email">Email address</label>`, `<input type="email" id="subscribe-email" name="email" autocomplete="email"`, `<button type="submit">Subscribe</button>`)

	past := between(t, home, `<section class="past"`, "</section>")
	mustContain(t, "past incidents", past, `<a href="/status/incidents/3">Phishing emails impersonating us</a>`,
		`<time datetime="2025-11-30T14:05:00Z">November 30, 2025, 14:05 UTC</time> – <time datetime="2025-12-02T14:05:00Z">`, "Resolved")
	if strings.Contains(home, `id="incident-3"`) {
		t.Error("the resolved incident is shown as going on")
	}

	mustContain(t, "footer", home, `Last updated: <time datetime="2026-03-02T13:05:00Z">`)
}

// TestPagesEscaping: the writer's text never becomes markup, and the pages
// hold no script and nothing a strict Content-Security-Policy would refuse.
func TestPagesEscaping(t *testing.T) {
	s := statustest.Example(pageNow)
	s.Page.Name = `Evil <script>alert("name")</script> Corp`
	in := &s.Incidents[0]
	in.Title = `Breach <img src=x onerror=alert(1)>`
	in.Contact.URL = "javascript:alert(1)"
	in.Contact.Phone = `+1 555"><script>`
	in.Documents[0].Title = `Q&A <b>bold</b>`
	in.Components[0].Name = `<svg onload=alert(1)>`
	in.Updates[0].Revisions = []status.Revision{{Text: status.Text{Body: "old <script>x()</script>"}, Reason: `<i>typo</i>`, ReplacedAt: pageNow}}
	in.Updates[0].Edited = true
	for _, locale := range []string{"en", "fr"} {
		for path, body := range renderPages(t, s, locale) {
			checkStrictHTML(t, locale+" "+path, body)
			if strings.Contains(body, "javascript:") || strings.Contains(body, "ZgotmplZ") {
				t.Errorf("%s %s shows an unsafe contact address", locale, path)
			}
		}
	}
	home := renderPages(t, s, "en")["/status"]
	mustContain(t, "home", home,
		"Breach &lt;img src=x onerror=alert(1)&gt;",
		"Evil &lt;script&gt;alert(&#34;name&#34;)&lt;/script&gt; Corp",
		"Q&amp;A &lt;b&gt;bold&lt;/b&gt;",
		"&lt;svg onload=alert(1)&gt;",
		"Reason for the change: &lt;i&gt;typo&lt;/i&gt;",
		// The update with a <script> in its body keeps its words.
		"We are investigating unauthorised access to our customer database.",
		// A phone number that is not one is shown, not linked.
		"Phone: &#43;1 555&#34;&gt;&lt;script&gt;</li>",
	)
	msg := string(MessagePage(s, "en", `<b>Oops</b>`, `Try <script>again</script>`))
	checkStrictHTML(t, "message page", msg)
	mustContain(t, "message page", msg, "<h1>&lt;b&gt;Oops&lt;/b&gt;</h1>", "Try &lt;script&gt;again&lt;/script&gt;")
}

var (
	scriptTag    = regexp.MustCompile(`(?i)<script`)
	styleTag     = regexp.MustCompile(`(?i)<style`)
	styleAttr    = regexp.MustCompile(`(?i)\sstyle\s*=`)
	eventHandler = regexp.MustCompile(`(?i)<[^>]*\son[a-z]+\s*=`)
)

func checkStrictHTML(t *testing.T, what, body string) {
	t.Helper()
	for name, re := range map[string]*regexp.Regexp{"a <script> tag": scriptTag, "a <style> element": styleTag, "a style attribute": styleAttr, "an event handler attribute": eventHandler} {
		if loc := re.FindStringIndex(body); loc != nil {
			t.Errorf("%s has %s: …%s…", what, name, body[max(loc[0]-60, 0):min(loc[1]+60, len(body))])
		}
	}
}

func TestPagesExampleIsStrict(t *testing.T) {
	s := statustest.Example(pageNow)
	for _, locale := range []string{"en", "fr", "de", "es"} {
		for path, body := range renderPages(t, s, locale) {
			checkStrictHTML(t, locale+" "+path, body)
		}
	}
}

func TestPagesFrench(t *testing.T) {
	pages := renderPages(t, statustest.Example(pageNow), "fr")
	home := pages["/status"]
	mustContain(t, "French home", home,
		`<html lang="fr">`,
		"<title>État des services de Example Corp</title>",
		`<a href="/status?lang=fr" hreflang="fr" lang="fr" aria-current="true">Français</a>`,
		`<a href="/status?lang=en" hreflang="en" lang="en">English</a>`,
		`<dd class="state">Cause identifiée</dd>`,
		"Nous avons identifié comment l'attaquant est entré et <strong>fermé cet accès</strong>.",
		`<input type="hidden" name="lang" value="fr">`,
		"2 mars 2026 à 13:05 UTC",
		// Links keep the reader in French.
		`<a href="/status/incidents/7?lang=fr">`,
	)
	todo := between(t, home, `<section class="todo"`, "</section>")
	mustContain(t, "French what-to-do box", todo, "Ce que vous devez faire", "Vérifiez vos relevés de carte.")
	if strings.Contains(todo, `lang="en"`) {
		t.Error("the French advice is marked as English")
	}
	// What has no translation shows in English, and says so to screen
	// readers.
	mustContain(t, "French home", home,
		`<h2 id="incident-7" lang="en">Security incident affecting customer accounts</h2>`,
		`<div class="body" lang="en"><p>We are looking into reports of suspicious activity.</p>`)
	if strings.Contains(home, "What you should do") || strings.Contains(home, "Latest update") {
		t.Error("the French page has English chrome")
	}

	incidentPage := pages["/status/incidents/7"]
	mustContain(t, "French incident page", incidentPage, `<a href="/status/incidents/7?lang=en" hreflang="en"`, `<h2 id="incident-7-todo">Ce que vous devez faire</h2>`)
}

func TestPagesLocaleFallback(t *testing.T) {
	s := statustest.Example(pageNow)
	for _, tc := range []struct {
		locale, lang, want string
	}{
		{"de-CH", `<html lang="de-CH">`, "Was Sie tun sollten"},
		{"es", `<html lang="es">`, "Lo que debe hacer"},
		{"fr-CA", `<html lang="fr-CA">`, "Vérifiez vos relevés de carte."},
		{"ja", `<html lang="ja">`, "What you should do"},
		{"", `<html lang="en">`, "What you should do"},
	} {
		t.Run(tc.locale, func(t *testing.T) {
			home := renderPages(t, s, tc.locale)["/status"]
			mustContain(t, tc.locale+" home", home, tc.lang, tc.want)
		})
	}
}

func TestPagesIncidentPage(t *testing.T) {
	pages := renderPages(t, statustest.Example(pageNow), "en")
	open := pages["/status/incidents/7"]
	mustContain(t, "incident page", open,
		"<title>Security incident affecting customer accounts – Example Corp status</title>",
		`<h1 id="incident-7">Security incident affecting customer accounts</h1>`,
		`<a href="/status">Back to the status page</a>`,
		`<h2 id="incident-7-todo">What you should do</h2>`,
		`<h2>All updates, newest first</h2>`, `id="update-31"`,
		"<h3>Questions and answers</h3>", "<h4>Should I cancel my card?</h4>",
		`<h2>Affected services</h2>`,
		`action="/status/subscribe"`,
		`<a href="/status/incidents/7?lang=fr" hreflang="fr"`,
	)
	if strings.Contains(open, "Page of this incident") {
		t.Error("the incident page links to itself")
	}
	past := pages["/status/incidents/3"]
	mustContain(t, "past incident page", past, `<h1 id="incident-3">Phishing emails impersonating us</h1>`,
		"<dt>Resolved</dt><dd><time datetime=\"2025-12-02T14:05:00Z\">", "The fake site was taken down.", `class="incident severity-medium closed"`)
}

func TestPagesNothingPublic(t *testing.T) {
	s := statustest.Example(pageNow)
	s.Incidents = nil
	s.Components = status.ComponentsOf(nil, nil)
	pages := renderPages(t, s, "en")
	if len(pages) != 1 {
		t.Fatalf("pages %v, want the home page only", len(pages))
	}
	home := pages["/status"]
	mustContain(t, "quiet home", home, `<h2 id="no-incidents">No incidents</h2>`, "We are not aware of any security incident right now.",
		`action="/status/subscribe"`, "No past incidents.")
	if strings.Contains(home, "What you should do") || strings.Contains(home, "We are dealing with") {
		t.Error("a page with no incident talks about one")
	}

	// Only past incidents: nothing is going on, the history shows.
	s = statustest.Example(pageNow)
	s.Incidents = s.Incidents[1:]
	home = renderPages(t, s, "en")["/status"]
	mustContain(t, "home with history", home, "No incidents", "Phishing emails impersonating us")
}

func TestPagesSeveralOpen(t *testing.T) {
	s := statustest.Example(pageNow)
	second := s.Incidents[0]
	second.ID, second.Title = 8, "Second incident"
	s.Incidents = append([]status.Incident{second}, s.Incidents...)
	home := renderPages(t, s, "en")["/status"]
	mustContain(t, "home", home, "We are dealing with 2 security incidents.", `id="incident-8"`, `id="incident-7"`, `id="incident-8-todo"`, `id="incident-7-todo"`)
}

// TestPagesHeadingOrder: one h1, and no heading skips a level on the way
// down, on every page in every language.
func TestPagesHeadingOrder(t *testing.T) {
	s := statustest.Example(pageNow)
	heading := regexp.MustCompile(`<h([1-6])[\s>]`)
	check := func(what, body string) {
		levels := heading.FindAllStringSubmatch(body, -1)
		prev, ones := 0, 0
		for _, m := range levels {
			n := int(m[1][0] - '0')
			if n == 1 {
				ones++
			}
			if n > prev+1 {
				t.Errorf("%s: h%d follows h%d", what, n, prev)
			}
			prev = n
		}
		if ones != 1 {
			t.Errorf("%s has %d h1, want 1", what, ones)
		}
	}
	for _, locale := range []string{"en", "fr"} {
		for path, body := range renderPages(t, s, locale) {
			check(locale+" "+path, body)
		}
	}
	check("message page", string(MessagePage(s, "en", "Check your inbox", "A message is on its way.")))
}

func TestPagesDeterministic(t *testing.T) {
	a, err := Pages(statustest.Example(pageNow), "en")
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		b, err := Pages(statustest.Example(pageNow), "en")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatal("the same snapshot rendered different bytes")
		}
	}
	s := statustest.Example(pageNow)
	if !bytes.Equal(MessagePage(s, "fr", "x", "y"), MessagePage(s, "fr", "x", "y")) {
		t.Fatal("the message page differs between renders")
	}
}

func TestMessagePage(t *testing.T) {
	s := statustest.Example(pageNow)
	msg := string(MessagePage(s, "fr", "Check your inbox", "A message is on its way."))
	mustContain(t, "message page", msg, `<html lang="fr">`, "<title>Check your inbox – État des services de Example Corp</title>",
		"<h1>Check your inbox</h1>", `<p class="message">A message is on its way.</p>`,
		`<a href="/status?lang=fr">Retour à la page d’état</a>`, `<a href="/status?lang=fr" hreflang="fr" lang="fr" aria-current="true">`,
		`<link rel="stylesheet" href="/status/status.css">`)
	if strings.Contains(msg, "<form") {
		t.Error("the message page has a form")
	}
}

// TestPagesCatalog: every language has every word, and the same
// placeholders as English.
func TestPagesCatalog(t *testing.T) {
	en := reflect.ValueOf(*uiCatalog["en"])
	verbs := regexp.MustCompile(`%(\[\d\])?[sd]`)
	for _, locale := range []string{"en", "fr", "de", "es"} {
		c, ok := uiCatalog[locale]
		if !ok {
			t.Fatalf("no catalog for %s", locale)
		}
		v := reflect.ValueOf(*c)
		for i := 0; i < v.NumField(); i++ {
			name := v.Type().Field(i).Name
			switch f := v.Field(i); f.Kind() {
			case reflect.String:
				if strings.TrimSpace(f.String()) == "" && name != "Colon" {
					t.Errorf("%s: %s is empty", locale, name)
				}
				if got, want := len(verbs.FindAllString(f.String(), -1)), len(verbs.FindAllString(en.Field(i).String(), -1)); got != want {
					t.Errorf("%s: %s has %d placeholders, English %d", locale, name, got, want)
				}
			case reflect.Array:
				for j := 0; j < f.Len(); j++ {
					if f.Index(j).String() == "" {
						t.Errorf("%s: %s[%d] is empty", locale, name, j)
					}
				}
			}
		}
		for _, st := range incident.States {
			if c.States[st] == "" {
				t.Errorf("%s: no words for state %s", locale, st)
			}
		}
		for _, sv := range incident.Severities {
			if c.Severities[sv] == "" {
				t.Errorf("%s: no words for severity %s", locale, sv)
			}
		}
		for _, cs := range status.ComponentStatuses {
			if c.Components[cs] == "" {
				t.Errorf("%s: no words for component status %s", locale, cs)
			}
		}
	}
	if uiFor("fr-BE") != uiCatalog["fr"] || uiFor("pt") != uiCatalog["en"] || uiFor("ES") != uiCatalog["es"] {
		t.Error("uiFor does not fall back to the base language, then English")
	}
}

func TestNestHeadings(t *testing.T) {
	for _, tc := range []struct {
		in    string
		level int
		want  string
	}{
		{"<h2>a</h2><p>x</p><h3 id=\"b\">b</h3>", 5, "<h5>a</h5><p>x</p><h6 id=\"b\">b</h6>"},
		{"<h1>a</h1><h2>b</h2>", 3, "<h3>a</h3><h4>b</h4>"},
		{"<h4>a</h4>", 3, "<h3>a</h3>"},
		{"<h2>a</h2><h6>deep</h6>", 4, "<h4>a</h4><h6>deep</h6>"},
		{"<p>no headings, <header>kept</header></p>", 3, "<p>no headings, <header>kept</header></p>"},
	} {
		if got := string(nestHeadings(template.HTML(tc.in), tc.level)); got != tc.want {
			t.Errorf("nestHeadings(%q, %d) = %q, want %q", tc.in, tc.level, got, tc.want)
		}
	}
}

func TestStatusCSS(t *testing.T) {
	css := string(StatusCSS())
	// Visible focus, and no horizontal scrolling from long words.
	mustContain(t, "status.css", css, ":focus-visible", "overflow-wrap: break-word", ".todo")
}

// bannerMaxBytes is the banner script's budget: it is loaded with every
// page view of the company's own site.
const bannerMaxBytes = 4 << 10

func TestBannerJS(t *testing.T) {
	s := statustest.Example(pageNow)
	b, err := BannerJS(s)
	if err != nil {
		t.Fatal(err)
	}
	js := string(b)
	if len(b) >= bannerMaxBytes {
		t.Errorf("banner.js is %d bytes, want under %d", len(b), bannerMaxBytes)
	}
	t.Logf("banner.js: %d bytes", len(b))
	mustContain(t, "banner.js", js,
		`"u":"http://status.example.test/status/incidents/7"`,
		`"v":"33"`, `"p":"c4nd0rpage01"`,
		`"Important: security incident"`, `"Read what happened and what to do"`, `"Dismiss this notice"`,
		`"Important : incident de sécurité"`, `"Wichtig: Sicherheitsvorfall"`, `"Importante: incidente de seguridad"`,
		`setAttribute("role", "region")`, `setAttribute("aria-label"`, "localStorage", "textContent",
	)
	// Nothing a strict CSP refuses, and no way for data to become code.
	for _, banned := range []string{"eval(", "new Function", "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "fetch(", "XMLHttpRequest", "cssText", `setAttribute("style"`, "<style", "import("} {
		if strings.Contains(js, banned) {
			t.Errorf("banner.js uses %s", banned)
		}
	}
	b2, _ := BannerJS(statustest.Example(pageNow))
	if !bytes.Equal(b, b2) {
		t.Error("the same snapshot rendered two different banners")
	}
}

func TestBannerJSEscapesData(t *testing.T) {
	s := statustest.Example(pageNow)
	s.Page.URL = `https://status.example.com/x"</script><script>alert(1)</script>` + "\u2028"
	s.Page.ID = `id"); alert(1); ("`
	b, err := BannerJS(s)
	if err != nil {
		t.Fatal(err)
	}
	js := string(b)
	for _, bad := range []string{"</script", `id"); alert(1)`, "\u2028"} {
		if strings.Contains(js, bad) {
			t.Errorf("banner.js holds %q unescaped", bad)
		}
	}
}

func TestBannerJSNewUpdateChangesKey(t *testing.T) {
	s := statustest.Example(pageNow)
	u := s.Incidents[0].Updates[0]
	u.ID, u.DisplayAt = 34, pageNow
	s.Incidents[0].Updates = append([]status.Update{u}, s.Incidents[0].Updates...)
	b, err := BannerJS(s)
	if err != nil {
		t.Fatal(err)
	}
	mustContain(t, "banner.js", string(b), `"v":"34"`)
}

func TestBannerJSNothingOpen(t *testing.T) {
	s := statustest.Example(pageNow)
	s.Incidents = s.Incidents[1:] // only the resolved one
	b, err := BannerJS(s)
	if err != nil {
		t.Fatal(err)
	}
	js := string(b)
	for _, unwanted := range []string{"incidents/", "localStorage", "createElement", "Phishing"} {
		if strings.Contains(js, unwanted) {
			t.Errorf("with nothing open, banner.js has %q:\n%s", unwanted, js)
		}
	}
	if len(b) > 200 {
		t.Errorf("with nothing open, banner.js is %d bytes", len(b))
	}
}
