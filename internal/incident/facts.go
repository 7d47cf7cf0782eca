package incident

import (
	"fmt"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/candorhq/candor/internal/apperr"
)

// Facts is the structured truth of an incident at one moment. Every notice
// draws its facts from here, so a correction is a new version and the history
// shows what was believed when. The JSON form is what the API speaks and what
// the store keeps.
type Facts struct {
	WhatHappened string     `json:"what_happened"`
	DiscoveredAt *time.Time `json:"discovered_at"`
	OccurredFrom *time.Time `json:"occurred_from"`
	OccurredTo   *time.Time `json:"occurred_to"`

	Exposed    []DataKind `json:"exposed"`
	NotExposed []DataKind `json:"not_exposed"`

	AffectedTotal int              `json:"affected_total"`
	AffectedBy    []Jurisdictional `json:"affected_by_jurisdiction"`

	CompanyActions string  `json:"company_actions"`
	PeopleShould   string  `json:"people_should"`
	Contact        Contact `json:"contact"`

	// The moments breach-notification laws count their deadlines from.
	BecameAwareAt           *time.Time `json:"became_aware_at"`
	BreachDeterminedAt      *time.Time `json:"breach_determined_at"`
	MaterialityDeterminedAt *time.Time `json:"materiality_determined_at"`
}

// Jurisdictional is the number of affected people in one jurisdiction.
type Jurisdictional struct {
	Code  string `json:"code"` // ISO 3166-1 alpha-2 or ISO 3166-2
	Count int    `json:"count"`
}

// Contact is where people reach the company about the incident.
type Contact struct {
	Email string `json:"email"`
	Phone string `json:"phone"`
	URL   string `json:"url"`
}

// Version is one saved state of an incident's facts.
type Version struct {
	IncidentID int64
	Version    int
	Facts      Facts
	Reason     string
	AuthorID   int64
	Author     string // the author's email, for display
	CreatedAt  time.Time
}

// Limits on free text (in characters), so one field cannot fill the
// database, and on counts of people, so sums cannot overflow.
const (
	MaxText   = 20000
	MaxReason = 2000
	MaxPeople = 10_000_000_000
)

var phoneShape = regexp.MustCompile(`^\+?[0-9][0-9 ()./-]{5,30}$`)

// Normalize trims text, upper-cases jurisdiction codes, sorts and
// de-duplicates data kinds, and converts times to UTC, so that equal facts
// compare equal.
func (f *Facts) Normalize() {
	f.WhatHappened = strings.TrimSpace(f.WhatHappened)
	f.CompanyActions = strings.TrimSpace(f.CompanyActions)
	f.PeopleShould = strings.TrimSpace(f.PeopleShould)
	f.Contact.Email = strings.TrimSpace(f.Contact.Email)
	f.Contact.Phone = strings.TrimSpace(f.Contact.Phone)
	f.Contact.URL = strings.TrimSpace(f.Contact.URL)
	f.Exposed = normKinds(f.Exposed)
	f.NotExposed = normKinds(f.NotExposed)
	for i := range f.AffectedBy {
		f.AffectedBy[i].Code = NormalizeJurisdiction(f.AffectedBy[i].Code)
	}
	for _, t := range []**time.Time{&f.DiscoveredAt, &f.OccurredFrom, &f.OccurredTo, &f.BecameAwareAt, &f.BreachDeterminedAt, &f.MaterialityDeterminedAt} {
		if *t != nil {
			u := (**t).UTC().Truncate(time.Second)
			*t = &u
		}
	}
}

// normKinds lower-cases, de-duplicates and sorts kinds into vocabulary
// order (unknown kinds last, alphabetically), so that the same set always
// reads, compares and diffs the same.
func normKinds(ks []DataKind) []DataKind {
	out := make([]DataKind, 0, len(ks))
	for _, k := range ks {
		k = DataKind(strings.ToLower(strings.TrimSpace(string(k))))
		if k != "" && !slices.Contains(out, k) {
			out = append(out, k)
		}
	}
	slices.SortStableFunc(out, func(a, b DataKind) int {
		ia, ib := kindOrder(a), kindOrder(b)
		if ia != ib {
			return ia - ib
		}
		return strings.Compare(string(a), string(b))
	})
	return out
}

