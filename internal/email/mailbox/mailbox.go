// Package mailbox is an SMTP server (RFC 5321, served by go-smtp) that
// keeps every message it receives, so the demo can show what each
// recipient got and tests can read back what was sent.
//
// Messages are stored as they arrived, one .eml file each (RFC 5322),
// under a directory; only a small index entry per message stays in memory,
// so a mailbox takes hundreds of thousands of messages. Parse splits a
// stored message for display: MIME (RFC 2045, RFC 2046) and encoded-word
// (RFC 2047) decoding.
package mailbox

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/mail"
	"net/textproto"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/candorhq/candor/internal/apperr"
)

// MaxMessageBytes is the largest message the mailbox takes.
const MaxMessageBytes = 32 << 20

// Mailbox is a running SMTP server and the index of what it received. It
// accepts any sender and recipient, and any AUTH PLAIN credentials; it
// offers no TLS, so clients must send with security "none". Its methods
// are safe for concurrent use.
type Mailbox struct {
	dir  string
	log  *slog.Logger
	srv  *smtp.Server
	ln   net.Listener
	done chan struct{}

	mu      sync.RWMutex
	entries []Entry          // by ID, ascending
	byRcpt  map[string][]int // lower-cased recipient address → indexes in entries
	byMID   map[string]int   // Message-ID → index of its latest entry
	lastID  int64
}

// Entry describes one stored message.
type Entry struct {
	ID        int64
	From      string   // envelope sender (MAIL FROM); "" for a null sender
	To        []string // envelope recipients (RCPT TO)
	Subject   string   // decoded from RFC 2047
	MessageID string   // as in the header, with its angle brackets
	Date      time.Time
	Size      int // bytes, as received
	Received  time.Time
}

// Start listens on addr (e.g. "127.0.0.1:0") and keeps messages under dir,
// which it creates if needed. Messages already in dir from an earlier run
// are indexed again, with From and To taken from their headers since the
// envelope is not stored.
func Start(addr, dir string, log *slog.Logger) (*Mailbox, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Mailbox{
		dir:    dir,
		log:    log.With("component", "mailbox"),
		done:   make(chan struct{}),
		byRcpt: map[string][]int{},
		byMID:  map[string]int{},
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("mailbox: %w", err)
	}
	if err := m.load(); err != nil {
		return nil, fmt.Errorf("mailbox: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("mailbox: %w", err)
	}
	m.ln = ln
	s := smtp.NewServer(backend{m})
	s.Domain = "candor-mailbox"
	s.MaxMessageBytes = MaxMessageBytes
	s.MaxRecipients = 1000
	s.ReadTimeout, s.WriteTimeout = 5*time.Minute, time.Minute
	s.AllowInsecureAuth = true
	s.ErrorLog = slogPrinter{m.log}
	m.srv = s
	go func() {
		defer close(m.done)
		if err := s.Serve(ln); err != nil && !errors.Is(err, smtp.ErrServerClosed) {
			m.log.Error("mailbox_serve", "err", err)
		}
	}()
	m.log.Info("mailbox_started", "addr", m.Addr(), "dir", dir, "messages", m.Count())
	return m, nil
}

// Addr is the address the server listens on.
func (m *Mailbox) Addr() string { return m.ln.Addr().String() }

// Close stops the server and closes its sessions; the stored messages stay
// in the directory.
func (m *Mailbox) Close() error {
	err := m.srv.Close()
	<-m.done
	if errors.Is(err, smtp.ErrServerClosed) {
		return nil
	}
	return err
}

// Count is the number of stored messages.
func (m *Mailbox) Count() int {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return len(m.entries)
}

// List returns up to limit entries (all when limit <= 0), newest first,
// skipping offset, of the messages to the recipient to (compared without
// case) or of all when to is "", and how many match in all.
func (m *Mailbox) List(offset, limit int, to string) ([]Entry, int) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var idx []int
	total := len(m.entries)
	if to != "" {
		idx = m.byRcpt[strings.ToLower(to)]
		total = len(idx)
	}
	offset = max(offset, 0)
	n := total - offset
	if limit > 0 {
		n = min(n, limit)
	}
	if n <= 0 {
		return nil, total
	}
	out := make([]Entry, 0, n)
	for i := offset; i < offset+n; i++ {
		j := total - 1 - i
		if idx != nil {
			j = idx[j]
		}
		e := m.entries[j]
		e.To = slices.Clone(e.To)
		out = append(out, e)
	}
	return out, total
}

