package playbook

import (
	"strings"
	"testing"
)

func TestBuiltinPackageIsComplete(t *testing.T) {
	p, ok := BuiltinByKey("customer-data-breach")
	if !ok {
		t.Fatal("the customer-data-breach playbook is missing")
	}
	// The response package the issue asks for, by audience.
	want := map[string]string{
		"customer-alert": "affected_customers", "unaffected-notice": "unaffected_customers", "follow-up": "affected_customers",
		"press-release": "press", "website-qa": "custom", "answer-guide": "response_team", "employee-memo": "employees",
		"partner-notice": "partners", "regulator-notice": "regulators", "response-team-update": "response_team",
	}
	got := map[string]string{}
	for _, it := range p.Items {
		got[it.Key] = it.Audience
		if it.Subject == "" || len(it.Body) < 200 {
			t.Errorf("%s: subject %q, body of %d bytes; want real text", it.Key, it.Subject, len(it.Body))
		}
		if strings.Contains(it.Subject, "\n") {
			t.Errorf("%s: multi-line subject", it.Key)
		}
	}
	for k, a := range want {
		if got[k] != a {
			t.Errorf("item %s: audience %q, want %q", k, got[k], a)
		}
	}
}

func TestOffsets(t *testing.T) {
	cases := map[string]string{"0": "T+0", "-2h": "T−2h", "14h": "T+14h", "on_resolved": "when resolved", "90m": "T+1h30m"}
	for in, want := range cases {
		if got := DescribeOffset(in); got != want {
			t.Errorf("DescribeOffset(%q) = %q, want %q", in, got, want)
		}
	}
	if _, _, err := ParseOffset("tomorrow"); err == nil {
		t.Error("a bad offset was accepted")
	}
}
