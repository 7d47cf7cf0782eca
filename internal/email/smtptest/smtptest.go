// Package smtptest is an SMTP server for tests: it keeps every message it
// accepts (envelope and data) and can refuse chosen recipients, so tests
// exercise Candor's sending over a real SMTP session on loopback.
package smtptest

import (
	"bytes"
	"io"
	"log"
	"net"
	"net/mail"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"
)

// Message is one accepted message.
type Message struct {
	From string
	To   []string
	Data []byte
}

// Header returns a header field of the message.
func (m Message) Header(key string) string {
	msg, err := mail.ReadMessage(bytes.NewReader(m.Data))
	if err != nil {
		return ""
	}
	return msg.Header.Get(key)
}

// Server is a recording SMTP server.
type Server struct {
	Addr string
	// Refuse, when set, is asked about each RCPT; a non-nil error is the
	// reply (e.g. &smtp.SMTPError{Code: 451, …}).
	Refuse func(rcpt string) error
	// RefuseData is asked after the data of each message.
	RefuseData func(rcpts []string) error

	mu   sync.Mutex
	msgs []Message
	srv  *smtp.Server
}

// Start starts a server on 127.0.0.1 that stops when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{}
	s.srv = smtp.NewServer(s)
	s.srv.Domain = "smtptest.local"
	s.srv.AllowInsecureAuth = true
	s.srv.MaxRecipients = 100
	s.srv.ErrorLog = log.New(io.Discard, "", 0) // clients killed on purpose are not news
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = l.Addr().String()
	go s.srv.Serve(l)
	t.Cleanup(func() { s.srv.Close() })
	return s
}

// Messages returns a copy of what was accepted so far, in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Count is the number of messages accepted.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.msgs)
}

// NewSession implements smtp.Backend.
func (s *Server) NewSession(*smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }

type session struct {
	s    *Server
	from string
	to   []string
}

func (x *session) AuthPlain(string, string) error { return nil }
func (x *session) Mail(from string, _ *smtp.MailOptions) error {
	x.from = from
	return nil
}
func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if x.s.Refuse != nil {
		if err := x.s.Refuse(to); err != nil {
			return err
		}
	}
	x.to = append(x.to, to)
	return nil
}
func (x *session) Reset()        { x.from, x.to = "", nil }
func (x *session) Logout() error { return nil }
func (x *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if x.s.RefuseData != nil {
		if err := x.s.RefuseData(x.to); err != nil {
			return err
		}
	}
	x.s.mu.Lock()
	x.s.msgs = append(x.s.msgs, Message{From: x.from, To: append([]string(nil), x.to...), Data: b})
	x.s.mu.Unlock()
	return nil
}
