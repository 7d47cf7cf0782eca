package notice

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/candorhq/candor/internal/incident"
)

// caBody is a notice in California's form that also meets GDPR Art. 34.
const caBody = `We are sorry to tell you that someone took some of your information.

## What Happened

{{.Facts.WhatHappened}}

## What Information Was Involved

{{.Facts.Exposed}}. Someone could use this to try to trick you. {{.Facts.NotExposed}} were not taken.

## What We Are Doing

{{.Facts.WhatWeDid}}

## What You Can Do

{{.Facts.WhatToDo}}

## For More Information

We will post updates at {{.Facts.ContactURL}}. Reply to this email or call {{.Facts.ContactPhone}}.`

// maBody is a notice for Massachusetts residents: no nature of the breach,
// no number, and the elements the law asks for.
const maBody = `We are sorry to tell you about a data security incident that involved your {{.Facts.Exposed}}. {{.Facts.NotExposed}} were not taken.

## What we are doing

We have made our systems safer and we are watching for misuse.

## What you can do

You have the right to obtain a police report. You can place a security freeze on your credit file: contact each credit bureau with your name, address and date of birth. There is no charge for a security freeze.

## For more information

We will post updates at {{.Facts.ContactURL}}. Reply to this email or call {{.Facts.ContactPhone}}.`

func legalFindings(fs []Finding) []Finding { return findPrefix(fs, "legal:") }

func TestLegalRulesOnlyWhereRecipientsAre(t *testing.T) {
	body := goodBody("") // the four points, but none of California's headings
	for _, j := range [][]string{nil, {}, {"US-NY", "US-TX"}, {"CA"}, {"CA-ON"}} {
		if fs := legalFindings(Check(input("affected_customers", "s", body, j...))); len(fs) > 0 {
			t.Errorf("jurisdictions %v: legal findings:%s", j, dump(fs))
		}
	}
	for _, j := range []string{"US-CA", "us-ca", " US-CA "} {
		fs := legalFindings(Check(input("affected_customers", "s", body, j, "US-NY")))
		var keys []string
		for _, f := range fs {
			keys = append(keys, f.Key)
			if f.Level != LevelError || f.Citation == "" || !strings.HasPrefix(f.SourceURL, "https://") || !strings.Contains(f.Caveat, "not legal advice") || !strings.Contains(f.Caveat, "counsel") {
				t.Errorf("%s: legal finding lacks its citation, source or caveat: %+v", j, f)
			}
			if !strings.Contains(f.Message, "US-CA") || !strings.Contains(f.Message, "variant") {
				t.Errorf("message should name the jurisdiction and suggest a variant: %s", f.Message)
			}
		}
		want := []string{"legal:us-ca-individuals:title", "legal:us-ca-individuals:heading:what_happened",
			"legal:us-ca-individuals:heading:what_information", "legal:us-ca-individuals:heading:what_we_are_doing",
			"legal:us-ca-individuals:heading:what_you_can_do", "legal:us-ca-individuals:heading:for_more_information"}
		if !slices.Equal(keys, want) {
			t.Errorf("%s: keys %v, want %v", j, keys, want)
		}
	}
	// The rules are for notices to individuals and regulators: the press release is not held to them.
	if fs := legalFindings(Check(input("press", "s", body, "US-CA", "FR", "US-MA"))); len(fs) > 0 {
		t.Errorf("press release: legal findings:%s", dump(fs))
	}
}

