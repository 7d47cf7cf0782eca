package store_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/audience"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/delivery"
	"github.com/candorhq/candor/internal/notice"
	"github.com/candorhq/candor/internal/store"
	"github.com/candorhq/candor/internal/store/storetest"
)

var content = notice.Content{Subject: "About your account", Body: "Dear {{.Recipient.Name}}, we are sorry."}

func countsOf(t *testing.T, db *store.DB, releaseID int64) delivery.Counts {
	t.Helper()
	c, err := db.ReleaseCounts(ctx, releaseID)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestReleaseWritesOneRowPerMember(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := storetest.NewFixture(t, db, "email,name,phone\nann@example.com,Ann,\nbob@example.com,Bob,\n,Carl,+14155550100\n", content)
		a, av := f.Audience, f.Approved
		list, err := db.CreateAudience(ctx, auth.CLI, audience.New{Kind: audience.AffectedCustomers, Name: "All customers"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := importCSV(t, db, list.ID, "email,name\nBOB@example.com,Bob again\ndee@example.com,Dee\n", audience.ImportOptions{}); err != nil {
			t.Fatal(err)
		}
		if err := db.AttachList(ctx, auth.CLI, a.ID, list.ID); err != nil {
			t.Fatal(err)
		}

		if _, _, err := db.CreateRelease(ctx, auth.CLI, notice.ApprovedVersion{}, store.NewRelease{Channel: notice.ChannelEmail, AudienceID: a.ID, TokenKey: []byte("k")}); apperr.Code(err) != apperr.EFORBIDDEN {
			t.Fatalf("release without approval: %v, want forbidden", err)
		}
		rel, added, err := db.CreateRelease(ctx, auth.CLI, av, store.NewRelease{Channel: notice.ChannelEmail, AudienceID: a.ID, TokenKey: []byte("key")})
		if err != nil {
			t.Fatal(err)
		}
		if added != 4 || rel.Total != 4 || rel.State != delivery.ReleaseRunning {
			t.Fatalf("release: added %d, %+v", added, rel)
		}
		c := countsOf(t, db, rel.ID)
		if c[delivery.Queued] != 3 || c[delivery.Failed] != 1 {
			t.Fatalf("counts %v: want 3 queued (Ann, Bob, Dee) and 1 failed (Carl has no email)", c)
		}
		again, added, err := db.CreateRelease(ctx, auth.CLI, av, store.NewRelease{Channel: notice.ChannelEmail, AudienceID: a.ID, TokenKey: []byte("other")})
		if err != nil || added != 0 || again.ID != rel.ID || again.Total != 4 {
			t.Fatalf("second release: %+v added %d err %v; want the same release and nothing new", again, added, err)
		}
		// Someone joins the audience later: releasing again adds only them.
		if _, err := importCSV(t, db, a.ID, "email,name\neve@example.com,Eve\n", audience.ImportOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, added, err = db.CreateRelease(ctx, auth.CLI, av, store.NewRelease{Channel: notice.ChannelEmail, AudienceID: a.ID}); err != nil || added != 1 {
			t.Fatalf("release after a new member: added %d, %v", added, err)
		}
		ds, err := db.FindDeliveries(ctx, store.DeliveryFilter{Address: "Bob@Example.com"})
		if err != nil || len(ds) != 1 || ds[0].NoticeTitle != "Customer alert" || ds[0].State != delivery.Queued {
			t.Fatalf("deliveries to bob: %+v %v", ds, err)
		}
	})
}

// A bulk import and a bulk release refresh PostgreSQL's statistics at
// once: with the statistics of an empty table, the planner would read every
// queued delivery to record each batch of outcomes, and every remaining
// recipient to read each page of members.
func TestBulkWritesRefreshPlannerStatistics(t *testing.T) {
	db := storetest.Postgres(t)
	f := storetest.NewFixture(t, db, storetest.Recipients(1500), content)
	if n, err := db.PlannerRows("recipients"); err != nil || n < 1500 {
		t.Fatalf("planner's recipients after importing 1,500: %v (%v); want at least 1,500", n, err)
	}
	if _, _, err := db.CreateRelease(ctx, auth.CLI, f.Approved, store.NewRelease{Channel: notice.ChannelEmail, AudienceID: f.Audience.ID, TokenKey: []byte("k")}); err != nil {
		t.Fatal(err)
	}
	if n, err := db.PlannerRows("deliveries"); err != nil || n < 1500 {
		t.Fatalf("planner's deliveries after releasing to 1,500: %v (%v); want at least 1,500", n, err)
	}
}

func TestClaimRecordAndRecover(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := storetest.NewFixture(t, db, storetest.Recipients(50), content)
		a, av := f.Audience, f.Approved
		rel, _, err := db.CreateRelease(ctx, auth.CLI, av, store.NewRelease{Channel: notice.ChannelEmail, AudienceID: a.ID, TokenKey: []byte("key")})
		if err != nil {
			t.Fatal(err)
		}
		w1, err := db.RegisterWorker(ctx, "host", 1)
		if err != nil {
			t.Fatal(err)
		}
		mid := func(r, d int64) string { return delivery.MessageID(rel.TokenKey, d, "example.com") }
		// Person 3 is deleted after the release: claimed without a recipient.
		if err := db.DeleteRecipientRow("r3@example.com"); err != nil {
			t.Fatal(err)
		}
		got, err := db.RecordAndClaim(ctx, nil, store.ClaimSpec{WorkerID: w1, Releases: []int64{rel.ID}, Limit: 20, MessageID: mid})
		if err != nil || len(got) != 20 {
			t.Fatalf("claim: %d %v", len(got), err)
		}
		if got[0].Recipient == nil || got[0].Recipient.Name != "Person 0" || got[0].Recipient.Email != "r0@example.com" || got[0].MessageID == "" || got[0].Attempts != 1 {
			t.Fatalf("claimed row: %+v", got[0])
		}
		if got[3].Recipient != nil || got[3].Address != "r3@example.com" || got[4].Recipient == nil || got[4].Recipient.Name != "Person 4" {
			t.Fatalf("claimed rows 3 and 4: %+v, %+v; want the deleted recipient's row without a recipient", got[3], got[4])
		}
		firstMID := got[0].MessageID
		now := time.Now()
		zero := -1
		var outs []store.Outcome
		for i, c := range got[:10] {
			o := store.Outcome{ID: c.ID, Lease: c.Lease, State: delivery.Sent, Variant: &zero, ProviderID: fmt.Sprintf("q%d", i), At: now}
			if i == 9 {
				o = store.Outcome{ID: c.ID, Lease: c.Lease, State: delivery.Deferred, Error: "451 try later", NotBefore: now.Add(time.Hour), At: now}
			}
			outs = append(outs, o)
		}
		more, err := db.RecordAndClaim(ctx, outs, store.ClaimSpec{WorkerID: w1, Releases: []int64{rel.ID}, Limit: 5, MessageID: mid})
		if err != nil || len(more) != 5 {
			t.Fatalf("record and claim: %d %v", len(more), err)
		}
		c := countsOf(t, db, rel.ID)
		if c[delivery.Sent] != 9 || c[delivery.Deferred] != 1 || c[delivery.Sending] != 15 || c[delivery.Queued] != 25 {
			t.Fatalf("counts %v", c)
		}
		// Worker 1 dies with 15 rows in flight; worker 2 recovers them.
		w2, err := db.RegisterWorker(ctx, "host", 2)
		if err != nil {
			t.Fatal(err)
		}
		n, err := db.RecoverDeliveries(ctx, w2, time.Minute, func(w store.Worker) bool { return w.PID == 1 })
		if err != nil || n != 15 {
			t.Fatalf("recovered %d, %v; want 15", n, err)
		}
		// Worker 1's late outcomes no longer count: the rows are not its own.
		if _, err := db.RecordAndClaim(ctx, []store.Outcome{{ID: got[10].ID, Lease: got[10].Lease, State: delivery.Sent, At: now}}, store.ClaimSpec{WorkerID: w1}); err != nil {
			t.Fatal(err)
		}
		// The 15 are retries now, due at once, each with its attempt
		// counted; the 25 never claimed are still queued.
		if c := countsOf(t, db, rel.ID); c[delivery.Queued] != 25 || c[delivery.Deferred] != 16 || c[delivery.Sending] != 0 {
			t.Fatalf("counts after recovery %v", c)
		}
		ds, err := db.FindDeliveries(ctx, store.DeliveryFilter{ReleaseID: rel.ID, State: delivery.Deferred, Limit: 100})
		if err != nil || len(ds) != 16 {
			t.Fatalf("deferred after recovery: %d %v", len(ds), err)
		}
		dups := 0
		for _, d := range ds {
			if d.PossibleDuplicate {
				dups++
				if d.Attempts != 1 || d.FirstAttemptAt == nil || d.LastError == "" {
					t.Errorf("recovered row %+v: want its attempt counted and why", d)
				}
			}
		}
		if dups != 15 {
			t.Fatalf("%d rows marked possible duplicate, want 15", dups)
		}
		// Worker 2 finishes everything; recovered rows get the same Message-ID.
		var seen = map[int64]bool{}
		var pending []store.Outcome
		for {
			cl, err := db.RecordAndClaim(ctx, pending, store.ClaimSpec{WorkerID: w2, Releases: []int64{rel.ID}, Limit: 7, MessageID: mid})
			if err != nil {
				t.Fatal(err)
			}
			pending = pending[:0]
			if len(cl) == 0 {
				break
			}
			for _, c := range cl {
				if seen[c.ID] {
					t.Fatalf("delivery %d claimed twice", c.ID)
				}
				seen[c.ID] = true
				if c.ID == got[0].ID && c.MessageID != firstMID {
					t.Fatalf("Message-ID changed: %s then %s", firstMID, c.MessageID)
				}
				pending = append(pending, store.Outcome{ID: c.ID, Lease: c.Lease, State: delivery.Sent, At: now})
			}
		}
		if len(seen) != 40 {
			t.Fatalf("worker 2 claimed %d, want 40", len(seen))
		}
		if err := db.FinishReleases(ctx); err != nil {
			t.Fatal(err)
		}
		if r, _ := db.FindReleaseByID(ctx, rel.ID); r.State != delivery.ReleaseRunning {
			t.Fatalf("release with a deferred row is %s, want still running", r.State)
		}
	})
}

