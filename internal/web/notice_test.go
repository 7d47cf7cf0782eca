package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/notice"
	"github.com/candorhq/candor/internal/store/storetest"
)

// noticeEdit is the editor form saving text on top of base.
func noticeEdit(base int, body, reason string) url.Values {
	return url.Values{"base_version": {fmt.Sprint(base)}, "title": {"Customer alert"}, "channels": {"email", "sms"},
		"subject": {"About your account"}, "body": {body}, "reason": {reason}}
}

// TestTwoPersonRuleInTheUI: an approver who wrote the version in review sees
// why they cannot approve it, and a forged approval is refused by the rule,
// not by the role; another approver can approve it.
func TestTwoPersonRuleInTheUI(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	n := e.draftNotice()
	path := fmt.Sprintf("/notices/%d", n.ID)
	if got := e.as(auth.Approver, "POST", path, noticeEdit(1, "Dear {{.Recipient.Name}}, we are sorry.", "apology first")); got.status != http.StatusSeeOther {
		t.Fatalf("save: %d\n%s", got.status, snippet(got.body))
	}
	if got := e.as(auth.Approver, "POST", path+"/submit", url.Values{"version": {"2"}}); got.status != http.StatusSeeOther {
		t.Fatalf("submit: %d\n%s", got.status, snippet(got.body))
	}
	page := e.as(auth.Approver, "GET", path, nil)
	mustContain(t, page.body, "You wrote this version", "two-person rule", "In review")
	if strings.Contains(page.body, `action="/notices/`+fmt.Sprint(n.ID)+`/review"`) {
		t.Error("the author is offered the review form")
	}
	forged := e.as(auth.Approver, "POST", path+"/review", url.Values{"version": {"2"}, "decision": {"approve"}})
	if forged.status != http.StatusForbidden {
		t.Fatalf("forged approval: %d, want 403", forged.status)
	}
	mustContain(t, forged.body, "Someone else must review this", "two-person rule")

	page = e.as(auth.Admin, "GET", path, nil)
	mustContain(t, page.body, `id="review-form"`, "Approve version 2", "Request changes")
	if got := e.as(auth.Admin, "POST", path+"/review", url.Values{"version": {"2"}, "decision": {"request_changes"}}); got.status != http.StatusUnprocessableEntity {
		t.Errorf("request changes without a comment: %d, want 422", got.status)
	} else {
		mustContain(t, got.body, "Say what should change", `id="f-comment-err"`)
	}
	if got := e.as(auth.Admin, "POST", path+"/review", e.approval(n, 2)); got.status != http.StatusSeeOther {
		t.Fatalf("approve: %d\n%s", got.status, snippet(got.body))
	}
	page = e.as(auth.Approver, "GET", path, nil)
	mustContain(t, page.body, "Approved", "admin@example.com", "Withdraw version 2")
	mustContain(t, page.body, `<span class="count-badge" id="unread-count">1`)
	notes := e.as(auth.Approver, "GET", "/notifications", nil)
	mustContain(t, notes.body, "admin@example.com approved version 2", `href="/notices/`)
	if strings.Contains(notes.body, `id="unread-count"`) {
		t.Error("the notifications page still shows an unread count")
	}
}

