package api

import (
	"net/http"
	"time"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/incident"
	"github.com/candorhq/candor/internal/store"
)

type incidentJSON struct {
	ID           int64             `json:"id"`
	Title        string            `json:"title"`
	State        incident.State    `json:"state"`
	Severity     incident.Severity `json:"severity"`
	FactsVersion int               `json:"facts_version"`
	NextStates   []incident.State  `json:"next_states"`
	CreatedAt    time.Time         `json:"created_at"`
	UpdatedAt    time.Time         `json:"updated_at"`
}

func incidentView(in incident.Incident) incidentJSON {
	next := in.State.NextStates()
	if next == nil {
		next = []incident.State{}
	}
	return incidentJSON{ID: in.ID, Title: in.Title, State: in.State, Severity: in.Severity, FactsVersion: in.FactsVersion,
		NextStates: next, CreatedAt: in.CreatedAt, UpdatedAt: in.UpdatedAt}
}

type versionJSON struct {
	IncidentID int64          `json:"incident_id"`
	Version    int            `json:"version"`
	Facts      incident.Facts `json:"facts"`
	Reason     string         `json:"reason"`
	Author     string         `json:"author"`
	CreatedAt  time.Time      `json:"created_at"`
}

func versionView(v incident.Version) versionJSON {
	f := v.Facts
	if f.Exposed == nil {
		f.Exposed = []incident.DataKind{}
	}
	if f.NotExposed == nil {
		f.NotExposed = []incident.DataKind{}
	}
	if f.AffectedBy == nil {
		f.AffectedBy = []incident.Jurisdictional{}
	}
	return versionJSON{IncidentID: v.IncidentID, Version: v.Version, Facts: f, Reason: v.Reason, Author: v.Author, CreatedAt: v.CreatedAt}
}

func (h *handler) me(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	return http.StatusOK, map[string]any{"user_id": p.UserID, "email": p.Email, "role": p.Role, "via": p.Via}, nil
}

func (h *handler) dataKinds(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	type kind struct {
		Code  incident.DataKind `json:"code"`
		Label string            `json:"label"`
	}
	out := make([]kind, len(incident.DataKinds))
	for i, d := range incident.DataKinds {
		out[i] = kind{d.Kind, d.Label}
	}
	return http.StatusOK, map[string]any{"items": out}, nil
}

func (h *handler) listIncidents(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	cursor, limit, err := listParams(r)
	if err != nil {
		return 0, nil, err
	}
	ins, next, err := h.svc.Incidents(r.Context(), p, store.IncidentFilter{State: incident.State(r.URL.Query().Get("state")), Before: cursor, Limit: limit})
	if err != nil {
		return 0, nil, err
	}
	views := make([]incidentJSON, len(ins))
	for i, in := range ins {
		views[i] = incidentView(in)
	}
	return http.StatusOK, newPage(views, next), nil
}

func (h *handler) createIncident(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	var body struct {
		Title    string            `json:"title"`
		Severity incident.Severity `json:"severity"`
		Facts    incident.Facts    `json:"facts"`
	}
	if err := decode(w, r, &body); err != nil {
		return 0, nil, err
	}
	in, err := h.svc.CreateIncident(r.Context(), p, incident.New{Title: body.Title, Severity: body.Severity, Facts: body.Facts})
	if err != nil {
		return 0, nil, err
	}
	w.Header().Set("Location", "/api/v1/incidents/"+itoa(in.ID))
	return http.StatusCreated, incidentView(in), nil
}

func (h *handler) getIncident(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	in, err := h.svc.Incident(r.Context(), p, id)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, incidentView(in), nil
}

func (h *handler) updateIncident(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	var body struct {
		Title    *string            `json:"title"`
		Severity *incident.Severity `json:"severity"`
	}
	if err := decode(w, r, &body); err != nil {
		return 0, nil, err
	}
	in, err := h.svc.UpdateIncident(r.Context(), p, id, store.IncidentUpdate{Title: body.Title, Severity: body.Severity})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, incidentView(in), nil
}

func (h *handler) moveIncident(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	var body struct {
		State incident.State `json:"state"`
		Note  string         `json:"note"`
	}
	if err := decode(w, r, &body); err != nil {
		return 0, nil, err
	}
	in, err := h.svc.MoveIncident(r.Context(), p, id, body.State, body.Note)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, incidentView(in), nil
}

func (h *handler) getFacts(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	v, err := h.svc.Facts(r.Context(), p, id, 0)
	if err != nil {
		return 0, nil, err
	}
	w.Header().Set("ETag", `"v`+itoa(int64(v.Version))+`"`)
	return http.StatusOK, versionView(v), nil
}

func (h *handler) saveFacts(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	var body struct {
		BaseVersion int             `json:"base_version"`
		Reason      string          `json:"reason"`
		Facts       *incident.Facts `json:"facts"`
	}
	if err := decode(w, r, &body); err != nil {
		return 0, nil, err
	}
	if body.Facts == nil {
		return 0, nil, apperr.Invalid("facts", "send the whole facts object (GET it first, change what you need, PUT it back)")
	}
	v, err := h.svc.SaveFacts(r.Context(), p, id, body.BaseVersion, *body.Facts, body.Reason)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, versionView(v), nil
}

func (h *handler) listVersions(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	vs, err := h.svc.FactsVersions(r.Context(), p, id)
	if err != nil {
		return 0, nil, err
	}
	views := make([]versionJSON, len(vs))
	for i, v := range vs {
		views[i] = versionView(v)
	}
	return http.StatusOK, newPage(views, 0), nil
}

func (h *handler) getVersion(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	n, err := pathID(r, "version")
	if err != nil {
		return 0, nil, err
	}
	v, err := h.svc.Facts(r.Context(), p, id, int(n))
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, versionView(v), nil
}

func (h *handler) diffFacts(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	from, err := queryInt(r, "from")
	if err != nil {
		return 0, nil, err
	}
	to, err := queryInt(r, "to")
	if err != nil {
		return 0, nil, err
	}
	if from == 0 {
		return 0, nil, apperr.Invalid("from", "say which versions to compare: ?from=1&to=2 (to defaults to the current version)")
	}
	a, b, changes, err := h.svc.FactsDiff(r.Context(), p, id, int(from), int(to))
	if err != nil {
		return 0, nil, err
	}
	if changes == nil {
		changes = []incident.Change{}
	}
	return http.StatusOK, map[string]any{
		"from": versionView(a), "to": versionView(b), "changes": changes,
	}, nil
}

func (h *handler) timeline(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	tl, err := h.svc.Timeline(r.Context(), p, id)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, newPage(tl, 0), nil
}

func (h *handler) incidentAudit(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	return h.audit(r, p, id)
}

func (h *handler) globalAudit(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	return h.audit(r, p, 0)
}

func (h *handler) audit(r *http.Request, p auth.Principal, incidentID int64) (int, any, error) {
	cursor, limit, err := listParams(r)
	if err != nil {
		return 0, nil, err
	}
	entries, next, err := h.svc.Audit(r.Context(), p, store.AuditFilter{IncidentID: incidentID, Before: cursor, Limit: limit})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, newPage(entries, next), nil
}

func (h *handler) verifyAudit(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	n, problem, err := h.svc.VerifyAudit(r.Context(), p)
	if err != nil {
		return 0, nil, err
	}
	out := map[string]any{"intact": problem == nil, "checked": n}
	if problem != nil {
		out["problem"] = map[string]any{"seq": problem.Seq, "kind": problem.Kind, "detail": problem.Detail}
	}
	return http.StatusOK, out, nil
}
