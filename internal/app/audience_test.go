package app_test

import (
	"strings"
	"testing"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/audience"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/incident"
	"github.com/candorhq/candor/internal/store"
	"github.com/candorhq/candor/internal/store/storetest"
)

var (
	editor = auth.Principal{UserID: 2, Email: "sam@example.com", Role: auth.Editor, Via: "session"}
	viewer = auth.Principal{UserID: 3, Email: "vic@example.com", Role: auth.Viewer, Via: "session"}
)

// TestAudienceImportAndSegmentCount walks the way a comms lead prepares an
// incident's audience: a standing list of all customers, the incident's
// affected customers with the list attached, an import with a bad row, and
// a segment's live count.
func TestAudienceImportAndSegmentCount(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		svc := newService(t, db)
		in, err := svc.CreateIncident(ctx, editor, incident.New{Title: "Card numbers exposed"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.CreateAudience(ctx, viewer, audience.New{IncidentID: in.ID, Kind: "press", Name: "Press"}); apperr.Code(err) != apperr.EFORBIDDEN {
			t.Fatalf("viewer creates an audience: %v", err)
		}
		if _, err := svc.CreateAudience(ctx, editor, audience.New{IncidentID: in.ID, Kind: "customers", Name: "x"}); apperr.Code(err) != apperr.EINVALID {
			t.Fatalf("unknown kind: %v", err)
		}
		aud, err := svc.CreateAudience(ctx, editor, audience.New{IncidentID: in.ID, Kind: audience.AffectedCustomers, Name: " Affected customers "})
		if err != nil || aud.Name != "Affected customers" {
			t.Fatalf("create: %+v %v", aud, err)
		}
		list, err := svc.CreateAudience(ctx, editor, audience.New{Kind: audience.Custom, Name: "All customers"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.ImportRecipients(ctx, viewer, aud.ID, strings.NewReader("email\na@example.com\n"), audience.ImportOptions{}); apperr.Code(err) != apperr.EFORBIDDEN {
			t.Fatalf("viewer imports: %v", err)
		}
		rep, err := svc.ImportRecipients(ctx, editor, aud.ID, strings.NewReader(
			"email,jurisdiction,exposed,plan\n"+
				"ana@example.com,US-CA,card_number;email,business\n"+
				"bob@example.com,US-NY,email,free\n"+
				"cy@example.com,FR,card_number,business\n"+
				"oops,US-CA,,\n"), audience.ImportOptions{})
		if err != nil || rep.Created != 3 || rep.Rejected != 1 || rep.Errors[0].Line != 5 {
			t.Fatalf("import: %+v %v", rep, err)
		}
		if _, err := svc.ImportRecipients(ctx, editor, list.ID, strings.NewReader("email,jurisdiction,exposed\nana@example.com,US-CA,card_number\ndee@example.com,US-CA,card_number\n"), audience.ImportOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.AttachList(ctx, viewer, aud.ID, list.ID); apperr.Code(err) != apperr.EFORBIDDEN {
			t.Fatalf("viewer attaches: %v", err)
		}
		got, err := svc.AttachList(ctx, editor, aud.ID, list.ID)
		if err != nil || got.Members != 4 || got.Recipients != 3 {
			t.Fatalf("attach: %+v %v", got, err)
		}
		rule := audience.Rule{All: []audience.Rule{
			{Field: "exposed", Op: "includes", Value: "card_number"},
			{Field: "jurisdiction", Op: "in", Values: []string{"US-CA", "US-NY"}},
		}}
		c, err := svc.CountMatches(ctx, viewer, aud.ID, rule)
		if err != nil || c.Members != 4 || c.Matching != 2 {
			t.Fatalf("count: %+v %v", c, err)
		}
		sg, err := svc.CreateSegment(ctx, editor, audience.NewSegment{IncidentID: in.ID, Name: "US card holders", Rule: rule})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.CreateSegment(ctx, editor, audience.NewSegment{IncidentID: in.ID, Name: "Bad", Rule: audience.Rule{Field: "exposed", Op: "includes", Value: "shoe_size"}}); apperr.Code(err) != apperr.EINVALID {
			t.Fatalf("bad rule: %v", err)
		}
		if sgs, err := svc.Segments(ctx, viewer, in.ID); err != nil || len(sgs) != 1 || sgs[0].ID != sg.ID {
			t.Fatalf("segments: %+v %v", sgs, err)
		}
		rs, next, err := svc.Recipients(ctx, viewer, aud.ID, 0, 2)
		if err != nil || len(rs) != 2 || next == 0 || rs[0].Email != "ana@example.com" {
			t.Fatalf("recipients: %+v %d %v", rs, next, err)
		}
		// All-or-nothing returns the report with the error.
		rep, err = svc.ImportRecipients(ctx, editor, aud.ID, strings.NewReader("email\nnew@example.com\nbad\n"), audience.ImportOptions{AllOrNothing: true})
		if apperr.Code(err) != apperr.EINVALID || rep.Rejected != 1 || rep.Kept || len(rep.Errors) != 1 {
			t.Fatalf("all-or-nothing: %+v %v", rep, err)
		}
		if a, _ := svc.Audience(ctx, viewer, aud.ID); a.Recipients != 3 {
			t.Fatalf("all-or-nothing kept rows: %+v", a)
		}
		// Both reports are stored, the refused one too, with their rows.
		refused, err := svc.Import(ctx, viewer, rep.ImportID)
		if err != nil || refused.Report.Kept || refused.Report.Rejected != 1 || refused.Report.Errors[0].Line != 3 || refused.CreatedBy != editor.UserID {
			t.Fatalf("refused import: %+v %v", refused, err)
		}
		ims, err := svc.Imports(ctx, viewer, aud.ID, 10)
		if err != nil || len(ims) != 2 || ims[0].ID != rep.ImportID || !ims[1].Report.Kept || ims[1].Report.Created != 3 {
			t.Fatalf("imports: %+v %v", ims, err)
		}
		st, err := svc.AudienceStats(ctx, viewer, aud.ID)
		if err != nil || st.Recipients != 3 || st.WithEmail != 3 || len(st.ByJurisdiction) != 3 ||
			st.ByExposed[0] != (audience.Tally{Value: "email", Count: 2}) && st.ByExposed[0] != (audience.Tally{Value: "card_number", Count: 2}) || len(st.ByExposed) != 2 {
			t.Fatalf("stats: %+v %v", st, err)
		}
		if _, err := svc.ImportRecipients(ctx, editor, 9999, strings.NewReader("email\n"), audience.ImportOptions{}); apperr.Code(err) != apperr.ENOTFOUND {
			t.Fatalf("missing audience: %v", err)
		}
	})
}