// TestNoticeEditor covers what the browser test does not: a stale save, the
// diff of two versions, variants added without JavaScript and shown side by
// side, and the checks panel's counts.
func TestNoticeEditor(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	n := e.draftNotice()
	path := fmt.Sprintf("/notices/%d", n.ID)

	edit := e.as(auth.Editor, "GET", path+"/edit", nil)
	mustContain(t, edit.body, `name="base_version" value="1"`, `class="finding finding-error"`, "what to do", "No audience chosen yet", `data-check="/api/v1/notices/`)

	if got := e.as(auth.Editor, "POST", path, noticeEdit(1, "Dear {{.Recipient.Name}},\n\nWe are sorry.\n", "apology")); got.status != http.StatusSeeOther {
		t.Fatalf("first save: %d\n%s", got.status, snippet(got.body))
	}
	stale := e.as(auth.Editor, "POST", path, noticeEdit(1, "Hello {{.Recipient.Name}}.", "greeting"))
	if stale.status != http.StatusConflict {
		t.Fatalf("stale save: %d, want 409", stale.status)
	}
	mustContain(t, stale.body, "Someone else saved this notice while you were editing", "Your text is not saved yet",
		`name="base_version" value="2"`, "Hello {{.Recipient.Name}}.", "We are sorry.")

	diff := e.as(auth.Viewer, "GET", path+"/diff?from=1&to=2", nil)
	if diff.status != http.StatusOK {
		t.Fatalf("diff: %d", diff.status)
	}
	mustContain(t, diff.body, "Version 1 and version 2 compared", `class="dl dl-add"`, "We are sorry.", `class="dl dl-del"`)

	// Adding a variant row needs no script: the form comes back with one.
	form := noticeEdit(2, "Dear {{.Recipient.Name}},\n\nWe are sorry.\n", "a French variant")
	form.Set("op", "add_variant")
	added := e.as(auth.Editor, "POST", path, form)
	mustContain(t, added.body, `name="variants[0].name" value="Variant 1"`, `name="variant_count" value="1"`)
	form.Del("op")
	form.Set("variant_count", "1")
	form.Set("variants[0].name", "French")
	form.Set("variants[0].locale", "fr")
	form.Set("variants[0].subject", "À propos de votre compte")
	form.Set("variants[0].body", "Bonjour {{.Recipient.Nom}},")
	bad := e.as(auth.Editor, "POST", path, form)
	if bad.status != http.StatusUnprocessableEntity {
		t.Fatalf("variant with a template error: %d, want 422", bad.status)
	}
	mustContain(t, bad.body, `id="f-variants-0-body-err"`, "line 1, column", `unknown field &#34;Nom&#34;`)
	form.Set("variants[0].body", "Bonjour {{.Recipient.Name}}, nous sommes désolés.")
	if got := e.as(auth.Editor, "POST", path, form); got.status != http.StatusSeeOther {
		t.Fatalf("save the variant: %d\n%s", got.status, snippet(got.body))
	}
	side := e.as(auth.Viewer, "GET", path+"/variants", nil)
	mustContain(t, side.body, "Default", "French", "nous sommes désolés", "Gets this", "made-up sample")

	v, err := e.svc.NoticeVersion(ctx, auth.CLI, n.ID, 0)
	if err != nil || v.Number != 3 || len(v.Content.Variants) != 1 || v.Content.Variants[0].Locale != "fr" || v.State != notice.Draft {
		t.Fatalf("after the variant: %+v %v", v, err)
	}
}

