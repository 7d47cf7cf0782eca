package web_test

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/store"
	"github.com/candorhq/candor/internal/store/storetest"
)

// TestImportFormWithoutJavaScript posts the import form as a browser
// without JavaScript does, with bad rows, and follows it to the report and
// its CSV download.
func TestImportFormWithoutJavaScript(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		in := e.incident()
		got := e.as(auth.Editor, "POST", fmt.Sprintf("/incidents/%d/audiences", in.ID), url.Values{"kind": {"affected_customers"}, "name": {"Card holders"}})
		if got.status != http.StatusSeeOther {
			t.Fatalf("create audience: %d %s", got.status, snippet(got.body))
		}
		audiencePath := got.location
		csv := "E-mail,Name,State,exposed,Plan\n" +
			"ana@example.com,\"Ruiz, Ana\",US-CA,card_number;card_expiry,business\n" +
			"not-an-email,Bob,US-CA,card_number,home\n" +
			"cy@example.com,Cy,US-ZZ,card_number,home\n" +
			"dee@example.com,Dee,US-NV,card_number,home\n"
		got = e.upload(e.sessions[auth.Editor], audiencePath+"/import", url.Values{"mapping": {""}}, "customers.csv", csv, false)
		if got.status != http.StatusSeeOther || !strings.HasPrefix(got.location, "/imports/") {
			t.Fatalf("import: %d %q %s", got.status, got.location, snippet(got.body))
		}
		report := e.as(auth.Viewer, "GET", got.location, nil)
		for _, want := range []string{"customers.csv", "rows read", "2</span> <span class=\"stat-l\">new recipients", "2</span> <span class=\"stat-l\">rows rejected",
			"<td class=\"num\">3</td><td>E-mail</td><td><code>not-an-email</code></td>", "<td class=\"num\">4</td><td>State</td>", "is not a known jurisdiction", "Download errors as CSV"} {
			if !strings.Contains(report.body, want) {
				t.Errorf("report page lacks %q:\n%s", want, snippet(report.body))
			}
		}
		dl := e.as(auth.Viewer, "GET", got.location+"/errors.csv", nil)
		if dl.status != 200 || !strings.HasPrefix(dl.header.Get("Content-Type"), "text/csv") || !strings.Contains(dl.header.Get("Content-Disposition"), "attachment") ||
			!strings.HasPrefix(dl.body, "line,column,value,reason\n3,E-mail,not-an-email,") || !strings.Contains(dl.body, "\n4,State,US-ZZ,") {
			t.Fatalf("errors.csv: %d %v %q", dl.status, dl.header, dl.body)
		}
		page := e.as(auth.Viewer, "GET", audiencePath, nil)
		for _, want := range []string{"ana@example.com", "Ruiz, Ana", "plan=business", "Payment card numbers", "US-NV", "customers.csv"} {
			if !strings.Contains(page.body, want) {
				t.Errorf("audience page lacks %q", want)
			}
		}
		if strings.Contains(page.body, `action="`+audiencePath+`/import"`) {
			t.Error("the viewer sees the import form")
		}

		// A wrong delimiter is refused at once, next to the file field.
		got = e.upload(e.sessions[auth.Editor], audiencePath+"/import", url.Values{"mapping": {"Plan=attr:tier"}}, "x.csv", "email;name\na@example.com;A\n", false)
		if got.status != http.StatusUnprocessableEntity || !strings.Contains(got.body, `id="f-file-err"`) || !strings.Contains(got.body, "semicolons") || !strings.Contains(got.body, `value="Plan=attr:tier"`) {
			t.Fatalf("semicolons: %d %s", got.status, snippet(got.body))
		}
		// A bad mapping is shown next to the mapping, as typed.
		got = e.upload(e.sessions[auth.Editor], audiencePath+"/import", url.Values{"mapping": {"Plan"}}, "x.csv", csv, false)
		if got.status != http.StatusUnprocessableEntity || !strings.Contains(got.body, `id="f-mapping-err"`) {
			t.Fatalf("bad mapping: %d %s", got.status, snippet(got.body))
		}
		// All or nothing: the report says nothing was kept.
		got = e.upload(e.sessions[auth.Editor], audiencePath+"/import", url.Values{"all_or_nothing": {"1"}}, "again.csv", csv, false)
		if got.status != http.StatusSeeOther || !strings.HasPrefix(got.location, "/imports/") {
			t.Fatalf("all-or-nothing: %d %s", got.status, snippet(got.body))
		}
		if r := e.as(auth.Editor, "GET", got.location, nil); !strings.Contains(r.body, "Nothing was imported") {
			t.Errorf("all-or-nothing report: %s", snippet(r.body))
		}
		if a, _ := e.svc.Audience(ctx, auth.CLI, idOf(t, audiencePath)); a.Recipients != 2 {
			t.Errorf("%d recipients after the refused import", a.Recipients)
		}
	})
}

