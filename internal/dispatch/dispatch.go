// Package dispatch is the delivery ledger's worker. A Dispatcher claims
// queued deliveries of running releases, hands them to the channel senders,
// records what happened, and does it again — one transaction per round that
// both records the finished deliveries and claims the next ones.
//
// The rows a dispatcher has claimed are exactly the messages in flight, and
// it never has more than Config.InFlight of them: it claims only as many as
// it has free slots. So when a process dies, the deliveries in "sending"
// are the only ones that may have reached their recipient without the
// ledger knowing; the next dispatcher puts them back in the queue marked
// possible_duplicate, and they go out again with the same Message-ID.
package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/audience"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/delivery"
	"github.com/candorhq/candor/internal/notice"
	"github.com/candorhq/candor/internal/store"
)

// Prepared is a release ready to send: the approved text and everything
// a message is rendered from, except the recipient.
type Prepared struct {
	Release  delivery.Release
	Approved notice.ApprovedVersion
	// Base is the render data without the recipient.
	Base notice.Data
	// Select returns the variant a recipient gets (-1: the default text).
	Select func(r *audience.Recipient) int
	// Texts are the parsed templates: Texts[0] the default, Texts[i+1]
	// variant i.
	Texts []*notice.Template

	// mailers render Texts as email for many recipients, reusing what
	// does not depend on the recipient.
	mailers []*notice.Mailer
}

// NewPrepared parses an approved version's texts. matchers holds the
// compiled rule of every segment its variants use.
func NewPrepared(rel delivery.Release, av notice.ApprovedVersion, base notice.Data, matchers map[int64]audience.Matcher) (*Prepared, error) {
	v := av.Version()
	if v.ID != rel.VersionID {
		return nil, fmt.Errorf("release %d is of version id %d, not %d", rel.ID, rel.VersionID, v.ID)
	}
	p := &Prepared{Release: rel, Approved: av, Base: base}
	for i := -1; i < len(v.Content.Variants); i++ {
		t, err := notice.Parse(v.Content.Text(i))
		if err != nil {
			return nil, err
		}
		p.Texts = append(p.Texts, t)
		p.mailers = append(p.mailers, t.Mailer())
	}
	for _, va := range v.Content.Variants {
		if _, ok := matchers[va.SegmentID]; va.SegmentID != 0 && !ok {
			return nil, fmt.Errorf("variant %q: segment %d has no rule", va.Name, va.SegmentID)
		}
	}
	content := v.Content
	p.Select = func(r *audience.Recipient) int {
		return content.Select(r.Locale, func(id int64) bool { return matchers[id].Match(*r) })
	}
	return p, nil
}

// RecipientData converts an audience member for rendering.
func RecipientData(r *audience.Recipient) notice.Recipient {
	return notice.Recipient{Name: r.Name, Email: r.Email, Phone: r.Phone, Locale: r.Locale, Jurisdiction: r.Jurisdiction,
		Exposed: slices.Clone(r.Exposed), Attributes: r.Attributes}
}

// Data is the render data for one recipient.
func (p *Prepared) Data(r *audience.Recipient) notice.Data {
	d := p.Base
	d.Recipient = RecipientData(r)
	return d
}

// Email renders variant (-1: the default) as an email for d.
func (p *Prepared) Email(variant int, d notice.Data) (notice.Email, error) {
	return p.mailers[variant+1].Email(d)
}

// Preparer loads a release's approved text and render data. It must return
// an EFORBIDDEN error when the version is no longer approved.
type Preparer func(ctx context.Context, r delivery.Release) (*Prepared, error)

// Job is one delivery to send.
type Job struct {
	store.Claimed
	Release *Prepared
}

// Result is what a sender did with a job.
type Result struct {
	ID        int64
	ReleaseID int64
	State     delivery.State // sent, deferred, failed, or queued to retry now on another connection
	Variant   *int
	// ProviderID is the provider's identifier of the accepted message.
	ProviderID string
	Error      string
	// PossibleDuplicate: the data went out but the answer never came.
	PossibleDuplicate bool
	// RetryAfter delays a queued retry (the relay could not be reached).
	RetryAfter time.Duration
}

// Sender delivers one channel's jobs. Run reads jobs until the channel is
// closed, sends each, and reports each on results; it returns when every
// job it read is reported.
type Sender interface {
	Channel() notice.Channel
	Run(ctx context.Context, jobs <-chan Job, results chan<- Result)
}

