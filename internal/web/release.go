package web

import (
	"encoding/json"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/delivery"
	"github.com/candorhq/candor/internal/httpauth"
	"github.com/candorhq/candor/internal/notice"
	"github.com/candorhq/candor/internal/store"
)

// ledgerPageSize is how many ledger rows one page shows.
const ledgerPageSize = 50

// releaseRoutes registers the sending pages: releasing a notice, following
// and steering its releases, the delivery ledger, and the demo mailbox.
func (h *handler) releaseRoutes(handle func(pattern string, fn func(http.ResponseWriter, *http.Request))) {
	handle("POST /notices/{id}/release", h.releaseNotice)
	handle("POST /notices/{id}/publish", h.publishNotice)
	handle("GET /releases/{id}", h.showRelease)
	handle("GET /releases/{id}/progress.json", h.releaseProgress)
	handle("POST /releases/{id}/pause", h.pauseRelease)
	handle("POST /releases/{id}/resume", h.resumeRelease)
	handle("POST /releases/{id}/cancel", h.cancelRelease)
	handle("GET /deliveries", h.deliveries)

	handle("GET /mailbox", h.mailbox)
	handle("GET /mailbox/{id}", h.mailboxMessage)
	handle("GET /mailbox/{id}/html", h.mailboxHTML)
}

// releaseFuncs are the template functions of the sending pages.
func releaseFuncs() template.FuncMap {
	return template.FuncMap{
		"dstates": func() []delivery.State { return delivery.States },
		"dstate":  deliveryLabel,
		"stime":   secondsTime,
		"bytes":   formatBytes,
		"dtvalue": func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04") },
		"lower":   strings.ToLower,
		"people":  people,
		"countArgs": func(v releaseView, state, label, class string) countArgs {
			return countArgs{State: state, Label: label, Class: class, N: v.Counts[state]}
		},
		"progressArgs": func(v releaseView, canSend bool, csrf, from string) progressArgs {
			return progressArgs{R: v, CanSend: canSend, CSRF: csrf, From: from}
		},
	}
}

// countArgs is one count of a release's progress.
type countArgs struct {
	State, Label, Class string
	N                   int64
}

// progressArgs is what the releaseprogress template needs: the release,
// whether to show its controls, and where they return to.
type progressArgs struct {
	R       releaseView
	CanSend bool
	CSRF    string
	From    string // "notice" or "release"
}

// people writes a count of people: "1 recipient", "1,200 recipients".
func people(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return formatCount(int(n)) + " " + many
}

// formatBytes writes a message size for people.
func formatBytes(n int) string {
	switch {
	case n < 1024:
		return fmt.Sprintf("%d bytes", n)
	case n < 1024*1024:
		return fmt.Sprintf("%.1f KiB", float64(n)/1024)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1024*1024))
}

// secondsTime writes a moment to the second: the ledger is evidence.
func secondsTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05 UTC")
}

// releaseLabel is a release state in plain words.
func releaseLabel(s delivery.ReleaseState) string {
	switch s {
	case delivery.ReleaseScheduled:
		return "Scheduled"
	case delivery.ReleaseRunning:
		return "Sending"
	case delivery.ReleasePaused:
		return "Paused"
	case delivery.ReleaseCancelled:
		return "Cancelled"
	case delivery.ReleaseDone:
		return "Done"
	}
	return upperFirst(string(s))
}

// deliveryLabel is a delivery state in plain words.
func deliveryLabel(s delivery.State) string {
	switch s {
	case delivery.Deferred:
		return "Deferred (will retry)"
	case delivery.Sending:
		return "Sending now"
	}
	return upperFirst(string(s))
}

