package web

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/audience"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/incident"
	"github.com/candorhq/candor/internal/notice"
	"github.com/candorhq/candor/internal/playbook"
	"github.com/candorhq/candor/internal/store"
)

// responsePackage is the incident page's list of notices, with the forms
// that apply a playbook and save the notices as one.
type responsePackage struct {
	Notices   []packageRow
	Playbooks []app.PlaybookInfo
	// What the save-as-playbook form holds after a refused submission.
	SaveName, SaveDescription string
	SaveErrors                formErrors
}

type packageRow struct {
	notice.Notice
	Audience string // the audience kind, for people
	When     string // the planned moment, "T+14h"
}

// loadPackage fills the incident page's response package.
func (h *handler) loadPackage(r *http.Request, p auth.Principal, incidentID int64, rp *responsePackage) error {
	ns, err := h.svc.Notices(r.Context(), p, incidentID)
	if err != nil {
		return err
	}
	for _, n := range ns {
		rp.Notices = append(rp.Notices, packageRow{Notice: n, Audience: audience.Kind(n.AudienceKind).Label(), When: playbook.DescribeOffset(n.Offset)})
	}
	rp.Playbooks, err = h.svc.Playbooks(r.Context(), p)
	return err
}

func (h *handler) applyPlaybook(w http.ResponseWriter, r *http.Request) {
	p, ok := h.action(w, r)
	if !ok {
		return
	}
	id, ok := h.pathID(w, r, "id")
	if !ok {
		return
	}
	key := r.PostFormValue("playbook")
	if key == "" {
		h.redirect(w, r, fmt.Sprintf("/incidents/%d#h-package", id), "error", "Choose a playbook to apply.")
		return
	}
	created, err := h.svc.ApplyPlaybook(r.Context(), p, id, key)
	if err != nil {
		h.fail(w, r, err, "draft notices")
		return
	}
	msg := fmt.Sprintf("Drafted %d notices from the playbook. Each is a draft: edit, check and submit it for review.", len(created))
	switch len(created) {
	case 0:
		msg = "The incident already has every notice of this playbook; nothing new was drafted."
	case 1:
		msg = "Drafted 1 notice from the playbook."
	}
	h.redirect(w, r, fmt.Sprintf("/incidents/%d#h-package", id), "ok", msg)
}

func (h *handler) saveIncidentPlaybook(w http.ResponseWriter, r *http.Request) {
	p, ok := h.action(w, r)
	if !ok {
		return
	}
	id, ok := h.pathID(w, r, "id")
	if !ok {
		return
	}
	name, desc := r.PostFormValue("name"), r.PostFormValue("description")
	pb, err := h.svc.SaveIncidentAsPlaybook(r.Context(), p, id, name, desc)
	switch apperr.Code(err) {
	case "":
		h.redirect(w, r, "/playbooks/"+pb.Key, "ok", fmt.Sprintf("Saved the incident's %d notices as the playbook %q.", len(pb.Items), pb.Name))
		return
	case apperr.EINVALID, apperr.ECONFLICT:
		d := incidentPage{}
		d.Package.SaveName, d.Package.SaveDescription = name, desc
		for _, e := range apperr.Flatten(err) {
			field := e.Field
			if field != "name" && field != "description" {
				field = ""
			}
			d.Package.SaveErrors.add(field, e.Message)
		}
		h.showIncident(w, r, p, id, http.StatusUnprocessableEntity, d)
		return
	}
	h.fail(w, r, err, "save playbooks")
}

// noticeHead is what every notice page shows at its top.
type noticeHead struct {
	Incident incident.Incident
	Notice   notice.Notice
	Audience string // the audience's name, "" when none is chosen
	Kind     string
	When     string
}

func (h *handler) noticeHead(r *http.Request, p auth.Principal, id int64) (noticeHead, error) {
	var d noticeHead
	var err error
	if d.Notice, err = h.svc.Notice(r.Context(), p, id); err != nil {
		return d, err
	}
	if d.Incident, err = h.svc.Incident(r.Context(), p, d.Notice.IncidentID); err != nil {
		return d, err
	}
	if d.Notice.AudienceID != 0 {
		if a, err := h.svc.Audience(r.Context(), p, d.Notice.AudienceID); err == nil {
			d.Audience = a.Name
		}
	}
	d.Kind = audience.Kind(d.Notice.AudienceKind).Label()
	d.When = playbook.DescribeOffset(d.Notice.Offset)
	return d, nil
}

