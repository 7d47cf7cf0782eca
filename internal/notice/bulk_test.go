package notice

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"math/rand/v2"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/candorhq/candor/internal/incident"
	"github.com/candorhq/candor/internal/playbook"
)

// The contract: Mailer.Email(d) is t.Email(d), byte for byte, errors
// included. Every test here compares the two.

func sameEmail(tb testing.TB, label string, t *Template, m *Mailer, d Data) {
	tb.Helper()
	want, werr := t.Email(d)
	got, gerr := m.Email(d)
	for try := 0; try < 3 && (timedOut(werr) || timedOut(gerr)); try++ {
		// MaxExecTime is wall time: on a loaded machine either
		// side may run out of it.
		want, werr = t.Email(d)
		got, gerr = m.Email(d)
	}
	if timedOut(werr) != timedOut(gerr) {
		// Still out of wall time on one side only: the Mailer keeps the
		// rendering it made earlier, when the machine was less busy, so
		// the two cannot be compared now. The step budget, which is
		// deterministic, is compared like everything else.
		tb.Logf("%s: skipped, one side ran out of wall time on a loaded machine (Template: %v; Mailer: %v)", label, werr, gerr)
		return
	}
	if (werr == nil) != (gerr == nil) || werr != nil && werr.Error() != gerr.Error() {
		tb.Fatalf("%s: errors differ:\nTemplate.Email: %v\nMailer.Email:   %v", label, werr, gerr)
	}
	if want.Subject != got.Subject {
		tb.Fatalf("%s: subjects differ:\n%q\n%q", label, want.Subject, got.Subject)
	}
	if want.Text != got.Text {
		tb.Fatalf("%s: texts differ:\n%s", label, firstDiff(want.Text, got.Text))
	}
	if want.HTML != got.HTML {
		tb.Fatalf("%s: HTML differs:\n%s", label, firstDiff(want.HTML, got.HTML))
	}
}

func timedOut(err error) bool {
	return err != nil && strings.Contains(err.Error(), "takes too long")
}

func firstDiff(a, b string) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	from := max(0, i-120)
	return fmt.Sprintf("at byte %d\nwant …%q\ngot  …%q", i, a[from:min(len(a), i+120)], b[from:min(len(b), i+120)])
}

// builtinTemplates returns every built-in playbook notice.
func builtinTemplates(tb testing.TB) map[string]*Template {
	tb.Helper()
	all, err := playbook.Builtin()
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]*Template{}
	for _, p := range all {
		for _, it := range p.Items {
			tm, err := Parse(it.Subject, it.Body)
			if err != nil {
				tb.Fatalf("%s/%s: %v", p.Key, it.Key, err)
			}
			out[p.Key+"/"+it.Key] = tm
		}
	}
	if len(out) == 0 {
		tb.Fatal("no built-in templates")
	}
	return out
}

// Names with Markdown specials, HTML specials, non-ASCII, emoji, words of
// the notices, URL and address shapes, and the sentinel itself.
var mailerNames = []string{
	"Alex Sample", "Zoë Ångström", "José Núñez", "Jose\u0301", "李小龙", "محمد علي", "Ørjan", "Ægir",
	"Mary-Jane O'Brien", "J. R. R. Tolkien", "Smith, Jr.", "Bob & Alice", "D'Angelo", "Jean-Luc",
	"*bold*", "_under_", "**x**", "[link](https://example.com)", "[x]", "<b>x</b>", "<script>alert(1)</script>",
	"&amp;", "amp", "&", `"quoted"`, "it's", `back\slash`, "`code`", "a`b", "a<b", "a>b", "#1 fan", "1. Bob", "12",
	"- Bob", "> Bob", "Bob.", "Bob!", "Bob2", "a", "ab", "Al", "", "   ", "\u200e", "\t\n", "😀", "Alex 😀", "😀 Alex",
	"customer", "Dear", "information", "we", "The", "Example Networks", "www", "www.evil.com", "Wwwilliam",
	"http://x.example", "https", "bob@example.com", "bob@", "@bob", "Ann\nBcc: x", "A\u2028B", "\u01bb", "A\u01bbb",
	"\ue000Alex\ue001", "Alex\u202eSample", "&#443;", "Alex_Sample", "Alex*Sample", "x|y", "ſ", "K", "İstanbul",
	"1", "Ω", "ß", "ǅemal", strings.Repeat("Long Name ", 40),
}

var mailerEmails = []string{"alex@example.org", "a+b@example.com", "o'neil@example.com", "a&b@example.com", "not an address", "", "x@y", "<x@y.com>"}

var mailerLocales = []string{"en-US", "fr", "", "zz-invalid locale", "<script>", `a"b`, strings.Repeat("x", 40), "de-CH-1996"}

var mailerExposed = [][]incident.DataKind{
	nil, {}, {"email"}, {"name", "email", "card_number"}, {"card_number", "card_number"}, {"bogus_kind"}, {"password_hash", "ssn"},
	manyKinds(30),
}

