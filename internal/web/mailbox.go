package web

import (
	"fmt"
	"net/http"
	"net/mail"
	"net/url"
	"strconv"
	"strings"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/email/mailbox"
)

// Mailbox is the demo mailbox: an SMTP server inside the process that keeps
// what it receives, so that a demo can show what each recipient got
// without sending real mail. *mailbox.Mailbox implements it.
type Mailbox interface {
	// List returns up to limit messages from offset, newest first, to the
	// address to ("" for all), and how many there are in all.
	List(offset, limit int, to string) ([]mailbox.Entry, int)
	// Raw returns a message as it was received.
	Raw(id int64) ([]byte, error)
	// ByMessageID finds a message by its Message-ID, given with or without
	// its angle brackets.
	ByMessageID(id string) (mailbox.Entry, bool)
}

// mailboxPageSize is how many messages the mailbox list shows at once.
const mailboxPageSize = 50

// mailboxID returns the demo mailbox's id of the message with Message-ID
// mid, or 0.
func (h *handler) mailboxID(mid string) int64 {
	if h.opt.Mailbox == nil || mid == "" {
		return 0
	}
	if e, ok := h.opt.Mailbox.ByMessageID(mid); ok {
		return e.ID
	}
	return 0
}

// noMailbox answers the mailbox pages when no demo mailbox is configured.
func (h *handler) noMailbox(w http.ResponseWriter, r *http.Request) {
	h.errorPage(w, r, http.StatusNotFound, "There is no demo mailbox",
		"This Candor sends its mail to a real mail server, so there is no demo mailbox to show.",
		"To see what a person was sent, look their address up under Deliveries.")
}

// mailboxUser starts a mailbox page: a signed-in person who may read, and
// a configured mailbox.
func (h *handler) mailboxUser(w http.ResponseWriter, r *http.Request) (auth.Principal, bool) {
	p, ok := h.user(w, r)
	if !ok {
		return p, false
	}
	if !p.Role.Can(auth.Read) {
		h.forbidden(w, r, "read the demo mailbox")
		return p, false
	}
	if h.opt.Mailbox == nil {
		h.noMailbox(w, r)
		return p, false
	}
	return p, true
}

type mailboxPage struct {
	To      string
	Entries []mailbox.Entry
	Total   int
	Offset  int
}

// First and Last number the messages shown (1-based).
func (d mailboxPage) First() int { return d.Offset + 1 }
func (d mailboxPage) Last() int  { return d.Offset + len(d.Entries) }

func (d mailboxPage) pageURL(offset int) string {
	q := url.Values{}
	if d.To != "" {
		q.Set("to", d.To)
	}
	if offset > 0 {
		q.Set("offset", strconv.Itoa(offset))
	}
	if len(q) == 0 {
		return "/mailbox"
	}
	return "/mailbox?" + q.Encode()
}

// NewerURL and OlderURL page through the list; "" when there is no page.
func (d mailboxPage) NewerURL() string {
	if d.Offset == 0 {
		return ""
	}
	return d.pageURL(max(0, d.Offset-mailboxPageSize))
}

func (d mailboxPage) OlderURL() string {
	if d.Offset+len(d.Entries) >= d.Total || len(d.Entries) == 0 {
		return ""
	}
	return d.pageURL(d.Offset + len(d.Entries))
}

func (h *handler) mailbox(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.mailboxUser(w, r); !ok {
		return
	}
	d := mailboxPage{To: strings.TrimSpace(r.URL.Query().Get("to"))}
	if s := r.URL.Query().Get("offset"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 {
			h.badRequest(w, r, fmt.Sprintf("%q is not a valid page position.", s))
			return
		}
		d.Offset = n
	}
	d.Entries, d.Total = h.opt.Mailbox.List(d.Offset, mailboxPageSize, d.To)
	h.render(w, r, http.StatusOK, "mailbox", page{Title: "Demo mailbox", Nav: "mailbox", Data: d})
}

type mailboxMessagePage struct {
	ID      int64
	Subject string
	From    string
	// To are the recipients' addresses, for links to the ledger.
	To        []string
	ToHeader  string
	Date      string
	MessageID string
	Headers   []mailbox.Header
	Text      string
	HasHTML   bool
	Size      int
	Raw       string
	// RawCut: the raw source is longer than the page shows.
	RawCut bool
	// ParseError is why the message could not be read as MIME.
	ParseError string
}

// rawShown bounds the raw source shown on the page.
const rawShown = 256 << 10

// mailboxRaw reads the message named by the {id} path value, answering
// when there is none.
func (h *handler) mailboxRaw(w http.ResponseWriter, r *http.Request) (int64, []byte, bool) {
	if _, ok := h.mailboxUser(w, r); !ok {
		return 0, nil, false
	}
	id, ok := h.pathID(w, r, "id")
	if !ok {
		return 0, nil, false
	}
	raw, err := h.opt.Mailbox.Raw(id)
	if err != nil && apperr.Code(err) != apperr.ENOTFOUND {
		h.fail(w, r, err, "read the demo mailbox")
		return 0, nil, false
	}
	if err != nil {
		h.errorPage(w, r, http.StatusNotFound, "Not found", fmt.Sprintf("There is no message %d in the demo mailbox.", id),
			"The demo mailbox may have been emptied, for example when the demo restarted.")
		return 0, nil, false
	}
	return id, raw, true
}

func (h *handler) mailboxMessage(w http.ResponseWriter, r *http.Request) {
	id, raw, ok := h.mailboxRaw(w, r)
	if !ok {
		return
	}
	d := mailboxMessagePage{ID: id, Size: len(raw)}
	d.Raw = string(raw)
	if len(d.Raw) > rawShown {
		d.Raw, d.RawCut = d.Raw[:rawShown], true
	}
	// Parse returns what it could read along with an error.
	pm, err := mailbox.Parse(raw)
	if err != nil {
		d.ParseError = err.Error()
	}
	d.Headers = pm.Headers
	for _, hd := range pm.Headers {
		v := hd.Value
		switch strings.ToLower(hd.Key) {
		case "subject":
			d.Subject = v
		case "from":
			d.From = v
		case "to":
			d.ToHeader = v
			if as, err := mail.ParseAddressList(v); err == nil {
				for _, a := range as {
					d.To = append(d.To, a.Address)
				}
			}
		case "date":
			d.Date = v
			if t, err := mail.ParseDate(v); err == nil {
				d.Date = secondsTime(t)
			}
		case "message-id":
			d.MessageID = v
		}
	}
	d.Text, d.HasHTML = pm.Text, pm.HTML != ""
	title := d.Subject
	if title == "" {
		title = fmt.Sprintf("Message %d", id)
	}
	h.render(w, r, http.StatusOK, "mailbox_message", page{Title: title + " · Demo mailbox", Nav: "mailbox", Data: d})
}

// mailboxHTML serves a message's HTML alone, for the message page's
// sandboxed iframe, under the same strict policy as the notice preview:
// inline styles only, no scripts, no requests anywhere, a sandbox, and
// framing by this site only.
func (h *handler) mailboxHTML(w http.ResponseWriter, r *http.Request) {
	_, raw, ok := h.mailboxRaw(w, r)
	if !ok {
		return
	}
	pm, _ := mailbox.Parse(raw)
	if pm.HTML == "" {
		h.errorPage(w, r, http.StatusNotFound, "No HTML", "This message has no HTML part; its plain text is on the message page.", "")
		return
	}
	writeEmailHTML(w, pm.HTML)
}
