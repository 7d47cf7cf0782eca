package incident_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/candorhq/candor/internal/incident"
)

// FuzzFactsJSON feeds arbitrary bytes through what the API does with a facts
// body: unmarshal, validate, diff against the stored version. Nothing may
// panic, and facts that validate must survive the store's JSON round trip
// unchanged: they marshal, unmarshal, validate again and show no diff.
func FuzzFactsJSON(f *testing.F) {
	good, err := json.Marshal(goodFacts())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	for _, s := range []string{
		`{}`,
		`null`,
		`[]`,
		`{"exposed":["Email"," name ","email",""],"not_exposed":["EMAIL"]}`,
		`{"affected_total":10,"affected_by_jurisdiction":[{"code":"us-ca","count":4},{"code":"US-CA","count":7}]}`,
		`{"affected_by_jurisdiction":[{"code":"fr-75","count":-1},{"code":"XX"}]}`,
		`{"affected_total":9223372036854775807,"affected_by_jurisdiction":[{"code":"DE","count":9223372036854775807}]}`,
		`{"discovered_at":"2025-05-20T11:30:15.999+02:00","occurred_from":"2025-05-01T00:00:00Z","occurred_to":"2025-04-01T00:00:00Z"}`,
		`{"became_aware_at":"9999-12-31T23:59:59Z"}`,
		`{"contact":{"email":" a@b.c ","phone":"+1 (951) 555-0100","url":"https://example.com"}}`,
		`{"contact":{"email":"<a@b.c>","phone":"++1","url":"javascript:alert(1)"}}`,
		`{"what_happened":"\u00a0 leak \u2028","people_should":"\ud800"}`,
		`{"exposed":null,"affected_by_jurisdiction":null,"discovered_at":null}`,
	} {
		f.Add([]byte(s))
	}
	var stored incident.Facts
	if err := json.Unmarshal(good, &stored); err != nil {
		f.Fatal(err)
	}
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

	f.Fuzz(func(t *testing.T, data []byte) {
		var in incident.Facts
		if json.Unmarshal(data, &in) != nil {
			return
		}
		verr := in.Validate(now)
		_ = incident.Diff(stored, in)
		_ = incident.Diff(in, stored)
		if verr != nil {
			return
		}
		out, err := json.Marshal(in)
		if err != nil {
			t.Fatalf("validated facts do not marshal: %v", err)
		}
		var again incident.Facts
		if err := json.Unmarshal(out, &again); err != nil {
			t.Fatalf("marshalled facts do not unmarshal: %v\n%s", err, out)
		}
		if err := again.Validate(now); err != nil {
			t.Fatalf("facts valid before the round trip are invalid after it: %v\n%s", err, out)
		}
		if d := incident.Diff(in, again); len(d) != 0 {
			t.Fatalf("round trip changed the facts: %+v", d)
		}
		if d := incident.Diff(again, in); len(d) != 0 {
			t.Fatalf("round trip changed the facts (reverse): %+v", d)
		}
	})
}
