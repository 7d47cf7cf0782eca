package app_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/delivery"
	"github.com/candorhq/candor/internal/dispatch"
	"github.com/candorhq/candor/internal/email"
	"github.com/candorhq/candor/internal/email/mailbox"
	"github.com/candorhq/candor/internal/email/smtptest"
	"github.com/candorhq/candor/internal/incident"
	"github.com/candorhq/candor/internal/public"
	"github.com/candorhq/candor/internal/status"
	"github.com/candorhq/candor/internal/store"
	"github.com/candorhq/candor/internal/store/storetest"
	"github.com/candorhq/candor/internal/webhook"
)

// inbox records the transactional mail (confirmations, warnings).
type inbox struct {
	mu   sync.Mutex
	msgs []struct{ to, subject, text string }
}

func (b *inbox) send(_ context.Context, to, subject, text string, _ map[string]string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.msgs = append(b.msgs, struct{ to, subject, text string }{to, subject, text})
	return nil
}

func (b *inbox) last(t *testing.T, to string) string {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := len(b.msgs) - 1; i >= 0; i-- {
		if b.msgs[i].to == to {
			return b.msgs[i].text
		}
	}
	t.Fatalf("no mail to %s", to)
	return ""
}

// receiver is a webhook endpoint that checks every signature.
type receiver struct {
	mu     sync.Mutex
	secret webhook.Secret
	events []map[string]any
	ids    []string
	bad    int
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.secret == nil || webhook.Verify(rc.secret, r.Header, body, time.Now(), webhook.DefaultTolerance) != nil {
		rc.bad++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var ev map[string]any
	json.Unmarshal(body, &ev)
	rc.events = append(rc.events, ev)
	rc.ids = append(rc.ids, r.Header.Get("webhook-id"))
}

func (rc *receiver) setSecret(t *testing.T, s string) {
	sec, err := webhook.ParseSecret(s)
	if err != nil {
		t.Fatal(err)
	}
	rc.mu.Lock()
	rc.secret = sec
	rc.mu.Unlock()
}

func (rc *receiver) eventTypes() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []string
	for _, e := range rc.events {
		out = append(out, e["event_type"].(string))
	}
	return out
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var tokenLink = regexp.MustCompile(`https?://\S+\?t=[A-Za-z0-9_-]+`)
var secretText = regexp.MustCompile(`whsec_[A-Za-z0-9+/=]+`)

// TestUpdateReachesEveryone follows one update from an approver to the
// people and systems that subscribed through the public page: email
// subscribers (double opt-in, in their language, through the delivery
// ledger over real SMTP, with one-click unsubscribe), a webhook subscriber
// (Standard Webhooks signature), and a marketing system told that the
// quiet period started.
func TestUpdateReachesEveryone(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		svc := newService(t, db)
		approver, err := svc.CreateUser(ctx, auth.CLI, auth.NewUser{Email: "ada@example.com", Role: auth.Approver, Password: pw})
		if err != nil {
			t.Fatal(err)
		}
		ada := auth.Principal{UserID: approver.ID, Email: approver.Email, Role: auth.Approver, Via: "session"}
		mail := &inbox{}
		smtp := smtptest.Start(t)
		hooks, quiet := &receiver{}, &receiver{}
		hookSrv, quietSrv := httptest.NewServer(hooks), httptest.NewServer(quiet)
		t.Cleanup(hookSrv.Close)
		t.Cleanup(quietSrv.Close)

		site := public.NewSite(public.Options{Subscriber: svc})
		pub := httptest.NewServer(site)
		t.Cleanup(pub.Close)
		svc.SetPublic(app.PublicOptions{URL: pub.URL + "/status", Mail: mail.send, AllowPrivateWebhooks: true})
		r := svc.NewPublicRunner(site, status.Page{ID: "p1", Name: "Example", URL: pub.URL + "/status", DefaultLocale: "en", Locales: []string{"fr"}})
		r.Poll = 50 * time.Millisecond
		sender := dispatch.NewEmailSender(dispatch.EmailConfig{SMTP: email.Config{Addr: smtp.Addr, Security: "none", HeloName: "candor.test"},
			Connections: 2, From: email.Address{Name: "Example", Addr: "security@example.com"}, Domain: "example.com"}, slog.New(slog.DiscardHandler))
		d := dispatch.New(db, slog.New(slog.DiscardHandler), dispatch.Config{Poll: 20 * time.Millisecond}, svc.PrepareRelease, nil, sender)
		svc.SetDispatcherWake(d.Wake)
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); d.Run(ctx) }()
		go func() { defer wg.Done(); r.Run(ctx) }()
		defer wg.Wait()
		defer cancel()

		form := func(path string, v url.Values) (int, string) {
			t.Helper()
			resp, err := http.PostForm(pub.URL+path, v)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(b)
		}
		follow := func(link string) int {
			t.Helper()
			resp, err := http.Get(link)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		eventually(t, "the first snapshot", func() bool { return site.Snapshot() != nil })

		// Two readers subscribe by email (one in French), one system by
		// webhook; each confirms from the email it got.
		for _, sub := range []url.Values{{"email": {"jane@example.net"}, "lang": {"en"}}, {"email": {"luc@example.net"}, "lang": {"fr"}},
			{"email": {"ops@example.org"}, "webhook_url": {hookSrv.URL + "/hooks"}}} {
			if code, body := form("/status/subscribe", sub); code != 200 || !strings.Contains(body, "Check your inbox") {
				t.Fatalf("subscribe %v: %d %s", sub, code, body)
			}
		}
		if code, body := form("/status/subscribe", url.Values{"email": {"not an address"}}); code != 400 {
			t.Fatalf("bad address: %d %s", code, body)
		}
		// Subscribing again answers the same: nobody learns who subscribed.
		if code, body := form("/status/subscribe", url.Values{"email": {"jane@example.net"}}); code != 200 || !strings.Contains(body, "Check your inbox") {
			t.Fatalf("subscribe twice: %d", code)
		}
		for _, to := range []string{"jane@example.net", "luc@example.net", "ops@example.org"} {
			link := tokenLink.FindString(mail.last(t, to))
			if code := follow(link); code != 200 {
				t.Fatalf("confirm %s (%s): %d", to, link, code)
			}
		}
		hooks.setSecret(t, secretText.FindString(mail.last(t, "ops@example.org")))
		if code := follow(pub.URL + "/status/confirm?t=AAAA"); code != 400 {
			t.Fatalf("a forged confirmation link: %d, want 400", code)
		}
		mq, err := svc.RegisterQuietWebhook(ctx, auth.System("test"), "marketing@example.com", quietSrv.URL+"/quiet")
		if err != nil {
			t.Fatal(err)
		}
		quiet.setSecret(t, mq.Secret)

		in, err := svc.CreateIncident(ctx, ada, incident.New{Title: "Card numbers copied", Severity: incident.Critical})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.PublishUpdate(ctx, ada, in.ID, app.UpdateRequest{Status: incident.Identified, Body: "We found how they got in. {{.Recipient.Name}} stays text.",
			WhatToDo: "Watch your card statements.", Translations: map[string]status.Text{"fr": {Body: "Nous avons trouvé comment ils sont entrés."}}, Notify: true}); err != nil {
			t.Fatal(err)
		}
		byTo := func(addr string) []smtptest.Message {
			var out []smtptest.Message
			for _, m := range smtp.Messages() {
				if len(m.To) == 1 && m.To[0] == addr {
					out = append(out, m)
				}
			}
			return out
		}
		eventually(t, "the update email to both subscribers", func() bool { return len(byTo("jane@example.net")) == 1 && len(byTo("luc@example.net")) == 1 })
		eventually(t, "the webhooks", func() bool {
			return strings.Join(hooks.eventTypes(), ",") == "incident.created" && strings.Join(quiet.eventTypes(), ",") == "quiet_period.started"
		})
		jane, err := mailbox.Parse(byTo("jane@example.net")[0].Data)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(jane.Text, "We found how they got in. {\u200b{.Recipient.Name}\u200b} stays text.") || !strings.Contains(jane.Text, "Watch your card statements") {
			t.Errorf("Jane's email text:\n%s", jane.Text)
		}
		unsub := strings.Trim(byTo("jane@example.net")[0].Header("List-Unsubscribe"), "<>")
		if !strings.HasPrefix(unsub, pub.URL+"/status/unsubscribe?t=") || byTo("jane@example.net")[0].Header("List-Unsubscribe-Post") != "List-Unsubscribe=One-Click" {
			t.Errorf("List-Unsubscribe %q", unsub)
		}
		luc, _ := mailbox.Parse(byTo("luc@example.net")[0].Data)
		if !strings.Contains(luc.Text, "Nous avons trouvé") {
			t.Errorf("Luc (fr) got:\n%s", luc.Text)
		}
		// The email went through the ledger: an approved notice, approved by
		// the approver who published, and its deliveries.
		ns, _ := svc.Notices(ctx, ada, in.ID)
		if len(ns) != 1 || !strings.HasPrefix(ns[0].Title, "Status update to subscribers") {
			t.Fatalf("notices: %+v", ns)
		}
		v, _ := db.FindNoticeVersion(ctx, ns[0].ID, 1)
		if len(v.Reviews) != 1 || v.Reviews[0].ReviewerID != approver.ID {
			t.Errorf("the subscriber email's approval: %+v", v.Reviews)
		}
		// The sink has the message before the worker records it as sent.
		var recs []delivery.Record
		eventually(t, "Jane's ledger row sent", func() bool {
			recs, _ = svc.Deliveries(ctx, ada, store.DeliveryFilter{Address: "jane@example.net"})
			return len(recs) == 1 && recs[0].State == "sent"
		})

		// One-click unsubscribe (RFC 8058): a GET only shows a button, the
		// mail client's POST unsubscribes.
		if code := follow(unsub); code != 200 {
			t.Fatalf("GET unsubscribe: %d", code)
		}
		resp, err := http.Post(unsub, "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("one-click unsubscribe: %v %v", resp.StatusCode, err)
		}
		resp.Body.Close()
		if _, err := svc.PublishUpdate(ctx, ada, in.ID, app.UpdateRequest{Status: incident.Resolved, Body: "All clear.", Notify: true}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the second update email to Luc", func() bool { return len(byTo("luc@example.net")) == 2 })
		eventually(t, "the second webhook and the end of the quiet period", func() bool {
			return strings.Join(hooks.eventTypes(), ",") == "incident.created,incident.updated" && strings.Join(quiet.eventTypes(), ",") == "quiet_period.started,quiet_period.ended"
		})
		if n := len(byTo("jane@example.net")); n != 1 {
			t.Errorf("Jane unsubscribed, yet got %d emails", n)
		}
		if hooks.bad+quiet.bad != 0 {
			t.Errorf("%d webhook requests failed verification", hooks.bad+quiet.bad)
		}
	})
}

