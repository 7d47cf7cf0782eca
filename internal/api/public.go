package api

import (
	"net/http"
	"time"

	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/incident"
	"github.com/candorhq/candor/internal/status"
	"github.com/candorhq/candor/internal/store"
)

// publicRoutes manage what the public side shows. (The public side's own
// read endpoints — /api/v1/alert, GET /api/v1/quiet-period, /api/v2/… —
// are served from memory by package public, without authentication.)
var publicRoutes = []Route{
	{"GET", "/incidents/{id}/updates"},
	{"POST", "/incidents/{id}/updates"},
	{"GET", "/updates/{id}"},
	{"PATCH", "/updates/{id}"},
	{"PUT", "/incidents/{id}/components"},
	{"GET", "/components"},
	{"POST", "/components"},
	{"PUT", "/quiet-period"},
	{"GET", "/subscribers"},
	{"POST", "/quiet-webhooks"},
	{"GET", "/webhook-deliveries"},
}

func (h *handler) publicHandlers() map[string]func(http.ResponseWriter, *http.Request, auth.Principal) (int, any, error) {
	return map[string]func(http.ResponseWriter, *http.Request, auth.Principal) (int, any, error){
		"GET /incidents/{id}/updates":    h.listUpdates,
		"POST /incidents/{id}/updates":   h.publishUpdate,
		"GET /updates/{id}":              h.getUpdate,
		"PATCH /updates/{id}":            h.editUpdate,
		"PUT /incidents/{id}/components": h.setIncidentComponents,
		"GET /components":                h.listComponents,
		"POST /components":               h.createComponent,
		"PUT /quiet-period":              h.setQuietPeriod,
		"GET /subscribers":               h.listSubscribers,
		"POST /quiet-webhooks":           h.registerQuietWebhook,
		"GET /webhook-deliveries":        h.listWebhookDeliveries,
	}
}

type updateJSON struct {
	ID           int64                  `json:"id"`
	IncidentID   int64                  `json:"incident_id"`
	Status       incident.State         `json:"status"`
	Body         string                 `json:"body"`
	WhatToDo     string                 `json:"what_to_do"`
	Translations map[string]status.Text `json:"translations"`
	DisplayAt    time.Time              `json:"display_at"`
	PublishAt    time.Time              `json:"publish_at"`
	Published    bool                   `json:"published"`
	Notify       bool                   `json:"notify"`
	Notified     bool                   `json:"notified"`
	NoticeID     int64                  `json:"notice_id,omitempty"`
	Edited       bool                   `json:"edited"`
	Revisions    []status.Revision      `json:"revisions"`
	Author       string                 `json:"author"`
	CreatedAt    time.Time              `json:"created_at"`
	UpdatedAt    time.Time              `json:"updated_at"`
}

func updateView(u store.UpdateInfo, now time.Time) updateJSON {
	tr, revs := u.Translations, u.Revisions
	if tr == nil {
		tr = map[string]status.Text{}
	}
	if revs == nil {
		revs = []status.Revision{}
	}
	return updateJSON{ID: u.ID, IncidentID: u.IncidentID, Status: u.Status, Body: u.Body, WhatToDo: u.WhatToDo, Translations: tr,
		DisplayAt: u.DisplayAt, PublishAt: u.PublishAt, Published: u.Published(now), Notify: u.Notify, Notified: u.Notified, NoticeID: u.NoticeID,
		Edited: u.Edited, Revisions: revs, Author: u.Author, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt}
}

func (h *handler) listUpdates(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	if _, err := h.svc.Incident(r.Context(), p, id); err != nil {
		return 0, nil, err
	}
	us, err := h.svc.Updates(r.Context(), p, id)
	if err != nil {
		return 0, nil, err
	}
	now := h.svc.DB().Now()
	out := make([]updateJSON, len(us))
	for i, u := range us {
		out[i] = updateView(u, now)
	}
	return http.StatusOK, newPage(out, 0), nil
}

func (h *handler) publishUpdate(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	var req app.UpdateRequest
	if err := decode(w, r, &req); err != nil {
		return 0, nil, err
	}
	u, err := h.svc.PublishUpdate(r.Context(), p, id, req)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, updateView(store.UpdateInfo{Update: u}, h.svc.DB().Now()), nil
}

func (h *handler) getUpdate(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	u, err := h.svc.Update(r.Context(), p, id)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, updateView(u, h.svc.DB().Now()), nil
}

func (h *handler) editUpdate(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	var req app.EditRequest
	if err := decode(w, r, &req); err != nil {
		return 0, nil, err
	}
	if _, err := h.svc.EditUpdate(r.Context(), p, id, req); err != nil {
		return 0, nil, err
	}
	u, err := h.svc.Update(r.Context(), p, id)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, updateView(u, h.svc.DB().Now()), nil
}

type componentJSON struct {
	ID          int64                  `json:"id"`
	Name        string                 `json:"name"`
	Description string                 `json:"description"`
	Position    int                    `json:"position"`
	Status      status.ComponentStatus `json:"status,omitempty"`
}

