package web

import (
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/incident"
	"github.com/candorhq/candor/internal/store"
)

// Values of a data kind's radio group.
const (
	kindExposed    = "exposed"
	kindNotExposed = "not_exposed"
	kindUnknown    = "unknown"
)

// factsForm is the facts editor's state, as text exactly as typed, so a
// refused save shows the person what they wrote.
type factsForm struct {
	BaseVersion int

	WhatHappened string
	DiscoveredAt string
	OccurredFrom string
	OccurredTo   string

	Kinds []kindRow

	AffectedTotal string
	AffectedBy    string // one "CODE COUNT" per line

	CompanyActions string
	PeopleShould   string
	ContactEmail   string
	ContactPhone   string
	ContactURL     string

	BecameAwareAt           string
	BreachDeterminedAt      string
	MaterialityDeterminedAt string

	Reason string
}

type kindRow struct {
	Kind   incident.DataKind
	Label  string
	Status string
}

// factsOrder is the order of the fields in the form, for the error summary.
var factsOrder = []string{"what_happened", "discovered_at", "occurred_from", "occurred_to", "kinds",
	"affected_total", "affected_by_jurisdiction", "company_actions", "people_should",
	"contact.email", "contact.phone", "contact.url",
	"became_aware_at", "breach_determined_at", "materiality_determined_at", "reason"}

func formFromFacts(v incident.Version) factsForm {
	f := v.Facts
	ff := factsForm{
		BaseVersion:             v.Version,
		WhatHappened:            f.WhatHappened,
		DiscoveredAt:            formatDateTime(f.DiscoveredAt),
		OccurredFrom:            formatDateTime(f.OccurredFrom),
		OccurredTo:              formatDateTime(f.OccurredTo),
		CompanyActions:          f.CompanyActions,
		PeopleShould:            f.PeopleShould,
		ContactEmail:            f.Contact.Email,
		ContactPhone:            f.Contact.Phone,
		ContactURL:              f.Contact.URL,
		BecameAwareAt:           formatDateTime(f.BecameAwareAt),
		BreachDeterminedAt:      formatDateTime(f.BreachDeterminedAt),
		MaterialityDeterminedAt: formatDateTime(f.MaterialityDeterminedAt),
	}
	if f.AffectedTotal != 0 {
		ff.AffectedTotal = strconv.Itoa(f.AffectedTotal)
	}
	var lines []string
	for _, j := range f.AffectedBy {
		lines = append(lines, fmt.Sprintf("%s %d", j.Code, j.Count))
	}
	ff.AffectedBy = strings.Join(lines, "\n")
	status := map[incident.DataKind]string{}
	for _, k := range f.Exposed {
		status[k] = kindExposed
	}
	for _, k := range f.NotExposed {
		status[k] = kindNotExposed
	}
	for _, d := range incident.DataKinds {
		s := status[d.Kind]
		if s == "" {
			s = kindUnknown
		}
		ff.Kinds = append(ff.Kinds, kindRow{d.Kind, d.Label, s})
	}
	return ff
}