// TestFailingWebhookIsDisabled: a webhook that keeps failing is disabled
// after webhook.MaxFailures failures in a row, its queue cancelled, and
// its owner emailed.
func TestFailingWebhookIsDisabled(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		svc := newService(t, db)
		mail := &inbox{}
		var hits sync.Map
		down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Store(r.Header.Get("webhook-id"), true)
			http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		}))
		t.Cleanup(down.Close)
		svc.SetPublic(app.PublicOptions{URL: "http://status.test/status", Mail: mail.send, AllowPrivateWebhooks: true})
		site := public.NewSite(public.Options{})
		r := svc.NewPublicRunner(site, status.Page{ID: "p1", Name: "Example", URL: "http://status.test/status", DefaultLocale: "en"})
		r.Poll = 20 * time.Millisecond
		sub, err := svc.ImportSubscriber(ctx, auth.System("test"), store.SubscriberWebhook, "owner@example.org", "", down.URL+"/hook")
		if err != nil {
			t.Fatal(err)
		}
		// Nine failures already: the next one is the tenth in a row.
		if _, err := db.SQL().ExecContext(ctx, fmt.Sprintf(`UPDATE subscribers SET failures = %d WHERE id = %d`, webhook.MaxFailures-1, sub.ID)); err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{"a", "b"} {
			if _, err := db.EnqueueWebhooks(ctx, store.SubscriberWebhook, "incident.updated", key, func(store.Subscriber) ([]byte, error) { return []byte(`{"event_type":"incident.updated"}`), nil }); err != nil {
				t.Fatal(err)
			}
		}
		done := make(chan struct{})
		go func() { defer close(done); r.Run(ctx) }()
		eventually(t, "the subscription to be disabled", func() bool {
			s, _ := db.FindSubscriberByID(ctx, sub.ID)
			return s.State == store.SubDisabled
		})
		eventually(t, "the owner's warning", func() bool {
			mail.mu.Lock()
			defer mail.mu.Unlock()
			return len(mail.msgs) >= 1
		})
		cancel()
		<-done
		ctx = context.Background()
		if n := len(mail.msgs); n != 1 {
			t.Errorf("the owner got %d warnings, want 1", n)
		}
		if text := mail.last(t, "owner@example.org"); !strings.Contains(text, down.URL+"/hook") || !strings.Contains(text, "503") {
			t.Errorf("the owner's warning:\n%s", text)
		}
		ds, _ := db.FindWebhookDeliveries(ctx, sub.ID, 10)
		states := map[string]int{}
		for _, d := range ds {
			states[d.State]++
		}
		if states["cancelled"] == 0 || states["queued"] != 0 || states["sent"] != 0 {
			t.Errorf("deliveries after disabling: %v", states)
		}
	})
}

// FuzzSubscriptionLinks: a confirmation or unsubscribe link that was not
// made by Candor never confirms or ends anything, and never panics.
func FuzzSubscriptionLinks(f *testing.F) {
	for _, s := range []string{"", "AAAA", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "%%%", "AAAAAAAAAWMAAAAAAAAAAAAAAAAAAAAAAAA", "\x00"} {
		f.Add(s)
	}
	db := storetest.SQLite(f)
	svc := app.New(db, slog.New(slog.DiscardHandler), app.Options{})
	svc.SetPublic(app.PublicOptions{URL: "http://status.test/status", Mail: (&inbox{}).send})
	if err := svc.Subscribe(context.Background(), "jane@example.net", "en", ""); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		if svc.Confirm(context.Background(), tok) == nil || svc.Unsubscribe(context.Background(), tok) == nil {
			t.Fatalf("link %q was accepted", tok)
		}
	})
}
