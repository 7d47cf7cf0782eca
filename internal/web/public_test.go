package web_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/public"
	"github.com/candorhq/candor/internal/status"
	"github.com/candorhq/candor/internal/store"
	"github.com/candorhq/candor/internal/store/storetest"
	"github.com/candorhq/candor/internal/web"
)

// newPublicEnv is newEnv with a status page whose snapshot a public
// runner keeps current, as candor serve does. Webhooks may reach loopback.
func newPublicEnv(t *testing.T, db *store.DB) (*env, *public.Site) {
	t.Helper()
	site := public.NewSite(public.Options{})
	e := newEnvWith(t, db, web.Options{Public: site})
	e.svc.SetPublic(app.PublicOptions{URL: e.srv.URL + "/status", AllowPrivateWebhooks: true})
	r := e.svc.NewPublicRunner(site, status.Page{Name: "Test", URL: e.srv.URL + "/status", DefaultLocale: "en"})
	if err := r.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	rctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Run(rctx)
	}()
	t.Cleanup(func() { stop(); <-done })
	return e, site
}

// flashOf returns the message a response leaves for the next page.
func flashOf(t *testing.T, r resp) string {
	t.Helper()
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name != "candor_flash" || c.Value == "" {
			continue
		}
		parts := strings.Split(c.Value, ".")
		if len(parts) != 3 {
			t.Fatalf("flash cookie %q", c.Value)
		}
		msg, err := base64.RawURLEncoding.DecodeString(parts[1])
		if err != nil {
			t.Fatal(err)
		}
		return string(msg)
	}
	return ""
}

func publicRoleCases(e *env) []roleCase {
	n := 0
	return []roleCase{
		{"POST /incidents/{id}/updates", approvers, http.StatusSeeOther, 0, func(auth.Role) roleReq {
			return roleReq{path: fmt.Sprintf("/incidents/%d/updates", e.incident().ID), form: updateForm("We are looking into it.")}
		}},
		{"GET /updates/{id}/edit", approvers, http.StatusOK, 0, func(auth.Role) roleReq {
			return roleReq{path: fmt.Sprintf("/updates/%d/edit", e.publishedUpdate().ID)}
		}},
		{"POST /updates/{id}", approvers, http.StatusSeeOther, 0, func(auth.Role) roleReq {
			return roleReq{path: fmt.Sprintf("/updates/%d", e.publishedUpdate().ID), form: url.Values{"body": {"We are investigating; 1,200 cards."}, "reason": {"the number"}}}
		}},
		{"POST /incidents/{id}/components", approvers, http.StatusSeeOther, 0, func(auth.Role) roleReq {
			n++
			c := e.component(fmt.Sprintf("Service %d", n))
			return roleReq{path: fmt.Sprintf("/incidents/%d/components", e.incident().ID), form: url.Values{fmt.Sprintf("component.%d", c.ID): {"major_outage"}}}
		}},
		{"GET /public", everyone, http.StatusOK, 0, func(auth.Role) roleReq { return roleReq{path: "/public"} }},
		{"POST /public/quiet", admins, http.StatusSeeOther, 0, func(auth.Role) roleReq {
			return roleReq{path: "/public/quiet", form: url.Values{"on": {"yes"}, "reason": {"Breach under investigation"}}}
		}},
		{"POST /public/components", admins, http.StatusSeeOther, 0, func(auth.Role) roleReq {
			n++
			return roleReq{path: "/public/components", form: url.Values{"name": {fmt.Sprintf("Checkout %d", n)}, "description": {"Paying for orders"}}}
		}},
		{"POST /public/quiet-webhooks", admins, http.StatusOK, 0, func(auth.Role) roleReq {
			n++
			return roleReq{path: "/public/quiet-webhooks", form: url.Values{"owner": {"marketing@example.com"}, "url": {fmt.Sprintf("https://marketing.example.com/hooks/%d", n)}}}
		}},
	}
}

