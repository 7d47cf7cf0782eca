package store_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/audience"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/incident"
	"github.com/candorhq/candor/internal/store"
	"github.com/candorhq/candor/internal/store/storetest"
)

func newAudience(t *testing.T, db *store.DB, incidentID int64, name string) audience.Audience {
	t.Helper()
	a, err := db.CreateAudience(ctx, auth.CLI, audience.New{IncidentID: incidentID, Kind: audience.AffectedCustomers, Name: name})
	if err != nil {
		t.Fatalf("create audience: %v", err)
	}
	return a
}

func importCSV(t *testing.T, db *store.DB, audienceID int64, data string, opt audience.ImportOptions) (audience.Report, error) {
	t.Helper()
	im, err := audience.StartImport(strings.NewReader(data), opt)
	if err != nil {
		t.Fatalf("start import: %v", err)
	}
	return db.ImportRecipients(ctx, auth.CLI, audienceID, im)
}

func allRecipients(t *testing.T, db *store.DB, audienceID int64) map[string]audience.Recipient {
	t.Helper()
	out := map[string]audience.Recipient{}
	var after int64
	for {
		rs, next, err := db.FindRecipients(ctx, audienceID, after, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rs {
			key := r.Email
			if key == "" {
				key = r.Phone
			}
			r.ID, r.AudienceID, r.CreatedAt, r.UpdatedAt = 0, 0, time.Time{}, time.Time{}
			out[key] = r
		}
		if next == 0 {
			return out
		}
		after = next
	}
}

func TestAudiencesAndLists(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		in := newIncident(t, db)
		a := newAudience(t, db, in.ID, "Card holders")
		if _, err := db.CreateAudience(ctx, auth.CLI, audience.New{IncidentID: in.ID, Kind: audience.Press, Name: "card HOLDERS"}); apperr.Code(err) != apperr.ECONFLICT {
			t.Fatalf("duplicate name: %v", err)
		}
		if _, err := db.CreateAudience(ctx, auth.CLI, audience.New{IncidentID: 9999, Kind: audience.Press, Name: "Press"}); apperr.Code(err) != apperr.ENOTFOUND {
			t.Fatalf("missing incident: %v", err)
		}
		list := newAudience(t, db, 0, "All customers")
		// The same name may be used by an incident and by a standing list.
		newAudience(t, db, 0, "Card holders")
		if _, err := db.CreateAudience(ctx, auth.CLI, audience.New{Kind: audience.Custom, Name: "All Customers"}); apperr.Code(err) != apperr.ECONFLICT {
			t.Fatalf("duplicate list name: %v", err)
		}
		got, err := db.FindAudiences(ctx, in.ID)
		if err != nil || len(got) != 1 || got[0].ID != a.ID {
			t.Fatalf("incident audiences: %+v %v", got, err)
		}
		lists, err := db.FindAudiences(ctx, 0)
		if err != nil || len(lists) != 2 || lists[0].ID != list.ID || !lists[0].IsList() {
			t.Fatalf("lists: %+v %v", lists, err)
		}
		if err := db.AttachList(ctx, auth.CLI, a.ID, list.ID); err != nil {
			t.Fatal(err)
		}
		if err := db.AttachList(ctx, auth.CLI, a.ID, list.ID); apperr.Code(err) != apperr.ECONFLICT {
			t.Fatalf("attach twice: %v", err)
		}
		if err := db.AttachList(ctx, auth.CLI, list.ID, a.ID); apperr.Code(err) != apperr.EINVALID {
			t.Fatalf("attach to a list: %v", err)
		}
		other := newAudience(t, db, in.ID, "Press contacts")
		if err := db.AttachList(ctx, auth.CLI, a.ID, other.ID); apperr.Code(err) != apperr.EINVALID {
			t.Fatalf("attach an incident audience: %v", err)
		}
		if _, err := db.FindAudienceByID(ctx, 9999); apperr.Code(err) != apperr.ENOTFOUND {
			t.Fatalf("missing audience: %v", err)
		}

		// Members: own recipients and the list's, each email once.
		if _, err := importCSV(t, db, a.ID, "email,name\nana@example.com,Ana\nbob@example.com,Bob\n", audience.ImportOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := importCSV(t, db, list.ID, "email,phone,name\nana@example.com,,Ana (list)\ncy@example.com,,Cy\n,+33612345678,Dee\n", audience.ImportOptions{}); err != nil {
			t.Fatal(err)
		}
		got1, err := db.FindAudienceByID(ctx, a.ID)
		if err != nil || got1.Recipients != 2 || got1.Members != 4 || !reflect.DeepEqual(got1.Lists, []int64{list.ID}) {
			t.Fatalf("audience with a list: %+v %v", got1, err)
		}
		var names []string
		if err := db.EachMember(ctx, a.ID, func(r *audience.Recipient) error { names = append(names, r.Name); return nil }); err != nil {
			t.Fatal(err)
		}
		if strings.Join(names, ",") != "Ana,Bob,Cy,Dee" {
			t.Fatalf("members %v", names)
		}
	})
}

