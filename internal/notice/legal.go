package notice

import (
	_ "embed"
	"encoding/json"
	"slices"
	"strings"

	"github.com/candorhq/candor/internal/incident"
)

// LegalRule is one jurisdiction's content rule for notices to individuals,
// loaded from legal.json. The rules are data so that the later obligations
// engine can share them and counsel can review them without reading Go.
type LegalRule struct {
	ID            string   `json:"id"` // same id as in ../shared/reference/breachlaw.json
	Name          string   `json:"name"`
	Jurisdictions []string `json:"jurisdictions"` // ISO codes or region names from legal.json ("EU/EEA")
	Audiences     []string `json:"audiences"`     // audience kinds the rule applies to
	Citation      string   `json:"citation"`
	SourceURL     string   `json:"source_url"`
	OtherSources  []string `json:"other_sources"`
	// Verification is the reference's level: "primary_text" or "secondary".
	Verification     string        `json:"verification"`
	VerificationNote string        `json:"verification_note"`
	Level            Level         `json:"level"`
	Requirements     []Requirement `json:"requirements"`
}

// Requirement is one thing a rule asks of the notice.
type Requirement struct {
	Key string `json:"key"`
	// Check is "title", "heading", "present" or "absent".
	Check   string `json:"check"`
	Text    string `json:"text"`              // the title or heading, or what the element is
	Element string `json:"element,omitempty"` // detector for present/absent
	// WhenExposed limits the requirement to incidents in which one of
	// these data kinds was exposed (e.g. credit-bureau details only when
	// Social Security numbers were); empty means always.
	WhenExposed []string `json:"when_exposed,omitempty"`
}

//go:embed legal.json
var legalJSON []byte

type legalFile struct {
	Regions map[string][]string `json:"regions"`
	Rules   []LegalRule         `json:"rules"`
}

var legal = func() legalFile {
	var f legalFile
	if err := json.Unmarshal(legalJSON, &f); err != nil {
		panic("notice: legal.json: " + err.Error())
	}
	return f
}()

// LegalRules returns the content rules Check applies.
func LegalRules() []LegalRule { return slices.Clone(legal.Rules) }

// applies reports whether r applies to a notice for audience whose
// recipients are in jurisdictions, and names the matching jurisdictions.
func (r LegalRule) applies(audience string, jurisdictions []string) []string {
	if !slices.Contains(r.Audiences, audience) {
		return nil
	}
	var hit []string
	for _, j := range jurisdictions {
		j = incident.NormalizeJurisdiction(j)
		for _, rj := range r.Jurisdictions {
			if region, ok := legal.Regions[rj]; ok {
				if len(j) >= 2 && slices.Contains(region, j[:2]) && !slices.Contains(hit, j) {
					hit = append(hit, j)
				}
			} else if j == rj && !slices.Contains(hit, j) {
				hit = append(hit, j)
			}
		}
	}
	return hit
}

// fullCaveat is the caveat every legal finding carries: where the rule
// comes from and how far it was verified.
func (r LegalRule) fullCaveat() string {
	how := "the statute or regulation text was read"
	if r.Verification != "primary_text" {
		how = "checked against " + strings.ReplaceAll(r.Verification, "_", " ") + " sources only, not the official text: have counsel confirm"
	}
	s := "From Candor's research reference (breachlaw.md, rule " + r.ID + "), not legal advice; " + how + "."
	if r.VerificationNote != "" {
		s += " " + r.VerificationNote
	}
	return s
}

// Level is how serious a finding is: "error" blocks approval, "warning" does
// not, "info" is a measure or a hint.
type Level string

// Finding levels.
const (
	LevelError   Level = "error"
	LevelWarning Level = "warning"
	LevelInfo    Level = "info"
)
