package web

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/candorhq/candor/internal/incident"
)

type versionsPage struct {
	Incident incident.Incident
	Versions []incident.Version
	From, To int // the diff form's defaults
}

func (h *handler) versions(w http.ResponseWriter, r *http.Request) {
	p, ok := h.user(w, r)
	if !ok {
		return
	}
	id, ok := h.pathID(w, r, "id")
	if !ok {
		return
	}
	in, err := h.svc.Incident(r.Context(), p, id)
	if err != nil {
		h.fail(w, r, err, "see incidents")
		return
	}
	vs, err := h.svc.FactsVersions(r.Context(), p, id)
	if err != nil {
		h.fail(w, r, err, "see incidents")
		return
	}
	d := versionsPage{Incident: in, Versions: vs, From: 1, To: in.FactsVersion}
	if in.FactsVersion > 1 {
		d.From = in.FactsVersion - 1
	}
	h.render(w, r, http.StatusOK, "versions", page{Title: "Facts history: " + in.Title, Nav: "incidents", Data: d})
}

type versionPage struct {
	Incident incident.Incident
	Version  incident.Version
}

func (h *handler) version(w http.ResponseWriter, r *http.Request) {
	p, ok := h.user(w, r)
	if !ok {
		return
	}
	id, ok := h.pathID(w, r, "id")
	if !ok {
		return
	}
	n, ok := h.pathID(w, r, "version")
	if !ok {
		return
	}
	in, err := h.svc.Incident(r.Context(), p, id)
	if err != nil {
		h.fail(w, r, err, "see incidents")
		return
	}
	v, err := h.svc.Facts(r.Context(), p, id, int(n))
	if err != nil {
		h.fail(w, r, err, "see incidents")
		return
	}
	h.render(w, r, http.StatusOK, "version", page{Title: fmt.Sprintf("Facts version %d: %s", v.Version, in.Title), Nav: "incidents", Data: versionPage{in, v}})
}

type diffPage struct {
	Incident incident.Incident
	From, To incident.Version
	Changes  []incident.Change
	Versions []incident.Version // for the form to pick another pair
}

func (h *handler) diff(w http.ResponseWriter, r *http.Request) {
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
	in, err := h.svc.Incident(r.Context(), p, id)
	if err != nil {
		h.fail(w, r, err, "see incidents")
		return
	}
	from, to, changes, err := h.svc.FactsDiff(r.Context(), p, id, nums[0], nums[1])
	if err != nil {
		h.fail(w, r, err, "see incidents")
		return
	}
	vs, err := h.svc.FactsVersions(r.Context(), p, id)
	if err != nil {
		h.fail(w, r, err, "see incidents")
		return
	}
	h.render(w, r, http.StatusOK, "diff", page{Title: fmt.Sprintf("Version %d and %d compared: %s", from.Version, to.Version, in.Title), Nav: "incidents",
		Data: diffPage{Incident: in, From: from, To: to, Changes: changes, Versions: vs}})
}
