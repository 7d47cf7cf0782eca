package notice

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/candorhq/candor/internal/apperr"
)

// State is where a notice version is in review.
type State string

// The states of a notice version. A version's text never changes once it
// has left draft: editing an approved (or in-review) notice makes a new
// draft version, and the earlier one stays as it was.
const (
	Draft            State = "draft"
	InReview         State = "in_review"
	ChangesRequested State = "changes_requested"
	Approved         State = "approved"
	Withdrawn        State = "withdrawn"
)

// States lists every state in lifecycle order.
var States = []State{Draft, InReview, ChangesRequested, Approved, Withdrawn}

var moves = map[State][]State{
	Draft:            {InReview},
	InReview:         {Approved, ChangesRequested, Draft},
	ChangesRequested: {InReview},
	Approved:         {Withdrawn},
}

// Valid reports whether s is a known state.
func (s State) Valid() bool { return slices.Contains(States, s) }

// Label is the state for people.
func (s State) Label() string {
	switch s {
	case InReview:
		return "In review"
	case ChangesRequested:
		return "Changes requested"
	}
	if s == "" {
		return ""
	}
	return strings.ToUpper(string(s[:1])) + string(s[1:])
}

// CanMove reports whether a version may go from s to to.
func (s State) CanMove(to State) bool { return slices.Contains(moves[s], to) }

// Move returns an apperr.EINVALID naming both states when the move is not
// allowed, and nil when it is.
func (s State) Move(to State) error {
	if s.CanMove(to) {
		return nil
	}
	var next []string
	for _, n := range moves[s] {
		next = append(next, string(n))
	}
	hint := "it is final"
	if len(next) > 0 {
		hint = "from " + string(s) + " it can go to " + strings.Join(next, " or ")
	}
	return apperr.Invalid("state", "a %s notice cannot be moved to %s: %s", s.Label(), to, hint)
}

// Editable reports whether a version in state s may be changed in place.
// Only drafts and versions sent back with changes requested may; anything
// else is edited by making a new draft version.
func (s State) Editable() bool { return s == Draft || s == ChangesRequested }

// Channel is where a notice is delivered or published.
type Channel string

// The channels a notice can be written for.
const (
	ChannelEmail      Channel = "email"
	ChannelSMS        Channel = "sms"
	ChannelStatusPage Channel = "status_page"
	ChannelBanner     Channel = "banner"
	ChannelInApp      Channel = "in_app"
	ChannelSocial     Channel = "social"
	ChannelLetter     Channel = "letter"
)

// Channels lists every channel.
var Channels = []Channel{ChannelEmail, ChannelSMS, ChannelStatusPage, ChannelBanner, ChannelInApp, ChannelSocial, ChannelLetter}

// ParseChannels checks a list of channel names.
func ParseChannels(names []string) ([]Channel, error) {
	var out []Channel
	for i, n := range names {
		c := Channel(strings.TrimSpace(n))
		if !slices.Contains(Channels, c) {
			return nil, apperr.Invalid(fmt.Sprintf("channels[%d]", i), "unknown channel %q; use one of %s", n, joinChannels())
		}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, apperr.Invalid("channels", "choose at least one channel: %s", joinChannels())
	}
	return out, nil
}

func joinChannels() string {
	s := make([]string, len(Channels))
	for i, c := range Channels {
		s[i] = string(c)
	}
	return strings.Join(s, ", ")
}

// Variant is an alternative text of a notice for one segment of the
// audience and/or one locale. SegmentID 0 means everyone; Locale "" means
// any language.
type Variant struct {
	Name      string `json:"name"`
	SegmentID int64  `json:"segment_id,omitempty"`
	Locale    string `json:"locale,omitempty"`
	Subject   string `json:"subject"`
	Body      string `json:"body"`
}

// Content is the text of one notice version: the default subject and body
// and the ordered variants.
type Content struct {
	Subject  string    `json:"subject"`
	Body     string    `json:"body"`
	Variants []Variant `json:"variants,omitempty"`
}

