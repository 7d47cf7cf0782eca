package notice

import (
	"time"

	"github.com/candorhq/candor/internal/incident"
)

// SampleData returns realistic data in which every fact is filled in and
// the recipient has every exposed kind of the facts plus a "plan"
// attribute, for validating templates before real facts exist and for
// previews.
func SampleData() Data {
	discovered := time.Date(2025, 3, 12, 9, 30, 0, 0, time.UTC)
	from := time.Date(2025, 3, 3, 0, 0, 0, 0, time.UTC)
	to := time.Date(2025, 3, 11, 0, 0, 0, 0, time.UTC)
	exposed := []incident.DataKind{"name", "email", "card_number"}
	return Data{
		Facts: incident.Facts{
			WhatHappened:   "On March 11 someone used a stolen staff password to copy part of our customer database.",
			DiscoveredAt:   &discovered,
			OccurredFrom:   &from,
			OccurredTo:     &to,
			BecameAwareAt:  &discovered,
			Exposed:        exposed,
			NotExposed:     []incident.DataKind{"password_hash", "bank_account"},
			AffectedTotal:  14872,
			AffectedBy:     []incident.Jurisdictional{{Code: "US-CA", Count: 2210}},
			CompanyActions: "We locked the stolen account, reset every staff password and asked the card companies to watch for fraud.",
			PeopleShould:   "Check your card statements and tell your bank about any charge you do not recognise.",
			Contact:        incident.Contact{Email: "help@example.com", Phone: "+1 951 555 0100", URL: "https://example.com/incident"},
		},
		FactsVersion: 3,
		Company:      Company{Name: "Example Networks", SupportURL: "https://example.com/support"},
		Incident:     Incident{Title: "Customer database copied"},
		Recipient: Recipient{
			Name:         "Alex Sample",
			Email:        "alex@example.org",
			Locale:       "en-US",
			Jurisdiction: "US-CA",
			Exposed:      exposed,
			Attributes:   map[string]string{"plan": "business"},
		},
	}
}
