package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/audience"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/store"
	"github.com/candorhq/candor/internal/store/storetest"
	"github.com/candorhq/candor/internal/web"
)

type roleReq struct {
	path string
	form url.Values
	// secret overrides the role's session (for sign-out, which ends it).
	secret string
	// file, when set, sends the form as a multipart upload with this CSV.
	file string
}

type roleCase struct {
	route   string // the pattern as web.Routes lists it
	allowed []auth.Role
	status  int // for an allowed role
	anon    int // for anonymous; 0 means a redirect to sign in
	make    func(role auth.Role) roleReq
}

var (
	everyone = []auth.Role{auth.Admin, auth.Approver, auth.Editor, auth.Responder, auth.Viewer}
	editors  = []auth.Role{auth.Admin, auth.Approver, auth.Editor}
	admins   = []auth.Role{auth.Admin}
)

func roleCases(e *env) []roleCase {
	n := 0
	fresh := func() int64 { return e.incident().ID }
	target := func(disabled bool) int64 {
		n++
		hash, _ := auth.HashPassword(password)
		u, err := e.db.CreateUser(ctx, auth.CLI, auth.NewUser{Email: fmt.Sprintf("target%d@example.com", n), Role: auth.Viewer}, hash)
		if err != nil {
			e.t.Fatal(err)
		}
		if disabled {
			yes := true
			if _, err := e.svc.UpdateUser(ctx, auth.CLI, u.ID, app.UserChange{Disabled: &yes}); err != nil {
				e.t.Fatal(err)
			}
		}
		return u.ID
	}
	get := func(path string) func(auth.Role) roleReq {
		return func(auth.Role) roleReq { return roleReq{path: path} }
	}
	return append([]roleCase{
		{"GET /login", everyone, http.StatusSeeOther, http.StatusOK, get("/login")},
		{"POST /logout", everyone, http.StatusSeeOther, 0, func(r auth.Role) roleReq {
			if r == "" {
				return roleReq{path: "/logout"}
			}
			return roleReq{path: "/logout", secret: e.login(e.users[r].Email)}
		}},
		{"GET /{$}", everyone, http.StatusOK, 0, get("/")},
		{"GET /incidents/new", editors, http.StatusOK, 0, get("/incidents/new")},
		{"POST /incidents", editors, http.StatusSeeOther, 0, func(auth.Role) roleReq {
			return roleReq{path: "/incidents", form: url.Values{"title": {"Phishing of staff accounts"}, "severity": {"high"}}}
		}},
		{"GET /incidents/{id}", everyone, http.StatusOK, 0, func(auth.Role) roleReq { return roleReq{path: fmt.Sprintf("/incidents/%d", fresh())} }},
		{"POST /incidents/{id}/update", editors, http.StatusSeeOther, 0, func(auth.Role) roleReq {
			return roleReq{path: fmt.Sprintf("/incidents/%d/update", fresh()), form: url.Values{"title": {"Card numbers and expiry dates exposed"}, "severity": {"critical"}}}
		}},
		{"POST /incidents/{id}/state", editors, http.StatusSeeOther, 0, func(auth.Role) roleReq {
			return roleReq{path: fmt.Sprintf("/incidents/%d/state", fresh()), form: url.Values{"state": {"identified"}, "note": {"we know the entry point"}}}
		}},
		{"GET /incidents/{id}/facts/edit", editors, http.StatusOK, 0, func(auth.Role) roleReq {
			return roleReq{path: fmt.Sprintf("/incidents/%d/facts/edit", fresh())}
		}},
		{"POST /incidents/{id}/facts", editors, http.StatusSeeOther, 0, func(auth.Role) roleReq {
			return roleReq{path: fmt.Sprintf("/incidents/%d/facts", fresh()), form: url.Values{
				"base_version": {"1"}, "reason": {"exact count from billing"}, "affected_total": {"14872"},
				"kind.card_number": {"exposed"}, "kind.password_hash": {"not_exposed"}}}
		}},
		{"GET /incidents/{id}/versions", everyone, http.StatusOK, 0, func(auth.Role) roleReq {
			return roleReq{path: fmt.Sprintf("/incidents/%d/versions", fresh())}
		}},
		{"GET /incidents/{id}/versions/{version}", everyone, http.StatusOK, 0, func(auth.Role) roleReq {
			return roleReq{path: fmt.Sprintf("/incidents/%d/versions/1", fresh())}
		}},
		{"GET /incidents/{id}/versions/diff", everyone, http.StatusOK, 0, func(auth.Role) roleReq {
			return roleReq{path: fmt.Sprintf("/incidents/%d/versions/diff?from=1&to=1", fresh())}
		}},
		{"GET /incidents/{id}/audit", everyone, http.StatusOK, 0, func(auth.Role) roleReq {
			return roleReq{path: fmt.Sprintf("/incidents/%d/audit", fresh())}
		}},
		{"GET /incidents/{id}/audiences", everyone, http.StatusOK, 0, func(auth.Role) roleReq {
			in := fresh()
			e.audience(in)
			return roleReq{path: fmt.Sprintf("/incidents/%d/audiences", in)}
		}},
		{"POST /incidents/{id}/audiences", editors, http.StatusSeeOther, 0, func(auth.Role) roleReq {
			return roleReq{path: fmt.Sprintf("/incidents/%d/audiences", fresh()), form: url.Values{"kind": {"press"}, "name": {"Press contacts"}}}
		}},
		{"GET /lists", everyone, http.StatusOK, 0, func(auth.Role) roleReq { e.audience(0); return roleReq{path: "/lists"} }},
		{"POST /lists", editors, http.StatusSeeOther, 0, func(auth.Role) roleReq {
			n++
			return roleReq{path: "/lists", form: url.Values{"kind": {"custom"}, "name": {fmt.Sprintf("All customers %d", n)}}}
		}},
		{"GET /audiences/{id}", everyone, http.StatusOK, 0, func(auth.Role) roleReq {
			return roleReq{path: fmt.Sprintf("/audiences/%d", e.audience(fresh()).ID)}
		}},
		{"POST /audiences/{id}/import", editors, http.StatusSeeOther, 0, func(auth.Role) roleReq {
			return roleReq{path: fmt.Sprintf("/audiences/%d/import", e.audience(fresh()).ID), form: url.Values{"mapping": {""}}, file: "email,name\ndee@example.com,Dee\nbad,Eve\n"}
		}},
		{"POST /audiences/{id}/lists", editors, http.StatusSeeOther, 0, func(auth.Role) roleReq {
			return roleReq{path: fmt.Sprintf("/audiences/%d/lists", e.audience(fresh()).ID), form: url.Values{"list_id": {fmt.Sprint(e.audience(0).ID)}}}
		}},
		{"GET /imports/{id}", everyone, http.StatusOK, 0, func(auth.Role) roleReq {
			return roleReq{path: fmt.Sprintf("/imports/%d", e.importWithErrors())}
		}},
		{"GET /imports/{id}/errors.csv", everyone, http.StatusOK, 0, func(auth.Role) roleReq {
			return roleReq{path: fmt.Sprintf("/imports/%d/errors.csv", e.importWithErrors())}
		}},
		{"GET /incidents/{id}/segments", everyone, http.StatusOK, 0, func(auth.Role) roleReq {
			return roleReq{path: fmt.Sprintf("/incidents/%d/segments", e.segment().IncidentID)}
		}},
		{"GET /incidents/{id}/segments/new", editors, http.StatusOK, 0, func(auth.Role) roleReq {
			in := fresh()
			e.audience(in)
			return roleReq{path: fmt.Sprintf("/incidents/%d/segments/new", in)}
		}},
		{"POST /incidents/{id}/segments", editors, http.StatusSeeOther, 0, func(auth.Role) roleReq {
			in := fresh()
			return roleReq{path: fmt.Sprintf("/incidents/%d/segments", in), form: url.Values{"name": {"Card holders"}, "match": {"all"}, "rows": {"3"},
				"c0.field": {"exposed"}, "c0.op": {"includes"}, "c0.value": {"card_number"}, "action": {"save"}}}
		}},
		{"POST /incidents/{id}/segments/count", editors, http.StatusOK, 0, func(auth.Role) roleReq {
			in := fresh()
			a := e.audience(in)
			return roleReq{path: fmt.Sprintf("/incidents/%d/segments/count", in), form: url.Values{"audience_id": {fmt.Sprint(a.ID)}, "match": {"all"}, "rows": {"3"},
				"c0.field": {"exposed"}, "c0.op": {"includes"}, "c0.value": {"card_number"}}}
		}},
		{"GET /segments/{id}", everyone, http.StatusOK, 0, func(auth.Role) roleReq {
			sg := e.segment()
			e.audience(sg.IncidentID)
			return roleReq{path: fmt.Sprintf("/segments/%d", sg.ID)}
		}},
		{"GET /users", admins, http.StatusOK, 0, get("/users")},
		{"POST /users", admins, http.StatusSeeOther, 0, func(auth.Role) roleReq {
			n++
			return roleReq{path: "/users", form: url.Values{"email": {fmt.Sprintf("new%d@example.com", n)}, "role": {"viewer"}, "password": {"a long enough password"}}}
		}},
		{"POST /users/{id}/role", admins, http.StatusSeeOther, 0, func(auth.Role) roleReq {
			return roleReq{path: fmt.Sprintf("/users/%d/role", target(false)), form: url.Values{"role": {"editor"}}}
		}},
		{"POST /users/{id}/disable", admins, http.StatusSeeOther, 0, func(auth.Role) roleReq {
			return roleReq{path: fmt.Sprintf("/users/%d/disable", target(false))}
		}},
		{"POST /users/{id}/enable", admins, http.StatusSeeOther, 0, func(auth.Role) roleReq {
			return roleReq{path: fmt.Sprintf("/users/%d/enable", target(true))}
		}},
		{"GET /tokens", admins, http.StatusOK, 0, get("/tokens")},
		{"POST /tokens", admins, http.StatusOK, 0, func(auth.Role) roleReq {
			return roleReq{path: "/tokens", form: url.Values{"email": {"viewer@example.com"}, "name": {"ci"}}}
		}},
		{"POST /tokens/{id}/revoke", admins, http.StatusSeeOther, 0, func(auth.Role) roleReq {
			_, tok, err := e.svc.CreateToken(ctx, auth.CLI, "viewer@example.com", "to revoke", "")
			if err != nil {
				e.t.Fatal(err)
			}
			return roleReq{path: fmt.Sprintf("/tokens/%d/revoke", tok.ID)}
		}},
		{"GET /audit", admins, http.StatusOK, 0, get("/audit")},
		{"POST /audit/verify", admins, http.StatusSeeOther, 0, get("/audit/verify")},
	}, slices.Concat(noticeRoleCases(e), releaseRoleCases(e), mailboxRoleCases(e), publicRoleCases(e))...)
}

