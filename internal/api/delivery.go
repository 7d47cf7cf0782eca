package api

import (
	"net/http"
	"time"

	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/delivery"
	"github.com/candorhq/candor/internal/store"
)

// deliveryRoutes are the delivery ledger's endpoints.
var deliveryRoutes = []Route{
	{"GET", "/notices/{id}/releases"},
	{"POST", "/notices/{id}/releases"},
	{"GET", "/releases/{id}"},
	{"POST", "/releases/{id}/pause"},
	{"POST", "/releases/{id}/resume"},
	{"POST", "/releases/{id}/cancel"},
	{"GET", "/releases/{id}/deliveries"},
	{"GET", "/deliveries"},
}

func (h *handler) deliveryHandlers() map[string]func(http.ResponseWriter, *http.Request, auth.Principal) (int, any, error) {
	return map[string]func(http.ResponseWriter, *http.Request, auth.Principal) (int, any, error){
		"GET /notices/{id}/releases":    h.listReleases,
		"POST /notices/{id}/releases":   h.createRelease,
		"GET /releases/{id}":            h.getRelease,
		"POST /releases/{id}/pause":     h.pauseRelease,
		"POST /releases/{id}/resume":    h.resumeRelease,
		"POST /releases/{id}/cancel":    h.cancelRelease,
		"GET /releases/{id}/deliveries": h.releaseDeliveries,
		"GET /deliveries":               h.findDeliveries,
	}
}

type releaseJSON struct {
	ID         int64                 `json:"id"`
	NoticeID   int64                 `json:"notice_id"`
	Version    int                   `json:"version"`
	AudienceID int64                 `json:"audience_id"`
	Channel    string                `json:"channel"`
	State      delivery.ReleaseState `json:"state"`
	Reason     string                `json:"reason,omitempty"`
	StateBy    string                `json:"state_by,omitempty"`
	StartAt    time.Time             `json:"start_at"`
	Total      int64                 `json:"total"`
	Counts     map[string]int64      `json:"counts"`
	Percent    float64               `json:"percent"`
	Rate       float64               `json:"rate_per_second"`
	ETASeconds float64               `json:"eta_seconds"`
	CreatedBy  string                `json:"created_by"`
	CreatedAt  time.Time             `json:"created_at"`
	FinishedAt *time.Time            `json:"finished_at"`
}

func releaseView(p delivery.Progress) releaseJSON {
	r := p.Release
	counts := map[string]int64{}
	for _, s := range delivery.States {
		counts[string(s)] = p.Counts[s]
	}
	return releaseJSON{ID: r.ID, NoticeID: r.NoticeID, Version: r.Version, AudienceID: r.AudienceID, Channel: r.Channel, State: r.State,
		Reason: r.Reason, StateBy: r.StateBy, StartAt: r.StartAt, Total: p.Counts.Total(), Counts: counts, Percent: p.Percent(),
		Rate: p.Rate, ETASeconds: p.ETA.Seconds(), CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, FinishedAt: r.FinishedAt}
}

type deliveryJSON struct {
	ID                int64          `json:"id"`
	ReleaseID         int64          `json:"release_id"`
	NoticeID          int64          `json:"notice_id"`
	NoticeTitle       string         `json:"notice_title"`
	Version           int            `json:"version"`
	Channel           string         `json:"channel"`
	RecipientID       int64          `json:"recipient_id"`
	Address           string         `json:"address"`
	Variant           *int           `json:"variant"`
	State             delivery.State `json:"state"`
	Attempts          int            `json:"attempts"`
	LastError         string         `json:"last_error,omitempty"`
	MessageID         string         `json:"message_id,omitempty"`
	ProviderID        string         `json:"provider_id,omitempty"`
	PossibleDuplicate bool           `json:"possible_duplicate"`
	QueuedAt          time.Time      `json:"queued_at"`
	NextAttemptAt     *time.Time     `json:"next_attempt_at,omitempty"`
	FirstAttemptAt    *time.Time     `json:"first_attempt_at"`
	LastAttemptAt     *time.Time     `json:"last_attempt_at"`
	SentAt            *time.Time     `json:"sent_at"`
}

