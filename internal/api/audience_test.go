package api_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/candorhq/candor/internal/audience"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/store"
	"github.com/candorhq/candor/internal/store/storetest"
)

// csvBody is a request body sent as text/csv.
type csvBody string

var audienceSeq int

// audience creates an audience of the incident (a standing list for 0).
func (e *env) audience(incidentID int64) audience.Audience {
	e.t.Helper()
	audienceSeq++
	a, err := e.svc.CreateAudience(ctx, auth.CLI, audience.New{IncidentID: incidentID, Kind: audience.AffectedCustomers, Name: fmt.Sprintf("Audience %d", audienceSeq)})
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

// importWithErrors imports a file with one bad row and returns the import.
func (e *env) importWithErrors() int64 {
	e.t.Helper()
	rep, err := e.svc.ImportRecipients(ctx, auth.CLI, e.audience(0).ID, strings.NewReader("email\nana@example.com\nbad\n"), audience.ImportOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return rep.ImportID
}

func (e *env) segment() audience.Segment {
	e.t.Helper()
	sg, err := e.svc.CreateSegment(ctx, auth.CLI, audience.NewSegment{IncidentID: e.incident().ID, Name: "Card holders",
		Rule: audience.Rule{Field: "exposed", Op: "includes", Value: "card_number"}})
	if err != nil {
		e.t.Fatal(err)
	}
	return sg
}

func TestImportOverHTTP(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		in := e.incident()
		status, a := e.do(auth.Editor, "POST", fmt.Sprintf("/incidents/%d/audiences", in.ID), map[string]any{"kind": "affected_customers", "name": "Card holders"})
		if status != 201 {
			t.Fatalf("create audience: %d %v", status, a)
		}
		path := fmt.Sprintf("/audiences/%.0f/recipients", a["id"].(float64))
		data := "E-mail Address,Plan,exposed\nana@example.com,pro,card_number\nnot-an-email,free,\nbob@example.com,free,shoe_size\ncy@example.com,,email\n"
		status, rep := e.do(auth.Editor, "POST", path+"?map="+strings.ReplaceAll("E-mail Address=email,Plan=attr:tier", " ", "%20"), csvBody(data))
		if status != 200 || rep["created"].(float64) != 2 || rep["rejected"].(float64) != 2 || rep["kept"] != true {
			t.Fatalf("import: %d %v", status, rep)
		}
		first := rep["errors"].([]any)[0].(map[string]any)
		if first["line"].(float64) != 3 || first["column"] != "E-mail Address" {
			t.Errorf("first error: %v", first)
		}
		if csv := rep["errors_csv"].(string); !strings.HasPrefix(csv, "line,column,value,reason\n3,E-mail Address,not-an-email,") || !strings.Contains(csv, "\n4,exposed,shoe_size,") {
			t.Errorf("errors_csv: %q", csv)
		}
		// The report stays available, and its errors download as CSV.
		url := strings.TrimPrefix(rep["errors_url"].(string), "/api/v1")
		if status, got := e.do(auth.Viewer, "GET", url, nil); status != 200 || got["csv"] != rep["errors_csv"] {
			t.Errorf("errors download: %d %v", status, got)
		}
		status, stored := e.do(auth.Viewer, "GET", fmt.Sprintf("/imports/%.0f", rep["import_id"].(float64)), nil)
		if status != 200 || stored["rejected"].(float64) != 2 || len(stored["errors"].([]any)) != 2 {
			t.Errorf("stored import: %d %v", status, stored)
		}
		status, st := e.do(auth.Viewer, "GET", strings.TrimSuffix(path, "/recipients")+"/stats", nil)
		if status != 200 || st["recipients"].(float64) != 2 || len(st["by_exposed"].([]any)) != 2 {
			t.Errorf("stats: %d %v", status, st)
		}
		status, page := e.do(auth.Viewer, "GET", path+"?limit=1", nil)
		items := page["items"].([]any)
		if status != 200 || len(items) != 1 || page["next_cursor"] == nil || items[0].(map[string]any)["attributes"].(map[string]any)["tier"] != "pro" {
			t.Fatalf("recipients: %d %v", status, page)
		}

		// All-or-nothing: 422 with the report in detail, nothing kept.
		before := e.auditCount()
		status, body := e.do(auth.Editor, "POST", path+"?all_or_nothing=true", csvBody("email\nnew@example.com\nbad\n"))
		detail, _ := body["error"].(map[string]any)["detail"].(map[string]any)
		if status != 422 || detail["rejected"].(float64) != 1 || detail["kept"] != false || !strings.Contains(detail["errors_csv"].(string), "3,email,bad,") {
			t.Fatalf("all-or-nothing: %d %v", status, body)
		}
		if e.auditCount() != before {
			t.Error("a refused import changed something")
		}

		cases := []struct {
			name, query string
			body        any
			status      int
			code        string
		}{
			{"JSON instead of CSV", "", map[string]any{"email": "a@example.com"}, 415, "unsupported_media_type"},
			{"semicolons", "", csvBody("email;name\na@example.com;Ana\n"), 422, "invalid"},
			{"binary", "", csvBody("\x00\x01\x02PK"), 422, "invalid"},
			{"bad mapping", "?map=Plan", csvBody("email\na@example.com\n"), 422, "invalid"},
			{"bad flag", "?all_or_nothing=maybe", csvBody("email\na@example.com\n"), 422, "invalid"},
		}
		for _, c := range cases {
			t.Run(c.name, func(t *testing.T) {
				before := e.auditCount()
				status, body := e.do(auth.Editor, "POST", path+c.query, c.body)
				if status != c.status || errCode(body) != c.code {
					t.Fatalf("%d %v, want %d %s", status, body, c.status, c.code)
				}
				if e.auditCount() != before {
					t.Error("bad input changed something")
				}
			})
		}
		if status, body := e.do(auth.Editor, "POST", "/audiences/999999/recipients", csvBody("email\na@example.com\n")); status != 404 {
			t.Errorf("missing audience: %d %v", status, body)
		}
	})
}

