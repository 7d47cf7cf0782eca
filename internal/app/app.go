// Package app is every action a person can take in Candor, in one place: it
// checks the actor's permission, validates the input, and calls the store,
// which writes the change and its audit entry in one transaction. The admin
// UI, the JSON API and the command line all go through it, so a rule holds
// whichever door a request comes in by.
package app

import (
	"context"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/audit"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/incident"
	"github.com/candorhq/candor/internal/notice"
	"github.com/candorhq/candor/internal/store"
)

// Service performs actions on behalf of principals. It is safe for
// concurrent use.
type Service struct {
	db  *store.DB
	log *slog.Logger

	sessionTTL   time.Duration
	loginByIP    *auth.Limiter
	loginByEmail *auth.Limiter

	company   notice.Company
	approvals map[string]int

	wake       func()
	publicWake func()
	public     PublicOptions
	rates      rateBook
	counts     countBook
}

// Options tune a Service; zero values take the defaults.
type Options struct {
	// SessionTTL is how long a session lasts without use (default 12h).
	SessionTTL time.Duration
	// Company is the organisation that sends the notices.
	Company notice.Company
	// Approvals overrides, per audience kind, how many approvers other
	// than the author a notice needs (default: one; regulators: two).
	Approvals map[string]int
}

// New returns a Service over db.
func New(db *store.DB, log *slog.Logger, opt Options) *Service {
	if opt.SessionTTL <= 0 {
		opt.SessionTTL = 12 * time.Hour
	}
	if opt.Company.Name == "" {
		opt.Company.Name = "Our company"
	}
	return &Service{
		db:         db,
		log:        log.With("component", "app"),
		sessionTTL: opt.SessionTTL,
		company:    opt.Company,
		approvals:  opt.Approvals,
		// 10 attempts at once per address, then one every 6 s; 5 per
		// account, then one every 30 s: enough for a person who mistypes,
		// far too slow for guessing.
		loginByIP:    auth.NewLimiter(10, 6*time.Second),
		loginByEmail: auth.NewLimiter(5, 30*time.Second),
	}
}

// DB returns the store, for health checks and metrics.
func (s *Service) DB() *store.DB { return s.db }

// Company is the organisation the notices speak for.
func (s *Service) Company() notice.Company { return s.company }

// Now is the service's clock (the store's).
func (s *Service) Now() time.Time { return s.db.Now() }

// SessionTTL is how long an unused session lasts.
func (s *Service) SessionTTL() time.Duration { return s.sessionTTL }

// CreateIncident opens an incident with its first facts.
func (s *Service) CreateIncident(ctx context.Context, p auth.Principal, n incident.New) (incident.Incident, error) {
	if err := p.Require(auth.EditIncident); err != nil {
		return incident.Incident{}, err
	}
	if err := n.Validate(s.Now()); err != nil {
		return incident.Incident{}, err
	}
	return s.db.CreateIncident(ctx, p, n)
}

// Incidents lists incidents, newest first, with the next page's cursor.
func (s *Service) Incidents(ctx context.Context, p auth.Principal, f store.IncidentFilter) ([]incident.Incident, int64, error) {
	if err := p.Require(auth.Read); err != nil {
		return nil, 0, err
	}
	if f.State != "" && !f.State.Valid() {
		return nil, 0, apperr.Invalid("state", "unknown state %q", f.State)
	}
	return s.db.FindIncidents(ctx, f)
}

// Incident returns one incident.
func (s *Service) Incident(ctx context.Context, p auth.Principal, id int64) (incident.Incident, error) {
	if err := p.Require(auth.Read); err != nil {
		return incident.Incident{}, err
	}
	return s.db.FindIncidentByID(ctx, id)
}

// UpdateIncident changes an incident's title or severity.
func (s *Service) UpdateIncident(ctx context.Context, p auth.Principal, id int64, upd store.IncidentUpdate) (incident.Incident, error) {
	if err := p.Require(auth.EditIncident); err != nil {
		return incident.Incident{}, err
	}
	if upd.Title != nil {
		t := strings.TrimSpace(*upd.Title)
		if err := incident.ValidateTitle(t); err != nil {
			return incident.Incident{}, err
		}
		upd.Title = &t
	}
	if upd.Severity != nil && !upd.Severity.Valid() {
		return incident.Incident{}, apperr.Invalid("severity", "unknown severity %q; use low, medium, high or critical", *upd.Severity)
	}
	return s.db.UpdateIncident(ctx, p, id, upd)
}

// MoveIncident moves an incident to another state, with an optional note.
func (s *Service) MoveIncident(ctx context.Context, p auth.Principal, id int64, to incident.State, note string) (incident.Incident, error) {
	if err := p.Require(auth.EditIncident); err != nil {
		return incident.Incident{}, err
	}
	note = strings.TrimSpace(note)
	if len(note) > incident.MaxReason {
		return incident.Incident{}, apperr.Invalid("note", "keep the note under %d characters", incident.MaxReason)
	}
	return s.db.MoveIncident(ctx, p, id, to, note)
}

// Facts returns a version of an incident's facts (0 for the current one).
func (s *Service) Facts(ctx context.Context, p auth.Principal, id int64, version int) (incident.Version, error) {
	if err := p.Require(auth.Read); err != nil {
		return incident.Version{}, err
	}
	return s.db.FindFacts(ctx, id, version)
}

