package api_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/incident"
	"github.com/candorhq/candor/internal/public"
	"github.com/candorhq/candor/internal/server"
	"github.com/candorhq/candor/internal/status"
	"github.com/candorhq/candor/internal/store"
	"github.com/candorhq/candor/internal/store/storetest"
)

func (e *env) update() status.Update {
	e.t.Helper()
	u, err := e.svc.PublishUpdate(ctx, auth.CLI, e.incident().ID, app.UpdateRequest{Status: incident.Investigating, Body: "We are looking into it."})
	if err != nil {
		e.t.Fatal(err)
	}
	return u
}

func (e *env) component() status.Component {
	e.t.Helper()
	e.pbs++
	c, err := e.svc.CreateComponent(ctx, auth.CLI, status.Component{Name: "Customer portal " + strings.Repeat("I", e.pbs)})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// get fetches a public path without credentials.
func get(t *testing.T, url string, header ...string) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// TestPublicSideOverTheAPI publishes an update through the API and reads it
// back from every public endpoint, which answer without credentials and
// from memory (304 on a matching ETag).
func TestPublicSideOverTheAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		site := public.NewSite(public.Options{})
		srv := httptest.NewServer(server.Handler(e.svc, slog.New(slog.DiscardHandler), server.Options{Public: site}))
		t.Cleanup(srv.Close)
		e.srv = srv
		r := e.svc.NewPublicRunner(site, status.Page{ID: "page1", Name: "Example", URL: srv.URL + "/status", DefaultLocale: "en", Locales: []string{"fr"}})
		if err := r.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		in := e.incident()
		c := e.component()
		if st, body := e.do(auth.Approver, "PUT", "/incidents/"+itoa(in.ID)+"/components", map[string]any{"components": []map[string]any{{"id": c.ID, "status": "partial_outage"}}}); st != 200 {
			t.Fatalf("components: %d %v", st, body)
		}
		st, body := e.do(auth.Approver, "POST", "/incidents/"+itoa(in.ID)+"/updates", map[string]any{
			"status": "identified", "body": "We found how they got in.", "what_to_do": "Watch your card statements.",
			"translations": map[string]any{"fr": map[string]any{"body": "Nous avons trouvé comment ils sont entrés."}}, "notify": false})
		if st != 201 {
			t.Fatalf("publish: %d %v", st, body)
		}
		if st, body := e.do(auth.Editor, "POST", "/incidents/"+itoa(in.ID)+"/updates", map[string]any{"status": "identified", "body": "x"}); st != 403 {
			t.Fatalf("editor publish: %d %v, want 403", st, body)
		}
		if st, body := e.do(auth.Approver, "POST", "/incidents/"+itoa(in.ID)+"/updates", map[string]any{"status": "sideways", "body": ""}); st != 422 || !strings.Contains(body["error"].(map[string]any)["message"].(string), "status") {
			t.Fatalf("bad update: %d %v, want 422 naming status", st, body)
		}
		if err := r.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		resp, raw := get(t, srv.URL+"/api/v2/summary.json")
		var sum struct {
			Status    struct{ Indicator string } `json:"status"`
			Incidents []struct {
				Name, Status, Impact string
				Updates              []struct{ Body string } `json:"incident_updates"`
			} `json:"incidents"`
			Components []struct{ Name, Status string } `json:"components"`
		}
		if err := json.Unmarshal(raw, &sum); err != nil || resp.StatusCode != 200 {
			t.Fatalf("summary: %d %v %s", resp.StatusCode, err, raw)
		}
		if len(sum.Incidents) != 1 || sum.Incidents[0].Status != "identified" || sum.Incidents[0].Updates[0].Body != "We found how they got in." || sum.Incidents[0].Impact != "major" {
			t.Fatalf("summary incidents: %+v", sum.Incidents)
		}
		if len(sum.Components) != 1 || sum.Components[0].Status != "partial_outage" || sum.Status.Indicator != "major" {
			t.Fatalf("summary components/status: %+v %+v", sum.Components, sum.Status)
		}
		etag := resp.Header.Get("ETag")
		if resp, _ := get(t, srv.URL+"/api/v2/summary.json", "If-None-Match", etag); resp.StatusCode != 304 {
			t.Fatalf("conditional GET: %d, want 304", resp.StatusCode)
		}
		resp, raw = get(t, srv.URL+"/status", "Accept-Language", "fr-CH, fr;q=0.9, en;q=0.5")
		if resp.StatusCode != 200 || !strings.Contains(string(raw), "Nous avons trouvé") || resp.Header.Get("Content-Language") != "fr" {
			t.Fatalf("status page in French: %d %q", resp.StatusCode, resp.Header.Get("Content-Language"))
		}
		resp, raw = get(t, srv.URL+"/api/v1/alert")
		if resp.StatusCode != 200 || !strings.Contains(string(raw), `"active":true`) || resp.Header.Get("ETag") == "" {
			t.Fatalf("alert: %d %s", resp.StatusCode, raw)
		}
		resp, raw = get(t, srv.URL+"/api/v1/quiet-period")
		if resp.StatusCode != 200 || !strings.Contains(string(raw), `"active":true`) {
			t.Fatalf("quiet period: %d %s", resp.StatusCode, raw)
		}
		// Writing the quiet period stays behind authentication.
		if st, _ := e.do("", "PUT", "/quiet-period", map[string]any{"active": true, "reason": "x"}); st != 401 {
			t.Fatalf("anonymous PUT /quiet-period: %d, want 401", st)
		}
		// A correction shows as edited, with the earlier text kept.
		list, _ := e.svc.Updates(ctx, auth.CLI, in.ID)
		if st, body := e.do(auth.Approver, "PATCH", "/updates/"+itoa(list[0].ID), map[string]any{"body": "We found how they got in: a stolen password.", "reason": "More precise"}); st != 200 || body["edited"] != true {
			t.Fatalf("edit: %d %v", st, body)
		}
		if st, body := e.do(auth.Approver, "PATCH", "/updates/"+itoa(list[0].ID), map[string]any{"body": "silent change"}); st != 422 {
			t.Fatalf("edit without reason: %d %v, want 422", st, body)
		}
		if err := r.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if _, raw := get(t, srv.URL+"/api/v2/incidents.json"); !strings.Contains(string(raw), "a stolen password") {
			t.Fatalf("incidents.json lacks the correction: %s", raw)
		}
		// A scheduled update stays private until its time.
		if st, body := e.do(auth.Approver, "POST", "/incidents/"+itoa(in.ID)+"/updates", map[string]any{"status": "contained", "body": "Contained tomorrow.",
			"publish_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}); st != 201 || body["published"] != false {
			t.Fatalf("scheduled: %d %v", st, body)
		}
		r.Refresh(ctx)
		if _, raw := get(t, srv.URL+"/api/v2/incidents.json"); strings.Contains(string(raw), "Contained tomorrow") {
			t.Fatal("a scheduled update is public before its time")
		}
	})
}

func itoa(n int64) string { return strings.TrimSpace(strings.Replace(jsonNum(n), "\n", "", -1)) }

func jsonNum(n int64) string { b, _ := json.Marshal(n); return string(b) }
