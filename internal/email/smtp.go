package email

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-sasl"

	"github.com/candorhq/candor/internal/apperr"
)

// Values of Config.Security.
const (
	// SecuritySTARTTLS upgrades with STARTTLS and refuses a server that
	// does not offer it: a relay that drops the offer is either
	// misconfigured or under attack, and neither should get the notices
	// in clear.
	SecuritySTARTTLS = "starttls"
	// SecurityTLS starts TLS at connect (RFC 8314 implicit TLS, port 465).
	SecurityTLS = "tls"
	// SecurityNone never uses TLS, even when offered; for a relay on
	// loopback or a private network. Credentials are then sent in clear.
	SecurityNone = "none"
)

// Config says how to reach and log in to an SMTP relay.
type Config struct {
	Addr               string        // host:port of the relay
	Security           string        // SecuritySTARTTLS (the default), SecurityTLS or SecurityNone
	TLSConfig          *tls.Config   // optional; ServerName defaults to Addr's host
	Username, Password string        // AUTH when set; PLAIN preferred, LOGIN if only that is offered
	HeloName           string        // EHLO name; default "localhost"
	DialTimeout        time.Duration // TCP connect; default 10s
	CommandTimeout     time.Duration // each command and its reply; default 60s
	DataTimeout        time.Duration // the reply to the end of a message; default 10 min (RFC 5321 4.5.3.2.6)
	MaxMessagesPerConn int           // 0: unlimited; else Pool closes (QUIT) a conn after that many messages and dials a new one
	// NoChunking sends with DATA even to a server that offers CHUNKING
	// (RFC 3030 BDAT, used by default with PIPELINING: one write a
	// message and no dot-stuffing); for a relay whose BDAT is broken.
	NoChunking bool
}

func (cfg Config) withDefaults() (Config, error) {
	if _, _, err := net.SplitHostPort(cfg.Addr); err != nil || cfg.Addr == "" {
		return cfg, apperr.Invalid("addr", "%q is not host:port", cfg.Addr)
	}
	switch cfg.Security {
	case "":
		cfg.Security = SecuritySTARTTLS
	case SecuritySTARTTLS, SecurityTLS, SecurityNone:
	default:
		return cfg, apperr.Invalid("security", "%q is not one of starttls, tls or none", cfg.Security)
	}
	if cfg.HeloName == "" {
		cfg.HeloName = "localhost"
	}
	if h := cfg.HeloName; !hostname(h) && !(len(h) > 2 && h[0] == '[' && h[len(h)-1] == ']' && net.ParseIP(h[1:len(h)-1]) != nil) {
		return cfg, apperr.Invalid("helo_name", "%q is not a host name or an address literal", h)
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 10 * time.Second
	}
	if cfg.CommandTimeout <= 0 {
		cfg.CommandTimeout = time.Minute
	}
	if cfg.DataTimeout <= 0 {
		cfg.DataTimeout = 10 * time.Minute
	}
	return cfg, nil
}

// Reply is the server's reply to a message.
type Reply struct {
	Code     int    // e.g. 250
	Enhanced string // RFC 3463 status, e.g. "2.0.0"; "" if the server sent none
	Text     string // e.g. "Ok: queued as 4F2B"; lines of a multiline reply joined by spaces
}

// Stages of an SMTP session, in Error.Stage.
const (
	StageConnect  = "connect" // TCP, implicit TLS, greeting
	StageEHLO     = "ehlo"
	StageSTARTTLS = "starttls"
	StageAuth     = "auth"
	StageMail     = "mail"
	StageRcpt     = "rcpt"
	StageData     = "data" // the DATA command and sending the message: the message was not taken
	StageEnd      = "end"  // the reply to the message; a connection error here means the server may have taken it
)

