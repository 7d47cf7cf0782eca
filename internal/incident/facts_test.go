package incident_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/incident"
)

var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func at(s string) *time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return &t
}

// goodFacts returns facts a responder might really record; they validate.
func goodFacts() incident.Facts {
	return incident.Facts{
		WhatHappened:  "An attacker copied the customer table from a backup server.",
		DiscoveredAt:  at("2025-05-20T09:30:00Z"),
		OccurredFrom:  at("2025-05-01T00:00:00Z"),
		OccurredTo:    at("2025-05-19T23:00:00Z"),
		Exposed:       []incident.DataKind{"email", "name", "card_number"},
		NotExposed:    []incident.DataKind{"card_cvv", "password_hash"},
		AffectedTotal: 1000,
		AffectedBy: []incident.Jurisdictional{
			{Code: "US-CA", Count: 400},
			{Code: "DE", Count: 300},
			{Code: "FR-75", Count: 100},
		},
		CompanyActions: "We took the server offline and rotated all keys.",
		PeopleShould:   "Watch your card statements.",
		Contact:        incident.Contact{Email: "security@example.com", Phone: "+1 951 555 0100", URL: "https://example.com/incident"},
		BecameAwareAt:  at("2025-05-20T10:00:00Z"),
	}
}

func TestFactsValidateAcceptsGoodFacts(t *testing.T) {
	f := goodFacts()
	if err := f.Validate(now); err != nil {
		t.Fatalf("Validate() = %v (fields %v), want nil", err, apperr.Fields(err))
	}
	var empty incident.Facts
	if err := empty.Validate(now); err != nil {
		t.Fatalf("empty facts: Validate() = %v, want nil (everything is optional)", err)
	}
}

func TestFactsValidateRejects(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(f *incident.Facts)
		field   string
		msgHas  string // a fragment the user-facing message must contain
		wantAll int    // number of problems, 0 meaning 1
	}{
		{"unknown data kind", func(f *incident.Facts) { f.Exposed = []incident.DataKind{"email", "dna_sequence"} }, "exposed[1]", "dna_sequence", 0},
		{"unknown not-exposed kind", func(f *incident.Facts) { f.NotExposed = []incident.DataKind{"vibes"} }, "not_exposed[0]", "vibes", 0},
		{"kind both exposed and not exposed", func(f *incident.Facts) { f.NotExposed = []incident.DataKind{"card_cvv", "EMAIL"} }, "not_exposed[1]", "Email addresses", 0},
		{"unknown country", func(f *incident.Facts) { f.AffectedBy[1].Code = "XX" }, "affected_by_jurisdiction[1].code", "XX", 0},
		{"unknown US state", func(f *incident.Facts) { f.AffectedBy[0].Code = "us-zz" }, "affected_by_jurisdiction[0].code", "US-ZZ", 0},
		{"duplicate jurisdiction after normalising", func(f *incident.Facts) { f.AffectedBy[2] = incident.Jurisdictional{Code: " de ", Count: 1} }, "affected_by_jurisdiction[2].code", "DE", 0},
		{"negative total", func(f *incident.Facts) { f.AffectedTotal = -5 }, "affected_total", "negative", 0},
		{"negative jurisdiction count", func(f *incident.Facts) { f.AffectedBy[1].Count = -1 }, "affected_by_jurisdiction[1].count", "DE", 0},
		{"jurisdictions add up to more than total", func(f *incident.Facts) { f.AffectedTotal = 799 }, "affected_total", "800", 0},
		{"bad email", func(f *incident.Facts) { f.Contact.Email = "security at example.com" }, "contact.email", "security at example.com", 0},
		{"email with display name", func(f *incident.Facts) { f.Contact.Email = "Security <security@example.com>" }, "contact.email", "not an email address", 0},
		{"bad phone", func(f *incident.Facts) { f.Contact.Phone = "call us" }, "contact.phone", "call us", 0},
		{"too short phone", func(f *incident.Facts) { f.Contact.Phone = "12345" }, "contact.phone", "not a phone number", 0},
		{"URL without scheme", func(f *incident.Facts) { f.Contact.URL = "example.com/incident" }, "contact.url", "https://", 0},
		{"URL with other scheme", func(f *incident.Facts) { f.Contact.URL = "ftp://example.com/x" }, "contact.url", "not a web address", 0},
		{"URL without host", func(f *incident.Facts) { f.Contact.URL = "https://" }, "contact.url", "not a web address", 0},
		{"discovered in the future", func(f *incident.Facts) { f.DiscoveredAt = at("2025-06-02T00:00:00Z") }, "discovered_at", "in the future", 0},
		{"occurred_from in the future", func(f *incident.Facts) {
			f.OccurredFrom = at("2030-01-01T00:00:00Z")
			f.OccurredTo = nil
		}, "occurred_from", "in the future", 0},
		{"became aware in the future", func(f *incident.Facts) { f.BecameAwareAt = at("2025-06-01T12:05:00Z") }, "became_aware_at", "in the future", 0},
		{"breach determined in the future", func(f *incident.Facts) { f.BreachDeterminedAt = at("2026-01-01T00:00:00Z") }, "breach_determined_at", "in the future", 0},
		{"materiality determined in the future", func(f *incident.Facts) { f.MaterialityDeterminedAt = at("2026-01-01T00:00:00Z") }, "materiality_determined_at", "in the future", 0},
		{"time before 1970", func(f *incident.Facts) { f.OccurredFrom = at("1969-12-31T23:59:59Z") }, "occurred_from", "1970", 0},
		{"occurred_to before occurred_from", func(f *incident.Facts) { f.OccurredTo = at("2025-04-30T00:00:00Z") }, "occurred_to", "before its start", 0},
		{"oversized what_happened", func(f *incident.Facts) { f.WhatHappened = strings.Repeat("a", incident.MaxText+1) }, "what_happened", "20001", 0},
		{"oversized company_actions", func(f *incident.Facts) { f.CompanyActions = strings.Repeat("a", incident.MaxText+1) }, "company_actions", "20000", 0},
		{"oversized people_should", func(f *incident.Facts) { f.PeopleShould = strings.Repeat("a", incident.MaxText+1) }, "people_should", "20000", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := goodFacts()
			tt.edit(&f)
			err := f.Validate(now)
			if err == nil {
				t.Fatal("Validate() = nil, want an error")
			}
			if apperr.Code(err) != apperr.EINVALID {
				t.Fatalf("code = %q, want invalid", apperr.Code(err))
			}
			fields := apperr.Fields(err)
			if len(fields) != 1 {
				t.Errorf("fields = %v, want only %q", fields, tt.field)
			}
			msg, ok := fields[tt.field]
			if !ok {
				t.Fatalf("no error for field %q; got %v", tt.field, fields)
			}
			if !strings.Contains(msg, tt.msgHas) {
				t.Errorf("message %q should contain %q", msg, tt.msgHas)
			}
		})
	}
}

