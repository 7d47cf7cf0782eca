package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/audience"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/delivery"
	"github.com/candorhq/candor/internal/dispatch"
	"github.com/candorhq/candor/internal/httpauth"
	"github.com/candorhq/candor/internal/notice"
	"github.com/candorhq/candor/internal/store"
	"github.com/candorhq/candor/internal/store/storetest"
)

// addressedNotice creates a draft email notice written by the command line
// and addressed to a new audience of the three members env.audience
// imports.
func (e *env) addressedNotice() notice.Notice {
	e.t.Helper()
	in := e.incident()
	a := e.audience(in.ID)
	n, err := e.svc.CreateNotice(ctx, auth.CLI, notice.New{IncidentID: in.ID, Title: "Customer alert", AudienceKind: "affected_customers", AudienceID: a.ID,
		Channels: []notice.Channel{notice.ChannelEmail},
		Content:  notice.Content{Subject: "About your account", Body: "Dear customer,\n\n## What happened\n\n{{.Facts.WhatHappened}}\n"}})
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// approve submits and approves version of n (as the approver, overriding
// the checks that fail).
func (e *env) approve(n notice.Notice, version int) {
	e.t.Helper()
	if _, err := e.svc.SubmitNotice(ctx, auth.CLI, n.ID, version, ""); err != nil {
		e.t.Fatal(err)
	}
	rep, err := e.svc.CheckNotice(ctx, auth.CLI, n.ID, version, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	ov := map[string]string{}
	for _, f := range rep.Blocking() {
		ov[f.Key] = "accepted for the test"
	}
	if _, err := e.svc.ReviewNotice(ctx, e.principal(auth.Approver), n.ID, version, app.Review{Decision: notice.DecisionApprove, Overrides: ov}); err != nil {
		e.t.Fatal(err)
	}
}

// approvedNotice is an addressed notice whose version 1 is approved.
func (e *env) approvedNotice() notice.Notice {
	e.t.Helper()
	n := e.addressedNotice()
	e.approve(n, 1)
	return n
}

// release releases a new approved notice as the approver; nothing sends
// it, so it stays running (or scheduled, with a start time).
func (e *env) release(start time.Time) delivery.Release {
	e.t.Helper()
	rel, _, err := e.svc.ReleaseNotice(ctx, e.principal(auth.Approver), e.approvedNotice().ID, app.ReleaseRequest{Version: 1, Channel: notice.ChannelEmail, StartAt: start})
	if err != nil {
		e.t.Fatal(err)
	}
	return rel
}

func (e *env) pausedRelease() delivery.Release {
	e.t.Helper()
	rel := e.release(time.Time{})
	rel, err := e.svc.PauseRelease(ctx, e.principal(auth.Approver), rel.ID, "checking the links")
	if err != nil {
		e.t.Fatal(err)
	}
	return rel
}

func releaseRoleCases(e *env) []roleCase {
	get := func(path func() string) func(auth.Role) roleReq {
		return func(auth.Role) roleReq { return roleReq{path: path()} }
	}
	return []roleCase{
		{"POST /notices/{id}/release", approvers, http.StatusSeeOther, 0, func(auth.Role) roleReq {
			n := e.approvedNotice()
			return roleReq{path: fmt.Sprintf("/notices/%d/release", n.ID), form: sendForm(1, 3)}
		}},
		{"POST /notices/{id}/publish", approvers, http.StatusSeeOther, 0, func(auth.Role) roleReq {
			n := e.pageNotice(e.incident())
			return roleReq{path: fmt.Sprintf("/notices/%d/publish", n.ID), form: url.Values{"version": {"1"}, "confirm": {"yes"}}}
		}},
		{"GET /releases/{id}", everyone, http.StatusOK, 0, get(func() string { return fmt.Sprintf("/releases/%d", e.release(time.Time{}).ID) })},
		{"GET /releases/{id}/progress.json", everyone, http.StatusOK, http.StatusUnauthorized, get(func() string {
			return fmt.Sprintf("/releases/%d/progress.json", e.release(time.Time{}).ID)
		})},
		{"POST /releases/{id}/pause", approvers, http.StatusSeeOther, 0, func(auth.Role) roleReq {
			return roleReq{path: fmt.Sprintf("/releases/%d/pause", e.release(time.Time{}).ID), form: url.Values{"reason": {"wrong link"}}}
		}},
		{"POST /releases/{id}/resume", approvers, http.StatusSeeOther, 0, func(auth.Role) roleReq {
			return roleReq{path: fmt.Sprintf("/releases/%d/resume", e.pausedRelease().ID)}
		}},
		{"POST /releases/{id}/cancel", approvers, http.StatusSeeOther, 0, func(auth.Role) roleReq {
			return roleReq{path: fmt.Sprintf("/releases/%d/cancel", e.release(time.Time{}).ID), form: url.Values{"reason": {"sent to the wrong audience"}}}
		}},
		{"GET /deliveries", everyone, http.StatusOK, 0, get(func() string { e.release(time.Time{}); return "/deliveries?address=ana%40example.com" })},
	}
}

// sendForm is the send card's form, confirmed, sending now.
func sendForm(version int, recipients int) url.Values {
	return url.Values{"version": {fmt.Sprint(version)}, "recipients": {fmt.Sprint(recipients)}, "confirm": {"yes"}, "when": {"now"}}
}

// follow follows a redirect as role, carrying the flash cookie as a
// browser would, and returns the page it leads to.
func (e *env) follow(role auth.Role, r resp) resp {
	e.t.Helper()
	if r.status != http.StatusSeeOther {
		e.t.Fatalf("status %d, want a redirect; body:\n%s", r.status, snippet(r.body))
	}
	loc, _, _ := strings.Cut(r.location, "#")
	req, err := http.NewRequest("GET", e.srv.URL+loc, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.AddCookie(&http.Cookie{Name: httpauth.CookieName, Value: e.sessions[role]})
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		req.AddCookie(c)
	}
	got, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer got.Body.Close()
	return resp{status: got.StatusCode, body: readAll(got), header: got.Header}
}

func (e *env) releases(noticeID int64) []delivery.Progress {
	e.t.Helper()
	ps, err := e.svc.Releases(ctx, auth.CLI, noticeID)
	if err != nil {
		e.t.Fatal(err)
	}
	return ps
}

// TestSendCard: the notice page explains why a notice cannot be sent yet,
// refuses a forged release of unapproved text, and shows approvers the
// exact version, audience and count they confirm; a refused send keeps
// nothing and says what to do.
func TestSendCard(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	draft := e.addressedNotice()
	path := fmt.Sprintf("/notices/%d", draft.ID)

	page := e.as(auth.Approver, "GET", path, nil)
	mustContain(t, page.body, `id="h-send"`, "This notice cannot be sent yet: it has no approved version", "Only approved text can be sent", "Submit version 1 for review")
	// Nothing is sending in this test: the card says released mail would wait.
	mustContain(t, page.body, "No Candor process is sending email right now")
	if strings.Contains(page.body, `id="send-form"`) {
		t.Error("a draft offers the send form")
	}
	forged := e.as(auth.Approver, "POST", path+"/release", sendForm(1, 3))
	if forged.status != http.StatusForbidden {
		t.Fatalf("releasing a draft: %d, want 403\n%s", forged.status, snippet(forged.body))
	}
	mustContain(t, forged.body, "is not approved", "Only approved text can be sent", "Nothing was sent", `id="h-send"`)
	noVersion := e.as(auth.Approver, "POST", path+"/release", url.Values{"recipients": {"3"}, "confirm": {"yes"}})
	if noVersion.status != http.StatusUnprocessableEntity || !strings.Contains(noVersion.body, "does not say which version") {
		t.Errorf("release without a version: %d\n%s", noVersion.status, snippet(noVersion.body))
	}
	if got := e.as(auth.Editor, "POST", path+"/release", sendForm(1, 3)); got.status != http.StatusForbidden || !strings.Contains(got.body, "Your role (editor) cannot send notices") {
		t.Errorf("editor release: %d", got.status)
	}
	if n := len(e.releases(draft.ID)); n != 0 {
		t.Fatalf("%d releases of a draft", n)
	}

	// Without an audience the card says so.
	in := e.incident()
	loose, err := e.svc.CreateNotice(ctx, auth.CLI, notice.New{IncidentID: in.ID, Title: "Staff memo", AudienceKind: "employees", Channels: []notice.Channel{notice.ChannelEmail},
		Content: notice.Content{Subject: "Systems down", Body: "Leave your laptop off."}})
	if err != nil {
		t.Fatal(err)
	}
	e.approve(loose, 1)
	mustContain(t, e.as(auth.Approver, "GET", fmt.Sprintf("/notices/%d", loose.ID), nil).body, "nobody is chosen to receive it")
	// A notice not sent by email has no send card at all.
	sms, err := e.svc.CreateNotice(ctx, auth.CLI, notice.New{IncidentID: in.ID, Title: "Text alert", AudienceKind: "employees", Channels: []notice.Channel{notice.ChannelSMS},
		Content: notice.Content{Body: "Systems down."}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(e.as(auth.Approver, "GET", fmt.Sprintf("/notices/%d", sms.ID), nil).body, `id="h-send"`) {
		t.Error("an SMS-only notice shows the email send card")
	}

	n := e.approvedNotice()
	path = fmt.Sprintf("/notices/%d", n.ID)
	view := e.as(auth.Viewer, "GET", path, nil)
	mustContain(t, view.body, "Approved version <strong>1</strong>", `<strong id="send-count">3</strong> recipients`, "An approver or an admin sends it")
	if strings.Contains(view.body, `id="send-form"`) {
		t.Error("a viewer is offered the send form")
	}
	page = e.as(auth.Approver, "GET", path, nil)
	mustContain(t, page.body, `id="send-form"`, "Send to 3 recipients now", `name="version" value="1"`, `name="recipients" value="3"`,
		"I have checked: send approved version 1 of “Customer alert” to the 3 recipients of", `type="datetime-local"`, "UTC, not your local time", "Schedule for 3 recipients")

	unconfirmed := sendForm(1, 3)
	unconfirmed.Del("confirm")
	got := e.as(auth.Approver, "POST", path+"/release", unconfirmed)
	if got.status != http.StatusUnprocessableEntity {
		t.Fatalf("unconfirmed: %d", got.status)
	}
	mustContain(t, got.body, "Tick the box to confirm", `id="f-confirm-err"`, `aria-invalid="true"`, "nothing was sent")
	got = e.as(auth.Approver, "POST", path+"/release", sendForm(1, 2))
	mustContain(t, got.body, "The audience changed since the page was loaded: it now has 3 members, not 2")
	past := sendForm(1, 3)
	past.Set("when", "schedule")
	past.Set("start_at", "2020-01-01T09:00")
	got = e.as(auth.Approver, "POST", path+"/release", past)
	if got.status != http.StatusUnprocessableEntity {
		t.Fatalf("schedule in the past: %d\n%s", got.status, snippet(got.body))
	}
	mustContain(t, got.body, "is in the past", `id="f-start-at-err"`, `value="2020-01-01T09:00"`, "<details class=\"schedule\" open>")
	ambiguous := sendForm(1, 3)
	ambiguous.Set("start_at", "2099-01-01T09:00")
	mustContain(t, e.as(auth.Approver, "POST", path+"/release", ambiguous).body, "You chose a start time but pressed “Send now”")
	if n := len(e.releases(n.ID)); n != 0 {
		t.Fatalf("%d releases after refused sends", n)
	}

	sent := e.as(auth.Approver, "POST", path+"/release", sendForm(1, 3))
	ps := e.releases(n.ID)
	if len(ps) != 1 || ps[0].Counts.Total() != 3 || ps[0].Release.State != delivery.ReleaseRunning || ps[0].Release.Version != 1 {
		t.Fatalf("releases: %+v", ps)
	}
	id := ps[0].Release.ID
	if want := fmt.Sprintf("/notices/%d#release-%d", n.ID, id); sent.location != want {
		t.Errorf("redirect to %q, want %q", sent.location, want)
	}
	after := e.follow(auth.Approver, sent)
	mustContain(t, after.body, "Sending version 1 to 3 recipients", fmt.Sprintf(`id="release-%d"`, id), "Sending", `data-live="1"`,
		fmt.Sprintf(`data-url="/releases/%d/progress.json"`, id), `<progress class="release-bar" max="100" value="0"`, "Pause sending",
		"has been sent version 1", "There is nobody new to send it to")
	if strings.Contains(after.body, `id="send-form"`) {
		t.Error("the send form is still offered when everyone was sent the version")
	}
	// A forged second send adds nobody.
	again := e.follow(auth.Approver, e.as(auth.Approver, "POST", path+"/release", sendForm(1, 3)))
	mustContain(t, again.body, "nobody new joined since, so nothing more was sent")
	// Someone joins: the card offers to send to them only.
	if _, err := e.svc.ImportRecipients(ctx, auth.CLI, n.AudienceID, strings.NewReader("email\ndee@example.com\n"), audience.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	joined := e.as(auth.Approver, "GET", path, nil)
	mustContain(t, joined.body, `<strong id="send-count">1</strong> new member not yet sent it`, "Send to 1 new member now", "to the 1 new member of", `name="recipients" value="4"`)
	mustContain(t, e.follow(auth.Approver, e.as(auth.Approver, "POST", path+"/release", sendForm(1, 4))).body, "Sending version 1 to the 1 member who joined the audience since")
	if ps := e.releases(n.ID); len(ps) != 1 || ps[0].Counts.Total() != 4 {
		t.Errorf("after the newcomer: %+v", ps)
	}
}

// TestScheduledRelease: a start time is read as UTC and the release waits.
func TestScheduledRelease(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	n := e.approvedNotice()
	at := time.Now().UTC().Add(48 * time.Hour).Truncate(time.Minute)
	form := sendForm(1, 3)
	form.Set("when", "schedule")
	form.Set("start_at", at.Format("2006-01-02T15:04"))
	page := e.follow(auth.Admin, e.as(auth.Admin, "POST", fmt.Sprintf("/notices/%d/release", n.ID), form))
	mustContain(t, page.body, "Scheduled version 1 for "+at.Format("2006-01-02 15:04:05 UTC"), "Scheduled", "starts", "starts at the scheduled time")
	ps := e.releases(n.ID)
	if len(ps) != 1 || ps[0].Release.State != delivery.ReleaseScheduled || !ps[0].Release.StartAt.Equal(at) {
		t.Fatalf("releases: %+v", ps)
	}
}

// TestPauseResumeCancel steers a release from its page and the notice's,
// and shows who paused it and why, the circuit breaker included.
func TestPauseResumeCancel(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	rel := e.release(time.Time{})
	path := fmt.Sprintf("/releases/%d", rel.ID)
	state := func() delivery.Release {
		t.Helper()
		pr, err := e.svc.ReleaseProgress(ctx, auth.CLI, rel.ID)
		if err != nil {
			t.Fatal(err)
		}
		return pr.Release
	}

	got := e.as(auth.Approver, "POST", path+"/pause", url.Values{"reason": {"The link in the text is wrong"}, "from": {"notice"}})
	if want := fmt.Sprintf("/notices/%d#release-%d", rel.NoticeID, rel.ID); got.location != want {
		t.Errorf("pause from the notice returns to %q, want %q", got.location, want)
	}
	page := e.follow(auth.Approver, got)
	mustContain(t, page.body, "Paused release", "Paused by approver@example.com", "The link in the text is wrong", "Resume sending")
	if r := state(); r.State != delivery.ReleasePaused || r.Reason != "The link in the text is wrong" || r.StateBy != "approver@example.com" {
		t.Fatalf("after pause: %+v", r)
	}
	again := e.follow(auth.Approver, e.as(auth.Approver, "POST", path+"/pause", nil))
	mustContain(t, again.body, "This release is paused now, so it cannot be paused. Nothing was changed.", `class="flash flash-error"`)
	if got := e.as(auth.Viewer, "POST", path+"/resume", nil); got.status != http.StatusForbidden || !strings.Contains(got.body, "Your role (viewer) cannot resume sending") {
		t.Errorf("viewer resume: %d", got.status)
	}

	got = e.as(auth.Admin, "POST", path+"/resume", nil)
	if got.location != path {
		t.Errorf("resume from the release page returns to %q", got.location)
	}
	mustContain(t, e.follow(auth.Admin, got).body, "Resumed release", "sending the 3 messages left")
	if r := state(); r.State != delivery.ReleaseRunning || r.Reason != "" {
		t.Fatalf("after resume: %+v", r)
	}

	// The circuit breaker pauses it: its reason is shown, in full, first.
	breaker := "312 of the last 1000 attempts failed (421 too many connections). Fix the cause, then resume."
	if _, err := e.db.MoveRelease(ctx, auth.System("circuit breaker"), rel.ID, store.ReleaseMove{From: []delivery.ReleaseState{delivery.ReleaseRunning},
		To: delivery.ReleasePaused, Reason: breaker, Action: "release.pause", Summary: "Paused by the circuit breaker"}); err != nil {
		t.Fatal(err)
	}
	page = e.as(auth.Viewer, "GET", path, nil)
	mustContain(t, page.body, "Paused by the circuit breaker", "312 of the last 1000 attempts failed", "Fix the cause, then resume.", "release-note-paused")
	if strings.Contains(page.body, "Resume sending") {
		t.Error("a viewer is offered the resume button")
	}
	var p map[string]any
	if err := json.Unmarshal([]byte(e.as(auth.Viewer, "GET", path+"/progress.json", nil).body), &p); err != nil {
		t.Fatal(err)
	}
	if p["state"] != "paused" || p["note"] != "Paused by the circuit breaker" || p["reason"] != breaker || p["live"] != false {
		t.Errorf("progress.json while paused: %v", p)
	}

	got = e.follow(auth.Approver, e.as(auth.Approver, "POST", path+"/cancel", url.Values{"reason": {"  "}}))
	mustContain(t, got.body, "Say why the release is cancelled", `class="flash flash-error"`)
	if r := state(); r.State != delivery.ReleasePaused {
		t.Fatalf("cancel without a reason changed the state to %s", r.State)
	}
	got = e.follow(auth.Approver, e.as(auth.Approver, "POST", path+"/cancel", url.Values{"reason": {"Wrong audience"}}))
	mustContain(t, got.body, "Cancelled release", "3 messages not yet sent will not be sent", "Cancelled by approver@example.com", "Wrong audience")
	if strings.Contains(got.body, `action="/releases/`+fmt.Sprint(rel.ID)+`/resume" class="inline-form release-resume" data-when="paused">`) {
		t.Error("a cancelled release shows its resume button")
	}
	if r := state(); r.State != delivery.ReleaseCancelled || r.Reason != "Wrong audience" {
		t.Fatalf("after cancel: %+v", r)
	}
	// Its version cannot be released again; the notice page says so.
	mustContain(t, e.as(auth.Approver, "GET", fmt.Sprintf("/notices/%d", rel.NoticeID), nil).body, "was released and then cancelled, so it cannot be sent again")
	conflict := e.as(auth.Approver, "POST", fmt.Sprintf("/notices/%d/release", rel.NoticeID), sendForm(1, 3))
	if conflict.status != http.StatusConflict || !strings.Contains(conflict.body, "cancelled") {
		t.Errorf("releasing a cancelled version: %d\n%s", conflict.status, snippet(conflict.body))
	}
}

// TestProgressJSON: the page's script gets the numbers; a signed-out
// browser, a bad number and a missing release get an error it can show.
func TestProgressJSON(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	rel := e.release(time.Time{})
	path := fmt.Sprintf("/releases/%d/progress.json", rel.ID)
	got := e.as(auth.Viewer, "GET", path, nil)
	if got.status != http.StatusOK || !strings.HasPrefix(got.header.Get("Content-Type"), "application/json") || got.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("progress: %d %v", got.status, got.header)
	}
	var p struct {
		ID       int64            `json:"id"`
		State    string           `json:"state"`
		Label    string           `json:"label"`
		Total    int64            `json:"total"`
		Finished int64            `json:"finished"`
		Percent  int              `json:"percent"`
		Counts   map[string]int64 `json:"counts"`
		Rate     string           `json:"rate"`
		ETA      string           `json:"eta"`
		Live     bool             `json:"live"`
	}
	if err := json.Unmarshal([]byte(got.body), &p); err != nil {
		t.Fatal(err)
	}
	if p.ID != rel.ID || p.State != "running" || p.Label != "Sending" || p.Total != 3 || p.Finished != 0 || p.Percent != 0 || p.Counts["queued"] != 3 || !p.Live || p.Rate == "" || p.ETA == "" {
		t.Errorf("progress: %+v", p)
	}
	for _, c := range []struct {
		role   auth.Role
		path   string
		status int
		want   string
	}{
		{"", path, http.StatusUnauthorized, "signed out"},
		{auth.Viewer, "/releases/x/progress.json", http.StatusBadRequest, "not a release number"},
		{auth.Viewer, "/releases/999999/progress.json", http.StatusNotFound, "not found"},
	} {
		got := e.as(c.role, "GET", c.path, nil)
		if got.status != c.status || !strings.Contains(got.body, c.want) || !strings.Contains(got.body, `"error"`) {
			t.Errorf("%s %s: %d %s", c.role, c.path, got.status, got.body)
		}
	}
	if _, err := e.svc.CancelRelease(ctx, auth.CLI, rel.ID, "test"); err != nil {
		t.Fatal(err)
	}
	json.Unmarshal([]byte(e.as(auth.Viewer, "GET", path, nil).body), &p)
	if p.State != "cancelled" || p.Percent != 100 || p.Live || p.Counts["cancelled"] != 3 {
		t.Errorf("cancelled progress: %+v", p)
	}
}

// testSender answers every job as sent, as a mail relay that accepts all.
type testSender struct{}

func (testSender) Channel() notice.Channel { return notice.ChannelEmail }

func (testSender) Run(ctx context.Context, jobs <-chan dispatch.Job, results chan<- dispatch.Result) {
	for j := range jobs {
		results <- dispatch.Result{ID: j.ID, ReleaseID: j.ReleaseID, State: delivery.Sent, ProviderID: "test"}
	}
}

// startDispatcher sends every release with testSender until the test ends.
func startDispatcher(t *testing.T, db *store.DB, svc *app.Service) {
	t.Helper()
	d := dispatch.New(db, slog.New(slog.DiscardHandler), dispatch.Config{Poll: 20 * time.Millisecond}, svc.PrepareRelease, nil, testSender{})
	svc.SetDispatcherWake(d.Wake)
	dctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := d.Run(dctx); err != nil && dctx.Err() == nil {
			t.Errorf("dispatcher: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
}

func (e *env) waitDone(id int64) {
	e.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		pr, err := e.svc.ReleaseProgress(ctx, auth.CLI, id)
		if err != nil {
			e.t.Fatal(err)
		}
		if pr.Release.State == delivery.ReleaseDone {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("release %d is still %s: %v", id, pr.Release.State, pr.Counts)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLedgerPages: the release page lists its deliveries by cursor and
// state; the lookup answers "what did this person receive, and when?"
// across notices.
func TestLedgerPages(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		startDispatcher(t, db, e.svc)
		in := e.incident()
		a := e.audience(in.ID)
		var csv strings.Builder
		csv.WriteString("email\n")
		for i := range 52 {
			fmt.Fprintf(&csv, "person%02d@example.com\n", i)
		}
		if _, err := e.svc.ImportRecipients(ctx, auth.CLI, a.ID, strings.NewReader(csv.String()), audience.ImportOptions{}); err != nil {
			t.Fatal(err)
		}
		n, err := e.svc.CreateNotice(ctx, auth.CLI, notice.New{IncidentID: in.ID, Title: "Card alert", AudienceKind: "affected_customers", AudienceID: a.ID,
			Channels: []notice.Channel{notice.ChannelEmail}, Content: notice.Content{Subject: "About your card", Body: "Dear customer, {{.Facts.WhatHappened}}"}})
		if err != nil {
			t.Fatal(err)
		}
		e.approve(n, 1)
		page := e.follow(auth.Approver, e.as(auth.Approver, "POST", fmt.Sprintf("/notices/%d/release", n.ID), sendForm(1, 55)))
		mustContain(t, page.body, "Sending version 1 to 55 recipients")
		rel := e.releases(n.ID)[0].Release
		e.waitDone(rel.ID)
		// A second notice reaches ana too.
		other := e.release(time.Time{})
		e.waitDone(other.ID)

		path := fmt.Sprintf("/releases/%d", rel.ID)
		first := e.as(auth.Viewer, "GET", path, nil)
		mustContain(t, first.body, "Release", "Card alert", "Done", `value="100"`, "55", "ana@example.com", "Message-ID",
			"@candor.invalid&gt;", "Sent (55)", "Next 50 rows")
		if c := strings.Count(first.body, `class="badge dstate dstate-sent"`); c != 50 {
			t.Errorf("the first page shows %d rows, want 50", c)
		}
		if strings.Contains(first.body, `data-live="1"`) {
			t.Error("a finished release is still polled")
		}
		next := fmt.Sprintf("%s?after=", path)
		i := strings.Index(first.body, next)
		if i < 0 {
			t.Fatal("no next page link")
		}
		link := first.body[i : i+strings.Index(first.body[i:], `"`)]
		second := e.as(auth.Viewer, "GET", strings.ReplaceAll(link, "&amp;", "&"), nil)
		mustContain(t, second.body, "First page")
		if c := strings.Count(second.body, `class="badge dstate dstate-sent"`); c != 5 || strings.Contains(second.body, "Next 50 rows") {
			t.Errorf("the second page shows %d rows, want the last 5", c)
		}
		for _, a := range []string{"ana@example.com", "person51@example.com"} {
			if strings.Contains(first.body, ">"+a+"<") == strings.Contains(second.body, ">"+a+"<") {
				t.Errorf("%s is on both pages or neither", a)
			}
		}
		failed := e.as(auth.Viewer, "GET", path+"?state=failed", nil)
		mustContain(t, failed.body, "No deliveries are Failed")
		if got := e.as(auth.Viewer, "GET", path+"?state=lost", nil); got.status != http.StatusBadRequest {
			t.Errorf("unknown state: %d", got.status)
		}
		if got := e.as(auth.Viewer, "GET", path+"?after=-1", nil); got.status != http.StatusBadRequest {
			t.Errorf("bad cursor: %d", got.status)
		}

		lookup := e.as(auth.Viewer, "GET", "/deliveries", nil)
		mustContain(t, lookup.body, "What did this person receive?", `id="f-address"`, `href="/deliveries" aria-current="page"`)
		if strings.Contains(lookup.body, `id="h-results"`) {
			t.Error("the empty lookup shows results")
		}
		// The demo mailbox received ana's first message: the ledger links
		// to it.
		ds, err := e.svc.Deliveries(ctx, auth.CLI, store.DeliveryFilter{Address: "ana@example.com"})
		if err != nil || len(ds) != 2 || ds[0].MessageID == "" {
			t.Fatalf("ana's deliveries: %+v %v", ds, err)
		}
		mid := e.mailbox.add("ana@example.com", "About your card", ds[0].MessageID, "Dear customer", "")
		ana := e.as(auth.Viewer, "GET", "/deliveries?address=ANA%40example.com", nil)
		if c := strings.Count(ana.body, `class="mid-link"`); c != 1 || !strings.Contains(ana.body, fmt.Sprintf(`href="/mailbox/%d"`, mid)) {
			t.Errorf("%d Message-IDs link to the mailbox, want 1 to message %d", c, mid)
		}
		mustContain(t, ana.body, "Sent to ANA@example.com", fmt.Sprintf(`href="/notices/%d"`, n.ID), "Card alert",
			fmt.Sprintf(`href="/notices/%d"`, other.NoticeID), "Customer alert", "Sent", "UTC", "@candor.invalid&gt;")
		if c := strings.Count(ana.body, `class="badge dstate dstate-sent"`); c != 2 {
			t.Errorf("ana has %d sent deliveries listed, want 2", c)
		}
		none := e.as(auth.Viewer, "GET", "/deliveries?address=nobody%40example.com", nil)
		mustContain(t, none.body, "Candor has sent nothing to nobody@example.com")
	})
}
