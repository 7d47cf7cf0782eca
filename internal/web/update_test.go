package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/incident"
	"github.com/candorhq/candor/internal/notice"
	"github.com/candorhq/candor/internal/status"
	"github.com/candorhq/candor/internal/store"
	"github.com/candorhq/candor/internal/store/storetest"
)

// publishedUpdate posts an update on a new incident as the approver.
func (e *env) publishedUpdate() status.Update {
	e.t.Helper()
	in := e.incident()
	u, err := e.svc.PublishUpdate(ctx, e.principal(auth.Approver), in.ID, app.UpdateRequest{Status: incident.Investigating,
		Body: "We are investigating a report that card numbers were copied.", WhatToDo: "Watch your card statements.", Notify: true})
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

// component adds a service to the status page.
func (e *env) component(name string) status.Component {
	e.t.Helper()
	c, err := e.svc.CreateComponent(ctx, auth.CLI, status.Component{Name: name})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

func (e *env) updates(incidentID int64) []store.UpdateInfo {
	e.t.Helper()
	us, err := e.svc.Updates(ctx, auth.CLI, incidentID)
	if err != nil {
		e.t.Fatal(err)
	}
	return us
}

// updateForm is the "Post an update" form with two translation rows, the
// first in French.
func updateForm(body string) url.Values {
	return url.Values{"status": {"identified"}, "body": {body}, "what_to_do": {"Change your password."}, "notify": {"yes"},
		"translation_count":          {"2"},
		"translations[0].lang":       {"fr"},
		"translations[0].body":       {"Nous avons trouvé la faille."},
		"translations[0].what_to_do": {"Changez votre mot de passe."},
		"translations[1].lang":       {""},
		"translations[1].body":       {""},
		"translations[1].what_to_do": {""},
		"publish_at":                 {""},
		"display_at":                 {""},
	}
}

func dtLocal(t time.Time) string { return t.UTC().Format("2006-01-02T15:04") }

func TestPublishUpdate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		in := e.incident()
		path := fmt.Sprintf("/incidents/%d", in.ID)

		got := e.as(auth.Approver, "GET", path, nil)
		mustContain(t, got.body, `id="h-status-page"`, "Not on the status page yet", "No updates yet.", `action="/incidents/`+fmt.Sprint(in.ID)+`/updates"`,
			`<option value="investigating" selected>`, `name="notify" value="yes" checked`, `name="translations[0].lang"`, `name="translations[1].lang"`)

		got = e.as(auth.Approver, "POST", path+"/updates", updateForm("We found how they got in: a **stolen** password."))
		if got.status != http.StatusSeeOther || !strings.HasPrefix(got.location, path+"#update-") {
			t.Fatalf("status %d to %q, want 303 to the update; body:\n%s", got.status, got.location, snippet(got.body))
		}
		if msg := flashOf(t, got); msg != "Published the update: it is on the status page now. Subscribers are told when it goes public." {
			t.Errorf("flash %q", msg)
		}
		us := e.updates(in.ID)
		if len(us) != 1 {
			t.Fatalf("%d updates stored, want 1", len(us))
		}
		u := us[0]
		if u.Status != incident.Identified || !u.Notify || u.Translations["fr"].Body != "Nous avons trouvé la faille." || len(u.Translations) != 1 || u.Author != "approver@example.com" {
			t.Errorf("stored %+v", u.Update)
		}
		got = e.as(auth.Approver, "GET", path, nil)
		mustContain(t, got.body, "a <strong>stolen</strong> password", "What people should do", "Change your password.",
			"View on the status page", fmt.Sprintf(`href="/status/incidents/%d"`, in.ID), "Also in", "Nous avons trouvé la faille.",
			fmt.Sprintf(`id="update-%d"`, u.ID), fmt.Sprintf(`href="/updates/%d/edit"`, u.ID), "subscribers are told")

		viewer := e.as(auth.Viewer, "GET", path, nil)
		mustContain(t, viewer.body, "a <strong>stolen</strong> password", "View on the status page")
		for _, hidden := range []string{`/updates"`, "Post an update", fmt.Sprintf(`/updates/%d/edit`, u.ID), `/components"`} {
			if strings.Contains(viewer.body, hidden) {
				t.Errorf("the viewer's page contains %q", hidden)
			}
		}

		for _, role := range []auth.Role{auth.Editor, auth.Viewer, auth.Responder} {
			before := e.auditCount()
			got := e.as(role, "POST", path+"/updates", updateForm("Sneaky update"))
			if got.status != http.StatusForbidden {
				t.Errorf("%s: status %d, want 403", role, got.status)
			}
			mustContain(t, got.body, fmt.Sprintf("Your role (%s) cannot publish status page updates", role))
			if len(e.updates(in.ID)) != 1 || e.auditCount() != before {
				t.Errorf("%s: a refused post stored something", role)
			}
		}
	})
}

