package app

import (
	"context"
	"crypto/rand"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/audience"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/delivery"
	"github.com/candorhq/candor/internal/dispatch"
	"github.com/candorhq/candor/internal/notice"
	"github.com/candorhq/candor/internal/store"
)

// ReleaseRequest is what a person asks for when they release a notice.
type ReleaseRequest struct {
	// Version is the approved version to send; 0 means the newest approved.
	Version int            `json:"version,omitempty"`
	Channel notice.Channel `json:"channel"`
	// StartAt schedules the release; zero means now.
	StartAt time.Time `json:"start_at,omitzero"`
}

// ReleaseNotice releases an approved version of a notice to the notice's
// audience on one channel: every member gets a row in the delivery ledger
// and the workers start sending (or wait for StartAt). Releasing the same
// version again adds only members who joined since. Returns EFORBIDDEN
// when the version is not approved — nothing else can be released.
func (s *Service) ReleaseNotice(ctx context.Context, p auth.Principal, noticeID int64, req ReleaseRequest) (delivery.Release, int64, error) {
	if err := p.Require(auth.SendNotice); err != nil {
		return delivery.Release{}, 0, err
	}
	n, err := s.db.FindNoticeByID(ctx, noticeID)
	if err != nil {
		return delivery.Release{}, 0, err
	}
	if req.Channel == "" {
		req.Channel = notice.ChannelEmail
	}
	if !slices.Contains(n.Channels, req.Channel) {
		return delivery.Release{}, 0, apperr.Invalid("channel", "notice %q is not written for %s; its channels are %s", n.Title, req.Channel, joinChannels(n.Channels))
	}
	if req.Channel != notice.ChannelEmail && req.Channel != notice.ChannelStatusPage {
		return delivery.Release{}, 0, apperr.Invalid("channel", "Candor cannot send by %s yet; release it by email or on the status page", req.Channel)
	}
	if n.AudienceID == 0 && req.Channel == notice.ChannelEmail {
		return delivery.Release{}, 0, apperr.Invalid("audience_id", "notice %q has no audience; choose who receives it, then release it", n.Title)
	}
	if !req.StartAt.IsZero() && req.StartAt.Before(s.db.Now().Add(-time.Minute)) {
		return delivery.Release{}, 0, apperr.Invalid("start_at", "%s is in the past; leave it empty to send now", req.StartAt.Format(time.RFC3339))
	}
	number := req.Version
	if number == 0 {
		vs, err := s.db.FindNoticeVersions(ctx, noticeID)
		if err != nil {
			return delivery.Release{}, 0, err
		}
		for _, v := range vs {
			if v.State == notice.Approved {
				number = v.Number
				break
			}
		}
		if number == 0 {
			return delivery.Release{}, 0, apperr.Forbidden("notice %q has no approved version; only approved text can be sent", n.Title)
		}
	}
	av, err := s.db.CertifiedVersion(ctx, noticeID, number)
	if err != nil {
		return delivery.Release{}, 0, err
	}
	if req.Channel == notice.ChannelStatusPage {
		// The status page has no recipients to track: the text is shown
		// there, and the audit log records who published which version.
		if !req.StartAt.IsZero() {
			return delivery.Release{}, 0, apperr.Invalid("start_at", "publishing on the status page cannot be scheduled yet; publish it when it is due")
		}
		return delivery.Release{NoticeID: noticeID, Version: number, Channel: string(notice.ChannelStatusPage), State: delivery.ReleaseDone}, 0, s.publishDocument(ctx, p, n, av)
	}
	key := make([]byte, 16)
	rand.Read(key)
	rel, added, err := s.db.CreateRelease(ctx, p, av, store.NewRelease{Channel: req.Channel, AudienceID: n.AudienceID, StartAt: req.StartAt, TokenKey: key})
	if err != nil {
		return rel, added, err
	}
	s.log.Info("notice_released", "notice", noticeID, "version", number, "release", rel.ID, "recipients", added, "state", rel.State, "by", p.Label())
	s.wakeDispatcher()
	return rel, added, nil
}

func joinChannels(cs []notice.Channel) string {
	s := make([]string, len(cs))
	for i, c := range cs {
		s[i] = string(c)
	}
	return strings.Join(s, ", ")
}

// SetDispatcherWake registers what wakes the local dispatcher when there is
// new work, so a release starts at once instead of at the next poll.
func (s *Service) SetDispatcherWake(fn func()) { s.wake = fn }

func (s *Service) wakeDispatcher() {
	if s.wake != nil {
		s.wake()
	}
}

// PauseRelease stops a running or scheduled release from sending more; the
// messages in flight finish.
func (s *Service) PauseRelease(ctx context.Context, p auth.Principal, id int64, reason string) (delivery.Release, error) {
	return s.moveRelease(ctx, p, id, store.ReleaseMove{From: []delivery.ReleaseState{delivery.ReleaseRunning, delivery.ReleaseScheduled},
		To: delivery.ReleasePaused, Reason: strings.TrimSpace(reason), Action: "release.pause", Summary: "Paused"})
}

