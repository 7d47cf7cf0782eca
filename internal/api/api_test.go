package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/candorhq/candor/internal/api"
	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/incident"
	"github.com/candorhq/candor/internal/notice"
	"github.com/candorhq/candor/internal/server"
	"github.com/candorhq/candor/internal/store"
	"github.com/candorhq/candor/internal/store/storetest"
)

func TestMain(m *testing.M) { storetest.Main(m) }

var ctx = context.Background()

// env is a running server with one API token per role.
type env struct {
	t      *testing.T
	db     *store.DB
	svc    *app.Service
	srv    *httptest.Server
	tokens map[auth.Role]string
	users  map[auth.Role]auth.User
	pbs    int
}

func newEnv(t *testing.T, db *store.DB) *env {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	svc := app.New(db, log, app.Options{})
	e := &env{t: t, db: db, svc: svc, tokens: map[auth.Role]string{}, users: map[auth.Role]auth.User{}}
	for _, r := range auth.Roles {
		u, err := svc.CreateUser(ctx, auth.CLI, auth.NewUser{Email: string(r) + "@example.com", Role: r, Password: "correct horse battery"})
		if err != nil {
			t.Fatal(err)
		}
		secret, _, err := svc.CreateToken(ctx, auth.CLI, u.Email, "test", r)
		if err != nil {
			t.Fatal(err)
		}
		e.tokens[r], e.users[r] = secret, u
	}
	e.srv = httptest.NewServer(server.Handler(svc, log, server.Options{}))
	t.Cleanup(e.srv.Close)
	return e
}

// do sends a request as role ("" for anonymous) and decodes the JSON reply.
func (e *env) do(role auth.Role, method, path string, body any) (int, map[string]any) {
	e.t.Helper()
	var rd io.Reader
	ct := "application/json"
	if s, ok := body.(string); ok {
		rd = strings.NewReader(s)
	} else if c, ok := body.(csvBody); ok {
		rd, ct = strings.NewReader(string(c)), "text/csv"
	} else if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.srv.URL+"/api/v1"+path, rd)
	if body != nil {
		req.Header.Set("Content-Type", ct)
	}
	if role != "" {
		req.Header.Set("Authorization", "Bearer "+e.tokens[role])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	rct := resp.Header.Get("Content-Type")
	if resp.StatusCode == 200 && strings.HasPrefix(rct, "text/csv") {
		return resp.StatusCode, map[string]any{"csv": string(raw)}
	}
	if !strings.HasPrefix(rct, "application/json") {
		e.t.Fatalf("%s %s: Content-Type %q, want JSON", method, path, rct)
	}
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			e.t.Fatalf("%s %s: reply is not a JSON object: %s", method, path, raw)
		}
	}
	return resp.StatusCode, out
}

func (e *env) incident() incident.Incident {
	e.t.Helper()
	in, err := e.svc.CreateIncident(ctx, auth.CLI, incident.New{Title: "Card numbers exposed", Facts: incident.Facts{AffectedTotal: 15000, Exposed: []incident.DataKind{"card_number"}}})
	if err != nil {
		e.t.Fatal(err)
	}
	return in
}

func (e *env) auditCount() int64 {
	n, p, err := e.db.VerifyAudit(ctx)
	if err != nil || p != nil {
		e.t.Fatalf("audit: %v %v", err, p)
	}
	return n
}

func errCode(body map[string]any) string {
	if e, ok := body["error"].(map[string]any); ok {
		s, _ := e["code"].(string)
		return s
	}
	return ""
}