func TestFactsValidateAccepts(t *testing.T) {
	tests := []struct {
		name  string
		edit  func(f *incident.Facts)
		check func(t *testing.T, f incident.Facts)
	}{
		{"lower-case subdivision is normalised", func(f *incident.Facts) { f.AffectedBy[0].Code = " us-ca " }, func(t *testing.T, f incident.Facts) {
			if f.AffectedBy[0].Code != "US-CA" {
				t.Errorf("code = %q, want US-CA", f.AffectedBy[0].Code)
			}
		}},
		{"country code", func(f *incident.Facts) { f.AffectedBy = []incident.Jurisdictional{{Code: "de", Count: 3}} }, func(t *testing.T, f incident.Facts) {
			if f.AffectedBy[0].Code != "DE" {
				t.Errorf("code = %q, want DE", f.AffectedBy[0].Code)
			}
		}},
		{"well-formed subdivision of an unlisted country", func(f *incident.Facts) { f.AffectedBy = []incident.Jurisdictional{{Code: "FR-75", Count: 3}} }, nil},
		{"total zero with counts (total not known yet)", func(f *incident.Facts) { f.AffectedTotal = 0 }, nil},
		{"counts add up exactly to total", func(f *incident.Facts) { f.AffectedTotal = 800 }, nil},
		{"data kinds trimmed, lower-cased and de-duplicated", func(f *incident.Facts) {
			f.Exposed = []incident.DataKind{" Email", "email", "NAME", ""}
		}, func(t *testing.T, f incident.Facts) {
			if got := incident.KindLabels(f.Exposed); got != "Names, Email addresses" {
				t.Errorf("exposed = %q, want %q (vocabulary order)", got, "Names, Email addresses")
			}
		}},
		{"text trimmed", func(f *incident.Facts) { f.WhatHappened = "\n  A leak. \t" }, func(t *testing.T, f incident.Facts) {
			if f.WhatHappened != "A leak." {
				t.Errorf("what_happened = %q", f.WhatHappened)
			}
		}},
		{"text at the limit", func(f *incident.Facts) { f.WhatHappened = strings.Repeat("a", incident.MaxText) }, nil},
		{"time within a minute of now (clock skew)", func(f *incident.Facts) { f.BecameAwareAt = at("2025-06-01T12:00:59Z") }, nil},
		{"times converted to UTC and truncated to the second", func(f *incident.Facts) {
			t := time.Date(2025, 5, 20, 11, 30, 15, 999999999, time.FixedZone("CEST", 2*3600))
			f.DiscoveredAt = &t
		}, func(t *testing.T, f incident.Facts) {
			want := time.Date(2025, 5, 20, 9, 30, 15, 0, time.UTC)
			if !f.DiscoveredAt.Equal(want) || f.DiscoveredAt.Location() != time.UTC {
				t.Errorf("discovered_at = %v, want %v", f.DiscoveredAt, want)
			}
		}},
		{"exposure that is a single moment", func(f *incident.Facts) { f.OccurredTo = f.OccurredFrom }, nil},
		{"plain phone digits", func(f *incident.Facts) { f.Contact.Phone = "0800123456" }, nil},
		{"http URL", func(f *incident.Facts) { f.Contact.URL = "http://example.com" }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := goodFacts()
			tt.edit(&f)
			if err := f.Validate(now); err != nil {
				t.Fatalf("Validate() = %v (fields %v), want nil", err, apperr.Fields(err))
			}
			if tt.check != nil {
				tt.check(t, f)
			}
		})
	}
}

