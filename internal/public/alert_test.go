package public

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/candorhq/candor/internal/incident"
	"github.com/candorhq/candor/internal/status"
	"github.com/candorhq/candor/internal/status/statustest"
)

func decodeJSONObject(t *testing.T, b []byte) map[string]any {
	t.Helper()
	m, ok := decodeAnyJSON(t, b).(map[string]any)
	if !ok {
		t.Fatalf("not a JSON object: %s", b)
	}
	return m
}

func TestAlertJSON(t *testing.T) {
	s := statustest.Example(exampleNow)
	b, err := AlertJSON(s)
	if err != nil {
		t.Fatal(err)
	}
	got := decodeJSONObject(t, b)
	want := map[string]any{
		"active":      true,
		"title":       "Security incident affecting customer accounts",
		"summary":     "We have identified how the attacker got in and closed that access. Card numbers of about 15,000 customers were copied.",
		"severity":    "critical",
		"impact":      "critical",
		"url":         "http://status.example.test/status/incidents/7",
		"updated_at":  "2026-10-02T09:00:00.000Z",
		"update_id":   float64(33),
		"incident_id": float64(7),
	}
	if len(got) != len(want) {
		t.Errorf("keys = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %#v, want %#v", k, got[k], v)
		}
	}

	// The newest of two open incidents wins, whatever their order.
	newer := s.Incidents[0]
	newer.ID, newer.Title, newer.Severity, newer.StartedAt = 9, "Leaked test data", incident.Low, exampleNow.Add(-time.Hour)
	newer.Updates = []status.Update{{ID: 40, IncidentID: 9, Status: incident.Investigating, Body: "A test file was public.\n\n- no customer data\n- fixed", DisplayAt: exampleNow, PublishAt: exampleNow}}
	s.Incidents = append(s.Incidents, newer)
	b, _ = AlertJSON(s)
	got = decodeJSONObject(t, b)
	if got["incident_id"] != float64(9) || got["update_id"] != float64(40) || got["impact"] != "minor" || got["severity"] != "low" ||
		got["summary"] != "A test file was public. - no customer data - fixed" {
		t.Errorf("two open incidents: %s", b)
	}
}

func TestAlertJSONNothingOpen(t *testing.T) {
	s := statustest.Example(exampleNow)
	s.Incidents = s.Past()
	b, err := AlertJSON(s)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"active":false,"url":"http://status.example.test/status"}`; string(b) != want {
		t.Errorf("alert = %s, want %s", b, want)
	}
}

func TestAlertSummaryIsPlainAndShort(t *testing.T) {
	s := statustest.Example(exampleNow)
	long := strings.Repeat("We reset **every** password <b>now</b> and [told](https://example.com) customers. ", 8)
	s.Incidents[0].Updates[0].Body = "# Update\n\n" + long
	b, _ := AlertJSON(s)
	var got struct{ Summary string }
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	sum := got.Summary
	if n := utf8.RuneCountInString(sum); n > alertSummaryMax || n < alertSummaryMax-40 {
		t.Errorf("summary has %d characters, want about %d: %q", n, alertSummaryMax, sum)
	}
	if !strings.HasPrefix(sum, "Update We reset every password") || !strings.HasSuffix(sum, "…") {
		t.Errorf("summary = %q", sum)
	}
	for _, markup := range []string{"**", "<b>", "#", "](", "\n"} {
		if strings.Contains(sum, markup) {
			t.Errorf("summary %q contains %q", sum, markup)
		}
	}
	if bytes.Contains(b, []byte("<")) {
		t.Errorf("alert carries markup: %s", b)
	}
}

func TestAlertShorten(t *testing.T) {
	tests := []struct {
		name, in string
		max      int
		want     string
	}{
		{"short", "All good.", 20, "All good."},
		{"exact", "twelve chars", 12, "twelve chars"},
		{"spaces collapse", "a\n\n b\tc", 20, "a b c"},
		{"cut before a word", "one two three four", 12, "one two…"},
		{"cut at a space", "one two three four", 8, "one two…"},
		{"trailing comma", "one two, three", 11, "one two…"},
		{"one long word", "abcdefghijklmnop", 8, "abcdefg…"},
		{"runes not bytes", "éééé ééé", 6, "éééé…"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := shorten(tt.in, tt.max)
			if got != tt.want {
				t.Errorf("shorten(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
			}
			if utf8.RuneCountInString(got) > tt.max {
				t.Errorf("%q is longer than %d", got, tt.max)
			}
		})
	}
}

func TestQuietJSON(t *testing.T) {
	s := statustest.Example(exampleNow)
	b, err := QuietJSON(s)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"active":true,"since":"2026-10-01T09:00:00.000Z","reason":"Security incident affecting customer accounts is public"}`; string(b) != want {
		t.Errorf("quiet = %s, want %s", b, want)
	}

	// Who switched it on is not public.
	s.Quiet.By, s.Quiet.Manual = "marc@example.com", true
	if b, _ := QuietJSON(s); bytes.Contains(b, []byte("marc")) || bytes.Contains(b, []byte("manual")) {
		t.Errorf("quiet leaks who switched it on: %s", b)
	}

	// Off, a stale start time and reason are not shown.
	s.Quiet.Active = false
	b, _ = QuietJSON(s)
	if want := `{"active":false,"since":null,"reason":""}`; string(b) != want {
		t.Errorf("quiet = %s, want %s", b, want)
	}
}