func TestPublishUpdateValidation(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	in := e.incident()
	path := fmt.Sprintf("/incidents/%d/updates", in.ID)
	cases := []struct {
		name   string
		change func(url.Values)
		// fields are the form fields that must show an error, with a word
		// of each message.
		fields map[string]string
	}{
		{"no body", func(f url.Values) { f.Set("body", "  ") }, map[string]string{"body": "Write what is going on"}},
		{"a language that is not a tag", func(f url.Values) { f.Set("translations[0].lang", "French") },
			map[string]string{"translations-0-lang": "not a language tag"}},
		{"a translation without text", func(f url.Values) {
			f.Set("translations[1].lang", "de")
			f.Set("translations[1].what_to_do", "Passwort ändern.")
		},
			map[string]string{"translations-1-body": "Write what is going on"}},
		{"text without a language", func(f url.Values) { f.Set("translations[1].body", "Hallo") }, map[string]string{"translations-1-lang": "Write the language"}},
		{"the same language twice", func(f url.Values) { f.Set("translations[1].lang", "fr"); f.Set("translations[1].body", "Encore") },
			map[string]string{"translations-1-lang": "given twice"}},
		{"a time that is not one", func(f url.Values) { f.Set("publish_at", "tomorrow morning") }, map[string]string{"publish-at": "is not a date and time"}},
		{"publishing in the past", func(f url.Values) { f.Set("publish_at", dtLocal(time.Now().Add(-3*time.Hour))) }, map[string]string{"publish-at": "in the past"}},
		{"showing a time after publication", func(f url.Values) { f.Set("display_at", dtLocal(time.Now().Add(3*time.Hour))) },
			map[string]string{"display-at": "cannot be later"}},
		{"an unknown status", func(f url.Values) { f.Set("status", "panicking") }, map[string]string{"status": "Unknown status"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			form := updateForm("Kept as typed: we know more now.")
			c.change(form)
			before := e.auditCount()
			got := e.as(auth.Approver, "POST", path, form)
			if got.status != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422; body:\n%s", got.status, snippet(got.body))
			}
			for field, word := range c.fields {
				id := "f-" + field
				mustContain(t, got.body, `id="error-summary"`, `href="#`+id+`"`, `id="`+id+`-err"`, `aria-invalid="true"`)
				i := strings.Index(got.body, `id="`+id+`-err"`)
				if i < 0 || !strings.Contains(got.body[i:min(len(got.body), i+300)], word) {
					t.Errorf("the error next to %s does not say %q", field, word)
				}
			}
			mustContain(t, got.body, "Nous avons trouvé la faille.", `<details class="post-update" open>`)
			if form.Get("body") != "  " {
				mustContain(t, got.body, "Kept as typed: we know more now.")
			}
			if n := len(e.updates(in.ID)); n != 0 || e.auditCount() != before {
				t.Errorf("%d updates stored after a refused form", n)
			}
		})
	}
}

