// Package statustest holds a realistic public snapshot for the tests of
// the packages that render the public side.
package statustest

import (
	"time"

	"github.com/candorhq/candor/internal/incident"
	"github.com/candorhq/candor/internal/notice"
	"github.com/candorhq/candor/internal/status"
)

// Example returns a snapshot with one open critical incident (three
// updates, one translated into French and one edited, two affected
// components, a published Q&A), one resolved incident, and the quiet
// period on. now is the moment it is built.
func Example(now time.Time) *status.Snapshot {
	now = now.UTC().Truncate(time.Second)
	at := func(d time.Duration) time.Time { return now.Add(-d) }
	login := status.Component{ID: 1, Name: "Customer login", Description: "Sign-in to the customer portal", Position: 1, CreatedAt: at(400 * 24 * time.Hour), UpdatedAt: at(2 * time.Hour)}
	billing := status.Component{ID: 2, Name: "Billing", Description: "Invoices and payments", Position: 2, CreatedAt: at(400 * 24 * time.Hour), UpdatedAt: at(2 * time.Hour)}
	email := status.Component{ID: 3, Name: "Email", Position: 3, CreatedAt: at(400 * 24 * time.Hour), UpdatedAt: at(400 * 24 * time.Hour)}
	qa, _ := notice.Markdown("## Was my password exposed?\n\nNo. Passwords were not in the stolen data.\n\n## Should I cancel my card?\n\nCall your bank if you see a payment you do not recognise.")
	contact := incident.Contact{Email: "security@example.com", Phone: "+1 555 0100", URL: "https://example.com/security"}
	open := status.Incident{
		ID: 7, Title: "Security incident affecting customer accounts", State: incident.Identified, Severity: incident.Critical,
		StartedAt: at(26 * time.Hour), CreatedAt: at(25 * time.Hour), UpdatedAt: at(1 * time.Hour),
		Updates: []status.Update{
			{ID: 33, IncidentID: 7, Status: incident.Identified, Body: "We have identified how the attacker got in and **closed that access**. Card numbers of about 15,000 customers were copied.",
				WhatToDo:     "Check your card statements and call your bank about any payment you do not recognise.",
				Translations: map[string]status.Text{"fr": {Body: "Nous avons identifié comment l'attaquant est entré et **fermé cet accès**.", WhatToDo: "Vérifiez vos relevés de carte."}},
				DisplayAt:    at(1 * time.Hour), PublishAt: at(1 * time.Hour), Notify: true, Author: "marc@example.com", CreatedAt: at(1 * time.Hour), UpdatedAt: at(1 * time.Hour)},
			{ID: 32, IncidentID: 7, Status: incident.Investigating, Body: "We are investigating unauthorised access to our customer database. <script>alert(1)</script> We will post again within 4 hours.",
				DisplayAt: at(20 * time.Hour), PublishAt: at(20 * time.Hour), Notify: true, Edited: true, Author: "marc@example.com", CreatedAt: at(20 * time.Hour), UpdatedAt: at(19 * time.Hour),
				Revisions: []status.Revision{{Text: status.Text{Body: "We are investigating unauthorized acess to our customer databse."}, Editor: "marc@example.com", Reason: "Spelling", ReplacedAt: at(19 * time.Hour)}}},
			{ID: 31, IncidentID: 7, Status: incident.Investigating, Body: "We are looking into reports of suspicious activity.",
				DisplayAt: at(26 * time.Hour), PublishAt: at(25 * time.Hour), Author: "marc@example.com", CreatedAt: at(25 * time.Hour), UpdatedAt: at(25 * time.Hour)},
		},
		Components: []status.Affected{{Component: login, Status: status.MajorOutage}, {Component: billing, Status: status.DegradedPerformance}},
		Documents:  []status.Document{{NoticeID: 12, Title: "Questions and answers", HTML: qa, PublishedAt: at(2 * time.Hour)}},
		Contact:    contact,
	}
	resolvedAt := at(90 * 24 * time.Hour)
	monitoringAt := at(91 * 24 * time.Hour)
	past := status.Incident{
		ID: 3, Title: "Phishing emails impersonating us", State: incident.Resolved, Severity: incident.Medium,
		StartedAt: at(92 * 24 * time.Hour), CreatedAt: at(92 * 24 * time.Hour), UpdatedAt: resolvedAt, MonitoringAt: &monitoringAt, ResolvedAt: &resolvedAt,
		Updates: []status.Update{
			{ID: 12, IncidentID: 3, Status: incident.Resolved, Body: "The fake site was taken down.", DisplayAt: resolvedAt, PublishAt: resolvedAt, Author: "ana@example.com", CreatedAt: resolvedAt, UpdatedAt: resolvedAt},
			{ID: 11, IncidentID: 3, Status: incident.Contained, Body: "We asked the host to take the fake site down.", DisplayAt: monitoringAt, PublishAt: monitoringAt, Author: "ana@example.com", CreatedAt: monitoringAt, UpdatedAt: monitoringAt},
			{ID: 10, IncidentID: 3, Status: incident.Investigating, Body: "Some customers received emails that look like ours but are not.", DisplayAt: at(92 * 24 * time.Hour), PublishAt: at(92 * 24 * time.Hour), Author: "ana@example.com", CreatedAt: at(92 * 24 * time.Hour), UpdatedAt: at(92 * 24 * time.Hour)},
		},
		Components: []status.Affected{{Component: email, Status: status.Operational}},
		Contact:    contact,
	}
	since := at(25 * time.Hour)
	s := &status.Snapshot{
		Page:      status.Page{ID: "c4nd0rpage01", Name: "Example Corp", URL: "http://status.example.test/status", DefaultLocale: "en", Locales: []string{"fr"}},
		UpdatedAt: at(1 * time.Hour),
		BuiltAt:   now,
		Incidents: []status.Incident{open, past},
		Quiet:     status.Quiet{Active: true, Since: &since, Reason: "Security incident affecting customer accounts is public"},
	}
	s.Components = status.ComponentsOf([]status.Component{login, billing, email}, s.Incidents)
	return s
}
