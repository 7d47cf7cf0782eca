package dispatch_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"
	"github.com/emersion/go-smtp"

	"github.com/candorhq/candor/internal/delivery"
	"github.com/candorhq/candor/internal/dispatch"
	"github.com/candorhq/candor/internal/email"
	"github.com/candorhq/candor/internal/email/smtptest"
	"github.com/candorhq/candor/internal/notice"
	"github.com/candorhq/candor/internal/store"
	"github.com/candorhq/candor/internal/store/storetest"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func emailSender(addr string, d *email.DKIM) *dispatch.EmailSender {
	return dispatch.NewEmailSender(dispatch.EmailConfig{
		SMTP:        email.Config{Addr: addr, Security: "none", HeloName: "candor.test"},
		Connections: 4,
		From:        email.Address{Name: "Example Security", Addr: "security@example.com"},
		Domain:      "example.com",
		DKIM:        d,
	}, slog.New(slog.DiscardHandler))
}

var alertContent = notice.Content{
	Subject: "Important: your {{.Company.Name}} account, {{.Recipient.Name}}",
	Body: "Dear {{.Recipient.Name}},\n\nSomeone copied part of our customer records. About you they had:\n\n" +
		"{{range .Recipient.Exposed}}- {{.}}\n{{end}}\n## What you should do\n\nWatch your card statements.\n\nWe are sorry.",
	Variants: []notice.Variant{{Name: "Français", Locale: "fr", Subject: "Important : votre compte, {{.Recipient.Name}}",
		Body: "Bonjour {{.Recipient.Name}},\n\nquelqu'un a copié une partie de nos fichiers clients. Nous en sommes désolés."}},
}

// TestEmailMessagesPerVariant sends a release over a real SMTP session and
// compares each variant's message with its golden file.
func TestEmailMessagesPerVariant(t *testing.T) {
	db := storetest.SQLite(t)
	f := storetest.NewFixture(t, db, "email,name,locale,exposed\nann@example.com,Ann O'Hara,en-US,name;email;card_number\nbea@example.org,Béatrice Lévesque,fr-CA,name;email\n", alertContent)
	srv := smtptest.Start(t)
	start(t, db, dispatch.Config{}, emailSender(srv.Addr, nil))
	rel := release(t, db, f, time.Time{})
	waitState(t, db, rel.ID, delivery.ReleaseDone)
	msgs := srv.Messages()
	if len(msgs) != 2 {
		t.Fatalf("%d messages", len(msgs))
	}
	for _, m := range msgs {
		rows, err := db.FindDeliveries(context.Background(), store.DeliveryFilter{Address: m.To[0]})
		if err != nil || len(rows) != 1 {
			t.Fatal(rows, err)
		}
		d := rows[0]
		token := delivery.Token(rel.TokenKey, d.ID)
		if m.From != "bounce+"+token+"@example.com" {
			t.Errorf("envelope sender %q, want the bounce address of delivery %d", m.From, d.ID)
		}
		if got := m.Header("Reply-To"); got != "<reply+"+token+"@example.com>" && got != "reply+"+token+"@example.com" {
			t.Errorf("Reply-To %q", got)
		}
		if got := m.Header("Message-Id"); got != d.MessageID || !strings.HasPrefix(got, "<") {
			t.Errorf("Message-ID %q, ledger says %q", got, d.MessageID)
		}
		if !strings.HasPrefix(d.ProviderID, "250") {
			t.Errorf("provider id %q", d.ProviderID)
		}
		name := "variant-default.eml"
		if *d.Variant == 0 {
			name = "variant-fr.eml"
		}
		golden(t, name, normalise(m.Data, token, d.MessageID))
	}
}