func TestPauseCancelAndSchedule(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := storetest.NewFixture(t, db, storetest.Recipients(3), content)
		a, av := f.Audience, f.Approved
		start := time.Now().Add(time.Hour)
		rel, _, err := db.CreateRelease(ctx, auth.CLI, av, store.NewRelease{Channel: notice.ChannelEmail, AudienceID: a.ID, StartAt: start, TokenKey: []byte("k")})
		if err != nil || rel.State != delivery.ReleaseScheduled {
			t.Fatalf("scheduled release: %+v %v", rel, err)
		}
		w, _ := db.RegisterWorker(ctx, "h", 1)
		running, _ := db.FindReleases(ctx, 0, delivery.ReleaseRunning)
		if len(running) != 0 {
			t.Fatalf("running before start: %+v", running)
		}
		if n, err := db.StartDueReleases(ctx); err != nil || n != 0 {
			t.Fatalf("started %d early, %v", n, err)
		}
		db.Now = func() time.Time { return start.Add(time.Second) }
		if n, err := db.StartDueReleases(ctx); err != nil || n != 1 {
			t.Fatalf("started %d at the time, %v", n, err)
		}
		pause := store.ReleaseMove{From: []delivery.ReleaseState{delivery.ReleaseRunning}, To: delivery.ReleasePaused, Reason: "legal wants a look", Action: "release.pause", Summary: "Paused"}
		if rel, err = db.MoveRelease(ctx, auth.CLI, rel.ID, pause); err != nil || rel.State != delivery.ReleasePaused || rel.Reason != "legal wants a look" {
			t.Fatalf("pause: %+v %v", rel, err)
		}
		if _, err := db.MoveRelease(ctx, auth.CLI, rel.ID, pause); apperr.Code(err) != apperr.EINVALID {
			t.Fatalf("pause twice: %v", err)
		}
		got, err := db.RecordAndClaim(ctx, nil, store.ClaimSpec{WorkerID: w, Releases: []int64{rel.ID}, Limit: 1})
		if err != nil || len(got) != 1 {
			// The store claims what it is asked; workers ask only for running releases.
			t.Fatalf("claim: %d %v", len(got), err)
		}
		cancel := store.ReleaseMove{From: []delivery.ReleaseState{delivery.ReleaseRunning, delivery.ReleasePaused, delivery.ReleaseScheduled}, To: delivery.ReleaseCancelled, Action: "release.cancel", Summary: "Cancelled"}
		if rel, err = db.MoveRelease(ctx, auth.CLI, rel.ID, cancel); err != nil || rel.FinishedAt == nil {
			t.Fatalf("cancel: %+v %v", rel, err)
		}
		c := countsOf(t, db, rel.ID)
		if c[delivery.Cancelled] != 2 || c[delivery.Sending] != 1 {
			t.Fatalf("after cancel: %v; want 2 cancelled and the one in flight left to finish", c)
		}
		if _, _, err := db.CreateRelease(ctx, auth.CLI, av, store.NewRelease{Channel: notice.ChannelEmail, AudienceID: a.ID}); apperr.Code(err) != apperr.ECONFLICT {
			t.Fatalf("release after cancel: %v, want conflict", err)
		}
	})
}

