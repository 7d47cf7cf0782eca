// Package incident owns the vocabulary of a breach: incidents, their states
// and the moves between them, and the versioned facts every message draws
// from. It holds no storage and no HTTP: package store persists these types.
package incident

import (
	"strings"
	"time"

	"github.com/candorhq/candor/internal/apperr"
)

// State is where an incident stands.
type State string

const (
	Investigating State = "investigating"
	Identified    State = "identified"
	Contained     State = "contained"
	Resolved      State = "resolved"
	Closed        State = "closed"
)

// States lists every state in lifecycle order.
var States = []State{Investigating, Identified, Contained, Resolved, Closed}

var stateLabels = map[State]string{
	Investigating: "Investigating",
	Identified:    "Identified",
	Contained:     "Contained",
	Resolved:      "Resolved",
	Closed:        "Closed",
}

// Label is the human name of the state.
func (s State) Label() string { return stateLabels[s] }

// Valid reports whether s is a known state.
func (s State) Valid() bool { _, ok := stateLabels[s]; return ok }

// moves lists the allowed transitions. An incident may skip forward (a leak
// found already contained goes straight to contained) and may step back when
// new findings reopen it, but a closed incident stays closed: closing comes
// after the post-incident report.
var moves = map[State][]State{
	Investigating: {Identified, Contained, Resolved},
	Identified:    {Investigating, Contained, Resolved},
	Contained:     {Identified, Resolved},
	Resolved:      {Contained, Closed},
	Closed:        {},
}

// NextStates returns the states an incident in s may move to.
func (s State) NextStates() []State { return moves[s] }

// CheckMove returns an EINVALID error explaining why from → to is refused.
func CheckMove(from, to State) error {
	if !to.Valid() {
		return apperr.Invalid("state", "unknown state %q; use one of %s", to, stateList(States))
	}
	if from == to {
		return apperr.Invalid("state", "the incident is already %s", from)
	}
	for _, s := range moves[from] {
		if s == to {
			return nil
		}
	}
	if from == Closed {
		return apperr.Invalid("state", "a closed incident cannot be reopened; open a new incident instead")
	}
	return apperr.Invalid("state", "cannot move from %s to %s; from %s the incident can move to %s", from, to, from, stateList(moves[from]))
}

func stateList(ss []State) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = string(s)
	}
	return strings.Join(parts, ", ")
}

// Severity ranks an incident's impact.
type Severity string

const (
	Low      Severity = "low"
	Medium   Severity = "medium"
	High     Severity = "high"
	Critical Severity = "critical"
)

// Severities lists every severity from least to most severe.
var Severities = []Severity{Low, Medium, High, Critical}

// Valid reports whether s is a known severity.
func (s Severity) Valid() bool {
	for _, v := range Severities {
		if v == s {
			return true
		}
	}
	return false
}

// Incident is one breach or security event.
type Incident struct {
	ID           int64
	Title        string
	State        State
	Severity     Severity
	FactsVersion int // the current facts version; 0 before any facts are saved
	CreatedBy    int64
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// New is the input to open an incident.
type New struct {
	Title    string
	Severity Severity
	Facts    Facts
}

// MaxTitle is the longest accepted title, in characters.
const MaxTitle = 200

// Validate checks the input; now is the current time.
func (n *New) Validate(now time.Time) error {
	n.Title = strings.TrimSpace(n.Title)
	var errs apperr.List
	if err := ValidateTitle(n.Title); err != nil {
		errs = append(errs, err.(*apperr.Error))
	}
	if n.Severity == "" {
		n.Severity = High
	}
	if !n.Severity.Valid() {
		errs = append(errs, apperr.Invalid("severity", "unknown severity %q; use low, medium, high or critical", n.Severity))
	}
	if err := n.Facts.Validate(now); err != nil {
		if l, ok := apperr.As(err).Detail.(apperr.List); ok {
			errs = append(errs, l...)
		} else {
			errs = append(errs, apperr.As(err))
		}
	}
	return errs.Err()
}

// ValidateTitle checks an incident title.
func ValidateTitle(title string) error {
	switch {
	case strings.TrimSpace(title) == "":
		return apperr.Invalid("title", "a title is required, e.g. \"Customer card numbers exposed\"")
	case len([]rune(title)) > MaxTitle:
		return apperr.Invalid("title", "the title is %d characters; keep it under %d", len([]rune(title)), MaxTitle)
	}
	return nil
}
