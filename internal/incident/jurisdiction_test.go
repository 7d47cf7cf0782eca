package incident_test

import (
	"strings"
	"testing"

	"github.com/candorhq/candor/internal/incident"
)

func TestValidJurisdiction(t *testing.T) {
	tests := []struct {
		name string
		code string
		want bool
	}{
		{"country", "DE", true},
		{"another country", "US", true},
		{"unassigned country", "XX", false},
		{"UK is not the ISO code", "UK", false},
		{"US state", "US-CA", true},
		{"DC", "US-DC", true},
		{"US territory", "US-PR", true},
		{"unknown US state", "US-ZZ", false},
		{"Canadian province", "CA-QC", true},
		{"unknown Canadian province", "CA-XX", false},
		{"Australian state (3 letters)", "AU-NSW", true},
		{"German Land", "DE-BY", true},
		{"unknown German Land", "DE-XX", false},
		{"UK nation", "GB-SCT", true},
		{"unlisted country, well-formed subdivision", "FR-75", true},
		{"unlisted country, letters", "JP-13", true},
		{"subdivision of unknown country", "XX-01", false},
		{"not normalised", "us-ca", false},
		{"not normalised country", "de", false},
		{"empty", "", false},
		{"one letter", "D", false},
		{"three letters", "DEU", false},
		{"missing subdivision", "US-", false},
		{"subdivision too long", "FR-7500", false},
		{"wrong separator", "US_CA", false},
		{"spaces", " DE", false},
		{"two-byte rune", "é", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := incident.ValidJurisdiction(tt.code); got != tt.want {
				t.Errorf("ValidJurisdiction(%q) = %v, want %v", tt.code, got, tt.want)
			}
		})
	}
}

func TestNormalizeJurisdiction(t *testing.T) {
	for in, want := range map[string]string{"us-ca": "US-CA", " de ": "DE", "FR-75": "FR-75", "": ""} {
		if got := incident.NormalizeJurisdiction(in); got != want {
			t.Errorf("NormalizeJurisdiction(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzValidJurisdiction(f *testing.F) {
	for _, s := range []string{"DE", "US-CA", "us-ca", "US-ZZ", "FR-75", "AU-NSW", "XX", "", "é", "US-", "GB-ENG", "ıt", "\xff\xfe-CA"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, code string) {
		ok := incident.ValidJurisdiction(code)
		norm := incident.NormalizeJurisdiction(code)
		if incident.NormalizeJurisdiction(norm) != norm {
			t.Errorf("NormalizeJurisdiction not idempotent: %q → %q → %q", code, norm, incident.NormalizeJurisdiction(norm))
		}
		if !ok {
			return
		}
		// A valid code is already in normal form, plain ASCII, and either a
		// known country or a known country's subdivision.
		if norm != code {
			t.Errorf("ValidJurisdiction(%q) but its normal form is %q", code, norm)
		}
		if len(code) != 2 && (len(code) < 4 || len(code) > 6 || code[2] != '-') {
			t.Errorf("ValidJurisdiction(%q) has an unexpected shape", code)
		}
		for _, r := range code {
			if !(r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				t.Errorf("ValidJurisdiction(%q) contains %q", code, r)
			}
		}
		if !incident.ValidJurisdiction(code[:2]) {
			t.Errorf("ValidJurisdiction(%q) but country %q is not valid", code, code[:2])
		}
		if strings.HasPrefix(code, "US-") && len(code) == 5 && code[3] >= '0' && code[3] <= '9' {
			t.Errorf("ValidJurisdiction(%q): US subdivisions are letters", code)
		}
	})
}