// TestEveryRouteEnforcesRoles sends every UI route as every role: anonymous
// browsers are sent to sign in, refused roles get the 403 page, allowed roles
// succeed, and a refused request changes nothing.
func TestEveryRouteEnforcesRoles(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		cases := roleCases(e)
		covered := map[string]bool{"POST /login": true} // TestLogin
		for _, c := range cases {
			covered[c.route] = true
			method, _, _ := strings.Cut(c.route, " ")
			t.Run(c.route, func(t *testing.T) {
				for _, role := range append([]auth.Role{""}, auth.Roles...) {
					rq := c.make(role)
					secret := e.sessions[role]
					if rq.secret != "" && role != "" {
						secret = rq.secret
					}
					before := e.auditCount()
					got := e.send(secret, method, rq, false)
					changed := e.auditCount() != before
					name := string(role)
					if role == "" {
						name = "anonymous"
					}
					switch {
					case role == "" && c.anon != 0:
						if got.status != c.anon {
							t.Errorf("%s: status %d, want %d", name, got.status, c.anon)
						}
					case role == "":
						if got.status != http.StatusSeeOther || !strings.HasPrefix(got.location, "/login") {
							t.Errorf("%s: status %d to %q, want 303 to /login", name, got.status, got.location)
						}
						if method == http.MethodGet && !strings.Contains(got.location, "next=") {
							t.Errorf("%s: sign-in redirect %q does not come back to the page", name, got.location)
						}
						if changed {
							t.Errorf("%s: a refused request changed the audit log", name)
						}
					case slices.Contains(c.allowed, role):
						if got.status != c.status {
							t.Errorf("%s: status %d, want %d; body:\n%s", name, got.status, c.status, snippet(got.body))
						}
						if got.status == http.StatusSeeOther && strings.HasPrefix(got.location, "/login") && c.route != "POST /logout" {
							t.Errorf("%s: sent to sign in (%s)", name, got.location)
						}
					default:
						if got.status != http.StatusForbidden {
							t.Errorf("%s: status %d, want 403", name, got.status)
						}
						if want := fmt.Sprintf("Your role (%s) cannot", role); !strings.Contains(got.body, want) {
							t.Errorf("%s: the 403 page does not say %q", name, want)
						}
						if changed {
							t.Errorf("%s: a refused request changed the audit log", name)
						}
					}
				}
			})
		}
		for _, r := range web.Routes() {
			if !covered[r] {
				t.Errorf("route %s has no role test", r)
			}
		}
	})
}

