package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/incident"
	"github.com/candorhq/candor/internal/store"
)

const pageSize = 25

type incidentsPage struct {
	Incidents []incident.Incident
	State     incident.State
	Older     string // the next page's URL, "" on the last page
	Paged     bool   // this is not the first page
}

func (h *handler) incidents(w http.ResponseWriter, r *http.Request) {
	p, ok := h.user(w, r)
	if !ok {
		return
	}
	before, ok := h.queryCursor(w, r, "before")
	if !ok {
		return
	}
	state := incident.State(r.URL.Query().Get("state"))
	list, next, err := h.svc.Incidents(r.Context(), p, store.IncidentFilter{State: state, Before: before, Limit: pageSize})
	if err != nil {
		h.fail(w, r, err, "see incidents")
		return
	}
	d := incidentsPage{Incidents: list, State: state, Paged: before > 0}
	if next > 0 {
		q := url.Values{"before": {strconv.FormatInt(next, 10)}}
		if state != "" {
			q.Set("state", string(state))
		}
		d.Older = "/?" + q.Encode()
	}
	h.render(w, r, http.StatusOK, "incidents", page{Title: "Incidents", Nav: "incidents", Data: d})
}

type newIncidentPage struct {
	Title, Severity, WhatHappened, DiscoveredAt string
	Errors                                      formErrors
}

func (h *handler) newIncidentForm(w http.ResponseWriter, r *http.Request) {
	p, ok := h.user(w, r)
	if !ok {
		return
	}
	if !p.Role.Can(auth.EditIncident) {
		h.forbidden(w, r, "open incidents")
		return
	}
	h.render(w, r, http.StatusOK, "incident_new", page{Title: "Open an incident", Nav: "incidents", Data: newIncidentPage{Severity: string(incident.High)}})
}

func (h *handler) createIncident(w http.ResponseWriter, r *http.Request) {
	p, ok := h.action(w, r)
	if !ok {
		return
	}
	d := newIncidentPage{
		Title:        r.PostFormValue("title"),
		Severity:     r.PostFormValue("severity"),
		WhatHappened: r.PostFormValue("what_happened"),
		DiscoveredAt: r.PostFormValue("discovered_at"),
	}
	n := incident.New{Title: d.Title, Severity: incident.Severity(d.Severity), Facts: incident.Facts{WhatHappened: d.WhatHappened}}
	var errs formErrors
	if t, err := parseDateTime(d.DiscoveredAt); err != nil {
		errs.add("discovered_at", err.Error())
	} else {
		n.Facts.DiscoveredAt = t
	}
	var in incident.Incident
	var err error
	if errs.Has() {
		if verr := n.Validate(h.svc.Now()); verr != nil {
			err = verr
		}
	} else {
		in, err = h.svc.CreateIncident(r.Context(), p, n)
	}
	if err != nil && apperr.Code(err) != apperr.EINVALID {
		h.fail(w, r, err, "open incidents")
		return
	}
	for _, e := range apperr.Flatten(err) {
		errs.add(e.Field, e.Message)
	}
	if errs.Has() {
		errs.sortSummary([]string{"title", "severity", "what_happened", "discovered_at"})
		d.Errors = errs
		h.render(w, r, http.StatusUnprocessableEntity, "incident_new", page{Title: "Open an incident", Nav: "incidents", Data: d})
		return
	}
	h.redirect(w, r, fmt.Sprintf("/incidents/%d", in.ID), "ok", "Incident opened. Record the facts as they are established: every notice will draw on them.")
}

type incidentPage struct {
	Incident incident.Incident
	Facts    incident.Version
	Timeline []app.TimelineEntry
	// What the forms hold after a refused submission.
	MoveTo, MoveNote, MoveError string
	Edit                        newIncidentPage
	Package                     responsePackage
	Status                      statusSection
}

func (h *handler) incident(w http.ResponseWriter, r *http.Request) {
	p, ok := h.user(w, r)
	if !ok {
		return
	}
	id, ok := h.pathID(w, r, "id")
	if !ok {
		return
	}
	h.showIncident(w, r, p, id, http.StatusOK, incidentPage{})
}

// showIncident renders the incident page, with d's form state (typed values
// and errors) when a form on it was refused.
func (h *handler) showIncident(w http.ResponseWriter, r *http.Request, p auth.Principal, id int64, status int, d incidentPage) {
	var err error
	if d.Incident, err = h.svc.Incident(r.Context(), p, id); err != nil {
		h.fail(w, r, err, "see incidents")
		return
	}
	if d.Facts, err = h.svc.Facts(r.Context(), p, id, 0); err != nil {
		h.fail(w, r, err, "see incidents")
		return
	}
	if d.Timeline, err = h.svc.Timeline(r.Context(), p, id); err != nil {
		h.fail(w, r, err, "see incidents")
		return
	}
	if err = h.loadPackage(r, p, id, &d.Package); err != nil {
		h.fail(w, r, err, "see incidents")
		return
	}
	if err = h.loadStatusSection(r, p, d.Incident, d.Timeline, &d.Status); err != nil {
		h.fail(w, r, err, "see incidents")
		return
	}
	if status == http.StatusOK {
		d.Edit.Title, d.Edit.Severity = d.Incident.Title, string(d.Incident.Severity)
	}
	h.render(w, r, status, "incident", page{Title: d.Incident.Title, Nav: "incidents", Data: d})
}

func (h *handler) updateIncident(w http.ResponseWriter, r *http.Request) {
	p, ok := h.action(w, r)
	if !ok {
		return
	}
	id, ok := h.pathID(w, r, "id")
	if !ok {
		return
	}
	title, sev := r.PostFormValue("title"), incident.Severity(r.PostFormValue("severity"))
	_, err := h.svc.UpdateIncident(r.Context(), p, id, store.IncidentUpdate{Title: &title, Severity: &sev})
	if apperr.Code(err) == apperr.EINVALID {
		d := incidentPage{Edit: newIncidentPage{Title: title, Severity: string(sev)}}
		for _, e := range apperr.Flatten(err) {
			d.Edit.Errors.add(e.Field, e.Message)
		}
		h.showIncident(w, r, p, id, http.StatusUnprocessableEntity, d)
		return
	}
	if err != nil {
		h.fail(w, r, err, "edit incidents")
		return
	}
	h.redirect(w, r, fmt.Sprintf("/incidents/%d", id), "ok", "Saved the title and severity.")
}

func (h *handler) moveIncident(w http.ResponseWriter, r *http.Request) {
	p, ok := h.action(w, r)
	if !ok {
		return
	}
	id, ok := h.pathID(w, r, "id")
	if !ok {
		return
	}
	to, note := incident.State(r.PostFormValue("state")), r.PostFormValue("note")
	in, err := h.svc.MoveIncident(r.Context(), p, id, to, note)
	if apperr.Code(err) == apperr.EINVALID {
		d := incidentPage{MoveTo: string(to), MoveNote: note, MoveError: upperFirst(apperr.Message(err)) + "."}
		h.showIncident(w, r, p, id, http.StatusUnprocessableEntity, d)
		return
	}
	if err != nil {
		h.fail(w, r, err, "move incidents between states")
		return
	}
	h.redirect(w, r, fmt.Sprintf("/incidents/%d", id), "ok", "The incident is now "+strings.ToLower(in.State.Label())+".")
}