// TestEveryRouteEnforcesRoles sends every route as every role and checks that
// the server allows exactly the roles that hold the permission, and that a
// refused request changes nothing.
func TestEveryRouteEnforcesRoles(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		read := []auth.Role{auth.Admin, auth.Approver, auth.Editor, auth.Responder, auth.Viewer}
		edit := []auth.Role{auth.Admin, auth.Approver, auth.Editor}
		admin := []auth.Role{auth.Admin}
		approve := []auth.Role{auth.Admin, auth.Approver}
		n := 0
		type req struct {
			path string
			body any
		}
		cases := []struct {
			route   api.Route
			allowed []auth.Role
			status  int
			make    func() req // a fresh, valid request
		}{
			{api.Route{"GET", "/me"}, read, 200, func() req { return req{"/me", nil} }},
			{api.Route{"GET", "/data-kinds"}, read, 200, func() req { return req{"/data-kinds", nil} }},
			{api.Route{"GET", "/incidents"}, read, 200, func() req { return req{"/incidents", nil} }},
			{api.Route{"POST", "/incidents"}, edit, 201, func() req {
				return req{"/incidents", map[string]any{"title": "Phishing of staff accounts", "severity": "high"}}
			}},
			{api.Route{"GET", "/incidents/{id}"}, read, 200, func() req { return req{fmt.Sprintf("/incidents/%d", e.incident().ID), nil} }},
			{api.Route{"PATCH", "/incidents/{id}"}, edit, 200, func() req {
				return req{fmt.Sprintf("/incidents/%d", e.incident().ID), map[string]any{"severity": "critical"}}
			}},
			{api.Route{"POST", "/incidents/{id}/state"}, edit, 200, func() req {
				return req{fmt.Sprintf("/incidents/%d/state", e.incident().ID), map[string]any{"state": "identified"}}
			}},
			{api.Route{"GET", "/incidents/{id}/facts"}, read, 200, func() req { return req{fmt.Sprintf("/incidents/%d/facts", e.incident().ID), nil} }},
			{api.Route{"PUT", "/incidents/{id}/facts"}, edit, 201, func() req {
				return req{fmt.Sprintf("/incidents/%d/facts", e.incident().ID), map[string]any{"base_version": 1, "reason": "exact count",
					"facts": map[string]any{"affected_total": 14872, "exposed": []string{"card_number"}}}}
			}},
			{api.Route{"GET", "/incidents/{id}/facts/versions"}, read, 200, func() req {
				return req{fmt.Sprintf("/incidents/%d/facts/versions", e.incident().ID), nil}
			}},
			{api.Route{"GET", "/incidents/{id}/facts/versions/{version}"}, read, 200, func() req {
				return req{fmt.Sprintf("/incidents/%d/facts/versions/1", e.incident().ID), nil}
			}},
			{api.Route{"GET", "/incidents/{id}/facts/diff"}, read, 200, func() req {
				return req{fmt.Sprintf("/incidents/%d/facts/diff?from=1&to=1", e.incident().ID), nil}
			}},
			{api.Route{"GET", "/incidents/{id}/timeline"}, read, 200, func() req { return req{fmt.Sprintf("/incidents/%d/timeline", e.incident().ID), nil} }},
			{api.Route{"GET", "/incidents/{id}/audit"}, read, 200, func() req { return req{fmt.Sprintf("/incidents/%d/audit", e.incident().ID), nil} }},
			{api.Route{"GET", "/audit"}, admin, 200, func() req { return req{"/audit", nil} }},
			{api.Route{"POST", "/audit/verify"}, admin, 200, func() req { return req{"/audit/verify", map[string]any{}} }},
			{api.Route{"GET", "/users"}, admin, 200, func() req { return req{"/users", nil} }},
			{api.Route{"POST", "/users"}, admin, 201, func() req {
				n++
				return req{"/users", map[string]any{"email": fmt.Sprintf("new%d@example.com", n), "role": "viewer", "password": "a long enough password"}}
			}},
			{api.Route{"GET", "/users/{id}"}, admin, 200, func() req { return req{fmt.Sprintf("/users/%d", e.users[auth.Viewer].ID), nil} }},
			{api.Route{"PATCH", "/users/{id}"}, admin, 200, func() req {
				n++
				return req{fmt.Sprintf("/users/%d", e.users[auth.Viewer].ID), map[string]any{"name": fmt.Sprintf("Vic %d", n)}}
			}},
			{api.Route{"GET", "/tokens"}, admin, 200, func() req { return req{"/tokens", nil} }},
			{api.Route{"POST", "/tokens"}, admin, 201, func() req { return req{"/tokens", map[string]any{"email": "viewer@example.com", "name": "ci"}} }},
			{api.Route{"DELETE", "/tokens/{id}"}, admin, 200, func() req {
				_, tok, err := e.svc.CreateToken(ctx, auth.CLI, "viewer@example.com", "to revoke", "")
				if err != nil {
					t.Fatal(err)
				}
				return req{fmt.Sprintf("/tokens/%d", tok.ID), nil}
			}},
			{api.Route{"GET", "/incidents/{id}/audiences"}, read, 200, func() req { return req{fmt.Sprintf("/incidents/%d/audiences", e.incident().ID), nil} }},
			{api.Route{"POST", "/incidents/{id}/audiences"}, edit, 201, func() req {
				return req{fmt.Sprintf("/incidents/%d/audiences", e.incident().ID), map[string]any{"kind": "affected_customers", "name": "Card holders"}}
			}},
			{api.Route{"GET", "/lists"}, read, 200, func() req { return req{"/lists", nil} }},
			{api.Route{"POST", "/lists"}, edit, 201, func() req {
				n++
				return req{"/lists", map[string]any{"kind": "press", "name": fmt.Sprintf("Press contacts %d", n)}}
			}},
			{api.Route{"GET", "/audiences/{id}"}, read, 200, func() req { return req{fmt.Sprintf("/audiences/%d", e.audience(e.incident().ID).ID), nil} }},
			{api.Route{"POST", "/audiences/{id}/lists"}, edit, 200, func() req {
				return req{fmt.Sprintf("/audiences/%d/lists", e.audience(e.incident().ID).ID), map[string]any{"list_id": e.audience(0).ID}}
			}},
			{api.Route{"GET", "/audiences/{id}/recipients"}, read, 200, func() req {
				return req{fmt.Sprintf("/audiences/%d/recipients", e.audience(e.incident().ID).ID), nil}
			}},
			{api.Route{"POST", "/audiences/{id}/recipients"}, edit, 200, func() req {
				return req{fmt.Sprintf("/audiences/%d/recipients", e.audience(e.incident().ID).ID), csvBody("email,name\nana@example.com,Ana\n")}
			}},
			{api.Route{"POST", "/audiences/{id}/count"}, read, 200, func() req {
				return req{fmt.Sprintf("/audiences/%d/count", e.audience(e.incident().ID).ID), map[string]any{"rule": map[string]any{"field": "exposed", "op": "includes", "value": "card_number"}}}
			}},
			{api.Route{"GET", "/audiences/{id}/stats"}, read, 200, func() req { return req{fmt.Sprintf("/audiences/%d/stats", e.audience(e.incident().ID).ID), nil} }},
			{api.Route{"GET", "/audiences/{id}/imports"}, read, 200, func() req { return req{fmt.Sprintf("/audiences/%d/imports", e.audience(e.incident().ID).ID), nil} }},
			{api.Route{"GET", "/imports/{id}"}, read, 200, func() req { return req{fmt.Sprintf("/imports/%d", e.importWithErrors()), nil} }},
			{api.Route{"GET", "/imports/{id}/errors"}, read, 200, func() req { return req{fmt.Sprintf("/imports/%d/errors", e.importWithErrors()), nil} }},
			{api.Route{"GET", "/incidents/{id}/segments"}, read, 200, func() req { return req{fmt.Sprintf("/incidents/%d/segments", e.incident().ID), nil} }},
			{api.Route{"POST", "/incidents/{id}/segments"}, edit, 201, func() req {
				return req{fmt.Sprintf("/incidents/%d/segments", e.incident().ID), map[string]any{"name": "Card holders",
					"rule": map[string]any{"field": "exposed", "op": "includes", "value": "card_number"}}}
			}},
			{api.Route{"GET", "/segments/{id}"}, read, 200, func() req { return req{fmt.Sprintf("/segments/%d", e.segment().ID), nil} }},
			{api.Route{"GET", "/incidents/{id}/notices"}, read, 200, func() req { return req{fmt.Sprintf("/incidents/%d/notices", e.incident().ID), nil} }},
			{api.Route{"POST", "/incidents/{id}/notices"}, edit, 201, func() req {
				return req{fmt.Sprintf("/incidents/%d/notices", e.incident().ID), map[string]any{"title": "Press release", "audience_kind": "press",
					"channels": []string{"email"}, "content": map[string]any{"subject": "Statement", "body": "{{.Facts.WhatHappened}}"}}}
			}},
			{api.Route{"POST", "/incidents/{id}/playbook"}, edit, 201, func() req {
				return req{fmt.Sprintf("/incidents/%d/playbook", e.incident().ID), map[string]any{"key": "customer-data-breach"}}
			}},
			{api.Route{"GET", "/notices/{id}"}, read, 200, func() req { return req{fmt.Sprintf("/notices/%d", e.notice(notice.Draft).ID), nil} }},
			{api.Route{"PUT", "/notices/{id}"}, edit, 201, func() req {
				return req{fmt.Sprintf("/notices/%d", e.notice(notice.Approved).ID), map[string]any{"base_version": 1, "reason": "clearer", "content": map[string]any{"subject": "S", "body": "B"}}}
			}},
			{api.Route{"GET", "/notices/{id}/versions"}, read, 200, func() req { return req{fmt.Sprintf("/notices/%d/versions", e.notice(notice.Draft).ID), nil} }},
			{api.Route{"GET", "/notices/{id}/versions/{version}"}, read, 200, func() req {
				return req{fmt.Sprintf("/notices/%d/versions/1", e.notice(notice.Draft).ID), nil}
			}},
			{api.Route{"GET", "/notices/{id}/diff"}, read, 200, func() req { return req{fmt.Sprintf("/notices/%d/diff?from=1&to=1", e.notice(notice.Draft).ID), nil} }},
			{api.Route{"POST", "/notices/{id}/check"}, read, 200, func() req { return req{fmt.Sprintf("/notices/%d/check", e.notice(notice.Draft).ID), map[string]any{}} }},
			{api.Route{"GET", "/notices/{id}/preview"}, read, 200, func() req { return req{fmt.Sprintf("/notices/%d/preview", e.notice(notice.Draft).ID), nil} }},
			{api.Route{"POST", "/notices/{id}/submit"}, edit, 200, func() req {
				return req{fmt.Sprintf("/notices/%d/submit", e.notice(notice.Draft).ID), map[string]any{"version": 1}}
			}},
			{api.Route{"POST", "/notices/{id}/review"}, approve, 200, func() req {
				n := e.notice(notice.InReview)
				return req{fmt.Sprintf("/notices/%d/review", n.ID), map[string]any{"version": 1, "decision": "approve", "overrides": e.overrides(n.ID)}}
			}},
			{api.Route{"POST", "/notices/{id}/withdraw"}, approve, 200, func() req {
				return req{fmt.Sprintf("/notices/%d/withdraw", e.notice(notice.Approved).ID), map[string]any{"version": 1, "reason": "facts changed"}}
			}},
			{api.Route{"GET", "/review-queue"}, read, 200, func() req { return req{"/review-queue", nil} }},
			{api.Route{"GET", "/playbooks"}, read, 200, func() req { return req{"/playbooks", nil} }},
			{api.Route{"POST", "/playbooks"}, edit, 201, func() req {
				n++
				return req{"/playbooks", map[string]any{"name": fmt.Sprintf("Phishing %d", n), "items": []map[string]any{
					{"title": "Staff memo", "audience": "employees", "channels": []string{"email"}, "offset": "0", "subject": "S", "body": "B"}}}}
			}},
			{api.Route{"GET", "/playbooks/{key}"}, read, 200, func() req { return req{"/playbooks/customer-data-breach", nil} }},
			{api.Route{"PUT", "/playbooks/{key}"}, edit, 200, func() req {
				pb := e.playbook()
				return req{"/playbooks/" + pb.Key, map[string]any{"version": 1, "name": pb.Name, "items": pb.Items}}
			}},
			{api.Route{"GET", "/notifications"}, read, 200, func() req { return req{"/notifications", nil} }},
			{api.Route{"POST", "/notifications/read"}, read, 204, func() req { return req{"/notifications/read", map[string]any{}} }},
			{api.Route{"GET", "/notices/{id}/releases"}, read, 200, func() req { return req{fmt.Sprintf("/notices/%d/releases", e.release().NoticeID), nil} }},
			{api.Route{"POST", "/notices/{id}/releases"}, approve, 201, func() req {
				return req{fmt.Sprintf("/notices/%d/releases", e.sendable().ID), map[string]any{"channel": "email"}}
			}},
			{api.Route{"GET", "/releases/{id}"}, read, 200, func() req { return req{fmt.Sprintf("/releases/%d", e.release().ID), nil} }},
			{api.Route{"POST", "/releases/{id}/pause"}, approve, 200, func() req {
				return req{fmt.Sprintf("/releases/%d/pause", e.release().ID), map[string]any{"reason": "one more look"}}
			}},
			{api.Route{"POST", "/releases/{id}/resume"}, approve, 200, func() req { return req{fmt.Sprintf("/releases/%d/resume", e.pausedRelease().ID), nil} }},
			{api.Route{"POST", "/releases/{id}/cancel"}, approve, 200, func() req {
				return req{fmt.Sprintf("/releases/%d/cancel", e.release().ID), map[string]any{"reason": "wrong audience"}}
			}},
			{api.Route{"GET", "/releases/{id}/deliveries"}, read, 200, func() req { return req{fmt.Sprintf("/releases/%d/deliveries", e.release().ID), nil} }},
			{api.Route{"GET", "/deliveries"}, read, 200, func() req { return req{"/deliveries?address=r1@example.com", nil} }},
			{api.Route{"GET", "/incidents/{id}/updates"}, read, 200, func() req { return req{fmt.Sprintf("/incidents/%d/updates", e.incident().ID), nil} }},
			{api.Route{"POST", "/incidents/{id}/updates"}, approve, 201, func() req {
				return req{fmt.Sprintf("/incidents/%d/updates", e.incident().ID), map[string]any{"status": "investigating", "body": "We are looking into it.", "notify": false}}
			}},
			{api.Route{"GET", "/updates/{id}"}, read, 200, func() req { return req{fmt.Sprintf("/updates/%d", e.update().ID), nil} }},
			{api.Route{"PATCH", "/updates/{id}"}, approve, 200, func() req {
				return req{fmt.Sprintf("/updates/%d", e.update().ID), map[string]any{"body": "We are looking into it, with help.", "reason": "More detail"}}
			}},
			{api.Route{"PUT", "/incidents/{id}/components"}, approve, 200, func() req {
				return req{fmt.Sprintf("/incidents/%d/components", e.incident().ID), map[string]any{"components": []map[string]any{{"id": e.component().ID, "status": "major_outage"}}}}
			}},
			{api.Route{"GET", "/components"}, read, 200, func() req { return req{"/components", nil} }},
			{api.Route{"POST", "/components"}, admin, 201, func() req {
				n++
				return req{"/components", map[string]any{"name": fmt.Sprintf("Service %d", n)}}
			}},
			{api.Route{"PUT", "/quiet-period"}, admin, 200, func() req {
				n++
				return req{"/quiet-period", map[string]any{"active": n%2 == 0, "reason": "Breach under investigation"}}
			}},
			{api.Route{"GET", "/subscribers"}, admin, 200, func() req { return req{"/subscribers", nil} }},
			{api.Route{"POST", "/quiet-webhooks"}, admin, 201, func() req {
				n++
				return req{"/quiet-webhooks", map[string]any{"owner": "marketing@example.com", "url": fmt.Sprintf("https://marketing.example.com/hooks/%d", n)}}
			}},
			{api.Route{"GET", "/webhook-deliveries"}, admin, 200, func() req { return req{"/webhook-deliveries", nil} }},
		}
		covered := map[api.Route]bool{}
		for _, c := range cases {
			covered[c.route] = true
			t.Run(c.route.Method+" "+c.route.Path, func(t *testing.T) {
				for _, role := range append([]auth.Role{""}, auth.Roles...) {
					rq := c.make()
					before := e.auditCount()
					status, body := e.do(role, c.route.Method, rq.path, rq.body)
					allowed := false
					for _, a := range c.allowed {
						allowed = allowed || a == role
					}
					switch {
					case role == "":
						if status != 401 || errCode(body) != "unauthorized" {
							t.Errorf("anonymous: %d %v, want 401 unauthorized", status, body)
						}
					case allowed:
						if status != c.status {
							t.Errorf("%s: %d %v, want %d", role, status, body, c.status)
						}
					default:
						if status != 403 || errCode(body) != "forbidden" {
							t.Errorf("%s: %d %v, want 403 forbidden", role, status, body)
						}
					}
					if !allowed && e.auditCount() != before {
						t.Errorf("%s: a refused request changed something (audit grew)", role)
					}
				}
			})
		}
		for _, r := range api.Routes {
			if !covered[r] {
				t.Errorf("route %s %s has no role test", r.Method, r.Path)
			}
		}
	})
}

