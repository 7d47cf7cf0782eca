package demo_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/audience"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/demo"
	"github.com/candorhq/candor/internal/notice"
	"github.com/candorhq/candor/internal/store/storetest"
)

// TestSeed seeds the demo and checks what a visitor sees first: the
// incident's audiences with their people, varied exposure and segments.
func TestSeed(t *testing.T) {
	ctx := context.Background()
	svc := app.New(storetest.SQLite(t), slog.New(slog.DiscardHandler), app.Options{})
	logins, in, err := demo.Seed(ctx, svc, "demo-password")
	if err != nil {
		t.Fatal(err)
	}
	if len(logins) != 5 {
		t.Fatalf("%d logins", len(logins))
	}
	as, err := svc.Audiences(ctx, auth.CLI, in.ID)
	if err != nil {
		t.Fatal(err)
	}
	byKind := map[audience.Kind]audience.Audience{}
	for _, a := range as {
		byKind[a.Kind] = a
	}
	affected := byKind[audience.AffectedCustomers]
	if affected.Recipients != demo.AffectedCount {
		t.Fatalf("affected audience: %+v", affected)
	}
	if u := byKind[audience.UnaffectedCustomers]; u.Recipients < 200 {
		t.Errorf("unaffected audience: %+v", u)
	}
	if e := byKind[audience.Employees]; e.Members < 20 || len(e.Lists) != 1 {
		t.Errorf("employees: %+v", e)
	}
	if byKind[audience.Press].Recipients < 2 || byKind[audience.Regulators].Recipients < 2 {
		t.Errorf("press and regulators: %+v %+v", byKind[audience.Press], byKind[audience.Regulators])
	}
	st, err := svc.AudienceStats(ctx, auth.CLI, affected.ID)
	if err != nil {
		t.Fatal(err)
	}
	share := map[string]float64{}
	for _, x := range st.ByExposed {
		share[x.Value] = float64(x.Count) / float64(st.Recipients)
	}
	if share["card_number"] != 1 || share["card_expiry"] < 0.55 || share["card_expiry"] > 0.65 || share["postal_address"] == 0 || share["postal_address"] > 0.1 {
		t.Errorf("exposure shares %v", share)
	}
	if st.ByJurisdiction[0].Value != "US-CA" || len(st.ByJurisdiction) != 4 || st.ByLocale[0].Value != "en-US" || len(st.ByLocale) != 3 {
		t.Errorf("jurisdictions %v, locales %v", st.ByJurisdiction, st.ByLocale)
	}
	sgs, err := svc.Segments(ctx, auth.CLI, in.ID)
	if err != nil || len(sgs) != 3 {
		t.Fatalf("segments %+v %v", sgs, err)
	}
	for _, sg := range sgs {
		c, err := svc.CountMatches(ctx, auth.CLI, affected.ID, sg.Rule)
		if err != nil || c.Matching == 0 || c.Matching == c.Members {
			t.Errorf("segment %q matches %+v, %v", sg.Name, c, err)
		}
	}
}

// TestSeedResponsePackage checks the response package the demo shows: part
// approved, part in review, part draft, the customer alert addressed to the
// affected subscribers and certified.
func TestSeedResponsePackage(t *testing.T) {
	ctx := context.Background()
	svc := app.New(storetest.SQLite(t), slog.New(slog.DiscardHandler), app.Options{Company: demo.Company})
	_, in, err := demo.Seed(ctx, svc, "a demo password")
	if err != nil {
		t.Fatal(err)
	}
	ns, err := svc.Notices(ctx, auth.CLI, in.ID)
	if err != nil {
		t.Fatal(err)
	}
	states := map[notice.State]int{}
	for _, n := range ns {
		states[n.State]++
		if n.ItemKey == "customer-alert" {
			if n.AudienceID == 0 {
				t.Error("the customer alert has no audience")
			}
			if _, err := svc.ApprovedNotice(ctx, auth.CLI, n.ID, n.CurrentVersion); err != nil {
				t.Errorf("the customer alert is not certified: %v", err)
			}
			// With its Massachusetts variant, nothing blocks it.
			rep, err := svc.CheckNotice(ctx, auth.CLI, n.ID, 0, nil)
			if err != nil || len(rep.Blocking()) != 0 || len(rep.Variants) != 2 || rep.Variants[1].Count == 0 {
				t.Errorf("customer alert checks: %+v %v", rep, err)
			}
		}
	}
	if len(ns) != 10 || states[notice.Approved] != 6 || states[notice.InReview] != 2 || states[notice.Draft] != 2 {
		t.Fatalf("notices by state: %v of %d", states, len(ns))
	}
}
