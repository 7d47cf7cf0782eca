package public

// Statuspage-compatible JSON: the public API v2 documents and the
// subscriber webhook envelope of Atlassian Statuspage, so that status bots,
// dashboards and aggregators written for Statuspage read Candor's page
// unchanged. Field names, nesting and enums follow the samples on the /api
// page every Statuspage page serves, completed with the fields live
// captures show; the fixtures in testdata/statuspage cite their sources.
//
// Statuspage ids are strings. Candor derives them from its numeric ids
// with a fixed prefix per kind, so they never change while the object
// exists and never collide across kinds:
//
//	incident 7  → "i7"
//	update 33   → "u33"
//	component 1 → "c1"
//
// The page id is status.Page.ID as it is.

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/status"
)

// maxIncidents is how many incidents incidents.json lists, as Statuspage
// does.
const maxIncidents = 50

// webhookDocumentation is where the webhook envelope's format is
// described; subscribers' parsers were written against that page.
const webhookDocumentation = "https://doers.statuspage.io/customer-notifications/webhooks/"

// StatuspageDocs renders the Statuspage API v2 documents of s, keyed by
// the path they are served at ("/api/v2/summary.json", …). Candor has no
// scheduled maintenances, so the three maintenance documents hold empty
// arrays. The output depends on s alone: the same snapshot gives the same
// bytes.
func StatuspageDocs(s *status.Snapshot) (map[string][]byte, error) {
	page := spPageOf(s)
	ind := s.Indicator()
	st := spStatus{Indicator: ind.Indicator, Description: ind.Description}
	components := spComponentsOf(s.Page.ID, s.Components)

	var unresolved []spIncident
	for _, in := range s.Open() {
		unresolved = append(unresolved, spIncidentOf(s.Page, in))
	}
	if unresolved == nil {
		unresolved = []spIncident{}
	}
	recent := make([]spIncident, 0, maxIncidents)
	for _, in := range mostRecent(s.Incidents, maxIncidents) {
		recent = append(recent, spIncidentOf(s.Page, in))
	}
	none := []struct{}{}

	docs := map[string]any{
		"/api/v2/summary.json": struct {
			Page                  spPage        `json:"page"`
			Components            []spComponent `json:"components"`
			Incidents             []spIncident  `json:"incidents"`
			ScheduledMaintenances []struct{}    `json:"scheduled_maintenances"`
			Status                spStatus      `json:"status"`
		}{page, components, unresolved, none, st},
		"/api/v2/status.json": struct {
			Page   spPage   `json:"page"`
			Status spStatus `json:"status"`
		}{page, st},
		"/api/v2/components.json": struct {
			Page       spPage        `json:"page"`
			Components []spComponent `json:"components"`
		}{page, components},
		"/api/v2/incidents.json":                       spIncidents{page, recent},
		"/api/v2/incidents/unresolved.json":            spIncidents{page, unresolved},
		"/api/v2/scheduled-maintenances.json":          spMaintenances{page, none},
		"/api/v2/scheduled-maintenances/upcoming.json": spMaintenances{page, none},
		"/api/v2/scheduled-maintenances/active.json":   spMaintenances{page, none},
	}
	out := make(map[string][]byte, len(docs))
	for path, v := range docs {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, fmt.Errorf("render %s: %w", path, err)
		}
		out[path] = b
	}
	return out, nil
}