func manyKinds(n int) []incident.DataKind {
	var out []incident.DataKind
	for i := range n {
		out = append(out, incident.DataKind(fmt.Sprintf("kind_%d", i)))
	}
	return out
}

// mailerTemplates exercise each context a name can land in and each way a
// template can use the name.
var mailerTemplates = []struct{ name, subject, body string }{
	{"plain", "Hello {{.Recipient.Name}}", "Dear {{.Recipient.Name}},\n\nYour data: {{.Recipient.Exposed}}."},
	{"name twice", "{{.Recipient.Name}} and {{.Recipient.Name}}", "{{.Recipient.Name}} {{.Recipient.Name}}\n\n**{{.Recipient.Name}}**, _{{.Recipient.Name}}_ ({{.Recipient.Name}}) \"{{.Recipient.Name}}\"."},
	{"adjacent", "s", "{{.Recipient.Name}}{{.Recipient.Name}} x{{.Recipient.Name}} {{.Recipient.Name}}y"},
	{"heading", "s", "# Hello {{.Recipient.Name}}\n\nText\n\nSetext {{.Recipient.Name}}\n---"},
	{"code", "s", "`{{.Recipient.Name}}` and\n\n    {{.Recipient.Name}}\n\n```\n{{.Recipient.Name}}\n```"},
	{"code open", "s", "a ` b {{.Recipient.Name}} c"},
	{"html", "s", "<span {{.Recipient.Name}} x>\n\ntext <span {{.Recipient.Name}} x> more\n\n<a title=\"{{.Recipient.Name}}\">x</a>"},
	{"html open", "s", "<a title=\"x {{.Recipient.Name}}\ny\">"},
	{"entity", "s", "&{{.Recipient.Name}}; &#{{.Recipient.Name}}; &{{.Recipient.Name}}"},
	{"entity sentinel", "s", "&#443; {{.Recipient.Name}} &#x1bb;"},
	{"autolinks", "s", "{{.Recipient.Name}}@example.com www.{{.Recipient.Name}}.com http://{{.Recipient.Name}}.example <{{.Recipient.Name}}> <https://x.example/{{.Recipient.Name}}>"},
	{"email after space", "s", "Dear {{.Recipient.Name}}.c@example.com and {{.Recipient.Name}} @x.com"},
	{"links", "s", "[{{.Recipient.Name}}](https://example.com) [x](https://example.com/{{.Recipient.Name}}) [x]( {{.Recipient.Name}} ) ![{{.Recipient.Name}}](https://example.com/i.png)"},
	{"reference", "s", "[{{.Recipient.Name}}]\n\n[bob]: https://example.com\n[alex sample]: https://example.com/a"},
	{"reference def", "s", "[{{.Recipient.Name}}]: https://example.com\n\n[Bob] [Alex Sample]"},
	{"long label", "s", "[" + strings.Repeat("x", 996) + "{{.Recipient.Name}}](https://example.com)"},
	{"emphasis flanking", "s", "**{{.Recipient.Name}}**x a_{{.Recipient.Name}}_b *{{.Recipient.Name}}*"},
	{"line starts", "s", "{{.Recipient.Name}}. item\n\n{{.Recipient.Name}}\n===\n\n- {{.Recipient.Name}}\n- x\n\n> {{.Recipient.Name}}\n\n1. {{.Recipient.Name}}"},
	{"escapes", "s", "\\{{.Recipient.Name}} {{.Recipient.Name}}\\\nnext {{.Recipient.Name}}  \nbreak"},
	{"tabs and cr", "s", "\t{{.Recipient.Name}}\r\n{{.Recipient.Name}}\r\nx\t{{.Recipient.Name}}\t"},
	{"sentinel in text", "s", "ƻ {{.Recipient.Name}}"},
	// One guarded context per template, so that no other context hides it.
	{"tag attribute", "s", "text <span {{.Recipient.Name}} x> more"},
	{"tag block", "s", "<span {{.Recipient.Name}} x>"},
	{"backtick", "s", "a ` b {{.Recipient.Name}} c"},
	{"flanking", "s", "_a (_{{.Recipient.Name}} b_ and *a (*{{.Recipient.Name}}"},
	{"flanking after", "s", "a {{.Recipient.Name}}_) b_ and a {{.Recipient.Name}}*) b*"},
	{"label reference", "s", "[Dear {{.Recipient.Name}} today]\n\n[dear alex sample today]: https://example.com\n[dear a today]: https://example.com/a"},
	{"label 995", "s", "[" + strings.Repeat("x", 995) + " {{.Recipient.Name}} ](https://example.com)"},
	{"label 996", "s", "[" + strings.Repeat("x", 996) + " {{.Recipient.Name}} ](https://example.com)"},
	{"label 994", "s", "[" + strings.Repeat("x", 994) + " {{.Recipient.Name}} ](https://example.com)"},
	{"link label", "s", "[Dear {{.Recipient.Name}} x](https://example.com) ![Dear {{.Recipient.Name}} x](https://example.com/i.png)"},
	{"name or", "Hi {{.Recipient.NameOr \"there\"}}", "Dear {{.Recipient.NameOr \"\"}}, {{$.Recipient.NameOr \"friend\" | default \"pal\"}}"},
	{"if name", "s", "{{if .Recipient.NameOr \"\"}}Dear {{.Recipient.Name}}{{else}}Hello{{end}}"},
	{"eq name", "s", "{{if eq .Recipient.Name \"Alex Sample\"}}Hi Alex{{else}}Dear {{.Recipient.Name}}{{end}}"},
	{"len name", "s", "{{len .Recipient.Name}} {{.Recipient.Name}}"},
	{"with name", "s", "{{with .Recipient.Name}}Dear {{.}}{{end}}"},
	{"var name", "s", "{{$n := .Recipient.Name}}Dear {{$n}}"},
	{"email", "s", "Dear {{.Recipient.Name}}, we write to {{.Recipient.Email}}."},
	{"attr", "s", "Dear {{.Recipient.Name}}, plan {{.Recipient.Attr \"plan\" | default \"standard\"}} in {{.Recipient.Jurisdiction}}."},
	{"kinds", "s", "{{range .Recipient.Exposed}}- {{.}} ({{.Code}}) for {{$.Recipient.Name}}\n{{end}}"},
	{"company", "{{.Company.Name}}", "{{.Company.Name}} {{$.Company.Name}} writes to {{.Recipient.Name}}."},
	{"no name", "About {{.Incident.Title}}", "{{.Facts.WhatHappened}}\n\n{{.Recipient.Exposed}}"},
	{"error", "s", "{{.Recipient.Name}} {{if .Facts.Includes}}x{{end}}"},
	{"budget", "s", "{{.Recipient.Name}}{{range .Recipient.Exposed}}{{range $.Recipient.Exposed}}{{range $.Recipient.Exposed}}{{.Code}}{{end}}{{end}}{{end}}"},
	{"long", "{{.Recipient.Name}} {{.Recipient.Name}}", strings.Repeat("{{.Recipient.Name}} ", 30)},
	{"empty", "", ""},
}