// TestPlaybookPages: a built-in playbook is read-only and can be copied; the
// copy is edited and saved; an incident's notices are saved as a playbook.
func TestPlaybookPages(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	list := e.as(auth.Viewer, "GET", "/playbooks", nil)
	mustContain(t, list.body, "Customer data breach", "Built in")
	view := e.as(auth.Editor, "GET", "/playbooks/customer-data-breach", nil)
	mustContain(t, view.body, "Press release", "T&#43;14h", "Save a copy", "{{.Facts.WhatHappened}}")
	if strings.Contains(view.body, `href="/playbooks/customer-data-breach/edit"`) {
		t.Error("a built-in playbook offers an edit link")
	}
	if got := e.as(auth.Editor, "POST", "/playbooks/customer-data-breach", url.Values{"version": {"1"}, "name": {"Mine"}}); got.status != http.StatusUnprocessableEntity {
		t.Errorf("editing a built-in: %d, want 422", got.status)
	}
	cp := e.as(auth.Editor, "POST", "/playbooks/customer-data-breach/copy", url.Values{"name": {"Our breach package"}})
	if cp.status != http.StatusSeeOther || cp.location != "/playbooks/our-breach-package/edit" {
		t.Fatalf("copy: %d to %q", cp.status, cp.location)
	}
	ed := e.as(auth.Editor, "GET", cp.location, nil)
	mustContain(t, ed.body, `name="items[4].title" value="Customer alert (affected)"`, `name="item_count" value="10"`)

	form := url.Values{"version": {"1"}, "name": {"Our breach package"}, "description": {"Shorter."}, "item_count": {"2"},
		"items[0].title": {"Staff memo"}, "items[0].audience": {"employees"}, "items[0].channels": {"email"}, "items[0].offset": {"soon"},
		"items[0].subject": {"Systems down"}, "items[0].body": {"Hello {{.Recipient.Name}}."}, "items[1].remove": {"1"}}
	bad := e.as(auth.Editor, "POST", "/playbooks/our-breach-package", form)
	if bad.status != http.StatusUnprocessableEntity {
		t.Fatalf("bad offset: %d, want 422", bad.status)
	}
	mustContain(t, bad.body, `id="f-items-0-offset-err"`, "offset")
	form.Set("items[0].offset", "-1h")
	if got := e.as(auth.Editor, "POST", "/playbooks/our-breach-package", form); got.status != http.StatusSeeOther {
		t.Fatalf("save: %d\n%s", got.status, snippet(got.body))
	}
	pb, err := e.svc.Playbook(ctx, auth.CLI, "our-breach-package")
	if err != nil || pb.Version != 2 || len(pb.Items) != 1 || pb.Items[0].Offset != "-1h" {
		t.Fatalf("saved playbook: %+v %v", pb, err)
	}
	// "Add a notice" returns the form with a blank notice and saves nothing;
	// filled in, it is saved with the rest.
	grow := url.Values{"version": {"2"}, "name": {"Our breach package"}, "item_count": {"1"}, "op": {"add_item"},
		"items[0].key": {pb.Items[0].Key}, "items[0].title": {"Staff memo"}, "items[0].audience": {"employees"}, "items[0].channels": {"email"},
		"items[0].offset": {"-1h"}, "items[0].subject": {"Systems down"}, "items[0].body": {"Hello {{.Recipient.Name}}."}}
	if vw := e.as(auth.Viewer, "POST", "/playbooks/our-breach-package", grow); vw.status != http.StatusForbidden {
		t.Fatalf("a viewer adds a notice: %d", vw.status)
	}
	grow.Del("csrf_token")
	more := e.as(auth.Editor, "POST", "/playbooks/our-breach-package", grow)
	if more.status != http.StatusOK {
		t.Fatalf("add a notice: %d", more.status)
	}
	mustContain(t, more.body, `name="item_count" value="2"`, `name="items[1].title" value=""`, `name="items[0].title" value="Staff memo"`)
	grow.Del("op")
	grow.Del("csrf_token")
	grow.Set("item_count", "2")
	for k, v := range map[string]string{"title": "Press holding line", "audience": "press", "channels": "email", "offset": "14h", "subject": "Statement", "body": "We are looking into it."} {
		grow.Set("items[1]."+k, v)
	}
	if got := e.as(auth.Editor, "POST", "/playbooks/our-breach-package", grow); got.status != http.StatusSeeOther {
		t.Fatalf("save with the added notice: %d\n%s", got.status, snippet(got.body))
	}
	if pb, err = e.svc.Playbook(ctx, auth.CLI, "our-breach-package"); err != nil || pb.Version != 3 || len(pb.Items) != 2 || pb.Items[1].Key != "press-holding-line" {
		t.Fatalf("playbook with the added notice: %+v %v", pb, err)
	}
	if got := e.as(auth.Editor, "POST", "/playbooks/our-breach-package", form); got.status != http.StatusUnprocessableEntity {
		t.Errorf("stale playbook save: %d, want 422 with the conflict", got.status)
	} else {
		mustContain(t, got.body, "someone saved it while you were editing")
	}

	in := e.incident()
	applied := e.as(auth.Editor, "POST", fmt.Sprintf("/incidents/%d/playbook", in.ID), url.Values{"playbook": {"our-breach-package"}})
	if applied.status != http.StatusSeeOther {
		t.Fatalf("apply: %d", applied.status)
	}
	page := e.as(auth.Viewer, "GET", fmt.Sprintf("/incidents/%d", in.ID), nil)
	mustContain(t, page.body, "Response package", "Staff memo", "T−1h", "Draft")
	if strings.Contains(page.body, "Apply playbook") {
		t.Error("a viewer is offered to apply a playbook")
	}
	dup := e.as(auth.Editor, "POST", fmt.Sprintf("/incidents/%d/playbooks", in.ID), url.Values{"name": {"Our breach package"}})
	if dup.status != http.StatusUnprocessableEntity {
		t.Fatalf("save under a taken name: %d, want 422", dup.status)
	}
	mustContain(t, dup.body, `id="f-name-err"`, "already exists")
}