// releaseView is a release's progress as the pages and progress.json show
// it; release.js reads the same names.
type releaseView struct {
	ID         int64      `json:"id"`
	NoticeID   int64      `json:"notice_id"`
	Version    int        `json:"version"`
	Channel    string     `json:"channel"`
	State      string     `json:"state"`
	Label      string     `json:"label"`
	Reason     string     `json:"reason"`
	StateBy    string     `json:"state_by"`
	StartAt    time.Time  `json:"start_at"`
	CreatedBy  string     `json:"created_by"`
	CreatedAt  time.Time  `json:"created_at"`
	FinishedAt *time.Time `json:"finished_at"`
	Total      int64      `json:"total"`
	Finished   int64      `json:"finished"`
	// Percent is the share finished, rounded down: 100 only when all are.
	Percent  int              `json:"percent"`
	Counts   map[string]int64 `json:"counts"`
	Rate     float64          `json:"rate_per_second"`
	RateText string           `json:"rate"`
	ETA      float64          `json:"eta_seconds"`
	ETAText  string           `json:"eta"`
	// Note says who paused or cancelled it ("Paused by the circuit
	// breaker"); "" in the other states.
	Note string `json:"note"`
	// Live: the numbers still move, so the page keeps asking.
	Live bool `json:"live"`
}

func newReleaseView(pr delivery.Progress) releaseView {
	r := pr.Release
	v := releaseView{ID: r.ID, NoticeID: r.NoticeID, Version: r.Version, Channel: r.Channel, State: string(r.State), Label: releaseLabel(r.State),
		Reason: r.Reason, StateBy: r.StateBy, StartAt: r.StartAt, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, FinishedAt: r.FinishedAt,
		Total: pr.Counts.Total(), Finished: pr.Counts.Finished(), Counts: map[string]int64{}, Rate: math.Round(pr.Rate*10) / 10, ETA: math.Round(pr.ETA.Seconds()),
		Live: r.State == delivery.ReleaseRunning || r.State == delivery.ReleaseScheduled}
	for _, s := range delivery.States {
		v.Counts[string(s)] = pr.Counts[s]
	}
	v.Percent = int(math.Floor(pr.Percent()))
	if v.Finished < v.Total && v.Percent > 99 {
		v.Percent = 99
	}
	switch r.State {
	case delivery.ReleasePaused:
		v.Note = "Paused by " + byWhom(r.StateBy)
	case delivery.ReleaseCancelled:
		v.Note = "Cancelled by " + byWhom(r.StateBy)
	}
	v.RateText = rateText(pr.Rate, r.State)
	v.ETAText = etaText(pr.ETA, r.State, v.Total-v.Finished)
	return v
}

// Count is the number of deliveries in state s.
func (v releaseView) Count(s string) int64 { return v.Counts[s] }

// Is reports whether the release is in state s.
func (v releaseView) Is(s string) bool { return v.State == s }

// CanPause, CanResume and CanCancel say which moves the state allows.
func (v releaseView) CanPause() bool  { return v.Is("running") || v.Is("scheduled") }
func (v releaseView) CanResume() bool { return v.Is("paused") }
func (v releaseView) CanCancel() bool { return v.CanPause() || v.CanResume() }

// Breaker reports whether the circuit breaker, not a person, paused it.
func (v releaseView) Breaker() bool { return v.Is("paused") && v.StateBy == "circuit breaker" }

// Future reports whether a scheduled start is still ahead.
func (v releaseView) Future() bool { return v.Is("scheduled") }

func byWhom(s string) string {
	switch s {
	case "":
		return "someone unrecorded"
	case "circuit breaker":
		return "the circuit breaker"
	}
	return s
}

func rateText(rate float64, s delivery.ReleaseState) string {
	switch {
	case s != delivery.ReleaseRunning:
		return "—"
	case rate <= 0:
		return "measuring…"
	case rate < 10:
		return fmt.Sprintf("%.1f per second", rate)
	}
	return fmt.Sprintf("%s per second", formatCount(int(math.Round(rate))))
}

func etaText(eta time.Duration, s delivery.ReleaseState, left int64) string {
	switch {
	case left <= 0:
		return "nothing left"
	case s == delivery.ReleasePaused:
		return "stopped while paused"
	case s == delivery.ReleaseScheduled:
		return "starts at the scheduled time"
	case s != delivery.ReleaseRunning:
		return "—"
	case eta <= 0:
		return "estimating…"
	case eta < time.Minute:
		return "under a minute"
	case eta < time.Hour:
		return fmt.Sprintf("about %d min", int(math.Ceil(eta.Minutes())))
	}
	hours := int(eta.Hours())
	return fmt.Sprintf("about %d h %d min", hours, int(math.Ceil(eta.Minutes()))-hours*60)
}

