package api_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/audience"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/delivery"
	"github.com/candorhq/candor/internal/notice"
	"github.com/candorhq/candor/internal/store"
	"github.com/candorhq/candor/internal/store/storetest"
)

// sendable returns an approved notice whose audience has three recipients.
func (e *env) sendable() notice.Notice {
	e.t.Helper()
	in := e.incident()
	a := e.audience(in.ID)
	if _, err := e.svc.ImportRecipients(ctx, auth.CLI, a.ID, strings.NewReader(storetest.Recipients(3)), audience.ImportOptions{}); err != nil {
		e.t.Fatal(err)
	}
	return e.noticeFor(notice.Approved, in.ID, a.ID)
}

// release releases a sendable notice, scheduled an hour ahead so that
// nothing sends it during the test.
func (e *env) release() delivery.Release {
	e.t.Helper()
	rel, _, err := e.svc.ReleaseNotice(ctx, auth.CLI, e.sendable().ID, app.ReleaseRequest{StartAt: time.Now().Add(time.Hour)})
	if err != nil {
		e.t.Fatal(err)
	}
	return rel
}

func (e *env) pausedRelease() delivery.Release {
	e.t.Helper()
	rel, err := e.svc.PauseRelease(ctx, auth.CLI, e.release().ID, "")
	if err != nil {
		e.t.Fatal(err)
	}
	return rel
}

func TestReleaseOverTheAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		e := newEnv(t, db)
		in := e.incident()
		draft := e.noticeFor(notice.Draft, in.ID, e.audience(in.ID).ID)
		status, body := e.do(auth.Admin, "POST", fmt.Sprintf("/notices/%d/releases", draft.ID), map[string]any{})
		if status != 403 || !strings.Contains(fmt.Sprint(body), "no approved version") {
			t.Fatalf("release a draft: %d %v", status, body)
		}
		n := e.sendable()
		status, body = e.do(auth.Approver, "POST", fmt.Sprintf("/notices/%d/releases", n.ID), map[string]any{"start_at": time.Now().Add(time.Hour).Format(time.RFC3339)})
		if status != 201 || body["added"] != float64(3) {
			t.Fatalf("release: %d %v", status, body)
		}
		rel := body["release"].(map[string]any)
		if rel["state"] != "scheduled" || rel["total"] != float64(3) || rel["counts"].(map[string]any)["queued"] != float64(3) {
			t.Fatalf("release body: %v", rel)
		}
		status, body = e.do(auth.Approver, "POST", fmt.Sprintf("/notices/%d/releases", n.ID), map[string]any{})
		if status != 201 || body["added"] != float64(0) {
			t.Fatalf("release again: %d %v", status, body)
		}
		id := int64(rel["id"].(float64))
		status, body = e.do(auth.Approver, "POST", fmt.Sprintf("/releases/%d/cancel", id), map[string]any{})
		if status != 422 || !strings.Contains(fmt.Sprint(body), "say why") {
			t.Fatalf("cancel without a reason: %d %v", status, body)
		}
		status, body = e.do(auth.Viewer, "GET", "/deliveries?address=R1@example.com", nil)
		items, _ := body["items"].([]any)
		if status != 200 || len(items) != 1 || items[0].(map[string]any)["state"] != "queued" || items[0].(map[string]any)["notice_title"] != "Customer alert" {
			t.Fatalf("deliveries of r1: %d %v", status, body)
		}
		status, body = e.do(auth.Viewer, "GET", "/deliveries", nil)
		if status != 422 {
			t.Fatalf("deliveries without an address: %d %v", status, body)
		}
	})
}
