package server_test

import (
	"compress/gzip"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/candorhq/candor/internal/public"
	"github.com/candorhq/candor/internal/server"
	"github.com/candorhq/candor/internal/status/statustest"
)

// TestPublicListenerAnswersLikeNetHTTP: the public listener's fast path
// (fasthttp, from memory) and the net/http path give the same status,
// body and headers for every public document, in each language, plain and
// gzipped, and agree on 304s; what the fast path does not serve itself
// (forms, ?lang=, 404s) goes to the net/http handler.
func TestPublicListenerAnswersLikeNetHTTP(t *testing.T) {
	site := public.NewSite(public.Options{})
	snap := statustest.Example(time.Now())
	if err := site.Publish(snap); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	slow := server.PublicHandler(site, log, prometheus.NewRegistry())
	ref := httptest.NewServer(slow)
	t.Cleanup(ref.Close)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	reg := prometheus.NewRegistry()
	go func() { done <- server.ServePublic(ctx, server.NewPublicServer(site, slow, log, reg), l, time.Second) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	fast := "http://" + l.Addr().String()
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	fetch := func(base, method, path string, hdr ...string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	paths := []string{"/status", "/status/", "/status/incidents/7", "/status/incidents/3", "/status/feed.atom", "/status/feed.rss", "/status/status.css",
		"/banner.js", "/api/v1/alert", "/api/v1/quiet-period", "/api/v2/summary.json", "/api/v2/status.json", "/api/v2/components.json",
		"/api/v2/incidents.json", "/api/v2/incidents/unresolved.json", "/api/v2/scheduled-maintenances.json",
		"/api/v2/scheduled-maintenances/upcoming.json", "/api/v2/scheduled-maintenances/active.json",
		"/status/nope", "/status?lang=fr", "/", "/api/v2/nope.json"}
	headers := []string{"Content-Type", "Content-Length", "Cache-Control", "Etag", "Last-Modified", "Content-Language", "Content-Encoding",
		"Content-Security-Policy", "Access-Control-Allow-Origin", "Cross-Origin-Resource-Policy", "X-Content-Type-Options", "Referrer-Policy", "Location"}
	variants := [][]string{nil, {"Accept-Language", "fr-CA,fr;q=0.9"}, {"Accept-Encoding", "gzip, deflate"}, {"Accept-Language", "de", "Accept-Encoding", "gzip"}}
	for _, path := range paths {
		for _, v := range variants {
			for _, method := range []string{"GET", "HEAD"} {
				want, wantBody := fetch(ref.URL, method, path, v...)
				got, gotBody := fetch(fast, method, path, v...)
				what := method + " " + path + " " + strings.Join(v, "=")
				if got.StatusCode != want.StatusCode || gotBody != wantBody {
					t.Errorf("%s: fast path %d (%d bytes), net/http %d (%d bytes)", what, got.StatusCode, len(gotBody), want.StatusCode, len(wantBody))
					continue
				}
				for _, h := range headers {
					if g, w := got.Header.Get(h), want.Header.Get(h); g != w && !(h == "Content-Length" && method == "HEAD") {
						t.Errorf("%s: %s is %q on the fast path, %q on net/http", what, h, g, w)
					}
				}
				if want.StatusCode == 200 && !sameVary(got.Header.Values("Vary"), want.Header.Values("Vary")) {
					t.Errorf("%s: Vary %q on the fast path, %q on net/http", what, got.Header.Values("Vary"), want.Header.Values("Vary"))
				}
				if got.Header.Get("Content-Encoding") == "gzip" && method == "GET" {
					zr, err := gzip.NewReader(strings.NewReader(gotBody))
					if err != nil {
						t.Fatalf("%s: %v", what, err)
					}
					if _, err := io.ReadAll(zr); err != nil {
						t.Fatalf("%s: %v", what, err)
					}
				}
				if got.StatusCode == 200 {
					again, _ := fetch(fast, "GET", path, append(v, "If-None-Match", got.Header.Get("Etag"))...)
					if again.StatusCode != 304 {
						t.Errorf("%s with its ETag: %d, want 304", what, again.StatusCode)
					}
				}
			}
		}
	}
	// Most of those were served from memory by the fast path itself.
	mfs, _ := reg.Gather()
	var servedFast float64
	for _, mf := range mfs {
		if mf.GetName() == "candor_public_fast_responses_total" {
			for _, m := range mf.GetMetric() {
				servedFast += m.GetCounter().GetValue()
			}
		}
	}
	if servedFast < 100 {
		t.Errorf("the fast path served %v responses itself; want most of the %d", servedFast, len(paths)*len(variants)*2)
	}
	// A form post goes through to the net/http handler (no subscriber
	// here: 503, the same answer as net/http gives).
	resp, err := client.PostForm(fast+"/status/subscribe", map[string][]string{"email": {"a@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("POST /status/subscribe on the fast listener: %d, want 503", resp.StatusCode)
	}
}

// sameVary compares Vary fields as sets of names.
func sameVary(a, b []string) bool {
	set := func(vs []string) map[string]bool {
		m := map[string]bool{}
		for _, v := range vs {
			for _, f := range strings.Split(v, ",") {
				m[strings.ToLower(strings.TrimSpace(f))] = true
			}
		}
		return m
	}
	x, y := set(a), set(b)
	if len(x) != len(y) {
		return false
	}
	for k := range x {
		if !y[k] {
			return false
		}
	}
	return true
}
