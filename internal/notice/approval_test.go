package notice_test

import (
	"strings"
	"testing"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/notice"
)

func approvedVersion() notice.Version {
	c := notice.Content{Subject: "About your card", Body: "Dear {{.Recipient.Name}}"}
	h := c.Hash()
	return notice.Version{ID: 9, NoticeID: 3, Number: 2, State: notice.Approved, AuthorID: 1, Content: c, ContentHash: h,
		Policy:  notice.Policy{Approvals: 1},
		Reviews: []notice.Review{{ReviewerID: 2, Decision: notice.DecisionApprove, ContentHash: h}}}
}

// TestCertify is the property downstream code relies on: only an approved
// version, whose text is what the approvers approved, approved by enough
// people other than the author, yields the proof.
func TestCertify(t *testing.T) {
	if a, err := notice.Certify(approvedVersion()); err != nil || a.IsZero() || a.Version().Number != 2 {
		t.Fatalf("a good version: %v", err)
	}
	cases := []struct {
		name   string
		change func(v *notice.Version)
		want   string
	}{
		{"draft", func(v *notice.Version) { v.State = notice.Draft }, "it is Draft"},
		{"in review", func(v *notice.Version) { v.State = notice.InReview }, "it is In review"},
		{"withdrawn", func(v *notice.Version) { v.State = notice.Withdrawn }, "it is Withdrawn"},
		{"text changed after approval", func(v *notice.Version) { v.Content.Body += "!" }, "changed after approval"},
		{"variant added after approval", func(v *notice.Version) { v.Content.Variants = []notice.Variant{{Name: "x", Body: "y"}} }, "changed after approval"},
		{"approved by the author", func(v *notice.Version) { v.Reviews[0].ReviewerID = 1 }, "has 0 approval"},
		{"approval of other text", func(v *notice.Version) { v.Reviews[0].ContentHash = "abc" }, "has 0 approval"},
		{"changes requested, not approved", func(v *notice.Version) { v.Reviews[0].Decision = notice.DecisionRequestChanges }, "has 0 approval"},
		{"one approver twice for a two-approval policy", func(v *notice.Version) {
			v.Policy.Approvals = 2
			v.Reviews = append(v.Reviews, v.Reviews[0])
		}, "needs 2"},
		{"no reviews", func(v *notice.Version) { v.Reviews = nil }, "has 0 approval"},
	}
	for _, c := range cases {
		v := approvedVersion()
		c.change(&v)
		a, err := notice.Certify(v)
		if apperr.Code(err) != apperr.EFORBIDDEN || !strings.Contains(apperr.Message(err), c.want) || !a.IsZero() {
			t.Errorf("%s: %v, want forbidden saying %q", c.name, err, c.want)
		}
	}
	var zero notice.ApprovedVersion
	if !zero.IsZero() {
		t.Error("the zero ApprovedVersion is not zero")
	}
}

func TestStateMoves(t *testing.T) {
	ok := [][2]notice.State{{notice.Draft, notice.InReview}, {notice.InReview, notice.Approved}, {notice.InReview, notice.ChangesRequested},
		{notice.ChangesRequested, notice.InReview}, {notice.Approved, notice.Withdrawn}}
	for _, m := range ok {
		if err := m[0].Move(m[1]); err != nil {
			t.Errorf("%s → %s: %v", m[0], m[1], err)
		}
	}
	bad := [][2]notice.State{{notice.Draft, notice.Approved}, {notice.Approved, notice.Draft}, {notice.Withdrawn, notice.Approved}, {notice.ChangesRequested, notice.Approved}}
	for _, m := range bad {
		if err := m[0].Move(m[1]); apperr.Code(err) != apperr.EINVALID {
			t.Errorf("%s → %s allowed", m[0], m[1])
		}
	}
	if !notice.Draft.Editable() || notice.Approved.Editable() || notice.InReview.Editable() {
		t.Error("editable states")
	}
}

func TestSelectVariant(t *testing.T) {
	c := notice.Content{Variants: []notice.Variant{
		{Name: "Cards, French", SegmentID: 1, Locale: "fr"},
		{Name: "Cards", SegmentID: 1},
		{Name: "French", Locale: "fr"},
	}}
	cards := func(id int64) bool { return id == 1 }
	none := func(int64) bool { return false }
	cases := []struct {
		locale string
		seg    func(int64) bool
		want   int
	}{
		{"fr-CA", cards, 0}, {"FR", cards, 0}, {"en-US", cards, 1}, {"fr-CA", none, 2}, {"en", none, -1}, {"fri", none, -1},
	}
	for _, k := range cases {
		if got := c.Select(k.locale, k.seg); got != k.want {
			t.Errorf("Select(%q): %d, want %d", k.locale, got, k.want)
		}
	}
}

func TestDiffAndChannels(t *testing.T) {
	a := notice.Content{Subject: "S", Body: "one\ntwo\nthree\n"}
	b := notice.Content{Subject: "S", Body: "one\n2\nthree\nfour\n", Variants: []notice.Variant{{Name: "V", Body: "x"}}}
	d := notice.Diff(a, b)
	if len(d) != 3 || d[0].Part != "body" || d[1].Part != "variants[0]" || d[2].Part != "variants[0].body" {
		t.Fatalf("parts: %+v", d)
	}
	var ops []string
	for _, l := range d[0].Lines {
		ops = append(ops, l.Op+l.Text)
	}
	if got := strings.Join(ops, "|"); got != "=one|-two|+2|=three|+four" {
		t.Fatalf("lines: %s", got)
	}
	if _, err := notice.ParseChannels([]string{"email", "fax"}); apperr.Code(err) != apperr.EINVALID || apperr.As(err).Field != "channels[1]" {
		t.Fatalf("unknown channel: %v", err)
	}
	if cs, err := notice.ParseChannels([]string{"sms", "sms", "email"}); err != nil || len(cs) != 2 {
		t.Fatalf("duplicates: %v %v", cs, err)
	}
	bad := notice.Content{Subject: "ok", Body: "{{.Facts.Nope}}", Variants: []notice.Variant{{Name: "v", Subject: "{{", Body: "b"}}}
	fields := apperr.Fields(bad.Parse())
	if fields["body"] == "" || fields["variants[0].subject"] == "" {
		t.Fatalf("content parse fields: %v", fields)
	}
}

// TestLawForbidsAPoint: a text only for Massachusetts residents is not
// asked to say what happened (the law there forbids it); a text that also
// goes to Californians still is.
func TestLawForbidsAPoint(t *testing.T) {
	body := "Dear {{.Recipient.Name}},\n\nWe are sorry to tell you about an incident.\n"
	in := notice.CheckInput{Content: notice.Content{Subject: "Important", Body: body}, AudienceKind: "affected_customers",
		Channels: []notice.Channel{notice.ChannelEmail}, Jurisdictions: []string{"US-MA"}}
	levels := func() map[string]notice.Level {
		m := map[string]notice.Level{}
		for _, f := range notice.Check(in) {
			m[f.Key] = f.Level
		}
		return m
	}
	if l := levels()["point:what_happened"]; l != notice.LevelInfo {
		t.Errorf("Massachusetts only: what_happened is %q, want info", l)
	}
	in.Jurisdictions = []string{"US-MA", "US-CA"}
	if l := levels()["point:what_happened"]; l != notice.LevelError {
		t.Errorf("Massachusetts and California: what_happened is %q, want error", l)
	}
}