func TestSegmentCountOverHTTP(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	in := e.incident()
	a := e.audience(in.ID)
	if _, err := e.svc.ImportRecipients(ctx, auth.CLI, a.ID, strings.NewReader("email,jurisdiction,exposed\na@example.com,US-CA,card_number\nb@example.com,US-NY,email\nc@example.com,FR,card_number\n"), audience.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	rule := map[string]any{"all": []any{
		map[string]any{"field": "exposed", "op": "includes", "value": "card_number"},
		map[string]any{"not": map[string]any{"field": "jurisdiction", "op": "starts_with", "value": "US"}},
	}}
	status, c := e.do(auth.Viewer, "POST", fmt.Sprintf("/audiences/%d/count", a.ID), map[string]any{"rule": rule})
	if status != 200 || c["members"].(float64) != 3 || c["matching"].(float64) != 1 {
		t.Fatalf("count: %d %v", status, c)
	}
	status, sg := e.do(auth.Editor, "POST", fmt.Sprintf("/incidents/%d/segments", in.ID), map[string]any{"name": "Card holders abroad", "rule": rule})
	if status != 201 || sg["text"] != "exposed includes card_number and not (jurisdiction starts with US)" {
		t.Fatalf("create segment: %d %v", status, sg)
	}
	status, c = e.do(auth.Viewer, "POST", fmt.Sprintf("/audiences/%d/count", a.ID), map[string]any{"segment_id": sg["id"]})
	if status != 200 || c["matching"].(float64) != 1 {
		t.Fatalf("count by segment: %d %v", status, c)
	}
	status, body := e.do(auth.Editor, "POST", fmt.Sprintf("/incidents/%d/segments", in.ID), map[string]any{"name": "Bad",
		"rule": map[string]any{"any": []any{map[string]any{"field": "exposed", "op": "includes", "value": "shoe_size"}}}})
	if status != 422 || body["error"].(map[string]any)["field"] != "rule.any[0].value" {
		t.Fatalf("bad rule: %d %v", status, body)
	}
}
