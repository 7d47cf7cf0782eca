package mailbox

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/email"
)

func start(t testing.TB, dir string) *Mailbox {
	t.Helper()
	m, err := Start("127.0.0.1:0", dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

func message(i int, to string) *email.Message {
	return &email.Message{
		From:      email.Address{Name: "Acme Security", Addr: "security@acme.example"},
		To:        email.Address{Name: "Zoë Ørsted", Addr: to},
		Subject:   fmt.Sprintf("Sécurité : incident n°%d", i),
		Text:      fmt.Sprintf("Dear Zoë,\n\n.\n..a dot line\nmessage %d, no final newline", i),
		HTML:      fmt.Sprintf("<!doctype html>\n<p style=\"x\">Dear Zoë,</p>\n<p>message %d</p>\n", i),
		MessageID: fmt.Sprintf("<m%d@acme.example>", i),
		Date:      time.Date(2026, 3, 14, 9, 0, i%60, 0, time.UTC),
	}
}

func send(t testing.TB, c *email.Conn, msg *email.Message) []byte {
	t.Helper()
	raw, err := msg.AppendTo(nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Send("bounce@acme.example", []string{msg.To.Addr}, raw); err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestMailbox(t *testing.T) {
	dir := t.TempDir()
	m := start(t, dir)
	c, err := email.Dial(context.Background(), email.Config{Addr: m.Addr(), Security: email.SecurityNone, Username: "demo", Password: "any"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	msgs := []*email.Message{message(1, "zoe@customer.example"), message(2, "bob@customer.example"), message(3, "Zoe@Customer.example")}
	msgs[1].HTML = ""
	msgs[1].Subject = "plain ascii"
	var raws [][]byte
	for _, msg := range msgs {
		raws = append(raws, send(t, c, msg))
	}

	if n := m.Count(); n != 3 {
		t.Fatalf("Count = %d, want 3", n)
	}
	all, total := m.List(0, 10, "")
	if total != 3 || len(all) != 3 || all[0].ID != 3 || all[2].ID != 1 {
		t.Fatalf("List all = %+v, %d; want 3 entries, newest first", all, total)
	}
	e := all[2]
	if e.From != "bounce@acme.example" || len(e.To) != 1 || e.To[0] != "zoe@customer.example" ||
		e.Subject != "Sécurité : incident n°1" || e.MessageID != "<m1@acme.example>" ||
		!e.Date.Equal(msgs[0].Date) || e.Size != len(raws[0]) || time.Since(e.Received) > time.Minute {
		t.Errorf("entry %+v", e)
	}

	zoe, total := m.List(0, 10, "ZOE@customer.example")
	if total != 2 || len(zoe) != 2 || zoe[0].ID != 3 || zoe[1].ID != 1 {
		t.Errorf("List for zoe = %+v, %d", zoe, total)
	}
	page, total := m.List(1, 1, "zoe@customer.example")
	if total != 2 || len(page) != 1 || page[0].ID != 1 {
		t.Errorf("second page for zoe = %+v, %d", page, total)
	}
	if none, total := m.List(5, 10, ""); len(none) != 0 || total != 3 {
		t.Errorf("past the end = %+v, %d", none, total)
	}
	if none, total := m.List(0, 10, "nobody@customer.example"); len(none) != 0 || total != 0 {
		t.Errorf("unknown recipient = %+v, %d", none, total)
	}

	for _, id := range []string{"<m2@acme.example>", "m2@acme.example", " <m2@acme.example> "} {
		if e, ok := m.ByMessageID(id); !ok || e.ID != 2 || e.Subject != "plain ascii" {
			t.Errorf("ByMessageID(%q) = %+v, %v", id, e, ok)
		}
	}
	if _, ok := m.ByMessageID("<nope@acme.example>"); ok {
		t.Error("ByMessageID found an unknown message")
	}

	for i, msg := range msgs {
		raw, err := m.Raw(int64(i + 1))
		if err != nil {
			t.Fatal(err)
		}
		if string(raw) != string(raws[i]) {
			t.Errorf("Raw(%d) differs from what was sent", i+1)
		}
		p, err := Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if p.Text != msg.Text || p.HTML != msg.HTML {
			t.Errorf("message %d parsed as\ntext %q\nhtml %q\nwant\ntext %q\nhtml %q", i+1, p.Text, p.HTML, msg.Text, msg.HTML)
		}
		if p.Headers[0].Key != "Date" || header(p, "Subject") != msg.Subject || header(p, "To") != "Zoë Ørsted <"+msg.To.Addr+">" {
			t.Errorf("headers %q", p.Headers)
		}
	}
	if _, err := m.Raw(99); apperr.Code(err) != apperr.ENOTFOUND {
		t.Errorf("Raw(99): %v, want ENOTFOUND", err)
	}

	// A mailbox started again on the same directory finds its messages.
	c.Close()
	m.Close()
	m2 := start(t, dir)
	if n := m2.Count(); n != 3 {
		t.Fatalf("after a restart Count = %d, want 3", n)
	}
	if e, ok := m2.ByMessageID("m3@acme.example"); !ok || e.ID != 3 || e.To[0] != "Zoe@Customer.example" {
		t.Errorf("after a restart ByMessageID = %+v, %v", e, ok)
	}
	c2, err := email.Dial(context.Background(), email.Config{Addr: m2.Addr(), Security: email.SecurityNone})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	send(t, c2, message(4, "zoe@customer.example"))
	if _, total := m2.List(0, 0, "zoe@customer.example"); total != 3 {
		t.Errorf("after a restart zoe has %d messages, want 3", total)
	}
	if e, _ := m2.ByMessageID("m4@acme.example"); e.ID != 4 {
		t.Errorf("the new message got ID %d, want 4", e.ID)
	}
}

func header(p Parsed, key string) string {
	for _, h := range p.Headers {
		if strings.EqualFold(h.Key, key) {
			return h.Value
		}
	}
	return ""
}

// TestMailboxMany sends a release's worth of messages through a pool and
// checks that the mailbox keeps them all, and keeps the bodies on disk.
func TestMailboxMany(t *testing.T) {
	n := 15000
	if testing.Short() {
		n = 2000
	}
	dir := t.TempDir()
	m := start(t, dir)
	pool := email.NewPool(email.Config{Addr: m.Addr(), Security: email.SecurityNone}, 4)
	defer pool.Close()

	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	started := time.Now()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			var buf []byte
			for i := w; i < n; i += 4 {
				c, err := pool.Get(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				msg := message(i, fmt.Sprintf("r%d@customer.example", i%100))
				if buf, err = msg.AppendTo(buf[:0]); err != nil {
					t.Error(err)
				} else if _, err := c.Send("bounce@acme.example", []string{msg.To.Addr}, buf); err != nil {
					t.Error(err)
				}
				pool.Put(c)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(started)
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	t.Logf("%d messages in %v (%.0f/s); heap grew by %d KiB", n, elapsed, float64(n)/elapsed.Seconds(), (int64(after.HeapAlloc)-int64(before.HeapAlloc))>>10)

	if got := m.Count(); got != n {
		t.Fatalf("Count = %d, want %d", got, n)
	}
	if _, total := m.List(0, 10, "r7@customer.example"); total != n/100 {
		t.Errorf("r7 has %d messages, want %d", total, n/100)
	}
	e, ok := m.ByMessageID(fmt.Sprintf("<m%d@acme.example>", n-1))
	if !ok {
		t.Fatal("the last message is not indexed")
	}
	raw, err := m.Raw(e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := Parse(raw); err != nil || !strings.Contains(p.Text, fmt.Sprintf("message %d,", n-1)) {
		t.Errorf("the last message parsed as %q, %v", p.Text, err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
	if len(files) != n {
		t.Errorf("%d files in the directory, want %d", len(files), n)
	}
	// Bodies are about 1 KiB each; an index that held them would grow the
	// heap by far more than this.
	if grew := int64(after.HeapAlloc) - int64(before.HeapAlloc); grew > int64(n)*600 {
		t.Errorf("the heap grew by %d bytes for %d messages", grew, n)
	}
}

func TestStartErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	if _, err := Start("127.0.0.1:0", filepath.Join(file, "sub"), nil); err == nil {
		t.Error("Start under a file succeeded")
	}
	if _, err := Start("256.0.0.1:0", t.TempDir(), nil); err == nil {
		t.Error("Start on a bad address succeeded")
	}
}