func TestFactsValidateReportsEveryProblem(t *testing.T) {
	f := goodFacts()
	f.Exposed = append(f.Exposed, "telepathy")
	f.AffectedTotal = -1
	f.AffectedBy[1].Code = "XX"
	f.Contact.Email = "nope"
	f.Contact.Phone = "phone"
	f.Contact.URL = "nope"
	f.DiscoveredAt = at("2030-01-01T00:00:00Z")
	f.OccurredTo = at("2020-01-01T00:00:00Z")
	f.WhatHappened = strings.Repeat("x", incident.MaxText+1)

	err := f.Validate(now)
	want := []string{
		"exposed[3]", "affected_total", "affected_by_jurisdiction[1].code",
		"contact.email", "contact.phone", "contact.url", "discovered_at", "occurred_to", "what_happened",
	}
	fields := apperr.Fields(err)
	for _, w := range want {
		if fields[w] == "" {
			t.Errorf("no problem reported for %s", w)
		}
	}
	if len(fields) != len(want) {
		t.Errorf("fields = %v, want exactly %v", fields, want)
	}
	e := apperr.As(err)
	if e == nil || e.Code != apperr.EINVALID {
		t.Fatalf("error = %#v, want an invalid *apperr.Error", err)
	}
	if !strings.Contains(e.Message, "more problems") {
		t.Errorf("summary message %q should say there are more problems", e.Message)
	}
}

func TestFactsValidateJurisdictionSumOverflow(t *testing.T) {
	f := goodFacts()
	f.AffectedTotal = 10
	f.AffectedBy = []incident.Jurisdictional{{Code: "US-CA", Count: math.MaxInt}, {Code: "DE", Count: math.MaxInt}}
	if err := f.Validate(now); apperr.Fields(err)["affected_by_jurisdiction[0].count"] == "" {
		t.Errorf("counts of %d each with a total of 10: Validate() = %v, want the impossible count refused", math.MaxInt, err)
	}
}

func TestFactsValidateTextLimitCountsCharacters(t *testing.T) {
	f := goodFacts()
	f.WhatHappened = strings.Repeat("漏", 15000)
	if err := f.Validate(now); err != nil {
		t.Errorf("15000 characters (limit %d): Validate() = %v, want nil", incident.MaxText, err)
	}
}