func kindOrder(k DataKind) int {
	for i, d := range DataKinds {
		if d.Kind == k {
			return i
		}
	}
	return len(DataKinds)
}

// Validate normalizes f and checks it; now is the current time, so that no
// moment may lie in the future. The error lists every problem, each naming
// its field.
func (f *Facts) Validate(now time.Time) error {
	// Data kinds are checked in the order the person wrote them, so that
	// "exposed[2]" points at their third entry, not at a sorted position.
	rawExposed, rawNotExposed := slices.Clone(f.Exposed), slices.Clone(f.NotExposed)
	f.Normalize()
	var errs apperr.List
	add := func(field, format string, args ...any) {
		errs = append(errs, apperr.Invalid(field, format, args...))
	}
	for _, t := range []struct{ field, text string }{
		{"what_happened", f.WhatHappened}, {"company_actions", f.CompanyActions}, {"people_should", f.PeopleShould},
	} {
		if n := utf8.RuneCountInString(t.text); n > MaxText {
			add(t.field, "this text is %d characters; keep it under %d", n, MaxText)
		}
	}
	for i, k := range rawExposed {
		k = DataKind(strings.ToLower(strings.TrimSpace(string(k))))
		if k != "" && !k.Valid() {
			add(fmt.Sprintf("exposed[%d]", i), "unknown data kind %q; use one of the listed kinds (e.g. card_number, email, password_hash)", k)
		}
	}
	for i, k := range rawNotExposed {
		k = DataKind(strings.ToLower(strings.TrimSpace(string(k))))
		if k == "" {
			continue
		}
		if !k.Valid() {
			add(fmt.Sprintf("not_exposed[%d]", i), "unknown data kind %q; use one of the listed kinds (e.g. card_number, email, password_hash)", k)
		} else if slices.Contains(f.Exposed, k) {
			add(fmt.Sprintf("not_exposed[%d]", i), "%s is listed as both exposed and not exposed", k.Label())
		}
	}
	switch {
	case f.AffectedTotal < 0:
		add("affected_total", "the number of people affected cannot be negative")
	case f.AffectedTotal > MaxPeople:
		add("affected_total", "%d is more people than exist; check the number", f.AffectedTotal)
	}
	sum := 0
	seen := map[string]bool{}
	for i, j := range f.AffectedBy {
		field := fmt.Sprintf("affected_by_jurisdiction[%d]", i)
		switch {
		case !ValidJurisdiction(j.Code):
			add(field+".code", "unknown jurisdiction %q; use an ISO 3166-1 country code (DE) or an ISO 3166-2 subdivision (US-CA)", j.Code)
		case seen[j.Code]:
			add(field+".code", "jurisdiction %s is listed twice", j.Code)
		}
		seen[j.Code] = true
		switch {
		case j.Count < 0:
			add(field+".count", "the number of people affected in %s cannot be negative", j.Code)
		case j.Count > MaxPeople:
			add(field+".count", "%d is more people than exist; check the number", j.Count)
		default:
			sum += j.Count
		}
	}
	if f.AffectedTotal > 0 && sum > f.AffectedTotal {
		add("affected_total", "the per-jurisdiction counts add up to %d, more than the total of %d", sum, f.AffectedTotal)
	}
	if e := f.Contact.Email; e != "" {
		if a, err := mail.ParseAddress(e); err != nil || a.Address != e {
			add("contact.email", "%q is not an email address; write it as name@example.com", e)
		}
	}
	if p := f.Contact.Phone; p != "" && !phoneShape.MatchString(p) {
		add("contact.phone", "%q is not a phone number; write it with digits, e.g. +1 951 555 0100", p)
	}
	if u := f.Contact.URL; u != "" {
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" {
			add("contact.url", "%q is not a web address; write it in full, starting with https://", u)
		}
	}
	times := []struct {
		field string
		t     *time.Time
	}{
		{"discovered_at", f.DiscoveredAt}, {"occurred_from", f.OccurredFrom}, {"occurred_to", f.OccurredTo},
		{"became_aware_at", f.BecameAwareAt}, {"breach_determined_at", f.BreachDeterminedAt}, {"materiality_determined_at", f.MaterialityDeterminedAt},
	}
	for _, x := range times {
		switch {
		case x.t == nil:
		case x.t.After(now.Add(time.Minute)):
			add(x.field, "%s is in the future; record when it actually happened", x.t.Format("2006-01-02 15:04 MST"))
		case x.t.Year() < 1970:
			add(x.field, "%s is before 1970; check the year", x.t.Format("2006-01-02"))
		}
	}
	if f.OccurredFrom != nil && f.OccurredTo != nil && f.OccurredTo.Before(*f.OccurredFrom) {
		add("occurred_to", "the end of the exposure is before its start")
	}
	return errs.Err()
}