// WebhookIncidentPayload renders the body POSTed to webhook subscribers
// about incident incidentID: Statuspage's incident envelope (meta, page,
// incident with its updates and components) plus a top-level event_type
// ("incident.created", "incident.updated"), as Better Stack adds it.
// unsubscribeURL is the subscriber's own unsubscribe link. It returns an
// ENOTFOUND error when s has no public incident incidentID and an EINVALID
// error when eventType is empty.
func WebhookIncidentPayload(s *status.Snapshot, incidentID int64, eventType, unsubscribeURL string, generatedAt time.Time) ([]byte, error) {
	if eventType == "" {
		return nil, apperr.Invalid("event_type", "the webhook event type is missing")
	}
	in, ok := s.Incident(incidentID)
	if !ok {
		return nil, apperr.NotFound("incident %d is not public", incidentID)
	}
	ind := s.Indicator()
	inc := whIncident{
		Name:           in.Title,
		Status:         status.StatuspageStatus(in.State),
		CreatedAt:      spTime(in.CreatedAt),
		UpdatedAt:      spTime(in.UpdatedAt),
		MonitoringAt:   spTimePtr(in.MonitoringAt),
		ResolvedAt:     spTimePtr(in.ResolvedAt),
		Impact:         status.Impact(in.Severity),
		Shortlink:      incidentURL(s.Page, in.ID),
		ID:             spIncidentID(in.ID),
		PageID:         s.Page.ID,
		IncidentUpdate: make([]whUpdate, len(in.Updates)),
		Components:     make([]whComponent, len(in.Components)),
	}
	affected := spAffectedOf(in.Components)
	for i, u := range in.Updates {
		inc.IncidentUpdate[i] = whUpdate{
			Status:               status.StatuspageStatus(u.Status),
			Body:                 u.Body,
			CreatedAt:            spTime(u.PublishAt),
			UpdatedAt:            spTime(u.UpdatedAt),
			DisplayAt:            spTime(u.DisplayAt),
			AffectedComponents:   affected,
			DeliverNotifications: u.Notify,
			ID:                   spUpdateID(u.ID),
			IncidentID:           spIncidentID(in.ID),
		}
	}
	for i, c := range in.Components {
		inc.Components[i] = whComponent{
			Status:      string(c.Status),
			Name:        c.Name,
			CreatedAt:   spTime(c.CreatedAt),
			UpdatedAt:   spTime(c.UpdatedAt),
			Position:    c.Position,
			Description: optional(c.Description),
			Showcase:    true,
			ID:          spComponentID(c.ID),
			PageID:      s.Page.ID,
		}
	}
	b, err := json.Marshal(struct {
		EventType string     `json:"event_type"`
		Meta      whMeta     `json:"meta"`
		Page      whPage     `json:"page"`
		Incident  whIncident `json:"incident"`
	}{
		EventType: eventType,
		Meta:      whMeta{Unsubscribe: unsubscribeURL, Documentation: webhookDocumentation, GeneratedAt: spTime(generatedAt)},
		Page:      whPage{ID: s.Page.ID, StatusIndicator: ind.Indicator, StatusDescription: ind.Description},
		Incident:  inc,
	})
	if err != nil {
		return nil, fmt.Errorf("render incident %d webhook: %w", incidentID, err)
	}
	return b, nil
}

// Quiet-period webhook events.
const (
	QuietStarted = "quiet_period.started"
	QuietEnded   = "quiet_period.ended"
)

// WebhookQuietPayload renders the body POSTed to webhook subscribers when
// the quiet period starts or ends: the event type, the quiet period as
// QuietJSON gives it, the page and the time. It returns an EINVALID error
// when eventType is neither QuietStarted nor QuietEnded, or contradicts
// s.Quiet.Active (a "started" event for a quiet period that is off).
func WebhookQuietPayload(s *status.Snapshot, eventType string, generatedAt time.Time) ([]byte, error) {
	switch {
	case eventType != QuietStarted && eventType != QuietEnded:
		return nil, apperr.Invalid("event_type", "unknown quiet-period event %q; use %s or %s", eventType, QuietStarted, QuietEnded)
	case (eventType == QuietStarted) != s.Quiet.Active:
		return nil, apperr.Invalid("event_type", "event %s does not match the quiet period (active: %t)", eventType, s.Quiet.Active)
	}
	b, err := json.Marshal(struct {
		EventType   string    `json:"event_type"`
		QuietPeriod quietDoc  `json:"quiet_period"`
		Page        pageIdent `json:"page"`
		GeneratedAt string    `json:"generated_at"`
	}{eventType, quietOf(s.Quiet), pageIdent{s.Page.ID, s.Page.Name, s.Page.URL}, spTime(generatedAt)})
	if err != nil {
		return nil, fmt.Errorf("render quiet-period webhook: %w", err)
	}
	return b, nil
}

type pageIdent struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	URL  string `json:"url"`
}

type spPage struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	URL       string `json:"url"`
	TimeZone  string `json:"time_zone"`
	UpdatedAt string `json:"updated_at"`
}

type spStatus struct {
	Indicator   string `json:"indicator"`
	Description string `json:"description"`
}

type spComponent struct {
	ID                 string  `json:"id"`
	Name               string  `json:"name"`
	Status             string  `json:"status"`
	CreatedAt          string  `json:"created_at"`
	UpdatedAt          string  `json:"updated_at"`
	Position           int     `json:"position"`
	Description        *string `json:"description"`
	Showcase           bool    `json:"showcase"`
	StartDate          *string `json:"start_date"`
	GroupID            *string `json:"group_id"`
	PageID             string  `json:"page_id"`
	Group              bool    `json:"group"`
	OnlyShowIfDegraded bool    `json:"only_show_if_degraded"`
}

