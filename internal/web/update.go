package web

import (
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/incident"
	"github.com/candorhq/candor/internal/notice"
	"github.com/candorhq/candor/internal/status"
	"github.com/candorhq/candor/internal/store"
)

// statusSection is the incident page's "Status page" card: the incident's
// public timeline, the form that posts an update to it, and the services
// the incident affects.
type statusSection struct {
	IncidentID int64
	Updates    []updateView
	// Public: at least one update is public, so the incident has a page
	// on the status site.
	Public     bool
	CanPublish bool
	// Now is when the page was made, to help pick a time.
	Now  time.Time
	Form updateForm
	// Components are every service, with how this incident affects it.
	Components      []componentChoice
	ComponentsError string
}

// ComponentOptions are the choices of each service's select, "not
// affected" first.
func (statusSection) ComponentOptions() []componentOption {
	out := []componentOption{{"", "Not affected"}}
	for _, s := range []status.ComponentStatus{status.DegradedPerformance, status.PartialOutage, status.MajorOutage, status.UnderMaintenance, status.Operational} {
		out = append(out, componentOption{s, s.Label()})
	}
	return out
}

type componentOption struct {
	Value status.ComponentStatus
	Label string
}

// componentChoice is a service and how the incident affects it ("" for not
// at all).
type componentChoice struct {
	status.Component
	Status status.ComponentStatus
}

// updateView is one update as the incident page shows it.
type updateView struct {
	store.UpdateInfo
	HTML, WhatToDoHTML template.HTML
	// Scheduled: it goes public at PublishAt, later than now.
	Scheduled bool
	// Backdated: the time shown is earlier than when it went public.
	Backdated    bool
	Translations []translationView
	Revisions    []revisionView
}

type translationView struct {
	Lang               string
	HTML, WhatToDoHTML template.HTML
}

// revisionView is a text the update showed before a correction.
type revisionView struct {
	status.Revision
	HTML, WhatToDoHTML template.HTML
}