func TestScheduledAndBackdatedUpdates(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		in := e.incident()
		path := fmt.Sprintf("/incidents/%d", in.ID)

		later := time.Now().UTC().Add(3 * time.Hour).Truncate(time.Minute)
		form := updateForm("We will publish the full report tonight.")
		form.Set("publish_at", dtLocal(later))
		got := e.as(auth.Approver, "POST", path+"/updates", form)
		if got.status != http.StatusSeeOther {
			t.Fatalf("scheduling: status %d; body:\n%s", got.status, snippet(got.body))
		}
		us := e.updates(in.ID)
		if len(us) != 1 || !us[0].PublishAt.Equal(later) || !us[0].DisplayAt.Equal(later) {
			t.Fatalf("stored %+v, want publication and display at %s", us, later)
		}
		when := later.Format("2006-01-02 15:04 UTC")
		if msg := flashOf(t, got); !strings.HasPrefix(msg, "Scheduled the update: it goes public at "+when+".") {
			t.Errorf("flash %q", msg)
		}
		page := e.as(auth.Approver, "GET", path, nil).body
		mustContain(t, page, "Scheduled: goes public at", when, "Not on the status page yet",
			fmt.Sprintf(`href="/updates/%d/edit">Edit`, us[0].ID), "subscribers are told when it goes public")

		earlier := time.Now().UTC().Add(-5 * time.Hour).Truncate(time.Minute)
		form = updateForm("We first noticed odd logins this morning.")
		form.Set("display_at", dtLocal(earlier))
		form.Del("notify")
		got = e.as(auth.Approver, "POST", path+"/updates", form)
		if got.status != http.StatusSeeOther {
			t.Fatalf("backdating: status %d; body:\n%s", got.status, snippet(got.body))
		}
		if msg := flashOf(t, got); msg != "Published the update: it is on the status page now." {
			t.Errorf("flash %q", msg)
		}
		us = e.updates(in.ID)
		if len(us) != 2 {
			t.Fatalf("%d updates, want 2", len(us))
		}
		back := us[1] // newest display time first: the scheduled one leads
		if !back.DisplayAt.Equal(earlier) || !back.PublishAt.After(earlier) || back.Notify {
			t.Fatalf("backdated update %+v, want display at %s, published now, not sent", back.Update, earlier)
		}
		page = e.as(auth.Approver, "GET", path, nil).body
		mustContain(t, page, "Backdated: went public at", earlier.Format("2006-01-02 15:04 UTC"), "not sent to subscribers",
			"View on the status page", fmt.Sprintf(`href="/updates/%d/edit">Correct`, back.ID))
		if i, j := strings.Index(page, "We will publish the full report tonight."), strings.Index(page, "We first noticed odd logins"); i < 0 || j < 0 || i > j {
			t.Errorf("the timeline is not newest first (positions %d, %d)", i, j)
		}
	})
}

func TestCorrectUpdate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		u := e.publishedUpdate()
		path := fmt.Sprintf("/updates/%d", u.ID)

		got := e.as(auth.Approver, "GET", path+"/edit", nil)
		if got.status != http.StatusOK {
			t.Fatalf("status %d", got.status)
		}
		mustContain(t, got.body, "Correct a status page update", "We are investigating a report that card numbers were copied.", "marks the update <strong>edited</strong>",
			`name="reason"`, `name="translations[0].lang"`)
		if got := e.as(auth.Editor, "GET", path+"/edit", nil); got.status != http.StatusForbidden {
			t.Errorf("editor: status %d, want 403", got.status)
		}

		form := url.Values{"body": {"We are investigating a report that 1,200 card numbers were copied."}, "what_to_do": {"Watch your card statements."},
			"translation_count": {"1"}, "translations[0].lang": {"fr"}, "translations[0].body": {"Nous enquêtons."}, "reason": {""}}
		got = e.as(auth.Approver, "POST", path, form)
		if got.status != http.StatusUnprocessableEntity {
			t.Fatalf("without a reason: status %d, want 422", got.status)
		}
		mustContain(t, got.body, `id="f-reason-err"`, "Say why the update changes", "1,200 card numbers", "Nous enquêtons.")
		if now := e.updates(u.IncidentID)[0]; now.Edited || now.Body != u.Body {
			t.Fatalf("a refused correction changed the update: %+v", now.Update)
		}

		form.Set("reason", "Wrong number of cards")
		got = e.as(auth.Approver, "POST", path, form)
		if got.status != http.StatusSeeOther || got.location != fmt.Sprintf("/incidents/%d#update-%d", u.IncidentID, u.ID) {
			t.Fatalf("status %d to %q; body:\n%s", got.status, got.location, snippet(got.body))
		}
		now := e.updates(u.IncidentID)[0]
		if !now.Edited || len(now.Revisions) != 1 || now.Revisions[0].Body != u.Body || now.Revisions[0].Reason != "Wrong number of cards" ||
			now.Translations["fr"].Body != "Nous enquêtons." {
			t.Fatalf("after the correction: %+v", now.Update)
		}
		page := e.as(auth.Viewer, "GET", fmt.Sprintf("/incidents/%d", u.IncidentID), nil).body
		mustContain(t, page, "1,200 card numbers", "Edited", "1 earlier text", "We are investigating a report that card numbers were copied.",
			"approver@example.com: “Wrong number of cards”")

		before := e.auditCount()
		form.Set("body", "Nothing happened.")
		if got := e.as(auth.Editor, "POST", path, form); got.status != http.StatusForbidden || e.auditCount() != before {
			t.Errorf("editor: status %d, want 403 and no change", got.status)
		}
	})
}

