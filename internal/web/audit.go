package web

import (
	"fmt"
	"net/http"

	"github.com/candorhq/candor/internal/audit"
	"github.com/candorhq/candor/internal/incident"
	"github.com/candorhq/candor/internal/store"
)

const auditPageSize = 50

type auditPage struct {
	Incident *incident.Incident // nil for the global log
	Entries  []audit.Entry
	Older    string
	Paged    bool
}

func (h *handler) incidentAudit(w http.ResponseWriter, r *http.Request) {
	p, ok := h.user(w, r)
	if !ok {
		return
	}
	id, ok := h.pathID(w, r, "id")
	if !ok {
		return
	}
	before, ok := h.queryCursor(w, r, "before")
	if !ok {
		return
	}
	in, err := h.svc.Incident(r.Context(), p, id)
	if err != nil {
		h.fail(w, r, err, "see incidents")
		return
	}
	entries, next, err := h.svc.Audit(r.Context(), p, store.AuditFilter{IncidentID: id, Before: before, Limit: auditPageSize})
	if err != nil {
		h.fail(w, r, err, "see the audit log")
		return
	}
	d := auditPage{Incident: &in, Entries: entries, Paged: before > 0}
	if next > 0 {
		d.Older = fmt.Sprintf("/incidents/%d/audit?before=%d", id, next)
	}
	h.render(w, r, http.StatusOK, "audit", page{Title: "Audit log: " + in.Title, Nav: "incidents", Data: d})
}

func (h *handler) audit(w http.ResponseWriter, r *http.Request) {
	p, ok := h.user(w, r)
	if !ok {
		return
	}
	before, ok := h.queryCursor(w, r, "before")
	if !ok {
		return
	}
	entries, next, err := h.svc.Audit(r.Context(), p, store.AuditFilter{Before: before, Limit: auditPageSize})
	if err != nil {
		h.fail(w, r, err, "see the whole audit log")
		return
	}
	d := auditPage{Entries: entries, Paged: before > 0}
	if next > 0 {
		d.Older = fmt.Sprintf("/audit?before=%d", next)
	}
	h.render(w, r, http.StatusOK, "audit", page{Title: "Audit log", Nav: "audit", Data: d})
}

func (h *handler) verifyAudit(w http.ResponseWriter, r *http.Request) {
	p, ok := h.action(w, r)
	if !ok {
		return
	}
	n, problem, err := h.svc.VerifyAudit(r.Context(), p)
	if err != nil {
		h.fail(w, r, err, "verify the audit log")
		return
	}
	if problem != nil {
		h.log.Warn("audit_chain_broken", "seq", problem.Seq, "kind", problem.Kind)
		h.redirect(w, r, "/audit", "error", fmt.Sprintf("The audit chain is broken: entry %d was %s (%s). Checked %d entries. Keep the database as it is and tell whoever investigates.", problem.Seq, problem.Kind, problem.Detail, n))
		return
	}
	h.redirect(w, r, "/audit", "ok", fmt.Sprintf("The audit chain is intact: all %d entries check out.", n))
}
