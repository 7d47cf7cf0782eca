package web

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/audience"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/notice"
	"github.com/candorhq/candor/internal/store"
)

// noticeForm is the notice editor's state, as typed.
type noticeForm struct {
	BaseVersion  int
	Title        string
	AudienceKind string // for a new notice
	Channels     []string
	AudienceID   string
	Subject      string
	Body         string
	Variants     []variantForm
	Reason       string
}

type variantForm struct {
	Name, SegmentID, Locale, Subject, Body string
}

func (f noticeForm) HasChannel(c notice.Channel) bool { return slices.Contains(f.Channels, string(c)) }

func formFromNotice(n notice.Notice, v store.NoticeVersion) noticeForm {
	f := noticeForm{BaseVersion: v.Number, Title: n.Title, AudienceKind: n.AudienceKind, Subject: v.Content.Subject, Body: v.Content.Body}
	for _, c := range n.Channels {
		f.Channels = append(f.Channels, string(c))
	}
	if n.AudienceID != 0 {
		f.AudienceID = strconv.FormatInt(n.AudienceID, 10)
	}
	for _, vr := range v.Content.Variants {
		vf := variantForm{Name: vr.Name, Locale: vr.Locale, Subject: vr.Subject, Body: vr.Body}
		if vr.SegmentID != 0 {
			vf.SegmentID = strconv.FormatInt(vr.SegmentID, 10)
		}
		f.Variants = append(f.Variants, vf)
	}
	return f
}

// parseNoticeForm reads the editor. Variant rows are variants[i].name and
// so on for i below variant_count; a row ticked for removal, or left
// entirely blank, is dropped.
func parseNoticeForm(r *http.Request) noticeForm {
	v := r.PostFormValue
	f := noticeForm{Title: v("title"), AudienceKind: v("audience_kind"), AudienceID: v("audience_id"), Subject: v("subject"), Body: v("body"), Reason: v("reason"),
		Channels: r.PostForm["channels"]}
	f.BaseVersion, _ = strconv.Atoi(v("base_version"))
	n, _ := strconv.Atoi(v("variant_count"))
	for i := range min(n, 50) {
		k := func(s string) string { return fmt.Sprintf("variants[%d].%s", i, s) }
		vf := variantForm{Name: v(k("name")), SegmentID: v(k("segment_id")), Locale: v(k("locale")), Subject: v(k("subject")), Body: v(k("body"))}
		if v(k("remove")) != "" || vf == (variantForm{}) {
			continue
		}
		f.Variants = append(f.Variants, vf)
	}
	return f
}

// content converts the form; a segment that is not a number is reported
// for its field.
func (f noticeForm) content(errs *formErrors) notice.Content {
	c := notice.Content{Subject: f.Subject, Body: f.Body}
	for i, vf := range f.Variants {
		vr := notice.Variant{Name: vf.Name, Locale: strings.TrimSpace(vf.Locale), Subject: vf.Subject, Body: vf.Body}
		if vf.SegmentID != "" {
			id, err := strconv.ParseInt(vf.SegmentID, 10, 64)
			if err != nil || id < 1 {
				errs.add(fmt.Sprintf("variants[%d].segment_id", i), "choose a segment from the list")
			}
			vr.SegmentID = id
		}
		c.Variants = append(c.Variants, vr)
	}
	return c
}

func (f noticeForm) channels() []notice.Channel {
	out := make([]notice.Channel, len(f.Channels))
	for i, c := range f.Channels {
		out[i] = notice.Channel(c)
	}
	return out
}

// noticeFieldOrder orders the editor's error summary.
func noticeFieldOrder(variants int) []string {
	order := []string{"title", "audience_kind", "channels", "audience_id", "subject", "body"}
	for i := range variants {
		for _, s := range []string{"name", "segment_id", "locale", "subject", "body"} {
			order = append(order, fmt.Sprintf("variants[%d].%s", i, s))
		}
	}
	return append(order, "reason")
}

// formField maps an error's field to the editor field it belongs next to.
func formField(field string) string {
	switch {
	case strings.HasPrefix(field, "channels"):
		return "channels"
	case field == "content" || field == "base_version" || field == "variants":
		return ""
	}
	return field
}

type noticeEditPage struct {
	noticeHead
	Form      noticeForm
	Errors    formErrors
	Audiences []audience.Audience
	Segments  []audience.Segment
	Checks    checkView
	// Conflict is set when a colleague saved a newer version meanwhile.
	Conflict *noticeConflict
	// New is true on the form that drafts a new notice.
	New bool
}

type noticeConflict struct {
	Message        string
	CurrentVersion int
	Author, Reason string
	Changes        []notice.TextDiff
}

// checkView is the checks panel: findings next to the text, with the
// recipients each variant reaches.
type checkView struct {
	NoticeID    int64
	Findings    []findingView
	Readability []findingView
	Variants    []app.VariantCount
	Members     int64
	Complete    bool
	Unreachable int64
	HasAudience bool
	Problems    int // findings at error or warning level
	Error       string
}

type findingView struct {
	app.Finding
	Where string // "Default text" or the variant's name
}

