package public

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/candorhq/candor/internal/notice"
	"github.com/candorhq/candor/internal/status"
)

// alertSummaryMax is the most characters an alert's summary has, "…"
// included: about what a login banner or a push notification shows.
const alertSummaryMax = 280

// AlertJSON renders /api/v1/alert, what an app shows its users at login:
// the newest open incident (the one started last) as
//
//	{"active":true,"title":…,"summary":…,"severity":…,"impact":…,"url":…,
//	 "updated_at":…,"update_id":…,"incident_id":…}
//
// where summary is the plain text of its latest update in the page's
// default language, cut to about 280 characters, and the ids are Candor's
// numeric ids. With no open incident
// it is {"active":false,"url":…} with the page's address.
func AlertJSON(s *status.Snapshot) ([]byte, error) {
	var v any = struct {
		Active bool   `json:"active"`
		URL    string `json:"url"`
	}{false, s.Page.URL}
	if in, ok := newestOpen(s); ok {
		u := in.Latest()
		v = struct {
			Active     bool   `json:"active"`
			Title      string `json:"title"`
			Summary    string `json:"summary"`
			Severity   string `json:"severity"`
			Impact     string `json:"impact"`
			URL        string `json:"url"`
			UpdatedAt  string `json:"updated_at"`
			UpdateID   int64  `json:"update_id"`
			IncidentID int64  `json:"incident_id"`
		}{
			Active:     true,
			Title:      in.Title,
			Summary:    summaryOf(u.Body),
			Severity:   string(in.Severity),
			Impact:     status.Impact(in.Severity),
			URL:        incidentURL(s.Page, in.ID),
			UpdatedAt:  spTime(in.UpdatedAt),
			UpdateID:   u.ID,
			IncidentID: in.ID,
		}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("render alert: %w", err)
	}
	return b, nil
}

// newestOpen is the open incident started last (ties: the higher id).
func newestOpen(s *status.Snapshot) (status.Incident, bool) {
	open := s.Open()
	if len(open) == 0 {
		return status.Incident{}, false
	}
	return mostRecent(open, 1)[0], true
}

// summaryOf is a Markdown body as one line of plain text of at most
// alertSummaryMax characters. The underlines notice.Markdown puts under
// headings, and its rules, are dropped: on one line they are noise.
func summaryOf(body string) string {
	_, text := notice.Markdown(body)
	lines := strings.Split(text, "\n")
	kept := lines[:0]
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" && strings.Trim(l, "=-") == "" {
			continue
		}
		kept = append(kept, l)
	}
	return shorten(strings.Join(kept, " "), alertSummaryMax)
}

// shorten collapses s's white space to single spaces and, when it is
// longer than limit characters, cuts it at the last word boundary that
// leaves room for a trailing "…".
func shorten(s string, limit int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= limit {
		return s
	}
	r := []rune(s)
	head := r[:limit-1]
	if !unicode.IsSpace(r[limit-1]) {
		// The cut splits a word: drop that word, unless it is the only
		// one.
		for i := len(head) - 1; i > 0; i-- {
			if unicode.IsSpace(head[i]) {
				head = head[:i]
				break
			}
		}
	}
	out := strings.TrimRightFunc(string(head), func(c rune) bool {
		return unicode.IsSpace(c) || strings.ContainsRune(",;:-–—", c)
	})
	return out + "…"
}

// QuietJSON renders /api/v1/quiet-period:
// {"active":bool,"since":time|null,"reason":string}. since and reason are
// null and empty while the quiet period is off.
func QuietJSON(s *status.Snapshot) ([]byte, error) {
	b, err := json.Marshal(quietOf(s.Quiet))
	if err != nil {
		return nil, fmt.Errorf("render quiet period: %w", err)
	}
	return b, nil
}

// quietDoc is the public form of the quiet period; it leaves out who
// switched it on.
type quietDoc struct {
	Active bool    `json:"active"`
	Since  *string `json:"since"`
	Reason string  `json:"reason"`
}

func quietOf(q status.Quiet) quietDoc {
	if !q.Active {
		return quietDoc{}
	}
	return quietDoc{Active: true, Since: spTimePtr(q.Since), Reason: q.Reason}
}