// SaveFacts saves a new version of the facts based on baseVersion, with the
// reason for the change. A stale base gives ECONFLICT whose Detail is a
// *store.ConflictDetail.
func (s *Service) SaveFacts(ctx context.Context, p auth.Principal, id int64, baseVersion int, f incident.Facts, reason string) (incident.Version, error) {
	if err := p.Require(auth.EditIncident); err != nil {
		return incident.Version{}, err
	}
	var errs apperr.List
	if err := f.Validate(s.Now()); err != nil {
		if l, ok := apperr.As(err).Detail.(apperr.List); ok {
			errs = append(errs, l...)
		} else {
			errs = append(errs, apperr.As(err))
		}
	}
	reason = strings.TrimSpace(reason)
	switch {
	case reason == "":
		errs = append(errs, apperr.Invalid("reason", "say why the facts changed (e.g. \"forensics confirmed expiry dates were taken\"); the history shows it"))
	case len(reason) > incident.MaxReason:
		errs = append(errs, apperr.Invalid("reason", "keep the reason under %d characters", incident.MaxReason))
	}
	if baseVersion < 1 {
		errs = append(errs, apperr.Invalid("base_version", "say which version you edited (base_version), so that nobody's change is overwritten"))
	}
	if err := errs.Err(); err != nil {
		return incident.Version{}, err
	}
	return s.db.SaveFacts(ctx, p, id, baseVersion, f, reason)
}

// FactsVersions lists every version of an incident's facts, newest first.
func (s *Service) FactsVersions(ctx context.Context, p auth.Principal, id int64) ([]incident.Version, error) {
	if err := p.Require(auth.Read); err != nil {
		return nil, err
	}
	return s.db.FindFactsVersions(ctx, id)
}

// FactsDiff lists what changed from version a to version b.
func (s *Service) FactsDiff(ctx context.Context, p auth.Principal, id int64, a, b int) (incident.Version, incident.Version, []incident.Change, error) {
	if err := p.Require(auth.Read); err != nil {
		return incident.Version{}, incident.Version{}, nil, err
	}
	va, err := s.db.FindFacts(ctx, id, a)
	if err != nil {
		return va, incident.Version{}, nil, err
	}
	vb, err := s.db.FindFacts(ctx, id, b)
	if err != nil {
		return va, vb, nil, err
	}
	return va, vb, incident.Diff(va.Facts, vb.Facts), nil
}

// TimelineEntry is one moment in an incident's story: either a key moment
// recorded in the facts ("Exposure began") or an action someone took.
type TimelineEntry struct {
	At     time.Time `json:"at"`
	Kind   string    `json:"kind"`   // "moment" or "action"
	Title  string    `json:"title"`  // what happened, in words
	Actor  string    `json:"actor"`  // who did it (actions only)
	Action string    `json:"action"` // the audit action (actions only)
	Seq    int64     `json:"seq"`    // the audit entry (actions only)
}

// Timeline returns everything that happened to an incident, oldest first:
// the key moments from its current facts and every action in its audit log.
func (s *Service) Timeline(ctx context.Context, p auth.Principal, id int64) ([]TimelineEntry, error) {
	if err := p.Require(auth.Read); err != nil {
		return nil, err
	}
	cur, err := s.db.FindFacts(ctx, id, 0)
	if err != nil {
		return nil, err
	}
	f := cur.Facts
	var out []TimelineEntry
	for _, m := range []struct {
		t     *time.Time
		title string
	}{
		{f.OccurredFrom, "Exposure began"},
		{f.OccurredTo, "Exposure ended"},
		{f.DiscoveredAt, "Incident discovered"},
		{f.BecameAwareAt, "Became aware of the breach"},
		{f.BreachDeterminedAt, "Determined that a breach occurred"},
		{f.MaterialityDeterminedAt, "Determined the incident is material"},
	} {
		if m.t != nil {
			out = append(out, TimelineEntry{At: *m.t, Kind: "moment", Title: m.title})
		}
	}
	var before int64
	for {
		entries, next, err := s.db.FindAudit(ctx, store.AuditFilter{IncidentID: id, Before: before, Limit: 500})
		if err != nil {
			return nil, err
		}
		for _, e := range entries {
			out = append(out, TimelineEntry{At: e.At, Kind: "action", Title: e.Summary, Actor: e.Actor, Action: e.Action, Seq: e.Seq})
		}
		if next == 0 {
			break
		}
		before = next
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.Before(out[j].At) })
	return out, nil
}

// Audit lists audit entries, newest first. Reading one incident's entries
// needs read access; reading the whole log needs an admin.
func (s *Service) Audit(ctx context.Context, p auth.Principal, f store.AuditFilter) ([]audit.Entry, int64, error) {
	perm := auth.Read
	if f.IncidentID == 0 {
		perm = auth.ReadGlobalAudit
	} else if _, err := s.Incident(ctx, p, f.IncidentID); err != nil {
		return nil, 0, err
	}
	if err := p.Require(perm); err != nil {
		return nil, 0, err
	}
	return s.db.FindAudit(ctx, f)
}

// VerifyAudit checks the whole audit chain.
func (s *Service) VerifyAudit(ctx context.Context, p auth.Principal) (int64, *audit.Problem, error) {
	if err := p.Require(auth.ReadGlobalAudit); err != nil {
		return 0, nil, err
	}
	return s.db.VerifyAudit(ctx)
}