// TestPostWithoutCSRFTokenIsRefused sends every action as an admin (who may
// do all of them) without the form's CSRF token, and with a token of another
// session: each is refused with the "form expired" page and changes nothing.
func TestPostWithoutCSRFTokenIsRefused(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	for _, c := range roleCases(e) {
		method, _, _ := strings.Cut(c.route, " ")
		if method != http.MethodPost {
			continue
		}
		t.Run(c.route, func(t *testing.T) {
			for _, tok := range []string{"", auth.CSRFToken(e.sessions[auth.Viewer])} {
				rq := c.make(auth.Admin)
				secret := e.sessions[auth.Admin]
				if rq.secret != "" {
					secret = rq.secret
				}
				form := rq.form
				if form == nil {
					form = url.Values{}
				}
				if tok != "" {
					form.Set("csrf_token", tok)
				}
				before := e.auditCount()
				rq.form = form
				got := e.send(secret, method, rq, true)
				if got.status != http.StatusForbidden || !strings.Contains(got.body, "The form expired; reload the page and try again") {
					t.Errorf("token %q: status %d, want 403 with the form-expired page; body:\n%s", tok, got.status, snippet(got.body))
				}
				if e.auditCount() != before {
					t.Errorf("token %q: a refused request changed the audit log", tok)
				}
			}
		})
	}
	// The session survived: it is still signed in.
	if got := e.as(auth.Admin, "GET", "/", nil); got.status != http.StatusOK {
		t.Errorf("after the refused posts, GET / = %d", got.status)
	}
}

