package public

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/incident"
	"github.com/candorhq/candor/internal/status"
	"github.com/candorhq/candor/internal/status/statustest"
)

// The fixtures in testdata/statuspage are the shapes existing Statuspage
// clients read, copied from the examples of the shared reference
// "Statuspage public API v2 and subscriber webhooks" (statuspage-v2.md),
// with its "..." placeholders replaced by made-up values of the right type:
//
//   - summary.json: its summary.json example (Discord live capture, 2022-02,
//     and the sample on the /api page of every Statuspage page); the
//     incident's "components" and the maintenance's "incident_updates",
//     which the reference gives as "same shape as …", are written out.
//   - incidents.json: its incidents.json example (also used for
//     incidents/unresolved.json, whose shape the reference says is the same).
//   - status.json: its status.json example.
//   - components.json: the page object and a components[] entry of the
//     summary example; the reference's endpoint table gives the top-level
//     keys (page, components).
//   - scheduled-maintenances.json: the page object and the
//     scheduled_maintenances[] entry of the summary example, for the three
//     maintenance endpoints (endpoint table: page, scheduled_maintenances).
//   - webhook-incident.json: its incident webhook payload, as in zulip/zulip
//     zerver/webhooks/statuspage/fixtures/incident_created.json.
var statuspageFixtures = map[string]string{
	"/api/v2/summary.json":                         "summary.json",
	"/api/v2/status.json":                          "status.json",
	"/api/v2/components.json":                      "components.json",
	"/api/v2/incidents.json":                       "incidents.json",
	"/api/v2/incidents/unresolved.json":            "incidents.json",
	"/api/v2/scheduled-maintenances.json":          "scheduled-maintenances.json",
	"/api/v2/scheduled-maintenances/upcoming.json": "scheduled-maintenances.json",
	"/api/v2/scheduled-maintenances/active.json":   "scheduled-maintenances.json",
}

// nullableKeys are the fields the reference shows both as null and with a
// value: monitoring_at and resolved_at (null in the summary example, times
// in the incidents example) and description (a string in the API examples,
// null in the webhook).
var nullableKeys = map[string]bool{"monitoring_at": true, "resolved_at": true, "description": true}

var exampleNow = time.Date(2026, 10, 2, 10, 0, 0, 0, time.UTC)

func readSPFixture(t *testing.T, name string) any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "statuspage", name))
	if err != nil {
		t.Fatal(err)
	}
	return decodeAnyJSON(t, b)
}

func decodeAnyJSON(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("invalid JSON: %v\n%s", err, b)
	}
	return v
}

// sameShape reports every difference in key sets and value types between
// got and the reference shape want. Each element of a got array is compared
// with the first element of the want array.
func sameShape(path string, want, got any) []string {
	var diffs []string
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			return []string{fmt.Sprintf("%s: got %s, want an object", path, jsonType(got))}
		}
		for k := range w {
			if _, ok := g[k]; !ok {
				diffs = append(diffs, fmt.Sprintf("%s.%s: missing", path, k))
			}
		}
		for k := range g {
			if _, ok := w[k]; !ok {
				diffs = append(diffs, fmt.Sprintf("%s.%s: not in the reference", path, k))
			}
		}
		for k, wv := range w {
			gv, ok := g[k]
			if !ok {
				continue
			}
			if nullableKeys[k] && (gv == nil || wv == nil) {
				if gv != nil && wv == nil && jsonType(gv) != "string" {
					diffs = append(diffs, fmt.Sprintf("%s.%s: got %s, want null or a string", path, k, jsonType(gv)))
				}
				continue
			}
			diffs = append(diffs, sameShape(path+"."+k, wv, gv)...)
		}
	case []any:
		g, ok := got.([]any)
		if !ok {
			return []string{fmt.Sprintf("%s: got %s, want an array", path, jsonType(got))}
		}
		if len(g) > 0 && len(w) == 0 {
			return []string{fmt.Sprintf("%s: the reference has no element to compare with", path)}
		}
		for i, gv := range g {
			diffs = append(diffs, sameShape(fmt.Sprintf("%s[%d]", path, i), w[0], gv)...)
		}
	default:
		if jsonType(want) != jsonType(got) {
			diffs = append(diffs, fmt.Sprintf("%s: got %s, want %s", path, jsonType(got), jsonType(want)))
		}
	}
	sort.Strings(diffs)
	return diffs
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	}
	return fmt.Sprintf("%T", v)
}

