package demo

import (
	"context"
	"fmt"

	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/audience"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/incident"
	"github.com/candorhq/candor/internal/notice"
	"github.com/candorhq/candor/internal/store"
)

// Company is the demo's made-up internet provider.
var Company = notice.Company{Name: "linkLINE", SupportURL: "https://linkline.example/security"}

// seedResponse applies the built-in playbook to the incident and takes the
// package part of the way, as a team would by the end of day one: the
// internal pieces and the customer alert approved, the notice to customers
// not affected waiting for review, the regulator notice with one of its two
// approvals, and the press release and follow-up still drafts.
func seedResponse(ctx context.Context, svc *app.Service, in incident.Incident, users map[auth.Role]auth.Principal) error {
	sam, marc, admin := users[auth.Editor], users[auth.Approver], users[auth.Admin]
	created, err := svc.ApplyPlaybook(ctx, sam, in.ID, "customer-data-breach")
	if err != nil {
		return fmt.Errorf("apply playbook: %w", err)
	}
	byKey := map[string]notice.Notice{}
	for _, n := range created {
		byKey[n.ItemKey] = n
	}
	approve := func(key string, approvers ...auth.Principal) error {
		n, ok := byKey[key]
		if !ok {
			return fmt.Errorf("the built-in playbook has no %q", key)
		}
		cur, err := svc.Notice(ctx, sam, n.ID)
		if err != nil {
			return err
		}
		if _, err := svc.SubmitNotice(ctx, sam, n.ID, cur.CurrentVersion, "Ready for review"); err != nil {
			return fmt.Errorf("submit %s: %w", key, err)
		}
		for _, a := range approvers {
			rep, err := svc.CheckNotice(ctx, a, n.ID, cur.CurrentVersion, nil)
			if err != nil {
				return err
			}
			overrides := map[string]string{}
			for _, f := range rep.Blocking() {
				overrides[f.Key] = "Reviewed with counsel for the demo"
			}
			if _, err := svc.ReviewNotice(ctx, a, n.ID, cur.CurrentVersion, app.Review{Decision: notice.DecisionApprove, Comment: "Approved", Overrides: overrides}); err != nil {
				return fmt.Errorf("approve %s: %w", key, err)
			}
		}
		return nil
	}
	if err := addMassachusettsVariant(ctx, svc, sam, in.ID, byKey["customer-alert"]); err != nil {
		return err
	}
	for _, key := range []string{"response-team-update", "answer-guide", "employee-memo", "customer-alert", "website-qa", "partner-notice"} {
		if err := approve(key, marc); err != nil {
			return err
		}
	}
	if err := approve("unaffected-notice"); err != nil {
		return err
	}
	return approve("regulator-notice", admin)
}

// maText is the customer alert for Massachusetts residents. The law there
// (M.G.L. c. 93H § 3) asks a notice to residents to explain the police
// report and the free security freeze, and forbids stating the nature of
// the breach or how many residents were affected.
const maText = `Dear {{.Recipient.Name}},

We are writing to tell you about an incident that involves your personal information. We are sorry.

## What You Can Do

{{.Facts.WhatToDo}}

You have the right to obtain a police report about this incident. You can also place a security freeze on your credit report, which stops new credit being opened in your name. A security freeze is free of charge. To request one, contact each of the three credit bureaus (Equifax, Experian and TransUnion) online or by phone, and give your full name, address, date of birth and Social Security number.

{{if .Facts.NotExposed}}These were **not** involved: {{.Facts.NotExposed}}.{{end}}

## What We Are Doing

We have fixed the problem, told law enforcement, and asked the card companies to watch your card for fraud.

## For More Information

We will post every update at {{.Facts.ContactURL}}. If you have a question, reply to this email and a person will answer you.{{if .Facts.ContactPhone}} You can also call us at {{.Facts.ContactPhone}}.{{end}}

The {{.Company.Name}} team
`

// addMassachusettsVariant gives the customer alert its variant for the
// Massachusetts segment, as a team would after the checks flagged it.
func addMassachusettsVariant(ctx context.Context, svc *app.Service, sam auth.Principal, incidentID int64, n notice.Notice) error {
	seg, err := svc.CreateSegment(ctx, sam, audience.NewSegment{IncidentID: incidentID, Name: "Massachusetts residents",
		Description: "Their notice may not state the nature of the breach (M.G.L. c. 93H § 3)",
		Rule:        audience.Rule{Field: "jurisdiction", Op: "in", Values: []string{"US-MA"}}})
	if err != nil {
		return fmt.Errorf("seed segment: %w", err)
	}
	v, err := svc.NoticeVersion(ctx, sam, n.ID, 0)
	if err != nil {
		return err
	}
	c := v.Content
	c.Variants = append(c.Variants, notice.Variant{Name: "Massachusetts", SegmentID: seg.ID, Subject: "Important information about your {{.Company.Name}} account", Body: maText})
	_, err = svc.SaveNotice(ctx, sam, n.ID, store.NoticeEdit{BaseVersion: v.Number, Content: c, Reason: "Massachusetts residents get the text their law requires"})
	return err
}