type noticePage struct {
	noticeHead
	Version  store.NoticeVersion
	Current  bool // Version is the notice's current version
	Versions []store.NoticeVersion
	Created  time.Time
	From, To int // the diff form's defaults

	IsAuthor    bool // the viewer wrote the shown version
	CanSubmit   bool
	CanReview   bool
	CanWithdraw bool
	// Approved counts approvals of exactly this text by others.
	Approved int
	// Blocking are the failing checks an approval must override, one per
	// key, with what the form holds.
	Blocking []overrideRow
	Findings []app.Finding

	// Form state after a refused review or withdrawal.
	Comment        string
	WithdrawReason string
	Errors         formErrors

	// Send is the send card (with its form state after a refused
	// release); Releases are the notice's releases, newest first.
	Send     sendPanel
	Releases []releaseView
	// Publish is the status page card, for a notice written for it.
	Publish publishPanel
}

type overrideRow struct {
	Key      string
	Messages []string
	Reason   string
	Done     *store.Override // an earlier override of this key
}

func (h *handler) showNotice(w http.ResponseWriter, r *http.Request) {
	p, ok := h.user(w, r)
	if !ok {
		return
	}
	id, ok := h.pathID(w, r, "id")
	if !ok {
		return
	}
	number := 0
	if s := r.URL.Query().Get("version"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			h.badRequest(w, r, fmt.Sprintf("%q is not a version number.", s))
			return
		}
		number = n
	}
	h.renderNotice(w, r, p, id, number, http.StatusOK, noticePage{})
}

// renderNotice shows version number (0: current) of a notice, with d's
// form state when a review or withdrawal was refused.
func (h *handler) renderNotice(w http.ResponseWriter, r *http.Request, p auth.Principal, id int64, number int, status int, d noticePage) {
	var err error
	if d.noticeHead, err = h.noticeHead(r, p, id); err != nil {
		h.fail(w, r, err, "see notices")
		return
	}
	if d.Version, err = h.svc.NoticeVersion(r.Context(), p, id, number); err != nil {
		h.fail(w, r, err, "see notices")
		return
	}
	if d.Versions, err = h.svc.NoticeVersions(r.Context(), p, id); err != nil {
		h.fail(w, r, err, "see notices")
		return
	}
	if err = h.loadSending(r, p, &d); err != nil {
		h.fail(w, r, err, "see notices")
		return
	}
	d.Current = d.Version.Number == d.Notice.CurrentVersion
	d.Created = time.UnixMicro(d.Version.CreatedAt).UTC()
	d.To = d.Notice.CurrentVersion
	d.From = max(1, d.To-1)
	d.IsAuthor = d.Version.AuthorID != 0 && d.Version.AuthorID == p.UserID
	st := d.Version.State
	d.CanSubmit = d.Current && p.Role.Can(auth.EditIncident) && st.CanMove(notice.InReview)
	d.CanReview = d.Current && p.Role.Can(auth.ApproveNotice) && st == notice.InReview
	d.CanWithdraw = p.Role.Can(auth.ApproveNotice) && st == notice.Approved
	for _, rv := range d.Version.Reviews {
		if rv.Decision == notice.DecisionApprove && rv.ContentHash == d.Version.ContentHash && rv.ReviewerID != d.Version.AuthorID {
			d.Approved++
		}
	}
	if d.Current && st != notice.Withdrawn {
		rep, err := h.svc.CheckNotice(r.Context(), p, id, d.Version.Number, nil)
		if err != nil && apperr.Code(err) != apperr.EINVALID {
			h.fail(w, r, err, "see notices")
			return
		}
		d.Findings = rep.Findings
		if d.CanReview && !d.IsAuthor {
			done := map[string]*store.Override{}
			for i := range d.Version.Overrides {
				done[d.Version.Overrides[i].FindingKey] = &d.Version.Overrides[i]
			}
			reasons := map[string]string{}
			if r.Method == http.MethodPost {
				for _, f := range rep.Blocking() {
					reasons[f.Key] = r.PostFormValue("override." + f.Key)
				}
			}
			for _, f := range rep.Blocking() {
				i := slices.IndexFunc(d.Blocking, func(o overrideRow) bool { return o.Key == f.Key })
				if i < 0 {
					d.Blocking = append(d.Blocking, overrideRow{Key: f.Key, Reason: reasons[f.Key], Done: done[f.Key]})
					i = len(d.Blocking) - 1
				}
				d.Blocking[i].Messages = append(d.Blocking[i].Messages, f.Message)
			}
		}
	}
	title := d.Notice.Title
	if !d.Current {
		title = fmt.Sprintf("%s, version %d", title, d.Version.Number)
	}
	h.render(w, r, status, "notice", page{Title: title, Nav: "incidents", Data: d})
}

