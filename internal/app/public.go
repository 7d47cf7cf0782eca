package app

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/incident"
	"github.com/candorhq/candor/internal/notice"
	"github.com/candorhq/candor/internal/status"
	"github.com/candorhq/candor/internal/store"
)

// UpdateRequest is the input to post a status page update.
type UpdateRequest struct {
	Status       incident.State         `json:"status"`
	Body         string                 `json:"body"`
	WhatToDo     string                 `json:"what_to_do"`
	Translations map[string]status.Text `json:"translations"`
	// DisplayAt is the time the page shows; earlier than now backdates the
	// update. Zero: when it is published.
	DisplayAt time.Time `json:"display_at,omitzero"`
	// PublishAt schedules the update; zero: now.
	PublishAt time.Time `json:"publish_at,omitzero"`
	// Notify sends the update to subscribers (email and webhooks).
	Notify bool `json:"notify"`
}

// MaxUpdateText is the longest update body, in characters.
const MaxUpdateText = 20000

var localeShape = regexp.MustCompile(`^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$`)

func validateText(field string, t status.Text, required bool) apperr.List {
	var errs apperr.List
	switch n := utf8.RuneCountInString(t.Body); {
	case strings.TrimSpace(t.Body) == "" && required:
		errs = append(errs, apperr.Invalid(field+"body", "write what is going on, in plain words"))
	case n > MaxUpdateText:
		errs = append(errs, apperr.Invalid(field+"body", "the update is %d characters; keep it under %d", n, MaxUpdateText))
	}
	if n := utf8.RuneCountInString(t.WhatToDo); n > MaxUpdateText {
		errs = append(errs, apperr.Invalid(field+"what_to_do", "the advice is %d characters; keep it under %d", n, MaxUpdateText))
	}
	return errs
}

// validate checks and normalizes the request; now is the current time.
func (r *UpdateRequest) validate(now time.Time) error {
	r.Body, r.WhatToDo = strings.TrimSpace(r.Body), strings.TrimSpace(r.WhatToDo)
	var errs apperr.List
	if !r.Status.Valid() {
		errs = append(errs, apperr.Invalid("status", "unknown status %q; use investigating, identified, contained, resolved or closed", r.Status))
	}
	errs = append(errs, validateText("", status.Text{Body: r.Body, WhatToDo: r.WhatToDo}, true)...)
	errs = append(errs, validateTranslations(r.Translations)...)
	if r.PublishAt.IsZero() {
		r.PublishAt = now
	} else if r.PublishAt.Before(now.Add(-time.Minute)) {
		errs = append(errs, apperr.Invalid("publish_at", "%s is in the past; to show an earlier time, set display_at and leave publish_at empty", r.PublishAt.UTC().Format(time.RFC3339)))
	}
	if r.PublishAt.Before(now) {
		r.PublishAt = now
	}
	if r.DisplayAt.IsZero() {
		r.DisplayAt = r.PublishAt
	} else if r.DisplayAt.After(r.PublishAt.Add(time.Minute)) {
		errs = append(errs, apperr.Invalid("display_at", "the time shown cannot be later than the time the update is published (%s)", r.PublishAt.UTC().Format(time.RFC3339)))
	}
	r.PublishAt, r.DisplayAt = r.PublishAt.UTC().Truncate(time.Second), r.DisplayAt.UTC().Truncate(time.Second)
	return errs.Err()
}