func TestCaliforniaForm(t *testing.T) {
	fs := Check(input("affected_customers", "Notice of Data Breach", caBody, "US-CA"))
	if b := Blocking(fs); len(b) > 0 {
		t.Fatalf("a notice in California's form:%s", dump(b))
	}
	// The title may be the first heading instead of the subject.
	fs = Check(input("affected_customers", "About your account", "# Notice of Data Breach\n\n"+caBody, "US-CA"))
	if f := find(fs, "legal:us-ca-individuals:title"); f != nil {
		t.Errorf("title as a heading not accepted: %s", f.Message)
	}
	// Headings compare without case or a trailing colon, but must be there.
	lower := strings.ReplaceAll(caBody, "## What You Can Do", "## what you can do:")
	if f := find(Check(input("affected_customers", "Notice of Data Breach", lower, "US-CA")), "legal:us-ca-individuals:heading:what_you_can_do"); f != nil {
		t.Errorf("heading case: %s", f.Message)
	}
	renamed := strings.ReplaceAll(caBody, "## What You Can Do", "## Steps for you")
	f := find(Check(input("affected_customers", "Notice of Data Breach", renamed, "US-CA")), "legal:us-ca-individuals:heading:what_you_can_do")
	if f == nil || !strings.Contains(f.Message, `"What You Can Do"`) || !strings.Contains(f.Citation, "1798.82") {
		t.Errorf("renamed heading: %+v", f)
	}
	// Social Security numbers exposed: the credit bureaus and the services offer.
	in := input("affected_customers", "Notice of Data Breach", caBody, "US-CA")
	in.Facts.Exposed = append(in.Facts.Exposed, "ssn")
	fs = Check(in)
	if find(fs, "legal:us-ca-individuals:cra_contact_info") == nil || find(fs, "legal:us-ca-individuals:identity_theft_services_offer") == nil {
		t.Errorf("SSN exposed, CRA details and services offer not asked for:%s", dump(legalFindings(fs)))
	}
	in.Content.Body += "\n\nYou can contact Equifax, Experian and TransUnion. We offer you 12 months of free credit monitoring."
	if fs := legalFindings(Check(in)); len(fs) > 0 {
		t.Errorf("with CRA details and the offer:%s", dump(fs))
	}
}

func TestGDPRArticle34(t *testing.T) {
	// Nature, contact point, consequences, measures.
	fs := Check(input("affected_customers", "Notice of Data Breach", caBody, "FR", "DE"))
	if l := legalFindings(fs); len(l) > 0 {
		t.Fatalf("caBody meets Art. 34:%s", dump(l))
	}
	noConsequences := strings.Replace(caBody, " Someone could use this to try to trick you.", "", 1)
	for _, j := range []string{"FR", "NO", "IE"} {
		f := find(Check(input("affected_customers", "s", noConsequences, j)), "legal:eu-gdpr-34-ds:likely_consequences")
		if f == nil || f.Citation != "GDPR Art. 34(1)-(4)" || !strings.Contains(f.Caveat, "statute or regulation text was read") {
			t.Errorf("%s: missing consequences: %+v", j, f)
		}
	}
	f := find(Check(input("affected_customers", "s", noConsequences, "GB")), "legal:uk-gdpr-34-ds:likely_consequences")
	if f == nil || !strings.Contains(f.Caveat, "secondary") {
		t.Errorf("UK: %+v", f)
	}
	if f := find(Check(input("affected_customers", "s", noConsequences, "US-CA")), "legal:eu-gdpr-34-ds:likely_consequences"); f != nil {
		t.Error("GDPR applied without EU recipients")
	}
}