// versionNumber reads the version a form acts on.
func versionNumber(r *http.Request) int {
	n, _ := strconv.Atoi(r.PostFormValue("version"))
	return n
}

func (h *handler) submitNotice(w http.ResponseWriter, r *http.Request) {
	p, ok := h.action(w, r)
	if !ok {
		return
	}
	id, ok := h.pathID(w, r, "id")
	if !ok {
		return
	}
	v, err := h.svc.SubmitNotice(r.Context(), p, id, versionNumber(r), r.PostFormValue("comment"))
	if apperr.Code(err) == apperr.EINVALID {
		h.redirect(w, r, fmt.Sprintf("/notices/%d", id), "error", upperFirst(apperr.Message(err))+".")
		return
	}
	if err != nil {
		h.fail(w, r, err, "submit notices for review")
		return
	}
	need := "one approver"
	if v.Policy.Approvals > 1 {
		need = fmt.Sprintf("%d approvers", v.Policy.Approvals)
	}
	h.redirect(w, r, fmt.Sprintf("/notices/%d", id), "ok", fmt.Sprintf("Submitted version %d for review. It needs %s other than its author.", v.Number, need))
}

func (h *handler) reviewNotice(w http.ResponseWriter, r *http.Request) {
	p, ok := h.action(w, r)
	if !ok {
		return
	}
	id, ok := h.pathID(w, r, "id")
	if !ok {
		return
	}
	number := versionNumber(r)
	rv := app.Review{Decision: r.PostFormValue("decision"), Comment: r.PostFormValue("comment"), Overrides: map[string]string{}}
	for k, vs := range r.PostForm {
		if key, ok := strings.CutPrefix(k, "override."); ok && len(vs) > 0 {
			rv.Overrides[key] = vs[0]
		}
	}
	v, err := h.svc.ReviewNotice(r.Context(), p, id, number, rv)
	switch apperr.Code(err) {
	case "":
		msg := "Requested changes; the author has been told."
		if rv.Decision == notice.DecisionApprove {
			msg = fmt.Sprintf("Approved version %d.", v.Number)
			if v.State == notice.InReview {
				msg += " It needs another approver before it can go out."
			}
		}
		h.redirect(w, r, fmt.Sprintf("/notices/%d", id), "ok", msg)
	case apperr.EINVALID:
		d := noticePage{Comment: rv.Comment}
		for _, e := range apperr.Flatten(err) {
			d.Errors.add(e.Field, e.Message)
		}
		h.renderNotice(w, r, p, id, 0, http.StatusUnprocessableEntity, d)
	case apperr.EFORBIDDEN:
		if p.Role.Can(auth.ApproveNotice) {
			// The two-person rule, not the role, refused.
			h.errorPage(w, r, http.StatusForbidden, "Someone else must review this", upperFirst(apperr.Message(err))+".",
				"Ask another approver to review it from the review queue.")
			return
		}
		h.fail(w, r, err, "review notices")
	default:
		h.fail(w, r, err, "review notices")
	}
}

func (h *handler) withdrawNotice(w http.ResponseWriter, r *http.Request) {
	p, ok := h.action(w, r)
	if !ok {
		return
	}
	id, ok := h.pathID(w, r, "id")
	if !ok {
		return
	}
	reason := r.PostFormValue("reason")
	v, err := h.svc.WithdrawNotice(r.Context(), p, id, versionNumber(r), reason)
	switch apperr.Code(err) {
	case "":
		h.redirect(w, r, fmt.Sprintf("/notices/%d", id), "ok", fmt.Sprintf("Withdrew version %d: nothing more will be sent with it.", v.Number))
	case apperr.EINVALID:
		d := noticePage{WithdrawReason: reason}
		for _, e := range apperr.Flatten(err) {
			field := e.Field
			if field == "reason" {
				field = "withdraw_reason"
			}
			d.Errors.add(field, e.Message)
		}
		h.renderNotice(w, r, p, id, versionNumber(r), http.StatusUnprocessableEntity, d)
	default:
		h.fail(w, r, err, "withdraw notices")
	}
}