// normalise replaces what changes from run to run: the date, tokens and
// Message-ID, and the MIME boundary derived from it.
func normalise(b []byte, token, mid string) []byte {
	s := string(b)
	s = strings.ReplaceAll(s, mid, "<MESSAGE-ID>")
	s = strings.ReplaceAll(s, token, "TOKEN")
	s = regexp.MustCompile(`(?m)^Date: .*\r\n`).ReplaceAllString(s, "Date: DATE\r\n")
	if m := regexp.MustCompile(`boundary="?([^";\r\n]+)`).FindStringSubmatch(s); m != nil {
		s = strings.ReplaceAll(s, m[1], "BOUNDARY")
	}
	return []byte(s)
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		os.MkdirAll("testdata", 0o755)
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/dispatch -run Variant -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the message sent:\n%s", path, got)
	}
}

func TestEmailDKIMVerifies(t *testing.T) {
	db := storetest.SQLite(t)
	f := storetest.NewFixture(t, db, storetest.Recipients(3), alertContent)
	_, key, _ := ed25519.GenerateKey(rand.Reader)
	d, err := email.NewDKIM("example.com", "s2026", key)
	if err != nil {
		t.Fatal(err)
	}
	srv := smtptest.Start(t)
	start(t, db, dispatch.Config{}, emailSender(srv.Addr, d))
	rel := release(t, db, f, time.Time{})
	waitState(t, db, rel.ID, delivery.ReleaseDone)
	for _, m := range srv.Messages() {
		vs, err := dkim.VerifyWithOptions(bytes.NewReader(m.Data), &dkim.VerifyOptions{LookupTXT: func(domain string) ([]string, error) {
			if domain != d.RecordName() {
				return nil, fmt.Errorf("no record %s", domain)
			}
			return []string{d.Record()}, nil
		}})
		if err != nil || len(vs) != 1 || vs[0].Err != nil || vs[0].Domain != "example.com" {
			t.Fatalf("DKIM of the message to %v: %+v %v", m.To, vs, err)
		}
	}
}

// A relay's 4xx defers (and the next attempt goes through), its 5xx fails
// with the relay's words kept.
func TestEmailTemporaryAndPermanentRefusals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := storetest.NewFixture(t, db, storetest.Recipients(10), alertContent)
		srv := smtptest.Start(t)
		var mu sync.Mutex
		tries := map[string]int{}
		srv.Refuse = func(rcpt string) error {
			mu.Lock()
			defer mu.Unlock()
			tries[rcpt]++
			switch {
			case rcpt == "r2@example.com" && tries[rcpt] == 1:
				return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 7, 1}, Message: "Greylisted, try again later"}
			case rcpt == "r4@example.com":
				return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such mailbox here"}
			}
			return nil
		}
		start(t, db, dispatch.Config{BackoffBase: 50 * time.Millisecond, BackoffMax: 50 * time.Millisecond}, emailSender(srv.Addr, nil))
		rel := release(t, db, f, time.Time{})
		waitState(t, db, rel.ID, delivery.ReleaseDone)
		c, _ := db.ReleaseCounts(context.Background(), rel.ID)
		if c[delivery.Sent] != 9 || c[delivery.Failed] != 1 {
			t.Fatalf("counts %v", c)
		}
		rows, _ := db.FindDeliveries(context.Background(), store.DeliveryFilter{Address: "r4@example.com"})
		if rows[0].State != delivery.Failed || !strings.Contains(rows[0].LastError, "No such mailbox here") || !strings.Contains(rows[0].LastError, "550") {
			t.Fatalf("5xx: %+v", rows[0])
		}
		rows, _ = db.FindDeliveries(context.Background(), store.DeliveryFilter{Address: "r2@example.com"})
		if rows[0].State != delivery.Sent || rows[0].Attempts != 2 {
			t.Fatalf("4xx then accepted: %+v", rows[0])
		}
		if srv.Count() != 9 {
			t.Fatalf("the relay took %d messages, want 9", srv.Count())
		}
	})
}

