package app_test

import (
	"strings"
	"testing"

	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/audience"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/incident"
	"github.com/candorhq/candor/internal/notice"
	"github.com/candorhq/candor/internal/store"
	"github.com/candorhq/candor/internal/store/storetest"
)

var admin = auth.Principal{UserID: 1, Email: "ana@example.com", Role: auth.Admin, Via: "session"}

const alertBody = `Dear {{.Recipient.Name}},

## What happened
{{.Facts.WhatHappened}}

{{if .Recipient.Exposed "card_number"}}Your card number was exposed.{{end}}
`

func addApprover(t *testing.T, svc *app.Service) auth.Principal {
	t.Helper()
	u, err := svc.CreateUser(ctx, auth.CLI, auth.NewUser{Email: "abe@example.com", Role: auth.Approver, Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	return auth.Principal{UserID: u.ID, Email: u.Email, Role: auth.Approver, Via: "session"}
}

// overridesFor writes an override for every check that blocks approval.
func overridesFor(t *testing.T, svc *app.Service, p auth.Principal, id int64, version int) map[string]string {
	t.Helper()
	rep, err := svc.CheckNotice(ctx, p, id, version, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]string{}
	for _, f := range rep.Blocking() {
		m[f.Key] = "Counsel reviewed this for the test"
	}
	return m
}

func newIncident(t *testing.T, svc *app.Service) incident.Incident {
	t.Helper()
	in, err := svc.CreateIncident(ctx, editor, incident.New{Title: "Card numbers stolen", Facts: incident.Facts{WhatHappened: "Someone copied our billing records."}})
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// TestNoticeReviewTwoPersonRule walks a notice from draft to approved, and
// checks on the way that nobody can approve their own text, that a viewer
// can do nothing, that editing an approved notice leaves the approved
// version sendable, and that text changed in the database after approval
// is no longer certified.
func TestNoticeReviewTwoPersonRule(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		svc := newService(t, db)
		approver := addApprover(t, svc)
		in := newIncident(t, svc)
		newN := notice.New{IncidentID: in.ID, Title: "Customer alert", AudienceKind: "affected_customers", Channels: []notice.Channel{"email", "sms"},
			Content: notice.Content{Subject: "About your account, {{.Recipient.Name}}", Body: alertBody}}
		if _, err := svc.CreateNotice(ctx, viewer, newN); apperr.Code(err) != apperr.EFORBIDDEN {
			t.Fatalf("viewer drafts: %v", err)
		}
		bad := newN
		bad.Content.Body = "Hello {{.Facts.AffectedCont}}"
		bad.Channels = []notice.Channel{"pigeon"}
		if _, err := svc.CreateNotice(ctx, editor, bad); apperr.Code(err) != apperr.EINVALID || apperr.Fields(err)["body"] == "" || apperr.Fields(err)["channels[0]"] == "" {
			t.Fatalf("bad notice: %v (%v)", err, apperr.Fields(err))
		}
		n, err := svc.CreateNotice(ctx, editor, newN)
		if err != nil || n.State != notice.Draft || n.CurrentVersion != 1 {
			t.Fatalf("create: %+v %v", n, err)
		}
		// Nobody can approve a draft; the author cannot approve.
		if _, err := svc.ReviewNotice(ctx, approver, n.ID, 1, app.Review{Decision: "approve"}); apperr.Code(err) != apperr.ECONFLICT {
			t.Fatalf("approve a draft: %v", err)
		}
		if _, err := svc.SubmitNotice(ctx, viewer, n.ID, 1, ""); apperr.Code(err) != apperr.EFORBIDDEN {
			t.Fatalf("viewer submits: %v", err)
		}
		v, err := svc.SubmitNotice(ctx, editor, n.ID, 1, "ready")
		if err != nil || v.State != notice.InReview || v.Policy.Approvals != 1 {
			t.Fatalf("submit: %+v %v", v, err)
		}
		if _, err := svc.ReviewNotice(ctx, editor, n.ID, 1, app.Review{Decision: "approve"}); apperr.Code(err) != apperr.EFORBIDDEN {
			t.Fatalf("an editor approves: %v", err)
		}
		if _, err := svc.ReviewNotice(ctx, approver, n.ID, 1, app.Review{Decision: "request_changes"}); apperr.Code(err) != apperr.EINVALID {
			t.Fatalf("request changes without a comment: %v", err)
		}
		if _, err := svc.ApprovedNotice(ctx, viewer, n.ID, 1); err == nil {
			t.Fatal("a version in review is certified")
		}
		v, err = svc.ReviewNotice(ctx, approver, n.ID, 1, app.Review{Decision: "request_changes", Comment: "Say when it happened"})
		if err != nil || v.State != notice.ChangesRequested {
			t.Fatalf("request changes: %+v %v", v, err)
		}
		notes, unread, err := svc.Notifications(ctx, editor)
		if err != nil || unread != 1 || !strings.Contains(notes[0].Message, "Say when it happened") {
			t.Fatalf("author's notifications: %+v %d %v", notes, unread, err)
		}

		// The approver rewrites it: now they are the author of version 2
		// and cannot approve it themselves.
		edit := store.NoticeEdit{BaseVersion: 1, Content: newN.Content, Reason: "Added when it happened"}
		edit.Content.Body += "\nIt happened on {{.Facts.DiscoveredAt}}.\n"
		if _, err := svc.SaveNotice(ctx, approver, n.ID, store.NoticeEdit{BaseVersion: 1, Content: edit.Content}); apperr.Code(err) != apperr.EINVALID || apperr.Fields(err)["reason"] == "" {
			t.Fatalf("save without a reason: %v", err)
		}
		v, err = svc.SaveNotice(ctx, approver, n.ID, edit)
		if err != nil || v.Number != 2 || v.State != notice.Draft {
			t.Fatalf("save: %+v %v", v, err)
		}
		if _, err := svc.SaveNotice(ctx, editor, n.ID, edit); apperr.Code(err) != apperr.ECONFLICT {
			t.Fatalf("save on a stale base: %v", err)
		}
		if _, err := svc.SubmitNotice(ctx, approver, n.ID, 2, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.ReviewNotice(ctx, approver, n.ID, 2, app.Review{Decision: "approve"}); apperr.Code(err) != apperr.EFORBIDDEN || !strings.Contains(apperr.Message(err), "two-person rule") {
			t.Fatalf("the author approves: %v", err)
		}
		// The text lacks what a customer alert must say: approving needs a
		// written override of each failing check.
		_, err = svc.ReviewNotice(ctx, admin, n.ID, 2, app.Review{Decision: "approve", Comment: "Good"})
		if apperr.Code(err) != apperr.EINVALID || apperr.Fields(err)["overrides.point:what_to_do"] == "" {
			t.Fatalf("approve with failing checks: %v", err)
		}
		v, err = svc.ReviewNotice(ctx, admin, n.ID, 2, app.Review{Decision: "approve", Comment: "Good", Overrides: overridesFor(t, svc, admin, n.ID, 2)})
		if err != nil || v.State != notice.Approved || len(v.Overrides) == 0 || v.Overrides[0].Author != admin.Email {
			t.Fatalf("approve: %+v %v", v, err)
		}
		a, err := svc.ApprovedNotice(ctx, viewer, n.ID, 2)
		if err != nil || a.Version().Number != 2 {
			t.Fatalf("certify the approved version: %v", err)
		}

		// Editing an approved notice makes a new draft; the approved one
		// stays approved and sendable.
		edit.BaseVersion = 2
		edit.Reason = "Friendlier greeting"
		edit.Content.Subject = "Important: about your account"
		if v, err = svc.SaveNotice(ctx, editor, n.ID, edit); err != nil || v.Number != 3 {
			t.Fatalf("edit approved: %+v %v", v, err)
		}
		if _, err := svc.ApprovedNotice(ctx, viewer, n.ID, 2); err != nil {
			t.Fatalf("version 2 after a new draft: %v", err)
		}
		if _, err := svc.ApprovedNotice(ctx, viewer, n.ID, 3); apperr.Code(err) != apperr.EFORBIDDEN {
			t.Fatalf("the draft is certified: %v", err)
		}
		diff, err := svc.NoticeDiff(ctx, viewer, n.ID, 1, 3)
		if err != nil || len(diff) != 2 || diff[0].Part != "subject" {
			t.Fatalf("diff: %+v %v", diff, err)
		}

		// Text changed behind Candor's back is not approved text.
		if _, err := db.SQL().ExecContext(ctx, `UPDATE notice_versions SET content = replace(content, 'billing', 'BILLING') WHERE notice_id = 1`); err != nil {
			t.Fatal(err)
		}
		if _, err := db.SQL().ExecContext(ctx, `UPDATE notice_versions SET content = replace(content, 'Dear', 'Hi') WHERE version = 2`); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.ApprovedNotice(ctx, viewer, n.ID, 2); apperr.Code(err) != apperr.EFORBIDDEN || !strings.Contains(apperr.Message(err), "changed after approval") {
			t.Fatalf("tampered text: %v", err)
		}
	})
}

// TestRegulatorNoticeNeedsTwoApprovers: the policy for regulator notices.
func TestRegulatorNoticeNeedsTwoApprovers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		svc := newService(t, db)
		approver := addApprover(t, svc)
		in := newIncident(t, svc)
		n, err := svc.CreateNotice(ctx, editor, notice.New{IncidentID: in.ID, Title: "To the authority", AudienceKind: "regulators", Channels: []notice.Channel{"email"},
			Content: notice.Content{Subject: "Breach notification", Body: "{{.Facts.WhatHappened}}"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.SubmitNotice(ctx, editor, n.ID, 1, ""); err != nil {
			t.Fatal(err)
		}
		v, err := svc.ReviewNotice(ctx, admin, n.ID, 1, app.Review{Decision: "approve", Overrides: overridesFor(t, svc, admin, n.ID, 1)})
		if err != nil || v.State != notice.InReview {
			t.Fatalf("first approval: %+v %v", v, err)
		}
		if _, err := svc.ReviewNotice(ctx, admin, n.ID, 1, app.Review{Decision: "approve"}); apperr.Code(err) != apperr.ECONFLICT {
			t.Fatalf("same approver twice: %v", err)
		}
		if v, err = svc.ReviewNotice(ctx, approver, n.ID, 1, app.Review{Decision: "approve", Overrides: overridesFor(t, svc, approver, n.ID, 1)}); err != nil || v.State != notice.Approved {
			t.Fatalf("second approval: %+v %v", v, err)
		}
		if _, err := svc.ApprovedNotice(ctx, viewer, n.ID, 1); err != nil {
			t.Fatal(err)
		}
	})
}

// TestApplyPlaybookAndPreview applies the built-in playbook twice (the
// second time creates nothing), previews the customer alert for a real
// recipient, and saves the incident's notices as a new playbook.
func TestApplyPlaybookAndPreview(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		svc := newService(t, db)
		in := newIncident(t, svc)
		aud, err := svc.CreateAudience(ctx, editor, audience.New{IncidentID: in.ID, Kind: audience.AffectedCustomers, Name: "Affected"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.ImportRecipients(ctx, editor, aud.ID, strings.NewReader("email,name,jurisdiction,exposed\njo@example.com,Jo <b>Evil</b>,US-CA,card_number\nal@example.com,Al,US-NV,email\n"), audience.ImportOptions{}); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.ApplyPlaybook(ctx, viewer, in.ID, "customer-data-breach"); apperr.Code(err) != apperr.EFORBIDDEN {
			t.Fatalf("viewer applies: %v", err)
		}
		created, err := svc.ApplyPlaybook(ctx, editor, in.ID, "customer-data-breach")
		if err != nil || len(created) < 10 {
			t.Fatalf("apply: %d %v", len(created), err)
		}
		again, err := svc.ApplyPlaybook(ctx, editor, in.ID, "customer-data-breach")
		if err != nil || len(again) != 0 {
			t.Fatalf("apply twice: %d %v", len(again), err)
		}
		var alert notice.Notice
		for _, n := range created {
			if n.ItemKey == "customer-alert" {
				alert = n
			}
		}
		if alert.AudienceID != aud.ID {
			t.Fatalf("the customer alert goes to audience %d, want %d", alert.AudienceID, aud.ID)
		}
		rs, _, err := svc.Recipients(ctx, viewer, aud.ID, 0, 10)
		if err != nil {
			t.Fatal(err)
		}
		pv, err := svc.PreviewNotice(ctx, viewer, alert.ID, 0, rs[0].ID)
		if err != nil || pv.Email == nil || pv.SMS == nil {
			t.Fatalf("preview: %+v %v", pv, err)
		}
		if strings.Contains(pv.Email.HTML, "<b>Evil") || !strings.Contains(pv.Email.HTML, "Jo &lt;b&gt;Evil") {
			t.Fatalf("recipient markup is not escaped in the email:\n%s", pv.Email.HTML)
		}
		rep, err := svc.CheckNotice(ctx, viewer, alert.ID, 0, nil)
		if err != nil || rep.Members != 2 || len(rep.Jurisdictions) != 2 {
			t.Fatalf("check: %+v %v", rep, err)
		}
		for _, f := range rep.Findings {
			if f.Key == "template" {
				t.Errorf("built-in template fails: %+v", f)
			}
		}
		pb, err := svc.SaveIncidentAsPlaybook(ctx, editor, in.ID, "Our card breach", "What we sent last time")
		if err != nil || pb.Key != "our-card-breach" || len(pb.Items) != len(created) || pb.Version != 1 {
			t.Fatalf("save as playbook: %+v %v", pb.Key, err)
		}
		if _, err := svc.SaveIncidentAsPlaybook(ctx, editor, in.ID, "Our card breach", ""); apperr.Code(err) != apperr.ECONFLICT {
			t.Fatalf("same name twice: %v", err)
		}
		pb.Items[0].Body = "{{.Facts.Nope}}"
		if _, err := svc.SavePlaybook(ctx, editor, pb, 1); apperr.Code(err) != apperr.EINVALID || apperr.Fields(err)["items[0].body"] == "" {
			t.Fatalf("bad template in a playbook: %v %v", err, apperr.Fields(err))
		}
		in2 := newIncident(t, svc)
		if got, err := svc.ApplyPlaybook(ctx, editor, in2.ID, "our-card-breach"); err != nil || len(got) != len(created) {
			t.Fatalf("apply the saved playbook: %d %v", len(got), err)
		}
	})
}