func newCheckView(n notice.Notice, c notice.Content, rep app.CheckReport) checkView {
	cv := checkView{NoticeID: n.ID, Variants: rep.Variants, Members: rep.Members, Complete: rep.Complete, Unreachable: rep.Unreachable, HasAudience: n.AudienceID != 0}
	for _, f := range rep.Findings {
		fv := findingView{Finding: f, Where: "Default text"}
		if f.Variant >= 0 && f.Variant < len(c.Variants) {
			fv.Where = "Variant “" + c.Variants[f.Variant].Name + "”"
		}
		if f.Key == "readability" && f.Level == levelInfo {
			cv.Readability = append(cv.Readability, fv)
			continue
		}
		if f.Level != levelInfo {
			cv.Problems++
		}
		cv.Findings = append(cv.Findings, fv)
	}
	return cv
}

// checks runs the checks on c for the panel; a failure to check is shown
// in the panel rather than failing the page.
func (h *handler) checks(r *http.Request, p auth.Principal, n notice.Notice, c notice.Content) checkView {
	rep, err := h.svc.CheckNotice(r.Context(), p, n.ID, 0, &c)
	if err != nil {
		cv := checkView{NoticeID: n.ID, HasAudience: n.AudienceID != 0}
		if apperr.Code(err) == apperr.EINVALID {
			cv.Error = upperFirst(apperr.Message(err)) + "."
		} else {
			h.log.Error("check_notice", "notice", n.ID, "err", err)
			cv.Error = "The checks could not run; save to try again."
		}
		return cv
	}
	return newCheckView(n, c, rep)
}

func (h *handler) editNotice(w http.ResponseWriter, r *http.Request) {
	p, id, ok := h.editing(w, r, false, "edit notices")
	if !ok {
		return
	}
	head, err := h.noticeHead(r, p, id)
	if err != nil {
		h.fail(w, r, err, "see notices")
		return
	}
	v, err := h.svc.NoticeVersion(r.Context(), p, id, 0)
	if err != nil {
		h.fail(w, r, err, "see notices")
		return
	}
	d := noticeEditPage{noticeHead: head, Form: formFromNotice(head.Notice, v)}
	h.renderNoticeEditor(w, r, p, http.StatusOK, d)
}

func (h *handler) renderNoticeEditor(w http.ResponseWriter, r *http.Request, p auth.Principal, status int, d noticeEditPage) {
	var err error
	if d.Audiences, err = h.svc.Audiences(r.Context(), p, d.Incident.ID); err != nil {
		h.fail(w, r, err, "see notices")
		return
	}
	if d.Segments, err = h.svc.Segments(r.Context(), p, d.Incident.ID); err != nil {
		h.fail(w, r, err, "see notices")
		return
	}
	if !d.New {
		var errs formErrors
		c := d.Form.content(&errs)
		if !errs.Has() {
			n := d.Notice
			// Check what is in the form: its audience and channels too.
			if id, err := strconv.ParseInt(d.Form.AudienceID, 10, 64); err == nil {
				n.AudienceID = id
			} else if d.Form.AudienceID == "" {
				n.AudienceID = 0
			}
			if len(d.Form.Channels) > 0 {
				n.Channels = d.Form.channels()
			}
			d.Checks = h.checksFor(r, p, n, c)
		}
	}
	title := "Edit: " + d.Notice.Title
	if d.New {
		title = "New notice: " + d.Incident.Title
	}
	if d.Form.Variants == nil {
		d.Form.Variants = []variantForm{}
	}
	h.render(w, r, status, "notice_edit", page{Title: title, Nav: "incidents", Data: d})
}

// checksFor checks content as n would send it. CheckNotice reads the
// notice's stored audience; when the form has chosen another one the counts
// follow the stored one until the notice is saved, which the panel says.
func (h *handler) checksFor(r *http.Request, p auth.Principal, n notice.Notice, c notice.Content) checkView {
	stored, err := h.svc.Notice(r.Context(), p, n.ID)
	cv := h.checks(r, p, stored, c)
	if err == nil && stored.AudienceID != n.AudienceID {
		cv.Error = "You changed the audience: the counts below are for the saved audience until you save."
	}
	return cv
}

