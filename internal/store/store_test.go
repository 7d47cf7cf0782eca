package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/incident"
	"github.com/candorhq/candor/internal/store"
	"github.com/candorhq/candor/internal/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

var ctx = context.Background()

func newIncident(t *testing.T, db *store.DB) incident.Incident {
	t.Helper()
	in, err := db.CreateIncident(ctx, auth.CLI, incident.New{Title: "Card numbers exposed", Severity: incident.Critical,
		Facts: incident.Facts{WhatHappened: "An extortionist claims to hold our customer records.", AffectedTotal: 15000, Exposed: []incident.DataKind{"card_number"}}})
	if err != nil {
		t.Fatalf("create incident: %v", err)
	}
	return in
}

func TestMigrateIsIdempotent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		n, err := db.Migrate(ctx)
		if err != nil || n != 0 {
			t.Fatalf("second migrate applied %d, err %v; want 0, nil", n, err)
		}
		v, err := db.SchemaVersion(ctx)
		if err != nil || v < 1 {
			t.Fatalf("schema version %d, %v", v, err)
		}
	})
}

func TestUsers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		u, err := db.CreateUser(ctx, auth.CLI, auth.NewUser{Email: "ana@example.com", Role: auth.Admin}, "hash")
		if err != nil {
			t.Fatal(err)
		}
		_, err = db.CreateUser(ctx, auth.CLI, auth.NewUser{Email: "ana@example.com", Role: auth.Viewer}, "hash")
		if apperr.Code(err) != apperr.ECONFLICT {
			t.Fatalf("duplicate email: got %v, want conflict", err)
		}
		got, err := db.FindUserByEmail(ctx, "ana@example.com")
		if err != nil || got.ID != u.ID || got.Role != auth.Admin {
			t.Fatalf("find by email: %+v %v", got, err)
		}
		if _, err := db.FindUserByID(ctx, 999); apperr.Code(err) != apperr.ENOTFOUND {
			t.Fatalf("missing user: %v", err)
		}
		yes := true
		if _, err := db.UpdateUser(ctx, auth.CLI, u.ID, store.UserUpdate{Disabled: &yes}); apperr.Code(err) != apperr.EINVALID {
			t.Fatalf("disabling the last admin: got %v, want invalid", err)
		}
		viewer, _ := db.CreateUser(ctx, auth.CLI, auth.NewUser{Email: "vic@example.com", Role: auth.Viewer}, "hash")
		sess, err := db.CreateSession(ctx, viewer, "secret-hash", time.Hour, "test")
		if err != nil || sess.ID == 0 {
			t.Fatal(err)
		}
		if _, _, err := db.FindSession(ctx, "secret-hash", time.Hour); err != nil {
			t.Fatalf("live session: %v", err)
		}
		if _, err := db.UpdateUser(ctx, auth.CLI, viewer.ID, store.UserUpdate{Disabled: &yes}); err != nil {
			t.Fatal(err)
		}
		if _, _, err := db.FindSession(ctx, "secret-hash", time.Hour); apperr.Code(err) != apperr.EUNAUTHORIZED {
			t.Fatalf("session of a disabled user: got %v, want unauthorized", err)
		}
	})
}

func TestSessionExpiry(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		now := time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC)
		db.Now = func() time.Time { return now }
		u, _ := db.CreateUser(ctx, auth.CLI, auth.NewUser{Email: "e@example.com", Role: auth.Editor}, "hash")
		if _, err := db.CreateSession(ctx, u, "h", time.Hour, ""); err != nil {
			t.Fatal(err)
		}
		now = now.Add(59 * time.Minute)
		if _, _, err := db.FindSession(ctx, "h", time.Hour); err != nil {
			t.Fatalf("session before expiry: %v", err)
		}
		now = now.Add(2 * time.Hour) // extended by the use above to 09:59 + 1h
		if _, _, err := db.FindSession(ctx, "h", time.Hour); apperr.Code(err) != apperr.EUNAUTHORIZED {
			t.Fatalf("expired session: got %v", err)
		}
	})
}

func TestFactsVersionsAndConflict(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		in := newIncident(t, db)
		v1, err := db.FindFacts(ctx, in.ID, 0)
		if err != nil || v1.Version != 1 {
			t.Fatalf("current facts: %+v %v", v1, err)
		}
		f := v1.Facts
		f.Exposed = append(f.Exposed, "card_expiry")
		v2, err := db.SaveFacts(ctx, auth.CLI, in.ID, 1, f, "Forensics found expiry dates too")
		if err != nil || v2.Version != 2 {
			t.Fatalf("save v2: %+v %v", v2, err)
		}
		// A second editor who also started from version 1 must not overwrite.
		other := v1.Facts
		other.AffectedTotal = 14872
		_, err = db.SaveFacts(ctx, auth.CLI, in.ID, 1, other, "Exact count")
		e := apperr.As(err)
		if e == nil || e.Code != apperr.ECONFLICT {
			t.Fatalf("stale save: got %v, want conflict", err)
		}
		d, ok := e.Detail.(*store.ConflictDetail)
		if !ok || d.CurrentVersion != 2 || len(d.Changes) != 1 || d.Changes[0].Field != "exposed" {
			t.Fatalf("conflict detail: %+v", e.Detail)
		}
		if _, err := db.SaveFacts(ctx, auth.CLI, in.ID, 2, f, "no change"); apperr.Code(err) != apperr.EINVALID {
			t.Fatalf("unchanged save: %v", err)
		}
		vs, err := db.FindFactsVersions(ctx, in.ID)
		if err != nil || len(vs) != 2 || vs[0].Version != 2 || vs[0].Reason != "Forensics found expiry dates too" {
			t.Fatalf("versions: %+v %v", vs, err)
		}
	})
}

