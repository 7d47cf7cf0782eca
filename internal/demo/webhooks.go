package demo

import (
	"context"
	"encoding/json"
	"html/template"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/store"
	"github.com/candorhq/candor/internal/webhook"
)

// WebhookInbox stands in, in the demo, for the systems that subscribe to
// the status page by webhook: a partner's status bot and linkLINE's
// marketing tool, which holds promotions during the quiet period. It
// checks each request's signature as a real receiver would and lists what
// arrived at /demo/webhooks.
type WebhookInbox struct {
	db *store.DB
	mu sync.Mutex
	// got is newest first.
	got []Received
}

// Received is one request the inbox took.
type Received struct {
	At         time.Time
	Subscriber store.Subscriber
	Event      string
	ID         string
	Verified   bool
	Problem    string
	Body       string
}

// NewWebhookInbox returns an inbox that reads subscribers' secrets from db.
func NewWebhookInbox(db *store.DB) *WebhookInbox { return &WebhookInbox{db: db} }

// SeedSubscribers subscribes a few readers by email (in English, French
// and Spanish), a partner's status bot by webhook, and the marketing tool
// to the quiet period, the last two pointing at the inbox under base
// (http://127.0.0.1:8080/demo/webhooks).
func SeedSubscribers(ctx context.Context, svc *app.Service, base string) error {
	p := auth.System("demo")
	for _, s := range []struct{ addr, locale string }{
		{"jane.doe@subscribers.example", "en"}, {"luc.tremblay@subscribers.example", "fr"}, {"maria.garcia@subscribers.example", "es"},
	} {
		if _, err := svc.ImportSubscriber(ctx, p, store.SubscriberEmail, s.addr, s.locale, ""); err != nil {
			return err
		}
	}
	if _, err := svc.ImportSubscriber(ctx, p, store.SubscriberWebhook, "ops@partner.example", "", base+"/status-bot"); err != nil {
		return err
	}
	_, err := svc.RegisterQuietWebhook(ctx, p, "marketing@linkline.example", base+"/marketing")
	return err
}

// ServeHTTP takes webhooks (POST /demo/webhooks/…) and lists them (GET
// /demo/webhooks).
func (b *WebhookInbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet {
		b.list(w)
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, "use POST", http.StatusMethodNotAllowed)
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	rec := Received{At: time.Now().UTC(), ID: r.Header.Get("webhook-id"), Body: string(body)}
	subs, err := b.db.FindSubscribers(r.Context(), "", "")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	rec.Problem = "no subscription posts to this address"
	for _, s := range subs {
		if s.URL != "http://"+r.Host+r.URL.Path && s.URL != "https://"+r.Host+r.URL.Path {
			continue
		}
		rec.Subscriber = s
		secret, err := webhook.ParseSecret(s.Secret)
		if err == nil {
			err = webhook.Verify(secret, r.Header, body, time.Now(), webhook.DefaultTolerance)
		}
		rec.Verified, rec.Problem = err == nil, ""
		if err != nil {
			rec.Problem = err.Error()
		}
		break
	}
	var ev struct {
		EventType string `json:"event_type"`
	}
	if json.Unmarshal(body, &ev) == nil {
		rec.Event = ev.EventType
	}
	b.mu.Lock()
	b.got = append([]Received{rec}, b.got...)
	if len(b.got) > 200 {
		b.got = b.got[:200]
	}
	b.mu.Unlock()
	if !rec.Verified {
		http.Error(w, rec.Problem, http.StatusUnauthorized)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// Received returns what arrived, newest first.
func (b *WebhookInbox) Received() []Received {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]Received(nil), b.got...)
}

var inboxPage = template.Must(template.New("inbox").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Demo webhook receiver – Candor</title><link rel="stylesheet" href="/static/style.css"></head>
<body><main class="container">
<h1>Demo webhook receiver</h1>
<p>In the demo these addresses stand in for a partner's status bot (<code>/demo/webhooks/status-bot</code>, subscribed to
status page updates) and linkLINE's marketing tool (<code>/demo/webhooks/marketing</code>, told when the quiet period starts
and ends). Each request's Standard Webhooks signature is checked with the subscription's secret, as a real receiver would.
<a href="/">Back to the command center</a>.</p>
{{if not .}}<p>Nothing yet. Publish an update with “Send to subscribers” ticked, or switch the quiet period.</p>{{end}}
<table class="table"><thead><tr><th>Received (UTC)</th><th>For</th><th>Event</th><th>webhook-id</th><th>Signature</th><th>Body</th></tr></thead><tbody>
{{range .}}<tr><td>{{.At.Format "2006-01-02 15:04:05"}}</td><td>{{.Subscriber.URL}}</td><td>{{.Event}}</td><td><code>{{.ID}}</code></td>
<td>{{if .Verified}}valid{{else}}<strong>rejected</strong>: {{.Problem}}{{end}}</td>
<td><details><summary>{{len .Body}} bytes</summary><pre>{{.Body}}</pre></details></td></tr>
{{end}}</tbody></table>
<p><a href="/demo/webhooks">Refresh</a></p>
</main></body></html>`))

func (b *WebhookInbox) list(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	inboxPage.Execute(w, b.Received())
}