// Config tunes a Dispatcher. Zero values take the defaults.
type Config struct {
	// InFlight bounds the deliveries claimed and not yet recorded (default
	// 1024): the most messages a crash can leave unsure. A round records
	// and claims a quarter of it, so it must also cover the database's
	// commit latency (PostgreSQL sends half as fast at 256).
	InFlight int
	// Batch is the most rows claimed in one round (default 500).
	Batch int
	// Poll is how often an idle dispatcher looks for work (default 1s).
	Poll time.Duration
	// Heartbeat is how often the worker says it is alive (default 5s);
	// Stale is when others consider it dead (default 30s).
	Heartbeat, Stale time.Duration
	// BackoffBase and BackoffMax bound the delay before a deferred delivery
	// is tried again: BackoffBase·2^(attempts−1), capped, with jitter
	// (defaults 1m and 1h). MaxAttempts turns a delivery deferred that many
	// times into failed (default 10).
	BackoffBase, BackoffMax time.Duration
	MaxAttempts             int
	// Breaker pauses a release when more than BreakerRatio of its last
	// BreakerWindow attempts failed (permanently, temporarily, or on the
	// connection), once at least BreakerMin were made (defaults 1000,
	// 0.2, 100).
	BreakerWindow int
	BreakerRatio  float64
	BreakerMin    int
	// Host names this process in the workers table (default: hostname).
	Host string
}

func (c *Config) defaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.InFlight, 1024)
	def(&c.Batch, 500)
	def(&c.MaxAttempts, 10)
	def(&c.BreakerWindow, 1000)
	def(&c.BreakerMin, 100)
	defDur(&c.Poll, time.Second)
	defDur(&c.Heartbeat, 5*time.Second)
	defDur(&c.Stale, 30*time.Second)
	defDur(&c.BackoffBase, time.Minute)
	defDur(&c.BackoffMax, time.Hour)
	if c.BreakerRatio <= 0 {
		c.BreakerRatio = 0.2
	}
	if c.Host == "" {
		c.Host, _ = os.Hostname()
	}
}

// Dispatcher is one process's delivery worker.
type Dispatcher struct {
	db      *store.DB
	log     *slog.Logger
	cfg     Config
	prepare Preparer
	senders map[notice.Channel]Sender
	metrics *Metrics
	wake    chan struct{}
}

// New returns a dispatcher that sends with the given senders; releases on
// other channels are left for processes that have them.
func New(db *store.DB, log *slog.Logger, cfg Config, prepare Preparer, m *Metrics, senders ...Sender) *Dispatcher {
	cfg.defaults()
	d := &Dispatcher{db: db, log: log.With("component", "dispatch"), cfg: cfg, prepare: prepare,
		senders: map[notice.Channel]Sender{}, metrics: m, wake: make(chan struct{}, 1)}
	for _, s := range senders {
		d.senders[s.Channel()] = s
	}
	return d
}

// Wake tells the dispatcher that there may be new work (a release was
// created or resumed), so it need not wait for its next poll.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// workerDead is how a dispatcher tells a dead process from a live one on
// the same host: signal 0 to its PID.
func workerDead(host string) func(store.Worker) bool {
	self := os.Getpid()
	return func(w store.Worker) bool {
		if w.Host != host || w.PID == self {
			return false
		}
		err := syscall.Kill(w.PID, 0)
		return errors.Is(err, syscall.ESRCH)
	}
}

// preparedState is a prepared release and what the run tracks for it.
type preparedState struct {
	*Prepared
	domain string
	// inFlight is each delivery in flight: its attempt and Message-ID.
	inFlight map[int64]flight
}

type flight struct {
	attempts  int
	messageID string
	lease     int64
}

func (p *preparedState) messageID(deliveryID int64) string {
	return delivery.MessageID(p.Release.TokenKey, deliveryID, p.domain)
}

// messageDomain is the domain of a sender's Message-IDs.
func messageDomain(s Sender) string {
	if d, ok := s.(interface{ MessageDomain() string }); ok {
		return d.MessageDomain()
	}
	return "candor.invalid"
}

// run is the state of one Run.
type run struct {
	*Dispatcher
	worker   int64
	jobs     map[notice.Channel]chan Job
	results  chan Result
	inflight int
	pending  []store.Outcome
	// firstPending is when the oldest result not yet recorded arrived.
	firstPending time.Time
	prepared     map[int64]*preparedState
	// leases counts, per lease this run holds, the deliveries whose
	// outcome is not in pending yet; doneLeases have none left.
	leases     map[int64]int
	doneLeases []int64
	breakers   map[int64]*breaker
	releases   []delivery.Release // running releases this process can send
	senderWG   sync.WaitGroup
}

