package store_test

import (
	"testing"
	"time"

	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/incident"
	"github.com/candorhq/candor/internal/status"
	"github.com/candorhq/candor/internal/store"
	"github.com/candorhq/candor/internal/store/storetest"
)

// TestUpdatesAndRevisions: an update is stored, a correction after
// publication keeps the old text, and every change bumps the public
// version that processes rebuild on.
func TestUpdatesAndRevisions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		in, err := db.CreateIncident(ctx, auth.CLI, incident.New{Title: "Leak", Severity: incident.High})
		if err != nil {
			t.Fatal(err)
		}
		v0, _ := db.PublicVersion(ctx)
		now := db.Now().UTC().Truncate(time.Second)
		u, err := db.CreateUpdate(ctx, auth.CLI, status.Update{IncidentID: in.ID, Status: incident.Investigating, Body: "First.",
			Translations: map[string]status.Text{"fr": {Body: "Premier."}}, DisplayAt: now.Add(-time.Hour), PublishAt: now}, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.CreateUpdate(ctx, auth.CLI, status.Update{IncidentID: 999999, Status: incident.Investigating, Body: "x", DisplayAt: now, PublishAt: now}, 0); err == nil {
			t.Fatal("an update of a missing incident was stored")
		}
		if _, err := db.EditUpdate(ctx, auth.CLI, u.ID, status.Text{Body: "First, corrected."}, nil, "typo"); err != nil {
			t.Fatal(err)
		}
		got, err := db.FindUpdateByID(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Edited || got.Body != "First, corrected." || len(got.Revisions) != 1 || got.Revisions[0].Body != "First." || got.Revisions[0].Reason != "typo" ||
			got.Translations["fr"].Body != "Premier." || !got.DisplayAt.Equal(now.Add(-time.Hour)) {
			t.Fatalf("after a correction: %+v", got)
		}
		if v1, _ := db.PublicVersion(ctx); v1 != v0+2 {
			t.Fatalf("public version %d → %d, want +2", v0, v1)
		}
		ps, err := db.LoadPublic(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(ps.Updates) != 1 || ps.Incidents[in.ID].Title != "Leak" {
			t.Fatalf("public state: %+v", ps)
		}
		// A scheduled update is due for notification only once published.
		if _, err := db.CreateUpdate(ctx, auth.CLI, status.Update{IncidentID: in.ID, Status: incident.Identified, Body: "Later.", Notify: true,
			DisplayAt: now.Add(time.Hour), PublishAt: now.Add(time.Hour)}, 0); err != nil {
			t.Fatal(err)
		}
		if due, _ := db.DueNotifications(ctx, 10); len(due) != 0 {
			t.Fatalf("a scheduled update is due already: %+v", due)
		}
	})
}

// TestSubscriptionLifecycle: confirming adds an email subscriber to the
// subscribers audience; unsubscribing removes it; subscribing again
// starts over; a webhook that keeps failing is disabled and its queue
// cancelled.
func TestSubscriptionLifecycle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		s, err := db.AddSubscriber(ctx, store.SubscriberEmail, " Jane@Example.NET ", "", "fr", "", store.SubPending)
		if err != nil || s.State != store.SubPending || s.Email != "jane@example.net" {
			t.Fatalf("add: %+v %v", s, err)
		}
		again, _ := db.AddSubscriber(ctx, store.SubscriberEmail, "jane@example.net", "", "en", "", store.SubPending)
		if again.ID != s.ID {
			t.Fatalf("subscribing twice made two rows: %d, %d", s.ID, again.ID)
		}
		c, err := db.ConfirmSubscriber(ctx, s.ID, func(store.Subscriber) map[string]string { return map[string]string{"unsubscribe_url": "https://x/u"} })
		if err != nil || c.State != store.SubConfirmed || c.RecipientID == 0 {
			t.Fatalf("confirm: %+v %v", c, err)
		}
		r, err := db.FindRecipientByID(ctx, c.RecipientID)
		if err != nil || r.Email != "jane@example.net" || r.Locale != "en" || r.Attributes["unsubscribe_url"] != "https://x/u" {
			t.Fatalf("subscriber as a recipient: %+v %v", r, err)
		}
		if _, err := db.EndSubscription(ctx, s.ID, store.SubUnsubscribed, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := db.FindRecipientByID(ctx, c.RecipientID); err == nil {
			t.Fatal("an unsubscribed reader is still in the audience")
		}
		if _, err := db.ConfirmSubscriber(ctx, s.ID, func(store.Subscriber) map[string]string { return nil }); err == nil {
			t.Fatal("an old confirmation link re-subscribed an unsubscribed reader")
		}
		if back, _ := db.AddSubscriber(ctx, store.SubscriberEmail, "jane@example.net", "", "en", "", store.SubPending); back.State != store.SubPending {
			t.Fatalf("subscribing again: %+v", back)
		}

		hook, err := db.AddSubscriber(ctx, store.SubscriberWebhook, "ops@example.org", "https://hooks.example.org/x", "", "whsec_abc", store.SubConfirmed)
		if err != nil {
			t.Fatal(err)
		}
		for i, id := range []string{"msg_a", "msg_b", "msg_c"} {
			if _, err := db.EnqueueWebhooks(ctx, store.SubscriberWebhook, "incident.updated", id, func(store.Subscriber) ([]byte, error) { return []byte(`{}`), nil }); err != nil {
				t.Fatal(i, err)
			}
		}
		ds, err := db.ClaimWebhooks(ctx, 1, time.Minute)
		if err != nil || len(ds) != 1 || ds[0].Attempts != 1 || ds[0].Secret != "whsec_abc" {
			t.Fatalf("claim: %+v %v", ds, err)
		}
		if again, _ := db.ClaimWebhooks(ctx, 1, time.Minute); len(again) != 1 || again[0].ID == ds[0].ID {
			t.Fatalf("a leased delivery was claimed twice: %+v", again)
		}
		for i := 1; i <= 3; i++ {
			disabled, err := db.RecordWebhook(ctx, ds[0], store.WebhookOutcome{Status: 500, Error: "boom", RetryAt: db.Now()}, 3)
			if err != nil {
				t.Fatal(err)
			}
			if disabled != (i == 3) {
				t.Fatalf("failure %d: disabled=%v", i, disabled)
			}
		}
		h, _ := db.FindSubscriberByID(ctx, hook.ID)
		if h.State != store.SubDisabled || h.Failures != 3 || h.LastError != "boom" {
			t.Fatalf("after 3 failures: %+v", h)
		}
		left, _ := db.ClaimWebhooks(ctx, 10, time.Minute)
		if len(left) != 0 {
			t.Fatalf("a disabled subscription still has work: %+v", left)
		}
	})
}