func TestFactsConflictAndDiff(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		in := e.incident()
		path := fmt.Sprintf("/incidents/%d/facts", in.ID)
		status, cur := e.do(auth.Editor, "GET", path, nil)
		if status != 200 || cur["version"].(float64) != 1 {
			t.Fatalf("GET facts: %d %v", status, cur)
		}
		facts := cur["facts"].(map[string]any)
		facts["exposed"] = []string{"card_number", "card_expiry"}
		status, body := e.do(auth.Editor, "PUT", path, map[string]any{"base_version": 1, "reason": "expiry dates too", "facts": facts})
		if status != 201 || body["version"].(float64) != 2 {
			t.Fatalf("first save: %d %v", status, body)
		}
		facts["affected_total"] = 14872
		facts["exposed"] = []string{"card_number"}
		status, body = e.do(auth.Approver, "PUT", path, map[string]any{"base_version": 1, "reason": "exact count", "facts": facts})
		if status != 409 || errCode(body) != "conflict" {
			t.Fatalf("stale save: %d %v, want 409", status, body)
		}
		detail := body["error"].(map[string]any)["detail"].(map[string]any)
		if detail["current_version"].(float64) != 2 || len(detail["changes"].([]any)) != 1 {
			t.Fatalf("conflict detail: %v", detail)
		}
		status, body = e.do(auth.Viewer, "GET", path+"/../facts/diff?from=1&to=2", nil)
		if status != 200 {
			t.Fatalf("diff: %d %v", status, body)
		}
		changes := body["changes"].([]any)
		if len(changes) != 1 || changes[0].(map[string]any)["after"] != "Payment card numbers, Card expiry dates" {
			t.Fatalf("diff changes: %v", changes)
		}
		_, tl := e.do(auth.Viewer, "GET", fmt.Sprintf("/incidents/%d/timeline", in.ID), nil)
		if len(tl["items"].([]any)) != 2 {
			t.Fatalf("timeline: %v", tl)
		}
	})
}