// walkJSON calls fn for every object member under v, with the name of the
// object's own member ("components[]" for an array element).
func walkJSON(v any, parent string, fn func(parent, key string, v any)) {
	switch x := v.(type) {
	case map[string]any:
		for k, c := range x {
			fn(parent, k, c)
			walkJSON(c, k, fn)
		}
	case []any:
		for _, c := range x {
			walkJSON(c, parent+"[]", fn)
		}
	}
}

func renderSP(t *testing.T, s *status.Snapshot) map[string][]byte {
	t.Helper()
	d, err := StatuspageDocs(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestStatuspageFixturesHaveNoPlaceholders(t *testing.T) {
	for _, name := range []string{"summary.json", "status.json", "components.json", "incidents.json", "scheduled-maintenances.json", "webhook-incident.json"} {
		walkJSON(readSPFixture(t, name), "", func(parent, key string, v any) {
			if key == "..." || v == "..." || (jsonType(v) == "string" && strings.Contains(v.(string), "...")) {
				t.Errorf("%s: %s.%s is still a placeholder", name, parent, key)
			}
		})
	}
}

func TestStatuspageShapes(t *testing.T) {
	got := renderSP(t, statustest.Example(exampleNow))
	var paths []string
	for p := range got {
		paths = append(paths, p)
	}
	var want []string
	for p := range statuspageFixtures {
		want = append(want, p)
	}
	slices.Sort(paths)
	slices.Sort(want)
	if !slices.Equal(paths, want) {
		t.Errorf("documents = %v, want %v", paths, want)
	}
	for path, fixture := range statuspageFixtures {
		t.Run(path, func(t *testing.T) {
			for _, d := range sameShape("", readSPFixture(t, fixture), decodeAnyJSON(t, got[path])) {
				t.Error(d)
			}
		})
	}
}

func TestStatuspageShapeCatchesDrift(t *testing.T) {
	want := readSPFixture(t, "status.json")
	for name, doc := range map[string]string{
		"missing key": `{"page":{"id":"x","name":"x","url":"x","time_zone":"x"},"status":{"indicator":"none","description":"x"}}`,
		"extra key":   `{"page":{"id":"x","name":"x","url":"x","time_zone":"x","updated_at":"x","locale":"en"},"status":{"indicator":"none","description":"x"}}`,
		"renamed key": `{"page":{"id":"x","name":"x","url":"x","timezone":"x","updated_at":"x"},"status":{"indicator":"none","description":"x"}}`,
		"wrong type":  `{"page":{"id":1,"name":"x","url":"x","time_zone":"x","updated_at":"x"},"status":{"indicator":"none","description":"x"}}`,
		"null object": `{"page":{"id":"x","name":"x","url":"x","time_zone":"x","updated_at":"x"},"status":null}`,
	} {
		if d := sameShape("", want, decodeAnyJSON(t, []byte(doc))); len(d) == 0 {
			t.Errorf("%s: no difference found", name)
		}
	}
}

var (
	indicators        = []string{"none", "minor", "major", "critical"}
	componentStatuses = []string{"operational", "degraded_performance", "partial_outage", "major_outage", "under_maintenance"}
	incidentStatuses  = []string{"investigating", "identified", "monitoring", "resolved", "postmortem"}
	impacts           = []string{"none", "minor", "major", "critical"}
)

// checkEnums fails on any enum value outside the documented sets and
// returns how many values each rule checked.
func checkEnums(t *testing.T, name string, doc any) map[string]int {
	t.Helper()
	seen := map[string]int{}
	check := func(rule string, v any, allowed []string) {
		seen[rule]++
		if s, ok := v.(string); !ok || !slices.Contains(allowed, s) {
			t.Errorf("%s: %s = %v, want one of %v", name, rule, v, allowed)
		}
	}
	walkJSON(doc, "", func(parent, key string, v any) {
		switch {
		case parent == "status" && key == "indicator":
			check("status.indicator", v, indicators)
		case key == "status_indicator":
			check("page.status_indicator", v, append(slices.Clip(indicators), "maintenance"))
		case parent == "components[]" && key == "status":
			check("component.status", v, componentStatuses)
		case (parent == "incidents[]" || parent == "incident_updates[]" || parent == "incident") && key == "status":
			check("incident.status", v, incidentStatuses)
		case key == "impact":
			check("impact", v, impacts)
		case key == "old_status" || key == "new_status":
			check("affected_components.status", v, componentStatuses)
		}
	})
	return seen
}

func TestStatuspageEnums(t *testing.T) {
	s := statustest.Example(exampleNow)
	// A closed incident and a contained one, to see every mapping.
	closed := s.Incidents[1]
	closed.ID, closed.State = 4, incident.Closed
	contained := s.Incidents[0]
	contained.ID, contained.State, contained.Severity = 8, incident.Contained, incident.High
	s.Incidents = append(s.Incidents, closed, contained)
	seen := map[string]int{}
	for path, b := range renderSP(t, s) {
		for rule, n := range checkEnums(t, path, decodeAnyJSON(t, b)) {
			seen[rule] += n
		}
	}
	for _, rule := range []string{"status.indicator", "component.status", "incident.status", "impact", "affected_components.status"} {
		if seen[rule] == 0 {
			t.Errorf("no %s value was checked", rule)
		}
	}
}

var spTimeShape = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$`)

func TestStatuspageTimes(t *testing.T) {
	n := 0
	for path, b := range renderSP(t, statustest.Example(exampleNow)) {
		walkJSON(decodeAnyJSON(t, b), "", func(parent, key string, v any) {
			if !strings.HasSuffix(key, "_at") || v == nil {
				return
			}
			n++
			if s, _ := v.(string); !spTimeShape.MatchString(s) {
				t.Errorf("%s: %s.%s = %v, want RFC 3339 UTC with milliseconds", path, parent, key, v)
			}
		})
	}
	if n == 0 {
		t.Fatal("no time checked")
	}
}

// Decoded forms of the documents, for checking values.
type (
	testIncident struct {
		ID           string  `json:"id"`
		Name         string  `json:"name"`
		Status       string  `json:"status"`
		Impact       string  `json:"impact"`
		Shortlink    string  `json:"shortlink"`
		StartedAt    string  `json:"started_at"`
		CreatedAt    string  `json:"created_at"`
		MonitoringAt *string `json:"monitoring_at"`
		ResolvedAt   *string `json:"resolved_at"`
		PageID       string  `json:"page_id"`
		Updates      []struct {
			ID                   string       `json:"id"`
			Status               string       `json:"status"`
			Body                 string       `json:"body"`
			IncidentID           string       `json:"incident_id"`
			CreatedAt            string       `json:"created_at"`
			UpdatedAt            string       `json:"updated_at"`
			DisplayAt            string       `json:"display_at"`
			DeliverNotifications bool         `json:"deliver_notifications"`
			AffectedComponents   []spAffected `json:"affected_components"`
		} `json:"incident_updates"`
		Components []testComponent `json:"components"`
	}
	testComponent struct {
		ID          string  `json:"id"`
		Name        string  `json:"name"`
		Status      string  `json:"status"`
		Description *string `json:"description"`
		Position    int     `json:"position"`
	}
	testSummary struct {
		Page struct {
			ID        string `json:"id"`
			Name      string `json:"name"`
			URL       string `json:"url"`
			TimeZone  string `json:"time_zone"`
			UpdatedAt string `json:"updated_at"`
		} `json:"page"`
		Status     spStatus        `json:"status"`
		Components []testComponent `json:"components"`
		Incidents  []testIncident  `json:"incidents"`
	}
)

func decodeSummary(t *testing.T, b []byte) testSummary {
	t.Helper()
	var v testSummary
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func incidentIDs(ins []testIncident) []string {
	var ids []string
	for _, in := range ins {
		ids = append(ids, in.ID)
	}
	return ids
}

func TestStatuspageValues(t *testing.T) {
	s := statustest.Example(exampleNow)
	d := renderSP(t, s)
	sum := decodeSummary(t, d["/api/v2/summary.json"])

	if p := sum.Page; p.ID != "c4nd0rpage01" || p.Name != "Example Corp" || p.URL != s.Page.URL || p.TimeZone != "Etc/UTC" || p.UpdatedAt != spTime(s.UpdatedAt) {
		t.Errorf("page = %+v", p)
	}
	if sum.Status != (spStatus{"critical", "Major Service Outage"}) {
		t.Errorf("status = %+v, want critical", sum.Status)
	}
	wantComponents := map[string]string{"c1": "major_outage", "c2": "degraded_performance", "c3": "operational"}
	if len(sum.Components) != len(wantComponents) {
		t.Errorf("components = %+v", sum.Components)
	}
	for _, c := range sum.Components {
		if wantComponents[c.ID] != c.Status {
			t.Errorf("component %s (%s) status = %s, want %s", c.ID, c.Name, c.Status, wantComponents[c.ID])
		}
		if c.ID == "c3" && c.Description != nil {
			t.Errorf("email's empty description = %q, want null", *c.Description)
		}
	}

	if len(sum.Incidents) != 1 {
		t.Fatalf("summary incidents = %v, want i7 alone", incidentIDs(sum.Incidents))
	}
	in := sum.Incidents[0]
	if in.ID != "i7" || in.Status != "identified" || in.Impact != "critical" || in.PageID != "c4nd0rpage01" ||
		in.Shortlink != "http://status.example.test/status/incidents/7" || in.MonitoringAt != nil || in.ResolvedAt != nil ||
		in.StartedAt != spTime(exampleNow.Add(-26*time.Hour)) || in.CreatedAt != spTime(exampleNow.Add(-25*time.Hour)) {
		t.Errorf("incident = %+v", in)
	}
	if len(in.Components) != 2 || in.Components[0].ID != "c1" || in.Components[0].Status != "major_outage" || in.Components[1].Status != "degraded_performance" {
		t.Errorf("incident components = %+v", in.Components)
	}
	u := in.Updates[0]
	if u.ID != "u33" || u.IncidentID != "i7" || u.Status != "identified" || !u.DeliverNotifications ||
		u.Body != s.Incidents[0].Updates[0].Body {
		t.Errorf("latest update = %+v", u)
	}
	if want := []spAffected{{"c1", "Customer login", "major_outage", "major_outage"}, {"c2", "Billing", "degraded_performance", "degraded_performance"}}; !slices.Equal(u.AffectedComponents, want) {
		t.Errorf("affected components = %+v, want %+v", u.AffectedComponents, want)
	}
	// Update 31 was backdated: shown 26 hours ago, published 25 hours ago.
	first := in.Updates[2]
	if first.DisplayAt != spTime(exampleNow.Add(-26*time.Hour)) || first.CreatedAt != spTime(exampleNow.Add(-25*time.Hour)) || first.DeliverNotifications {
		t.Errorf("backdated update = %+v", first)
	}
	// Update 32 was edited an hour after it went out.
	if e := in.Updates[1]; e.UpdatedAt != spTime(exampleNow.Add(-19*time.Hour)) || e.CreatedAt != spTime(exampleNow.Add(-20*time.Hour)) {
		t.Errorf("edited update = %+v", e)
	}

	all := decodeSummary(t, d["/api/v2/incidents.json"])
	if ids := incidentIDs(all.Incidents); !slices.Equal(ids, []string{"i7", "i3"}) {
		t.Errorf("incidents.json = %v, want [i7 i3]", ids)
	}
	past := all.Incidents[1]
	if past.Status != "resolved" || past.Impact != "minor" || past.MonitoringAt == nil || past.ResolvedAt == nil ||
		*past.ResolvedAt != spTime(exampleNow.Add(-90*24*time.Hour)) || past.Updates[1].Status != "monitoring" {
		t.Errorf("resolved incident = %+v", past)
	}
}

func TestStatuspageUnresolved(t *testing.T) {
	s := statustest.Example(exampleNow)
	closed := s.Incidents[1]
	closed.ID, closed.State = 4, incident.Closed
	s.Incidents = append(s.Incidents, closed)
	d := renderSP(t, s)
	for _, path := range []string{"/api/v2/summary.json", "/api/v2/incidents/unresolved.json"} {
		got := decodeSummary(t, d[path])
		if ids := incidentIDs(got.Incidents); !slices.Equal(ids, []string{"i7"}) {
			t.Errorf("%s incidents = %v, want [i7]", path, ids)
		}
	}
	if ids := incidentIDs(decodeSummary(t, d["/api/v2/incidents.json"]).Incidents); !slices.Equal(ids, []string{"i7", "i4", "i3"}) {
		t.Errorf("incidents.json = %v, want all three, ties by id", ids)
	}

	// With nothing open the lists are empty arrays and the page is green.
	s.Incidents = []status.Incident{s.Incidents[1]}
	s.Components = status.ComponentsOf([]status.Component{s.Components[0].Component}, s.Incidents)
	d = renderSP(t, s)
	for _, path := range []string{"/api/v2/summary.json", "/api/v2/incidents/unresolved.json"} {
		if !bytes.Contains(d[path], []byte(`"incidents":[]`)) {
			t.Errorf("%s: want \"incidents\":[]\n%s", path, d[path])
		}
	}
	if sum := decodeSummary(t, d["/api/v2/status.json"]); sum.Status != (spStatus{"none", "All Systems Operational"}) {
		t.Errorf("status = %+v", sum.Status)
	}
}

func TestStatuspageMaintenancesAreEmptyArrays(t *testing.T) {
	d := renderSP(t, &status.Snapshot{Page: status.Page{ID: "p", Name: "Empty", URL: "https://status.example.com"}})
	for path, b := range d {
		if strings.Contains(path, "maintenances") || strings.HasSuffix(path, "summary.json") {
			if !bytes.Contains(b, []byte(`"scheduled_maintenances":[]`)) {
				t.Errorf("%s: want \"scheduled_maintenances\":[]\n%s", path, b)
			}
		}
		if bytes.Contains(b, []byte(`":null`)) && !strings.Contains(path, "incidents") {
			t.Errorf("%s: unexpected null in an empty page\n%s", path, b)
		}
	}
	for _, path := range []string{"/api/v2/incidents.json", "/api/v2/components.json"} {
		if !bytes.Contains(d[path], []byte(`":[]`)) {
			t.Errorf("%s: want an empty array\n%s", path, d[path])
		}
	}
}