// Run sends until ctx is cancelled, then lets the messages in flight finish
// (for up to drain) and records them before it returns.
func (d *Dispatcher) Run(ctx context.Context) error {
	if len(d.senders) == 0 {
		return errors.New("dispatch: no channel to send on")
	}
	id, err := d.db.RegisterWorker(ctx, d.cfg.Host, os.Getpid())
	if err != nil {
		return err
	}
	r := &run{Dispatcher: d, worker: id, jobs: map[notice.Channel]chan Job{}, results: make(chan Result, d.cfg.InFlight),
		prepared: map[int64]*preparedState{}, leases: map[int64]int{}, breakers: map[int64]*breaker{}}
	sendCtx, stopSenders := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSenders()
	for ch, s := range d.senders {
		jobs := make(chan Job, d.cfg.InFlight)
		r.jobs[ch] = jobs
		r.senderWG.Add(1)
		go func() {
			defer r.senderWG.Done()
			s.Run(sendCtx, jobs, r.results)
		}()
	}
	d.log.Info("dispatcher_started", "worker", id, "in_flight", d.cfg.InFlight, "channels", len(d.senders))
	err = r.loop(ctx)
	r.drain()
	for _, jobs := range r.jobs {
		close(jobs)
	}
	r.senderWG.Wait()
	d.log.Info("dispatcher_stopped", "worker", id)
	return err
}

func (r *run) loop(ctx context.Context) error {
	var lastHouse, lastBeat, lastRecover time.Time
	poll := time.NewTimer(0)
	defer poll.Stop()
	for {
		now := time.Now()
		if now.Sub(lastBeat) >= r.cfg.Heartbeat {
			if err := r.db.Heartbeat(ctx, r.worker); err != nil && ctx.Err() == nil {
				r.log.Warn("heartbeat_failed", "err", err)
			}
			lastBeat = now
		}
		if now.Sub(lastRecover) >= 2*r.cfg.Heartbeat {
			if n, err := r.db.RecoverDeliveries(ctx, r.worker, r.cfg.Stale, workerDead(r.cfg.Host)); err != nil {
				if ctx.Err() == nil {
					r.log.Warn("recover_failed", "err", err)
				}
			} else if n > 0 {
				r.log.Warn("deliveries_recovered", "count", n, "note", "a sending process died; its messages in flight go out again with the same Message-ID, marked possible_duplicate")
			}
			lastRecover = now
		}
		if now.Sub(lastHouse) >= 250*time.Millisecond {
			r.housekeeping(ctx)
			lastHouse = now
		}
		if ctx.Err() != nil {
			return nil
		}

		// A round costs a transaction, so it waits for a quarter of the
		// slots to free up (or for the work to dry up, or for the results
		// in hand to wait too long) and then records and claims at once.
		free := r.cfg.InFlight - r.inflight
		limit := 0
		if len(r.releases) > 0 && (free >= r.roundSize() || r.inflight == 0) {
			limit = min(free, r.cfg.Batch)
		}
		recordDue := len(r.pending) > 0 && (r.inflight == 0 || len(r.pending) >= r.roundSize() || time.Since(r.firstPending) >= maxHold)
		claimed := 0
		if limit > 0 || recordDue {
			n, err := r.round(ctx, limit)
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				r.log.Error("ledger_round_failed", "err", err, "pending", len(r.pending))
				sleep(ctx, time.Second)
				continue
			}
			claimed = n
		}
		switch {
		case r.inflight == 0:
			// Nothing in flight and nothing (more) to claim: wait for work.
			if !poll.Stop() {
				select {
				case <-poll.C:
				default:
				}
			}
			poll.Reset(r.cfg.Poll)
			select {
			case <-ctx.Done():
				return nil
			case <-r.wake:
				lastHouse = time.Time{}
			case <-poll.C:
			}
		case claimed > 0 && claimed == limit && r.cfg.InFlight-r.inflight >= r.roundSize():
			// More slots are free: claim again at once.
		default:
			r.collect(ctx, claimed < limit)
		}
	}
}

// maxHold is the longest a result waits to be recorded.
const maxHold = 20 * time.Millisecond

// roundSize is how many finished deliveries make a round worth its
// transaction.
func (r *run) roundSize() int { return max(1, min(r.cfg.Batch, r.cfg.InFlight/4)) }