// sendPanel is the notice page's "Send" card.
type sendPanel struct {
	// Email: the notice is written for email; without it there is no card.
	Email bool
	// Approved is the newest approved version (0: none); only it is sent.
	Approved int
	// Current and CurrentState are the notice's newest version, which may
	// be a later draft that will not be sent.
	Current      int
	CurrentState notice.State
	AudienceID   int64
	Audience     string
	Members      int64
	CanSend      bool
	// NoSender: no process with a relay has been alive lately, so what is
	// released waits in the ledger.
	NoSender bool
	// Existing is the release of the approved version by email, if any.
	Existing *releaseView
	// Earlier are other versions already released by email (not
	// cancelled): sending a new version sends it to everyone again.
	Earlier []int

	// Now is when the page was made, to help pick a start time.
	Now time.Time

	// Form state after a refused release.
	Confirm bool
	StartAt string
	When    string
	Errors  formErrors
}

// Ready reports whether there is anyone to send the approved version to.
func (s sendPanel) Ready() bool {
	return s.Approved > 0 && s.AudienceID != 0 && s.Count() > 0 && (s.Existing == nil || s.Existing.State != "cancelled")
}

// Count is how many would be sent the approved version now: the whole
// audience, or, once it was released, the members who joined since.
func (s sendPanel) Count() int64 {
	if s.Existing != nil {
		return max(0, s.Members-s.Existing.Total)
	}
	return s.Members
}

// LaterDraft reports whether the newest version is not the one sent.
func (s sendPanel) LaterDraft() bool { return s.Approved > 0 && s.Current > s.Approved }

// loadSending fills the notice page's send card and release list.
func (h *handler) loadSending(r *http.Request, p auth.Principal, d *noticePage) error {
	n := d.Notice
	sp := &d.Send
	sp.Email = slices.Contains(n.Channels, notice.ChannelEmail)
	sp.Current, sp.CurrentState = n.CurrentVersion, n.State
	sp.CanSend = p.Role.Can(auth.SendNotice)
	if n, err := h.svc.SendingProcesses(r.Context(), p); err == nil {
		sp.NoSender = n == 0
	}
	sp.Now = time.Now().UTC()
	for _, v := range d.Versions {
		if v.State == notice.Approved && v.Number > sp.Approved {
			sp.Approved = v.Number
		}
	}
	d.Publish.StatusPage = slices.Contains(n.Channels, notice.ChannelStatusPage)
	d.Publish.Approved, d.Publish.CanPublish = sp.Approved, sp.CanSend
	if d.Publish.StatusPage {
		pub, ok, err := h.svc.PublishedNotice(r.Context(), p, n.ID)
		if err != nil {
			return err
		}
		if ok {
			d.Publish.Published = &pub
		}
	}
	sp.AudienceID, sp.Audience = n.AudienceID, d.Audience
	if n.AudienceID != 0 {
		if a, err := h.svc.Audience(r.Context(), p, n.AudienceID); err == nil {
			sp.Members = a.Members
		}
	}
	ps, err := h.svc.Releases(r.Context(), p, n.ID)
	if err != nil {
		return err
	}
	for _, pr := range ps {
		d.Releases = append(d.Releases, newReleaseView(pr))
	}
	for i := range d.Releases {
		v := &d.Releases[i]
		if v.Channel != string(notice.ChannelEmail) || v.State == "cancelled" && v.Version != sp.Approved {
			continue
		}
		if v.Version == sp.Approved {
			if sp.Existing == nil {
				sp.Existing = v
			}
		} else if !slices.Contains(sp.Earlier, v.Version) {
			sp.Earlier = append(sp.Earlier, v.Version)
		}
	}
	return nil
}