// TestSegmentEditorWithoutJavaScript counts with the Count button, shows a
// bad condition next to its row, and saves.
func TestSegmentEditorWithoutJavaScript(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	in := e.incident()
	a := e.audience(in.ID)
	path := fmt.Sprintf("/incidents/%d/segments", in.ID)
	if got := e.as(auth.Editor, "GET", path+"/new", nil); got.status != 200 || !strings.Contains(got.body, "Press Count") {
		t.Fatalf("editor: %d %s", got.status, snippet(got.body))
	}
	form := url.Values{"name": {"Card and expiry"}, "match": {"all"}, "rows": {"3"}, "audience_id": {fmt.Sprint(a.ID)},
		"c0.field": {"exposed"}, "c0.op": {"includes"}, "c0.value": {"card_number"},
		"c1.field": {"exposed"}, "c1.op": {"includes"}, "c1.value": {"card_expiry"},
		"c2.not": {"1"}, "c2.field": {"jurisdiction"}, "c2.op": {"equals"}, "c2.value": {"US-NV"}}
	form.Set("action", "count")
	got := e.as(auth.Editor, "POST", path, form)
	if got.status != 200 || !strings.Contains(got.body, `<strong id="count-matching">1</strong> of 3 members match`) ||
		!strings.Contains(got.body, "exposed includes card_number and exposed includes card_expiry and not (jurisdiction = US-NV)") {
		t.Fatalf("count: %d %s", got.status, snippet(got.body))
	}
	// Any of: card_expiry or attribute plan = home.
	any := url.Values{"match": {"any"}, "rows": {"3"}, "audience_id": {fmt.Sprint(a.ID)}, "action": {"count"},
		"c0.field": {"exposed"}, "c0.op": {"includes"}, "c0.value": {"card_expiry"},
		"c1.field": {"attribute"}, "c1.attribute": {"plan"}, "c1.op": {"equals"}, "c1.value": {"home"}}
	if got := e.as(auth.Editor, "POST", path, any); !strings.Contains(got.body, `<strong id="count-matching">3</strong> of 3`) {
		t.Fatalf("any: %s", snippet(got.body))
	}
	// The live count answers in JSON.
	live := e.as(auth.Editor, "POST", path+"/count", form)
	if live.status != 200 || !strings.Contains(live.body, `"members":3`) || !strings.Contains(live.body, `"matching":1`) {
		t.Fatalf("live count: %d %s", live.status, live.body)
	}
	// A bad value is shown next to its row, with what was typed.
	bad := url.Values{}
	for k, v := range form {
		bad[k] = v
	}
	bad.Set("c1.value", "shoe_size")
	bad.Set("action", "save")
	got = e.as(auth.Editor, "POST", path, bad)
	if got.status != http.StatusUnprocessableEntity || !strings.Contains(got.body, `id="f-c1-value-err"`) || !strings.Contains(got.body, "Condition 2: unknown data kind") ||
		!strings.Contains(got.body, `value="shoe_size"`) || !strings.Contains(got.body, `value="Card and expiry"`) {
		t.Fatalf("bad rule: %d %s", got.status, snippet(got.body))
	}
	if live := e.as(auth.Editor, "POST", path+"/count", bad); live.status != 422 || !strings.Contains(live.body, "unknown data kind") || !strings.Contains(live.body, "f-c1-value") {
		t.Fatalf("live count of a bad rule: %d %s", live.status, live.body)
	}
	// More rows on request.
	more := url.Values{"rows": {"3"}, "action": {"add"}}
	if got := e.as(auth.Editor, "POST", path, more); !strings.Contains(got.body, `name="c3.field"`) {
		t.Fatalf("add a row: %s", snippet(got.body))
	}
	form.Set("action", "save")
	got = e.as(auth.Editor, "POST", path, form)
	if got.status != http.StatusSeeOther || !strings.HasPrefix(got.location, "/segments/") {
		t.Fatalf("save: %d %s", got.status, snippet(got.body))
	}
	page := e.as(auth.Viewer, "GET", got.location, nil)
	if !strings.Contains(page.body, "Card and expiry") || !strings.Contains(page.body, `<td class="num">3</td><td class="num">1</td>`) {
		t.Fatalf("segment page: %s", snippet(page.body))
	}
	if got := e.as(auth.Editor, "POST", path, form); got.status != http.StatusUnprocessableEntity || !strings.Contains(got.body, `id="f-name-err"`) {
		t.Fatalf("duplicate name: %d %s", got.status, snippet(got.body))
	}
}

func idOf(t *testing.T, path string) int64 {
	t.Helper()
	m := regexp.MustCompile(`(\d+)$`).FindStringSubmatch(path)
	if m == nil {
		t.Fatalf("no id in %q", path)
	}
	var id int64
	fmt.Sscan(m[1], &id)
	return id
}