// Two dispatchers on one PostgreSQL database share a release and never
// send the same delivery twice. (On SQLite one process sends.)
func TestTwoWorkersNeverSendTwice(t *testing.T) {
	t.Run("postgres", func(t *testing.T) {
		db := storetest.Postgres(t)
		f := storetest.NewFixture(t, db, storetest.Recipients(1500), alertContent)
		srv := smtptest.Start(t)
		start(t, db, dispatch.Config{InFlight: 32, Batch: 16}, emailSender(srv.Addr, nil))
		start(t, db, dispatch.Config{InFlight: 32, Batch: 16}, emailSender(srv.Addr, nil))
		rel := release(t, db, f, time.Time{})
		waitState(t, db, rel.ID, delivery.ReleaseDone)
		seen := map[string]int{}
		for _, m := range srv.Messages() {
			for _, rc := range m.To {
				seen[rc]++
			}
		}
		if len(seen) != 1500 {
			t.Fatalf("%d recipients reached, want 1500", len(seen))
		}
		for rc, n := range seen {
			if n != 1 {
				t.Fatalf("%s got %d messages", rc, n)
			}
		}
	})
}

// A release scheduled for later fires after the process that saw it
// created has stopped and another has started.
func TestScheduledReleaseFiresAfterRestart(t *testing.T) {
	db := storetest.SQLite(t)
	f := storetest.NewFixture(t, db, storetest.Recipients(5), alertContent)
	srv := smtptest.Start(t)
	at := time.Now().Add(time.Second)
	rel := release(t, db, f, at)
	ctx, cancel := context.WithCancel(context.Background())
	d := dispatch.New(db, slog.New(slog.DiscardHandler), dispatch.Config{Poll: 20 * time.Millisecond}, prepare(db), nil, emailSender(srv.Addr, nil))
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	time.Sleep(200 * time.Millisecond)
	cancel()
	<-done
	if srv.Count() != 0 {
		t.Fatal("sent before its time")
	}
	time.Sleep(time.Until(at))
	start(t, db, dispatch.Config{}, emailSender(srv.Addr, nil))
	waitState(t, db, rel.ID, delivery.ReleaseDone)
	if srv.Count() != 5 {
		t.Fatalf("%d sent", srv.Count())
	}
}

// Pause stops the sending within moments; resume finishes it; cancel
// stops the rest for good.
func TestPauseResumeCancelWhileSending(t *testing.T) {
	db := storetest.SQLite(t)
	f := storetest.NewFixture(t, db, storetest.Recipients(3000), alertContent)
	srv := smtptest.Start(t)
	start(t, db, dispatch.Config{InFlight: 16, Batch: 8}, emailSender(srv.Addr, nil))
	rel := release(t, db, f, time.Time{})
	for srv.Count() < 100 {
		time.Sleep(time.Millisecond)
	}
	ctx := context.Background()
	if _, err := db.MoveRelease(ctx, f.Approver, rel.ID, store.ReleaseMove{From: []delivery.ReleaseState{delivery.ReleaseRunning}, To: delivery.ReleasePaused, Action: "release.pause", Summary: "Paused"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	n := srv.Count()
	time.Sleep(500 * time.Millisecond)
	if srv.Count() != n || n >= 3000 {
		t.Fatalf("still sending while paused: %d then %d", n, srv.Count())
	}
	if _, err := db.MoveRelease(ctx, f.Approver, rel.ID, store.ReleaseMove{From: []delivery.ReleaseState{delivery.ReleasePaused}, To: delivery.ReleaseRunning, Action: "release.resume", Summary: "Resumed"}); err != nil {
		t.Fatal(err)
	}
	for srv.Count() < n+200 {
		time.Sleep(time.Millisecond)
	}
	if _, err := db.MoveRelease(ctx, f.Approver, rel.ID, store.ReleaseMove{From: []delivery.ReleaseState{delivery.ReleaseRunning}, To: delivery.ReleaseCancelled, Reason: "wrong text", Action: "release.cancel", Summary: "Cancelled"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	c, _ := db.ReleaseCounts(ctx, rel.ID)
	if c[delivery.Cancelled] == 0 || c[delivery.Sent]+c[delivery.Cancelled] != 3000 || int(c[delivery.Sent]) != srv.Count() {
		t.Fatalf("after cancel: %v, relay took %d", c, srv.Count())
	}
}