func TestFactsValidateIsDeterministic(t *testing.T) {
	// With several oversized texts, the summary error must name the same
	// field every time so that a form highlights a stable field.
	var first string
	for i := 0; i < 50; i++ {
		f := goodFacts()
		f.WhatHappened = strings.Repeat("a", incident.MaxText+1)
		f.CompanyActions = strings.Repeat("a", incident.MaxText+1)
		f.PeopleShould = strings.Repeat("a", incident.MaxText+1)
		got := apperr.As(f.Validate(now)).Field
		if i == 0 {
			first = got
		} else if got != first {
			t.Fatalf("run %d reported %q first, run 0 reported %q", i, got, first)
		}
	}
}

func TestDiff(t *testing.T) {
	base := goodFacts()
	if err := base.Validate(now); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name          string
		edit          func(f *incident.Facts)
		field, label  string
		before, after string
	}{
		{"what happened", func(f *incident.Facts) { f.WhatHappened = "Worse than we thought." }, "what_happened", "What happened", base.WhatHappened, "Worse than we thought."},
		{"discovered at", func(f *incident.Facts) { f.DiscoveredAt = at("2025-05-21T08:00:00Z") }, "discovered_at", "Discovered at", "2025-05-20 09:30 UTC", "2025-05-21 08:00 UTC"},
		{"occurred from cleared", func(f *incident.Facts) { f.OccurredFrom = nil }, "occurred_from", "Exposure began", "2025-05-01 00:00 UTC", ""},
		{"occurred to", func(f *incident.Facts) { f.OccurredTo = at("2025-05-19T23:30:00Z") }, "occurred_to", "Exposure ended", "2025-05-19 23:00 UTC", "2025-05-19 23:30 UTC"},
		{"exposed gains a kind", func(f *incident.Facts) { f.Exposed = append(f.Exposed, "ssn") }, "exposed", "Data exposed",
			"Names, Email addresses, Payment card numbers", "Names, Email addresses, Payment card numbers, Social Security numbers"},
		{"not exposed", func(f *incident.Facts) { f.NotExposed = f.NotExposed[:1] }, "not_exposed", "Data not exposed", "Hashed passwords, Card security codes (CVV)", "Hashed passwords"},
		{"affected total", func(f *incident.Facts) { f.AffectedTotal = 12000 }, "affected_total", "People affected", "1000", "12000"},
		{"jurisdiction count", func(f *incident.Facts) { f.AffectedBy[1].Count = 350 }, "affected_by_jurisdiction", "Affected by jurisdiction", "US-CA: 400, DE: 300, FR-75: 100", "US-CA: 400, DE: 350, FR-75: 100"},
		{"company actions", func(f *incident.Facts) { f.CompanyActions = "More." }, "company_actions", "What we have done", base.CompanyActions, "More."},
		{"people should", func(f *incident.Facts) { f.PeopleShould = "" }, "people_should", "What people should do", base.PeopleShould, ""},
		{"contact email", func(f *incident.Facts) { f.Contact.Email = "help@example.com" }, "contact.email", "Contact email", "security@example.com", "help@example.com"},
		{"contact phone", func(f *incident.Facts) { f.Contact.Phone = "+44 20 7946 0000" }, "contact.phone", "Contact phone", "+1 951 555 0100", "+44 20 7946 0000"},
		{"contact url", func(f *incident.Facts) { f.Contact.URL = "https://example.com/b" }, "contact.url", "Contact web page", "https://example.com/incident", "https://example.com/b"},
		{"became aware set", func(f *incident.Facts) { f.BecameAwareAt = nil }, "became_aware_at", "Became aware at", "2025-05-20 10:00 UTC", ""},
		{"breach determined set", func(f *incident.Facts) { f.BreachDeterminedAt = at("2025-05-22T00:00:00Z") }, "breach_determined_at", "Breach determined at", "", "2025-05-22 00:00 UTC"},
		{"materiality determined set", func(f *incident.Facts) { f.MaterialityDeterminedAt = at("2025-05-23T00:00:00Z") }, "materiality_determined_at", "Materiality determined at", "", "2025-05-23 00:00 UTC"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			after := goodFacts()
			if err := after.Validate(now); err != nil {
				t.Fatal(err)
			}
			tt.edit(&after)
			changes := incident.Diff(base, after)
			if len(changes) != 1 {
				t.Fatalf("Diff = %+v, want exactly one change to %s", changes, tt.field)
			}
			c := changes[0]
			want := incident.Change{Field: tt.field, Label: tt.label, Before: tt.before, After: tt.after}
			if c != want {
				t.Errorf("change = %+v\n          want %+v", c, want)
			}
		})
	}
}