func TestBadInput(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		in := e.incident()
		facts := fmt.Sprintf("/incidents/%d/facts", in.ID)
		cases := []struct {
			name, method, path string
			body               any
			status             int
			code, field        string
		}{
			{"empty title", "POST", "/incidents", map[string]any{"title": " "}, 422, "invalid", "title"},
			{"unknown data kind", "POST", "/incidents", map[string]any{"title": "x", "facts": map[string]any{"exposed": []string{"card_number", "shoe_size"}}}, 422, "invalid", "exposed[1]"},
			{"unknown jurisdiction", "PUT", facts, map[string]any{"base_version": 1, "reason": "r", "facts": map[string]any{"affected_by_jurisdiction": []map[string]any{{"code": "US-ZZ", "count": 3}}}}, 422, "invalid", "affected_by_jurisdiction[0].code"},
			{"discovered in the future", "PUT", facts, map[string]any{"base_version": 1, "reason": "r", "facts": map[string]any{"discovered_at": "2999-01-01T00:00:00Z"}}, 422, "invalid", "discovered_at"},
			{"missing reason", "PUT", facts, map[string]any{"base_version": 1, "facts": map[string]any{"affected_total": 3}}, 422, "invalid", "reason"},
			{"invalid move", "POST", fmt.Sprintf("/incidents/%d/state", in.ID), map[string]any{"state": "closed"}, 422, "invalid", "state"},
			{"unknown state", "POST", fmt.Sprintf("/incidents/%d/state", in.ID), map[string]any{"state": "panicking"}, 422, "invalid", "state"},
			{"malformed JSON", "POST", "/incidents", `{"title": `, 400, "bad_request", ""},
			{"wrong type", "POST", "/incidents", `{"title": 42}`, 400, "bad_request", "title"},
			{"unknown field", "POST", "/incidents", `{"title": "x", "sevrity": "high"}`, 400, "bad_request", "sevrity"},
			{"two values", "POST", "/incidents", `{"title": "x"} {"title": "y"}`, 400, "bad_request", ""},
			{"oversized", "POST", "/incidents", `{"title": "` + strings.Repeat("a", api.MaxBody) + `"}`, 413, "too_large", ""},
			{"bad id", "GET", "/incidents/abc", nil, 422, "invalid", "id"},
			{"missing incident", "GET", "/incidents/999999", nil, 404, "not_found", ""},
			{"unknown endpoint", "GET", "/nope", nil, 404, "not_found", ""},
			{"wrong method", "DELETE", "/incidents", nil, 405, "method_not_allowed", ""},
			{"bad cursor", "GET", "/incidents?cursor=x", nil, 422, "invalid", "cursor"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				before := e.auditCount()
				status, body := e.do(auth.Editor, c.method, c.path, c.body)
				if status != c.status || errCode(body) != c.code {
					t.Fatalf("got %d %v, want %d %s", status, body, c.status, c.code)
				}
				msg, _ := body["error"].(map[string]any)["message"].(string)
				if msg == "" {
					t.Error("error without a message")
				}
				if f, _ := body["error"].(map[string]any)["field"].(string); f != c.field {
					t.Errorf("field %q, want %q (message %q)", f, c.field, msg)
				}
				if e.auditCount() != before {
					t.Error("bad input changed something")
				}
			})
		}
		// Wrong content type.
		req, _ := http.NewRequest("POST", e.srv.URL+"/api/v1/incidents", strings.NewReader(`{"title":"x"}`))
		req.Header.Set("Authorization", "Bearer "+e.tokens[auth.Editor])
		req.Header.Set("Content-Type", "text/plain")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 415 {
			t.Errorf("text/plain body: %d, want 415", resp.StatusCode)
		}
		// A revoked or made-up token is refused.
		status, body := e.do("", "GET", "/me", nil)
		if status != 401 {
			t.Errorf("anonymous /me: %d %v", status, body)
		}
		e.tokens["bogus"] = "cndr_made-up"
		if status, _ := e.do("bogus", "GET", "/me", nil); status != 401 {
			t.Errorf("made-up token: %d", status)
		}
	})
}

