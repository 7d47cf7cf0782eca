package web

import (
	"context"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/status"
	"github.com/candorhq/candor/internal/store"
)

// publicRoutes registers the status page's admin side: posting and
// correcting updates and naming the affected services from an incident,
// and the "Status page" page with the quiet period, the services, the
// subscribers and the systems told about the quiet period.
func (h *handler) publicRoutes(handle func(pattern string, fn func(http.ResponseWriter, *http.Request))) {
	handle("POST /incidents/{id}/updates", h.publishUpdate)
	handle("GET /updates/{id}/edit", h.editUpdateForm)
	handle("POST /updates/{id}", h.saveUpdate)
	handle("POST /incidents/{id}/components", h.setComponents)

	handle("GET /public", h.publicPage)
	handle("POST /public/quiet", h.setQuiet)
	handle("POST /public/components", h.createComponent)
	handle("POST /public/quiet-webhooks", h.registerQuietWebhook)
}

// snapshot is what the public sees now; nil when this process does not
// serve the status page or has not built it yet.
func (h *handler) snapshot() *status.Snapshot {
	if h.opt.Public == nil {
		return nil
	}
	return h.opt.Public.Snapshot()
}

// quietPeriod is the quiet period while it is on, for the layout's
// indicator; nil when it is off or not known here.
func (h *handler) quietPeriod() *status.Quiet {
	if s := h.snapshot(); s != nil && s.Quiet.Active {
		q := s.Quiet
		return &q
	}
	return nil
}

