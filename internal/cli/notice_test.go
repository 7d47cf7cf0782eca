package cli_test

import (
	"context"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/incident"
	"github.com/candorhq/candor/internal/store"
)

// TestPlaybookApply drafts the built-in package for a new incident from the
// shell, twice (the second time drafts nothing), then lists and checks.
func TestPlaybookApply(t *testing.T) {
	eachDSN(t, func(t *testing.T, dsn string) {
		env := map[string]string{"CANDOR_DB": dsn, "CANDOR_LOG_LEVEL": "warn"}
		if r := run(t, "", env, "migrate"); r.code != 0 {
			t.Fatalf("migrate: %+v", r)
		}
		r := run(t, "", env, "playbook", "list")
		if r.code != 0 || !regexp.MustCompile(`customer-data-breach\s+Customer data breach\s+\d+\s+10\s+built-in`).MatchString(r.stdout) {
			t.Fatalf("playbook list: %+v", r)
		}
		if r := run(t, "", env, "playbook", "apply", "--incident", "1", "customer-data-breach"); r.code != 4 {
			t.Fatalf("apply to a missing incident: %+v", r)
		}
		db, err := store.Open(context.Background(), dsn, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		in, err := db.CreateIncident(context.Background(), auth.CLI, incident.New{Title: "Cards stolen", Severity: incident.Critical})
		db.Close()
		if err != nil || in.ID != 1 {
			t.Fatalf("incident: %+v %v", in, err)
		}
		r = run(t, "", env, "playbook", "apply", "--incident", "1", "customer-data-breach")
		if r.code != 0 || !strings.Contains(r.stdout, "drafted 10 notices for incident 1") || !regexp.MustCompile(`T\+14h\s+press\s+email,status_page\s+Press release`).MatchString(r.stdout) {
			t.Fatalf("apply: %+v", r)
		}
		if r = run(t, "", env, "playbook", "apply", "--incident", "1", "customer-data-breach"); r.code != 0 || !strings.Contains(r.stdout, "nothing drafted") {
			t.Fatalf("apply twice: %+v", r)
		}
		if r = run(t, "", env, "notice", "list", "--incident", "1"); r.code != 0 || strings.Count(r.stdout, "draft") != 10 {
			t.Fatalf("notice list: %+v", r)
		}
		if r = run(t, "", env, "notice", "show", "5"); r.code != 0 || !strings.Contains(r.stdout, "Subject:") {
			t.Fatalf("notice show: %+v", r)
		}
		if r = run(t, "", env, "notice", "check", "5"); r.code != 0 && r.code != 1 {
			t.Fatalf("notice check: %+v", r)
		}
		if r = run(t, "", env, "playbook", "save", "--incident", "1", "--name", "Our breach"); r.code != 0 || !strings.Contains(r.stdout, "saved playbook our-breach") {
			t.Fatalf("playbook save: %+v", r)
		}
		if r := run(t, "", env, "playbook", "apply", "customer-data-breach"); r.code != 2 || !strings.Contains(r.stderr, "--incident") {
			t.Fatalf("apply without --incident: %+v", r)
		}
		if r := run(t, "", env, "playbook", "--help"); r.code != 0 || !strings.Contains(r.stderr, "candor playbook apply --incident 1 customer-data-breach") {
			t.Fatalf("help: %+v", r)
		}
	})
}
