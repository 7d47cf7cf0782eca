package api_test

import (
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/incident"
	"github.com/candorhq/candor/internal/notice"
	"github.com/candorhq/candor/internal/server"
	"github.com/candorhq/candor/internal/store/storetest"
)

// FuzzBodies sends arbitrary bodies to the endpoints that take one. Whatever
// arrives, the API answers with a well-formed JSON error or success, never a
// 500, and a refused body leaves the audit log (and so the data) unchanged.
func FuzzBodies(f *testing.F) {
	for _, s := range []string{
		`{"title":"Card numbers exposed","severity":"critical","facts":{"exposed":["card_number"],"affected_total":15000}}`,
		`{"base_version":1,"reason":"r","facts":{"affected_by_jurisdiction":[{"code":"US-CA","count":3}]}}`,
		`{"state":"contained","note":"n"}`,
		`{"title":"Alert","audience_kind":"affected_customers","channels":["email","sms"],"content":{"subject":"Hi {{.Recipient.Name}}","body":"{{if .Recipient.Exposed \"card_number\"}}card{{end}}","variants":[{"name":"v","segment_id":1,"locale":"fr","subject":"s","body":"b"}]}}`,
		`{"base_version":1,"reason":"r","content":{"subject":"{{.Facts.AffectedCount}}","body":"{{range .Facts.Exposed}}{{.}}{{end}}"}}`,
		`{"version":1,"decision":"approve","overrides":{"point:what_to_do":"ok"}}`, `{"key":"customer-data-breach"}`,
		`{"name":"P","items":[{"title":"T","audience":"press","channels":["email"],"offset":"14h","subject":"s","body":"b"}]}`,
		`{"channel":"email","version":1,"start_at":"2026-11-24T05:00:00Z"}`, `{"reason":"legal wants a look"}`,
		`{"status":"identified","body":"We found it.","what_to_do":"Watch statements.","translations":{"fr":{"body":"Trouvé."}},"publish_at":"2026-11-24T05:00:00Z","display_at":"2026-11-23T05:00:00Z","notify":false}`,
		`{"body":"Corrected.","reason":"typo","translations":{"de-CH":{"body":"x"}}}`, `{"components":[{"id":1,"status":"major_outage"}]}`,
		`{"active":true,"reason":"Breach under investigation"}`, `{"owner":"m@example.com","url":"https://hooks.example.com/q"}`,
		`{"name":"Customer login","description":"Sign-in"}`, `{"translations":{"":{"body":""}}}`,
		`{"title": 1}`, `[]`, `null`, `{"facts":{"discovered_at":"yesterday"}}`, "\x00\xff", `{"a":{"b":{"c":[[[[1]]]]}}}`,
	} {
		f.Add(s)
	}
	db := storetest.SQLite(f)
	log := slog.New(slog.DiscardHandler)
	svc := app.New(db, log, app.Options{})
	u, err := svc.CreateUser(ctx, auth.CLI, auth.NewUser{Email: "ed@example.com", Role: auth.Editor, Password: "correct horse battery"})
	if err != nil {
		f.Fatal(err)
	}
	secret, _, err := svc.CreateToken(ctx, auth.CLI, u.Email, "fuzz", "")
	if err != nil {
		f.Fatal(err)
	}
	if _, err := svc.CreateIncident(ctx, auth.CLI, incident.New{Title: "Fuzz target"}); err != nil {
		f.Fatal(err)
	}
	n, err := svc.CreateNotice(ctx, auth.CLI, notice.New{IncidentID: 1, Title: "Fuzz notice", AudienceKind: "press", Channels: []notice.Channel{"email"},
		Content: notice.Content{Subject: "S", Body: "B"}})
	if err != nil || n.ID != 1 {
		f.Fatal(n, err)
	}
	admin, err := svc.CreateUser(ctx, auth.CLI, auth.NewUser{Email: "ada@example.com", Role: auth.Admin, Password: "correct horse battery"})
	if err != nil {
		f.Fatal(err)
	}
	adminSecret, _, err := svc.CreateToken(ctx, auth.CLI, admin.Email, "fuzz", "")
	if err != nil {
		f.Fatal(err)
	}
	if _, err := svc.PublishUpdate(ctx, auth.CLI, 1, app.UpdateRequest{Status: "investigating", Body: "Looking."}); err != nil {
		f.Fatal(err)
	}
	h := server.Handler(svc, log, server.Options{})
	// The public side's writes, as an admin, so that bodies reach validation.
	adminTargets := []struct{ method, path string }{
		{"POST", "/api/v1/incidents/1/updates"}, {"PATCH", "/api/v1/updates/1"}, {"PUT", "/api/v1/incidents/1/components"},
		{"POST", "/api/v1/components"}, {"PUT", "/api/v1/quiet-period"}, {"POST", "/api/v1/quiet-webhooks"},
	}
	targets := []struct{ method, path string }{
		{"POST", "/api/v1/incidents"}, {"PUT", "/api/v1/incidents/1/facts"}, {"POST", "/api/v1/incidents/1/state"}, {"PATCH", "/api/v1/incidents/1"},
		{"POST", "/api/v1/incidents/1/notices"}, {"PUT", "/api/v1/notices/1"}, {"POST", "/api/v1/notices/1/check"}, {"POST", "/api/v1/notices/1/submit"},
		{"POST", "/api/v1/notices/1/review"}, {"POST", "/api/v1/incidents/1/playbook"}, {"POST", "/api/v1/playbooks"},
		{"POST", "/api/v1/notices/1/releases"}, {"POST", "/api/v1/releases/1/pause"}, {"POST", "/api/v1/releases/1/cancel"},
	}
	f.Fuzz(func(t *testing.T, body string) {
		for i, tg := range append(targets, adminTargets...) {
			req := httptest.NewRequest(tg.method, tg.path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			if i < len(targets) {
				req.Header.Set("Authorization", "Bearer "+secret)
			} else {
				req.Header.Set("Authorization", "Bearer "+adminSecret)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code >= 500 {
				t.Fatalf("%s %s with %q: status %d: %s", tg.method, tg.path, body, rec.Code, rec.Body)
			}
			var out map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
				t.Fatalf("%s %s: reply is not JSON: %s", tg.method, tg.path, rec.Body)
			}
			if rec.Code >= 400 {
				e, ok := out["error"].(map[string]any)
				if !ok || e["code"] == "" || e["message"] == "" {
					t.Fatalf("%s %s: error without code and message: %s", tg.method, tg.path, rec.Body)
				}
			}
		}
		if _, p, err := db.VerifyAudit(ctx); err != nil || p != nil {
			t.Fatalf("audit chain after fuzzed requests: %v %v", err, p)
		}
	})
}