func TestPublicPage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e, _ := newPublicEnv(t, db)
		e.component("Customer login")

		admin := e.as(auth.Admin, "GET", "/public", nil)
		if admin.status != http.StatusOK {
			t.Fatalf("admin: status %d", admin.status)
		}
		mustContain(t, admin.body, `href="/public" aria-current="page">Status page</a>`, `id="h-quiet"`, "Off", "Marketing may send as usual",
			"How a marketing system should use it", "GET /api/v1/quiet-period", "hold every promotion",
			"Customer login", "Operational", "Email subscribers", "Webhook subscribers", "<meter",
			`action="/public/quiet"`, `action="/public/components"`, `action="/public/quiet-webhooks"`, "Recent webhook deliveries")

		viewer := e.as(auth.Viewer, "GET", "/public", nil)
		if viewer.status != http.StatusOK {
			t.Fatalf("viewer: status %d", viewer.status)
		}
		mustContain(t, viewer.body, `id="h-quiet"`, "Off", "Customer login", "Email subscribers", "How a marketing system should use it")
		for _, hidden := range []string{"<form method=\"post\" action=\"/public", "Recent webhook deliveries", "Register the system"} {
			if strings.Contains(viewer.body, hidden) {
				t.Errorf("the viewer's page contains %q", hidden)
			}
		}
		for _, path := range []string{"/public/quiet", "/public/components", "/public/quiet-webhooks"} {
			before := e.auditCount()
			got := e.as(auth.Viewer, "POST", path, url.Values{"on": {"yes"}, "reason": {"sneaky"}, "name": {"Sneaky"}, "owner": {"x@example.com"}, "url": {"https://x.example.com/"}})
			if got.status != http.StatusForbidden || !strings.Contains(got.body, "Your role (viewer) cannot") {
				t.Errorf("viewer POST %s: status %d, want 403", path, got.status)
			}
			if e.auditCount() != before {
				t.Errorf("viewer POST %s changed something", path)
			}
		}

		t.Run("services", func(t *testing.T) {
			got := e.as(auth.Admin, "POST", "/public/components", url.Values{"name": {"Mobile app"}, "description": {"iOS and Android"}})
			if got.status != http.StatusSeeOther || got.location != "/public#h-services" {
				t.Fatalf("status %d to %q", got.status, got.location)
			}
			if msg := flashOf(t, got); !strings.Contains(msg, `Added the service "Mobile app"`) {
				t.Errorf("flash %q", msg)
			}
			mustContain(t, e.as(auth.Viewer, "GET", "/public", nil).body, "Mobile app", "iOS and Android")
			before := e.auditCount()
			got = e.as(auth.Admin, "POST", "/public/components", url.Values{"name": {"mobile APP"}})
			if got.status != http.StatusUnprocessableEntity {
				t.Fatalf("a duplicate: status %d, want 422", got.status)
			}
			mustContain(t, got.body, `id="f-name-err"`, "already exists", `value="mobile APP"`)
			if e.auditCount() != before {
				t.Errorf("a refused service was stored")
			}
		})
	})
}