func TestStatuspageUpdatesNewestFirst(t *testing.T) {
	for path, b := range renderSP(t, statustest.Example(exampleNow)) {
		for _, in := range decodeSummary(t, b).Incidents {
			for i := 1; i < len(in.Updates); i++ {
				if in.Updates[i-1].DisplayAt < in.Updates[i].DisplayAt {
					t.Errorf("%s %s: update %s (%s) before %s (%s)", path, in.ID, in.Updates[i-1].ID, in.Updates[i-1].DisplayAt, in.Updates[i].ID, in.Updates[i].DisplayAt)
				}
			}
			if in.ID == "i7" {
				var ids []string
				for _, u := range in.Updates {
					ids = append(ids, u.ID)
				}
				if !slices.Equal(ids, []string{"u33", "u32", "u31"}) {
					t.Errorf("%s: updates = %v", path, ids)
				}
			}
		}
	}
}

func TestStatuspageIncidentsLimit(t *testing.T) {
	s := statustest.Example(exampleNow)
	base := s.Incidents[1]
	s.Incidents = nil
	for i := range 60 {
		in := base
		in.ID = int64(100 + i)
		in.StartedAt = exampleNow.Add(-time.Duration(60-i) * 24 * time.Hour)
		s.Incidents = append(s.Incidents, in)
	}
	ids := incidentIDs(decodeSummary(t, renderSP(t, s)["/api/v2/incidents.json"]).Incidents)
	if len(ids) != 50 || ids[0] != "i159" || ids[49] != "i110" {
		t.Errorf("incidents.json = %d incidents %v, want the 50 most recent, newest first", len(ids), ids)
	}
}

