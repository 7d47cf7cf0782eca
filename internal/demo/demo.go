// Package demo seeds a realistic incident for `candor demo`: a small
// internet provider whose subscribers' card numbers were stolen by an
// extortionist who set a deadline (modelled on the linkLINE case in
// shared/seeds/004). The facts are recorded in three versions, the way a
// real team learns them, so the history and diff have a story to tell; the
// incident has its audiences, 15,000 generated affected subscribers among
// them, and segments.
package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/incident"
)

// Login is a demo account.
type Login struct {
	Email, Password string
	Role            auth.Role
}

// Options size the demo.
type Options struct {
	// Affected is how many affected subscribers to generate (default
	// AffectedCount); the send benchmark asks for more.
	Affected int
}

// Seed creates the demo team (one account per role, all sharing password)
// and the demo incident, and returns the logins and the incident.
func Seed(ctx context.Context, svc *app.Service, password string) ([]Login, incident.Incident, error) {
	return SeedWith(ctx, svc, password, Options{})
}

// SeedWith is Seed with options.
func SeedWith(ctx context.Context, svc *app.Service, password string, opt Options) ([]Login, incident.Incident, error) {
	if opt.Affected <= 0 {
		opt.Affected = AffectedCount
	}
	team := []struct {
		email, name string
		role        auth.Role
	}{
		{"admin@candor.example", "Alex Admin", auth.Admin},
		{"marc@linkline.example", "Marc B. (comms lead)", auth.Approver},
		{"sam@linkline.example", "Sam R. (security lead)", auth.Editor},
		{"dana@linkline.example", "Dana K. (support lead)", auth.Responder},
		{"vic@linkline.example", "Vic L. (counsel, read-only)", auth.Viewer},
	}
	var logins []Login
	users := map[auth.Role]auth.Principal{}
	for _, m := range team {
		u, err := svc.CreateUser(ctx, auth.CLI, auth.NewUser{Email: m.email, Name: m.name, Role: m.role, Password: password})
		if err != nil {
			return nil, incident.Incident{}, fmt.Errorf("seed user %s: %w", m.email, err)
		}
		logins = append(logins, Login{m.email, password, m.role})
		users[m.role] = auth.Principal{UserID: u.ID, Email: u.Email, Role: u.Role, Via: "session"}
	}

	now := svc.Now().UTC().Truncate(time.Minute)
	at := func(d time.Duration) *time.Time { t := now.Add(-d); return &t }
	day := 24 * time.Hour
	sam, marc := users[auth.Editor], users[auth.Approver]

	v1 := incident.Facts{
		WhatHappened: "On Thursday afternoon a person calling himself \"Mr. Zilterio\" contacted us and claimed to hold our customer records, " +
			"including credit card numbers. He threatens to send them to our customers and to the press unless we pay him. " +
			"We will not pay. We are working with law enforcement and have closed the gap we believe he used.",
		DiscoveredAt:  at(3*day + 2*time.Hour),
		BecameAwareAt: at(3*day + 2*time.Hour),
		Exposed:       []incident.DataKind{"name", "email", "card_number"},
		AffectedTotal: 15000,
		CompanyActions: "We closed the security gap the attacker may have used, informed law enforcement, and asked the four major card " +
			"companies to watch our customers' cards for fraud.",
		PeopleShould: "Check your card statements for charges you do not recognise and report them to your bank. " +
			"You will not be held responsible for fraudulent charges.",
		Contact: incident.Contact{Email: "security@linkline.example", Phone: "+1 951 555 0100", URL: "https://linkline.example/security"},
	}
	in, err := svc.CreateIncident(ctx, sam, incident.New{Title: "Subscriber card numbers stolen; extortion threat", Severity: incident.Critical, Facts: v1})
	if err != nil {
		return nil, in, fmt.Errorf("seed incident: %w", err)
	}
	if _, err := svc.MoveIncident(ctx, sam, in.ID, incident.Identified, "Access path confirmed: an unpatched billing export script"); err != nil {
		return nil, in, err
	}

	v2 := v1
	v2.Exposed = []incident.DataKind{"name", "email", "postal_address", "card_number", "card_expiry"}
	v2.NotExposed = []incident.DataKind{"card_cvv", "password_hash", "bank_account", "ssn"}
	v2.OccurredFrom = at(19 * day)
	v2.OccurredTo = at(4 * day)
	v2.BreachDeterminedAt = at(2*day + 5*time.Hour)
	if _, err := svc.SaveFacts(ctx, sam, in.ID, 1, v2, "Forensics: the export also held expiry dates and billing addresses; security codes and passwords were never stored in it"); err != nil {
		return nil, in, err
	}

	v3 := v2
	v3.AffectedTotal = 14872
	v3.AffectedBy = []incident.Jurisdictional{{Code: "US-CA", Count: 14120}, {Code: "US-NV", Count: 412}, {Code: "US-AZ", Count: 298}, {Code: "US-OR", Count: 42}}
	v3.CompanyActions = v1.CompanyActions + " The four card companies have agreed to monitor every affected card and will not hold customers " +
		"responsible for fraud. We have made it easy to switch to another card or payment method."
	if _, err := svc.SaveFacts(ctx, marc, in.ID, 2, v3, "Exact count from the billing export: 14,872 subscribers, by state"); err != nil {
		return nil, in, err
	}
	if in, err = svc.MoveIncident(ctx, sam, in.ID, incident.Contained, "Export script removed, credentials rotated, monitoring in place"); err != nil {
		return nil, in, err
	}
	if err := seedAudiences(ctx, svc, marc, in.ID, opt.Affected); err != nil {
		return nil, in, err
	}
	if err := seedResponse(ctx, svc, in, users); err != nil {
		return nil, in, err
	}
	if err := seedPublic(ctx, svc, in, users); err != nil {
		return nil, in, err
	}
	return logins, in, nil
}