type noticeDiffPage struct {
	noticeHead
	From, To store.NoticeVersion
	Changes  []notice.TextDiff
	Versions []store.NoticeVersion
}

func (h *handler) noticeDiff(w http.ResponseWriter, r *http.Request) {
	p, ok := h.user(w, r)
	if !ok {
		return
	}
	id, ok := h.pathID(w, r, "id")
	if !ok {
		return
	}
	var nums [2]int
	for i, name := range []string{"from", "to"} {
		n, err := strconv.Atoi(r.URL.Query().Get(name))
		if err != nil || n < 1 {
			h.badRequest(w, r, fmt.Sprintf("Pick two versions to compare: %q is not a version number.", r.URL.Query().Get(name)))
			return
		}
		nums[i] = n
	}
	var d noticeDiffPage
	var err error
	if d.noticeHead, err = h.noticeHead(r, p, id); err != nil {
		h.fail(w, r, err, "see notices")
		return
	}
	if d.From, err = h.svc.NoticeVersion(r.Context(), p, id, nums[0]); err != nil {
		h.fail(w, r, err, "see notices")
		return
	}
	if d.To, err = h.svc.NoticeVersion(r.Context(), p, id, nums[1]); err != nil {
		h.fail(w, r, err, "see notices")
		return
	}
	d.Changes = notice.Diff(d.From.Content, d.To.Content)
	if d.Versions, err = h.svc.NoticeVersions(r.Context(), p, id); err != nil {
		h.fail(w, r, err, "see notices")
		return
	}
	h.render(w, r, http.StatusOK, "notice_diff", page{Title: fmt.Sprintf("Version %d and %d compared: %s", nums[0], nums[1], d.Notice.Title), Nav: "incidents", Data: d})
}

type reviewsPage struct {
	Notices []reviewRow
}

type reviewRow struct {
	notice.Notice
	Incident string
	Audience string
}

func (h *handler) reviews(w http.ResponseWriter, r *http.Request) {
	p, ok := h.user(w, r)
	if !ok {
		return
	}
	ns, err := h.svc.ReviewQueue(r.Context(), p)
	if err != nil {
		h.fail(w, r, err, "see the review queue")
		return
	}
	titles := map[int64]string{}
	var d reviewsPage
	for _, n := range ns {
		if _, ok := titles[n.IncidentID]; !ok {
			in, err := h.svc.Incident(r.Context(), p, n.IncidentID)
			if err != nil {
				h.fail(w, r, err, "see the review queue")
				return
			}
			titles[n.IncidentID] = in.Title
		}
		d.Notices = append(d.Notices, reviewRow{Notice: n, Incident: titles[n.IncidentID], Audience: audience.Kind(n.AudienceKind).Label()})
	}
	h.render(w, r, http.StatusOK, "reviews", page{Title: "Review queue", Nav: "reviews", Data: d})
}

type notificationsPage struct {
	Items []store.Notification
}

// notifications shows the viewer's notifications; seeing them marks them
// read (the unread ones are marked as new on this page only).
func (h *handler) notifications(w http.ResponseWriter, r *http.Request) {
	p, ok := h.user(w, r)
	if !ok {
		return
	}
	items, unread, err := h.svc.Notifications(r.Context(), p)
	if err != nil {
		h.fail(w, r, err, "see notifications")
		return
	}
	if unread > 0 {
		if err := h.svc.MarkNotificationsRead(r.Context(), p); err != nil {
			h.fail(w, r, err, "see notifications")
			return
		}
	}
	h.render(w, r, http.StatusOK, "notice_notifications", page{Title: "Notifications", Nav: "notifications", Data: notificationsPage{Items: items}})
}

// micro formats a store timestamp (unix microseconds).
func micro(us int64) time.Time { return time.UnixMicro(us).UTC() }
