package notice

import (
	"strings"
	"testing"
	"time"

	"github.com/candorhq/candor/internal/incident"
)

// input builds a CheckInput with SampleData's facts and recipient.
func input(kind, subject, body string, jurisdictions ...string) CheckInput {
	s := SampleData()
	return CheckInput{
		Content:      Content{Subject: subject, Body: body},
		AudienceKind: kind, Channels: []Channel{ChannelEmail},
		Facts: s.Facts, FactsVersion: s.FactsVersion, Company: s.Company,
		Jurisdictions: jurisdictions,
		Samples:       map[int][]Data{-1: {s}},
	}
}

func find(fs []Finding, key string) *Finding {
	for i := range fs {
		if fs[i].Key == key {
			return &fs[i]
		}
	}
	return nil
}

func findPrefix(fs []Finding, prefix string) []Finding {
	var out []Finding
	for _, f := range fs {
		if strings.HasPrefix(f.Key, prefix) {
			out = append(out, f)
		}
	}
	return out
}

func dump(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString("\n  " + string(f.Level) + " " + f.Key + ": " + f.Message)
	}
	return b.String()
}

// The paragraphs of a good customer notice, one per point, in plain words
// without placeholders, so that each test can leave one out.
var goodParts = map[string]string{
	"point:what_happened":     "Someone used a stolen staff password to copy part of our customer database.",
	"point:what_to_do":        "We recommend you check your card statements.",
	"point:what_we_are_doing": "We have locked the stolen account.",
	"point:updates":           "We will post every update at https://example.com/incident.",
	"contact":                 "Reply to this email if you have a question.",
	"apology":                 "We are sorry.",
	"not_affected":            "Your password and bank account numbers were not taken.",
}

var partOrder = []string{"apology", "point:what_happened", "not_affected", "point:what_we_are_doing", "point:what_to_do", "point:updates", "contact"}

func goodBody(without string) string {
	var parts []string
	for _, k := range partOrder {
		if k != without {
			parts = append(parts, goodParts[k])
		}
	}
	return strings.Join(parts, "\n\n")
}

func TestGoodCustomerNoticePasses(t *testing.T) {
	for _, kind := range []string{"affected_customers", "unaffected_customers", "press", "custom", "partners", "employees", "response_team"} {
		fs := Check(input(kind, "About the security incident", goodBody("")))
		if b := Blocking(fs); len(b) > 0 {
			t.Errorf("%s: blocking findings on a good notice:%s", kind, dump(b))
		}
		for _, f := range fs {
			if f.Level == LevelWarning {
				t.Errorf("%s: warning on a good notice:%s", kind, dump([]Finding{f}))
			}
		}
		if find(fs, "readability") == nil {
			t.Errorf("%s: no readability finding", kind)
		}
	}
}

func TestEachMissingPointIsAnError(t *testing.T) {
	for _, key := range partOrder {
		t.Run(key, func(t *testing.T) {
			fs := Check(input("affected_customers", "About the security incident", goodBody(key)))
			f := find(fs, key)
			if f == nil {
				t.Fatalf("leaving out %q was not found:%s", goodParts[key], dump(fs))
			}
			if f.Level != LevelError || f.Variant != -1 || f.Field != "body" {
				t.Errorf("finding %+v: want an error on the default body", *f)
			}
			if len(Blocking(fs)) != 1 {
				t.Errorf("want exactly this one blocking finding:%s", dump(Blocking(fs)))
			}
			// For the press, the same gap is a warning at most.
			for _, f := range Check(input("press", "About the security incident", goodBody(key))) {
				if f.Level == LevelError {
					t.Errorf("press: %s is an error; want a warning", f.Key)
				}
			}
		})
	}
}

