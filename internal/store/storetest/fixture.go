package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/candorhq/candor/internal/audience"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/incident"
	"github.com/candorhq/candor/internal/notice"
	"github.com/candorhq/candor/internal/store"
)

// Fixture is an incident with an audience and an approved email notice
// for it, ready to release.
type Fixture struct {
	Incident incident.Incident
	Audience audience.Audience
	Approved notice.ApprovedVersion
	Author   auth.Principal
	Approver auth.Principal
}

// NewFixture creates an incident, an audience of the recipients in csv (a
// CSV with a header row), and a notice with content for that audience,
// written by one user and approved by another.
func NewFixture(t testing.TB, db *store.DB, csv string, content notice.Content) Fixture {
	t.Helper()
	ctx := context.Background()
	var f Fixture
	var err error
	f.Incident, err = db.CreateIncident(ctx, auth.CLI, incident.New{Title: "Customer records stolen", Severity: incident.Critical,
		Facts: incident.Facts{WhatHappened: "Someone copied our customer database.", AffectedTotal: 100, Exposed: []incident.DataKind{"email", "name"}}})
	if err != nil {
		t.Fatalf("create incident: %v", err)
	}
	f.Audience, err = db.CreateAudience(ctx, auth.CLI, audience.New{IncidentID: f.Incident.ID, Kind: audience.AffectedCustomers, Name: "Affected customers"})
	if err != nil {
		t.Fatalf("create audience: %v", err)
	}
	im, err := audience.StartImport(strings.NewReader(csv), audience.ImportOptions{})
	if err != nil {
		t.Fatalf("start import: %v", err)
	}
	if _, err := db.ImportRecipients(ctx, auth.CLI, f.Audience.ID, im); err != nil {
		t.Fatalf("import: %v", err)
	}
	user := func(role auth.Role) auth.Principal {
		email := fmt.Sprintf("%s%d@example.com", role, f.Audience.ID)
		u, err := db.CreateUser(ctx, auth.CLI, auth.NewUser{Email: email, Role: role}, "hash")
		if err != nil {
			t.Fatalf("create user: %v", err)
		}
		return auth.Principal{UserID: u.ID, Email: u.Email, Role: role, Via: "session"}
	}
	f.Author, f.Approver = user(auth.Editor), user(auth.Approver)
	ns, err := db.CreateNotices(ctx, f.Author, []notice.New{{IncidentID: f.Incident.ID, Title: "Customer alert", AudienceKind: string(audience.AffectedCustomers),
		AudienceID: f.Audience.ID, Channels: []notice.Channel{notice.ChannelEmail}, Content: content}}, "")
	if err != nil {
		t.Fatalf("create notice: %v", err)
	}
	to := func(s notice.State) func(store.NoticeVersion) (notice.State, error) {
		return func(store.NoticeVersion) (notice.State, error) { return s, nil }
	}
	if _, err := db.TransitionNotice(ctx, f.Author, ns[0].ID, 1, store.Transition{Action: "notice.submit", Summary: "Submitted", Decide: to(notice.InReview)}); err != nil {
		t.Fatalf("submit: %v", err)
	}
	if _, err := db.TransitionNotice(ctx, f.Approver, ns[0].ID, 1, store.Transition{Action: "notice.approve", Summary: "Approved",
		Review: &notice.Review{ReviewerID: f.Approver.UserID, Reviewer: f.Approver.Email, Decision: notice.DecisionApprove}, Decide: to(notice.Approved)}); err != nil {
		t.Fatalf("approve: %v", err)
	}
	if f.Approved, err = db.CertifiedVersion(ctx, ns[0].ID, 1); err != nil {
		t.Fatalf("certify: %v", err)
	}
	return f
}

// Recipients returns a CSV of n recipients, r0@example.com to
// r<n-1>@example.com, named "Person 0" and so on.
func Recipients(n int) string {
	var b strings.Builder
	b.WriteString("email,name\n")
	for i := range n {
		fmt.Fprintf(&b, "r%d@example.com,Person %d\n", i, i)
	}
	return b.String()
}
