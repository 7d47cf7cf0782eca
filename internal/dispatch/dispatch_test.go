package dispatch_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/audience"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/delivery"
	"github.com/candorhq/candor/internal/dispatch"
	"github.com/candorhq/candor/internal/notice"
	"github.com/candorhq/candor/internal/store"
	"github.com/candorhq/candor/internal/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

var content = notice.Content{Subject: "About your account, {{.Recipient.Name}}", Body: "Dear {{.Recipient.Name}},\n\nwe are sorry."}

// fakeSender records what it is asked to send; behave decides each
// outcome (nil: sent).
type fakeSender struct {
	mu     sync.Mutex
	sent   map[string]int
	tries  map[string]int
	mids   map[string]string
	conns  int
	behave func(addr string, try int) dispatch.Result
}

func newFake(behave func(addr string, try int) dispatch.Result) *fakeSender {
	return &fakeSender{sent: map[string]int{}, tries: map[string]int{}, mids: map[string]string{}, conns: 4, behave: behave}
}

func (f *fakeSender) Channel() notice.Channel { return notice.ChannelEmail }

func (f *fakeSender) Run(ctx context.Context, jobs <-chan dispatch.Job, results chan<- dispatch.Result) {
	var wg sync.WaitGroup
	for range f.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				v := j.Release.Select(j.Recipient)
				d := j.Release.Base
				d.Recipient = app.RecipientData(*j.Recipient)
				e, err := j.Release.Email(v, d)
				res := dispatch.Result{ID: j.ID, ReleaseID: j.ReleaseID, State: delivery.Sent, Variant: &v, ProviderID: "ok"}
				if err != nil || !strings.Contains(e.Subject, j.Recipient.Name) {
					res = dispatch.Result{ID: j.ID, ReleaseID: j.ReleaseID, State: delivery.Failed, Error: fmt.Sprintf("render: %v %q", err, e.Subject)}
				}
				f.mu.Lock()
				f.tries[j.Address]++
				try := f.tries[j.Address]
				if old, ok := f.mids[j.Address]; ok && old != j.MessageID {
					res = dispatch.Result{ID: j.ID, ReleaseID: j.ReleaseID, State: delivery.Failed, Error: "Message-ID changed"}
				}
				f.mids[j.Address] = j.MessageID
				f.mu.Unlock()
				if f.behave != nil && res.State == delivery.Sent {
					if r := f.behave(j.Address, try); r.State != "" {
						r.ID, r.ReleaseID = j.ID, j.ReleaseID
						res = r
					}
				}
				if res.State == delivery.Sent {
					f.mu.Lock()
					f.sent[j.Address]++
					f.mu.Unlock()
				}
				results <- res
			}
		}()
	}
	wg.Wait()
}

func prepare(db *store.DB) dispatch.Preparer {
	return func(ctx context.Context, r delivery.Release) (*dispatch.Prepared, error) {
		av, err := db.CertifiedVersion(ctx, r.NoticeID, r.Version)
		if err != nil {
			return nil, err
		}
		return dispatch.NewPrepared(r, av, notice.Data{Company: notice.Company{Name: "Example"}}, nil)
	}
}

