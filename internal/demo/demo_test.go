package demo_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/demo"
	"github.com/candorhq/candor/internal/notice"
	"github.com/candorhq/candor/internal/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

// TestSeed seeds the demo and checks the story it tells: the incident is
// contained, its facts have three versions, and its response package is
// part approved, part in review, part draft.
func TestSeed(t *testing.T) {
	ctx := context.Background()
	svc := app.New(storetest.SQLite(t), slog.New(slog.DiscardHandler), app.Options{Company: demo.Company})
	logins, in, err := demo.Seed(ctx, svc, "a demo password")
	if err != nil {
		t.Fatal(err)
	}
	if len(logins) != 5 || in.State != "contained" || in.FactsVersion != 3 {
		t.Fatalf("seed: %d logins, %+v", len(logins), in)
	}
	ns, err := svc.Notices(ctx, auth.CLI, in.ID)
	if err != nil {
		t.Fatal(err)
	}
	states := map[notice.State]int{}
	for _, n := range ns {
		states[n.State]++
		if n.ItemKey == "customer-alert" {
			if _, err := svc.ApprovedNotice(ctx, auth.CLI, n.ID, n.CurrentVersion); err != nil {
				t.Errorf("the customer alert is not certified: %v", err)
			}
		}
	}
	if len(ns) != 10 || states[notice.Approved] != 6 || states[notice.InReview] != 2 || states[notice.Draft] != 2 {
		t.Fatalf("notices by state: %v of %d", states, len(ns))
	}
}
