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
			c.loop(ctx, jobs, results)
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
	// Two messages are ready at a time, the one being sent and the next,
	// whose transaction goes out with the first's end; each has its own
	// buffers.
	slots [2]outgoing
}

// outgoing is a job ready to send: its message, or its result when it
// could not be made.
type outgoing struct {
	job         Job
	res         Result
	from        string
	raw, signed []byte
	data        []byte
}

func (c *emailConn) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

// loop sends jobs until the channel closes, each with the next job (when
// one is waiting) opened in the same round trip.
func (c *emailConn) loop(ctx context.Context, jobs <-chan Job, results chan<- Result) {
	var cur *outgoing
	slot, open := 0, true
	for {
		if cur == nil {
			j, ok := <-jobs
			if !ok {
				return
			}
			cur = c.prepare(j, &c.slots[slot])
		}
		if cur.res.State != "" {
			results <- cur.res
			cur = nil
			continue
		}
		var next *outgoing
		if open {
			select {
			case j, ok := <-jobs:
				if ok {
					next = c.prepare(j, &c.slots[slot^1])
				} else {
					open = false
				}
			default:
			}
		}
		results <- c.deliver(ctx, cur, next)
		cur, slot = next, slot^1
		if cur == nil && !open {
			return
		}
	}
}

// prepare renders, writes and signs a job's message into o.
func (c *emailConn) prepare(j Job, o *outgoing) *outgoing {
	v := j.Release.Select(j.Recipient)
	res := Result{ID: j.ID, ReleaseID: j.ReleaseID, Variant: &v}
	o.job, o.res, o.data = j, Result{Variant: &v}, nil
	e, err := j.Release.Email(v, j.Release.Data(j.Recipient))
	if err != nil {
		res.State, res.Error = delivery.Failed, "the notice could not be filled in for this recipient: "+err.Error()
		o.res = res
		return o
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
	if u := j.Recipient.Attributes["unsubscribe_url"]; u != "" {
		// A status page subscriber: one-click unsubscribe (RFC 8058),
		// both fields covered by the DKIM signature as it requires.
		m.Headers = append(m.Headers, email.Header{Key: "List-Unsubscribe", Value: "<" + u + ">"},
			email.Header{Key: "List-Unsubscribe-Post", Value: "List-Unsubscribe=One-Click"})
	}
	if o.raw, err = m.AppendTo(o.raw[:0]); err != nil {
		res.State, res.Error = delivery.Failed, "the message could not be written: "+err.Error()
		o.res = res
		return o
	}
	o.data = o.raw
	if c.cfg.DKIM != nil {
		if o.signed, err = c.cfg.DKIM.Sign(o.signed[:0], o.raw); err != nil {
			res.State, res.Error = delivery.Failed, "DKIM signing failed: "+err.Error()
			o.res = res
			return o
		}
		o.data = o.signed
	}
	o.from = "bounce+" + token + "@" + c.cfg.Domain
	return o
}

// deliver sends cur, opening next's transaction with it when there is one.
func (c *emailConn) deliver(ctx context.Context, cur, next *outgoing) Result {
	j := cur.job
	res := Result{ID: j.ID, ReleaseID: j.ReleaseID, Variant: cur.res.Variant}
	if c.limiter != nil {
		if err := c.limiter.Wait(ctx); err != nil {
			res.State, res.Error = delivery.Queued, "stopped before sending"
			return res
		}
	}
	if c.conn == nil {
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		var err error
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
	var nx email.Next
	if next != nil && next.res.State == "" {
		nx = email.Next{From: next.from, To: []string{next.job.Address}, Size: len(next.data)}
	}
	reply, err := c.conn.SendNext(cur.from, []string{j.Address}, cur.data, nx)
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
		if errors.As(err, &se) && se.Stage == email.StageEnd {
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