// Error is an SMTP error reply (Code > 0), or a connection error (Code 0,
// Err set: network, timeout, TLS, or a reply that breaks the protocol).
type Error struct {
	Code     int    // reply code, e.g. 550; 0 for a connection error
	Enhanced string // RFC 3463 status, e.g. "5.1.1"
	Message  string // the server's text, or a description of the connection error
	Stage    string // one of the Stage constants
	Rcpt     string // for StageRcpt: the recipient refused
	Err      error  // the underlying error of a connection error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("smtp ")
	b.WriteString(e.Stage)
	if e.Rcpt != "" {
		b.WriteString(" <" + e.Rcpt + ">")
	}
	b.WriteString(": ")
	if e.Code > 0 {
		b.WriteString(strconv.Itoa(e.Code) + " ")
		if e.Enhanced != "" {
			b.WriteString(e.Enhanced + " ")
		}
	}
	b.WriteString(e.Message)
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Outcome is what a caller should do about a message after Send.
type Outcome int

const (
	Sent       Outcome = iota // no error: the server took the message
	Temporary                 // 4xx: retry later, with backoff
	Permanent                 // 5xx or a message that can never be sent: mark it failed, keep the server's text
	Connection                // network, timeout or protocol error: retry on another connection
)

func (o Outcome) String() string {
	switch o {
	case Sent:
		return "sent"
	case Temporary:
		return "temporary"
	case Permanent:
		return "permanent"
	case Connection:
		return "connection"
	}
	return "outcome(" + strconv.Itoa(int(o)) + ")"
}

// Classify classifies an error from Send (or Dial): an *Error by its reply
// code, an EINVALID *apperr.Error (a refused address) as Permanent, and
// anything else as Connection.
func Classify(err error) Outcome {
	if err == nil {
		return Sent
	}
	var e *Error
	if errors.As(err, &e) {
		switch {
		case e.Code >= 500:
			return Permanent
		case e.Code >= 400:
			return Temporary
		}
		return Connection
	}
	if apperr.Code(err) == apperr.EINVALID {
		return Permanent
	}
	return Connection
}

// Conn is one SMTP session, used by one goroutine at a time.
//
// After an error reply to MAIL, RCPT or DATA the session is reset (RSET)
// and stays usable. After a connection error, or a 421 reply by which the
// server closes the session, Broken reports true and every Send fails.
type Conn struct {
	cfg Config
	nc  net.Conn
	br  *bufio.Reader
	bw  *bufio.Writer
	err error // why the conn is unusable, once it is

	tls        bool
	pipelining bool
	chunking   bool // CHUNKING (RFC 3030) offered and not turned off in Config
	startTLS   bool
	size       int64    // SIZE the server takes, 0 if unknown
	auth       []string // AUTH mechanisms offered

	sent      int       // transactions begun
	idleSince time.Time // set by Pool.Put

	// opened is the transaction whose MAIL, RCPT and DATA went out with
	// the previous message's end (SendNext) and whose replies are unread.
	opened *opening
	// next is what the message being sent opens after its end.
	next Next

	text  []byte       // the text of the last reply, reused
	chunk bytes.Buffer // a message whose line ends needed mending for BDAT
}

var (
	errClosed   = errors.New("connection closed")
	errProtocol = errors.New("smtp protocol error")
)

// Dial connects to cfg.Addr and gets the session ready to send: greeting,
// EHLO, TLS as cfg.Security says, AUTH when a username is set. ctx bounds
// the whole of it. Config errors are EINVALID *apperr.Error values; the
// rest are *Error.
func Dial(ctx context.Context, cfg Config) (*Conn, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	d := net.Dialer{Timeout: cfg.DialTimeout}
	nc, err := d.DialContext(ctx, "tcp", cfg.Addr)
	if err != nil {
		return nil, &Error{Stage: StageConnect, Message: err.Error(), Err: err}
	}
	c := &Conn{cfg: cfg, nc: nc}
	c.setConn(nc)

	// Deadlines, not ctx, bound each exchange; cancelling ctx moves the
	// deadline to the past so the exchange under way fails at once.
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := c.start(ctx); err != nil {
		if ctx.Err() != nil {
			err = &Error{Stage: StageConnect, Message: ctx.Err().Error(), Err: ctx.Err()}
		}
		nc.Close()
		return nil, err
	}
	return c, nil
}

func (c *Conn) setConn(nc net.Conn) {
	c.nc = nc
	c.br = bufio.NewReaderSize(nc, 4096)
	if c.bw == nil {
		c.bw = bufio.NewWriterSize(nc, 32<<10)
	} else {
		c.bw.Reset(nc)
	}
}

func (c *Conn) tlsConfig() *tls.Config {
	host, _, _ := net.SplitHostPort(c.cfg.Addr)
	var t *tls.Config
	if c.cfg.TLSConfig != nil {
		t = c.cfg.TLSConfig.Clone()
	} else {
		t = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if t.ServerName == "" {
		t.ServerName = host
	}
	return t
}

func (c *Conn) start(ctx context.Context) error {
	if c.cfg.Security == SecurityTLS {
		tc := tls.Client(c.nc, c.tlsConfig())
		c.deadline(c.cfg.CommandTimeout)
		if err := tc.HandshakeContext(ctx); err != nil {
			return &Error{Stage: StageConnect, Message: err.Error(), Err: err}
		}
		c.setConn(tc)
		c.tls = true
	}
	c.deadline(c.cfg.CommandTimeout)
	if code, text, err := c.readReply(); err != nil {
		return c.fail(StageConnect, err)
	} else if code != 220 {
		return replyError(StageConnect, code, text)
	}
	if err := c.hello(); err != nil {
		return err
	}
	if c.cfg.Security == SecuritySTARTTLS {
		if !c.startTLS {
			return &Error{Stage: StageSTARTTLS, Message: "the server does not offer STARTTLS; set security to \"none\" to send without TLS, or \"tls\" for implicit TLS", Err: errNoSTARTTLS}
		}
		code, text, err := c.cmd("STARTTLS")
		if err != nil {
			return c.fail(StageSTARTTLS, err)
		}
		if code != 220 {
			return replyError(StageSTARTTLS, code, text)
		}
		// Replies already buffered after the 220 came in clear, yet would
		// be read as if they came over TLS: a man in the middle's
		// injection (the client side of CVE-2011-0411). Refuse them.
		if c.br.Buffered() > 0 {
			return c.fail(StageSTARTTLS, errors.Join(errProtocol, errors.New("data after the STARTTLS reply")))
		}
		tc := tls.Client(c.nc, c.tlsConfig())
		if err := tc.HandshakeContext(ctx); err != nil {
			return &Error{Stage: StageSTARTTLS, Message: err.Error(), Err: err}
		}
		c.setConn(tc)
		c.tls = true
		if err := c.hello(); err != nil {
			return err
		}
	}
	if c.cfg.Username != "" {
		return c.authenticate()
	}
	return nil
}

var errNoSTARTTLS = errors.New("STARTTLS not offered")

// hello sends EHLO, or HELO to a server that does not know EHLO, and
// records the extensions offered.
func (c *Conn) hello() error {
	c.pipelining, c.chunking, c.startTLS, c.size, c.auth = false, false, false, 0, nil
	code, text, err := c.cmd("EHLO", c.cfg.HeloName)
	if err != nil {
		return c.fail(StageEHLO, err)
	}
	if code == 500 || code == 502 {
		code, text, err = c.cmd("HELO", c.cfg.HeloName)
		if err != nil {
			return c.fail(StageEHLO, err)
		}
		if code != 250 {
			return replyError(StageEHLO, code, text)
		}
		return nil
	}
	if code != 250 {
		return replyError(StageEHLO, code, text)
	}
	for i, line := range bytes.Split(text, []byte("\n")) {
		if i == 0 {
			continue // the server's name and greeting
		}
		kw, args, _ := strings.Cut(strings.ToUpper(string(line)), " ")
		if k, v, ok := strings.Cut(kw, "="); ok && k == "AUTH" { // the pre-RFC 4954 form
			kw, args = k, v+" "+args
		}
		switch kw {
		case "PIPELINING":
			c.pipelining = true
		case "CHUNKING":
			c.chunking = !c.cfg.NoChunking
		case "STARTTLS":
			c.startTLS = true
		case "SIZE":
			c.size, _ = strconv.ParseInt(strings.TrimSpace(args), 10, 64)
		case "AUTH":
			c.auth = append(c.auth, strings.Fields(args)...)
		}
	}
	return nil
}

// authenticate logs in with PLAIN, or LOGIN when only that is offered
// (RFC 4954).
func (c *Conn) authenticate() error {
	var client sasl.Client
	switch {
	case contains(c.auth, sasl.Plain):
		client = sasl.NewPlainClient("", c.cfg.Username, c.cfg.Password)
	case contains(c.auth, sasl.Login):
		client = sasl.NewLoginClient(c.cfg.Username, c.cfg.Password)
	case len(c.auth) == 0 && !c.tls:
		return &Error{Stage: StageAuth, Message: "a username is set but the server offers no AUTH without TLS", Err: errNoAuth}
	case len(c.auth) == 0:
		return &Error{Stage: StageAuth, Message: "a username is set but the server offers no AUTH", Err: errNoAuth}
	default:
		return &Error{Stage: StageAuth, Message: "the server offers AUTH " + strings.Join(c.auth, " ") + " but not PLAIN or LOGIN", Err: errNoAuth}
	}
	mech, ir, err := client.Start()
	if err != nil {
		return &Error{Stage: StageAuth, Message: err.Error(), Err: err}
	}
	var code int
	var text []byte
	var username []byte
	if mech == sasl.Login {
		// LOGIN defines no initial response and some servers refuse one:
		// the username answers the first challenge instead.
		username = ir
		code, text, err = c.cmd("AUTH", mech)
	} else if len(ir) == 0 {
		code, text, err = c.cmd("AUTH", mech, "=")
	} else {
		code, text, err = c.cmd("AUTH", mech, base64.StdEncoding.EncodeToString(ir))
	}
	for range 8 {
		if err != nil {
			return c.fail(StageAuth, err)
		}
		switch code {
		case 235:
			return nil
		case 334:
		default:
			return replyError(StageAuth, code, text)
		}
		challenge, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(string(text)))
		if derr != nil {
			return c.fail(StageAuth, errors.Join(errProtocol, derr))
		}
		var resp []byte
		if username != nil && !bytes.EqualFold(challenge, []byte("Password:")) {
			resp, username = username, nil
		} else if resp, err = client.Next(challenge); err != nil {
			// Cancel the exchange (RFC 4954 4) and report why.
			c.cmd("*")
			return &Error{Stage: StageAuth, Message: err.Error(), Err: err}
		}
		code, text, err = c.cmd(base64.StdEncoding.EncodeToString(resp))
	}
	return c.fail(StageAuth, errors.Join(errProtocol, errors.New("too many AUTH challenges")))
}

var errNoAuth = errors.New("no usable AUTH mechanism")

func contains(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// TLS reports whether the session is encrypted.
func (c *Conn) TLS() bool { return c.tls }

// Broken reports whether the conn can no longer send: after a connection
// error, a 421 reply, or Close. A broken conn should be dropped (Pool.Put
// does) and its message retried on another one.
func (c *Conn) Broken() bool { return c.err != nil }

// Send sends one message to the recipients in to. data is the message as
// from Message.AppendTo; Send makes every line end in CRLF and dot-stuffs
// it on the way (RFC 5321 4.5.2).
//
// With PIPELINING, MAIL FROM, RCPT TO and DATA go in one write and their
// replies are read together (one round trip), then the data and "." (a
// second round trip).
//
// The error is an EINVALID *apperr.Error when from or an address in to is
// not a plain addr-spec (nothing is sent), or an *Error; Classify says what
// to do. When the server refuses some recipients but takes the message for
// the others, Send returns the final reply along with an *Error of
// StageRcpt naming the first refused one.
func (c *Conn) Send(from string, to []string, data []byte) (Reply, error) {
	return c.SendNext(from, to, data, Next{})
}

// Next is the message a SendNext call opens after its own: its envelope
// and the size of its data.
type Next struct {
	From string
	To   []string
	Size int
}

type opening struct {
	from string
	to   []string
}

// SendNext is Send, and when the server offers PIPELINING (but not
// CHUNKING) it also opens the next message's transaction: MAIL, RCPT and
// DATA for next go in the same write as this message's end (RFC 2920 lets
// the data be followed by the next commands), so each message costs one
// round trip instead of two. With CHUNKING and PIPELINING each message is
// one write and one round trip on its own (BDAT, see sendChunked) and next
// is not used.
// The next call on the conn must then be Send or SendNext with exactly
// next's From and To and data of next.Size bytes; anything else, or Close,
// abandons the opened transaction by closing the connection (the server
// drops an unfinished message), never by sending an empty one.
func (c *Conn) SendNext(from string, to []string, data []byte, next Next) (Reply, error) {
	if c.err != nil {
		return Reply{}, &Error{Stage: StageMail, Message: "the connection is unusable: " + c.err.Error(), Err: c.err}
	}
	if err := checkEnvelope(from, to); err != nil {
		return Reply{}, err
	}
	defer func() { c.next = Next{} }()
	if c.opened != nil && (c.opened.from != from || !slices.Equal(c.opened.to, to)) {
		err := errors.New("the opened transaction was for another message")
		return Reply{}, c.fail(StageMail, err)
	}
	if next.To != nil && (!c.pipelining || c.chunking || checkEnvelope(next.From, next.To) != nil || c.size > 0 && int64(next.Size) > c.size) {
		next = Next{} // not opened: it will be sent on its own
	}
	if c.size > 0 && int64(len(data)) > c.size {
		if c.opened != nil {
			// Its DATA may already be accepted: only closing aborts it.
			c.close(errors.New("message too large for an opened transaction"))
		}
		return Reply{}, &Error{Code: 552, Enhanced: "5.3.4", Stage: StageMail,
			Message: "the message is " + strconv.Itoa(len(data)) + " bytes; the server takes at most " + strconv.FormatInt(c.size, 10)}
	}
	c.deadline(c.cfg.CommandTimeout)
	if c.opened == nil && c.pipelining && c.chunking {
		return c.sendChunked(from, to, data)
	}
	if c.opened != nil {
		c.opened = nil
	} else {
		c.sent++
		c.writeMail(from, len(data))
		if !c.pipelining {
			return c.sendStepwise(to, data)
		}
		for _, rcpt := range to {
			c.writeRcpt(rcpt)
		}
		c.bw.WriteString("DATA\r\n")
		if err := c.bw.Flush(); err != nil {
			return Reply{}, c.fail(StageMail, err)
		}
	}
	c.next = next

	mailOK, accepted, refused, e := c.envelopeReplies(to, "")
	if e != nil {
		return Reply{}, e
	}
	code, text, err := c.readReply()
	if err != nil {
		return Reply{}, c.fail(StageData, err)
	}
	if code == 421 {
		return Reply{}, c.closing(StageData, text)
	}
	if code != 354 {
		if refused == nil {
			refused = replyError(StageData, code, text)
		}
		return Reply{}, c.reset(refused)
	}
	if !mailOK || accepted == 0 {
		// RFC 2920 3.1: the server took DATA though there is no one to
		// deliver to; an empty message ends the transaction.
		c.bw.WriteString(".\r\n")
		if err := c.bw.Flush(); err != nil {
			return Reply{}, c.fail(StageData, err)
		}
		if _, _, err := c.readReply(); err != nil {
			return Reply{}, c.fail(StageEnd, err)
		}
		return Reply{}, c.reset(refused)
	}
	reply, err := c.sendData(data)
	if err == nil && refused != nil {
		return reply, refused
	}
	return reply, err
}

// checkEnvelope refuses a sender or recipients that are not plain
// addr-specs, so nothing can be injected into an SMTP command.
func checkEnvelope(from string, to []string) error {
	if from != "" {
		if p := addrSpecProblem(from); p != "" {
			return apperr.Invalid("from", "%q %s", from, p)
		}
	}
	if len(to) == 0 {
		return apperr.Invalid("to", "at least one recipient is needed")
	}
	for _, rcpt := range to {
		if p := addrSpecProblem(rcpt); p != "" {
			return apperr.Invalid("to", "%q %s", rcpt, p)
		}
	}
	return nil
}

// sendStepwise runs a transaction whose MAIL FROM is buffered, one command
// at a time, for servers without PIPELINING.
func (c *Conn) sendStepwise(to []string, data []byte) (Reply, error) {
	code, text, err := c.flushReply()
	if err != nil {
		return Reply{}, c.fail(StageMail, err)
	}
	if code == 421 {
		return Reply{}, c.closing(StageMail, text)
	}
	if code/100 != 2 {
		return Reply{}, c.reset(replyError(StageMail, code, text))
	}
	var refused *Error
	accepted := 0
	for _, rcpt := range to {
		c.writeRcpt(rcpt)
		code, text, err := c.flushReply()
		if e := c.rcptReply(rcpt, code, text, err, &accepted, &refused); e != nil {
			return Reply{}, e
		}
	}
	if accepted == 0 {
		return Reply{}, c.reset(refused)
	}
	code, text, err = c.cmd("DATA")
	if err != nil {
		return Reply{}, c.fail(StageData, err)
	}
	if code == 421 {
		return Reply{}, c.closing(StageData, text)
	}
	if code != 354 {
		return Reply{}, c.reset(replyError(StageData, code, text))
	}
	reply, err := c.sendData(data)
	if err == nil && refused != nil {
		return reply, refused
	}
	return reply, err
}

// sendChunked sends a whole transaction in one write, for a server that
// offers CHUNKING and PIPELINING: MAIL, RCPT, "BDAT n LAST" and the
// message as it is, with no dot-stuffing and no line scanning by either
// side (RFC 3030; RFC 2920 lets BDAT be pipelined), then reads the
// replies. A server reads a BDAT chunk even when it refuses the command, so
// a refused MAIL or recipient leaves the session in step.
//
// Once the write has gone out the server may have taken the message, so a
// connection error while reading any of the replies is a StageEnd error.
func (c *Conn) sendChunked(from string, to []string, data []byte) (Reply, error) {
	if !crlfClean(data) {
		c.chunk.Reset()
		writeLines(&c.chunk, data, false)
		data = c.chunk.Bytes()
	}
	c.sent++
	c.writeMail(from, len(data))
	for _, rcpt := range to {
		c.writeRcpt(rcpt)
	}
	var b [20]byte
	c.bw.WriteString("BDAT ")
	c.bw.Write(strconv.AppendInt(b[:0], int64(len(data)), 10))
	c.bw.WriteString(" LAST\r\n")
	c.bw.Write(data)
	if err := c.bw.Flush(); err != nil {
		return Reply{}, c.fail(StageData, err)
	}

	mailOK, accepted, refused, e := c.envelopeReplies(to, StageEnd)
	if e != nil {
		return Reply{}, e
	}
	code, text, e := c.endReply()
	if e != nil {
		return Reply{}, e
	}
	if !mailOK || accepted == 0 {
		// BDAT was refused too (nobody to deliver to); its chunk was
		// read and dropped.
		return Reply{}, c.reset(refused)
	}
	if code/100 != 2 {
		return Reply{}, c.reset(replyError(StageEnd, code, text))
	}
	enhanced, msg := splitEnhanced(code, text)
	reply := Reply{Code: code, Enhanced: enhanced, Text: msg}
	if refused != nil {
		return reply, refused
	}
	return reply, nil
}

func (c *Conn) writeMail(from string, size int) {
	c.bw.WriteString("MAIL FROM:<")
	c.bw.WriteString(from)
	c.bw.WriteByte('>')
	if c.size > 0 {
		var b [20]byte
		c.bw.WriteString(" SIZE=")
		c.bw.Write(strconv.AppendInt(b[:0], int64(size), 10))
	}
	c.bw.WriteString("\r\n")
}

func (c *Conn) writeRcpt(rcpt string) {
	c.bw.WriteString("RCPT TO:<")
	c.bw.WriteString(rcpt)
	c.bw.WriteString(">\r\n")
}

// sendData writes the message and "." (and the opening of c.next, if
// any) and reads the server's verdict.
func (c *Conn) sendData(data []byte) (Reply, error) {
	c.deadline(c.cfg.CommandTimeout)
	writeDotStuffed(c.bw, data)
	if n := c.next; n.To != nil {
		c.next = Next{}
		c.sent++
		c.writeMail(n.From, n.Size)
		for _, rcpt := range n.To {
			c.writeRcpt(rcpt)
		}
		c.bw.WriteString("DATA\r\n")
		c.opened = &opening{from: n.From, to: slices.Clone(n.To)}
	}
	if err := c.bw.Flush(); err != nil {
		return Reply{}, c.fail(StageData, err)
	}
	code, text, e := c.endReply()
	if e != nil {
		return Reply{}, e
	}
	if code/100 != 2 {
		return Reply{}, replyError(StageEnd, code, text)
	}
	enhanced, msg := splitEnhanced(code, text)
	return Reply{Code: code, Enhanced: enhanced, Text: msg}, nil
}

// writeDotStuffed writes data as the content of DATA: every line ending
// in CRLF (a bare LF or CR becomes CRLF, RFC 5321 2.3.8), a leading "."
// doubled, a final CRLF added when missing, then the ".\r\n" that ends it.
// Clean runs of lines are written in one piece.
func writeDotStuffed(w *bufio.Writer, data []byte) {
	writeLines(w, data, true)
	w.WriteString(".\r\n")
}

// lineWriter is what writeLines writes to: a *bufio.Writer or a
// *bytes.Buffer.
type lineWriter interface {
	Write([]byte) (int, error)
	WriteByte(byte) error
	WriteString(string) (int, error)
}

// crlfClean reports whether every line of data ends in CRLF, with no bare
// CR or LF anywhere: data that BDAT can send as it is.
func crlfClean(data []byte) bool {
	if len(data) == 0 {
		return true
	}
	if data[len(data)-1] != '\n' {
		return false
	}
	lines := 0
	for i := 0; i < len(data); {
		j := bytes.IndexByte(data[i:], '\n')
		if j < 0 {
			break
		}
		if i+j == 0 || data[i+j-1] != '\r' {
			return false
		}
		lines++
		i += j + 1
	}
	return bytes.Count(data, []byte{'\r'}) == lines
}

// writeLines writes data with every line ending in CRLF (a bare LF or CR
// becomes CRLF, RFC 5321 2.3.8) and a final CRLF added when missing; with
// stuff, a line's leading "." is doubled (the content of DATA).
func writeLines(w lineWriter, data []byte, stuff bool) {
	span := 0 // data[span:i] is still to be written as is
	i := 0
	for i < len(data) {
		// i is at the start of a line.
		if stuff && data[i] == '.' {
			w.Write(data[span:i])
			w.WriteByte('.')
			span = i
		}
		end := len(data) // the LF ending the line, or len(data)
		if nl := bytes.IndexByte(data[i:], '\n'); nl >= 0 {
			end = i + nl
		}
		cr := bytes.IndexByte(data[i:end], '\r')
		switch {
		case cr < 0 && end < len(data): // bare LF
			w.Write(data[span:end])
			w.WriteString("\r\n")
			i, span = end+1, end+1
		case cr < 0: // the last line, unterminated
			w.Write(data[span:])
			w.WriteString("\r\n")
			i, span = len(data), len(data)
		case i+cr == end-1 && end < len(data): // CRLF
			i = end + 1
		default: // a bare CR ends a line
			w.Write(data[span : i+cr])
			w.WriteString("\r\n")
			i, span = i+cr+1, i+cr+1
		}
	}
	w.Write(data[span:])
}

// closing handles a 421 reply: the server is closing the session (RFC 5321
// 3.8), so the message is to be retried later and the conn is broken.
func (c *Conn) closing(stage string, text []byte) *Error {
	e := replyError(stage, 421, text)
	c.close(e)
	return e
}

// reset ends a failed transaction with RSET, so the session can take the
// next message, and returns refused.
func (c *Conn) reset(refused *Error) error {
	c.deadline(c.cfg.CommandTimeout)
	code, _, err := c.cmd("RSET")
	if err != nil {
		c.close(err)
	} else if code/100 != 2 {
		c.close(errors.New("RSET refused"))
	}
	return refused
}

// Close ends the session with QUIT and closes the connection. Closing a
// broken conn only releases it.
func (c *Conn) Close() error {
	if c.err != nil {
		return nil
	}
	if c.opened != nil {
		// In the middle of an opened transaction the server reads
		// anything as message data: closing is the only way to abandon it.
		c.err = errClosed
		return c.nc.Close()
	}
	c.deadline(min(c.cfg.CommandTimeout, 10*time.Second))
	c.cmd("QUIT")
	c.err = errClosed
	return c.nc.Close()
}

func (c *Conn) close(why error) {
	if c.err == nil {
		c.err = why
		c.nc.Close()
	}
}

// fail marks the conn broken by err and returns the connection error.
func (c *Conn) fail(stage string, err error) *Error {
	c.close(err)
	return &Error{Stage: stage, Message: err.Error(), Err: err}
}

func (c *Conn) deadline(d time.Duration) {
	c.nc.SetDeadline(time.Now().Add(d))
}

// cmd writes a command line of words joined by spaces and reads the reply.
func (c *Conn) cmd(words ...string) (int, []byte, error) {
	for i, w := range words {
		if i > 0 {
			c.bw.WriteByte(' ')
		}
		c.bw.WriteString(w)
	}
	c.bw.WriteString("\r\n")
	return c.flushReply()
}

func (c *Conn) flushReply() (int, []byte, error) {
	if err := c.bw.Flush(); err != nil {
		return 0, nil, err
	}
	return c.readReply()
}

// readReply reads a reply (RFC 5321 4.2). It returns its code and its text
// lines joined by "\n", valid until the next read.
func (c *Conn) readReply() (int, []byte, error) {
	c.text = c.text[:0]
	code := 0
	for n := 0; ; n++ {
		line, err := c.br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			return 0, nil, errors.Join(errProtocol, errors.New("reply line too long"))
		}
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return 0, nil, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) < 3 || len(line) > 3 && line[3] != ' ' && line[3] != '-' || n > 100 {
			return 0, nil, errors.Join(errProtocol, errors.New("malformed reply "+strconv.Quote(string(line))))
		}
		lc, err := strconv.Atoi(string(line[:3]))
		if err != nil || lc < 200 || lc > 599 || code != 0 && lc != code {
			return 0, nil, errors.Join(errProtocol, errors.New("malformed reply "+strconv.Quote(string(line))))
		}
		code = lc
		if n > 0 {
			c.text = append(c.text, '\n')
		}
		if len(line) > 4 {
			c.text = append(c.text, line[4:]...)
		}
		if len(line) == 3 || line[3] == ' ' {
			return code, c.text, nil
		}
	}
}