func validateTranslations(tr map[string]status.Text) apperr.List {
	var errs apperr.List
	for _, l := range slices.Sorted(mapKeys(tr)) {
		t := tr[l]
		if !localeShape.MatchString(l) {
			errs = append(errs, apperr.Invalid("translations."+l, "%q is not a language tag; write it like fr or pt-BR", l))
			continue
		}
		t.Body, t.WhatToDo = strings.TrimSpace(t.Body), strings.TrimSpace(t.WhatToDo)
		tr[l] = t
		errs = append(errs, validateText("translations."+l+".", t, true)...)
	}
	return errs
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// PublishUpdate posts an update on an incident's public timeline (now or
// at req.PublishAt). Only approvers and admins may: what the public reads
// is approved text.
func (s *Service) PublishUpdate(ctx context.Context, p auth.Principal, incidentID int64, req UpdateRequest) (status.Update, error) {
	if err := p.Require(auth.PublishUpdate); err != nil {
		return status.Update{}, err
	}
	if err := req.validate(s.db.Now()); err != nil {
		return status.Update{}, err
	}
	if req.Notify && p.UserID == 0 {
		// The subscriber email is approved by the person who publishes;
		// a principal without an account cannot approve anything.
		return status.Update{}, apperr.Invalid("notify", "sending to subscribers needs an approver's account; post the update from the UI or with an approver's API token, or set notify to false")
	}
	u, err := s.db.CreateUpdate(ctx, p, status.Update{IncidentID: incidentID, Status: req.Status, Body: req.Body, WhatToDo: req.WhatToDo,
		Translations: req.Translations, DisplayAt: req.DisplayAt, PublishAt: req.PublishAt, Notify: req.Notify}, 0)
	if err != nil {
		return u, err
	}
	s.log.Info("update_published", "incident", incidentID, "update", u.ID, "status", u.Status, "publish_at", u.PublishAt, "notify", u.Notify, "by", p.Label())
	s.publicChanged()
	return u, nil
}

// EditRequest corrects an update's text.
type EditRequest struct {
	Body         string                 `json:"body"`
	WhatToDo     string                 `json:"what_to_do"`
	Translations map[string]status.Text `json:"translations"`
	// Reason is shown with the correction ("Wrong date").
	Reason string `json:"reason"`
}

// EditUpdate corrects a published update. The page marks it edited and
// keeps the earlier text visible: corrections are never silent.
func (s *Service) EditUpdate(ctx context.Context, p auth.Principal, id int64, req EditRequest) (status.Update, error) {
	if err := p.Require(auth.PublishUpdate); err != nil {
		return status.Update{}, err
	}
	req.Reason = strings.TrimSpace(req.Reason)
	t := status.Text{Body: strings.TrimSpace(req.Body), WhatToDo: strings.TrimSpace(req.WhatToDo)}
	errs := validateText("", t, true)
	errs = append(errs, validateTranslations(req.Translations)...)
	if req.Reason == "" {
		errs = append(errs, apperr.Invalid("reason", "say why the update changes (\"Wrong number of customers\"); readers see it"))
	} else if utf8.RuneCountInString(req.Reason) > 500 {
		errs = append(errs, apperr.Invalid("reason", "keep the reason under 500 characters"))
	}
	if err := errs.Err(); err != nil {
		return status.Update{}, err
	}
	u, err := s.db.EditUpdate(ctx, p, id, t, req.Translations, req.Reason)
	if err != nil {
		return u, err
	}
	s.publicChanged()
	return u, nil
}

// Updates returns an incident's updates, scheduled ones included.
func (s *Service) Updates(ctx context.Context, p auth.Principal, incidentID int64) ([]store.UpdateInfo, error) {
	if err := p.Require(auth.Read); err != nil {
		return nil, err
	}
	return s.db.FindUpdates(ctx, incidentID)
}

// PublishedNotice is what the status page shows of a notice: the version
// published, when and by whom (ok false: nothing of it is published).
type PublishedNotice struct {
	Version int
	At      time.Time
	By      string
}

// PublishedNotice says whether, and which version of, a notice is shown on
// the status page.
func (s *Service) PublishedNotice(ctx context.Context, p auth.Principal, noticeID int64) (PublishedNotice, bool, error) {
	if err := p.Require(auth.Read); err != nil {
		return PublishedNotice{}, false, err
	}
	d, by, ok, err := s.db.FindPublicDocument(ctx, noticeID)
	if err != nil || !ok {
		return PublishedNotice{}, false, err
	}
	return PublishedNotice{Version: d.Version, At: d.PublishedAt, By: by}, true, nil
}

// Update returns one update.
func (s *Service) Update(ctx context.Context, p auth.Principal, id int64) (store.UpdateInfo, error) {
	if err := p.Require(auth.Read); err != nil {
		return store.UpdateInfo{}, err
	}
	return s.db.FindUpdateByID(ctx, id)
}

// IncidentComponents returns how an incident affects each service, by
// service id.
func (s *Service) IncidentComponents(ctx context.Context, p auth.Principal, incidentID int64) (map[int64]status.ComponentStatus, error) {
	if err := p.Require(auth.Read); err != nil {
		return nil, err
	}
	return s.db.IncidentComponents(ctx, incidentID)
}

// Components returns the status page's services.
func (s *Service) Components(ctx context.Context, p auth.Principal) ([]status.Component, error) {
	if err := p.Require(auth.Read); err != nil {
		return nil, err
	}
	return s.db.FindComponents(ctx)
}

// CreateComponent adds a service to the status page.
func (s *Service) CreateComponent(ctx context.Context, p auth.Principal, c status.Component) (status.Component, error) {
	if err := p.Require(auth.ManagePublic); err != nil {
		return c, err
	}
	c, err := s.db.CreateComponent(ctx, p, c)
	if err == nil {
		s.publicChanged()
	}
	return c, err
}

// SetIncidentComponents names the services an incident affects and how.
func (s *Service) SetIncidentComponents(ctx context.Context, p auth.Principal, incidentID int64, as []status.Affected) error {
	if err := p.Require(auth.PublishUpdate); err != nil {
		return err
	}
	if err := s.db.SetIncidentComponents(ctx, p, incidentID, as); err != nil {
		return err
	}
	s.publicChanged()
	return nil
}

// SetQuietPeriod switches the quiet period on or off by hand. (It is on
// anyway while an incident is public.)
func (s *Service) SetQuietPeriod(ctx context.Context, p auth.Principal, on bool, reason string) error {
	if err := p.Require(auth.ManagePublic); err != nil {
		return err
	}
	reason = strings.TrimSpace(reason)
	if on && reason == "" {
		return apperr.Invalid("reason", "say why (\"Breach under investigation, not yet public\"); marketing systems see it")
	}
	if utf8.RuneCountInString(reason) > 500 {
		return apperr.Invalid("reason", "keep the reason under 500 characters")
	}
	if err := s.db.SetQuietPeriod(ctx, p, on, reason); err != nil {
		return err
	}
	s.publicChanged()
	return nil
}

// SetPublicWake registers what tells the public side that something
// changed, so it rebuilds at once instead of at its next poll.
func (s *Service) SetPublicWake(fn func()) { s.publicWake = fn }

func (s *Service) publicChanged() {
	if s.publicWake != nil {
		s.publicWake()
	}
}

// publishDocument shows an approved notice on the status page: releasing a
// notice on the status page channel.
func (s *Service) publishDocument(ctx context.Context, p auth.Principal, n notice.Notice, av notice.ApprovedVersion) error {
	v := av.Version()
	in, err := s.db.FindIncidentByID(ctx, n.IncidentID)
	if err != nil {
		return err
	}
	facts, err := s.db.FindFacts(ctx, n.IncidentID, 0)
	if err != nil {
		return err
	}
	t, err := notice.Parse(v.Content.Subject, v.Content.Body)
	if err != nil {
		return err
	}
	r, err := t.Render(s.renderData(in, facts))
	if err != nil {
		return apperr.Invalid("body", "the notice could not be filled in for the status page: %v", err)
	}
	if err := s.db.PublishDocument(ctx, p, n.ID, n.IncidentID, v.Number, n.Title, r.Markdown); err != nil {
		return err
	}
	s.log.Info("notice_published", "notice", n.ID, "version", v.Number, "channel", notice.ChannelStatusPage, "by", p.Label())
	s.publicChanged()
	return nil
}

// BuildSnapshot reads the public state and builds what the public side
// serves. next is the time a scheduled update becomes public (zero: none),
// when the snapshot must be built again.
func (s *Service) BuildSnapshot(ctx context.Context, page status.Page) (snap *status.Snapshot, version int64, next time.Time, err error) {
	ps, err := s.db.LoadPublic(ctx)
	if err != nil {
		return nil, 0, time.Time{}, err
	}
	now := s.db.Now()
	snap = &status.Snapshot{Page: page, BuiltAt: now}
	byIncident := map[int64][]status.Update{}
	for _, u := range ps.Updates {
		if !u.Published(now) {
			if next.IsZero() || u.PublishAt.Before(next) {
				next = u.PublishAt
			}
			continue
		}
		byIncident[u.IncidentID] = append(byIncident[u.IncidentID], u)
	}
	latest := func(t time.Time) {
		if t.After(snap.UpdatedAt) {
			snap.UpdatedAt = t
		}
	}
	for id, us := range byIncident {
		in := ps.Incidents[id]
		pub := status.Incident{ID: id, Title: in.Title, Severity: in.Severity, Updates: us, State: us[0].Status,
			Components: ps.Affected[id], Contact: ps.Facts[id].Contact}
		// Updates are newest first; walk them oldest first.
		for i := len(us) - 1; i >= 0; i-- {
			u := us[i]
			if pub.StartedAt.IsZero() || u.DisplayAt.Before(pub.StartedAt) {
				pub.StartedAt = u.DisplayAt
			}
			if pub.CreatedAt.IsZero() || u.PublishAt.Before(pub.CreatedAt) {
				pub.CreatedAt = u.PublishAt
			}
			if u.UpdatedAt.After(pub.UpdatedAt) {
				pub.UpdatedAt = u.UpdatedAt
			}
			if u.PublishAt.After(pub.UpdatedAt) {
				pub.UpdatedAt = u.PublishAt
			}
			if u.Status == incident.Contained && pub.MonitoringAt == nil {
				t := u.DisplayAt
				pub.MonitoringAt = &t
			}
		}
		if !pub.Open() {
			for i := len(us) - 1; i >= 0; i-- {
				if !status.Open(us[i].Status) {
					t := us[i].DisplayAt
					pub.ResolvedAt = &t
					break
				}
			}
		}
		for _, d := range ps.Documents {
			if d.IncidentID == id {
				html, _ := notice.Markdown(d.Markdown)
				pub.Documents = append(pub.Documents, status.Document{NoticeID: d.NoticeID, Title: d.Title, HTML: html, PublishedAt: d.PublishedAt})
				latest(d.PublishedAt)
			}
		}
		latest(pub.UpdatedAt)
		snap.Incidents = append(snap.Incidents, pub)
	}
	slices.SortFunc(snap.Incidents, func(a, b status.Incident) int {
		if a.Open() != b.Open() {
			if a.Open() {
				return -1
			}
			return 1
		}
		return b.Latest().DisplayAt.Compare(a.Latest().DisplayAt)
	})
	snap.Components = status.ComponentsOf(ps.Components, snap.Incidents)
	for _, c := range ps.Components {
		latest(c.UpdatedAt)
	}
	q := ps.Quiet
	if q.Manual {
		since := q.ManualSince
		snap.Quiet = status.Quiet{Active: true, Since: &since, Reason: q.Reason, By: q.By, Manual: true}
		latest(since)
	}
	for _, in := range snap.Incidents {
		if !in.Open() {
			continue
		}
		if !snap.Quiet.Active {
			since := in.CreatedAt
			snap.Quiet = status.Quiet{Active: true, Since: &since, Reason: fmt.Sprintf("Incident %q is public", in.Title)}
		} else if !snap.Quiet.Manual && in.CreatedAt.Before(*snap.Quiet.Since) {
			since := in.CreatedAt
			snap.Quiet.Since = &since
		}
	}
	if snap.UpdatedAt.IsZero() {
		snap.UpdatedAt = time.Unix(0, 0).UTC()
	}
	return snap, ps.Version, next, nil
}