// snippet shortens a page for a failure message: its main content.
func snippet(body string) string {
	if i := strings.Index(body, `<main`); i >= 0 {
		body = body[i:]
	}
	if len(body) > 1500 {
		body = body[:1500] + "…"
	}
	return body
}

// send sends a role case's request, as a multipart upload when it has a file.
func (e *env) send(secret, method string, rq roleReq, noCSRF bool) resp {
	e.t.Helper()
	if rq.file != "" {
		return e.upload(secret, rq.path, rq.form, "people.csv", rq.file, noCSRF)
	}
	return e.request(secret, method, rq.path, rq.form, noCSRF)
}

// importWithErrors imports a file with a bad row into a new list and
// returns the import's id.
func (e *env) importWithErrors() int64 {
	e.t.Helper()
	a, err := e.svc.CreateAudience(ctx, auth.CLI, audience.New{Kind: audience.Custom, Name: fmt.Sprintf("List %d", e.nextSeq())})
	if err != nil {
		e.t.Fatal(err)
	}
	rep, err := e.svc.ImportRecipients(ctx, auth.CLI, a.ID, strings.NewReader("email\nana@example.com\nnot-an-email\n"), audience.ImportOptions{FileName: "people.csv"})
	if err != nil {
		e.t.Fatal(err)
	}
	return rep.ImportID
}

func (e *env) nextSeq() int { e.seq++; return e.seq }

func (e *env) segment() audience.Segment {
	e.t.Helper()
	sg, err := e.svc.CreateSegment(ctx, auth.CLI, audience.NewSegment{IncidentID: e.incident().ID, Name: "Card holders",
		Rule: audience.Rule{Field: "exposed", Op: "includes", Value: "card_number"}})
	if err != nil {
		e.t.Fatal(err)
	}
	return sg
}