// The heuristics recognise each point written in many ways.
func TestPointDetectors(t *testing.T) {
	cases := []struct {
		key, text string
		found     bool
	}{
		{"point:what_happened", "## What happened\n\nIt was a bad day.", true},
		{"point:what_happened", "## What Happened\n\n{{.Facts.WhatHappened}}", true},
		{"point:what_happened", "Hackers broke into our billing system last week.", true},
		{"point:what_happened", "Your details were stolen from our web shop.", true},
		{"point:what_happened", "We had a data breach.", true},
		{"point:what_happened", "## What happened\n\n", false}, // a heading with nothing under it
		{"point:what_happened", "Hello there.", false},
		{"point:what_to_do", "## What you can do\n\nStay alert.", true},
		{"point:what_to_do", "**What you should do**\n\nStay alert.", true},
		{"point:what_to_do", "Please change your password today.", true},
		{"point:what_to_do", "We strongly recommend that you turn on two-factor sign-in.", true},
		{"point:what_to_do", "You should keep an eye on your bank account.", true},
		{"point:what_to_do", "There is nothing you need to do.", true},
		{"point:what_to_do", "{{.Facts.WhatToDo}}", true},
		{"point:what_to_do", "We are looking into it.", false},
		{"point:what_we_are_doing", "## What we are doing\n\nA lot.", true},
		{"point:what_we_are_doing", "We have reset every staff password.", true},
		{"point:what_we_are_doing", "We're working with the police.", true},
		{"point:what_we_are_doing", "{{.Facts.WhatWeDid}}", true},
		{"point:what_we_are_doing", "It is bad.", false},
		{"point:updates", "## For more information\n\nSee our site.", true},
		{"point:updates", "We'll keep you updated.", true},
		{"point:updates", "Updates are on our status page.", true},
		{"point:updates", "{{.Facts.ContactURL}}", true},
		{"point:updates", "Thanks.", false},
		{"contact", "Write to help@example.com.", true},
		{"contact", "Call us on +1 951 555 0100.", true},
		{"contact", "Just hit reply.", true},
		{"contact", "Please contact our support team.", true},
		{"contact", "Thanks.", false},
		{"apology", "We apologise for this.", true},
		{"apology", "I’m so sorry.", true},
		{"apology", "We regret the trouble.", true},
		{"apology", "Thanks for your patience.", false},
		{"not_affected", "Your passwords were not affected.", true},
		{"not_affected", "No billing information was exposed.", true},
		{"not_affected", "{{if .Facts.NotExposed}}These were not taken: {{.Facts.NotExposed}}.{{end}}", true},
		{"not_affected", "Your bank account numbers remain safe.", true},
		{"not_affected", "Your password was taken.", false},
		{"not_affected", "We will never ask for your password.", false},
	}
	dets := map[string]func(*analysis) bool{
		"point:what_happened": detectHappened, "point:what_to_do": detectToDo, "point:what_we_are_doing": detectWeDo,
		"point:updates": detectUpdates, "contact": detectContact, "apology": detectApology, "not_affected": detectNotAffected,
	}
	s := SampleData()
	for _, c := range cases {
		tm, err := Parse("s", c.text)
		if err != nil {
			t.Fatal(err)
		}
		r, err := tm.Render(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := dets[c.key](analyze(r.Subject, r.Markdown, &s.Facts)); got != c.found {
			t.Errorf("%s in %q: found %v, want %v", c.key, c.text, got, c.found)
		}
	}
}

func TestNotAffectedOnlyWhenFactsListIt(t *testing.T) {
	in := input("affected_customers", "s", goodBody("not_affected"))
	in.Facts.NotExposed = nil
	if f := find(Check(in), "not_affected"); f != nil {
		t.Errorf("not_affected reported though the facts list nothing: %s", f.Message)
	}
}

func TestAudienceStrictness(t *testing.T) {
	body := "Hello. This is a note."
	levels := map[string]Level{
		"affected_customers": LevelError, "unaffected_customers": LevelError,
		"press": LevelWarning, "custom": LevelWarning, "partners": LevelWarning, "regulators": LevelWarning, "employees": LevelWarning,
	}
	for kind, want := range levels {
		f := find(Check(input(kind, "s", body)), "point:what_happened")
		if f == nil || f.Level != want {
			t.Errorf("%s: what_happened finding %v, want level %s", kind, f, want)
		}
	}
	if fs := findPrefix(Check(input("response_team", "s", body)), "point:"); len(fs) > 0 {
		t.Errorf("response team notes get point findings:%s", dump(fs))
	}
	if f := find(Check(input("press", "s", body)), "apology"); f != nil {
		t.Error("a press release is asked for an apology")
	}
}

func TestFactsNumbers(t *testing.T) {
	cases := []struct {
		text  string
		level Level // "" for no finding
		key   string
	}{
		{"We have told 15,000 customers.", LevelError, "facts:number:15000"},
		{"We have told 15000 customers.", LevelError, "facts:number:15000"},
		{"We have told 15k customers.", LevelError, "facts:number:15000"},
		{"We have told 14,872 customers.", LevelInfo, "facts:literal_number:14872"},
		{"We have told about 15,000 customers.", LevelInfo, "facts:literal_number:15000"},
		{"More than 15,000 of our members were affected.", LevelError, "facts:number:15000"},
		{"More than 14,000 members were affected.", LevelInfo, "facts:literal_number:14000"},
		{"Fewer than 10,000 accounts were affected.", LevelError, "facts:number:10000"},
		{"It affects 2,210 California residents.", LevelInfo, "facts:literal_number:2210"},
		{"It affects 1.2 million people.", LevelError, "facts:number:1200000"},
		{"One of our 2 million customers.", "", ""},
		{"We answered within 72 hours of customers writing.", "", ""},
		{"In 2025 customers asked for more.", "", ""},
		{"We have told {{.Facts.AffectedCount}} customers.", "", ""},
		{"We have added 2 new security engineers and 3 support team members.", "", ""},
		{"Over 100 people on our team are working on it.", "", ""},
		{"5 members of our staff answer calls.", "", ""},
	}
	for _, c := range cases {
		fs := findPrefix(Check(input("press", "s", c.text)), "facts:")
		if c.level == "" {
			if len(fs) > 0 {
				t.Errorf("%q: unexpected findings:%s", c.text, dump(fs))
			}
			continue
		}
		f := find(fs, c.key)
		if f == nil || f.Level != c.level {
			t.Errorf("%q: want %s %s, got:%s", c.text, c.level, c.key, dump(fs))
		}
	}
	// The finding points at the number in the source.
	f := find(Check(input("press", "s", "Hello.\n\nWe have told 15,000 customers.")), "facts:number:15000")
	if f == nil || f.Position == nil || *f.Position != (Position{3, 14}) || f.Value != "15,000" {
		t.Errorf("position: got %+v", f)
	}
	if !strings.Contains(f.Message, "14,872") || !strings.Contains(f.Message, "{{.Facts.AffectedCount}}") {
		t.Errorf("message should give the facts and the placeholder: %s", f.Message)
	}
	// In the subject too.
	f = find(Check(input("press", "15,000 customers affected by breach", "Hello.")), "facts:number:15000")
	if f == nil || f.Field != "subject" {
		t.Errorf("subject number: got %+v", f)
	}
	// Unknown count: a warning to record it.
	in := input("press", "s", "We have told 15,000 customers.")
	in.Facts.AffectedTotal, in.Facts.AffectedBy = 0, nil
	if f := find(Check(in), "facts:number:15000"); f == nil || f.Level != LevelWarning {
		t.Errorf("unknown count: got %+v", f)
	}
}

func TestFactsDates(t *testing.T) {
	cases := []struct {
		text  string
		level Level
		key   string
	}{
		{"We discovered the breach on March 20, 2025.", LevelError, "facts:date:2025-03-20"},
		{"We found out on 20 March.", LevelError, "facts:date:03-20"},
		{"We discovered it on March 12.", LevelInfo, "facts:literal_date:03-12"},
		{"We discovered it on 2025-03-12.", LevelInfo, "facts:literal_date:2025-03-12"},
		{"The attack happened between March 3 and March 11.", LevelInfo, "facts:literal_date:03-03"},
		{"The attack happened on March 1, 2025.", LevelError, "facts:date:2025-03-01"},
		{"Data was copied on March 5, 2024.", LevelError, "facts:date:2024-03-05"},
		{"We will send an update on March 20.", "", ""},
		{"Our office is closed on December 25.", "", ""},
		{"We discovered it on {{.Facts.DiscoveredAt}}.", "", ""},
	}
	for _, c := range cases {
		fs := findPrefix(Check(input("press", "s", c.text)), "facts:")
		if c.level == "" {
			if len(fs) > 0 {
				t.Errorf("%q: unexpected findings:%s", c.text, dump(fs))
			}
			continue
		}
		f := find(fs, c.key)
		if f == nil || f.Level != c.level {
			t.Errorf("%q: want %s %s, got:%s", c.text, c.level, c.key, dump(fs))
		}
	}
	f := find(Check(input("press", "s", "We discovered the breach on March 20, 2025.")), "facts:date:2025-03-20")
	if f == nil || !strings.Contains(f.Message, "March 12, 2025") || f.Position == nil || *f.Position != (Position{1, 29}) {
		t.Errorf("want the facts' date and a position in the message: %+v", f)
	}
	in := input("press", "s", "We discovered the breach on March 20, 2025.")
	in.Facts.DiscoveredAt, in.Facts.BecameAwareAt = nil, nil
	if f := find(Check(in), "facts:date:2025-03-20"); f == nil || f.Level != LevelWarning {
		t.Errorf("unknown discovery date: got %+v", f)
	}
}

func TestFactsDataKinds(t *testing.T) {
	cases := []struct {
		text  string
		level Level
		key   string
	}{
		{"Your card numbers were not taken.", LevelError, "facts:data_kind:card_number"},
		{"Your bank account numbers were taken.", LevelError, "facts:data_kind:bank_account"},
		{"The stolen data includes hashed passwords.", LevelError, "facts:data_kind:password_hash"},
		{"Your dates of birth were exposed.", LevelWarning, "facts:data_kind:date_of_birth"},
		{"Your name, email address and card number were taken, but not your password.", "", ""},
		{"Your passwords were not affected.", "", ""},
		{"We will never ask for your password or full card number.", "", ""},
		{"The card companies were told.", "", ""},
		{"Someone copied data using a stolen staff password.", "", ""},
		{"Our admin passwords were stolen.", "", ""},
		{"{{if .Facts.Includes \"bank_account\"}}Your bank account numbers were taken.{{end}}", "", ""}, // never rendered for these facts
	}
	for _, c := range cases {
		fs := findPrefix(Check(input("press", "s", c.text)), "facts:")
		if c.level == "" {
			if len(fs) > 0 {
				t.Errorf("%q: unexpected findings:%s", c.text, dump(fs))
			}
			continue
		}
		f := find(fs, c.key)
		if f == nil || f.Level != c.level {
			t.Errorf("%q: want %s %s, got:%s", c.text, c.level, c.key, dump(fs))
		}
	}
	// Positions survive line breaks and typographic quotes.
	f := find(Check(input("press", "s", "Hello.\n\nYour card\nnumbers weren’t taken.")), "facts:data_kind:card_number")
	if f == nil || f.Position == nil || *f.Position != (Position{3, 6}) {
		t.Errorf("position over a line break: %+v", f)
	}
	// The LinkedIn case: passwords said safe while hashes were taken.
	in := input("affected_customers", "s", "Your passwords were not affected.")
	in.Facts.Exposed = append(in.Facts.Exposed, "password_hash")
	in.Facts.NotExposed = []incident.DataKind{"bank_account"}
	if f := find(Check(in), "facts:data_kind:password_hash"); f == nil || f.Level != LevelError || f.Position == nil {
		t.Errorf("passwords said safe though hashes were taken: %+v", f)
	}
}

func TestEmptyPlaceholders(t *testing.T) {
	in := input("affected_customers", "s", "Hello.\n\nCall us at {{.Facts.ContactPhone}}.")
	in.Facts.Contact.Phone = ""
	f := find(Check(in), "facts:empty:.Facts.ContactPhone")
	if f == nil || f.Level != LevelError || f.Position == nil || *f.Position != (Position{3, 12}) {
		t.Fatalf("empty phone: got %+v", f)
	}
	for _, body := range []string{
		"{{if .Facts.ContactPhone}}Call us at {{.Facts.ContactPhone}}.{{end}}",
		"Call us at {{.Facts.ContactPhone | default \"our help line\"}}.",
		"{{with .Facts.ContactPhone}}Call us at {{.}}.{{end}}",
	} {
		in.Content.Body = body
		if f := find(Check(in), "facts:empty:.Facts.ContactPhone"); f != nil {
			t.Errorf("%q: a guarded placeholder was reported", body)
		}
	}
	// Filled in: nothing to report.
	in = input("affected_customers", "s", "Call us at {{.Facts.ContactPhone}}.")
	if fs := findPrefix(Check(in), "facts:empty:"); len(fs) > 0 {
		t.Errorf("filled placeholder reported:%s", dump(fs))
	}
	// Company settings and per-recipient fields.
	in = input("affected_customers", "s", "From {{.Company.Name}}, for {{.Recipient.Attr \"plan\"}} {{.Facts.AffectedIn \"US-NY\"}}.")
	in.Company.Name = ""
	s := in.Samples[-1][0]
	s.Company = Company{}
	s.Recipient.Attributes = nil
	in.Samples[-1][0] = s
	fs := Check(in)
	if f := find(fs, "facts:empty:.Company.Name"); f == nil || f.Level != LevelError {
		t.Errorf("empty company name: %+v", f)
	}
	if f := find(fs, `facts:empty:.Recipient.Attr "plan"`); f == nil || f.Level != LevelWarning {
		t.Errorf("empty attribute: %+v%s", f, dump(fs))
	}
	if f := find(fs, `facts:empty:.Facts.AffectedIn "US-NY"`); f == nil {
		t.Errorf("empty jurisdiction count not reported:%s", dump(fs))
	}
}

func TestReadability(t *testing.T) {
	simple := "We are sorry. Someone took your card number. Please check your bank statements. We have locked the account. We will post updates at https://example.com/incident. Reply to this email with any question."
	f := find(Check(input("affected_customers", "s", simple)), "readability")
	if f == nil || f.Level != LevelInfo || f.Value == "" {
		t.Fatalf("simple text: %+v", f)
	}
	hard := "Notwithstanding the comprehensive investigative undertakings initiated subsequent to the identification of anomalous authentication activity, the organization has determined that unauthorized exfiltration of personally identifiable information, including financial instrument identifiers, transpired during the aforementioned interval, necessitating extraordinary remediation."
	f = find(Check(input("affected_customers", "s", hard)), "readability")
	if f == nil || f.Level != LevelWarning || !strings.Contains(f.Message, "shorter sentences") {
		t.Errorf("hard text for customers: %+v", f)
	}
	f = find(Check(input("press", "s", hard)), "readability")
	if f == nil || f.Level != LevelInfo {
		t.Errorf("hard text for the press should only be measured: %+v", f)
	}
}

func TestTemplateErrorsPerVariant(t *testing.T) {
	in := input("affected_customers", "Notice", goodBody(""))
	in.Content.Variants = []Variant{
		{Name: "fr", Locale: "fr", Subject: "Avis", Body: "Bonjour\n\n{{.Facts.WhatHapend}}"},
		{Name: "ok", Subject: "s", Body: goodBody("")},
	}
	fs := Check(in)
	var tf []Finding
	for _, f := range fs {
		if f.Key == "template" {
			tf = append(tf, f)
		}
	}
	if len(tf) != 1 {
		t.Fatalf("want one template finding:%s", dump(fs))
	}
	f := tf[0]
	if f.Variant != 0 || f.Level != LevelError || f.Field != "body" || f.Position == nil || *f.Position != (Position{3, 10}) || !strings.Contains(f.Message, "WhatHappened") {
		t.Errorf("template finding %+v", f)
	}
	// Findings come default first, then each variant in order.
	last := -2
	for _, f := range fs {
		if f.Variant < last {
			t.Fatalf("findings out of variant order:%s", dump(fs))
		}
		last = f.Variant
	}
	if b := Blocking(fs); len(b) != 1 || b[0].Key != "template" {
		t.Errorf("blocking: %s", dump(b))
	}
}

func TestSamplesPerVariant(t *testing.T) {
	// What to do is only said to recipients whose card was taken.
	body := strings.Replace(goodBody(""), goodParts["point:what_to_do"],
		`{{if .Recipient.Exposed "card_number"}}We recommend you check your card statements.{{end}}`, 1)
	in := input("affected_customers", "s", body)
	a, b := SampleData(), SampleData()
	b.Recipient.Name, b.Recipient.Exposed = "Bo Email-Only", []incident.DataKind{"email"}
	in.Samples = map[int][]Data{-1: {a, b}}
	f := find(Check(in), "point:what_to_do")
	if f == nil || !strings.Contains(f.Message, "Bo Email-Only") || !strings.Contains(f.Message, "some recipients") {
		t.Fatalf("want the gap reported for the second sample: %+v", f)
	}
	if f := find(Check(in), "readability"); f == nil || strings.Contains(f.Message, "some recipients") {
		t.Errorf("readability is measured once, for the first sample: %+v", f)
	}
	in.Samples = map[int][]Data{-1: {a}}
	if f := find(Check(in), "point:what_to_do"); f != nil {
		t.Errorf("reported for a recipient who gets the sentence: %s", f.Message)
	}
	// No samples: a stand-in with every exposed kind is used.
	in.Samples = nil
	if fs := Blocking(Check(in)); len(fs) > 0 {
		t.Errorf("stand-in sample:%s", dump(fs))
	}
}

func TestChannels(t *testing.T) {
	in := input("affected_customers", "", goodBody(""))
	in.Channels = []Channel{ChannelEmail, ChannelSMS}
	fs := Check(in)
	if f := find(fs, "subject"); f == nil || f.Level != LevelError {
		t.Errorf("an email without subject: %+v", f)
	}
	if f := find(fs, "sms"); f == nil || f.Level != LevelInfo || f.Value == "" || !strings.Contains(f.Message, "GSM-7") {
		t.Errorf("sms segments: %+v", f)
	}
	in.Channels = []Channel{ChannelStatusPage}
	if f := find(Check(in), "subject"); f != nil {
		t.Error("a status page entry needs no email subject")
	}
}

func TestBlocking(t *testing.T) {
	fs := []Finding{{Key: "a", Level: LevelError, Variant: -1}, {Key: "b", Level: LevelWarning, Variant: -1}, {Key: "c", Level: LevelInfo, Variant: -1}, {Key: "d", Level: LevelError, Variant: 1}}
	b := Blocking(fs)
	if len(b) != 2 || b[0].Key != "a" || b[1].Key != "d" {
		t.Errorf("Blocking = %v", b)
	}
	if Blocking(nil) != nil {
		t.Error("Blocking(nil) != nil")
	}
	if fs[0].Ref() != "a" || fs[3].Ref() != "variants[1]/d" {
		t.Errorf("refs %q %q", fs[0].Ref(), fs[3].Ref())
	}
	out := Outstanding(fs, func(ref string) bool { return ref == "variants[1]/d" })
	if len(out) != 1 || out[0].Key != "a" {
		t.Errorf("Outstanding = %v", out)
	}
	if len(Outstanding(fs, nil)) != 2 {
		t.Error("Outstanding without overrides")
	}
}

func TestCheckSurvivesOddInput(t *testing.T) {
	for _, in := range []CheckInput{
		{},
		{Content: Content{Body: "{{"}},
		{Content: Content{Body: "\ue000 odd \ue001\ue001 markers"}, AudienceKind: "affected_customers"},
		{Content: Content{Body: "# \n\n**\n\n- \n"}, AudienceKind: "affected_customers", Jurisdictions: []string{"US-CA", "", "x", "FR"}},
		{Content: Content{Subject: "s", Body: "b", Variants: []Variant{{}}}, Samples: map[int][]Data{0: {{}}}},
	} {
		_ = Check(in)
	}
	_ = time.Now
}

func TestTranslationsAreLeftToReaders(t *testing.T) {
	in := input("affected_customers", "s", goodBody(""), "US-CA")
	in.Content.Variants = []Variant{{Name: "fr", Locale: "fr-CA", Subject: "Avis d'atteinte", Body: "Nous sommes désolés. Quelqu'un a copié des données le 20 mars.\n\nAppelez le {{.Facts.ContactPhone}}."}}
	var v0 []Finding
	for _, f := range Check(in) {
		if f.Variant == 0 {
			v0 = append(v0, f)
		}
	}
	if len(v0) != 1 || v0[0].Key != "translation" || v0[0].Level != LevelWarning ||
		!strings.Contains(v0[0].Message, "say what happened") || !strings.Contains(v0[0].Message, "California") {
		t.Errorf("a French variant:%s", dump(v0))
	}
	// Placeholders are checked in every language.
	in.Facts.Contact.Phone = ""
	if f := find(Check(in), "facts:empty:.Facts.ContactPhone"); f == nil || f.Variant != 0 {
		t.Errorf("empty placeholder in a translation: %+v", f)
	}
	// English variants get the full checks.
	in.Content.Variants[0].Locale = "en-GB"
	if f := find(Check(in), "translation"); f != nil {
		t.Error("an English variant was treated as a translation")
	}
}

func TestContactShapes(t *testing.T) {
	s := SampleData()
	for text, want := range map[string]bool{
		"Call (951) 555-0100.":             true,
		"Call 951-555-0100.":               true,
		"Call 0161 496 0000.":              true,
		"Call +44 161 496 0000.":           true,
		"Write to privacy@example.co.uk.":  true,
		"It began on 2025-03-12.":          false,
		"14,872 customers.":                false,
		"Ask our data protection officer.": true,
	} {
		a := analyze("", text, &s.Facts)
		if got := detectContact(a); got != want {
			t.Errorf("%q: contact %v, want %v", text, got, want)
		}
	}
}

// Buffer's apology email (../shared/seeds, 001) is what good looks like:
// it passes every customer-notice check as it was written.
const bufferEmail = `Hi there,

I wanted to get in touch to apologize for the awful experience we’ve caused many of you on your weekend. Buffer was hacked around 1 hour ago, and many of you may have experienced spam posts sent from you via Buffer. I can only understand how angry and disappointed you must be right now.

Not everyone who has signed up for Buffer has been affected, but you may want to check on your accounts. We’re working hard to fix this problem right now and we’re expecting to have everything back to normal shortly.

We’re posting continual updates on the Buffer Facebook page and the Buffer Twitter page to keep you in the loop on everything.

The best steps for you to take right now and important information for you:

* Remove any postings from your Facebook page or Twitter page that look like spam
* Keep an eye on Buffer’s Twitter page and Facebook page
* Your Buffer passwords are not affected
* No billing or payment information was affected or exposed
* All Facebook posts sent via Buffer have been temporarily hidden and will reappear once we’ve resolved this situation

I am incredibly sorry this has happened and affected you and your company. We’re working around the clock right now to get this resolved and we’ll continue to post updates on Facebook and Twitter.

If you have any questions at all, please respond to this email. Understandably, a lot of people have emailed us, so we might take a short while to get back to everyone, but we will respond to every single email.

– Joel and the Buffer team`

func TestBufferEmailPasses(t *testing.T) {
	in := input("affected_customers", "Buffer has been hacked – here is what’s going on", bufferEmail)
	in.Facts.Exposed = []incident.DataKind{"usage_data"}
	in.Facts.NotExposed = []incident.DataKind{"password_hash", "bank_account"}
	in.Facts.WhatHappened, in.Facts.CompanyActions, in.Facts.PeopleShould = "", "", ""
	fs := Check(in)
	for _, f := range fs {
		if f.Level != LevelInfo {
			t.Errorf("%s %s: %s", f.Level, f.Key, f.Message)
		}
	}
	// Said the other way round, the passwords line contradicts the facts.
	in.Facts.Exposed = []incident.DataKind{"password_hash"}
	in.Facts.NotExposed = []incident.DataKind{"bank_account"}
	if f := find(Check(in), "facts:data_kind:password_hash"); f == nil || f.Level != LevelError {
		t.Errorf("passwords said unaffected though exposed: %+v", f)
	}
}

// A notice that only says "change your password" (what LinkedIn's members
// got) fails the points a customer needs.
func TestBareNoticeFails(t *testing.T) {
	fs := Check(input("affected_customers", "Change your password", "Please change your password."))
	var keys []string
	for _, f := range Blocking(fs) {
		keys = append(keys, f.Key)
	}
	want := []string{"point:what_happened", "point:what_we_are_doing", "point:updates", "contact", "apology", "not_affected"}
	if strings.Join(keys, " ") != strings.Join(want, " ") {
		t.Errorf("blocking keys %v, want %v", keys, want)
	}
}

// BenchmarkCheck measures one save of a notice in California's form with a
// variant, as the editor runs it while the writer types.
func BenchmarkCheck(b *testing.B) {
	in := input("affected_customers", "Notice of Data Breach", caBody, "US-CA", "FR", "US-MA")
	in.Content.Variants = []Variant{{Name: "Massachusetts", SegmentID: 1, Subject: "Notice of Data Breach", Body: maBody}}
	in.Channels = []Channel{ChannelEmail, ChannelSMS}
	for b.Loop() {
		Check(in)
	}
}
