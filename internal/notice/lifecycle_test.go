package notice

import (
	"strings"
	"testing"

	"github.com/candorhq/candor/internal/apperr"
)

func TestStateMoves(t *testing.T) {
	allowed := map[[2]State]bool{
		{Draft, InReview}: true, {InReview, Approved}: true, {InReview, ChangesRequested}: true, {InReview, Draft}: true,
		{ChangesRequested, InReview}: true, {Approved, Withdrawn}: true,
	}
	for _, from := range States {
		for _, to := range States {
			err := from.Move(to)
			if (err == nil) != allowed[[2]State{from, to}] {
				t.Errorf("%s → %s: %v", from, to, err)
			}
			if err != nil && apperr.As(err).Code != apperr.EINVALID {
				t.Errorf("%s → %s: code %s", from, to, apperr.As(err).Code)
			}
		}
	}
	if err := Withdrawn.Move(Draft); err == nil || !strings.Contains(err.Error(), "final") {
		t.Errorf("withdrawn is final: %v", err)
	}
	if !Draft.Editable() || !ChangesRequested.Editable() || InReview.Editable() || Approved.Editable() {
		t.Error("only drafts and versions sent back may be edited in place")
	}
}

func TestSelectVariant(t *testing.T) {
	c := Content{Variants: []Variant{
		{Name: "cards, French", SegmentID: 1, Locale: "fr"},
		{Name: "cards", SegmentID: 1},
		{Name: "everyone, German", Locale: "de"},
	}}
	in := func(ids ...int64) func(int64) bool {
		return func(id int64) bool {
			for _, x := range ids {
				if x == id {
					return true
				}
			}
			return false
		}
	}
	cases := []struct {
		locale string
		match  func(int64) bool
		want   int
	}{
		{"fr-CA", in(1), 0},
		{"FR", in(1), 0},
		{"en", in(1), 1},
		{"de-AT", in(), 2},
		{"de", in(1), 2}, // a text in their language beats a generic one, as documented
		{"en", in(), -1},
	}
	for _, c2 := range cases {
		if got := c.Select(c2.locale, c2.match); got != c2.want {
			t.Errorf("Select(%q) = %d, want %d", c2.locale, got, c2.want)
		}
	}
	s, b := (Content{Subject: "s", Body: "b", Variants: []Variant{{Subject: "vs", Body: "vb"}}}).Text(0)
	if s != "vs" || b != "vb" {
		t.Error("Text(0)")
	}
	if s, _ := (Content{Subject: "s"}).Text(5); s != "s" {
		t.Error("Text out of range is the default")
	}
}

func TestCertify(t *testing.T) {
	c := Content{Subject: "Notice", Body: "Hello"}
	h := c.Hash()
	base := Version{ID: 9, NoticeID: 1, Number: 2, State: Approved, AuthorID: 10, Content: c, ContentHash: h, Policy: Policy{Approvals: 1}}
	ok := base
	ok.Reviews = []Review{{ReviewerID: 11, Decision: DecisionApprove, ContentHash: h}}
	a, err := Certify(ok)
	if err != nil || a.IsZero() || a.Version().ContentHash != h {
		t.Fatalf("approved version refused: %v", err)
	}
	deny := map[string]func(v *Version){
		"draft":           func(v *Version) { v.State = Draft },
		"in review":       func(v *Version) { v.State = InReview },
		"author approved": func(v *Version) { v.Reviews = []Review{{ReviewerID: 10, Decision: DecisionApprove, ContentHash: h}} },
		"no reviews":      func(v *Version) { v.Reviews = nil },
		"changes requested": func(v *Version) {
			v.Reviews = []Review{{ReviewerID: 11, Decision: DecisionRequestChanges, ContentHash: h}}
		},
		"approved old text": func(v *Version) {
			v.Reviews = []Review{{ReviewerID: 11, Decision: DecisionApprove, ContentHash: "old"}}
		},
		"text changed after": func(v *Version) { v.Content.Body = "Changed" },
		"two needed, one twice": func(v *Version) {
			v.Policy.Approvals = 2
			v.Reviews = []Review{{ReviewerID: 11, Decision: DecisionApprove, ContentHash: h}, {ReviewerID: 11, Decision: DecisionApprove, ContentHash: h}}
		},
	}
	for name, change := range deny {
		v := ok
		v.Reviews = append([]Review(nil), ok.Reviews...)
		change(&v)
		a, err := Certify(v)
		if err == nil || !a.IsZero() || apperr.As(err).Code != apperr.EFORBIDDEN {
			t.Errorf("%s: certified (%v)", name, err)
		}
	}
	two := ok
	two.Policy = DefaultPolicy("regulators")
	two.Reviews = []Review{{ReviewerID: 11, Decision: DecisionApprove, ContentHash: h}, {ReviewerID: 12, Decision: DecisionApprove, ContentHash: h}}
	if _, err := Certify(two); err != nil {
		t.Errorf("two approvers for a regulator notice: %v", err)
	}
	// The proof hands out copies: changing them changes nothing.
	v := a.Version()
	v.Content.Variants = append(v.Content.Variants, Variant{Body: "x"})
	if len(a.Version().Content.Variants) != 0 {
		t.Error("ApprovedVersion exposed its variants")
	}
}
