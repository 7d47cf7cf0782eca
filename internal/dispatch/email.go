package dispatch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/candorhq/candor/internal/delivery"
	"github.com/candorhq/candor/internal/email"
	"github.com/candorhq/candor/internal/notice"
)

// EmailConfig is how the email channel sends.
type EmailConfig struct {
	SMTP email.Config
	// Connections is the most sessions open to the relay at once (default 20).
	Connections int
	// Rate is the most messages a second (0: no limit). It is a token
	// bucket shared by every connection, with a burst of one second's worth.
	Rate float64
	From email.Address
	// Domain is the domain of Message-IDs, reply+TOKEN@ addresses and the
	// bounce+TOKEN@ envelope sender.
	Domain string
	// DKIM signs every message when set.
	DKIM *email.DKIM
	// RedialDelay is how long a delivery waits when the relay cannot be
	// reached at all (default 5s).
	RedialDelay time.Duration
}

// EmailSender is the email channel: each connection is one goroutine that
// renders, signs and sends the jobs it takes.
type EmailSender struct {
	cfg EmailConfig
	log *slog.Logger
}

// NewEmailSender returns the email channel.
func NewEmailSender(cfg EmailConfig, log *slog.Logger) *EmailSender {
	if cfg.Connections <= 0 {
		cfg.Connections = 20
	}
	if cfg.RedialDelay <= 0 {
		cfg.RedialDelay = 5 * time.Second
	}
	return &EmailSender{cfg: cfg, log: log.With("component", "email")}
}

func (s *EmailSender) Channel() notice.Channel { return notice.ChannelEmail }

// MessageDomain is the domain of the Message-IDs this sender writes.
func (s *EmailSender) MessageDomain() string { return s.cfg.Domain }

// Run sends jobs over up to Connections sessions until jobs is closed.
func (s *EmailSender) Run(ctx context.Context, jobs <-chan Job, results chan<- Result) {
	var limiter *rate.Limiter
	if s.cfg.Rate > 0 {
		limiter = rate.NewLimiter(rate.Limit(s.cfg.Rate), max(1, int(s.cfg.Rate)))
	}
	var wg sync.WaitGroup
	for range s.cfg.Connections {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &emailConn{EmailSender: s, limiter: limiter}
			for j := range jobs {
				results <- c.send(ctx, j)
			}
			c.close()
		}()
	}
	wg.Wait()
}

// emailConn is one connection's state: its session and its buffers.
type emailConn struct {
	*EmailSender
	limiter *rate.Limiter
	conn    *email.Conn
	raw     []byte
	signed  []byte
}

func (c *emailConn) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

func (c *emailConn) send(ctx context.Context, j Job) Result {
	res := Result{ID: j.ID, ReleaseID: j.ReleaseID}
	v := j.Release.Select(j.Recipient)
	res.Variant = &v
	e, err := j.Release.Email(v, j.Release.Data(j.Recipient))
	if err != nil {
		res.State, res.Error = delivery.Failed, "the notice could not be filled in for this recipient: "+err.Error()
		return res
	}
	token := delivery.Token(j.Release.Release.TokenKey, j.ID)
	m := email.Message{
		From:      c.cfg.From,
		To:        email.Address{Name: j.Recipient.Name, Addr: j.Address},
		ReplyTo:   "reply+" + token + "@" + c.cfg.Domain,
		Subject:   e.Subject,
		Text:      e.Text,
		HTML:      e.HTML,
		MessageID: j.MessageID,
		Date:      time.Now(),
	}
	if c.raw, err = m.AppendTo(c.raw[:0]); err != nil {
		res.State, res.Error = delivery.Failed, "the message could not be written: "+err.Error()
		return res
	}
	data := c.raw
	if c.cfg.DKIM != nil {
		if c.signed, err = c.cfg.DKIM.Sign(c.signed[:0], c.raw); err != nil {
			res.State, res.Error = delivery.Failed, "DKIM signing failed: "+err.Error()
			return res
		}
		data = c.signed
	}
	if c.limiter != nil {
		if err := c.limiter.Wait(ctx); err != nil {
			res.State, res.Error = delivery.Queued, "stopped before sending"
			return res
		}
	}
	if c.conn == nil {
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		c.conn, err = email.Dial(dctx, c.cfg.SMTP)
		cancel()
		if err != nil {
			c.conn = nil
			c.log.Warn("smtp_connect_failed", "addr", c.cfg.SMTP.Addr, "err", err)
			res.State, res.Error = delivery.Queued, "could not reach the mail relay: "+err.Error()
			res.RetryAfter = c.cfg.RedialDelay
			return res
		}
	}
	reply, err := c.conn.Send("bounce+"+token+"@"+c.cfg.Domain, []string{j.Address}, data)
	if err == nil {
		res.State, res.ProviderID = delivery.Sent, providerID(reply)
		return res
	}
	res.Error = err.Error()
	switch email.Classify(err) {
	case email.Temporary:
		res.State = delivery.Deferred
	case email.Permanent:
		res.State = delivery.Failed
	default:
		// The session broke: try again at once on another connection. If
		// the data had gone out, the relay may have taken it.
		res.State = delivery.Queued
		var se *email.Error
		if errors.As(err, &se) && se.Stage == "end" {
			res.PossibleDuplicate = true
		}
		c.close()
	}
	if c.conn != nil && c.conn.Broken() {
		c.close()
	}
	return res
}

// providerID is what the relay said when it took the message, usually
// with its queue ID ("2.0.0 Ok: queued as 4Y1Q2x0bZ").
func providerID(r email.Reply) string {
	s := strings.TrimSpace(r.Text)
	if r.Enhanced != "" {
		s = r.Enhanced + " " + s
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return fmt.Sprintf("%d %s", r.Code, s)
}