// Change is one field that differs between two versions of the facts.
type Change struct {
	Field  string `json:"field"`
	Label  string `json:"label"`
	Before string `json:"before"`
	After  string `json:"after"`
}

// Diff lists the fields that differ from a to b, in form order, rendered as
// text a person can read ("Payment card numbers, Email addresses").
func Diff(a, b Facts) []Change {
	ra, rb := a.fields(), b.fields()
	var out []Change
	for i := range ra {
		if ra[i].value != rb[i].value {
			out = append(out, Change{Field: ra[i].field, Label: ra[i].label, Before: ra[i].value, After: rb[i].value})
		}
	}
	return out
}

type fieldText struct{ field, label, value string }

// fields renders every fact as display text, in form order.
func (f Facts) fields() []fieldText {
	return []fieldText{
		{"what_happened", "What happened", f.WhatHappened},
		{"discovered_at", "Discovered at", FormatTime(f.DiscoveredAt)},
		{"occurred_from", "Exposure began", FormatTime(f.OccurredFrom)},
		{"occurred_to", "Exposure ended", FormatTime(f.OccurredTo)},
		{"exposed", "Data exposed", KindLabels(f.Exposed)},
		{"not_exposed", "Data not exposed", KindLabels(f.NotExposed)},
		{"affected_total", "People affected", strconv.Itoa(f.AffectedTotal)},
		{"affected_by_jurisdiction", "Affected by jurisdiction", jurisdictionText(f.AffectedBy)},
		{"company_actions", "What we have done", f.CompanyActions},
		{"people_should", "What people should do", f.PeopleShould},
		{"contact.email", "Contact email", f.Contact.Email},
		{"contact.phone", "Contact phone", f.Contact.Phone},
		{"contact.url", "Contact web page", f.Contact.URL},
		{"became_aware_at", "Became aware at", FormatTime(f.BecameAwareAt)},
		{"breach_determined_at", "Breach determined at", FormatTime(f.BreachDeterminedAt)},
		{"materiality_determined_at", "Materiality determined at", FormatTime(f.MaterialityDeterminedAt)},
	}
}

// FormatTime renders an optional time in UTC, or "" when unset.
func FormatTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// KindLabels renders data kinds as a comma-separated list of labels.
func KindLabels(ks []DataKind) string {
	parts := make([]string, len(ks))
	for i, k := range ks {
		parts[i] = k.Label()
	}
	return strings.Join(parts, ", ")
}

func jurisdictionText(js []Jurisdictional) string {
	parts := make([]string, len(js))
	for i, j := range js {
		parts[i] = fmt.Sprintf("%s: %d", j.Code, j.Count)
	}
	return strings.Join(parts, ", ")
}
