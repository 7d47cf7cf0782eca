package notice

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzSeeds are templates and recipient values that have broken renderers
// before: markup and header injection in values, Markdown that switches
// contexts, deep nesting, loops, and every placeholder.
var fuzzSeeds = []struct{ subject, body, name, attr string }{
	{"Notice of Data Breach", "Dear {{.Recipient.Name}},\n\n## What Happened\n\n{{.Facts.WhatHappened}}", "Alex", "business"},
	{"Hi {{.Recipient.Name}}", "{{.Recipient.Attr \"plan\"}}", "<script>alert(1)</script>", "<SCRIPT src=//x>"},
	{"{{.Recipient.Name}}", "[x]({{.Recipient.Attr \"plan\"}})", "a\r\nBcc: victim@example.com", "javascript:alert(1)"},
	{"{{.Recipient.Attr \"plan\"}}", "<script>alert(1)</script>\n\n<img src=x onerror=alert(1)>", "\u2028Subject: x", "<scr<script>ipt>"},
	{"s", "{{range .Facts.Exposed}}{{range $.Facts.Exposed}}{{range $.Facts.Exposed}}- {{.}} {{.Code}}\n{{end}}{{end}}{{end}}", "", ""},
	{"s", "{{if .Recipient.Exposed \"card_number\"}}**{{.Recipient.Name}}**{{else}}_{{.Recipient.Email}}_{{end}}", "*_[]()<>`#", "&lt;script&gt;"},
	{"s", strings.Repeat("> ", 40) + "{{.Recipient.Name}}", "`` <script> ``", "<!-- -->"},
	{"s", "{{.Facts.AffectedCount}} customers, {{.Facts.AffectedIn \"US-CA\"}} in California, {{.Facts.DiscoveredAt}} {{.Facts.ContactURL}} {{.Facts.ContactEmail}}", "x", "y"},
	{"{{", "}}", "\x00", "\xff"},
	{"s", "{{define \"x\"}}{{end}}", "", ""},
	{"s", "{{.Recipient.Attr \"plan\" | default \"standard\"}} {{printf \"%s\" 1}}", "", ""},
	{"s", "<https://example.com/{{.Recipient.Name}}>", "\"><script>", "x"},
}

func fuzzData(name, attr string) Data {
	d := SampleData()
	d.Recipient.Name = name
	d.Recipient.Email = name
	d.Recipient.Attributes = map[string]string{"plan": attr}
	d.Recipient.Locale = attr
	d.Facts.WhatHappened = attr + "\n\n" + name
	d.Company.SupportURL = attr
	return d
}

// FuzzTemplate: whatever the template and the recipient's data, Parse and
// the renderers never panic; the subject is one line within the limit; the
// output stays within its limits; and no HTML output ever contains a
// <script tag (the writer's raw HTML is dropped and values are escaped).
func FuzzTemplate(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s.subject, s.body, s.name, s.attr)
	}
	f.Fuzz(func(t *testing.T, subject, body, name, attr string) {
		tm, err := Parse(subject, body)
		if err != nil {
			return
		}
		d := fuzzData(name, attr)
		r, err := tm.Render(d)
		if err != nil {
			return
		}
		if strings.ContainsAny(r.Subject, "\r\n") || utf8.RuneCountInString(r.Subject) > MaxSubject {
			t.Fatalf("subject %q", r.Subject)
		}
		if len(r.Markdown) > MaxBodyOutput {
			t.Fatalf("body of %d bytes", len(r.Markdown))
		}
		// Check tells the writer's words from values by rendering with
		// markers; without them the text must be exactly what is sent.
		if ms, mb, ok := renderMarked(tm, d); ok && (oneLine(unmark(ms)) != r.Subject || unmark(mb) != r.Markdown) {
			t.Fatalf("marked rendering differs:\n%q\n%q", unmark(mb), r.Markdown)
		}
		e, err := tm.Email(d)
		if err != nil {
			t.Fatalf("Render worked, Email failed: %v", err)
		}
		if strings.ContainsAny(e.Subject, "\r\n") {
			t.Fatalf("email subject %q", e.Subject)
		}
		if strings.Contains(strings.ToLower(e.HTML), "<script") {
			t.Fatalf("<script in the email HTML:\n%s", e.HTML)
		}
		p, err := tm.Page(d)
		if err != nil {
			t.Fatalf("Render worked, Page failed: %v", err)
		}
		if strings.Contains(strings.ToLower(string(p.HTML)), "<script") {
			t.Fatalf("<script in the page HTML:\n%s", p.HTML)
		}
		if strings.ContainsAny(p.Title, "\r\n") {
			t.Fatalf("page title %q", p.Title)
		}
		s, err := tm.SMS(d)
		if err != nil {
			t.Fatalf("Render worked, SMS failed: %v", err)
		}
		if s.Segments < 1 || s.Units < 0 || (s.Encoding != "GSM-7" && s.Encoding != "UCS-2") {
			t.Fatalf("sms %+v", s)
		}
	})
}

// FuzzCheck: Check never panics, and every finding is well-formed.
func FuzzCheck(f *testing.F) {
	for i, s := range fuzzSeeds {
		f.Add(s.subject, s.body, s.name, uint8(i))
	}
	f.Add("Notice of Data Breach", "We discovered 15,000 customers on March 20. Your passwords were not taken.", "x", uint8(0))
	kinds := []string{"affected_customers", "unaffected_customers", "press", "custom", "partners", "regulators", "employees", "response_team", ""}
	places := []string{"US-CA", "US-MA", "FR", "GB", "", "zz"}
	f.Fuzz(func(t *testing.T, subject, body, value string, n uint8) {
		d := fuzzData(value, value)
		in := CheckInput{
			Content:       Content{Subject: subject, Body: body, Variants: []Variant{{Subject: value, Body: body + value}}},
			AudienceKind:  kinds[int(n)%len(kinds)],
			Channels:      []Channel{ChannelEmail, ChannelSMS},
			Facts:         d.Facts,
			FactsVersion:  1,
			Jurisdictions: []string{places[int(n)%len(places)], places[int(n/8)%len(places)]},
			Samples:       map[int][]Data{-1: {d}},
		}
		for _, fd := range Check(in) {
			if fd.Key == "" || fd.Message == "" || (fd.Level != LevelError && fd.Level != LevelWarning && fd.Level != LevelInfo) || fd.Variant < -1 || fd.Variant > 0 {
				t.Fatalf("bad finding %+v", fd)
			}
			if fd.Position != nil && (fd.Position.Line < 1 || fd.Position.Column < 1) {
				t.Fatalf("bad position %+v", fd)
			}
			if strings.HasPrefix(fd.Key, "legal:") && (fd.Citation == "" || fd.SourceURL == "" || fd.Caveat == "") {
				t.Fatalf("legal finding without citation %+v", fd)
			}
		}
	})
}