func TestDiffUnchanged(t *testing.T) {
	a, b := goodFacts(), goodFacts()
	if d := incident.Diff(a, b); len(d) != 0 {
		t.Errorf("Diff of equal facts = %+v, want none", d)
	}
	// The same facts typed differently compare equal once validated.
	b.WhatHappened = "  " + b.WhatHappened + "\n"
	b.Exposed = []incident.DataKind{"EMAIL", "name", "card_number", "email"}
	b.AffectedBy[0].Code = "us-ca"
	cest := b.DiscoveredAt.In(time.FixedZone("CEST", 2*3600)).Add(400 * time.Millisecond)
	b.DiscoveredAt = &cest
	if err := a.Validate(now); err != nil {
		t.Fatal(err)
	}
	if err := b.Validate(now); err != nil {
		t.Fatal(err)
	}
	if d := incident.Diff(a, b); len(d) != 0 {
		t.Errorf("Diff of equivalent facts = %+v, want none", d)
	}
	if d := incident.Diff(incident.Facts{}, incident.Facts{}); len(d) != 0 {
		t.Errorf("Diff of empty facts = %+v, want none", d)
	}
}

func TestDiffListsEveryChangedFieldOnceInFormOrder(t *testing.T) {
	a := goodFacts()
	b := goodFacts()
	b.Contact.URL = "https://example.com/other"
	b.WhatHappened = "Other."
	b.AffectedTotal = 5000
	changes := incident.Diff(a, b)
	var got []string
	for _, c := range changes {
		got = append(got, c.Field)
	}
	want := "what_happened,affected_total,contact.url"
	if strings.Join(got, ",") != want {
		t.Errorf("changed fields = %v, want %s", got, want)
	}
}

func TestNormalizeSortsDataKinds(t *testing.T) {
	a, b := goodFacts(), goodFacts()
	b.Exposed = []incident.DataKind{"card_number", "name", "email"}
	a.Normalize()
	b.Normalize()
	if d := incident.Diff(a, b); len(d) != 0 {
		t.Errorf("Diff of the same kinds in another order = %+v, want none", d)
	}
}

func TestKindLabelsAndFormatTime(t *testing.T) {
	if got := incident.KindLabels([]incident.DataKind{"card_number", "email", "made_up"}); got != "Payment card numbers, Email addresses, made_up" {
		t.Errorf("KindLabels = %q", got)
	}
	if got := incident.KindLabels(nil); got != "" {
		t.Errorf("KindLabels(nil) = %q", got)
	}
	if got := incident.FormatTime(nil); got != "" {
		t.Errorf("FormatTime(nil) = %q", got)
	}
	tm := time.Date(2025, 1, 2, 3, 4, 5, 0, time.FixedZone("X", -5*3600))
	if got := incident.FormatTime(&tm); got != "2025-01-02 08:04 UTC" {
		t.Errorf("FormatTime = %q", got)
	}
}

func TestDataKindVocabulary(t *testing.T) {
	seen := map[incident.DataKind]bool{}
	for _, d := range incident.DataKinds {
		if seen[d.Kind] {
			t.Errorf("kind %s listed twice", d.Kind)
		}
		seen[d.Kind] = true
		if !d.Kind.Valid() || d.Kind.Label() != d.Label || d.Label == "" {
			t.Errorf("kind %s: Valid=%v Label=%q", d.Kind, d.Kind.Valid(), d.Kind.Label())
		}
		if string(d.Kind) != strings.ToLower(strings.TrimSpace(string(d.Kind))) {
			t.Errorf("kind %q is not in normal form", d.Kind)
		}
	}
	if incident.DataKind("Email").Valid() {
		t.Error("kinds are case-sensitive before normalisation")
	}
}

func TestValidatedFactsCanBeStored(t *testing.T) {
	// The store keeps facts as JSON: whatever Validate accepts must marshal.
	var f incident.Facts
	if err := json.Unmarshal([]byte(`{"occurred_from":"0000-01-01T00:00:00+01:00"}`), &f); err != nil {
		t.Fatal(err)
	}
	if err := f.Validate(now); err != nil {
		return // refusing such a time is fine too
	}
	if _, err := json.Marshal(f); err != nil {
		t.Errorf("Validate accepted facts that cannot be stored: %v", err)
	}
}