// Hash is a digest of everything a recipient could be sent: approvals
// record it, and an approval counts only for the content it was given to.
func (c Content) Hash() string {
	b, _ := json.Marshal(c)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Parse parses the default text and every variant, reporting every problem
// with its variant index in the field name ("variants[1].body").
func (c Content) Parse() error {
	var list apperr.List
	add := func(prefix string, err error) {
		for _, e := range apperr.Flatten(err) {
			c := *e
			c.Field = prefix + c.Field
			list = append(list, &c)
		}
	}
	if _, err := Parse(c.Subject, c.Body); err != nil {
		add("", err)
	}
	for i, v := range c.Variants {
		if _, err := Parse(v.Subject, v.Body); err != nil {
			add(fmt.Sprintf("variants[%d].", i), err)
		}
	}
	return list.Err()
}

// Select returns the index of the variant a recipient gets (-1 for the
// default text), given whether each variant's segment matches them. Among
// the variants whose segment matches, in order, the first whose locale
// matches the recipient's language wins, then the first without a locale.
func (c Content) Select(locale string, segmentMatches func(segmentID int64) bool) int {
	fallback := -1
	for i, v := range c.Variants {
		if v.SegmentID != 0 && !segmentMatches(v.SegmentID) {
			continue
		}
		if v.Locale == "" {
			if fallback < 0 {
				fallback = i
			}
			continue
		}
		if localeMatches(v.Locale, locale) {
			return i
		}
	}
	return fallback
}

// Text returns the subject and body of variant i (-1: the default).
func (c Content) Text(i int) (subject, body string) {
	if i < 0 || i >= len(c.Variants) {
		return c.Subject, c.Body
	}
	return c.Variants[i].Subject, c.Variants[i].Body
}

func localeMatches(want, have string) bool {
	want, have = strings.ToLower(want), strings.ToLower(have)
	return have == want || strings.HasPrefix(have, want+"-")
}

// Policy says how many approvers a notice version needs: the two-person rule
// is one approver who is not the author; regulator notices need two.
type Policy struct {
	Approvals int
}

// DefaultPolicy returns the approvals needed for an audience kind.
func DefaultPolicy(audienceKind string) Policy {
	if audienceKind == "regulators" {
		return Policy{Approvals: 2}
	}
	return Policy{Approvals: 1}
}

// Review is one reviewer's decision on a version.
type Review struct {
	ReviewerID  int64     `json:"reviewer_id"`
	Reviewer    string    `json:"reviewer"`
	Decision    string    `json:"decision"` // "approve" or "request_changes"
	Comment     string    `json:"comment"`
	ContentHash string    `json:"content_hash"`
	At          time.Time `json:"at"`
}

// Review decisions.
const (
	DecisionApprove        = "approve"
	DecisionRequestChanges = "request_changes"
)

// Version is one stored version of a notice, as the store reads it.
type Version struct {
	ID          int64
	NoticeID    int64
	Number      int
	State       State
	AuthorID    int64
	Content     Content
	ContentHash string
	Policy      Policy
	Reviews     []Review
}

// ApprovedVersion is the proof that a notice version was approved. Its
// fields are unexported and the only way to obtain one is Certify, so code
// that sends or publishes — which takes an ApprovedVersion, never a Version
// — cannot be handed text that was not approved: the state must be
// approved, the stored text must hash to what it says, and enough distinct
// approvers other than the author must have approved exactly that text.
type ApprovedVersion struct {
	v Version
}

// Certify checks v and its reviews and returns the proof of approval, or an
// apperr.EFORBIDDEN saying exactly why the version may not go out.
func Certify(v Version) (ApprovedVersion, error) {
	deny := func(format string, args ...any) (ApprovedVersion, error) {
		return ApprovedVersion{}, apperr.Forbidden("notice %d version %d is not approved: %s", v.NoticeID, v.Number, fmt.Sprintf(format, args...))
	}
	if v.State != Approved {
		return deny("it is %s", v.State.Label())
	}
	hash := v.Content.Hash()
	if v.ContentHash != hash {
		return deny("its text was changed after approval (stored hash %.12s…, text hashes to %.12s…)", v.ContentHash, hash)
	}
	need := max(v.Policy.Approvals, 1)
	seen := map[int64]bool{}
	for _, r := range v.Reviews {
		if r.Decision != DecisionApprove || r.ContentHash != hash || r.ReviewerID == v.AuthorID || seen[r.ReviewerID] {
			continue
		}
		seen[r.ReviewerID] = true
	}
	if len(seen) < need {
		return deny("it has %d approval(s) of this text by someone other than the author; it needs %d", len(seen), need)
	}
	return ApprovedVersion{v: v}, nil
}

// Version returns a copy of the approved version.
func (a ApprovedVersion) Version() Version {
	v := a.v
	v.Content.Variants = slices.Clone(v.Content.Variants)
	v.Reviews = slices.Clone(v.Reviews)
	return v
}

// IsZero reports whether a is the zero value (no proof at all).
func (a ApprovedVersion) IsZero() bool { return a.v.ID == 0 }