func TestQuietPeriodSwitch(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e, site := newPublicEnv(t, db)
		if strings.Contains(e.as(auth.Viewer, "GET", "/", nil).body, "quiet-bar") {
			t.Fatalf("the header shows a quiet period before any")
		}

		got := e.as(auth.Admin, "POST", "/public/quiet", url.Values{"on": {"yes"}, "reason": {"  "}})
		if got.status != http.StatusUnprocessableEntity {
			t.Fatalf("no reason: status %d, want 422", got.status)
		}
		mustContain(t, got.body, `id="f-reason-err"`, "Say why", `aria-invalid="true"`)

		got = e.as(auth.Admin, "POST", "/public/quiet", url.Values{"on": {"yes"}, "reason": {"Breach under investigation, not yet public"}})
		if got.status != http.StatusSeeOther || got.location != "/public#h-quiet" {
			t.Fatalf("status %d to %q", got.status, got.location)
		}
		if s := site.Snapshot(); s == nil || !s.Quiet.Active {
			t.Fatalf("the status page does not have the quiet period on after the redirect")
		}
		page := e.as(auth.Viewer, "GET", "/public", nil).body
		mustContain(t, page, `class="badge quiet-badge">On</span>`, "promotions on hold", "Breach under investigation, not yet public", "admin@example.com, by hand")
		for _, path := range []string{"/", "/public", "/lists"} {
			mustContain(t, e.as(auth.Viewer, "GET", path, nil).body, `class="quiet-bar"`, `href="/public#h-quiet"`, "Quiet period on", "promotions on hold")
		}
		admin := e.as(auth.Admin, "GET", "/public", nil).body
		mustContain(t, admin, `id="quiet-off"`)
		if strings.Contains(admin, `id="quiet-on"`) {
			t.Errorf("the page offers to switch on a quiet period that is on")
		}

		got = e.as(auth.Admin, "POST", "/public/quiet", url.Values{"on": {"no"}})
		if got.status != http.StatusSeeOther {
			t.Fatalf("switch off: status %d", got.status)
		}
		if s := site.Snapshot(); s.Quiet.Active {
			t.Fatalf("the quiet period is still on")
		}
		page = e.as(auth.Viewer, "GET", "/public", nil).body
		mustContain(t, page, "Marketing may send as usual")
		if strings.Contains(page, "quiet-bar") {
			t.Errorf("the header still shows the quiet period")
		}

		// A public incident turns it on by itself.
		e.publishedUpdate()
		waitFor(t, func() bool { s := site.Snapshot(); return s != nil && s.Quiet.Active })
		page = e.as(auth.Admin, "GET", "/public", nil).body
		mustContain(t, page, "promotions on hold", "Candor, because an incident is public", `id="quiet-on"`, `class="quiet-bar"`)
	})
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !ok(); {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// receiver records the webhooks it is sent.
type receiver struct {
	mu     sync.Mutex
	bodies []string
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	rc.bodies = append(rc.bodies, r.Header.Get("webhook-signature")+" "+string(b))
	rc.mu.Unlock()
}

// received reports whether a signed webhook of event arrived.
func (rc *receiver) received(event string) bool {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, b := range rc.bodies {
		if strings.HasPrefix(b, "v1,") && strings.Contains(b, `"event_type":"`+event+`"`) {
			return true
		}
	}
	return false
}

func TestQuietWebhook(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e, _ := newPublicEnv(t, db)
		rc := &receiver{}
		hook := httptest.NewServer(rc)
		t.Cleanup(hook.Close)

		for _, c := range []struct{ owner, url, field, word string }{
			{"not an address", hook.URL, "owner", "not an address"},
			{"marketing@example.com", "ftp://marketing.example.com/", "url", "https://"},
		} {
			got := e.as(auth.Admin, "POST", "/public/quiet-webhooks", url.Values{"owner": {c.owner}, "url": {c.url}})
			if got.status != http.StatusUnprocessableEntity {
				t.Fatalf("%s: status %d, want 422", c.field, got.status)
			}
			mustContain(t, got.body, `id="f-`+c.field+`-err"`, c.word, `value="`+c.url+`"`)
		}
		if subs, _ := e.svc.Subscribers(ctx, auth.CLI, store.SubscriberQuiet); len(subs) != 0 {
			t.Fatalf("a refused registration stored %d systems", len(subs))
		}

		got := e.as(auth.Admin, "POST", "/public/quiet-webhooks", url.Values{"owner": {"Marketing@Example.com"}, "url": {hook.URL + "/candor"}})
		if got.status != http.StatusOK {
			t.Fatalf("status %d; body:\n%s", got.status, snippet(got.body))
		}
		subs, err := db.FindSubscribers(ctx, store.SubscriberQuiet, "")
		if err != nil || len(subs) != 1 || subs[0].Secret == "" {
			t.Fatalf("stored %+v, %v", subs, err)
		}
		mustContain(t, html.UnescapeString(got.body), "System registered", "shown only once", `id="f-secret"`, `value="`+subs[0].Secret+`"`, hook.URL+"/candor", "marketing@example.com")
		if got.header.Get("Cache-Control") != "no-store" {
			t.Errorf("the secret page may be cached: %q", got.header.Get("Cache-Control"))
		}

		page := e.as(auth.Admin, "GET", "/public", nil).body
		mustContain(t, page, hook.URL+"/candor", "Quiet period", "substate-confirmed")
		if strings.Contains(html.UnescapeString(page), subs[0].Secret) {
			t.Errorf("the status page settings show the secret again")
		}

		if got := e.as(auth.Admin, "POST", "/public/quiet", url.Values{"on": {"yes"}, "reason": {"Breach under investigation"}}); got.status != http.StatusSeeOther {
			t.Fatalf("switch on: status %d", got.status)
		}
		waitFor(t, func() bool {
			ds, _ := db.FindWebhookDeliveries(ctx, 0, 10)
			for _, d := range ds {
				if d.EventType == "quiet_period.started" && d.State == "sent" {
					return true
				}
			}
			return false
		})
		page = e.as(auth.Admin, "GET", "/public", nil).body
		mustContain(t, page, "<code>quiet_period.started</code>", "wstate-sent", "HTTP 200")
		if !rc.received("quiet_period.started") {
			t.Errorf("the system was not sent a signed quiet_period.started")
		}
	})
}