func TestMassachusetts(t *testing.T) {
	// caBody states the nature of the breach (and, with the count, the number).
	withCount := caBody + "\n\nThis affects {{.Facts.AffectedCount}} customers."
	fs := Check(input("affected_customers", "Notice of Data Breach", withCount, "US-MA"))
	for _, k := range []string{"legal:us-ma-individuals:PROHIBITED:nature_of_breach", "legal:us-ma-individuals:PROHIBITED:number_affected",
		"legal:us-ma-individuals:police_report_right", "legal:us-ma-individuals:security_freeze_instructions", "legal:us-ma-individuals:security_freeze_free"} {
		if f := find(fs, k); f == nil || f.Level != LevelError || !strings.Contains(f.Citation, "93H") {
			t.Errorf("%s: %+v", k, f)
		}
	}
	if f := find(fs, "legal:us-ma-individuals:mitigation_services"); f != nil {
		t.Error("credit monitoring asked for though no SSN was exposed")
	}
	fs = Check(input("affected_customers", "Notice of Data Breach", maBody, "US-MA"))
	if b := Blocking(fs); len(b) > 0 {
		t.Errorf("a Massachusetts notice:%s", dump(b))
	}
	// An audience in California and Massachusetts: one text cannot meet both,
	// a variant for the Massachusetts segment can.
	in := input("affected_customers", "Notice of Data Breach", caBody, "US-CA", "US-MA")
	if fs := legalFindings(Check(in)); find(fs, "legal:us-ma-individuals:PROHIBITED:nature_of_breach") == nil {
		t.Errorf("one text for both states:%s", dump(fs))
	}
	in.Content.Variants = []Variant{{Name: "Massachusetts", SegmentID: 7, Subject: "Notice of Data Breach", Body: maBody}}
	in.VariantJurisdictions = map[int][]string{-1: {"US-CA"}, 0: {"US-MA"}}
	if b := Blocking(Check(in)); len(b) > 0 {
		t.Errorf("default for California, variant for Massachusetts:%s", dump(b))
	}
	in.Facts.Exposed = append(in.Facts.Exposed, "ssn")
	if f := find(Check(in), "legal:us-ma-individuals:mitigation_services"); f == nil || f.Variant != 0 {
		t.Errorf("SSN exposed: credit monitoring not asked of the Massachusetts variant: %+v", f)
	}
}

// Every rule in legal.json is complete, uses known checks and detectors,
// and says what the reference says.
func TestLegalJSON(t *testing.T) {
	checks := []string{"title", "heading", "present", "absent"}
	ids := map[string]bool{}
	for _, r := range LegalRules() {
		if r.ID == "" || ids[r.ID] || r.Name == "" || r.Citation == "" || !strings.HasPrefix(r.SourceURL, "https://") || len(r.Jurisdictions) == 0 || len(r.Audiences) == 0 {
			t.Errorf("rule %q is incomplete or repeated", r.ID)
		}
		ids[r.ID] = true
		if r.Verification != "primary_text" && r.Verification != "secondary" {
			t.Errorf("%s: verification %q", r.ID, r.Verification)
		}
		if r.Level != LevelError && r.Level != LevelWarning {
			t.Errorf("%s: level %q", r.ID, r.Level)
		}
		for _, j := range r.Jurisdictions {
			if _, region := legal.Regions[j]; !region && !incident.ValidJurisdiction(j) {
				t.Errorf("%s: unknown jurisdiction %q", r.ID, j)
			}
		}
		keys := map[string]bool{}
		for _, q := range r.Requirements {
			if keys[q.Key] || !slices.Contains(checks, q.Check) || q.Text == "" {
				t.Errorf("%s/%s: bad requirement %+v", r.ID, q.Key, q)
			}
			keys[q.Key] = true
			if (q.Check == "present" || q.Check == "absent") && detectors[q.Element] == nil {
				t.Errorf("%s/%s: no detector %q", r.ID, q.Key, q.Element)
			}
			for _, k := range q.WhenExposed {
				if !incident.DataKind(k).Valid() {
					t.Errorf("%s/%s: unknown data kind %q", r.ID, q.Key, k)
				}
			}
		}
	}
	for region, codes := range legal.Regions {
		for _, c := range codes {
			if !incident.ValidJurisdiction(c) {
				t.Errorf("region %s: unknown country %q", region, c)
			}
		}
	}
	if n := len(legal.Regions["EU/EEA"]); n != 30 {
		t.Errorf("EU/EEA has %d countries, want 27 + 3", n)
	}

	// Compared with the research reference, when it is at hand.
	raw, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "reference", "breachlaw.json"))
	if err != nil {
		t.Skip("the reference is not next to this checkout:", err)
	}
	var ref struct {
		Rules []refRule `json:"rules"`
	}
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	for _, r := range LegalRules() {
		i := slices.IndexFunc(ref.Rules, func(x refRule) bool {
			return x.ID == r.ID
		})
		if i < 0 {
			t.Errorf("%s is not in the reference", r.ID)
			continue
		}
		x := ref.Rules[i]
		audience := map[string]string{"affected_customers": "individuals", "regulators": "regulator"}[r.Audiences[0]]
		if x.Citation != r.Citation || x.VerificationLevel != r.Verification || x.Audience != audience {
			t.Errorf("%s: citation %q / %q, verification %q / %q", r.ID, r.Citation, x.Citation, r.Verification, x.VerificationLevel)
		}
		if r.SourceURL != x.SourceURL && !slices.Contains(x.OtherSources, r.SourceURL) {
			t.Errorf("%s: source %q is not one the reference gives", r.ID, r.SourceURL)
		}
		if !slices.Contains(r.Jurisdictions, x.Jurisdiction) {
			t.Errorf("%s: jurisdictions %v, reference %q", r.ID, r.Jurisdictions, x.Jurisdiction)
		}
		for _, q := range r.Requirements {
			if q.Check == "title" || q.Check == "heading" {
				continue // the format, from the reference's note
			}
			if !slices.ContainsFunc(x.ContentElements, func(e refElement) bool {
				key, _, _ := strings.Cut(q.Key, ":")
				if strings.HasPrefix(q.Key, "PROHIBITED:") {
					key = q.Key
				}
				return e.Key == key
			}) {
				t.Errorf("%s: requirement %q is not among the reference's content elements", r.ID, q.Key)
			}
		}
	}
}