func (h *handler) listComponents(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	cs, err := h.svc.Components(r.Context(), p)
	if err != nil {
		return 0, nil, err
	}
	out := make([]componentJSON, len(cs))
	for i, c := range cs {
		out[i] = componentJSON{ID: c.ID, Name: c.Name, Description: c.Description, Position: c.Position}
	}
	return http.StatusOK, newPage(out, 0), nil
}

func (h *handler) createComponent(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	var req componentJSON
	if err := decode(w, r, &req); err != nil {
		return 0, nil, err
	}
	c, err := h.svc.CreateComponent(r.Context(), p, status.Component{Name: req.Name, Description: req.Description, Position: req.Position})
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, componentJSON{ID: c.ID, Name: c.Name, Description: c.Description, Position: c.Position}, nil
}

func (h *handler) setIncidentComponents(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	id, err := pathID(r, "id")
	if err != nil {
		return 0, nil, err
	}
	var req struct {
		Components []struct {
			ID     int64                  `json:"id"`
			Status status.ComponentStatus `json:"status"`
		} `json:"components"`
	}
	if err := decode(w, r, &req); err != nil {
		return 0, nil, err
	}
	as := make([]status.Affected, len(req.Components))
	for i, c := range req.Components {
		as[i] = status.Affected{Component: status.Component{ID: c.ID}, Status: c.Status}
	}
	if err := h.svc.SetIncidentComponents(r.Context(), p, id, as); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"components": req.Components}, nil
}

func (h *handler) setQuietPeriod(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	var req struct {
		Active *bool  `json:"active"`
		Reason string `json:"reason"`
	}
	if err := decode(w, r, &req); err != nil {
		return 0, nil, err
	}
	if req.Active == nil {
		return 0, nil, apperr.Invalid("active", "say {\"active\": true, \"reason\": \"…\"} or {\"active\": false}")
	}
	if err := h.svc.SetQuietPeriod(r.Context(), p, *req.Active, req.Reason); err != nil {
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"manual": *req.Active, "reason": req.Reason}, nil
}

type subscriberJSON struct {
	ID          int64      `json:"id"`
	Kind        string     `json:"kind"`
	Email       string     `json:"email"`
	URL         string     `json:"url,omitempty"`
	Locale      string     `json:"locale,omitempty"`
	State       string     `json:"state"`
	Failures    int        `json:"failures"`
	LastError   string     `json:"last_error,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	ConfirmedAt *time.Time `json:"confirmed_at"`
	// Secret is shown once, when an admin registers a webhook.
	Secret string `json:"secret,omitempty"`
}

func subscriberView(s store.Subscriber) subscriberJSON {
	out := subscriberJSON{ID: s.ID, Kind: s.Kind, Email: s.Email, URL: s.URL, Locale: s.Locale, State: s.State, Failures: s.Failures,
		LastError: s.LastError, CreatedAt: s.CreatedAt, Secret: s.Secret}
	if !s.ConfirmedAt.IsZero() {
		t := s.ConfirmedAt
		out.ConfirmedAt = &t
	}
	return out
}

func (h *handler) listSubscribers(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	subs, err := h.svc.Subscribers(r.Context(), p, r.URL.Query().Get("kind"))
	if err != nil {
		return 0, nil, err
	}
	out := make([]subscriberJSON, len(subs))
	for i, s := range subs {
		out[i] = subscriberView(s)
	}
	return http.StatusOK, newPage(out, 0), nil
}

func (h *handler) registerQuietWebhook(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	var req struct {
		Owner string `json:"owner"`
		URL   string `json:"url"`
	}
	if err := decode(w, r, &req); err != nil {
		return 0, nil, err
	}
	s, err := h.svc.RegisterQuietWebhook(r.Context(), p, req.Owner, req.URL)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, subscriberView(s), nil
}

type webhookDeliveryJSON struct {
	ID           int64      `json:"id"`
	SubscriberID int64      `json:"subscriber_id"`
	URL          string     `json:"url"`
	EventType    string     `json:"event_type"`
	MsgID        string     `json:"webhook_id"`
	State        string     `json:"state"`
	Attempts     int        `json:"attempts"`
	LastStatus   int        `json:"last_status"`
	LastError    string     `json:"last_error,omitempty"`
	CreatedAt    time.Time  `json:"created_at"`
	SentAt       *time.Time `json:"sent_at"`
}

func (h *handler) listWebhookDeliveries(w http.ResponseWriter, r *http.Request, p auth.Principal) (int, any, error) {
	sub, err := queryInt(r, "subscriber_id")
	if err != nil {
		return 0, nil, err
	}
	ds, err := h.svc.WebhookDeliveries(r.Context(), p, sub)
	if err != nil {
		return 0, nil, err
	}
	out := make([]webhookDeliveryJSON, len(ds))
	for i, d := range ds {
		out[i] = webhookDeliveryJSON{ID: d.ID, SubscriberID: d.SubscriberID, URL: d.URL, EventType: d.EventType, MsgID: d.MsgID, State: d.State,
			Attempts: d.Attempts, LastStatus: d.LastStatus, LastError: d.LastError, CreatedAt: d.CreatedAt}
		if !d.SentAt.IsZero() {
			t := d.SentAt
			out[i].SentAt = &t
		}
	}
	return http.StatusOK, newPage(out, 0), nil
}