func TestIncidentComponents(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		in := e.incident()
		path := fmt.Sprintf("/incidents/%d", in.ID)
		if got := e.as(auth.Approver, "GET", path, nil); !strings.Contains(got.body, "The status page lists no services yet") {
			t.Errorf("without services the card does not say so")
		}
		login, mail := e.component("Customer login"), e.component("Email")

		got := e.as(auth.Approver, "GET", path, nil)
		mustContain(t, got.body, `action="`+path+`/components"`, "Customer login", fmt.Sprintf(`name="component.%d"`, mail.ID), `<option value="" selected>Not affected</option>`,
			`<option value="major_outage">Major outage</option>`, `<option value="under_maintenance">Under maintenance</option>`)

		got = e.as(auth.Approver, "POST", path+"/components", url.Values{fmt.Sprintf("component.%d", login.ID): {"major_outage"}, fmt.Sprintf("component.%d", mail.ID): {""}})
		if got.status != http.StatusSeeOther {
			t.Fatalf("status %d; body:\n%s", got.status, snippet(got.body))
		}
		if msg := flashOf(t, got); !strings.HasPrefix(msg, "Saved: this incident affects Customer login (major outage).") {
			t.Errorf("flash %q", msg)
		}
		got = e.as(auth.Approver, "GET", path, nil)
		mustContain(t, got.body, `<option value="major_outage" selected>Major outage</option>`)
		viewer := e.as(auth.Viewer, "GET", path, nil).body
		mustContain(t, viewer, "Customer login: <strong>Major outage</strong>", "Email: <span class=\"muted\">not affected</span>")
		if strings.Contains(viewer, `/components"`) {
			t.Errorf("the viewer sees the services form")
		}

		got = e.as(auth.Approver, "POST", path+"/components", url.Values{fmt.Sprintf("component.%d", mail.ID): {"degraded_performance"}})
		if got.status != http.StatusSeeOther {
			t.Fatalf("second save: status %d", got.status)
		}
		got = e.as(auth.Approver, "GET", path, nil)
		mustContain(t, got.body, `<option value="degraded_performance" selected>`)
		if strings.Contains(got.body, `<option value="major_outage" selected>`) {
			t.Errorf("a service left out is still affected")
		}

		before := e.auditCount()
		if got := e.as(auth.Editor, "POST", path+"/components", url.Values{fmt.Sprintf("component.%d", login.ID): {"operational"}}); got.status != http.StatusForbidden || e.auditCount() != before {
			t.Errorf("editor: status %d, want 403 and no change", got.status)
		}
		got = e.as(auth.Approver, "POST", path+"/components", url.Values{fmt.Sprintf("component.%d", login.ID): {"on_fire"}})
		if got.status != http.StatusUnprocessableEntity {
			t.Fatalf("unknown status: %d, want 422", got.status)
		}
		mustContain(t, got.body, "Unknown status")
	})
}