func mailerData(i int, name string) Data {
	d := SampleData()
	d.Recipient.Name = name
	d.Recipient.Email = mailerEmails[i%len(mailerEmails)]
	d.Recipient.Locale = mailerLocales[i/3%len(mailerLocales)]
	d.Recipient.Exposed = mailerExposed[i%len(mailerExposed)]
	d.Recipient.Jurisdiction = []string{"US-CA", "FR", ""}[i%3]
	d.Recipient.Attributes = map[string]string{"plan": []string{"business", "", "<b>pro</b>"}[i%3]}
	return d
}

// TestMailerMatchesEmail renders every built-in notice and every template
// above for every name, with addresses, locales, exposed data, jurisdictions
// and attributes varying, through one Mailer per template (so that later
// recipients reuse what earlier ones computed), and a second time.
func TestMailerMatchesEmail(t *testing.T) {
	tms := builtinTemplates(t)
	for _, c := range mailerTemplates {
		tm, err := Parse(c.subject, c.body)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		tms[c.name] = tm
	}
	names := mailerNames
	if testing.Short() {
		names = names[:20]
	}
	for key, tm := range tms {
		m := tm.Mailer()
		for pass := range 2 {
			for i, name := range names {
				d := mailerData(i*5+pass, name)
				sameEmail(t, fmt.Sprintf("%s, name %q, pass %d", key, name, pass), tm, m, d)
			}
		}
	}
}

// TestMailerFastPath checks that the typical notices are in fact served
// from shared renderings, with the name spliced in, for ordinary names.
func TestMailerFastPath(t *testing.T) {
	tms := builtinTemplates(t)
	for _, key := range []string{"customer-data-breach/customer-alert", "customer-data-breach/follow-up", "customer-data-breach/unaffected-notice"} {
		tm := tms[key]
		m := tm.Mailer()
		if !m.plan.shared {
			t.Fatalf("%s: not shared: %+v", key, m.plan)
		}
		for i := range 30 {
			d := mailerData(i, fmt.Sprintf("Person %d Example", i))
			sameEmail(t, key, tm, m, d)
		}
		if n := len(mailerGroups(m)); n != 1 {
			t.Fatalf("%s: %d groups", key, n)
		}
		for k, c := range mailerClasses(mailerGroups(m)[0]) {
			if c.err || c.perRecipient || c.bodyCnt == 0 || !c.md.subst {
				t.Errorf("%s: class %q: err %v, perRecipient %v, %d sentinels, subst %v", key, k, c.err, c.perRecipient, c.bodyCnt, c.md.subst)
			}
		}
	}
}