func TestStatuspageDeterministic(t *testing.T) {
	a := renderSP(t, statustest.Example(exampleNow))
	b := renderSP(t, statustest.Example(exampleNow))
	for path := range a {
		if !bytes.Equal(a[path], b[path]) {
			t.Errorf("%s differs between two renderings", path)
		}
	}
	w1, err1 := WebhookIncidentPayload(statustest.Example(exampleNow), 7, "incident.updated", "https://x/u", exampleNow)
	w2, err2 := WebhookIncidentPayload(statustest.Example(exampleNow), 7, "incident.updated", "https://x/u", exampleNow)
	if err1 != nil || err2 != nil || !bytes.Equal(w1, w2) {
		t.Errorf("webhook payload differs between two renderings (%v, %v)", err1, err2)
	}
}

func TestWebhookIncidentPayload(t *testing.T) {
	s := statustest.Example(exampleNow)
	generated := exampleNow.Add(1500 * time.Millisecond)
	for _, id := range []int64{7, 3} {
		b, err := WebhookIncidentPayload(s, id, "incident.updated", "http://status.example.test/status/unsubscribe?token=abc", generated)
		if err != nil {
			t.Fatal(err)
		}
		want := readSPFixture(t, "webhook-incident.json").(map[string]any)
		want["event_type"] = "incident.updated"
		got := decodeAnyJSON(t, b)
		for _, d := range sameShape("", want, got) {
			t.Errorf("incident %d: %s", id, d)
		}
		checkEnums(t, "webhook", got)
	}

	b, err := WebhookIncidentPayload(s, 7, "incident.updated", "http://status.example.test/status/unsubscribe?token=abc", generated)
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		EventType string `json:"event_type"`
		Meta      whMeta `json:"meta"`
		Page      whPage `json:"page"`
		Incident  struct {
			testIncident
			Components []whComponent `json:"components"`
		} `json:"incident"`
	}
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	if p.EventType != "incident.updated" || p.Meta.Unsubscribe != "http://status.example.test/status/unsubscribe?token=abc" ||
		p.Meta.GeneratedAt != "2026-10-02T10:00:01.500Z" || p.Meta.Documentation == "" {
		t.Errorf("envelope = %+v %+v", p.EventType, p.Meta)
	}
	if p.Page != (whPage{"c4nd0rpage01", "critical", "Major Service Outage"}) {
		t.Errorf("page = %+v", p.Page)
	}
	in := p.Incident
	if in.ID != "i7" || in.Name != "Security incident affecting customer accounts" || in.Status != "identified" || in.Impact != "critical" ||
		in.Shortlink != "http://status.example.test/status/incidents/7" || len(in.Updates) != 3 || in.Updates[0].ID != "u33" ||
		len(in.Components) != 2 || in.Components[1].Name != "Billing" || in.Components[1].Status != "degraded_performance" {
		t.Errorf("incident = %+v", in)
	}

	if _, err := WebhookIncidentPayload(s, 99, "incident.updated", "", generated); apperr.Code(err) != apperr.ENOTFOUND {
		t.Errorf("unknown incident: err = %v, want ENOTFOUND", err)
	}
	if _, err := WebhookIncidentPayload(s, 7, "", "", generated); apperr.Code(err) != apperr.EINVALID {
		t.Errorf("no event type: err = %v, want EINVALID", err)
	}
}