// ResumeRelease sends a paused release on (or waits for its start time if
// it has not come).
func (s *Service) ResumeRelease(ctx context.Context, p auth.Principal, id int64) (delivery.Release, error) {
	r, err := s.moveRelease(ctx, p, id, store.ReleaseMove{From: []delivery.ReleaseState{delivery.ReleasePaused},
		To: delivery.ReleaseRunning, Action: "release.resume", Summary: "Resumed"})
	if err == nil {
		s.wakeDispatcher()
	}
	return r, err
}

// CancelRelease cancels every delivery of a release not yet sent. It cannot
// be undone; the reason is kept.
func (s *Service) CancelRelease(ctx context.Context, p auth.Principal, id int64, reason string) (delivery.Release, error) {
	reason = strings.TrimSpace(reason)
	if reason == "" {
		return delivery.Release{}, apperr.Invalid("reason", "say why the release is cancelled; the reason is kept in the audit log")
	}
	return s.moveRelease(ctx, p, id, store.ReleaseMove{From: []delivery.ReleaseState{delivery.ReleaseRunning, delivery.ReleaseScheduled, delivery.ReleasePaused},
		To: delivery.ReleaseCancelled, Reason: reason, Action: "release.cancel", Summary: "Cancelled"})
}

func (s *Service) moveRelease(ctx context.Context, p auth.Principal, id int64, m store.ReleaseMove) (delivery.Release, error) {
	if err := p.Require(auth.SendNotice); err != nil {
		return delivery.Release{}, err
	}
	r, err := s.db.MoveRelease(ctx, p, id, m)
	if err == nil {
		s.log.Info("release_"+string(r.State), "release", id, "by", p.Label(), "reason", m.Reason)
	}
	return r, err
}

// Releases returns a notice's releases, newest first, each with its
// progress.
func (s *Service) Releases(ctx context.Context, p auth.Principal, noticeID int64) ([]delivery.Progress, error) {
	if err := p.Require(auth.Read); err != nil {
		return nil, err
	}
	if _, err := s.db.FindNoticeByID(ctx, noticeID); err != nil {
		return nil, err
	}
	rs, err := s.db.FindReleases(ctx, noticeID)
	if err != nil {
		return nil, err
	}
	out := make([]delivery.Progress, 0, len(rs))
	for _, r := range rs {
		pr, err := s.progress(ctx, r)
		if err != nil {
			return nil, err
		}
		out = append(out, pr)
	}
	return out, nil
}

// ReleaseProgress returns a release's counts by state, its current rate
// and the estimated time left.
func (s *Service) ReleaseProgress(ctx context.Context, p auth.Principal, id int64) (delivery.Progress, error) {
	if err := p.Require(auth.Read); err != nil {
		return delivery.Progress{}, err
	}
	r, err := s.db.FindReleaseByID(ctx, id)
	if err != nil {
		return delivery.Progress{}, err
	}
	return s.progress(ctx, r)
}

func (s *Service) progress(ctx context.Context, r delivery.Release) (delivery.Progress, error) {
	c, at, err := s.counts.get(r.ID, s.db.Now, func() (delivery.Counts, error) { return s.db.ReleaseCounts(ctx, r.ID) })
	if err != nil {
		return delivery.Progress{}, err
	}
	now := s.db.Now()
	pr := delivery.Progress{Release: r, Counts: c, At: now}
	pr.Rate = s.rates.observe(r.ID, at, c.Finished())
	if left := c.Total() - c.Finished(); pr.Rate > 0 && left > 0 && r.State == delivery.ReleaseRunning {
		pr.ETA = time.Duration(float64(left) / pr.Rate * float64(time.Second))
	}
	return pr, nil
}

// countBook shares a release's counts among everyone watching it. Counting
// reads what is left to send, which on a release to millions takes a
// while at first; every open progress bar asks each second. So callers
// who arrive while a count runs wait for it and share it, and a count that
// took long is reused for ten times as long (a count of a second serves
// ten seconds), so that watching never costs more than a tenth of a
// database connection's time, however many people watch.
type countBook struct {
	mu      sync.Mutex
	entries map[int64]*countEntry
}

type countEntry struct {
	mu     sync.Mutex // held while counting
	counts delivery.Counts
	at     time.Time // when the count started
	took   time.Duration
}

// countReuse is the least time a count must take to be reused at all:
// small releases are counted afresh every time.
const countReuse = 50 * time.Millisecond