// TestMailerPlan checks which templates can share executions.
func TestMailerPlan(t *testing.T) {
	for _, c := range []struct {
		body   string
		shared bool
	}{
		{"Dear {{.Recipient.Name}}", true},
		{"Dear {{$.Recipient.Name}}", true},
		{"Dear {{.Recipient.NameOr \"friend\"}}", true},
		{"{{if .Recipient.Name}}x{{end}}", true},
		{"{{.Recipient.Name | default \"x\"}}", true},
		{"{{.Company.Name}} {{.Recipient.Exposed}} {{.Recipient.Attr \"plan\"}} {{.Recipient.Jurisdiction}}", true},
		{"{{with .Company}}{{.Name}}{{end}}", false},
		{"{{if eq .Recipient.Name \"x\"}}x{{end}}", false},
		{"{{len .Recipient.Name}}", false},
		{"{{with .Recipient.Name}}{{.}}{{end}}", false},
		{"{{$n := .Recipient.Name}}{{$n}}", false},
		{"{{$r := .Recipient}}{{$r.Name}}", false},
		{"{{with .Recipient}}{{.Name}}{{end}}", false},
		{"{{if not .Recipient.Name}}x{{end}}", false},
		{"{{.Recipient.NameOr .Company.Name}}", false},
		{"{{.Recipient.Email}}", false},
		{"{{$ = 1}}{{.Recipient.Name}}", false},
		{"ƻ", false},
	} {
		tm, err := Parse("s", c.body)
		if err != nil {
			t.Logf("%q: %v", c.body, err) // some shapes the checker refuses anyway
			continue
		}
		if got := tm.Mailer().plan.shared; got != c.shared {
			t.Errorf("%q: shared %v, want %v", c.body, got, c.shared)
		}
	}
	tm, _ := Parse("s", "{{.Recipient.Exposed}} {{.Recipient.Attr \"plan\"}}")
	if p := tm.Mailer().plan; !p.exposed || !p.attr || p.jurisdiction {
		t.Errorf("plan %+v", p)
	}
}

// TestMailerSharedData: data that changes between calls (other facts,
// another company, a caller reusing and changing its slices) is never
// served from a stale rendering.
func TestMailerSharedData(t *testing.T) {
	tm := builtinTemplates(t)["customer-data-breach/customer-alert"]
	m := tm.Mailer()
	d := SampleData()
	exposed := []incident.DataKind{"name", "email"}
	d.Facts.Exposed = exposed
	d.Recipient.Exposed = exposed
	sameEmail(t, "first", tm, m, d)
	exposed[1] = "card_number" // the caller changes its slice in place
	sameEmail(t, "slice changed in place", tm, m, d)
	d.Facts.WhatHappened += " More."
	sameEmail(t, "facts changed", tm, m, d)
	at := *d.Facts.DiscoveredAt
	at = at.AddDate(0, 0, 1)
	d.Facts.DiscoveredAt = &at
	sameEmail(t, "date changed", tm, m, d)
	d.Company.Name = "Other & Co <x>"
	d.Company.SupportURL = "not a url"
	sameEmail(t, "company changed", tm, m, d)
	d.Company = Company{}
	sameEmail(t, "no company", tm, m, d)
	d.Company.SupportURL = "https://example.com/help?a=1&b='2'"
	sameEmail(t, "only a support URL", tm, m, d)
	d.FactsVersion++
	d.Incident.Title = "ƻ"
	sameEmail(t, "sentinel in shared data", tm, m, d)
	d = SampleData()
	d.Recipient.Attributes = map[string]string{"x": "ƻ"}
	sameEmail(t, "sentinel in recipient data", tm, m, d)
	d.Facts.WhatHappened = "ƻ"
	d.Recipient.Attributes = nil
	sameEmail(t, "sentinel in the facts", tm, m, d)
	for i := range 3 * maxGroups {
		d := SampleData()
		d.FactsVersion = i % (maxGroups + 1)
		sameEmail(t, "alternating facts", tm, m, d)
	}
	if n := len(mailerGroups(m)); n > maxGroups {
		t.Fatalf("%d groups", n)
	}
}

// TestMailerLimits: names long enough to break the subject and body limits
// give Template.Email's errors.
func TestMailerLimits(t *testing.T) {
	for _, c := range []struct{ subject, body string }{
		{"Hello {{.Recipient.Name}}", "Dear {{.Recipient.Name}}"},
		{"{{.Recipient.Name}} {{.Recipient.Name}} {{.Recipient.Name}} {{.Recipient.Name}}", "x"},
		{"s", strings.Repeat("{{.Recipient.Name}} ", 12)},
	} {
		tm, err := Parse(c.subject, c.body)
		if err != nil {
			t.Fatal(err)
		}
		m := tm.Mailer()
		for _, n := range []int{1, 2, 150, 299, 300, 301, 400, 1200, 1300, 20000, 30000} {
			for _, r := range []string{"a", "é", "😀"} {
				d := SampleData()
				d.Recipient.Name = "A" + strings.Repeat(r, n)
				sameEmail(t, fmt.Sprintf("%q %d×%q", c.subject, n, r), tm, m, d)
			}
		}
	}
}