func TestConcurrentSavesNeverOverwrite(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		in := newIncident(t, db)
		v1, _ := db.FindFacts(ctx, in.ID, 0)
		var wg sync.WaitGroup
		errs := make([]error, 8)
		for i := range errs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				f := v1.Facts
				f.AffectedTotal = 20000 + i
				_, errs[i] = db.SaveFacts(ctx, auth.CLI, in.ID, 1, f, "count")
			}()
		}
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch apperr.Code(err) {
			case "":
				ok++
			case apperr.ECONFLICT:
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d concurrent saves from the same base succeeded; want exactly 1", ok)
		}
		vs, _ := db.FindFactsVersions(ctx, in.ID)
		if len(vs) != 2 {
			t.Fatalf("%d versions; want 2", len(vs))
		}
		if _, p, err := db.VerifyAudit(ctx); p != nil || err != nil {
			t.Fatalf("audit after concurrent saves: %v %v", p, err)
		}
	})
}

func TestMoveIncident(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		in := newIncident(t, db)
		if _, err := db.MoveIncident(ctx, auth.CLI, in.ID, incident.Closed, ""); apperr.Code(err) != apperr.EINVALID {
			t.Fatalf("investigating → closed: %v", err)
		}
		got, err := db.MoveIncident(ctx, auth.CLI, in.ID, incident.Contained, "hole plugged")
		if err != nil || got.State != incident.Contained {
			t.Fatalf("move: %+v %v", got, err)
		}
		again, _ := db.FindIncidentByID(ctx, in.ID)
		if again.State != incident.Contained {
			t.Fatalf("state not stored: %s", again.State)
		}
	})
}

func TestIncidentPagination(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		for range 5 {
			newIncident(t, db)
		}
		var seen []int64
		var cursor int64
		for page := 0; ; page++ {
			ins, next, err := db.FindIncidents(ctx, store.IncidentFilter{Before: cursor, Limit: 2})
			if err != nil {
				t.Fatal(err)
			}
			for _, in := range ins {
				seen = append(seen, in.ID)
			}
			if next == 0 {
				break
			}
			cursor = next
		}
		if len(seen) != 5 || seen[0] < seen[4] {
			t.Fatalf("pages gave %v; want all 5, newest first", seen)
		}
	})
}

func TestAuditChainCatchesTampering(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		in := newIncident(t, db)
		db.MoveIncident(ctx, auth.CLI, in.ID, incident.Identified, "")
		db.MoveIncident(ctx, auth.CLI, in.ID, incident.Contained, "")
		n, p, err := db.VerifyAudit(ctx)
		if err != nil || p != nil || n != 3 {
			t.Fatalf("intact chain: checked %d, problem %v, err %v", n, p, err)
		}
		// The database itself refuses edits…
		if _, err := db.SQL().Exec(`UPDATE audit_log SET summary = 'nothing happened' WHERE seq = 2`); err == nil {
			t.Fatal("the audit log accepted an UPDATE")
		}
		// …and someone who drops the guard is still caught by the chain.
		dropGuards(t, db)
		if _, err := db.SQL().Exec(`UPDATE audit_log SET summary = 'nothing happened' WHERE seq = 2`); err != nil {
			t.Fatal(err)
		}
		_, p, err = db.VerifyAudit(ctx)
		if err != nil || p == nil || p.Seq != 2 || p.Kind != "altered" {
			t.Fatalf("altered entry 2: got %+v, %v", p, err)
		}
	})
}

func TestAuditChainCatchesRemoval(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		in := newIncident(t, db)
		db.MoveIncident(ctx, auth.CLI, in.ID, incident.Identified, "")
		db.MoveIncident(ctx, auth.CLI, in.ID, incident.Contained, "")
		dropGuards(t, db)
		if _, err := db.SQL().Exec(`DELETE FROM audit_log WHERE seq = 3`); err != nil {
			t.Fatal(err)
		}
		_, p, _ := db.VerifyAudit(ctx)
		if p == nil || p.Seq != 3 || p.Kind != "removed" {
			t.Fatalf("removed newest entry: got %+v", p)
		}
		if _, err := db.SQL().Exec(`DELETE FROM audit_log WHERE seq = 1`); err != nil {
			t.Fatal(err)
		}
		_, p, _ = db.VerifyAudit(ctx)
		if p == nil || p.Seq != 1 || p.Kind != "removed" {
			t.Fatalf("removed first entry: got %+v", p)
		}
	})
}

func dropGuards(t *testing.T, db *store.DB) {
	t.Helper()
	stmts := []string{`DROP TRIGGER audit_log_no_update`, `DROP TRIGGER audit_log_no_delete`}
	if db.Dialect() == "postgres" {
		stmts = []string{`DROP TRIGGER audit_log_no_update ON audit_log`}
	}
	for _, s := range stmts {
		if _, err := db.SQL().Exec(s); err != nil {
			t.Fatal(err)
		}
	}
}