func deliveryView(d delivery.Record) deliveryJSON {
	out := deliveryJSON{ID: d.ID, ReleaseID: d.ReleaseID, NoticeID: d.NoticeID, NoticeTitle: d.NoticeTitle, Version: d.Version, Channel: d.Channel,
		RecipientID: d.RecipientID, Address: d.Address, Variant: d.Variant, State: d.State, Attempts: d.Attempts, LastError: d.LastError,
		MessageID: d.MessageID, ProviderID: d.ProviderID, PossibleDuplicate: d.PossibleDuplicate, QueuedAt: d.QueuedAt,
		FirstAttemptAt: d.FirstAttemptAt, LastAttemptAt: d.LastAttemptAt, SentAt: d.SentAt}
	if d.State == delivery.Deferred && !d.NotBefore.IsZero() {
		nb := d.NotBefore
		out.NextAttemptAt = &nb
	}
	return out
}

func (h *handler) listReleases(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	ps, err := h.svc.Releases(r.Context(), p, id)
	if err != nil {
		return 0, nil, err
	}
	out := make([]releaseJSON, len(ps))
	for i, pr := range ps {
		out[i] = releaseView(pr)
	}
	return http.StatusOK, newPage(out, 0), nil
}

func (h *handler) createRelease(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	var req app.ReleaseRequest
	if err := decode(w, r, &req); err != nil {
		return 0, nil, err
	}
	rel, added, err := h.svc.ReleaseNotice(r.Context(), p, id, req)
	if err != nil {
		return 0, nil, err
	}
	pr, err := h.svc.ReleaseProgress(r.Context(), p, rel.ID)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, struct {
		Release releaseJSON `json:"release"`
		Added   int64       `json:"added"`
	}{releaseView(pr), added}, nil
}

func (h *handler) getRelease(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	pr, err := h.svc.ReleaseProgress(r.Context(), p, id)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, releaseView(pr), nil
}

type reasonBody struct {
	Reason string `json:"reason"`
}

// moveRelease reads a release ID and an optional {"reason": …} body, moves
// the release and answers with its progress.
func (h *handler) moveRelease(w http.ResponseWriter, r *http.Request, p auth.Principal, move func(id int64, reason string) (delivery.Release, error)) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	var b reasonBody
	if r.ContentLength != 0 {
		if err := decode(w, r, &b); err != nil {
			return 0, nil, err
		}
	}
	if _, err := move(id, b.Reason); err != nil {
		return 0, nil, err
	}
	pr, err := h.svc.ReleaseProgress(r.Context(), p, id)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, releaseView(pr), nil
}

func (h *handler) pauseRelease(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	return h.moveRelease(w, r, p, func(id int64, reason string) (delivery.Release, error) {
		return h.svc.PauseRelease(r.Context(), p, id, reason)
	})
}

func (h *handler) resumeRelease(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	return h.moveRelease(w, r, p, func(id int64, _ string) (delivery.Release, error) {
		return h.svc.ResumeRelease(r.Context(), p, id)
	})
}

func (h *handler) cancelRelease(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	return h.moveRelease(w, r, p, func(id int64, reason string) (delivery.Release, error) {
		return h.svc.CancelRelease(r.Context(), p, id, reason)
	})
}

func (h *handler) releaseDeliveries(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	return h.deliveries(r, p, store.DeliveryFilter{ReleaseID: id, State: delivery.State(r.URL.Query().Get("state"))})
}

func (h *handler) findDeliveries(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	return h.deliveries(r, p, store.DeliveryFilter{Address: r.URL.Query().Get("address"), State: delivery.State(r.URL.Query().Get("state"))})
}

func (h *handler) deliveries(r *http.Request, p auth.Principal, f store.DeliveryFilter) (int, any, error) {
	cursor, limit, err := listParams(r)
	if err != nil {
		return 0, nil, err
	}
	f.After, f.Limit = cursor, limit
	ds, err := h.svc.Deliveries(r.Context(), p, f)
	if err != nil {
		return 0, nil, err
	}
	out := make([]deliveryJSON, len(ds))
	for i, d := range ds {
		out[i] = deliveryView(d)
	}
	var next int64
	if len(ds) > 0 && len(ds) == store.ClampLimit(limit) {
		next = ds[len(ds)-1].ID
	}
	return http.StatusOK, newPage(out, next), nil
}