// start runs a dispatcher until the test ends.
func start(t *testing.T, db *store.DB, cfg dispatch.Config, s dispatch.Sender) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	cfg.Poll = 20 * time.Millisecond
	d := dispatch.New(db, slog.New(slog.DiscardHandler), cfg, prepare(db), nil, s)
	go func() {
		defer close(done)
		if err := d.Run(ctx); err != nil {
			t.Errorf("run: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
}

func release(t *testing.T, db *store.DB, f storetest.Fixture, at time.Time) delivery.Release {
	t.Helper()
	rel, _, err := db.CreateRelease(context.Background(), f.Approver, f.Approved, store.NewRelease{Channel: notice.ChannelEmail, AudienceID: f.Audience.ID, StartAt: at, TokenKey: []byte("key")})
	if err != nil {
		t.Fatal(err)
	}
	return rel
}

// waitState waits for a release to reach one of states.
func waitState(t *testing.T, db *store.DB, id int64, states ...delivery.ReleaseState) delivery.Release {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		r, err := db.FindReleaseByID(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range states {
			if r.State == s {
				return r
			}
		}
		if time.Now().After(deadline) {
			c, _ := db.ReleaseCounts(context.Background(), id)
			t.Fatalf("release %d is %s (%s), counts %v; want %v", id, r.State, r.Reason, c, states)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestEveryoneOnceAndOnlyOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := storetest.NewFixture(t, db, storetest.Recipients(1000), content)
		s := newFake(nil)
		start(t, db, dispatch.Config{InFlight: 64, Batch: 32}, s)
		rel := release(t, db, f, time.Time{})
		waitState(t, db, rel.ID, delivery.ReleaseDone)
		c, _ := db.ReleaseCounts(context.Background(), rel.ID)
		if c[delivery.Sent] != 1000 || len(c) != 1 {
			t.Fatalf("counts %v, want 1000 sent", c)
		}
		if len(s.sent) != 1000 {
			t.Fatalf("sent to %d addresses", len(s.sent))
		}
		for a, n := range s.sent {
			if n != 1 {
				t.Fatalf("%s got %d messages", a, n)
			}
		}
		ds, err := db.FindDeliveries(context.Background(), store.DeliveryFilter{Address: "r7@example.com"})
		if err != nil || len(ds) != 1 || ds[0].SentAt == nil || ds[0].Variant == nil || *ds[0].Variant != -1 || ds[0].ProviderID != "ok" || ds[0].MessageID == "" {
			t.Fatalf("ledger row: %+v %v", ds, err)
		}
	})
}

func TestDeferredIsRetriedWithBackoffThenGivenUp(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := storetest.NewFixture(t, db, storetest.Recipients(20), content)
		s := newFake(func(addr string, try int) dispatch.Result {
			switch {
			case addr == "r3@example.com" && try <= 2:
				return dispatch.Result{State: delivery.Deferred, Error: "451 4.7.1 greylisted"}
			case addr == "r5@example.com":
				return dispatch.Result{State: delivery.Deferred, Error: "452 4.2.2 mailbox full"}
			case addr == "r6@example.com":
				return dispatch.Result{State: delivery.Failed, Error: "550 5.1.1 no such user"}
			case addr == "r7@example.com" && try == 1:
				return dispatch.Result{State: delivery.Queued, Error: "connection reset", PossibleDuplicate: true}
			}
			return dispatch.Result{}
		})
		start(t, db, dispatch.Config{BackoffBase: 20 * time.Millisecond, BackoffMax: 100 * time.Millisecond, MaxAttempts: 4}, s)
		rel := release(t, db, f, time.Time{})
		waitState(t, db, rel.ID, delivery.ReleaseDone)
		c, _ := db.ReleaseCounts(context.Background(), rel.ID)
		if c[delivery.Sent] != 18 || c[delivery.Failed] != 2 {
			t.Fatalf("counts %v; want 18 sent, 2 failed", c)
		}
		row := func(addr string) delivery.Record {
			ds, err := db.FindDeliveries(context.Background(), store.DeliveryFilter{Address: addr})
			if err != nil || len(ds) != 1 {
				t.Fatalf("%s: %v %v", addr, ds, err)
			}
			return ds[0]
		}
		if r := row("r3@example.com"); r.State != delivery.Sent || r.Attempts != 3 {
			t.Fatalf("greylisted: %+v", r)
		}
		if r := row("r5@example.com"); r.State != delivery.Failed || r.Attempts != 4 || !strings.Contains(r.LastError, "gave up after 4 attempts") || !strings.Contains(r.LastError, "mailbox full") {
			t.Fatalf("always deferred: %+v", r)
		}
		if r := row("r6@example.com"); r.State != delivery.Failed || r.Attempts != 1 || r.LastError != "550 5.1.1 no such user" {
			t.Fatalf("permanent failure: %+v", r)
		}
		if r := row("r7@example.com"); r.State != delivery.Sent || !r.PossibleDuplicate || r.Attempts != 2 {
			t.Fatalf("connection broke after the data: %+v", r)
		}
	})
}