func (h *handler) saveNotice(w http.ResponseWriter, r *http.Request) {
	p, id, ok := h.editing(w, r, true, "edit notices")
	if !ok {
		return
	}
	f := parseNoticeForm(r)
	head, err := h.noticeHead(r, p, id)
	if err != nil {
		h.fail(w, r, err, "see notices")
		return
	}
	d := noticeEditPage{noticeHead: head, Form: f}
	switch r.PostFormValue("op") {
	case "add_variant":
		d.Form.Variants = append(d.Form.Variants, variantForm{Name: fmt.Sprintf("Variant %d", len(f.Variants)+1)})
		h.renderNoticeEditor(w, r, p, http.StatusOK, d)
		return
	case "check":
		h.renderNoticeEditor(w, r, p, http.StatusOK, d)
		return
	}
	var errs formErrors
	c := f.content(&errs)
	edit := store.NoticeEdit{BaseVersion: f.BaseVersion, Content: c, Reason: f.Reason, Title: f.Title, Channels: f.channels()}
	if edit.Channels == nil {
		edit.Channels = []notice.Channel{}
	}
	if strings.TrimSpace(f.Title) == "" {
		errs.add("title", "give the notice a title, e.g. \"Customer alert\"")
	}
	aud := int64(0)
	if f.AudienceID != "" {
		if aud, err = strconv.ParseInt(f.AudienceID, 10, 64); err != nil || aud < 1 {
			errs.add("audience_id", "choose an audience from the list")
		}
	}
	edit.AudienceID = &aud
	var v store.NoticeVersion
	if errs.Has() {
		if strings.TrimSpace(f.Reason) == "" {
			errs.add("reason", "say why you are changing the notice, e.g. \"Added the helpline number\"")
		}
	} else {
		v, err = h.svc.SaveNotice(r.Context(), p, id, edit)
	}
	status := http.StatusUnprocessableEntity
	switch apperr.Code(err) {
	case "", apperr.EINVALID:
		for _, e := range apperr.Flatten(err) {
			errs.add(formField(e.Field), e.Message)
		}
	case apperr.ECONFLICT:
		status = http.StatusConflict
		cf := &noticeConflict{Message: upperFirst(apperr.Message(err)) + "."}
		if m, ok := apperr.As(err).Detail.(map[string]any); ok {
			cf.CurrentVersion, _ = m["current_version"].(int)
			cf.Author, _ = m["author"].(string)
			cf.Reason, _ = m["reason"].(string)
		}
		if cf.CurrentVersion > 0 {
			base, e1 := h.svc.NoticeVersion(r.Context(), p, id, f.BaseVersion)
			cur, e2 := h.svc.NoticeVersion(r.Context(), p, id, cf.CurrentVersion)
			if e1 == nil && e2 == nil {
				cf.Changes = notice.Diff(base.Content, cur.Content)
			}
			d.Form.BaseVersion = cf.CurrentVersion
		}
		d.Conflict = cf
	default:
		h.fail(w, r, err, "edit notices")
		return
	}
	if errs.Has() || d.Conflict != nil {
		errs.sortSummary(noticeFieldOrder(len(f.Variants)))
		d.Errors = errs
		h.renderNoticeEditor(w, r, p, status, d)
		return
	}
	h.redirect(w, r, fmt.Sprintf("/notices/%d/edit", id), "ok", fmt.Sprintf("Saved version %d. Submit it for review when the checks pass.", v.Number))
}

func (h *handler) newNoticeForm(w http.ResponseWriter, r *http.Request) {
	p, id, ok := h.editing(w, r, false, "draft notices")
	if !ok {
		return
	}
	in, err := h.svc.Incident(r.Context(), p, id)
	if err != nil {
		h.fail(w, r, err, "see incidents")
		return
	}
	d := noticeEditPage{noticeHead: noticeHead{Incident: in}, New: true,
		Form: noticeForm{AudienceKind: string(audience.AffectedCustomers), Channels: []string{string(notice.ChannelEmail)}}}
	h.renderNoticeEditor(w, r, p, http.StatusOK, d)
}

func (h *handler) createNotice(w http.ResponseWriter, r *http.Request) {
	p, ok := h.action(w, r)
	if !ok {
		return
	}
	id, ok := h.pathID(w, r, "id")
	if !ok {
		return
	}
	f := parseNoticeForm(r)
	var errs formErrors
	n := notice.New{IncidentID: id, Title: f.Title, AudienceKind: f.AudienceKind, Channels: f.channels(), Content: f.content(&errs)}
	if f.AudienceID != "" {
		aid, err := strconv.ParseInt(f.AudienceID, 10, 64)
		if err != nil || aid < 1 {
			errs.add("audience_id", "choose an audience from the list")
		}
		n.AudienceID = aid
	}
	var created notice.Notice
	var err error
	if !errs.Has() {
		created, err = h.svc.CreateNotice(r.Context(), p, n)
	} else if !p.Role.Can(auth.EditIncident) {
		h.forbidden(w, r, "draft notices")
		return
	}
	if err != nil && apperr.Code(err) != apperr.EINVALID {
		h.fail(w, r, err, "draft notices")
		return
	}
	for _, e := range apperr.Flatten(err) {
		errs.add(formField(e.Field), e.Message)
	}
	if errs.Has() {
		in, err := h.svc.Incident(r.Context(), p, id)
		if err != nil {
			h.fail(w, r, err, "see incidents")
			return
		}
		errs.sortSummary(noticeFieldOrder(len(f.Variants)))
		h.renderNoticeEditor(w, r, p, http.StatusUnprocessableEntity, noticeEditPage{noticeHead: noticeHead{Incident: in}, New: true, Form: f, Errors: errs})
		return
	}
	h.redirect(w, r, fmt.Sprintf("/notices/%d/edit", created.ID), "ok", "Drafted the notice. Write its text; the checks run as you go.")
}

// levelInfo is the level of findings that inform (a readability grade)
// rather than warn.
const levelInfo = "info"
