package cli_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/candorhq/candor/internal/notice"
	"github.com/candorhq/candor/internal/store"
	"github.com/candorhq/candor/internal/store/storetest"
)

// TestSendCommands releases from the shell (refused for a notice that is
// not approved), follows it, pauses, resumes, cancels and looks people up.
func TestSendCommands(t *testing.T) {
	eachDSN(t, func(t *testing.T, dsn string) {
		env := map[string]string{"CANDOR_DB": dsn, "CANDOR_LOG_LEVEL": "warn"}
		db, err := store.Open(context.Background(), dsn, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		f := storetest.NewFixture(t, db, storetest.Recipients(4), notice.Content{Subject: "Your account", Body: "Dear {{.Recipient.Name}}, we are sorry."})
		draft, err := db.CreateNotices(context.Background(), f.Author, []notice.New{{IncidentID: f.Incident.ID, Title: "Draft alert", AudienceKind: "affected_customers",
			AudienceID: f.Audience.ID, Channels: []notice.Channel{notice.ChannelEmail}, Content: notice.Content{Subject: "S", Body: "B"}}}, "")
		if err != nil {
			t.Fatal(err)
		}
		if r := run(t, "", env, "send", "release", "--notice", fmt.Sprint(draft[0].ID)); r.code != 1 || !strings.Contains(r.stderr, "no approved version") {
			t.Fatalf("release a draft: %+v", r)
		}
		if r := run(t, "", env, "send", "release"); r.code != 2 || !strings.Contains(r.stderr, "--notice is required") {
			t.Fatalf("release without --notice: %+v", r)
		}
		id := f.Approved.Version().NoticeID
		if r := run(t, "", env, "send", "release", "--notice", fmt.Sprint(id), "--channel", "pigeon"); r.code != 2 || !strings.Contains(r.stderr, `--channel "pigeon": use email or status_page`) {
			t.Fatalf("release by an unknown channel: %+v", r)
		}
		if r := run(t, "", env, "send", "release", "--notice", fmt.Sprint(id), "--channel", "status_page"); r.code != 1 || !strings.Contains(r.stderr, "is not written for status_page") {
			t.Fatalf("publish an email-only notice: %+v", r)
		}
		r := run(t, "", env, "send", "release", "--notice", fmt.Sprint(id), "--at", "2h")
		if r.code != 0 || !strings.Contains(r.stdout, "4 recipients new to the ledger, scheduled for") || !strings.Contains(r.stderr, "no \"candor serve\" is running") {
			t.Fatalf("release: %+v", r)
		}
		if r := run(t, "", env, "send", "release", "--notice", fmt.Sprint(id)); r.code != 0 || !strings.Contains(r.stdout, " 0 recipients new") {
			t.Fatalf("release again: %+v", r)
		}
		if r := run(t, "", env, "send", "status", "--release", "1"); r.code != 0 || !strings.Contains(r.stdout, "0 of 4 sent") || !strings.Contains(r.stdout, "queued") {
			t.Fatalf("status: %+v", r)
		}
		if r := run(t, "", env, "send", "pause", "--release", "1", "--reason", "legal"); r.code != 0 || !strings.Contains(r.stdout, "paused") {
			t.Fatalf("pause: %+v", r)
		}
		if r := run(t, "", env, "send", "list", "--notice", fmt.Sprint(id)); r.code != 0 || !strings.Contains(r.stdout, "Paused") {
			t.Fatalf("list: %+v", r)
		}
		if r := run(t, "", env, "send", "resume", "--release", "1"); r.code != 0 || !strings.Contains(r.stdout, "scheduled") && !strings.Contains(r.stdout, "sending") {
			t.Fatalf("resume: %+v", r)
		}
		if r := run(t, "", env, "send", "cancel", "--release", "1"); r.code != 2 {
			t.Fatalf("cancel without a reason: %+v", r)
		}
		if r := run(t, "", env, "send", "cancel", "--release", "1", "--reason", "wrong audience"); r.code != 0 || !strings.Contains(r.stdout, "4 cancelled") {
			t.Fatalf("cancel: %+v", r)
		}
		if r := run(t, "", env, "send", "log", "--address", "R2@example.com"); r.code != 0 || !strings.Contains(r.stdout, "r2@example.com") || !strings.Contains(r.stdout, "cancelled") {
			t.Fatalf("log: %+v", r)
		}
		if r := run(t, "", env, "send", "status", "--release", "99"); r.code != 4 {
			t.Fatalf("status of a missing release: %+v", r)
		}
	})
}