// ByMessageID returns the latest message with Message-ID id, given with
// or without its angle brackets.
func (m *Mailbox) ByMessageID(id string) (Entry, bool) {
	id = strings.TrimSpace(id)
	if !strings.HasPrefix(id, "<") {
		id = "<" + id + ">"
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	i, ok := m.byMID[id]
	if !ok {
		return Entry{}, false
	}
	e := m.entries[i]
	e.To = slices.Clone(e.To)
	return e, true
}

// Raw returns the message with the given ID as received, or an ENOTFOUND
// *apperr.Error.
func (m *Mailbox) Raw(id int64) ([]byte, error) {
	m.mu.RLock()
	i := sort.Search(len(m.entries), func(i int) bool { return m.entries[i].ID >= id })
	found := i < len(m.entries) && m.entries[i].ID == id
	m.mu.RUnlock()
	if !found {
		return nil, apperr.NotFound("message %d is not in the mailbox", id)
	}
	b, err := os.ReadFile(m.path(id))
	if err != nil {
		return nil, fmt.Errorf("mailbox: read message %d: %w", id, err)
	}
	return b, nil
}

func (m *Mailbox) path(id int64) string {
	return filepath.Join(m.dir, strconv.FormatInt(id, 10)+".eml")
}

// store writes raw to a file and indexes it. The file is written under a
// temporary name and renamed to its ID under the lock, so that IDs follow
// the order of the index and Raw never sees half a message.
func (m *Mailbox) store(from string, to []string, raw []byte) error {
	f, err := os.CreateTemp(m.dir, ".incoming-*")
	if err != nil {
		return err
	}
	_, err = f.Write(raw)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return err
	}
	e := entryOf(raw)
	e.From, e.To, e.Size, e.Received = from, to, len(raw), time.Now()

	m.mu.Lock()
	defer m.mu.Unlock()
	e.ID = m.lastID + 1
	if err := os.Rename(f.Name(), m.path(e.ID)); err != nil {
		os.Remove(f.Name())
		return err
	}
	m.lastID = e.ID
	m.add(e)
	return nil
}

// add indexes e; m.mu must be held.
func (m *Mailbox) add(e Entry) {
	i := len(m.entries)
	m.entries = append(m.entries, e)
	seen := make(map[string]bool, len(e.To))
	for _, rcpt := range e.To {
		k := strings.ToLower(rcpt)
		if !seen[k] {
			seen[k] = true
			m.byRcpt[k] = append(m.byRcpt[k], i)
		}
	}
	if e.MessageID != "" {
		m.byMID[e.MessageID] = i
	}
}

// load indexes the messages already in m.dir.
func (m *Mailbox) load() error {
	des, err := os.ReadDir(m.dir)
	if err != nil {
		return err
	}
	var ids []int64
	for _, de := range des {
		name, ok := strings.CutSuffix(de.Name(), ".eml")
		if !ok || !de.Type().IsRegular() {
			continue
		}
		if id, err := strconv.ParseInt(name, 10, 64); err == nil && id > 0 {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		e, err := m.loadEntry(id)
		if err != nil {
			return err
		}
		m.add(e)
		m.lastID = id
	}
	return nil
}

func (m *Mailbox) loadEntry(id int64) (Entry, error) {
	f, err := os.Open(m.path(id))
	if err != nil {
		return Entry{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Entry{}, err
	}
	e := entryOf(readHead(f))
	e.ID, e.Size, e.Received = id, int(fi.Size()), fi.ModTime()
	return e, nil
}

// readHead reads the header section of a message, up to 256 KiB.
func readHead(r io.Reader) []byte {
	br := bufio.NewReader(io.LimitReader(r, 256<<10))
	var head []byte
	for {
		line, err := br.ReadSlice('\n')
		head = append(head, line...)
		if err != nil && err != bufio.ErrBufferFull || len(bytes.TrimRight(line, "\r\n")) == 0 && err == nil {
			return head
		}
	}
}

// entryOf fills an Entry from the header of raw. From and To are the
// header's addresses, for messages whose envelope is not known.
func entryOf(raw []byte) Entry {
	var e Entry
	h, _ := textproto.NewReader(bufio.NewReader(bytes.NewReader(raw))).ReadMIMEHeader()
	e.Subject = decodeWords(h.Get("Subject"))
	e.MessageID = strings.TrimSpace(h.Get("Message-Id"))
	e.Date, _ = mail.ParseDate(h.Get("Date"))
	if a, err := mail.ParseAddress(h.Get("From")); err == nil {
		e.From = a.Address
	}
	if as, err := mail.ParseAddressList(h.Get("To")); err == nil {
		for _, a := range as {
			e.To = append(e.To, a.Address)
		}
	}
	return e
}

var wordDecoder = &mime.WordDecoder{CharsetReader: charsetReader}

func decodeWords(s string) string {
	d, err := wordDecoder.DecodeHeader(s)
	if err != nil {
		return s
	}
	return d
}

type backend struct{ m *Mailbox }

func (b backend) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{m: b.m}, nil }

type session struct {
	m    *Mailbox
	from string
	to   []string
}

func (s *session) Reset()        { s.from, s.to = "", nil }
func (s *session) Logout() error { return nil }

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	s.from = from
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.to = append(s.to, to)
	return nil
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func (s *session) Data(r io.Reader) error {
	buf := bufPool.Get().(*bytes.Buffer)
	defer bufPool.Put(buf)
	buf.Reset()
	if _, err := buf.ReadFrom(r); err != nil {
		return err
	}
	if err := s.m.store(s.from, slices.Clone(s.to), buf.Bytes()); err != nil {
		s.m.log.Error("mailbox_store", "err", err)
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Cannot store the message"}
	}
	return nil
}

func (s *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(string, string, string) error { return nil }), nil
}

// slogPrinter passes go-smtp's error log to slog.
type slogPrinter struct{ log *slog.Logger }

func (p slogPrinter) Printf(format string, v ...any) {
	p.log.Log(context.Background(), slog.LevelWarn, "mailbox_smtp", "err", fmt.Sprintf(format, v...))
}

func (p slogPrinter) Println(v ...any) {
	p.log.Log(context.Background(), slog.LevelWarn, "mailbox_smtp", "err", strings.TrimSuffix(fmt.Sprintln(v...), "\n"))
}
