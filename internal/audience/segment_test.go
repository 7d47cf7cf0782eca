package audience_test

import (
	"encoding/json"
	"testing"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/audience"
	"github.com/candorhq/candor/internal/incident"
)

func TestSegmentRules(t *testing.T) {
	ana := audience.Recipient{Email: "ana@example.com", Locale: "fr-CA", Jurisdiction: "US-CA",
		Exposed: []incident.DataKind{"card_number", "email"}, Attributes: map[string]string{"plan": "Business"}}
	bob := audience.Recipient{Email: "bob@example.org", Locale: "frr", Jurisdiction: "DE-BY", Exposed: []incident.DataKind{"email"}}
	cases := []struct {
		name     string
		rule     string
		ana, bob bool
		text     string
	}{
		{"exposed includes", `{"field":"exposed","op":"includes","value":"card_number"}`, true, false, "exposed includes card_number"},
		{"exposed includes any", `{"field":"exposed","op":"includes","values":["CARD_NUMBER","email"]}`, true, true, "exposed includes any of (card_number, email)"},
		{"jurisdiction in", `{"field":"jurisdiction","op":"in","values":["us-ca","US-NY"]}`, true, false, "jurisdiction in (US-CA, US-NY)"},
		{"jurisdiction starts with a country", `{"field":"jurisdiction","op":"starts_with","value":"US"}`, true, false, ""},
		{"locale starts with, on subtags", `{"field":"locale","op":"starts_with","value":"fr"}`, true, false, "locale starts with fr"},
		{"attribute equals, any case", `{"field":"attribute","attribute":"plan","op":"=","value":"business"}`, true, false, "attribute plan = business"},
		{"email ends with", `{"field":"email","op":"ends_with","value":"@example.org"}`, false, true, ""},
		{"attribute is set", `{"field":"attribute","attribute":"plan","op":"is_set"}`, true, false, "attribute plan is set"},
		{"all", `{"all":[{"field":"exposed","op":"includes","value":"email"},{"not":{"field":"jurisdiction","op":"equals","value":"US-CA"}}]}`, false, true,
			"exposed includes email and not (jurisdiction = US-CA)"},
		{"any", `{"any":[{"field":"locale","op":"equals","value":"FR-ca"},{"field":"jurisdiction","op":"equals","value":"de-by"}]}`, true, true, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var r audience.Rule
			if err := json.Unmarshal([]byte(c.rule), &r); err != nil {
				t.Fatal(err)
			}
			m, err := audience.Compile(&r)
			if err != nil {
				t.Fatal(err)
			}
			if m.Match(ana) != c.ana || m.Match(bob) != c.bob {
				t.Errorf("ana %v bob %v, want %v %v", m.Match(ana), m.Match(bob), c.ana, c.bob)
			}
			if c.text != "" && r.String() != c.text {
				t.Errorf("text %q, want %q", r.String(), c.text)
			}
		})
	}
}

func TestSegmentRulesRefused(t *testing.T) {
	cases := []struct{ rule, field string }{
		{`{}`, "rule"},
		{`{"all":[]}`, "rule.all"},
		{`{"field":"exposed","op":"includes","value":"shoe_size"}`, "rule.value"},
		{`{"all":[{"field":"email","op":"is_set"},{"field":"jurisdiction","op":"in","values":["US-CA","US-ZZ"]}]}`, "rule.all[1].values[1]"},
		{`{"field":"colour","op":"equals","value":"red"}`, "rule.field"},
		{`{"field":"email","op":"resembles","value":"x"}`, "rule.op"},
		{`{"field":"email","op":"in","value":"x"}`, "rule.values"},
		{`{"field":"attribute","op":"equals","value":"x"}`, "rule.attribute"},
		{`{"field":"locale","op":"equals","value":"!!"}`, "rule.value"},
		{`{"field":"email","op":"is_set","all":[]}`, "rule"},
	}
	for _, c := range cases {
		var r audience.Rule
		if err := json.Unmarshal([]byte(c.rule), &r); err != nil {
			t.Fatal(err)
		}
		_, err := audience.Compile(&r)
		if e := apperr.As(err); e == nil || e.Field != c.field {
			t.Errorf("%s: got %v, want an error on %s", c.rule, err, c.field)
		}
	}
}
