package demo

import (
	"context"
	"fmt"

	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/incident"
	"github.com/candorhq/candor/internal/notice"
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
		if _, err := svc.SubmitNotice(ctx, sam, n.ID, 1, "Ready for review"); err != nil {
			return fmt.Errorf("submit %s: %w", key, err)
		}
		for _, a := range approvers {
			rep, err := svc.CheckNotice(ctx, a, n.ID, 1, nil)
			if err != nil {
				return err
			}
			overrides := map[string]string{}
			for _, f := range rep.Blocking() {
				overrides[f.Key] = "Reviewed with counsel for the demo"
			}
			if _, err := svc.ReviewNotice(ctx, a, n.ID, 1, app.Review{Decision: notice.DecisionApprove, Comment: "Approved", Overrides: overrides}); err != nil {
				return fmt.Errorf("approve %s: %w", key, err)
			}
		}
		return nil
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