func TestImportRecipientsUpserts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		in := newIncident(t, db)
		a := newAudience(t, db, in.ID, "Card holders")
		auditBefore, _, _ := db.VerifyAudit(ctx)
		rep, err := importCSV(t, db, a.ID, "email,name,phone,exposed,plan,seats\n"+
			"ana@example.com,Ana,,card_number,pro,3\n"+
			"bob@example.com,Bob,,email,,\n"+
			",Dee,+33612345678,,,\n"+
			"broken,,,,,\n", audience.ImportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Rows != 4 || rep.Accepted != 3 || rep.Rejected != 1 || rep.Created != 3 || rep.Updated != 0 || !rep.Kept {
			t.Fatalf("first import: %+v", rep)
		}
		// A second file updates: non-empty cells replace, empty ones keep,
		// attributes merge; the phone-only person is matched by phone.
		rep, err = importCSV(t, db, a.ID, "email,name,phone,exposed,plan,locale\n"+
			"ANA@example.com,,,card_number;card_expiry,business,fr\n"+
			"eve@example.com,Eve,,,,\n"+
			",Dee D.,+33 6 12 34 56 78,,,\n", audience.ImportOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if rep.Created != 1 || rep.Updated != 2 {
			t.Fatalf("second import: %+v", rep)
		}
		got := allRecipients(t, db, a.ID)
		if len(got) != 4 {
			t.Fatalf("%d recipients: %+v", len(got), got)
		}
		ana := got["ana@example.com"]
		if ana.Name != "Ana" || ana.Locale != "fr" || !reflect.DeepEqual(ana.Exposed, []incident.DataKind{"card_expiry", "card_number"}) ||
			!reflect.DeepEqual(ana.Attributes, map[string]string{"plan": "business", "seats": "3"}) {
			t.Errorf("ana after update: %+v", ana)
		}
		if got["+33612345678"].Name != "Dee D." || got["bob@example.com"].Exposed[0] != "email" {
			t.Errorf("dee, bob: %+v %+v", got["+33612345678"], got["bob@example.com"])
		}
		// One audit entry per import, with its counts.
		entries, _, err := db.FindAudit(ctx, store.AuditFilter{IncidentID: in.ID, Limit: 1})
		if err != nil || entries[0].Action != "audience.import" || !strings.Contains(entries[0].Summary, "1 new, 2 updated") {
			t.Fatalf("audit: %+v %v", entries, err)
		}
		if n, _, _ := db.VerifyAudit(ctx); n != auditBefore+2 {
			t.Fatalf("audit grew by %d entries for two imports", n-auditBefore)
		}

		// All-or-nothing: a bad row keeps everything as it was.
		rep, err = importCSV(t, db, a.ID, "email,name\nana@example.com,Changed\nnew@example.com,New\nbad,\n", audience.ImportOptions{AllOrNothing: true, BatchSize: 1})
		if apperr.Code(err) != apperr.EINVALID || rep.Kept {
			t.Fatalf("all-or-nothing: %+v %v", rep, err)
		}
		if got := allRecipients(t, db, a.ID); len(got) != 4 || got["ana@example.com"].Name != "Ana" {
			t.Fatalf("all-or-nothing kept something: %+v", got)
		}
		if n, _, _ := db.VerifyAudit(ctx); n != auditBefore+2 {
			t.Fatal("a refused import was audited")
		}
		if _, err := importCSV(t, db, 9999, "email\na@example.com\n", audience.ImportOptions{}); apperr.Code(err) != apperr.ENOTFOUND {
			t.Fatalf("missing audience: %v", err)
		}
	})
}

