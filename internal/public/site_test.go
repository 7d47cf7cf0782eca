package public_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/public"
	"github.com/candorhq/candor/internal/status/statustest"
)

// recorder is a Subscriber that records what it was asked.
type recorder struct {
	mu    sync.Mutex
	calls []string
}

func (r *recorder) add(s string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, s)
	return nil
}
func (r *recorder) Subscribe(_ context.Context, email, locale, hook string) error {
	if !strings.Contains(email, "@") {
		return apperr.Invalid("email", "%q is not an email address", email)
	}
	return r.add("subscribe " + email + " " + locale + " " + hook)
}
func (r *recorder) Confirm(_ context.Context, tok string) error { return r.add("confirm " + tok) }
func (r *recorder) Unsubscribe(_ context.Context, tok string) error {
	return r.add("unsubscribe " + tok)
}

// TestSubscriptionEndpoints: subscribing is limited per client address; a
// bad address is named; an unsubscribe link's GET only shows a button (mail
// scanners follow links) and the POST — the button, or a mail client's
// RFC 8058 one-click request — unsubscribes.
func TestSubscriptionEndpoints(t *testing.T) {
	rec := &recorder{}
	site := public.NewSite(public.Options{Subscriber: rec})
	if err := site.Publish(statustest.Example(time.Now())); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(site)
	t.Cleanup(srv.Close)
	post := func(path string, form url.Values) (int, string) {
		t.Helper()
		resp, err := http.PostForm(srv.URL+path, form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post("/status/subscribe", url.Values{"email": {"nope"}}); code != 400 || !strings.Contains(body, "is not an email address") {
		t.Fatalf("bad address: %d", code)
	}
	for i := 0; i < 4; i++ {
		if code, _ := post("/status/subscribe", url.Values{"email": {"a@example.com"}, "lang": {"fr"}}); code != 200 {
			t.Fatalf("subscription %d: %d", i+2, code)
		}
	}
	code, body := post("/status/subscribe", url.Values{"email": {"b@example.com"}})
	if code != http.StatusTooManyRequests || !strings.Contains(body, "Try again") {
		t.Fatalf("6th subscription from one address in a minute: %d, want 429", code)
	}
	resp, err := http.Get(srv.URL + "/status/unsubscribe?t=TOKEN1")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), `name="t" value="TOKEN1"`) || !strings.Contains(string(page), `method="post"`) {
		t.Fatalf("GET unsubscribe: %d %s", resp.StatusCode, page)
	}
	resp, err = http.Post(srv.URL+"/status/unsubscribe?t=TOKEN1", "application/x-www-form-urlencoded", strings.NewReader("List-Unsubscribe=One-Click"))
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("one-click unsubscribe: %v %v", resp.StatusCode, err)
	}
	resp.Body.Close()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	want := "subscribe a@example.com fr |subscribe a@example.com fr |subscribe a@example.com fr |subscribe a@example.com fr |unsubscribe TOKEN1"
	if got := strings.Join(rec.calls, "|"); got != want {
		t.Fatalf("calls:\n%s\nwant\n%s", got, want)
	}
}

// TestMessagesSpeakTheReadersLanguage: the pages the site answers with
// are in the reader's language, and every language has every message.
func TestMessagesSpeakTheReadersLanguage(t *testing.T) {
	site := public.NewSite(public.Options{Subscriber: &recorder{}})
	if err := site.Publish(statustest.Example(time.Now())); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(site)
	t.Cleanup(srv.Close)
	for lang, want := range map[string]string{"en": "Check your inbox", "fr": "Consultez votre boîte de réception"} {
		resp, err := http.PostForm(srv.URL+"/status/subscribe?lang="+lang, url.Values{"email": {"a@example.com"}, "lang": {lang}})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(b), want) {
			t.Errorf("%s: the answer lacks %q", lang, want)
		}
	}
	resp, err := http.Get(srv.URL + "/status/nope?lang=fr")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 404 || !strings.Contains(string(b), "Page introuvable") {
		t.Errorf("French 404: %d", resp.StatusCode)
	}
}