type spIncident struct {
	ID              string        `json:"id"`
	Name            string        `json:"name"`
	Status          string        `json:"status"`
	CreatedAt       string        `json:"created_at"`
	UpdatedAt       string        `json:"updated_at"`
	MonitoringAt    *string       `json:"monitoring_at"`
	ResolvedAt      *string       `json:"resolved_at"`
	Impact          string        `json:"impact"`
	Shortlink       string        `json:"shortlink"`
	StartedAt       string        `json:"started_at"`
	PageID          string        `json:"page_id"`
	IncidentUpdates []spUpdate    `json:"incident_updates"`
	Components      []spComponent `json:"components"`
}

type spUpdate struct {
	ID                   string       `json:"id"`
	Status               string       `json:"status"`
	Body                 string       `json:"body"`
	IncidentID           string       `json:"incident_id"`
	CreatedAt            string       `json:"created_at"`
	UpdatedAt            string       `json:"updated_at"`
	DisplayAt            string       `json:"display_at"`
	AffectedComponents   []spAffected `json:"affected_components"`
	DeliverNotifications bool         `json:"deliver_notifications"`
	CustomTweet          *string      `json:"custom_tweet"`
	TweetID              *string      `json:"tweet_id"`
}

type spAffected struct {
	Code      string `json:"code"`
	Name      string `json:"name"`
	OldStatus string `json:"old_status"`
	NewStatus string `json:"new_status"`
}

type spIncidents struct {
	Page      spPage       `json:"page"`
	Incidents []spIncident `json:"incidents"`
}

type spMaintenances struct {
	Page                  spPage     `json:"page"`
	ScheduledMaintenances []struct{} `json:"scheduled_maintenances"`
}

// The webhook envelope differs from the API documents in small ways (no
// started_at, no tweet_id, components without group fields, postmortem
// and scheduling fields), so it has its own types.

type whMeta struct {
	Unsubscribe   string `json:"unsubscribe"`
	Documentation string `json:"documentation"`
	GeneratedAt   string `json:"generated_at"`
}

type whPage struct {
	ID                string `json:"id"`
	StatusIndicator   string `json:"status_indicator"`
	StatusDescription string `json:"status_description"`
}

type whIncident struct {
	Name                          string        `json:"name"`
	Status                        string        `json:"status"`
	CreatedAt                     string        `json:"created_at"`
	UpdatedAt                     string        `json:"updated_at"`
	MonitoringAt                  *string       `json:"monitoring_at"`
	ResolvedAt                    *string       `json:"resolved_at"`
	Impact                        string        `json:"impact"`
	Shortlink                     string        `json:"shortlink"`
	PostmortemIgnored             bool          `json:"postmortem_ignored"`
	PostmortemBody                *string       `json:"postmortem_body"`
	PostmortemBodyLastUpdatedAt   *string       `json:"postmortem_body_last_updated_at"`
	PostmortemPublishedAt         *string       `json:"postmortem_published_at"`
	PostmortemNotifiedSubscribers bool          `json:"postmortem_notified_subscribers"`
	PostmortemNotifiedTwitter     bool          `json:"postmortem_notified_twitter"`
	Backfilled                    bool          `json:"backfilled"`
	ScheduledFor                  *string       `json:"scheduled_for"`
	ScheduledUntil                *string       `json:"scheduled_until"`
	ScheduledRemindPrior          bool          `json:"scheduled_remind_prior"`
	ScheduledRemindedAt           *string       `json:"scheduled_reminded_at"`
	ImpactOverride                *string       `json:"impact_override"`
	ScheduledAutoInProgress       bool          `json:"scheduled_auto_in_progress"`
	ScheduledAutoCompleted        bool          `json:"scheduled_auto_completed"`
	ID                            string        `json:"id"`
	PageID                        string        `json:"page_id"`
	IncidentUpdate                []whUpdate    `json:"incident_updates"`
	Components                    []whComponent `json:"components"`
}

type whUpdate struct {
	Status               string       `json:"status"`
	Body                 string       `json:"body"`
	CreatedAt            string       `json:"created_at"`
	WantsTwitterUpdate   bool         `json:"wants_twitter_update"`
	TwitterUpdatedAt     *string      `json:"twitter_updated_at"`
	UpdatedAt            string       `json:"updated_at"`
	DisplayAt            string       `json:"display_at"`
	AffectedComponents   []spAffected `json:"affected_components"`
	CustomTweet          *string      `json:"custom_tweet"`
	DeliverNotifications bool         `json:"deliver_notifications"`
	ID                   string       `json:"id"`
	IncidentID           string       `json:"incident_id"`
}