// TestImportManyBatches crosses batch and statement boundaries, with
// duplicates in different batches, into an empty audience (PostgreSQL's
// streaming copy) and into one that already holds people. The tiny filter
// case makes nearly every key look repeated, so that PostgreSQL's copy
// holds rows back and pauses many times.
func TestImportManyBatches(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		var b strings.Builder
		b.WriteString("email,phone,n,first\n")
		for i := range 2500 {
			fmt.Fprintf(&b, "p%d@example.com,,%d,yes\n", i, i)
		}
		for i := range 300 {
			fmt.Fprintf(&b, ",+3361234%04d,%d,yes\n", i, i)
		}
		for i := range 2500 {
			if i%10 == 0 {
				fmt.Fprintf(&b, "P%d@example.com,,again,\n", i)
			}
			if i%100 == 0 {
				fmt.Fprintf(&b, ",+3361234%04d,again,\n", i%300)
			}
		}
		for _, c := range []struct {
			name               string
			bloomBits, heldMax int
			prefill            bool
		}{
			{"empty audience", 1 << 26, 5000, false},
			{"tiny filter", 64, 7, false},
			{"audience with people", 1 << 26, 5000, true},
		} {
			t.Run(c.name, func(t *testing.T) {
				defer store.SetCopyLimits(c.bloomBits, c.heldMax)()
				a := newAudience(t, db, 0, "All customers "+c.name)
				created, updated := int64(2800), int64(275)
				if c.prefill {
					if _, err := importCSV(t, db, a.ID, "email,phone,n\np1@example.com,,0\n,+33612340001,0\n", audience.ImportOptions{}); err != nil {
						t.Fatal(err)
					}
					created, updated = 2798, 277
				}
				rep, err := importCSV(t, db, a.ID, b.String(), audience.ImportOptions{BatchSize: 1200})
				if err != nil {
					t.Fatal(err)
				}
				if rep.Accepted != 3075 || rep.Created != created || rep.Updated != updated {
					t.Fatalf("report %+v", rep)
				}
				got := allRecipients(t, db, a.ID)
				if len(got) != 2800 {
					t.Fatalf("%d recipients", len(got))
				}
				for key, want := range map[string]map[string]string{
					"p2490@example.com": {"n": "again", "first": "yes"},
					"p2491@example.com": {"n": "2491", "first": "yes"},
					"+33612340200":      {"n": "again", "first": "yes"},
					"+33612340201":      {"n": "201", "first": "yes"},
				} {
					if !reflect.DeepEqual(got[key].Attributes, want) {
						t.Errorf("%s: attributes %v, want %v", key, got[key].Attributes, want)
					}
				}
			})
		}
	})
}

func TestSegments(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		in := newIncident(t, db)
		rule := audience.Rule{All: []audience.Rule{{Field: "exposed", Op: "includes", Value: "card_number"}, {Field: "jurisdiction", Op: "in", Values: []string{"US-CA"}}}}
		sg, err := db.CreateSegment(ctx, auth.CLI, audience.NewSegment{IncidentID: in.ID, Name: "Californian card holders", Rule: rule})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.CreateSegment(ctx, auth.CLI, audience.NewSegment{IncidentID: in.ID, Name: "californian card holders", Rule: rule}); apperr.Code(err) != apperr.ECONFLICT {
			t.Fatalf("duplicate: %v", err)
		}
		got, err := db.FindSegmentByID(ctx, sg.ID)
		if err != nil || !reflect.DeepEqual(got.Rule, rule) || got.Name != sg.Name {
			t.Fatalf("find: %+v %v", got, err)
		}
		all, err := db.FindSegments(ctx, in.ID)
		if err != nil || len(all) != 1 {
			t.Fatalf("list: %+v %v", all, err)
		}
		if _, err := db.FindSegments(ctx, 9999); apperr.Code(err) != apperr.ENOTFOUND {
			t.Fatalf("missing incident: %v", err)
		}
	})
}