// sending starts a handler that releases or steers the sending of the
// object named by the {id} path value, as editing does for edits: it signs
// the user in, reads the form and checks its CSRF token, parses the id,
// and refuses a role that may not send, naming what it tried to do. The
// service checks the permission again; checking it first tells a refused
// role from a refused text (an unapproved version is EFORBIDDEN too).
func (h *handler) sending(w http.ResponseWriter, r *http.Request, what string) (auth.Principal, int64, bool) {
	return h.allowedID(w, r, true, auth.SendNotice, what)
}

// releaseNotice sends (or schedules) the approved version of a notice to
// its audience. The form must repeat the version and the member count the
// person confirmed: if either changed since the page was loaded, nothing
// is sent and the page says what changed.
func (h *handler) releaseNotice(w http.ResponseWriter, r *http.Request) {
	p, id, ok := h.sending(w, r, "send notices")
	if !ok {
		return
	}
	version := versionNumber(r)
	form := sendPanel{Confirm: r.PostFormValue("confirm") == "yes", StartAt: strings.TrimSpace(r.PostFormValue("start_at")), When: r.PostFormValue("when")}
	refuse := func(status int) {
		h.renderNotice(w, r, p, id, 0, status, noticePage{Send: form})
	}
	var start time.Time
	if form.When != "schedule" && form.StartAt != "" {
		form.Errors.add("start_at", "you chose a start time but pressed “Send now”: press “Schedule” to send at that time, or clear the time to send now")
	}
	if form.When == "schedule" {
		t, err := parseDateTime(form.StartAt)
		switch {
		case err != nil:
			form.Errors.add("start_at", err.Error())
		case t == nil:
			form.Errors.add("start_at", "choose the date and time (UTC) to start sending, or use “Send now”")
		default:
			start = *t
		}
	}
	if version < 1 {
		form.Errors.add("", "the form does not say which version to send; reload the page and try again")
	}
	if !form.Confirm {
		form.Errors.add("confirm", "tick the box to confirm the version, the audience and the number of recipients; nothing was sent")
	}
	n, err := h.svc.Notice(r.Context(), p, id)
	if err != nil {
		h.fail(w, r, err, "send notices")
		return
	}
	if want := r.PostFormValue("recipients"); n.AudienceID != 0 && want != "" {
		if a, err := h.svc.Audience(r.Context(), p, n.AudienceID); err == nil && strconv.FormatInt(a.Members, 10) != want {
			form.Errors.add("confirm", fmt.Sprintf("the audience changed since the page was loaded: it now has %s members, not %s; check the number and confirm again. Nothing was sent",
				formatCount(int(a.Members)), want))
		}
	}
	if form.Errors.Has() {
		form.Confirm = false
		refuse(http.StatusUnprocessableEntity)
		return
	}
	rel, added, err := h.svc.ReleaseNotice(r.Context(), p, id, app.ReleaseRequest{Version: version, Channel: notice.ChannelEmail, StartAt: start})
	switch apperr.Code(err) {
	case "":
	case apperr.EINVALID:
		for _, e := range apperr.Flatten(err) {
			field := e.Field
			if field != "start_at" {
				field = ""
			}
			form.Errors.add(field, e.Message+". Nothing was sent")
		}
		form.Confirm = false
		refuse(http.StatusUnprocessableEntity)
		return
	case apperr.EFORBIDDEN:
		form.Errors.add("", apperr.Message(err)+". Only approved text can be sent: submit the notice for review and have it approved, then send it. Nothing was sent")
		form.Confirm = false
		refuse(http.StatusForbidden)
		return
	case apperr.ECONFLICT:
		form.Errors.add("", apperr.Message(err)+". Nothing was sent")
		form.Confirm = false
		refuse(http.StatusConflict)
		return
	default:
		h.fail(w, r, err, "send notices")
		return
	}
	target := fmt.Sprintf("/notices/%d#release-%d", id, rel.ID)
	var msg string
	switch {
	case rel.Total > added && added == 0:
		msg = fmt.Sprintf("Version %d was already released to everyone in the audience; nobody new joined since, so nothing more was sent.", rel.Version)
	case rel.Total > added:
		msg = fmt.Sprintf("Sending version %d to the %s who joined the audience since it was released.", rel.Version, people(added, "member", "members"))
	case rel.State == delivery.ReleaseScheduled:
		msg = fmt.Sprintf("Scheduled version %d for %s: %s. Nothing is sent before then; you can pause or cancel it until it starts.", rel.Version, secondsTime(rel.StartAt), people(added, "recipient", "recipients"))
	default:
		msg = fmt.Sprintf("Sending version %d to %s. Follow the progress below.", rel.Version, people(added, "recipient", "recipients"))
	}
	h.redirect(w, r, target, "ok", msg)
}

