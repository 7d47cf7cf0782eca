package web_test

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/notice"
	"github.com/candorhq/candor/internal/playbook"
)

var approvers = []auth.Role{auth.Admin, auth.Approver}

// draftNotice creates a notice written by the command line (so that every
// signed-in role is someone other than its author).
func (e *env) draftNotice() notice.Notice {
	e.t.Helper()
	in := e.incident()
	n, err := e.svc.CreateNotice(ctx, auth.CLI, notice.New{IncidentID: in.ID, Title: "Customer alert", AudienceKind: "affected_customers",
		Channels: []notice.Channel{notice.ChannelEmail, notice.ChannelSMS},
		Content:  notice.Content{Subject: "About your account", Body: "Dear {{.Recipient.Name}},\n\n## What happened\n\n{{.Facts.WhatHappened}}\n"}})
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *env) submittedNotice() notice.Notice {
	e.t.Helper()
	n := e.draftNotice()
	if _, err := e.svc.SubmitNotice(ctx, auth.CLI, n.ID, 1, ""); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// approval is the review form that approves n's current version,
// overriding whatever checks fail.
func (e *env) approval(n notice.Notice, version int) url.Values {
	e.t.Helper()
	form := url.Values{"version": {fmt.Sprint(version)}, "decision": {notice.DecisionApprove}}
	rep, err := e.svc.CheckNotice(ctx, auth.CLI, n.ID, version, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, f := range rep.Blocking() {
		form.Set("override."+f.Key, "accepted for the test")
	}
	return form
}

func noticeRoleCases(e *env) []roleCase {
	n := 0
	get := func(path func() string) func(auth.Role) roleReq {
		return func(auth.Role) roleReq { return roleReq{path: path()} }
	}
	savedPlaybook := func() string {
		n++
		pb, err := e.svc.SavePlaybook(ctx, auth.CLI, playbook.Playbook{Name: fmt.Sprintf("Ransomware %d", n), Items: []playbook.Item{{
			Title: "Staff memo", Audience: "employees", Channels: []string{"email"}, Offset: "0", Subject: "Systems down", Body: "Do not turn on your laptop."}}}, 0)
		if err != nil {
			e.t.Fatal(err)
		}
		return pb.Key
	}
	return []roleCase{
		{"POST /incidents/{id}/playbook", editors, http.StatusSeeOther, 0, func(auth.Role) roleReq {
			return roleReq{path: fmt.Sprintf("/incidents/%d/playbook", e.incident().ID), form: url.Values{"playbook": {"customer-data-breach"}}}
		}},
		{"POST /incidents/{id}/playbooks", editors, http.StatusSeeOther, 0, func(auth.Role) roleReq {
			n++
			return roleReq{path: fmt.Sprintf("/incidents/%d/playbooks", e.draftNotice().IncidentID), form: url.Values{"name": {fmt.Sprintf("Our breach package %d", n)}}}
		}},
		{"GET /incidents/{id}/notices/new", editors, http.StatusOK, 0, get(func() string { return fmt.Sprintf("/incidents/%d/notices/new", e.incident().ID) })},
		{"POST /incidents/{id}/notices", editors, http.StatusSeeOther, 0, func(auth.Role) roleReq {
			return roleReq{path: fmt.Sprintf("/incidents/%d/notices", e.incident().ID), form: url.Values{"title": {"Press statement"}, "audience_kind": {"press"},
				"channels": {"email"}, "subject": {"Statement"}, "body": {"{{.Facts.WhatHappened}}"}}}
		}},
		{"GET /notices/{id}", everyone, http.StatusOK, 0, get(func() string { return fmt.Sprintf("/notices/%d", e.submittedNotice().ID) })},
		{"GET /notices/{id}/edit", editors, http.StatusOK, 0, get(func() string { return fmt.Sprintf("/notices/%d/edit", e.draftNotice().ID) })},
		{"POST /notices/{id}", editors, http.StatusSeeOther, 0, func(auth.Role) roleReq {
			return roleReq{path: fmt.Sprintf("/notices/%d", e.draftNotice().ID), form: url.Values{"base_version": {"1"}, "title": {"Customer alert"},
				"channels": {"email"}, "subject": {"About your account"}, "body": {"Dear {{.Recipient.Name}}, we are sorry."}, "reason": {"shorter"}}}
		}},
		{"GET /notices/{id}/diff", everyone, http.StatusOK, 0, get(func() string { return fmt.Sprintf("/notices/%d/diff?from=1&to=1", e.draftNotice().ID) })},
		{"GET /notices/{id}/preview", everyone, http.StatusOK, 0, get(func() string { return fmt.Sprintf("/notices/%d/preview", e.draftNotice().ID) })},
		{"GET /notices/{id}/preview/email", everyone, http.StatusOK, 0, get(func() string { return fmt.Sprintf("/notices/%d/preview/email", e.draftNotice().ID) })},
		{"GET /notices/{id}/variants", everyone, http.StatusOK, 0, get(func() string { return fmt.Sprintf("/notices/%d/variants", e.draftNotice().ID) })},
		{"POST /notices/{id}/submit", editors, http.StatusSeeOther, 0, func(auth.Role) roleReq {
			return roleReq{path: fmt.Sprintf("/notices/%d/submit", e.draftNotice().ID), form: url.Values{"version": {"1"}}}
		}},
		{"POST /notices/{id}/review", approvers, http.StatusSeeOther, 0, func(auth.Role) roleReq {
			nt := e.submittedNotice()
			return roleReq{path: fmt.Sprintf("/notices/%d/review", nt.ID), form: e.approval(nt, 1)}
		}},
		{"POST /notices/{id}/withdraw", approvers, http.StatusSeeOther, 0, func(auth.Role) roleReq {
			nt := e.submittedNotice()
			form := e.approval(nt, 1)
			ov := map[string]string{}
			for k, v := range form {
				if len(k) > len("override.") && k[:len("override.")] == "override." {
					ov[k[len("override."):]] = v[0]
				}
			}
			if _, err := e.svc.ReviewNotice(ctx, e.principal(auth.Approver), nt.ID, 1, app.Review{Decision: notice.DecisionApprove, Overrides: ov}); err != nil {
				e.t.Fatal(err)
			}
			return roleReq{path: fmt.Sprintf("/notices/%d/withdraw", nt.ID), form: url.Values{"version": {"1"}, "reason": {"the facts changed"}}}
		}},
		{"GET /reviews", everyone, http.StatusOK, 0, get(func() string { e.submittedNotice(); return "/reviews" })},
		{"GET /notifications", everyone, http.StatusOK, 0, get(func() string { return "/notifications" })},
		{"GET /playbooks", everyone, http.StatusOK, 0, get(func() string { return "/playbooks" })},
		{"GET /playbooks/{key}", everyone, http.StatusOK, 0, get(func() string { return "/playbooks/customer-data-breach" })},
		{"GET /playbooks/{key}/edit", editors, http.StatusOK, 0, get(func() string { return "/playbooks/" + savedPlaybook() + "/edit" })},
		{"POST /playbooks/{key}", editors, http.StatusSeeOther, 0, func(auth.Role) roleReq {
			return roleReq{path: "/playbooks/" + savedPlaybook(), form: url.Values{"version": {"1"}, "name": {"Ransomware"}, "item_count": {"1"},
				"items[0].title": {"Staff memo"}, "items[0].audience": {"employees"}, "items[0].channels": {"email", "sms"}, "items[0].offset": {"-1h"},
				"items[0].subject": {"Systems down"}, "items[0].body": {"Leave your laptop off, {{.Recipient.Name}}."}}}
		}},
		{"POST /playbooks/{key}/copy", editors, http.StatusSeeOther, 0, func(auth.Role) roleReq {
			n++
			return roleReq{path: "/playbooks/customer-data-breach/copy", form: url.Values{"name": {fmt.Sprintf("Our copy %d", n)}}}
		}},
	}
}