// parseFactsForm reads the posted form. It returns the facts it could read
// and the problems only the form can have (a malformed number, date or
// jurisdiction line); lines maps each jurisdiction entry to its line number.
func parseFactsForm(r *http.Request) (ff factsForm, f incident.Facts, lines []int, errs formErrors) {
	v := r.PostFormValue
	ff = factsForm{
		WhatHappened: v("what_happened"), DiscoveredAt: v("discovered_at"), OccurredFrom: v("occurred_from"), OccurredTo: v("occurred_to"),
		AffectedTotal: v("affected_total"), AffectedBy: v("affected_by_jurisdiction"),
		CompanyActions: v("company_actions"), PeopleShould: v("people_should"),
		ContactEmail: v("contact.email"), ContactPhone: v("contact.phone"), ContactURL: v("contact.url"),
		BecameAwareAt: v("became_aware_at"), BreachDeterminedAt: v("breach_determined_at"), MaterialityDeterminedAt: v("materiality_determined_at"),
		Reason: v("reason"),
	}
	ff.BaseVersion, _ = strconv.Atoi(v("base_version"))
	f = incident.Facts{
		WhatHappened: ff.WhatHappened, CompanyActions: ff.CompanyActions, PeopleShould: ff.PeopleShould,
		Contact: incident.Contact{Email: ff.ContactEmail, Phone: ff.ContactPhone, URL: ff.ContactURL},
	}
	for _, t := range []struct {
		field string
		text  string
		dst   **time.Time
	}{
		{"discovered_at", ff.DiscoveredAt, &f.DiscoveredAt},
		{"occurred_from", ff.OccurredFrom, &f.OccurredFrom},
		{"occurred_to", ff.OccurredTo, &f.OccurredTo},
		{"became_aware_at", ff.BecameAwareAt, &f.BecameAwareAt},
		{"breach_determined_at", ff.BreachDeterminedAt, &f.BreachDeterminedAt},
		{"materiality_determined_at", ff.MaterialityDeterminedAt, &f.MaterialityDeterminedAt},
	} {
		tm, err := parseDateTime(t.text)
		if err != nil {
			errs.add(t.field, err.Error())
			continue
		}
		*t.dst = tm
	}
	for _, d := range incident.DataKinds {
		s := v("kind." + string(d.Kind))
		switch s {
		case kindExposed:
			f.Exposed = append(f.Exposed, d.Kind)
		case kindNotExposed:
			f.NotExposed = append(f.NotExposed, d.Kind)
		default:
			s = kindUnknown
		}
		ff.Kinds = append(ff.Kinds, kindRow{d.Kind, d.Label, s})
	}
	if s := strings.TrimSpace(ff.AffectedTotal); s != "" {
		n, err := parseCount(s)
		if err != nil {
			errs.add("affected_total", "write the number of people as a whole number, e.g. 15000")
		}
		f.AffectedTotal = n
	}
	f.AffectedBy, lines = parseJurisdictions(ff.AffectedBy, &errs)
	return ff, f, lines, errs
}

var lineSep = regexp.MustCompile(`[\s:=;]+`)

// parseJurisdictions reads one "CODE COUNT" per line ("US-CA 14210"; a colon
// or equals sign also separates them), skipping blank lines, and reports each
// bad line by its number.
func parseJurisdictions(text string, errs *formErrors) ([]incident.Jurisdictional, []int) {
	var out []incident.Jurisdictional
	var lines []int
	for i, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		parts := lineSep.Split(line, -1)
		if len(parts) != 2 {
			errs.add("affected_by_jurisdiction", fmt.Sprintf("Line %d (%q): write a jurisdiction code and a number, e.g. US-CA 14210.", i+1, line))
			continue
		}
		n, err := parseCount(parts[1])
		if err != nil {
			errs.add("affected_by_jurisdiction", fmt.Sprintf("Line %d (%q): %q is not a whole number of people.", i+1, line, parts[1]))
			continue
		}
		out = append(out, incident.Jurisdictional{Code: strings.TrimSuffix(parts[0], ","), Count: n})
		lines = append(lines, i+1)
	}
	return out, lines
}

// parseCount reads a whole number, allowing thousands separators ("14,210").
func parseCount(s string) (int, error) {
	s = strings.NewReplacer(",", "", "_", "", "\u00a0", "", "\u202f", "").Replace(s)
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, errors.New("not a whole number")
	}
	return n, nil
}

// datetime-local inputs send "2006-01-02T15:04" (with ":05" seconds when the
// step allows); browsers without the input type show a text box, where people
// type a space instead of the T.
var dateTimeLayouts = []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02 15:04:05"}

// parseDateTime reads a form date and time as UTC; "" is no time.
func parseDateTime(s string) (*time.Time, error) {
	s = strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "UTC"))
	if s == "" {
		return nil, nil
	}
	for _, l := range dateTimeLayouts {
		if t, err := time.ParseInLocation(l, s, time.UTC); err == nil {
			return &t, nil
		}
	}
	return nil, fmt.Errorf("%q is not a date and time; write it as 2024-03-01 14:30 (UTC)", s)
}