// publishPanel is the notice page's status page card: an approved notice
// written for the status page is shown there once someone who may send
// publishes it.
type publishPanel struct {
	StatusPage bool
	// Approved is the newest approved version (0: none).
	Approved   int
	CanPublish bool
	// Published is what the page shows now (nil: nothing).
	Published *app.PublishedNotice
	// Form state after a refused publication.
	Confirm bool
	Errors  formErrors
}

// publishNotice shows the approved version of a notice on the status page.
func (h *handler) publishNotice(w http.ResponseWriter, r *http.Request) {
	p, id, ok := h.sending(w, r, "publish notices")
	if !ok {
		return
	}
	version := versionNumber(r)
	form := publishPanel{Confirm: r.PostFormValue("confirm") == "yes"}
	refuse := func(status int) {
		form.Confirm = false
		h.renderNotice(w, r, p, id, 0, status, noticePage{Publish: form})
	}
	if version < 1 {
		form.Errors.add("", "the form does not say which version to publish; reload the page and try again")
	}
	if !form.Confirm {
		form.Errors.add("publish_confirm", "tick the box to confirm the version to show on the public status page; nothing was published")
	}
	if form.Errors.Has() {
		refuse(http.StatusUnprocessableEntity)
		return
	}
	_, _, err := h.svc.ReleaseNotice(r.Context(), p, id, app.ReleaseRequest{Version: version, Channel: notice.ChannelStatusPage})
	switch apperr.Code(err) {
	case "":
	case apperr.EINVALID, apperr.EFORBIDDEN, apperr.ECONFLICT:
		for _, e := range apperr.Flatten(err) {
			form.Errors.add("", e.Message+". Nothing was published")
		}
		status := map[string]int{apperr.EINVALID: http.StatusUnprocessableEntity, apperr.EFORBIDDEN: http.StatusForbidden, apperr.ECONFLICT: http.StatusConflict}[apperr.Code(err)]
		refuse(status)
		return
	default:
		h.fail(w, r, err, "publish notices")
		return
	}
	h.redirect(w, r, fmt.Sprintf("/notices/%d#publish", id), "ok", fmt.Sprintf("Version %d is on the status page now, for everyone to read.", version))
}

// releaseBack is where a pause, resume or cancel form returns to: the
// notice page when it was sent from there, else the release page.
func releaseBack(r *http.Request, rel releaseView) string {
	if r.PostFormValue("from") == "notice" {
		return fmt.Sprintf("/notices/%d#release-%d", rel.NoticeID, rel.ID)
	}
	return fmt.Sprintf("/releases/%d", rel.ID)
}

// moveRelease runs one of pause, resume and cancel. verb is the infinitive
// for refusals ("pause"), done describes success.
func (h *handler) moveRelease(w http.ResponseWriter, r *http.Request, verb string, move func(p auth.Principal, id int64, reason string) error, done func(v releaseView) string) {
	p, id, ok := h.sending(w, r, verb+" sending")
	if !ok {
		return
	}
	err := move(p, id, strings.TrimSpace(r.PostFormValue("reason")))
	pr, perr := h.svc.ReleaseProgress(r.Context(), p, id)
	if perr != nil {
		h.fail(w, r, perr, verb+" sending")
		return
	}
	v := newReleaseView(pr)
	switch apperr.Code(err) {
	case "":
		h.redirect(w, r, releaseBack(r, v), "ok", done(v))
	case apperr.EINVALID:
		msg := upperFirst(apperr.Message(err)) + "."
		for _, e := range apperr.Flatten(err) {
			if e.Field == "state" {
				msg = fmt.Sprintf("This release is %s now, so it cannot be %s. Nothing was changed.", strings.ToLower(v.Label), pastTense(verb))
			}
		}
		h.redirect(w, r, releaseBack(r, v), "error", msg)
	default:
		h.fail(w, r, err, verb+" sending")
	}
}