// TestMailerLayoutEscaping: the split layout writes the recipient's values
// as html/template does, for every character.
func TestMailerLayoutEscaping(t *testing.T) {
	// Every character up to U+3000, the ranges html/template treats
	// specially elsewhere (noncharacters), private use, the last ones, and
	// bytes that are not UTF-8.
	var all strings.Builder
	for _, rg := range [][2]rune{{0, 0x3000}, {0xe000, 0xe100}, {0xf8f0, 0xf900}, {0xfdd0, 0xfdf0}, {0xfff0, 0x10000}, {0x1f600, 0x1f650}, {0x10fff0, unicode.MaxRune + 1}} {
		for r := rg[0]; r < rg[1]; r++ {
			all.WriteRune(r)
		}
	}
	all.WriteString("\xff\xfe\xc0 invalid")
	s := all.String()
	for _, c := range []Company{{}, {Name: "Example & <Co>", SupportURL: "https://example.com/s?a=1&b=2"}, {Name: "x"}, {SupportURL: "https://x.example"}} {
		l := newCompanyLayout(&c)
		if !l.ok {
			t.Fatalf("%+v: layout not split", c)
		}
		for _, v := range []string{s, "o'neil&co+x@example.com"} {
			for _, to := range []string{"", v} {
				ld := layoutData{Lang: v, Subject: v, Company: l.company, Body: htmltemplate.HTML(v), SupportURL: l.url, To: to}
				var want bytes.Buffer
				if err := emailLayout.Execute(&want, ld); err != nil {
					t.Fatal(err)
				}
				if got := l.html(v, v, to, spliced{whole: v}); got != want.String() {
					t.Fatalf("%+v, %d bytes: %s", c, len(v), firstDiff(want.String(), got))
				}
			}
		}
	}
}

// TestMailerSentinel: the sentinel has the properties the splicing relies
// on.
func TestMailerSentinel(t *testing.T) {
	r, n := utf8.DecodeRuneInString(nameSentinel)
	if n != len(nameSentinel) || !unicode.IsLetter(r) || unicode.IsUpper(r) || unicode.IsLower(r) || unicode.IsTitle(r) ||
		unicode.IsPunct(r) || unicode.IsSymbol(r) || unicode.IsSpace(r) || unicode.SimpleFold(r) != r {
		t.Fatalf("sentinel %U", r)
	}
	for c := rune(0); c <= unicode.MaxRune; c++ {
		if c != r && (unicode.ToLower(c) == r || unicode.ToUpper(c) == r || unicode.ToTitle(c) == r) {
			t.Fatalf("%U maps to the sentinel", c)
		}
	}
	if clean(nameSentinel) != nameSentinel || oneLine(nameSentinel) != nameSentinel || escapeMarkdown(nameSentinel) != nameSentinel {
		t.Fatal("the sentinel does not survive the value pipeline")
	}
	if !viewsKnown {
		t.Fatal("the views have methods bulk.go does not know about: update recipientMethods/rootMethods and the class key")
	}
}

// TestMailerNameForms: what the spliced name becomes is what goldmark and
// plainText make of it in a paragraph.
func TestMailerNameForms(t *testing.T) {
	for _, n := range mailerNames {
		n = oneLine(n)
		e := escapeMarkdown(n)
		if n == "" || !nameOK(n, e) {
			continue
		}
		dc := parseMarkdown("x " + e + " y")
		h, p := nameForms(e)
		if got := dc.html(); got != "<p>x "+h+" y</p>\n" {
			t.Errorf("%q: html %q, forms %q", n, got, h)
		}
		if got := dc.plainText(false); got != "x "+p+" y\n" || p != n {
			t.Errorf("%q: text %q, forms %q", n, got, p)
		}
	}
	for _, c := range []struct {
		name string
		ok   bool
	}{
		{"Alex Sample", true}, {"Mary-Jane O'Brien", true}, {"Zoë", true}, {"李小龙", true}, {"Bob2", true},
		{"Ab", true}, {"Bob & Alice", true}, {"J. Smith", true},
		{"A", false}, {"Bob.", false}, {"2Bob", false}, {"😀 Alex", false}, {"Alex 😀", false}, {"*x*", false},
		{"a_b", false}, {"a<b", false}, {"a`b", false}, {"a@b", false}, {"a:b", false}, {"a/b", false},
		{"Wwwilliam", false}, {"A\u01bbb", false}, {"Jose\u0301", false}, {`a\b`, false}, {"a[b", false},
	} {
		if got := nameOK(c.name, escapeMarkdown(c.name)); got != c.ok {
			t.Errorf("nameOK(%q) = %v", c.name, got)
		}
	}
}