func formatDateTime(t *time.Time) string {
	if t == nil {
		return ""
	}
	u := t.UTC()
	if u.Second() != 0 {
		return u.Format("2006-01-02T15:04:05")
	}
	return u.Format("2006-01-02T15:04")
}

type factsPage struct {
	Incident incident.Incident
	Form     factsForm
	Errors   formErrors
	Conflict *store.ConflictDetail
	// ConflictMessage explains a conflict the store reported without detail.
	ConflictMessage string
}

func (h *handler) editFacts(w http.ResponseWriter, r *http.Request) {
	p, id, ok := h.editing(w, r, false, "change the facts")
	if !ok {
		return
	}
	in, err := h.svc.Incident(r.Context(), p, id)
	if err != nil {
		h.fail(w, r, err, "see incidents")
		return
	}
	v, err := h.svc.Facts(r.Context(), p, id, 0)
	if err != nil {
		h.fail(w, r, err, "see incidents")
		return
	}
	h.render(w, r, http.StatusOK, "facts_edit", page{Title: "Edit the facts: " + in.Title, Nav: "incidents", Data: factsPage{Incident: in, Form: formFromFacts(v)}})
}

func (h *handler) saveFacts(w http.ResponseWriter, r *http.Request) {
	p, ok := h.action(w, r)
	if !ok {
		return
	}
	id, ok := h.pathID(w, r, "id")
	if !ok {
		return
	}
	ff, f, lines, errs := parseFactsForm(r)
	var v incident.Version
	var err error
	if errs.Has() {
		// Show every problem at once: what the form could not read, and
		// what validation says about the rest.
		if !p.Role.Can(auth.EditIncident) {
			h.forbidden(w, r, "change the facts")
			return
		}
		err = f.Validate(h.svc.Now())
		if strings.TrimSpace(ff.Reason) == "" {
			errs.add("reason", "say why the facts changed (e.g. \"forensics confirmed expiry dates were taken\"); the history shows it")
		}
	} else {
		v, err = h.svc.SaveFacts(r.Context(), p, id, ff.BaseVersion, f, ff.Reason)
	}
	d := factsPage{Form: ff}
	status := http.StatusUnprocessableEntity
	switch apperr.Code(err) {
	case "", apperr.EINVALID:
		for _, e := range apperr.Flatten(err) {
			field, msg := e.Field, e.Message
			switch {
			case strings.HasPrefix(field, "exposed[") || strings.HasPrefix(field, "not_exposed["):
				field = "kinds"
			case strings.HasPrefix(field, "affected_by_jurisdiction["):
				var i int
				fmt.Sscanf(field, "affected_by_jurisdiction[%d]", &i)
				if i >= 0 && i < len(lines) {
					msg = fmt.Sprintf("Line %d: %s", lines[i], msg)
				}
				field = "affected_by_jurisdiction"
			case field == "facts" || field == "base_version":
				field = "" // about the whole form: the summary shows it
			}
			errs.add(field, msg)
		}
	case apperr.ECONFLICT:
		status = http.StatusConflict
		d.ConflictMessage = upperFirst(apperr.Message(err)) + "."
		if cd, ok := apperr.As(err).Detail.(*store.ConflictDetail); ok {
			d.Conflict = cd
			// Saving again is now a decision made with their change in view.
			d.Form.BaseVersion = cd.CurrentVersion
		}
	default:
		h.fail(w, r, err, "change the facts")
		return
	}
	if errs.Has() || d.ConflictMessage != "" {
		if d.Incident, err = h.svc.Incident(r.Context(), p, id); err != nil {
			h.fail(w, r, err, "see incidents")
			return
		}
		errs.sortSummary(factsOrder)
		d.Errors = errs
		h.render(w, r, status, "facts_edit", page{Title: "Edit the facts: " + d.Incident.Title, Nav: "incidents", Data: d})
		return
	}
	h.redirect(w, r, fmt.Sprintf("/incidents/%d", id), "ok", fmt.Sprintf("Saved facts version %d.", v.Version))
}