// refRule is the part of a rule in ../shared/reference/breachlaw.json that
// legal.json carries over.
type refRule struct {
	ID                string       `json:"id"`
	Jurisdiction      string       `json:"jurisdiction"`
	Audience          string       `json:"audience"`
	Citation          string       `json:"citation"`
	SourceURL         string       `json:"source_url"`
	OtherSources      []string     `json:"other_sources"`
	VerificationLevel string       `json:"verification_level"`
	ContentElements   []refElement `json:"content_elements"`
}

type refElement struct {
	Key string `json:"key"`
}

func TestGDPRArticle33ForRegulators(t *testing.T) {
	body := `{{.Company.Name}} notifies a personal data breach.

## Nature of the breach

{{.Facts.WhatHappened}} Categories of data: {{.Facts.Exposed}}. Approximate number of data subjects: {{.Facts.AffectedCount}}.

## Contact point

{{.Facts.ContactEmail}}

## Likely consequences

The data could be used for payment fraud.

## Measures taken or proposed

{{.Facts.WhatWeDid}}`
	if fs := legalFindings(Check(input("regulators", "Notification of a personal data breach", body, "FR"))); len(fs) > 0 {
		t.Errorf("an Art. 33 notice:%s", dump(fs))
	}
	noCount := strings.Replace(body, " Approximate number of data subjects: {{.Facts.AffectedCount}}.", "", 1)
	f := find(Check(input("regulators", "s", noCount, "FR")), "legal:eu-gdpr-33-sa:nature_of_breach:number")
	if f == nil || f.Level != LevelError || !strings.Contains(f.Citation, "Art. 33") {
		t.Errorf("no count for the supervisory authority: %+v", f)
	}
	if fs := legalFindings(Check(input("regulators", "s", noCount, "US-CA"))); len(fs) > 0 {
		t.Errorf("a US regulator held to GDPR:%s", dump(fs))
	}
	if f := find(Check(input("regulators", "s", noCount, "GB")), "legal:uk-gdpr-33-ico:nature_of_breach:number"); f == nil {
		t.Error("ICO rule not applied")
	}
}