func TestSessionWritesNeedCSRF(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	secret, _, err := e.svc.Login(ctx, "editor@example.com", "correct horse battery", "127.0.0.1", "test")
	if err != nil {
		t.Fatal(err)
	}
	send := func(csrf string) int {
		req, _ := http.NewRequest("POST", e.srv.URL+"/api/v1/incidents", strings.NewReader(`{"title":"From a browser"}`))
		req.Header.Set("Content-Type", "application/json")
		req.AddCookie(&http.Cookie{Name: "candor_session", Value: secret})
		if csrf != "" {
			req.Header.Set("X-CSRF-Token", csrf)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := send(""); s != 403 {
		t.Errorf("session write without CSRF token: %d, want 403", s)
	}
	if s := send("forged"); s != 403 {
		t.Errorf("session write with a wrong CSRF token: %d, want 403", s)
	}
	if s := send(auth.CSRFToken(secret)); s != 201 {
		t.Errorf("session write with the CSRF token: %d, want 201", s)
	}
}

func TestPagination(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	for range 7 {
		e.incident()
	}
	seen := map[float64]bool{}
	cursor := ""
	for pages := 0; pages < 10; pages++ {
		status, body := e.do(auth.Viewer, "GET", "/incidents?limit=3&cursor="+cursor, nil)
		if status != 200 {
			t.Fatalf("%d %v", status, body)
		}
		for _, it := range body["items"].([]any) {
			seen[it.(map[string]any)["id"].(float64)] = true
		}
		next, _ := body["next_cursor"].(string)
		if next == "" {
			break
		}
		cursor = next
	}
	if len(seen) != 7 {
		t.Fatalf("saw %d incidents across pages, want 7", len(seen))
	}
}

// TestDocsMatchRoutes keeps docs/api.md and the router in step: every route
// is documented, and every documented route exists.
func TestDocsMatchRoutes(t *testing.T) {
	doc, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^### `(GET|POST|PUT|PATCH|DELETE) /api/v1(\\S+)`").FindAllStringSubmatch(string(doc), -1) {
		documented[m[1]+" "+m[2]] = true
	}
	routes := map[string]bool{}
	for _, r := range api.Routes {
		routes[r.Method+" "+r.Path] = true
		if !documented[r.Method+" "+r.Path] {
			t.Errorf("route %s %s is not documented in docs/api.md (as a ### heading)", r.Method, r.Path)
		}
	}
	for d := range documented {
		if !routes[d] {
			t.Errorf("docs/api.md documents %s, which does not exist", d)
		}
	}
}
