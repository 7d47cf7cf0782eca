package web_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/email/mailbox"
	"github.com/candorhq/candor/internal/store/storetest"
	"github.com/candorhq/candor/internal/web"
)

// The demo's mailbox is what the UI is given.
var _ web.Mailbox = (*mailbox.Mailbox)(nil)

// fakeMailbox keeps messages in memory, as mailbox.Mailbox keeps them on
// disk.
type fakeMailbox struct {
	mu      sync.Mutex
	entries []mailbox.Entry
	raw     map[int64][]byte
}

// add stores a message to "to"; html "" makes a plain-text message.
func (m *fakeMailbox) add(to, subject, messageID, text, html string) int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := int64(len(m.entries) + 1)
	var b strings.Builder
	fmt.Fprintf(&b, "From: Example Shop <alerts@example.com>\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: %s\r\nDate: Fri, 01 Mar 2024 14:30:00 +0000\r\nMIME-Version: 1.0\r\n", to, subject, messageID)
	if html == "" {
		fmt.Fprintf(&b, "Content-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n", text)
	} else {
		fmt.Fprintf(&b, "Content-Type: multipart/alternative; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n--b1\r\nContent-Type: text/html; charset=utf-8\r\n\r\n%s\r\n--b1--\r\n", text, html)
	}
	if m.raw == nil {
		m.raw = map[int64][]byte{}
	}
	m.raw[id] = []byte(b.String())
	m.entries = append(m.entries, mailbox.Entry{ID: id, From: "alerts@example.com", To: []string{to}, Subject: subject, MessageID: messageID,
		Date: time.Date(2024, 3, 1, 14, 30, 0, 0, time.UTC), Size: b.Len(), Received: time.Date(2024, 3, 1, 14, 30, int(id), 0, time.UTC)})
	return id
}

func (m *fakeMailbox) List(offset, limit int, to string) ([]mailbox.Entry, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var all []mailbox.Entry
	for _, e := range slices.Backward(m.entries) {
		if to == "" || slices.ContainsFunc(e.To, func(a string) bool { return strings.EqualFold(a, to) }) {
			all = append(all, e)
		}
	}
	n := len(all)
	all = all[min(offset, n):]
	if limit > 0 && len(all) > limit {
		all = all[:limit]
	}
	return all, n
}

func (m *fakeMailbox) Raw(id int64) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if b, ok := m.raw[id]; ok {
		return b, nil
	}
	return nil, apperr.NotFound("message %d not found", id)
}

func (m *fakeMailbox) ByMessageID(id string) (mailbox.Entry, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	bare := strings.Trim(id, "<>")
	for _, e := range slices.Backward(m.entries) {
		if strings.Trim(e.MessageID, "<>") == bare {
			return e, true
		}
	}
	return mailbox.Entry{}, false
}

// message adds an HTML message to the env's mailbox and returns its id.
func (e *env) message() int64 {
	return e.mailbox.add("ana@example.com", "About your account", fmt.Sprintf("<m%d@example.com>", e.nextSeq()), "Dear Ana,\n\nWe are sorry.", "<p>Dear <b>Ana</b>, we are sorry.</p>")
}

func mailboxRoleCases(e *env) []roleCase {
	get := func(path func() string) func(auth.Role) roleReq {
		return func(auth.Role) roleReq { return roleReq{path: path()} }
	}
	return []roleCase{
		{"GET /mailbox", everyone, http.StatusOK, 0, get(func() string { e.message(); return "/mailbox" })},
		{"GET /mailbox/{id}", everyone, http.StatusOK, 0, get(func() string { return fmt.Sprintf("/mailbox/%d", e.message()) })},
		{"GET /mailbox/{id}/html", everyone, http.StatusOK, 0, get(func() string { return fmt.Sprintf("/mailbox/%d/html", e.message()) })},
	}
}