// Several workers claiming at once never claim the same row.
func TestConcurrentClaimsNeverOverlap(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := storetest.NewFixture(t, db, storetest.Recipients(600), content)
		a, av := f.Audience, f.Approved
		rel, _, err := db.CreateRelease(ctx, auth.CLI, av, store.NewRelease{Channel: notice.ChannelEmail, AudienceID: a.ID, TokenKey: []byte("k")})
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		seen := map[int64]int{}
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id, err := db.RegisterWorker(ctx, "h", 100+w)
				if err != nil {
					t.Error(err)
					return
				}
				var pending []store.Outcome
				for {
					cl, err := db.RecordAndClaim(ctx, pending, store.ClaimSpec{WorkerID: id, Releases: []int64{rel.ID}, Limit: 25})
					if err != nil {
						t.Error(err)
						return
					}
					if len(cl) == 0 {
						return
					}
					pending = pending[:0]
					mu.Lock()
					for _, c := range cl {
						seen[c.ID]++
						pending = append(pending, store.Outcome{ID: c.ID, Lease: c.Lease, State: delivery.Sent, At: time.Now()})
					}
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if len(seen) != 600 {
			t.Fatalf("claimed %d distinct rows, want 600", len(seen))
		}
		for id, n := range seen {
			if n != 1 {
				t.Fatalf("row %d claimed %d times", id, n)
			}
		}
	})
}