// awaitPublic waits, for a moment, until the status page shows a change
// just made, so that the page the browser is sent to shows it too: the
// public side rebuilds as soon as the service wakes it, within
// milliseconds. Without a public side here, or when it is slow, the page
// shows the older state and the flash message says what was done.
func (h *handler) awaitPublic(ctx context.Context, done func(*status.Snapshot) bool) {
	if h.opt.Public == nil {
		return
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		if s := h.opt.Public.Snapshot(); s != nil && done(s) || time.Now().After(deadline) {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// publicPage is the "Status page" page.
type publicPage struct {
	// Live: this process serves the status page, so the quiet period and
	// the services' states are known.
	Live      bool
	Quiet     status.Quiet
	CanManage bool

	Components []status.Affected
	// Subscribers are counted by kind; the lists are for admins.
	Counts      []subscriberCount
	Subscribers []store.Subscriber
	Deliveries  []store.WebhookDelivery

	// What the forms hold after a refused submission.
	QuietReason   string
	QuietErrors   formErrors
	ComponentName string
	ComponentDesc string
	CompErrors    formErrors
	WebhookOwner  string
	WebhookURL    string
	WebhookErrors formErrors
}

// subscriberCount is one kind of subscriber, counted by state.
type subscriberCount struct {
	Kind, Label string
	States      []stateCount
	Total       int64
}

type stateCount struct {
	State, Label string
	N            int64
	// Max is the largest count on the page, the bars' common scale.
	Max int64
}

var subscriberKinds = []struct{ kind, label string }{
	{store.SubscriberEmail, "Email subscribers"},
	{store.SubscriberWebhook, "Webhook subscribers"},
	{store.SubscriberQuiet, "Systems told about the quiet period"},
}

var subscriberStates = []struct{ state, label string }{
	{store.SubConfirmed, "Confirmed"},
	{store.SubPending, "Waiting for confirmation"},
	{store.SubUnsubscribed, "Unsubscribed"},
	{store.SubDisabled, "Disabled after failures"},
}

func subscriberCounts(m map[string]map[string]int64) []subscriberCount {
	var out []subscriberCount
	var top int64
	for _, k := range subscriberKinds {
		c := subscriberCount{Kind: k.kind, Label: k.label}
		for _, s := range subscriberStates {
			n := m[k.kind][s.state]
			c.States = append(c.States, stateCount{State: s.state, Label: s.label, N: n})
			c.Total += n
			top = max(top, n)
		}
		out = append(out, c)
	}
	for i := range out {
		for j := range out[i].States {
			out[i].States[j].Max = max(top, 1)
		}
	}
	return out
}

// SubscriberLabel names a subscriber kind in words.
func (publicPage) SubscriberLabel(kind string) string {
	switch kind {
	case store.SubscriberWebhook:
		return "Status webhook"
	case store.SubscriberQuiet:
		return "Quiet period"
	}
	return upperFirst(kind)
}

func (h *handler) publicPage(w http.ResponseWriter, r *http.Request) {
	p, ok := h.user(w, r)
	if !ok {
		return
	}
	h.showPublic(w, r, p, http.StatusOK, publicPage{})
}

// showPublic renders the "Status page" page with d's form state.
func (h *handler) showPublic(w http.ResponseWriter, r *http.Request, p auth.Principal, code int, d publicPage) {
	ctx := r.Context()
	d.CanManage = p.Role.Can(auth.ManagePublic)
	// The services come from the database, so one just added is listed
	// even before the status page is rebuilt; their states, from what the
	// public sees.
	cs, err := h.svc.Components(ctx, p)
	if err != nil {
		h.fail(w, r, err, "see the status page")
		return
	}
	now := map[int64]status.ComponentStatus{}
	if s := h.snapshot(); s != nil {
		d.Live, d.Quiet = true, s.Quiet
		for _, a := range s.Components {
			now[a.ID] = a.Status
		}
	}
	for _, c := range cs {
		st := now[c.ID]
		if st == "" && d.Live {
			st = status.Operational
		}
		d.Components = append(d.Components, status.Affected{Component: c, Status: st})
	}
	counts, err := h.svc.SubscriberCounts(ctx, p)
	if err != nil {
		h.fail(w, r, err, "see the status page")
		return
	}
	d.Counts = subscriberCounts(counts)
	if d.CanManage {
		subs, err := h.svc.Subscribers(ctx, p, "")
		if err != nil {
			h.fail(w, r, err, "see the status page")
			return
		}
		// Email subscribers are many and are people: they are counted, not
		// listed. Systems are listed, to see which one is failing.
		d.Subscribers = slices.DeleteFunc(subs, func(s store.Subscriber) bool { return s.Kind == store.SubscriberEmail })
		if d.Deliveries, err = h.svc.WebhookDeliveries(ctx, p, 0); err != nil {
			h.fail(w, r, err, "see the status page")
			return
		}
		if len(d.Deliveries) > 30 {
			d.Deliveries = d.Deliveries[:30]
		}
	}
	h.render(w, r, code, "public", page{Title: "Status page", Nav: "public", Data: d})
}

// setQuiet switches the quiet period on (with a reason) or off by hand.
func (h *handler) setQuiet(w http.ResponseWriter, r *http.Request) {
	p, ok := h.action(w, r)
	if !ok {
		return
	}
	on, reason := r.PostFormValue("on") == "yes", r.PostFormValue("reason")
	err := h.svc.SetQuietPeriod(r.Context(), p, on, reason)
	if apperr.Code(err) == apperr.EINVALID {
		d := publicPage{QuietReason: reason}
		for _, e := range apperr.Flatten(err) {
			d.QuietErrors.add(e.Field, e.Message)
		}
		h.showPublic(w, r, p, http.StatusUnprocessableEntity, d)
		return
	}
	if err != nil {
		h.fail(w, r, err, "switch the quiet period")
		return
	}
	h.log.Info("quiet_period_set", "on", on, "by", p.Label())
	h.awaitPublic(r.Context(), func(s *status.Snapshot) bool { return s.Quiet.Manual == on })
	msg := "The quiet period is on. Registered systems are told now; promotions should stop."
	if !on {
		msg = "You switched the quiet period off. It stays on while an incident is public on the status page."
	}
	h.redirect(w, r, "/public#h-quiet", "ok", msg)
}

// createComponent adds a service to the status page.
func (h *handler) createComponent(w http.ResponseWriter, r *http.Request) {
	p, ok := h.action(w, r)
	if !ok {
		return
	}
	name, desc := r.PostFormValue("name"), r.PostFormValue("description")
	c, err := h.svc.CreateComponent(r.Context(), p, status.Component{Name: name, Description: desc})
	if apperr.Code(err) == apperr.EINVALID {
		d := publicPage{ComponentName: name, ComponentDesc: desc}
		for _, e := range apperr.Flatten(err) {
			d.CompErrors.add(e.Field, e.Message)
		}
		d.CompErrors.sortSummary([]string{"name", "description"})
		h.showPublic(w, r, p, http.StatusUnprocessableEntity, d)
		return
	}
	if err != nil {
		h.fail(w, r, err, "add services to the status page")
		return
	}
	h.awaitPublic(r.Context(), func(s *status.Snapshot) bool {
		return slices.ContainsFunc(s.Components, func(a status.Affected) bool { return a.ID == c.ID })
	})
	h.redirect(w, r, "/public#h-services", "ok", fmt.Sprintf("Added the service %q. Incidents can now name it as affected.", c.Name))
}

// quietWebhookPage shows a new quiet-period webhook's signing secret, once.
type quietWebhookPage struct {
	Subscriber store.Subscriber
	Secret     string
}

// registerQuietWebhook registers a system to be told when the quiet
// period starts and ends, and shows its signing secret once.
func (h *handler) registerQuietWebhook(w http.ResponseWriter, r *http.Request) {
	p, ok := h.action(w, r)
	if !ok {
		return
	}
	owner, url := strings.TrimSpace(r.PostFormValue("owner")), strings.TrimSpace(r.PostFormValue("url"))
	sub, err := h.svc.RegisterQuietWebhook(r.Context(), p, owner, url)
	switch apperr.Code(err) {
	case "":
		h.log.Info("quiet_webhook_registered", "subscriber", sub.ID, "by", p.Label())
		d := quietWebhookPage{Subscriber: sub, Secret: sub.Secret}
		h.render(w, r, http.StatusOK, "quiet_webhook_created", page{Title: "System registered", Nav: "public", Data: d})
	case apperr.EINVALID:
		d := publicPage{WebhookOwner: owner, WebhookURL: url}
		for _, e := range apperr.Flatten(err) {
			d.WebhookErrors.add(e.Field, e.Message)
		}
		d.WebhookErrors.sortSummary([]string{"owner", "url"})
		h.showPublic(w, r, p, http.StatusUnprocessableEntity, d)
	default:
		h.fail(w, r, err, "register systems for the quiet period")
	}
}

// Attrs marks a field that has a hint: the hint describes it and, once the
// field is refused, so does its error (as invalid does for a field without
// a hint).
func (e formErrors) Attrs(field, hintID string) template.HTMLAttr {
	ids := template.HTMLEscapeString(hintID)
	if e.Fields[field] == "" {
		return template.HTMLAttr(`aria-describedby="` + ids + `"`)
	}
	return template.HTMLAttr(`aria-invalid="true" aria-describedby="` + ids + ` ` + template.HTMLEscapeString(fieldID(field)) + `-err"`)
}