// replyError makes the *Error of an error reply.
// endReply reads the reply to a message's end (the "." of DATA or BDAT
// LAST), allowing DataTimeout for it. e ends the session: the connection
// broke once the message was out (the server may have taken it), or the
// server is closing (421).
func (c *Conn) endReply() (code int, text []byte, e *Error) {
	c.deadline(c.cfg.DataTimeout)
	code, text, err := c.readReply()
	if err != nil {
		return 0, nil, c.fail(StageEnd, err)
	}
	if code == 421 {
		return 0, nil, c.closing(StageEnd, text)
	}
	return code, text, nil
}

// envelopeReplies reads the replies to a pipelined MAIL and its RCPTs:
// whether MAIL was taken, how many recipients were, and the first refusal.
// e ends the transaction: the server is closing (421), or the connection
// broke, reported at stage lost when set (StageEnd once the message has
// gone out), else at the command's own stage.
func (c *Conn) envelopeReplies(to []string, lost string) (mailOK bool, accepted int, refused, e *Error) {
	code, text, err := c.readReply()
	if err != nil {
		return false, 0, nil, c.fail(cmp.Or(lost, StageMail), err)
	}
	if code == 421 {
		return false, 0, nil, c.closing(StageMail, text)
	}
	mailOK = code/100 == 2
	if !mailOK {
		refused = replyError(StageMail, code, text)
	}
	for _, rcpt := range to {
		code, text, err := c.readReply()
		if err != nil && lost != "" {
			return false, 0, nil, c.fail(lost, err)
		}
		if e := c.rcptReply(rcpt, code, text, err, &accepted, &refused); e != nil {
			return false, 0, nil, e
		}
	}
	return mailOK, accepted, refused, nil
}