func TestWebhookQuietPayload(t *testing.T) {
	s := statustest.Example(exampleNow)
	generated := exampleNow.Add(time.Second)
	b, err := WebhookQuietPayload(s, QuietStarted, generated)
	if err != nil {
		t.Fatal(err)
	}
	quiet, err := QuietJSON(s)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"event_type":"quiet_period.started","quiet_period":` + string(quiet) +
		`,"page":{"id":"c4nd0rpage01","name":"Example Corp","url":"http://status.example.test/status"},"generated_at":"2026-10-02T10:00:01.000Z"}`
	if string(b) != want {
		t.Errorf("payload =\n%s\nwant\n%s", b, want)
	}

	s.Quiet = status.Quiet{}
	b, err = WebhookQuietPayload(s, QuietEnded, generated)
	if err != nil {
		t.Fatal(err)
	}
	if want := `"quiet_period":{"active":false,"since":null,"reason":""}`; !strings.Contains(string(b), want) {
		t.Errorf("ended payload = %s, want %s", b, want)
	}

	for _, tt := range []struct {
		name, event string
		active      bool
	}{
		{"unknown event", "quiet_period.paused", true},
		{"started but off", QuietStarted, false},
		{"ended but on", QuietEnded, true},
	} {
		s.Quiet.Active = tt.active
		if _, err := WebhookQuietPayload(s, tt.event, generated); apperr.Code(err) != apperr.EINVALID {
			t.Errorf("%s: err = %v, want EINVALID", tt.name, err)
		}
	}
}