// TestMailerCacheBounds: the caches stay bounded whatever the recipients.
func TestMailerCacheBounds(t *testing.T) {
	tm, err := Parse("s", "{{if eq .Recipient.Name \"x\"}}x{{end}}Dear {{.Recipient.Name}}, {{.Recipient.Attr \"id\"}}")
	if err != nil {
		t.Fatal(err)
	}
	m := tm.Mailer()
	tm2, _ := Parse("s", "Dear {{.Recipient.Name}}, {{.Recipient.Attr \"id\"}}")
	m2 := tm2.Mailer()
	for i := range 3 * bypassAfter {
		d := SampleData()
		d.Recipient.Name = fmt.Sprintf("Name %d", i)
		d.Recipient.Attributes = map[string]string{"id": fmt.Sprint(i)}
		if i%97 == 0 {
			sameEmail(t, "unique", tm, m, d)
			sameEmail(t, "unique", tm2, m2, d)
		} else {
			_, _ = m.Email(d)
			_, _ = m2.Email(d)
		}
	}
	if n := len(m.md.m); n > maxMDEntries || m.md.size > maxMDBytes {
		t.Fatalf("%d Markdown entries, %d bytes", n, m.md.size)
	}
	if !m.md.use.bypass.Load() {
		t.Error("a cache that never hits is still used")
	}
	g := mailerGroups(m2)[0]
	if n := len(mailerClasses(g)); n > maxClasses || g.size > maxClassBytes || !g.use.bypass.Load() {
		t.Errorf("%d classes, %d bytes, bypass %v", n, g.size, g.use.bypass.Load())
	}
}

func mailerGroups(m *Mailer) []*group {
	if gs := m.groups.Load(); gs != nil {
		return *gs
	}
	return nil
}

func mailerClasses(g *group) map[string]*class {
	if cs := g.classes.Load(); cs != nil {
		return *cs
	}
	return nil
}

