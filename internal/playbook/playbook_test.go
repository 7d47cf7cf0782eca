package playbook

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/candorhq/candor/internal/incident"
	"github.com/candorhq/candor/internal/notice"
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

// checkItem runs notice.Check on a playbook item as the app would after
// applying the playbook to an incident with these facts.
func checkItem(it Item, facts notice.Data, jurisdictions []string, samples ...notice.Data) []notice.Finding {
	var channels []notice.Channel
	for _, c := range it.Channels {
		channels = append(channels, notice.Channel(c))
	}
	if len(samples) == 0 {
		samples = []notice.Data{facts}
	}
	return notice.Check(notice.CheckInput{
		Content:      notice.Content{Subject: it.Subject, Body: it.Body},
		AudienceKind: it.Audience, Channels: channels,
		Facts: facts.Facts, FactsVersion: facts.FactsVersion, Company: facts.Company,
		Jurisdictions: jurisdictions,
		Samples:       map[int][]notice.Data{-1: samples},
	})
}

func describe(fs []notice.Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "\n  %s %s: %s", f.Level, f.Key, f.Message)
	}
	return b.String()
}

// Every built-in template parses, validates, renders on its channels and
// passes every check for its audience without an error or a warning, for
// an audience with recipients in California and the EU/EEA and the UK.
func TestBuiltinTemplatesPassChecks(t *testing.T) {
	p, _ := BuiltinByKey("customer-data-breach")
	s := notice.SampleData()
	emailOnly := notice.SampleData()
	emailOnly.Recipient.Name, emailOnly.Recipient.Exposed = "", []incident.DataKind{"email"}
	for _, it := range p.Items {
		t.Run(it.Key, func(t *testing.T) {
			if err := notice.Validate(it.Subject, it.Body, s, emailOnly); err != nil {
				t.Fatalf("does not validate: %v", err)
			}
			tm, err := notice.Parse(it.Subject, it.Body)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range it.Channels {
				switch notice.Channel(c) {
				case notice.ChannelEmail:
					e, err := tm.Email(s)
					if err != nil || e.Subject == "" || !strings.Contains(e.HTML, "<h2") && it.Audience != "press" {
						t.Errorf("email: %v %q", err, e.Subject)
					}
				case notice.ChannelSMS:
					if m, err := tm.SMS(s); err != nil || m.Segments < 1 {
						t.Errorf("sms: %v", err)
					}
				case notice.ChannelStatusPage:
					if pg, err := tm.Page(s); err != nil || pg.HTML == "" {
						t.Errorf("page: %v", err)
					}
				}
			}
			fs := checkItem(it, s, []string{"US-CA", "FR", "GB", "US-NY"}, s, emailOnly)
			for _, f := range fs {
				if f.Level != notice.LevelInfo {
					t.Errorf("%s %s: %s", f.Level, f.Key, f.Message)
				}
			}
			if it.Audience == "affected_customers" || it.Audience == "unaffected_customers" {
				var grade float64
				for _, f := range fs {
					if f.Key == "readability" {
						grade, _ = strconv.ParseFloat(f.Value, 64)
					}
				}
				if grade <= 0 || grade >= 9 {
					t.Errorf("reading grade %.1f; want a customer notice under 9", grade)
				}
			}
		})
	}
}

// The templates hold up when facts are missing that an incident often
// does not know at first: no phone, no dates, nothing known to be safe, no
// count yet. Only the gaps a notice cannot do without are reported.
func TestBuiltinTemplatesWithSparseFacts(t *testing.T) {
	p, _ := BuiltinByKey("customer-data-breach")
	s := notice.SampleData()
	s.Facts.Contact.Phone = ""
	s.Facts.DiscoveredAt, s.Facts.OccurredFrom, s.Facts.OccurredTo = nil, nil, nil
	s.Facts.NotExposed = nil
	for _, key := range []string{"customer-alert", "follow-up", "unaffected-notice"} {
		i := slices.IndexFunc(p.Items, func(it Item) bool { return it.Key == key })
		if b := notice.Blocking(checkItem(p.Items[i], s, []string{"US-CA"})); len(b) > 0 {
			t.Errorf("%s:%s", key, describe(b))
		}
	}
	s.Facts.AffectedTotal = 0
	i := slices.IndexFunc(p.Items, func(it Item) bool { return it.Key == "unaffected-notice" })
	if b := notice.Blocking(checkItem(p.Items[i], s, nil)); len(b) > 0 {
		t.Errorf("unaffected notice without a count:%s", describe(b))
	}
	// An essential fact missing is reported, with where it is used.
	s.Facts.Contact.URL = ""
	i = slices.IndexFunc(p.Items, func(it Item) bool { return it.Key == "customer-alert" })
	fs := notice.Blocking(checkItem(p.Items[i], s, nil))
	if !slices.ContainsFunc(fs, func(f notice.Finding) bool { return f.Key == "facts:empty:.Facts.ContactURL" && f.Position != nil }) {
		t.Errorf("an empty update address is not reported:%s", describe(fs))
	}
}