func pastTense(verb string) string {
	switch verb {
	case "pause":
		return "paused"
	case "resume":
		return "resumed"
	case "cancel":
		return "cancelled"
	}
	return verb + "ed"
}

func (h *handler) pauseRelease(w http.ResponseWriter, r *http.Request) {
	h.moveRelease(w, r, "pause", func(p auth.Principal, id int64, reason string) error {
		_, err := h.svc.PauseRelease(r.Context(), p, id, reason)
		return err
	}, func(v releaseView) string {
		return fmt.Sprintf("Paused release %d: nothing new is sent. Messages already handed to the mail server finish. Resume it when the cause is fixed.", v.ID)
	})
}

func (h *handler) resumeRelease(w http.ResponseWriter, r *http.Request) {
	h.moveRelease(w, r, "resume", func(p auth.Principal, id int64, _ string) error {
		_, err := h.svc.ResumeRelease(r.Context(), p, id)
		return err
	}, func(v releaseView) string {
		return fmt.Sprintf("Resumed release %d: sending the %s messages left.", v.ID, formatCount(int(v.Total-v.Finished)))
	})
}

func (h *handler) cancelRelease(w http.ResponseWriter, r *http.Request) {
	h.moveRelease(w, r, "cancel", func(p auth.Principal, id int64, reason string) error {
		_, err := h.svc.CancelRelease(r.Context(), p, id, reason)
		return err
	}, func(v releaseView) string {
		return fmt.Sprintf("Cancelled release %d: %s messages not yet sent will not be sent; %s were sent before. This cannot be undone.",
			v.ID, formatCount(int(v.Count("cancelled"))), formatCount(int(v.Count("sent"))))
	})
}