// pageNotice is a Q&A for the status page on incident in, version 1
// approved.
func (e *env) pageNotice(in incident.Incident) notice.Notice {
	e.t.Helper()
	n, err := e.svc.CreateNotice(ctx, auth.CLI, notice.New{IncidentID: in.ID, Title: "Website Q&A", AudienceKind: "affected_customers",
		Channels: []notice.Channel{notice.ChannelStatusPage},
		Content:  notice.Content{Subject: "Questions and answers", Body: "## Was my card number copied?\n\nCheck the email we sent you: it says what of yours was copied.\n"}})
	if err != nil {
		e.t.Fatal(err)
	}
	e.approve(n, 1)
	return n
}

// TestPublishNoticeOnStatusPage: an approved notice written for the status
// page is published from its page by an approver, and shows on the public
// incident page; others see who may publish it; the box must be ticked.
func TestPublishNoticeOnStatusPage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e, site := newPublicEnv(t, db)
		in := e.incident()
		if _, err := e.svc.PublishUpdate(ctx, e.principal(auth.Approver), in.ID, app.UpdateRequest{Status: incident.Investigating, Body: "We are looking into it."}); err != nil {
			t.Fatal(err)
		}
		n := e.pageNotice(in)
		path := fmt.Sprintf("/notices/%d", n.ID)
		mustContain(t, e.as(auth.Approver, "GET", path, nil).body, `id="h-publish"`, `action="`+path+`/publish"`, "Publish version 1 on the status page")
		author := e.as(auth.Editor, "GET", path, nil).body
		mustContain(t, author, `id="h-publish"`, "An approver or an admin publishes it.")
		if strings.Contains(author, `id="publish-form"`) {
			t.Errorf("an editor is offered the publish form")
		}
		if got := e.as(auth.Editor, "POST", path+"/publish", url.Values{"version": {"1"}, "confirm": {"yes"}}); got.status != http.StatusForbidden {
			t.Fatalf("editor publish: status %d, want 403", got.status)
		}
		got := e.as(auth.Approver, "POST", path+"/publish", url.Values{"version": {"1"}})
		if got.status != http.StatusUnprocessableEntity {
			t.Fatalf("unconfirmed: status %d, want 422", got.status)
		}
		mustContain(t, got.body, "Tick the box to confirm the version to show", `href="#f-publish-confirm"`, `id="f-publish-confirm"`)
		// What the public page shows of the notice (nil: nothing).
		shown := func() *status.Document {
			if snap := site.Snapshot(); snap != nil {
				for _, pi := range snap.Incidents {
					for _, d := range pi.Documents {
						if pi.ID == in.ID && d.NoticeID == n.ID {
							return &d
						}
					}
				}
			}
			return nil
		}
		if shown() != nil {
			t.Fatalf("the Q&A is public before anyone published it")
		}

		got = e.as(auth.Approver, "POST", path+"/publish", url.Values{"version": {"1"}, "confirm": {"yes"}})
		if got.status != http.StatusSeeOther || got.location != path+"#publish" {
			t.Fatalf("publish: status %d to %q; body:\n%s", got.status, got.location, snippet(got.body))
		}
		mustContain(t, e.follow(auth.Approver, got).body, "Version 1 is on the status page now", `id="published-now"`, "It is the newest approved version")
		deadline := time.Now().Add(10 * time.Second)
		for shown() == nil {
			if time.Now().After(deadline) {
				t.Fatalf("the published Q&A is not on the status page")
			}
			time.Sleep(50 * time.Millisecond)
		}
		if d := shown(); !strings.Contains(string(d.HTML), "Was my card number copied?") {
			t.Errorf("the status page shows:\n%s", d.HTML)
		}
		if n := e.auditCount(); n == 0 {
			t.Errorf("no audit entries")
		}
	})
}