func TestBreakerPausesAndResumeFinishes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := storetest.NewFixture(t, db, storetest.Recipients(300), content)
		var mu sync.Mutex
		broken := true
		s := newFake(func(addr string, try int) dispatch.Result {
			mu.Lock()
			defer mu.Unlock()
			if broken {
				return dispatch.Result{State: delivery.Deferred, Error: "421 4.7.0 too many connections"}
			}
			return dispatch.Result{}
		})
		start(t, db, dispatch.Config{BreakerWindow: 50, BreakerMin: 20, BackoffBase: 10 * time.Millisecond, BackoffMax: 10 * time.Millisecond, InFlight: 8, Batch: 4}, s)
		rel := release(t, db, f, time.Time{})
		got := waitState(t, db, rel.ID, delivery.ReleasePaused)
		if !strings.Contains(got.Reason, "of the last") || !strings.Contains(got.Reason, "too many connections") || got.StateBy != "circuit breaker" {
			t.Fatalf("paused: %q by %q", got.Reason, got.StateBy)
		}
		c, _ := db.ReleaseCounts(context.Background(), rel.ID)
		if c[delivery.Queued] < 200 {
			t.Fatalf("counts after the trip %v: the breaker should have stopped it early", c)
		}
		mu.Lock()
		broken = false
		mu.Unlock()
		if _, err := db.MoveRelease(context.Background(), auth.CLI, rel.ID, store.ReleaseMove{From: []delivery.ReleaseState{delivery.ReleasePaused}, To: delivery.ReleaseRunning, Action: "release.resume", Summary: "Resumed"}); err != nil {
			t.Fatal(err)
		}
		waitState(t, db, rel.ID, delivery.ReleaseDone)
		if c, _ := db.ReleaseCounts(context.Background(), rel.ID); c[delivery.Sent] != 300 {
			t.Fatalf("after resume: %v", c)
		}
	})
}

func TestScheduledReleaseWaitsForItsTime(t *testing.T) {
	db := storetest.SQLite(t)
	f := storetest.NewFixture(t, db, storetest.Recipients(5), content)
	s := newFake(nil)
	at := time.Now().Add(400 * time.Millisecond)
	rel := release(t, db, f, at)
	if rel.State != delivery.ReleaseScheduled {
		t.Fatalf("state %s", rel.State)
	}
	start(t, db, dispatch.Config{}, s)
	waitState(t, db, rel.ID, delivery.ReleaseDone)
	ds, _ := db.FindDeliveries(context.Background(), store.DeliveryFilter{ReleaseID: rel.ID})
	for _, d := range ds {
		if d.SentAt == nil || d.SentAt.Before(at) {
			t.Fatalf("sent at %v, before its time %v", d.SentAt, at)
		}
	}
}

func TestWithdrawnNoticeIsNotSent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := storetest.NewFixture(t, db, storetest.Recipients(5), content)
		rel := release(t, db, f, time.Time{})
		v := f.Approved.Version()
		if _, err := db.TransitionNotice(context.Background(), f.Approver, v.NoticeID, v.Number, store.Transition{Action: "notice.withdraw", Summary: "Withdrawn",
			Decide: func(store.NoticeVersion) (notice.State, error) { return notice.Withdrawn, nil }}); err != nil {
			t.Fatal(err)
		}
		s := newFake(nil)
		start(t, db, dispatch.Config{}, s)
		got := waitState(t, db, rel.ID, delivery.ReleasePaused)
		if !strings.Contains(got.Reason, "not approved") {
			t.Fatalf("reason %q", got.Reason)
		}
		if len(s.tries) != 0 {
			t.Fatalf("sent %v of a withdrawn notice", s.tries)
		}
	})
}

// A recipient's variant is chosen by segment and recorded in the ledger.
func TestVariantsBySegment(t *testing.T) {
	db := storetest.SQLite(t)
	c := content
	c.Variants = []notice.Variant{{Name: "French", Locale: "fr", Subject: "Votre compte, {{.Recipient.Name}}", Body: "Bonjour"}}
	f := storetest.NewFixture(t, db, "email,name,locale\na@example.com,Ann,en\nb@example.com,Bea,fr-CA\n", c)
	_ = audience.Recipient{}
	s := newFake(nil)
	start(t, db, dispatch.Config{}, s)
	rel := release(t, db, f, time.Time{})
	waitState(t, db, rel.ID, delivery.ReleaseDone)
	for addr, want := range map[string]int{"a@example.com": -1, "b@example.com": 0} {
		ds, _ := db.FindDeliveries(context.Background(), store.DeliveryFilter{Address: addr})
		if len(ds) != 1 || ds[0].Variant == nil || *ds[0].Variant != want {
			t.Fatalf("%s: %+v, want variant %d", addr, ds, want)
		}
	}
}
