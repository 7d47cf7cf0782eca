// Package status owns the vocabulary of the public side: updates on the
// status page, the services (components) an incident affects, the quiet
// period, and the Snapshot — the whole public state at one moment, from
// which every public page, feed and JSON document is rendered. It holds no
// storage and no HTTP.
package status

import (
	"html/template"
	"strings"
	"time"

	"github.com/candorhq/candor/internal/incident"
)

// Update is one entry of an incident's public timeline.
type Update struct {
	ID         int64
	IncidentID int64
	// Status is the incident's state as this update announces it.
	Status incident.State
	// Body is the update in Markdown, in the page's default language.
	Body string
	// WhatToDo is what readers should do, in Markdown; the status page
	// shows the newest non-empty one in a box that stands out.
	WhatToDo string
	// Translations are the body and what-to-do in other languages, by
	// BCP 47 tag ("fr", "de-CH").
	Translations map[string]Text
	// DisplayAt is the time the page shows (it may be backdated).
	DisplayAt time.Time
	// PublishAt is when the update becomes public (later than now: it is
	// scheduled).
	PublishAt time.Time
	// Notify asks for the update to be sent to subscribers (email and
	// webhooks) when it is published.
	Notify bool
	// Edited is set once the text was changed after publication; the old
	// texts are in Revisions, oldest first.
	Edited    bool
	Revisions []Revision
	Author    string
	AuthorID  int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Text is an update's words in one language.
type Text struct {
	Body     string `json:"body"`
	WhatToDo string `json:"what_to_do,omitempty"`
}

// Revision is a text an update showed before it was edited.
type Revision struct {
	Text
	Translations map[string]Text `json:"translations,omitempty"`
	Editor       string          `json:"editor"`
	Reason       string          `json:"reason"`
	ReplacedAt   time.Time       `json:"replaced_at"`
}

// Published reports whether u is public at now.
func (u Update) Published(now time.Time) bool { return !u.PublishAt.After(now) }

// In returns u's text in locale, falling back to its base language ("fr"
// for "fr-CA") and then to the default text; the second result is the
// locale chosen ("" for the default).
func (u Update) In(locale string) (Text, string) {
	for _, l := range []string{locale, BaseLanguage(locale)} {
		if t, ok := u.Translations[l]; ok && l != "" {
			if t.WhatToDo == "" {
				t.WhatToDo = u.WhatToDo
			}
			return t, l
		}
	}
	return Text{Body: u.Body, WhatToDo: u.WhatToDo}, ""
}

// BaseLanguage returns the language of a BCP 47 tag ("fr" for "fr-CA").
func BaseLanguage(tag string) string {
	base, _, _ := strings.Cut(strings.ToLower(tag), "-")
	return base
}

// ComponentStatus is how a service is doing, in Statuspage's vocabulary.
type ComponentStatus string

const (
	Operational         ComponentStatus = "operational"
	DegradedPerformance ComponentStatus = "degraded_performance"
	PartialOutage       ComponentStatus = "partial_outage"
	MajorOutage         ComponentStatus = "major_outage"
	UnderMaintenance    ComponentStatus = "under_maintenance"
)

// ComponentStatuses lists every status from best to worst.
var ComponentStatuses = []ComponentStatus{Operational, UnderMaintenance, DegradedPerformance, PartialOutage, MajorOutage}

// Valid reports whether s is a known status.
func (s ComponentStatus) Valid() bool { return s.rank() >= 0 }

func (s ComponentStatus) rank() int {
	for i, v := range ComponentStatuses {
		if v == s {
			return i
		}
	}
	return -1
}

// Label is the human name of s.
func (s ComponentStatus) Label() string {
	switch s {
	case Operational:
		return "Operational"
	case DegradedPerformance:
		return "Degraded performance"
	case PartialOutage:
		return "Partial outage"
	case MajorOutage:
		return "Major outage"
	case UnderMaintenance:
		return "Under maintenance"
	}
	return string(s)
}

// Worse returns the worse of a and b.
func Worse(a, b ComponentStatus) ComponentStatus {
	if b.rank() > a.rank() {
		return b
	}
	return a
}

// Component is a service of the company that an incident can affect
// ("Customer login", "Email").
type Component struct {
	ID          int64
	Name        string
	Description string
	Position    int
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Affected is a component as one incident affects it.
type Affected struct {
	Component
	Status ComponentStatus
}

// StatuspageStatus maps an incident state onto Statuspage's incident
// status: contained reads as monitoring, closed as postmortem.
func StatuspageStatus(s incident.State) string {
	switch s {
	case incident.Contained:
		return "monitoring"
	case incident.Closed:
		return "postmortem"
	}
	return string(s)
}

// Impact maps a severity onto Statuspage's impact (none, minor, major,
// critical).
func Impact(s incident.Severity) string {
	switch s {
	case incident.Low, incident.Medium:
		return "minor"
	case incident.High:
		return "major"
	case incident.Critical:
		return "critical"
	}
	return "none"
}

// DefaultComponentStatus is the status an affected component gets from an
// open incident's severity unless someone sets another.
func DefaultComponentStatus(s incident.Severity) ComponentStatus {
	switch Impact(s) {
	case "critical":
		return MajorOutage
	case "major":
		return PartialOutage
	}
	return DegradedPerformance
}

// Indicator is the page's overall state: Statuspage's status indicator
// and its description.
type Indicator struct {
	Indicator   string // none, minor, major, critical
	Description string
}

var impactRank = map[string]int{"none": 0, "minor": 1, "major": 2, "critical": 3}

var indicatorText = map[string]string{
	"none":     "All Systems Operational",
	"minor":    "Minor Service Outage",
	"major":    "Partial System Outage",
	"critical": "Major Service Outage",
}

// Open reports whether an incident in state s is still going on (not yet
// resolved or closed).
func Open(s incident.State) bool { return s != incident.Resolved && s != incident.Closed }

// Document is an approved notice published on the status page (the
// website Q&A, a press statement), rendered for one incident.
type Document struct {
	NoticeID int64
	Title    string
	HTML     template.HTML
	// PublishedAt is when its release published it.
	PublishedAt time.Time
}

// Incident is an incident as the public sees it: only what was published.
type Incident struct {
	ID       int64
	Title    string
	State    incident.State
	Severity incident.Severity
	// StartedAt is the display time of its first published update;
	// CreatedAt when that update was published.
	StartedAt    time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
	MonitoringAt *time.Time
	ResolvedAt   *time.Time
	// Updates are the published updates, newest first (by display time).
	Updates    []Update
	Components []Affected
	Documents  []Document
	// Contact is where people reach the company about this incident.
	Contact incident.Contact
}

// Open reports whether the incident is still going on.
func (in Incident) Open() bool { return Open(in.State) }

// Latest is the newest published update.
func (in Incident) Latest() Update {
	if len(in.Updates) == 0 {
		return Update{}
	}
	return in.Updates[0]
}

// WhatToDo is the newest non-empty what-to-do text in locale.
func (in Incident) WhatToDo(locale string) string {
	for _, u := range in.Updates {
		if t, _ := u.In(locale); strings.TrimSpace(t.WhatToDo) != "" {
			return t.WhatToDo
		}
	}
	return ""
}

// Page is the status page's identity.
type Page struct {
	// ID is a stable opaque identifier (Statuspage's page_id).
	ID   string
	Name string
	// URL is the public address of the status page, without a trailing
	// slash ("https://status.example.com" or "http://127.0.0.1:8080/status").
	URL string
	// Locales are the languages the page offers besides its default.
	DefaultLocale string
	Locales       []string
}

// Quiet is the quiet period: while it is active, marketing holds
// promotional messages.
type Quiet struct {
	Active bool
	Since  *time.Time
	Reason string
	// By is who switched it on ("" when a public incident did).
	By string
	// Manual is set when an admin switched it on by hand.
	Manual bool
}

// Snapshot is the whole public state at one moment. It is built once per
// change and never modified, so handlers can share it without locks.
type Snapshot struct {
	Page Page
	// UpdatedAt is the time of the newest public change.
	UpdatedAt time.Time
	// BuiltAt is when the snapshot was made.
	BuiltAt time.Time
	// Incidents are every public incident, open first, then newest first.
	Incidents  []Incident
	Components []Affected // every component with its current status
	Quiet      Quiet
}

// Open returns the incidents still going on.
func (s *Snapshot) Open() []Incident {
	var out []Incident
	for _, in := range s.Incidents {
		if in.Open() {
			out = append(out, in)
		}
	}
	return out
}

// Past returns the resolved and closed incidents.
func (s *Snapshot) Past() []Incident {
	var out []Incident
	for _, in := range s.Incidents {
		if !in.Open() {
			out = append(out, in)
		}
	}
	return out
}

// Incident returns the public incident with id.
func (s *Snapshot) Incident(id int64) (Incident, bool) {
	for _, in := range s.Incidents {
		if in.ID == id {
			return in, true
		}
	}
	return Incident{}, false
}

// Indicator is the page's overall state: the worst impact among open
// incidents.
func (s *Snapshot) Indicator() Indicator {
	worst := "none"
	for _, in := range s.Open() {
		if i := Impact(in.Severity); impactRank[i] > impactRank[worst] {
			worst = i
		}
	}
	return Indicator{Indicator: worst, Description: indicatorText[worst]}
}

// ComponentsOf returns every component with the worst status the open
// incidents give it (operational when none affects it).
func ComponentsOf(all []Component, incidents []Incident) []Affected {
	out := make([]Affected, len(all))
	for i, c := range all {
		out[i] = Affected{Component: c, Status: Operational}
		for _, in := range incidents {
			if !in.Open() {
				continue
			}
			for _, a := range in.Components {
				if a.ID == c.ID {
					out[i].Status = Worse(out[i].Status, a.Status)
				}
			}
		}
	}
	return out
}