func (b *countBook) get(id int64, now func() time.Time, count func() (delivery.Counts, error)) (delivery.Counts, time.Time, error) {
	b.mu.Lock()
	if b.entries == nil {
		b.entries = map[int64]*countEntry{}
	}
	e := b.entries[id]
	if e == nil {
		e = &countEntry{}
		b.entries[id] = e
	}
	b.mu.Unlock()
	asked := now()
	e.mu.Lock()
	defer e.mu.Unlock()
	// A count that started after this caller asked is as fresh as its own.
	if e.counts != nil && (!e.at.Before(asked) || e.took >= countReuse && asked.Sub(e.at) < 10*e.took) {
		return maps.Clone(e.counts), e.at, nil
	}
	start := now()
	c, err := count()
	if err != nil {
		return nil, start, err
	}
	e.counts, e.at, e.took = c, start, now().Sub(start)
	return maps.Clone(c), start, nil
}

// rateBook remembers recent (time, finished) samples per release, so that
// whoever asks for progress gets the rate over the last seconds however
// many processes are sending.
type rateBook struct {
	mu      sync.Mutex
	samples map[int64][]rateSample
}

type rateSample struct {
	at   time.Time
	done int64
}

const rateWindow = 10 * time.Second

func (b *rateBook) observe(id int64, at time.Time, done int64) float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.samples == nil {
		b.samples = map[int64][]rateSample{}
	}
	ss := b.samples[id]
	if n := len(ss); n == 0 || !at.Equal(ss[n-1].at) {
		ss = append(ss, rateSample{at, done}) // a shared count is one sample
	}
	// Keep one sample older than the window as the baseline.
	for len(ss) > 2 && at.Sub(ss[1].at) > rateWindow {
		ss = ss[1:]
	}
	if len(ss) > 64 {
		ss = ss[len(ss)-64:]
	}
	b.samples[id] = ss
	first := ss[0]
	dt := at.Sub(first.at).Seconds()
	if dt < 0.5 || done < first.done {
		return 0
	}
	return float64(done-first.done) / dt
}

// SendingProcesses counts the processes that sent or looked for work in
// the last 30 seconds: zero means released notices wait in the ledger.
func (s *Service) SendingProcesses(ctx context.Context, p auth.Principal) (int, error) {
	if err := p.Require(auth.Read); err != nil {
		return 0, err
	}
	return s.db.LiveWorkers(ctx, 30*time.Second)
}

// Deliveries returns ledger rows: what an address received and when, or
// the rows of one release.
func (s *Service) Deliveries(ctx context.Context, p auth.Principal, f store.DeliveryFilter) ([]delivery.Record, error) {
	if err := p.Require(auth.Read); err != nil {
		return nil, err
	}
	if f.Address == "" && f.ReleaseID == 0 {
		return nil, apperr.Invalid("address", "give an address (what did this person receive?) or a release")
	}
	if f.State != "" && !slices.Contains(delivery.States, f.State) {
		return nil, apperr.Invalid("state", "unknown delivery state %q", f.State)
	}
	return s.db.FindDeliveries(ctx, f)
}

// PrepareRelease loads what the dispatcher needs to send a release: the
// approved text (certified again from the database), the facts and the
// company as notices render them, and the rules of the segments its
// variants use. Returns EFORBIDDEN when the version is no longer approved.
func (s *Service) PrepareRelease(ctx context.Context, r delivery.Release) (*dispatch.Prepared, error) {
	av, err := s.db.CertifiedVersion(ctx, r.NoticeID, r.Version)
	if err != nil {
		return nil, err
	}
	n, err := s.db.FindNoticeByID(ctx, r.NoticeID)
	if err != nil {
		return nil, err
	}
	in, err := s.db.FindIncidentByID(ctx, n.IncidentID)
	if err != nil {
		return nil, err
	}
	facts, err := s.db.FindFacts(ctx, n.IncidentID, 0)
	if err != nil {
		return nil, err
	}
	matchers, err := s.segmentMatchers(ctx, av.Version().Content)
	if err != nil {
		return nil, err
	}
	return dispatch.NewPrepared(r, av, s.renderData(in, facts), matchers)
}

// segmentMatchers compiles the rule of every segment a text's variants use.
func (s *Service) segmentMatchers(ctx context.Context, c notice.Content) (map[int64]audience.Matcher, error) {
	matchers := map[int64]audience.Matcher{}
	for _, v := range c.Variants {
		if _, seen := matchers[v.SegmentID]; v.SegmentID == 0 || seen {
			continue
		}
		seg, err := s.db.FindSegmentByID(ctx, v.SegmentID)
		if err != nil {
			return nil, apperr.Invalid("variants", "variant %q uses segment %d, which does not exist", v.Name, v.SegmentID)
		}
		m, err := audience.Compile(&seg.Rule)
		if err != nil {
			return nil, err
		}
		matchers[v.SegmentID] = m
	}
	return matchers, nil
}