// collect waits for results: at least one, then more, until a round's
// worth of slots is free, nothing is in flight, or maxHold has passed.
// idle says the queue looked empty, so there is no hurry to claim.
func (r *run) collect(ctx context.Context, idle bool) {
	wait := maxHold
	if idle {
		wait = 50 * time.Millisecond
	}
	select {
	case res := <-r.results:
		r.take(res)
	case <-ctx.Done():
		return
	case <-time.After(r.cfg.Poll):
		return
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for r.inflight > 0 && (r.cfg.InFlight-r.inflight < r.roundSize() || idle) {
		select {
		case res := <-r.results:
			r.take(res)
		case <-deadline.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

func (r *run) take(res Result) {
	r.inflight--
	if len(r.pending) == 0 {
		r.firstPending = time.Now()
	}
	now := time.Now()
	o := store.Outcome{ID: res.ID, State: res.State, Variant: res.Variant, ProviderID: res.ProviderID, Error: res.Error,
		PossibleDuplicate: res.PossibleDuplicate, At: now}
	p := r.prepared[res.ReleaseID]
	attempts := 0
	if p != nil {
		f := p.inFlight[res.ID]
		attempts, o.MessageID, o.Lease = f.attempts, f.messageID, f.lease
		delete(p.inFlight, res.ID)
		r.settle(f.lease)
	}
	switch res.State {
	case delivery.Deferred:
		if attempts >= r.cfg.MaxAttempts {
			o.State = delivery.Failed
			o.Error = fmt.Sprintf("gave up after %d attempts; last: %s", attempts, res.Error)
		} else {
			o.NotBefore = now.Add(r.backoff(attempts))
		}
	case delivery.Queued:
		o.NotBefore = now.Add(res.RetryAfter)
	}
	r.pending = append(r.pending, o)
	r.metrics.observe(r.channelOf(res.ReleaseID), o.State)
	// Only a running release's attempts count: the stragglers of one just
	// paused must not trip it again as soon as someone resumes it.
	if r.running(res.ReleaseID) {
		if b := r.breaker(res.ReleaseID); b.add(o.State != delivery.Sent, res.Error) {
			r.trip(res.ReleaseID, b)
		}
	}
}

func (r *run) running(releaseID int64) bool {
	for _, rl := range r.releases {
		if rl.ID == releaseID {
			return true
		}
	}
	return false
}

func (r *run) channelOf(releaseID int64) string {
	if p := r.prepared[releaseID]; p != nil {
		return p.Release.Channel
	}
	return "unknown"
}

// backoff is the delay before attempt n+1 of a deferred delivery: base·2^(n−1)
// capped at max, then a random point in its upper half.
func (r *run) backoff(attempts int) time.Duration {
	d := r.cfg.BackoffBase
	for i := 1; i < attempts && d < r.cfg.BackoffMax; i++ {
		d *= 2
	}
	d = min(d, r.cfg.BackoffMax)
	return d/2 + rand.N(d/2+1)
}

// round records what finished and claims up to limit more.
func (r *run) round(ctx context.Context, limit int) (int, error) {
	ids := make([]int64, 0, len(r.releases))
	for _, rl := range r.releases {
		ids = append(ids, rl.ID)
	}
	claimed, err := r.db.RecordAndClaim(ctx, r.pending, store.ClaimSpec{WorkerID: r.worker, Releases: ids, Limit: limit,
		MessageID: func(releaseID, deliveryID int64) string {
			if p := r.prepared[releaseID]; p != nil {
				return p.messageID(deliveryID)
			}
			return ""
		}, DoneLeases: r.doneLeases})
	if err != nil {
		return 0, err
	}
	r.pending, r.doneLeases = r.pending[:0], r.doneLeases[:0]
	for _, c := range claimed {
		if c.Lease != 0 {
			r.leases[c.Lease]++
		}
	}
	for _, c := range claimed {
		p := r.prepared[c.ReleaseID]
		if c.Recipient == nil {
			r.pending = append(r.pending, store.Outcome{ID: c.ID, Lease: c.Lease, State: delivery.Failed, Error: "the recipient was deleted after the release", At: time.Now()})
			r.settle(c.Lease)
			continue
		}
		p.inFlight[c.ID] = flight{c.Attempts, c.MessageID, c.Lease}
		r.inflight++
		r.jobs[notice.Channel(p.Release.Channel)] <- Job{Claimed: c, Release: p.Prepared}
	}
	return len(claimed), nil
}

// settle notes that the outcome of one of lease's deliveries is in
// pending: when it was the last, the lease ends with the next round.
func (r *run) settle(lease int64) {
	if lease == 0 {
		return
	}
	if r.leases[lease]--; r.leases[lease] <= 0 {
		delete(r.leases, lease)
		r.doneLeases = append(r.doneLeases, lease)
	}
}

// housekeeping starts due releases, finishes empty ones, and refreshes the
// list of running releases this process can send, preparing new ones.
func (r *run) housekeeping(ctx context.Context) {
	if _, err := r.db.StartDueReleases(ctx); err != nil && ctx.Err() == nil {
		r.log.Warn("start_releases_failed", "err", err)
	}
	if err := r.db.FinishReleases(ctx); err != nil && ctx.Err() == nil {
		r.log.Warn("finish_releases_failed", "err", err)
	}
	running, err := r.db.FindReleases(ctx, 0, delivery.ReleaseRunning)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Warn("find_releases_failed", "err", err)
		}
		return
	}
	was := map[int64]bool{}
	for _, rl := range r.releases {
		was[rl.ID] = true
	}
	r.releases = r.releases[:0]
	for _, rl := range running {
		if !was[rl.ID] {
			delete(r.breakers, rl.ID) // resumed, or new: a fresh window
		}
		if _, ok := r.senders[notice.Channel(rl.Channel)]; !ok {
			continue
		}
		if r.prepared[rl.ID] == nil {
			prep, err := r.prepare(ctx, rl)
			if err != nil {
				r.refuse(ctx, rl, err)
				continue
			}
			r.prepared[rl.ID] = &preparedState{Prepared: prep, domain: messageDomain(r.senders[notice.Channel(rl.Channel)]), inFlight: map[int64]flight{}}
		}
		r.releases = append(r.releases, rl)
	}
}

// refuse pauses a release whose text can no longer be sent (it was
// withdrawn, or its stored text no longer matches what was approved).
func (r *run) refuse(ctx context.Context, rl delivery.Release, err error) {
	reason := "it could not be prepared: " + err.Error()
	if apperr.Code(err) == apperr.EFORBIDDEN {
		reason = apperr.Message(err)
	}
	r.log.Error("release_refused", "release", rl.ID, "err", err)
	if _, err := r.db.MoveRelease(ctx, auth.System("dispatcher"), rl.ID, store.ReleaseMove{
		From: []delivery.ReleaseState{delivery.ReleaseRunning}, To: delivery.ReleasePaused, Reason: reason,
		Action: "release.pause", Summary: "Paused (nothing is sent that is not approved)",
	}); err != nil && ctx.Err() == nil {
		r.log.Error("release_pause_failed", "release", rl.ID, "err", err)
	}
}

func (r *run) breaker(releaseID int64) *breaker {
	b := r.breakers[releaseID]
	if b == nil {
		b = newBreaker(r.cfg.BreakerWindow, r.cfg.BreakerMin, r.cfg.BreakerRatio)
		r.breakers[releaseID] = b
	}
	return b
}

// trip pauses a release whose failures spiked, saying why, and waits for a
// person to resume it.
func (r *run) trip(releaseID int64, b *breaker) {
	reason := b.reason()
	r.log.Error("circuit_breaker_tripped", "release", releaseID, "reason", reason)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := r.db.MoveRelease(ctx, auth.System("circuit breaker"), releaseID, store.ReleaseMove{
		From: []delivery.ReleaseState{delivery.ReleaseRunning}, To: delivery.ReleasePaused, Reason: reason,
		Action: "release.pause", Summary: "Paused by the circuit breaker",
	}); err != nil && apperr.Code(err) != apperr.EINVALID {
		r.log.Error("release_pause_failed", "release", releaseID, "err", err)
	}
	r.metrics.tripped()
	delete(r.breakers, releaseID)
	for i, rl := range r.releases {
		if rl.ID == releaseID {
			r.releases = append(r.releases[:i], r.releases[i+1:]...)
			break
		}
	}
}

// drain waits for the messages in flight to finish and records them.
func (r *run) drain() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for r.inflight > 0 {
		select {
		case res := <-r.results:
			r.take(res)
		case <-ctx.Done():
			r.log.Warn("drain_timeout", "in_flight", r.inflight)
			r.flush(ctx)
			return
		}
	}
	r.flush(ctx)
}

func (r *run) flush(ctx context.Context) {
	if len(r.pending) == 0 && len(r.doneLeases) == 0 {
		return
	}
	if _, err := r.db.RecordAndClaim(ctx, r.pending, store.ClaimSpec{WorkerID: r.worker, DoneLeases: r.doneLeases}); err != nil {
		r.log.Error("final_record_failed", "err", err, "pending", len(r.pending))
		return
	}
	r.pending, r.doneLeases = r.pending[:0], r.doneLeases[:0]
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