// TestMailboxPages: the demo mailbox lists what was received, newest
// first and by recipient, and shows one message's headers, text and, in a
// sandbox, its HTML.
func TestMailboxPages(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	old := e.mailbox.add("ana@example.com", "First notice", "<first@example.com>", "Hello Ana, the first time.", "")
	e.mailbox.add("bob@example.com", "About your card", "<bob@example.com>", "Dear Bob", "<p>Dear Bob</p>")
	latest := e.mailbox.add("ana@example.com", "Update: what we found", "<update@example.com>", "Dear Ana,\n\nHere is what we found.", `<p style="color:red">Dear <b>Ana</b></p><script>alert(1)</script>`)

	list := e.as(auth.Viewer, "GET", "/mailbox", nil)
	mustContain(t, list.body, `href="/mailbox" aria-current="page">Demo mailbox`, "Messages 1–3 of 3", "Update: what we found", "About your card", "First notice")
	if strings.Index(list.body, "Update: what we found") > strings.Index(list.body, "First notice") {
		t.Error("the list is not newest first")
	}
	ana := e.as(auth.Viewer, "GET", "/mailbox?to=ANA%40example.com", nil)
	mustContain(t, ana.body, "Messages 1–2 of 2 to ANA@example.com", "First notice", "Show everyone's")
	if strings.Contains(ana.body, "About your card") {
		t.Error("the filter shows bob's message")
	}
	mustContain(t, e.as(auth.Viewer, "GET", "/mailbox?to=nobody%40example.com", nil).body, "No messages to nobody@example.com")
	if got := e.as(auth.Viewer, "GET", "/mailbox?offset=-3", nil); got.status != http.StatusBadRequest {
		t.Errorf("negative offset: %d", got.status)
	}

	msg := e.as(auth.Viewer, "GET", fmt.Sprintf("/mailbox/%d", latest), nil)
	mustContain(t, msg.body, "<h1>Update: what we found</h1>", "Example Shop &lt;alerts@example.com&gt;", "&lt;update@example.com&gt;",
		"2024-03-01 14:30:00 UTC", "Here is what we found.", fmt.Sprintf(`sandbox src="/mailbox/%d/html"`, latest),
		`href="/deliveries?address=ana%40example.com"`, "All header fields", "Raw message")
	html := e.as(auth.Viewer, "GET", fmt.Sprintf("/mailbox/%d/html", latest), nil)
	if csp := html.header.Get("Content-Security-Policy"); !strings.Contains(csp, "sandbox") || !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "script-src") {
		t.Errorf("the HTML's policy is %q", csp)
	}
	if html.header.Get("X-Frame-Options") != "SAMEORIGIN" || !strings.Contains(html.body, "Dear <b>Ana</b>") {
		t.Errorf("the HTML: %v\n%s", html.header, html.body)
	}
	plain := e.as(auth.Viewer, "GET", fmt.Sprintf("/mailbox/%d", old), nil)
	mustContain(t, plain.body, "Hello Ana, the first time.")
	if strings.Contains(plain.body, "<iframe") {
		t.Error("a plain-text message shows an HTML frame")
	}
	if got := e.as(auth.Viewer, "GET", fmt.Sprintf("/mailbox/%d/html", old), nil); got.status != http.StatusNotFound || !strings.Contains(got.body, "no HTML part") {
		t.Errorf("HTML of a plain message: %d", got.status)
	}
	if got := e.as(auth.Viewer, "GET", "/mailbox/999", nil); got.status != http.StatusNotFound || !strings.Contains(got.body, "There is no message 999 in the demo mailbox") {
		t.Errorf("missing message: %d", got.status)
	}

	// Without a demo mailbox there is no menu entry and no page.
	bare := newEnvWith(t, storetest.SQLite(t), web.Options{})
	home := bare.as(auth.Viewer, "GET", "/", nil)
	if strings.Contains(home.body, "Demo mailbox") || !strings.Contains(home.body, `href="/deliveries"`) {
		t.Error("without a mailbox the menu still links to it, or lost the ledger lookup")
	}
	for _, p := range []string{"/mailbox", "/mailbox/1", "/mailbox/1/html"} {
		if got := bare.as(auth.Viewer, "GET", p, nil); got.status != http.StatusNotFound || !strings.Contains(got.body, "There is no demo mailbox") {
			t.Errorf("%s without a mailbox: %d", p, got.status)
		}
	}
}