// releaseProgress answers the release page's script with the numbers; a
// browser that is signed out gets 401 and stops asking.
func (h *handler) releaseProgress(w http.ResponseWriter, r *http.Request) {
	writeJSON := func(status int, v any) {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(v)
	}
	type jsonError struct {
		Error string `json:"error"`
	}
	p, ok := httpauth.Principal(r)
	if !ok {
		writeJSON(http.StatusUnauthorized, jsonError{"You are signed out. Reload the page to sign in again."})
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		writeJSON(http.StatusBadRequest, jsonError{fmt.Sprintf("%q is not a release number.", r.PathValue("id"))})
		return
	}
	pr, err := h.svc.ReleaseProgress(r.Context(), p, id)
	switch apperr.Code(err) {
	case "":
		writeJSON(http.StatusOK, newReleaseView(pr))
	case apperr.ENOTFOUND:
		writeJSON(http.StatusNotFound, jsonError{upperFirst(apperr.Message(err)) + "."})
	case apperr.EFORBIDDEN:
		writeJSON(http.StatusForbidden, jsonError{fmt.Sprintf("Your role (%s) cannot see releases.", p.Role)})
	default:
		h.log.Error("request_failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeJSON(http.StatusInternalServerError, jsonError{"Candor could not read the progress; it will try again."})
	}
}

// ledgerRow is one delivery in a ledger table, with its message in the
// demo mailbox when there is one.
type ledgerRow struct {
	delivery.Record
	MailboxID int64
}

// ledgerRows wraps records, linking each sent message to the demo mailbox.
func (h *handler) ledgerRows(ds []delivery.Record) []ledgerRow {
	out := make([]ledgerRow, len(ds))
	for i, d := range ds {
		out[i].Record = d
		if h.opt.Mailbox != nil && d.MessageID != "" && (d.State == delivery.Sent || d.State == delivery.Bounced) {
			out[i].MailboxID = h.mailboxID(d.MessageID)
		}
	}
	return out
}

type releasePage struct {
	noticeHead
	Release releaseView
	CanSend bool
	// State filters the ledger ("" for every row).
	State delivery.State
	Rows  []ledgerRow
	// After is this page's cursor; Next the next page's (0: last page).
	After, Next int64
	Mailbox     bool
}

// NextURL and FirstURL page through the ledger, keeping the filter.
func (d releasePage) NextURL() string  { return d.pageURL(d.Next) }
func (d releasePage) FirstURL() string { return d.pageURL(0) }

func (d releasePage) pageURL(after int64) string {
	q := url.Values{}
	if d.State != "" {
		q.Set("state", string(d.State))
	}
	if after != 0 {
		q.Set("after", strconv.FormatInt(after, 10))
	}
	u := fmt.Sprintf("/releases/%d", d.Release.ID)
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u + "#h-ledger"
}

func (h *handler) showRelease(w http.ResponseWriter, r *http.Request) {
	p, ok := h.user(w, r)
	if !ok {
		return
	}
	id, ok := h.pathID(w, r, "id")
	if !ok {
		return
	}
	after, ok := h.queryCursor(w, r, "after")
	if !ok {
		return
	}
	d := releasePage{After: after, CanSend: p.Role.Can(auth.SendNotice), Mailbox: h.opt.Mailbox != nil}
	if s := r.URL.Query().Get("state"); s != "" {
		if !slices.Contains(delivery.States, delivery.State(s)) {
			h.badRequest(w, r, fmt.Sprintf("%q is not a delivery state.", s))
			return
		}
		d.State = delivery.State(s)
	}
	pr, err := h.svc.ReleaseProgress(r.Context(), p, id)
	if err != nil {
		h.fail(w, r, err, "see releases")
		return
	}
	d.Release = newReleaseView(pr)
	if d.noticeHead, err = h.noticeHead(r, p, pr.Release.NoticeID); err != nil {
		h.fail(w, r, err, "see releases")
		return
	}
	ds, err := h.svc.Deliveries(r.Context(), p, store.DeliveryFilter{ReleaseID: id, State: d.State, After: after, Limit: ledgerPageSize})
	if err != nil {
		h.fail(w, r, err, "see releases")
		return
	}
	d.Rows = h.ledgerRows(ds)
	if len(ds) == ledgerPageSize {
		d.Next = ds[len(ds)-1].ID
	}
	title := fmt.Sprintf("Release %d: %s, version %d", id, d.Notice.Title, pr.Release.Version)
	h.render(w, r, http.StatusOK, "release", page{Title: title, Nav: "incidents", Data: d})
}

type deliveriesPage struct {
	Address  string
	Searched bool
	Rows     []ledgerRow
	After    int64
	Next     int64
	Mailbox  bool
}

func (d deliveriesPage) NextURL() string {
	return "/deliveries?" + url.Values{"address": {d.Address}, "after": {strconv.FormatInt(d.Next, 10)}}.Encode()
}

func (d deliveriesPage) FirstURL() string {
	return "/deliveries?" + url.Values{"address": {d.Address}}.Encode()
}

// deliveries answers "what did this person receive, and when?" from the
// ledger, across every notice.
func (h *handler) deliveries(w http.ResponseWriter, r *http.Request) {
	p, ok := h.user(w, r)
	if !ok {
		return
	}
	after, ok := h.queryCursor(w, r, "after")
	if !ok {
		return
	}
	d := deliveriesPage{Address: strings.TrimSpace(r.URL.Query().Get("address")), After: after, Mailbox: h.opt.Mailbox != nil}
	if d.Address != "" {
		ds, err := h.svc.Deliveries(r.Context(), p, store.DeliveryFilter{Address: d.Address, After: after, Limit: ledgerPageSize})
		if err != nil {
			h.fail(w, r, err, "look up deliveries")
			return
		}
		d.Searched = true
		d.Rows = h.ledgerRows(ds)
		if len(ds) == ledgerPageSize {
			d.Next = ds[len(ds)-1].ID
		}
	} else if !p.Role.Can(auth.Read) {
		h.forbidden(w, r, "look up deliveries")
		return
	}
	title := "What did this person receive?"
	if d.Address != "" {
		title = "Deliveries to " + d.Address
	}
	h.render(w, r, http.StatusOK, "deliveries", page{Title: title, Nav: "deliveries", Data: d})
}