func newUpdateView(u store.UpdateInfo, now time.Time) updateView {
	v := updateView{UpdateInfo: u, Scheduled: !u.Published(now), Backdated: u.PublishAt.Sub(u.DisplayAt) >= time.Minute}
	v.HTML, _ = notice.Markdown(u.Body)
	v.WhatToDoHTML, _ = notice.Markdown(u.WhatToDo)
	for _, l := range slices.Sorted(mapKeys(u.Translations)) {
		t := translationView{Lang: l}
		t.HTML, _ = notice.Markdown(u.Translations[l].Body)
		t.WhatToDoHTML, _ = notice.Markdown(u.Translations[l].WhatToDo)
		v.Translations = append(v.Translations, t)
	}
	for i := len(u.Revisions) - 1; i >= 0; i-- {
		r := revisionView{Revision: u.Revisions[i]}
		r.HTML, _ = notice.Markdown(r.Body)
		r.WhatToDoHTML, _ = notice.Markdown(r.WhatToDo)
		v.Revisions = append(v.Revisions, r)
	}
	return v
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// updateForm is the "Post an update" form, as typed.
type updateForm struct {
	// Posted: the form holds a refused submission, not the defaults.
	Posted       bool
	Status       string
	Body         string
	WhatToDo     string
	Translations []translationRow
	PublishAt    string
	DisplayAt    string
	Notify       bool
	Errors       formErrors
}

// translationRow is one "language + text" row of the update forms.
type translationRow struct {
	Lang, Body, WhatToDo string
}

// minTranslationRows is how many translation rows the forms show at least:
// without JavaScript, a row cannot be added on the page.
const minTranslationRows = 2

// maxTranslationRows bounds the rows read from a form.
const maxTranslationRows = 30

func padTranslations(rows []translationRow, blank int) []translationRow {
	rows = append(rows, make([]translationRow, blank)...)
	for len(rows) < minTranslationRows {
		rows = append(rows, translationRow{})
	}
	return rows
}

// readTranslations reads the rows translations[i].lang, .body and
// .what_to_do for i below translation_count, as typed.
func readTranslations(r *http.Request) []translationRow {
	n, _ := strconv.Atoi(r.PostFormValue("translation_count"))
	var rows []translationRow
	for i := range min(n, maxTranslationRows) {
		k := func(s string) string { return fmt.Sprintf("translations[%d].%s", i, s) }
		rows = append(rows, translationRow{Lang: strings.TrimSpace(r.PostFormValue(k("lang"))), Body: r.PostFormValue(k("body")), WhatToDo: r.PostFormValue(k("what_to_do"))})
	}
	return rows
}

// translationMap turns the rows into the service's map. A blank row is
// skipped; text without a language, or a language given twice, is
// reported for its row.
func translationMap(rows []translationRow, errs *formErrors) map[string]status.Text {
	m := map[string]status.Text{}
	for i, t := range rows {
		field := fmt.Sprintf("translations[%d].lang", i)
		switch _, dup := m[t.Lang]; {
		case t.Lang == "":
			if strings.TrimSpace(t.Body) != "" || strings.TrimSpace(t.WhatToDo) != "" {
				errs.add(field, "write the language of this text, like fr or pt-BR")
			}
		case dup:
			errs.add(field, fmt.Sprintf("%s is given twice; keep one text per language", t.Lang))
		default:
			m[t.Lang] = status.Text{Body: t.Body, WhatToDo: t.WhatToDo}
		}
	}
	return m
}

// addAppErrors records the service's field errors under the form's field
// names: the service names a translation by its language
// ("translations.fr.body"), the form by its row ("translations[0].body").
func addAppErrors(errs *formErrors, err error, rows []translationRow) {
	for _, e := range apperr.Flatten(err) {
		field := e.Field
		if rest, ok := strings.CutPrefix(field, "translations."); ok {
			for i, t := range rows {
				if t.Lang == "" {
					continue
				}
				if rest == t.Lang {
					field = fmt.Sprintf("translations[%d].lang", i)
					break
				}
				if sub, ok := strings.CutPrefix(rest, t.Lang+"."); ok {
					field = fmt.Sprintf("translations[%d].%s", i, sub)
					break
				}
			}
		}
		errs.add(field, e.Message)
	}
}

// updateFieldOrder is the order of the update forms' fields, for their
// error summaries.
func updateFieldOrder(rows []translationRow) []string {
	order := []string{"status", "body", "what_to_do"}
	for i := range rows {
		for _, f := range []string{"lang", "body", "what_to_do"} {
			order = append(order, fmt.Sprintf("translations[%d].%s", i, f))
		}
	}
	return append(order, "publish_at", "display_at", "reason")
}

// loadStatusSection fills the incident page's status page card. timeline
// is the incident's timeline, already read for the page.
func (h *handler) loadStatusSection(r *http.Request, p auth.Principal, in incident.Incident, timeline []app.TimelineEntry, s *statusSection) error {
	s.IncidentID, s.CanPublish, s.Now = in.ID, p.Role.Can(auth.PublishUpdate), h.svc.Now().UTC()
	us, err := h.svc.Updates(r.Context(), p, in.ID)
	if err != nil {
		return err
	}
	for _, u := range us {
		v := newUpdateView(u, s.Now)
		s.Public = s.Public || !v.Scheduled
		s.Updates = append(s.Updates, v)
	}
	if !s.Form.Posted {
		s.Form = updateForm{Status: string(in.State), Notify: true}
	}
	s.Form.Translations = padTranslations(s.Form.Translations, 0)
	cs, err := h.svc.Components(r.Context(), p)
	if err != nil {
		return err
	}
	affected, err := h.affectedComponents(r, p, in.ID, timeline)
	if err != nil {
		return err
	}
	for _, c := range cs {
		s.Components = append(s.Components, componentChoice{Component: c, Status: affected[c.ID]})
	}
	return nil
}

// affectedComponents returns how the incident affects each service, by
// service id.
func (h *handler) affectedComponents(r *http.Request, p auth.Principal, incidentID int64, _ []app.TimelineEntry) (map[int64]status.ComponentStatus, error) {
	return h.svc.IncidentComponents(r.Context(), p, incidentID)
}

// publishing starts a handler that posts, corrects or shapes what the
// status page says, as sending does for releases: it signs the user in,
// reads the form and checks its CSRF token (for a post), parses the id,
// and refuses a role that may not publish before reading anything else.
func (h *handler) publishing(w http.ResponseWriter, r *http.Request, post bool, what string) (auth.Principal, int64, bool) {
	return h.allowedID(w, r, post, auth.PublishUpdate, what)
}

// publishUpdate posts an update on the incident's public timeline, now or
// at the time chosen. A refused form comes back with what was typed and
// every problem next to its field; nothing is stored.
func (h *handler) publishUpdate(w http.ResponseWriter, r *http.Request) {
	p, id, ok := h.publishing(w, r, true, "publish status page updates")
	if !ok {
		return
	}
	v := r.PostFormValue
	f := updateForm{Posted: true, Status: v("status"), Body: v("body"), WhatToDo: v("what_to_do"), Translations: readTranslations(r),
		PublishAt: strings.TrimSpace(v("publish_at")), DisplayAt: strings.TrimSpace(v("display_at")), Notify: v("notify") == "yes"}
	req := app.UpdateRequest{Status: incident.State(f.Status), Body: f.Body, WhatToDo: f.WhatToDo, Notify: f.Notify}
	req.Translations = translationMap(f.Translations, &f.Errors)
	for _, tf := range []struct {
		field string
		dst   *time.Time
	}{{"publish_at", &req.PublishAt}, {"display_at", &req.DisplayAt}} {
		switch t, err := parseDateTime(v(tf.field)); {
		case err != nil:
			f.Errors.add(tf.field, err.Error())
		case t != nil:
			*tf.dst = *t
		}
	}
	var u status.Update
	var err error
	if !f.Errors.Has() {
		u, err = h.svc.PublishUpdate(r.Context(), p, id, req)
	}
	if err != nil && apperr.Code(err) != apperr.EINVALID {
		h.fail(w, r, err, "publish status page updates")
		return
	}
	addAppErrors(&f.Errors, err, f.Translations)
	if f.Errors.Has() {
		f.Errors.sortSummary(updateFieldOrder(f.Translations))
		h.showIncident(w, r, p, id, http.StatusUnprocessableEntity, incidentPage{Status: statusSection{Form: f}})
		return
	}
	msg := "Published the update: it is on the status page now."
	if u.PublishAt.After(h.svc.Now()) {
		msg = fmt.Sprintf("Scheduled the update: it goes public at %s.", incident.FormatTime(&u.PublishAt))
	}
	if u.Notify {
		msg += " Subscribers are told when it goes public."
	}
	h.redirect(w, r, fmt.Sprintf("/incidents/%d#update-%d", id, u.ID), "ok", msg)
}

// updateEditPage is the form that corrects an update.
type updateEditPage struct {
	Update       updateView
	Incident     incident.Incident
	Body         string
	WhatToDo     string
	Translations []translationRow
	Reason       string
	Errors       formErrors
}

func (h *handler) editUpdateForm(w http.ResponseWriter, r *http.Request) {
	p, id, ok := h.publishing(w, r, false, "correct status page updates")
	if !ok {
		return
	}
	u, err := h.svc.Update(r.Context(), p, id)
	if err != nil {
		h.fail(w, r, err, "correct status page updates")
		return
	}
	d := updateEditPage{Body: u.Body, WhatToDo: u.WhatToDo}
	for _, l := range slices.Sorted(mapKeys(u.Translations)) {
		d.Translations = append(d.Translations, translationRow{Lang: l, Body: u.Translations[l].Body, WhatToDo: u.Translations[l].WhatToDo})
	}
	h.showUpdateEdit(w, r, p, u, http.StatusOK, d)
}

func (h *handler) showUpdateEdit(w http.ResponseWriter, r *http.Request, p auth.Principal, u store.UpdateInfo, code int, d updateEditPage) {
	var err error
	if d.Incident, err = h.svc.Incident(r.Context(), p, u.IncidentID); err != nil {
		h.fail(w, r, err, "correct status page updates")
		return
	}
	d.Update = newUpdateView(u, h.svc.Now())
	blank := 0
	if code == http.StatusOK {
		blank = 1
	}
	d.Translations = padTranslations(d.Translations, blank)
	title := "Correct a status page update"
	if d.Update.Scheduled {
		title = "Edit a scheduled update"
	}
	h.render(w, r, code, "update_edit", page{Title: title, Nav: "incidents", Data: d})
}

// saveUpdate corrects an update. The old text stays visible on the status
// page with the reason: corrections are never silent.
func (h *handler) saveUpdate(w http.ResponseWriter, r *http.Request) {
	p, id, ok := h.publishing(w, r, true, "correct status page updates")
	if !ok {
		return
	}
	u, err := h.svc.Update(r.Context(), p, id)
	if err != nil {
		h.fail(w, r, err, "correct status page updates")
		return
	}
	v := r.PostFormValue
	d := updateEditPage{Body: v("body"), WhatToDo: v("what_to_do"), Translations: readTranslations(r), Reason: v("reason")}
	req := app.EditRequest{Body: d.Body, WhatToDo: d.WhatToDo, Reason: d.Reason}
	req.Translations = translationMap(d.Translations, &d.Errors)
	if !d.Errors.Has() {
		_, err = h.svc.EditUpdate(r.Context(), p, id, req)
	}
	if err != nil && apperr.Code(err) != apperr.EINVALID {
		h.fail(w, r, err, "correct status page updates")
		return
	}
	addAppErrors(&d.Errors, err, d.Translations)
	if d.Errors.Has() {
		d.Errors.sortSummary(updateFieldOrder(d.Translations))
		h.showUpdateEdit(w, r, p, u, http.StatusUnprocessableEntity, d)
		return
	}
	msg := "Corrected the update. The status page marks it edited and keeps the earlier text, with your reason."
	if !u.Published(h.svc.Now()) {
		msg = "Saved the scheduled update; it is not public yet."
	}
	h.redirect(w, r, fmt.Sprintf("/incidents/%d#update-%d", u.IncidentID, id), "ok", msg)
}

// setComponents names the services the incident affects, and how. Each
// service's select is component.<id>; "" is not affected.
func (h *handler) setComponents(w http.ResponseWriter, r *http.Request) {
	p, id, ok := h.publishing(w, r, true, "set the services an incident affects")
	if !ok {
		return
	}
	cs, err := h.svc.Components(r.Context(), p)
	if err != nil {
		h.fail(w, r, err, "set the services an incident affects")
		return
	}
	var as []status.Affected
	for _, c := range cs {
		if st := status.ComponentStatus(r.PostFormValue(fmt.Sprintf("component.%d", c.ID))); st != "" {
			as = append(as, status.Affected{Component: status.Component{ID: c.ID, Name: c.Name}, Status: st})
		}
	}
	err = h.svc.SetIncidentComponents(r.Context(), p, id, as)
	if apperr.Code(err) == apperr.EINVALID {
		d := incidentPage{Status: statusSection{ComponentsError: upperFirst(apperr.Message(err)) + "."}}
		h.showIncident(w, r, p, id, http.StatusUnprocessableEntity, d)
		return
	}
	if err != nil {
		h.fail(w, r, err, "set the services an incident affects")
		return
	}
	msg := "Saved: this incident affects no service."
	switch len(as) {
	case 0:
	case 1:
		msg = fmt.Sprintf("Saved: this incident affects %s (%s).", as[0].Name, strings.ToLower(as[0].Status.Label()))
	default:
		msg = fmt.Sprintf("Saved: this incident affects %d services.", len(as))
	}
	h.redirect(w, r, fmt.Sprintf("/incidents/%d#h-status-page", id), "ok", msg+" The status page shows it while the incident is public.")
}
