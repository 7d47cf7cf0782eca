package incident_test

import (
	"strings"
	"testing"
	"time"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/incident"
)

// allowed is the lifecycle as a responder sees it: skip forward, step back
// when new findings reopen the incident, close only once resolved, and never
// reopen a closed incident.
var allowed = map[incident.State][]incident.State{
	incident.Investigating: {incident.Identified, incident.Contained, incident.Resolved},
	incident.Identified:    {incident.Investigating, incident.Contained, incident.Resolved},
	incident.Contained:     {incident.Identified, incident.Resolved},
	incident.Resolved:      {incident.Contained, incident.Closed},
	incident.Closed:        {},
}

func contains(ss []incident.State, s incident.State) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func TestCheckMoveEveryPair(t *testing.T) {
	for _, from := range incident.States {
		for _, to := range incident.States {
			t.Run(string(from)+"->"+string(to), func(t *testing.T) {
				err := incident.CheckMove(from, to)
				want := contains(allowed[from], to)
				if want {
					if err != nil {
						t.Fatalf("CheckMove(%s, %s) = %v, want allowed", from, to, err)
					}
					return
				}
				if err == nil {
					t.Fatalf("CheckMove(%s, %s) allowed, want refused", from, to)
				}
				if got := apperr.Code(err); got != apperr.EINVALID {
					t.Errorf("code = %q, want %q", got, apperr.EINVALID)
				}
				if f := apperr.As(err).Field; f != "state" {
					t.Errorf("field = %q, want state", f)
				}
				msg := apperr.Message(err)
				switch {
				case from == to:
					if !strings.Contains(msg, "already") || !strings.Contains(msg, string(from)) {
						t.Errorf("message %q should say the incident is already %s", msg, from)
					}
				case from == incident.Closed:
					if !strings.Contains(msg, "closed") || !strings.Contains(msg, "cannot be reopened") {
						t.Errorf("message %q should say a closed incident cannot be reopened", msg)
					}
				default:
					if !strings.Contains(msg, string(from)) || !strings.Contains(msg, string(to)) {
						t.Errorf("message %q should name both %s and %s", msg, from, to)
					}
					for _, next := range allowed[from] {
						if !strings.Contains(msg, string(next)) {
							t.Errorf("message %q should list the allowed next state %s", msg, next)
						}
					}
				}
			})
		}
	}
}

func TestClosedCannotReopen(t *testing.T) {
	if n := incident.Closed.NextStates(); len(n) != 0 {
		t.Errorf("Closed.NextStates() = %v, want none", n)
	}
	for _, to := range incident.States {
		if err := incident.CheckMove(incident.Closed, to); err == nil {
			t.Errorf("closed → %s allowed", to)
		}
	}
}

func TestNextStatesAgreeWithCheckMove(t *testing.T) {
	for _, from := range incident.States {
		next := from.NextStates()
		for _, to := range incident.States {
			if got, want := incident.CheckMove(from, to) == nil, contains(next, to); got != want {
				t.Errorf("%s → %s: CheckMove allows=%v, NextStates lists=%v", from, to, got, want)
			}
		}
	}
}

func TestCheckMoveUnknownState(t *testing.T) {
	err := incident.CheckMove(incident.Investigating, "archived")
	if apperr.Code(err) != apperr.EINVALID {
		t.Fatalf("code = %q, want invalid", apperr.Code(err))
	}
	msg := apperr.Message(err)
	if !strings.Contains(msg, `"archived"`) {
		t.Errorf("message %q should quote the unknown state", msg)
	}
	for _, s := range incident.States {
		if !strings.Contains(msg, string(s)) {
			t.Errorf("message %q should list state %s", msg, s)
		}
	}
}

func TestStateLabelsAndValidity(t *testing.T) {
	for _, s := range incident.States {
		if !s.Valid() {
			t.Errorf("%s not valid", s)
		}
		if s.Label() == "" {
			t.Errorf("%s has no label", s)
		}
	}
	for _, s := range []incident.State{"", "open", "Closed"} {
		if s.Valid() {
			t.Errorf("%q valid", s)
		}
	}
}

func TestNewValidate(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		in         incident.New
		wantFields []string // nil means valid
		wantTitle  string
		wantSev    incident.Severity
	}{
		{name: "minimal, default severity high", in: incident.New{Title: "  Card numbers exposed  "}, wantTitle: "Card numbers exposed", wantSev: incident.High},
		{name: "explicit severity kept", in: incident.New{Title: "Leak", Severity: incident.Low}, wantTitle: "Leak", wantSev: incident.Low},
		{name: "empty title", in: incident.New{Title: ""}, wantFields: []string{"title"}},
		{name: "blank title", in: incident.New{Title: " \t\n "}, wantFields: []string{"title"}},
		{name: "title at limit", in: incident.New{Title: strings.Repeat("é", incident.MaxTitle)}, wantTitle: strings.Repeat("é", incident.MaxTitle), wantSev: incident.High},
		{name: "title too long", in: incident.New{Title: strings.Repeat("x", incident.MaxTitle+1)}, wantFields: []string{"title"}},
		{name: "unknown severity", in: incident.New{Title: "Leak", Severity: "apocalyptic"}, wantFields: []string{"severity"}},
		{name: "bad facts reported with their own field", in: incident.New{Title: "Leak", Facts: incident.Facts{AffectedTotal: -1}}, wantFields: []string{"affected_total"}},
		{
			name:       "everything wrong at once",
			in:         incident.New{Title: "", Severity: "huge", Facts: incident.Facts{AffectedTotal: -1, Exposed: []incident.DataKind{"secrets"}}},
			wantFields: []string{"title", "severity", "affected_total", "exposed[0]"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := tt.in
			err := in.Validate(now)
			if tt.wantFields == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				if in.Title != tt.wantTitle {
					t.Errorf("title = %q, want %q", in.Title, tt.wantTitle)
				}
				if in.Severity != tt.wantSev {
					t.Errorf("severity = %q, want %q", in.Severity, tt.wantSev)
				}
				return
			}
			if apperr.Code(err) != apperr.EINVALID {
				t.Fatalf("Validate() = %v, want an invalid error", err)
			}
			fields := apperr.Fields(err)
			if len(fields) != len(tt.wantFields) {
				t.Errorf("fields = %v, want exactly %v", fields, tt.wantFields)
			}
			for _, f := range tt.wantFields {
				if fields[f] == "" {
					t.Errorf("no message for field %q in %v", f, fields)
				}
			}
		})
	}
}

func TestValidateTitleMessageGivesLength(t *testing.T) {
	err := incident.ValidateTitle(strings.Repeat("ü", 250))
	if msg := apperr.Message(err); !strings.Contains(msg, "250") || !strings.Contains(msg, "200") {
		t.Errorf("message %q should give the length in characters (250) and the limit (200)", msg)
	}
}