// rcptReply takes one RCPT reply: it counts an acceptance and keeps the
// first refusal, and returns the error that ends the transaction (the
// connection broke, or the server is closing it with 421).
func (c *Conn) rcptReply(rcpt string, code int, text []byte, err error, accepted *int, refused **Error) *Error {
	if err != nil {
		return c.fail(StageRcpt, err)
	}
	if code == 421 {
		return c.closing(StageRcpt, text)
	}
	if code/100 == 2 {
		*accepted++
	} else if *refused == nil {
		*refused = replyError(StageRcpt, code, text)
		(*refused).Rcpt = rcpt
	}
	return nil
}

func replyError(stage string, code int, text []byte) *Error {
	enhanced, msg := splitEnhanced(code, text)
	return &Error{Code: code, Enhanced: enhanced, Message: msg, Stage: stage}
}

// splitEnhanced takes the RFC 3463 status code off the front of each line
// of text when its class matches code, and joins the lines with spaces.
func splitEnhanced(code int, text []byte) (enhanced, msg string) {
	if bytes.IndexByte(text, '\n') < 0 {
		if e, rest, ok := cutEnhanced(code, text); ok {
			return string(e), string(rest)
		}
		return "", string(text)
	}
	var b strings.Builder
	for i, line := range bytes.Split(text, []byte("\n")) {
		if e, rest, ok := cutEnhanced(code, line); ok {
			if enhanced == "" {
				enhanced = string(e)
			}
			line = rest
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.Write(line)
	}
	return enhanced, b.String()
}

func cutEnhanced(code int, line []byte) (e, rest []byte, ok bool) {
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		sp = len(line)
	}
	e = line[:sp]
	parts := bytes.Split(e, []byte("."))
	if len(parts) != 3 || len(parts[0]) != 1 || int(parts[0][0]-'0') != code/100 {
		return nil, line, false
	}
	for _, p := range parts {
		if len(p) == 0 || len(p) > 3 {
			return nil, line, false
		}
		for _, d := range p {
			if d < '0' || d > '9' {
				return nil, line, false
			}
		}
	}
	return e, bytes.TrimLeft(line[sp:], " "), true
}