// TestLeases follows the runs of never-tried deliveries a worker leases:
// each delivery is claimed once, in id order; members who join later are
// leased after the rest; a cancel leaves what is in flight to its worker,
// whose outcomes still count; the lease ends with its last outcome; and
// queued rows a lost lease held are not skipped.
func TestLeases(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := storetest.NewFixture(t, db, storetest.Recipients(10), content)
		a, av := f.Audience, f.Approved
		rel, _, err := db.CreateRelease(ctx, auth.CLI, av, store.NewRelease{Channel: notice.ChannelEmail, AudienceID: a.ID, TokenKey: []byte("k")})
		if err != nil {
			t.Fatal(err)
		}
		w, _ := db.RegisterWorker(ctx, "h", 1)
		claim := func(limit int, outs []store.Outcome, done ...int64) []store.Claimed {
			t.Helper()
			got, err := db.RecordAndClaim(ctx, outs, store.ClaimSpec{WorkerID: w, Releases: []int64{rel.ID}, Limit: limit, DoneLeases: done})
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		sent := func(cs []store.Claimed) []store.Outcome {
			var outs []store.Outcome
			for _, c := range cs {
				outs = append(outs, store.Outcome{ID: c.ID, Lease: c.Lease, State: delivery.Sent, At: time.Now()})
			}
			return outs
		}
		first := claim(4, nil)
		second := claim(4, nil)
		if len(first) != 4 || len(second) != 4 || first[0].Lease == 0 || first[0].Lease == second[0].Lease || second[0].ID <= first[3].ID {
			t.Fatalf("two leases: %+v then %+v", first, second)
		}
		for _, c := range first {
			if c.Lease != first[0].Lease || c.Attempts != 1 || c.Recipient == nil || c.LastAttemptAt == nil {
				t.Fatalf("leased delivery %+v", c)
			}
		}
		if c := countsOf(t, db, rel.ID); c[delivery.Sending] != 8 || c[delivery.Queued] != 2 {
			t.Fatalf("counts with two leases out: %v", c)
		}
		if ds, _ := db.FindDeliveries(ctx, store.DeliveryFilter{ReleaseID: rel.ID, State: delivery.Sending}); len(ds) != 8 {
			t.Fatalf("%d deliveries shown sending, want 8", len(ds))
		}

		// Someone joins: they come after the rest.
		if _, err := importCSV(t, db, a.ID, "email,name\nlate@example.com,Late\n", audience.ImportOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, added, err := db.CreateRelease(ctx, auth.CLI, av, store.NewRelease{Channel: notice.ChannelEmail, AudienceID: a.ID}); err != nil || added != 1 {
			t.Fatalf("release again: %d %v", added, err)
		}
		third := claim(10, sent(first), first[0].Lease)
		if len(third) != 3 || third[2].Address != "late@example.com" {
			t.Fatalf("third lease: %+v", third)
		}
		if n, _ := db.Leases(); n != 2 {
			t.Fatalf("%d leases held, want 2 (the first ended with its last outcome)", n)
		}

		// Cancel: the 3 of the third lease and the 4 of the second are in
		// flight; nothing is left to cancel, and their outcomes count.
		cancel := store.ReleaseMove{From: []delivery.ReleaseState{delivery.ReleaseRunning}, To: delivery.ReleaseCancelled, Action: "release.cancel", Summary: "Cancelled"}
		if _, err := db.MoveRelease(ctx, auth.CLI, rel.ID, cancel); err != nil {
			t.Fatal(err)
		}
		if c := countsOf(t, db, rel.ID); c[delivery.Cancelled] != 0 || c[delivery.Sending] != 7 {
			t.Fatalf("counts after cancel: %v", c)
		}
		claim(0, sent(second), second[0].Lease)
		if c := countsOf(t, db, rel.ID); c[delivery.Sent] != 8 || c[delivery.Sending] != 3 {
			t.Fatalf("counts after the second lease's outcomes: %v", c)
		}

		// A lease lost by a bug: its queued rows become retries, not
		// forgotten ones. (Only running and paused releases are swept.)
		f2 := storetest.NewFixture(t, db, storetest.Recipients(8), content)
		rel2, _, err := db.CreateRelease(ctx, auth.CLI, f2.Approved, store.NewRelease{Channel: notice.ChannelEmail, AudienceID: f2.Audience.ID, TokenKey: []byte("k")})
		if err != nil {
			t.Fatal(err)
		}
		got := func() []store.Claimed {
			g, err := db.RecordAndClaim(ctx, nil, store.ClaimSpec{WorkerID: w, Releases: []int64{rel2.ID}, Limit: 5})
			if err != nil {
				t.Fatal(err)
			}
			return g
		}()
		if len(got) != 5 {
			t.Fatalf("claimed %d of the second release", len(got))
		}
		if err := db.DropLeases(); err != nil {
			t.Fatal(err)
		}
		if _, err := db.RecoverDeliveries(ctx, w, time.Minute, nil); err != nil {
			t.Fatal(err)
		}
		if c := countsOf(t, db, rel2.ID); c[delivery.Deferred] != 5 || c[delivery.Queued] != 3 {
			t.Fatalf("counts after a lost lease: %v", c)
		}
	})
}
