package notice

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/candorhq/candor/internal/apperr"
)

// Notice is one piece of the response package of an incident — the
// customer alert, the press release — for one audience kind and one or more
// channels. Its text lives in versions; CurrentVersion is the newest.
type Notice struct {
	ID           int64     `json:"id"`
	IncidentID   int64     `json:"incident_id"`
	Title        string    `json:"title"`
	AudienceKind string    `json:"audience_kind"`
	AudienceID   int64     `json:"audience_id,omitempty"` // the incident audience it goes to; 0 when none yet
	Channels     []Channel `json:"channels"`
	// PlaybookKey and ItemKey say which playbook item it came from, if any.
	PlaybookKey string `json:"playbook_key,omitempty"`
	ItemKey     string `json:"item_key,omitempty"`
	// Offset is when it is planned to go out relative to the announcement
	// ("0", "14h", "-2h", "on_resolved"; see playbook.ParseOffset).
	Offset         string    `json:"offset,omitempty"`
	CurrentVersion int       `json:"current_version"`
	State          State     `json:"state"` // of the current version
	CreatedBy      int64     `json:"created_by,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
}

// New is a notice to create.
type New struct {
	IncidentID   int64     `json:"-"`
	Title        string    `json:"title"`
	AudienceKind string    `json:"audience_kind"`
	AudienceID   int64     `json:"audience_id,omitempty"`
	Channels     []Channel `json:"channels"`
	PlaybookKey  string    `json:"-"`
	ItemKey      string    `json:"-"`
	Offset       string    `json:"offset,omitempty"`
	Content      Content   `json:"content"`
}

// MaxTitle is the longest notice title, in characters.
const MaxTitle = 200

// ValidateTitle checks a notice title.
func ValidateTitle(title string) error {
	switch t := strings.TrimSpace(title); {
	case t == "":
		return apperr.Invalid("title", "give the notice a title, e.g. \"Customer alert\"")
	case utf8.RuneCountInString(t) > MaxTitle:
		return apperr.Invalid("title", "the title is %d characters long; keep it under %d", utf8.RuneCountInString(t), MaxTitle)
	}
	return nil
}

// Validate checks a new notice's title, channels and template text. The
// audience kind is checked by the caller, which knows the vocabulary.
func (n *New) Validate() error {
	var list apperr.List
	n.Title = strings.TrimSpace(n.Title)
	if err := ValidateTitle(n.Title); err != nil {
		list = append(list, apperr.As(err))
	}
	names := make([]string, len(n.Channels))
	for i, c := range n.Channels {
		names[i] = string(c)
	}
	if cs, err := ParseChannels(names); err != nil {
		list = append(list, apperr.As(err))
	} else {
		n.Channels = cs
	}
	if err := n.Content.ValidateVariants(); err != nil {
		list = append(list, apperr.Flatten(err)...)
	}
	if err := n.Content.Parse(); err != nil {
		list = append(list, apperr.Flatten(err)...)
	}
	return list.Err()
}

// ValidateVariants checks a variant list's shape (the templates are checked by
// Parse): names are required and locales well-formed.
func (c Content) ValidateVariants() error {
	var list apperr.List
	for i, v := range c.Variants {
		if strings.TrimSpace(v.Name) == "" {
			list = append(list, apperr.Invalid(fmt.Sprintf("variants[%d].name", i), "name the variant, e.g. \"Card and expiry exposed\" or \"French\""))
		}
		if v.SegmentID < 0 {
			list = append(list, apperr.Invalid(fmt.Sprintf("variants[%d].segment_id", i), "segment_id must be a segment of the incident, or 0 for everyone"))
		}
		if len(v.Locale) > 35 || strings.ContainsAny(v.Locale, " \t\r\n") {
			list = append(list, apperr.Invalid(fmt.Sprintf("variants[%d].locale", i), "locale %q is not a BCP 47 tag such as fr or fr-CA", v.Locale))
		}
	}
	return list.Err()
}

// LineChange is one line of a diff between two texts.
type LineChange struct {
	Op   string `json:"op"` // "=", "-" or "+"
	Text string `json:"text"`
}

// TextDiff is the difference between two versions of one part of a notice
// ("subject", "body", "variants[0].body").
type TextDiff struct {
	Part  string       `json:"part"`
	Lines []LineChange `json:"lines"`
}

// Diff compares two contents part by part, leaving out parts that did not
// change.
func Diff(a, b Content) []TextDiff {
	var out []TextDiff
	add := func(part, x, y string) {
		if x == y {
			return
		}
		out = append(out, TextDiff{Part: part, Lines: DiffLines(x, y)})
	}
	add("subject", a.Subject, b.Subject)
	add("body", a.Body, b.Body)
	for i := range max(len(a.Variants), len(b.Variants)) {
		var va, vb Variant
		if i < len(a.Variants) {
			va = a.Variants[i]
		}
		if i < len(b.Variants) {
			vb = b.Variants[i]
		}
		head := func(v Variant) string {
			if v == (Variant{}) {
				return ""
			}
			return fmt.Sprintf("name: %s; segment: %d; locale: %s", v.Name, v.SegmentID, v.Locale)
		}
		add(fmt.Sprintf("variants[%d]", i), head(va), head(vb))
		add(fmt.Sprintf("variants[%d].subject", i), va.Subject, vb.Subject)
		add(fmt.Sprintf("variants[%d].body", i), va.Body, vb.Body)
	}
	return out
}

// DiffLines is a line diff of a and b by longest common subsequence. Texts
// are bounded by MaxBodyTemplate, so the quadratic table stays small; past
// 2,000 lines on either side it falls back to "all removed, all added".
func DiffLines(a, b string) []LineChange {
	x, y := splitLines(a), splitLines(b)
	if len(x) > 2000 || len(y) > 2000 {
		var out []LineChange
		for _, l := range x {
			out = append(out, LineChange{"-", l})
		}
		for _, l := range y {
			out = append(out, LineChange{"+", l})
		}
		return out
	}
	n, m := len(x), len(y)
	lcs := make([][]int32, n+1)
	for i := range lcs {
		lcs[i] = make([]int32, m+1)
	}
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if x[i] == y[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out []LineChange
	i, j := 0, 0
	for i < n && j < m {
		switch {
		case x[i] == y[j]:
			out = append(out, LineChange{"=", x[i]})
			i++
			j++
		case lcs[i+1][j] >= lcs[i][j+1]:
			out = append(out, LineChange{"-", x[i]})
			i++
		default:
			out = append(out, LineChange{"+", y[j]})
			j++
		}
	}
	for ; i < n; i++ {
		out = append(out, LineChange{"-", x[i]})
	}
	for ; j < m; j++ {
		out = append(out, LineChange{"+", y[j]})
	}
	return out
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}