// TestMailerConcurrent shares one Mailer between goroutines rendering
// different recipients, companies and facts (run it with -race).
func TestMailerConcurrent(t *testing.T) {
	tms := builtinTemplates(t)
	tm := tms["customer-data-breach/customer-alert"]
	tm2, err := Parse("Hi {{.Recipient.Name}}", "{{if eq .Recipient.Name \"Bob\"}}Bob!{{end}} Dear {{.Recipient.Name}}")
	if err != nil {
		t.Fatal(err)
	}
	for _, tm := range []*Template{tm, tm2} {
		m := tm.Mailer()
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 60 {
					d := mailerData(i+w, mailerNames[(i*7+w)%len(mailerNames)])
					if (i+w)%5 == 0 {
						d.Company.Name = "Other Co"
					}
					if (i+w)%7 == 0 {
						d.Facts.WhatHappened = "Something else."
					}
					want, werr := tm.Email(d)
					got, gerr := m.Email(d)
					if want != got || (werr == nil) != (gerr == nil) {
						t.Errorf("worker %d recipient %d differs", w, i)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
}

// TestMailerRandomContexts puts names of every shape into random
// Markdown made of the pieces that give Markdown its meaning, and compares.
func TestMailerRandomContexts(t *testing.T) {
	pieces := []string{
		"", " ", "  ", "\n", "\n\n", "*", "**", "_", "__", "(", ")", "[", "]", "](https://x.example)", "<", ">", "&", ";",
		"#", "&#", "`", "``", "\\", "@", ".", ",", ":", "/", "www.", "http://", "x", "1", "- ", "> ", "# ", "    ", "\t",
		"'", "\"", "!", "?", "~", "<span ", "<a title=\"", "-->", "<!--", "===", "---", "|", "ƻ", "&#443;", "\r",
		"[x]: https://e.example\n", "1. ", "+", "=", "%", "^", "{", "}", "$", "\u00a0", "é", "😀", "_x", "x_", "*x*",
		"amp", "bob", ".com", "example.com", "@example.com", "\\\n", "<b>", "</b>", "![", "<https://x.example/", "&amp;",
	}
	benign := []string{
		" ", "  ", "\n", "\n\n", "*", "**", "_", "(", ")", ",", ".", "!", "?", ":", ";", "'", "\"", "x", "Dear ", " and ",
		"- ", "> ", "1. ", "\t", "é", "😀", " amp ", "**x**", "_x_", " [x](https://x.example) ", " https://x.example ",
		" www.x.example ", " a@example.com ", "\n\n## Heading\n\n", " `code` ", "\n\n<!-- c -->\n\n", " \\* ",
	}
	alphabet := []string{
		"a", "b", "A", "B", "é", "李", " ", "'", "-", ".", ",", "&", "*", "_", "`", "<", ">", "@", ":", "/", "\\",
		"[", "]", "1", "w", "W", "ƻ", "😀", "#", "(", ")", "\"", "!", "\u0301", ";", "m", "p",
	}
	letters := []string{"a", "B", "é", "李", "w", "m", "Ω"}
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func(l []string) string { return l[rng.IntN(len(l))] }
	iterations := 3000
	if testing.Short() {
		iterations = 500
	}
	for it := range iterations {
		var body strings.Builder
		switch it % 3 {
		case 0:
			// Anything next to anything.
			for range 1 + rng.IntN(12) {
				switch rng.IntN(6) {
				case 0, 1:
					body.WriteString("{{.Recipient.Name}}")
				case 2:
					body.WriteString(pick(pieces))
				default:
					body.WriteString(pick(benign))
				}
			}
			body.WriteString("{{.Recipient.Name}}")
		case 1:
			// Words, mostly ordinary, with the name among them.
			before := []string{"", "", "", "*", "**", "_", "__", "(", "\"", "'", "*_", "x", "\\", "&", "<", "@", "[", "`", "#", ".", "-"}
			after := []string{"", "", "", ",", ".", "!", "?", ":", ";", ")", "*", "**", "_", "\"", "'", "'s", ".x", "@x.com", ";", "`", ">", "]", "\\"}
			for range 2 + rng.IntN(10) {
				if rng.IntN(3) == 0 {
					body.WriteString(pick(before) + "{{.Recipient.Name}}" + pick(after))
				} else {
					body.WriteString(pick(benign))
				}
				body.WriteString([]string{" ", " ", " ", "\n", "\n\n", "\t", ""}[rng.IntN(7)])
			}
			body.WriteString("{{.Recipient.Name}}")
		default:
			// Words the name can be spliced between, and the rest of
			// Markdown around them.
			for range 2 + rng.IntN(10) {
				if rng.IntN(3) == 0 {
					body.WriteString(pick(strings.Split(wordBefore, "")) + "{{.Recipient.Name}}" + pick(strings.Split(wordAfter, "")))
				} else {
					body.WriteString(pick(benign))
				}
				body.WriteString([]string{" ", "\n", "\n\n", "\t", "  \n"}[rng.IntN(5)])
			}
		}
		for range rng.IntN(4) {
			body.WriteString(pick(benign))
		}
		tm, err := Parse("Hi {{.Recipient.Name}}"+pick(pieces), body.String())
		if err != nil {
			continue
		}
		m := tm.Mailer()
		for r := range 4 {
			var name strings.Builder
			if rng.IntN(10) < 7 {
				name.WriteString(pick(letters))
			}
			for range rng.IntN(6) {
				name.WriteString(pick(alphabet))
			}
			if rng.IntN(10) < 7 {
				name.WriteString(pick(letters))
			}
			d := SampleData()
			d.Recipient.Name = name.String()
			sameEmail(t, fmt.Sprintf("iteration %d recipient %d, body %q, name %q", it, r, body.String(), name.String()), tm, m, d)
		}
	}
}

// FuzzMailer: for any template and recipient, Mailer.Email is
// Template.Email, for that recipient and others sharing the Mailer.
func FuzzMailer(f *testing.F) {
	for i, c := range mailerTemplates {
		n := mailerNames[i*5%len(mailerNames)]
		f.Add(n, mailerEmails[i%len(mailerEmails)], mailerLocales[i%len(mailerLocales)], c.subject, c.body)
	}
	for _, n := range []string{"Bob", "amp", "bob", "Jr.", "12", "a`b", "www", "evil", "Alex Sample"} {
		f.Add(n, "a+b@example.com", "en", "Hi {{.Recipient.Name}}", "Dear {{.Recipient.Name}},\n\n**{{.Recipient.Name}}**x <span {{.Recipient.Name}} x> &{{.Recipient.Name}};")
	}
	for _, s := range fuzzSeeds {
		f.Add(s.name, s.attr, s.attr, s.subject, s.body)
	}
	f.Fuzz(func(t *testing.T, name, email, locale, subject, body string) {
		tm, err := Parse(subject, body)
		if err != nil {
			return
		}
		m := tm.Mailer()
		base := SampleData()
		recipients := []Recipient{
			{Name: name, Email: email, Locale: locale, Exposed: base.Recipient.Exposed, Attributes: map[string]string{"plan": name}},
			{Name: "Alex Sample", Email: email, Locale: locale, Exposed: base.Recipient.Exposed},
			{Name: name, Email: "x@example.com", Locale: "fr", Exposed: []incident.DataKind{"email"}, Jurisdiction: locale},
			{Name: "", Email: email, Locale: locale, Exposed: base.Recipient.Exposed},
			{Name: name + " " + name, Email: email, Locale: locale, Exposed: base.Recipient.Exposed},
			{Name: name, Email: email, Locale: locale, Exposed: base.Recipient.Exposed, Attributes: map[string]string{"plan": name}},
		}
		for i, r := range recipients {
			d := base
			d.Recipient = r
			sameEmail(t, fmt.Sprintf("recipient %d", i), tm, m, d)
		}
	})
}

// BenchmarkEmail renders a typical notice (the built-in customer alert:
// the recipient's name and their exposed data) for 10,000 distinct
// recipients with a few different exposed-data sets.
func BenchmarkEmail(b *testing.B) {
	tm := builtinTemplates(b)["customer-data-breach/customer-alert"]
	sets := [][]incident.DataKind{{"name", "email"}, {"name", "email", "card_number"}, {"email"}, {"email", "card_number"}}
	first := []string{"Alex", "Maria", "José", "Wei", "Aisha", "Olivia", "Liam", "Noah", "Emma", "Søren", "Chloé", "Mary-Jane"}
	last := []string{"Sample", "García", "O'Brien", "Chen", "Müller", "Nakamura", "Smith", "Kowalski", "Dubois", "Okafor"}
	ds := make([]Data, 10000)
	for i := range ds {
		d := SampleData()
		d.Recipient.Name = fmt.Sprintf("%s %s %d", first[i%len(first)], last[i/len(first)%len(last)], i)
		d.Recipient.Email = fmt.Sprintf("person%d@example.org", i)
		d.Recipient.Exposed = sets[i%len(sets)]
		ds[i] = d
	}
	b.Run("Template", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := tm.Email(ds[i%len(ds)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Mailer", func(b *testing.B) {
		m := tm.Mailer()
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			if _, err := m.Email(ds[i%len(ds)]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("MailerParallel", func(b *testing.B) {
		m := tm.Mailer()
		b.ReportAllocs()
		var next sync.Mutex
		i := 0
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				next.Lock()
				d := &ds[i%len(ds)]
				i++
				next.Unlock()
				if _, err := m.Email(*d); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}

// TestMailerDeepCompare: the reflective comparison and copy of shared data
// cover the kinds Data may come to hold, and err towards "different".
func TestMailerDeepCompare(t *testing.T) {
	type inner struct {
		S  string
		P  *time.Time
		M  map[string][]int
		A  [2]float64
		I  any
		B  bool
		U  uint8
		C  complex64
		PP **string
	}
	now := time.Date(2025, 3, 12, 9, 30, 0, 0, time.UTC)
	s := "x"
	ps := &s
	mk := func() inner {
		n := now
		return inner{S: "a", P: &n, M: map[string][]int{"k": {1, 2}}, A: [2]float64{1, 2}, I: []string{"v"}, B: true, U: 7, C: 1 + 2i, PP: &ps}
	}
	a, b := mk(), mk()
	eq := func(x, y *inner) bool { return deepEqual(reflect.ValueOf(x).Elem(), reflect.ValueOf(y).Elem(), 0) }
	if !eq(&a, &b) {
		t.Fatal("equal values differ")
	}
	var c inner
	if !deepCopy(reflect.ValueOf(&c).Elem(), reflect.ValueOf(&a).Elem(), 0) || !eq(&a, &c) {
		t.Fatal("copy differs")
	}
	a.M["k"][0] = 9
	*a.P = now.Add(time.Second)
	a.I.([]string)[0] = "w"
	if eq(&a, &c) {
		t.Fatal("the copy shares memory with the original")
	}
	for _, change := range []func(x *inner){
		func(x *inner) { x.S = "b" },
		func(x *inner) { x.P = nil },
		func(x *inner) { t := now.In(time.FixedZone("X", 3600)); x.P = &t },
		func(x *inner) { x.M["k"] = nil },
		func(x *inner) { x.M = nil },
		func(x *inner) { x.M["j"] = nil },
		func(x *inner) { x.A[1] = 3 },
		func(x *inner) { x.I = "v" },
		func(x *inner) { x.I = nil },
		func(x *inner) { x.B = false },
		func(x *inner) { x.U = 8 },
		func(x *inner) { x.C = 0 },
		func(x *inner) { x.PP = nil },
	} {
		x, y := mk(), mk()
		change(&x)
		if eq(&x, &y) || eq(&y, &x) {
			t.Fatalf("a change goes unnoticed: %+v", x)
		}
	}
	type unsupported struct {
		F func()
		c int
	}
	var u, v unsupported
	if deepCopy(reflect.ValueOf(&u).Elem(), reflect.ValueOf(&v).Elem(), 0) || deepEqual(reflect.ValueOf(&u).Elem(), reflect.ValueOf(&v).Elem(), 0) {
		t.Fatal("functions and unexported fields are copied or compared")
	}
	if hasString(reflect.ValueOf(&a).Elem(), "ƻ", 0) || !hasString(reflect.ValueOf(inner{M: map[string][]int{"ƻ": nil}}), "ƻ", 0) {
		t.Fatal("hasString")
	}
}