type whComponent struct {
	Status      string  `json:"status"`
	Name        string  `json:"name"`
	CreatedAt   string  `json:"created_at"`
	UpdatedAt   string  `json:"updated_at"`
	Position    int     `json:"position"`
	Description *string `json:"description"`
	Showcase    bool    `json:"showcase"`
	ID          string  `json:"id"`
	PageID      string  `json:"page_id"`
	GroupID     *string `json:"group_id"`
}

func spPageOf(s *status.Snapshot) spPage {
	return spPage{ID: s.Page.ID, Name: s.Page.Name, URL: s.Page.URL, TimeZone: "Etc/UTC", UpdatedAt: spTime(s.UpdatedAt)}
}

func spComponentsOf(pageID string, cs []status.Affected) []spComponent {
	out := make([]spComponent, len(cs))
	for i, c := range cs {
		out[i] = spComponent{
			ID:          spComponentID(c.ID),
			Name:        c.Name,
			Status:      string(c.Status),
			CreatedAt:   spTime(c.CreatedAt),
			UpdatedAt:   spTime(c.UpdatedAt),
			Position:    c.Position,
			Description: optional(c.Description),
			Showcase:    true,
			PageID:      pageID,
		}
	}
	return out
}

// spAffectedOf lists an incident's components as its updates report them.
// Candor keeps no history of component statuses per update, so old and
// new status are both the status the incident gives the component now.
func spAffectedOf(cs []status.Affected) []spAffected {
	out := make([]spAffected, len(cs))
	for i, c := range cs {
		out[i] = spAffected{Code: spComponentID(c.ID), Name: c.Name, OldStatus: string(c.Status), NewStatus: string(c.Status)}
	}
	return out
}

func spIncidentOf(p status.Page, in status.Incident) spIncident {
	out := spIncident{
		ID:              spIncidentID(in.ID),
		Name:            in.Title,
		Status:          status.StatuspageStatus(in.State),
		CreatedAt:       spTime(in.CreatedAt),
		UpdatedAt:       spTime(in.UpdatedAt),
		MonitoringAt:    spTimePtr(in.MonitoringAt),
		ResolvedAt:      spTimePtr(in.ResolvedAt),
		Impact:          status.Impact(in.Severity),
		Shortlink:       incidentURL(p, in.ID),
		StartedAt:       spTime(in.StartedAt),
		PageID:          p.ID,
		IncidentUpdates: make([]spUpdate, len(in.Updates)),
		Components:      spComponentsOf(p.ID, in.Components),
	}
	affected := spAffectedOf(in.Components)
	for i, u := range in.Updates {
		out.IncidentUpdates[i] = spUpdate{
			ID:                   spUpdateID(u.ID),
			Status:               status.StatuspageStatus(u.Status),
			Body:                 u.Body,
			IncidentID:           spIncidentID(in.ID),
			CreatedAt:            spTime(u.PublishAt),
			UpdatedAt:            spTime(u.UpdatedAt),
			DisplayAt:            spTime(u.DisplayAt),
			AffectedComponents:   affected,
			DeliverNotifications: u.Notify,
		}
	}
	return out
}

// mostRecent returns at most n incidents, most recently started first
// (ties: the higher id first, so the order never depends on the input's).
func mostRecent(ins []status.Incident, n int) []status.Incident {
	sorted := append([]status.Incident(nil), ins...)
	sort.SliceStable(sorted, func(i, j int) bool {
		a, b := sorted[i], sorted[j]
		if !a.StartedAt.Equal(b.StartedAt) {
			return a.StartedAt.After(b.StartedAt)
		}
		return a.ID > b.ID
	})
	if len(sorted) > n {
		sorted = sorted[:n]
	}
	return sorted
}

func spIncidentID(id int64) string  { return "i" + strconv.FormatInt(id, 10) }
func spUpdateID(id int64) string    { return "u" + strconv.FormatInt(id, 10) }
func spComponentID(id int64) string { return "c" + strconv.FormatInt(id, 10) }

// incidentURL is the public page of incident id.
func incidentURL(p status.Page, id int64) string {
	return p.URL + "/incidents/" + strconv.FormatInt(id, 10)
}

// spTime formats t as Statuspage does: RFC 3339 in UTC with milliseconds
// ("2026-10-01T09:12:44.120Z").
func spTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func spTimePtr(t *time.Time) *string {
	if t == nil {
		return nil
	}
	s := spTime(*t)
	return &s
}

// optional is nil for the empty string: Statuspage writes null for an
// unset description.
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
