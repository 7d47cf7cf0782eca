package api_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/notice"
	"github.com/candorhq/candor/internal/playbook"
	"github.com/candorhq/candor/internal/store"
	"github.com/candorhq/candor/internal/store/storetest"
)

// notice drafts a notice on a new incident, written by the command line
// (so any approver may review it), and moves it to state.
func (e *env) notice(state notice.State) notice.Notice {
	e.t.Helper()
	return e.noticeFor(state, e.incident().ID, 0)
}

// noticeFor creates a notice in state for an incident and audience (0: none).
func (e *env) noticeFor(state notice.State, incidentID, audienceID int64) notice.Notice {
	e.t.Helper()
	n, err := e.svc.CreateNotice(ctx, auth.CLI, notice.New{IncidentID: incidentID, Title: "Customer alert", AudienceKind: "affected_customers", AudienceID: audienceID,
		Channels: []notice.Channel{"email"}, Content: notice.Content{Subject: "About your card", Body: "{{.Facts.AffectedCount}} people"}})
	if err != nil {
		e.t.Fatal(err)
	}
	if state == notice.InReview || state == notice.Approved {
		if _, err := e.svc.SubmitNotice(ctx, auth.CLI, n.ID, 1, ""); err != nil {
			e.t.Fatal(err)
		}
	}
	if state == notice.Approved {
		admin := auth.Principal{UserID: e.users[auth.Admin].ID, Email: "admin@example.com", Role: auth.Admin}
		rep, err := e.svc.CheckNotice(ctx, admin, n.ID, 1, nil)
		if err != nil {
			e.t.Fatal(err)
		}
		overrides := map[string]string{}
		for _, f := range rep.Blocking() {
			overrides[f.Key] = "reviewed"
		}
		if _, err := e.svc.ReviewNotice(ctx, admin, n.ID, 1, app.Review{Decision: "approve", Overrides: overrides}); err != nil {
			e.t.Fatal(err)
		}
	}
	return n
}

// overrides writes an override for every check blocking a notice's approval.
func (e *env) overrides(id int64) map[string]string {
	e.t.Helper()
	rep, err := e.svc.CheckNotice(ctx, auth.CLI, id, 0, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	m := map[string]string{}
	for _, f := range rep.Blocking() {
		m[f.Key] = "reviewed"
	}
	return m
}

func (e *env) playbook() playbook.Playbook {
	e.t.Helper()
	e.pbs++
	pb, err := e.svc.SavePlaybook(ctx, auth.CLI, playbook.Playbook{Name: fmt.Sprintf("Ransomware %d", e.pbs), Items: []playbook.Item{
		{Title: "Staff memo", Audience: "employees", Channels: []string{"email"}, Offset: "-1h", Subject: "Our systems", Body: "{{.Facts.WhatHappened}}"},
	}}, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	return pb
}

// TestNoticeOverHTTP drafts, checks, submits and reviews a notice through
// the API, and sees the two-person rule and the conflict on a stale save.
func TestNoticeOverHTTP(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		in := e.incident()
		status, body := e.do(auth.Editor, "POST", fmt.Sprintf("/incidents/%d/playbook", in.ID), map[string]any{"key": "customer-data-breach"})
		if status != 201 || len(body["created"].([]any)) < 10 {
			t.Fatalf("apply: %d %v", status, body)
		}
		status, body = e.do(auth.Editor, "POST", fmt.Sprintf("/incidents/%d/playbook", in.ID), map[string]any{"key": "no-such"})
		if status != 404 {
			t.Fatalf("unknown playbook: %d %v", status, body)
		}
		status, body = e.do(auth.Editor, "POST", fmt.Sprintf("/incidents/%d/notices", in.ID), map[string]any{"title": "Status", "audience_kind": "custom",
			"channels": []string{"status_page"}, "content": map[string]any{"subject": "Update", "body": "Hello\n{{if .Facts.Exposed}}x"}})
		if status != 422 || !strings.Contains(fmt.Sprint(body), "line 2") {
			t.Fatalf("template error on create: %d %v", status, body)
		}
		status, body = e.do(auth.Editor, "POST", fmt.Sprintf("/incidents/%d/notices", in.ID), map[string]any{"title": "Status", "audience_kind": "custom",
			"channels": []string{"status_page"}, "content": map[string]any{"subject": "Update", "body": "We are looking into it."}})
		if status != 201 {
			t.Fatalf("create: %d %v", status, body)
		}
		id := int64(body["id"].(float64))
		path := fmt.Sprintf("/notices/%d", id)
		save := map[string]any{"base_version": 1, "reason": "more detail", "content": map[string]any{"subject": "Update", "body": "We found the cause."}}
		if status, body = e.do(auth.Editor, "PUT", path, save); status != 201 || body["version"].(float64) != 2 {
			t.Fatalf("save: %d %v", status, body)
		}
		if status, body = e.do(auth.Approver, "PUT", path, save); status != 409 || errCode(body) != "conflict" {
			t.Fatalf("stale save: %d %v", status, body)
		}
		if status, body = e.do(auth.Viewer, "GET", path+"/diff?from=1&to=2", nil); status != 200 || len(body["changes"].([]any)) != 1 {
			t.Fatalf("diff: %d %v", status, body)
		}
		if status, body = e.do(auth.Editor, "POST", path+"/submit", map[string]any{"version": 2}); status != 200 || body["state"] != "in_review" {
			t.Fatalf("submit: %d %v", status, body)
		}
		// The approver did not write version 2 (the editor did).
		if status, body = e.do(auth.Approver, "POST", path+"/review", map[string]any{"version": 2, "decision": "approve"}); status != 200 || body["state"] != "approved" {
			t.Fatalf("approve: %d %v", status, body)
		}
		status, body = e.do(auth.Approver, "PUT", path, map[string]any{"base_version": 2, "reason": "typo", "content": map[string]any{"subject": "Update", "body": "We found the cause!"}})
		if status != 201 {
			t.Fatalf("edit approved: %d %v", status, body)
		}
		e.do(auth.Approver, "POST", path+"/submit", map[string]any{"version": 3})
		status, body = e.do(auth.Approver, "POST", path+"/review", map[string]any{"version": 3, "decision": "approve"})
		if status != 403 || !strings.Contains(fmt.Sprint(body), "two-person rule") {
			t.Fatalf("approving one's own version: %d %v", status, body)
		}
		if status, body = e.do(auth.Viewer, "GET", "/review-queue", nil); status != 200 || len(body["items"].([]any)) != 1 {
			t.Fatalf("review queue: %d %v", status, body)
		}
		if status, body = e.do(auth.Viewer, "GET", path+"/preview", nil); status != 200 || body["page"] == nil {
			t.Fatalf("preview: %d %v", status, body)
		}
	})
}
