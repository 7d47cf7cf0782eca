// Package webhook owns Candor's outgoing webhooks: signing a message, sending
// it once, and classifying the attempt for the caller's retry schedule.
//
// Messages are signed per the Standard Webhooks specification, version 1.0.0
// (https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md,
// https://www.standardwebhooks.com/), so receivers can verify them with any
// of its libraries. Every request carries three headers:
//
//	webhook-id         the message ID; the same on every retry, an idempotency key
//	webhook-timestamp  the attempt's time, integer Unix seconds
//	webhook-signature  space-separated "v1,<base64 HMAC-SHA256(key, id.timestamp.body)>"
//
// The key is 24 to 64 random bytes, shown to the subscriber as "whsec_"
// followed by its standard base64. Receivers reject timestamps more than
// DefaultTolerance away from their clock.
//
// This package sends one attempt at a time. Keeping the ledger, scheduling
// retries with Backoff and disabling a subscription after MaxFailures belong
// to the caller.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/candorhq/candor/internal/apperr"
)

// Header names of the Standard Webhooks specification.
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
)

const (
	// DefaultTolerance is how far a webhook-timestamp may be from the
	// receiver's clock, either way, before Verify rejects it as a replay.
	DefaultTolerance = 5 * time.Minute

	// DefaultTimeout bounds one attempt, from dialling to the end of the
	// response, when Client.Timeout is zero.
	DefaultTimeout = 10 * time.Second

	// DefaultUserAgent is sent when Client.UserAgent is empty.
	DefaultUserAgent = "Candor-Webhooks/1"

	// MaxFailures is how many attempts in a row may fail before a
	// subscription is disabled and its owner emailed, as the specification
	// recommends for endpoints that fail for a long time. With Backoff's
	// schedule that takes a few hours. Post does not count failures: the
	// caller keeps the count, resets it on a success, and does the disabling
	// and the emailing.
	MaxFailures = 10

	secretPrefix  = "whsec_"
	secretMinLen  = 24 // bytes; the specification's minimum
	secretMaxLen  = 64 // bytes; its maximum, 512 bits
	secretGenLen  = 32
	maxURLLen     = 2000
	maxDrain      = 64 << 10 // response bytes read so the connection can be reused
	backoffBase   = 30 * time.Second
	backoffCap    = 6 * time.Hour
	maxHeaderEcho = 64
)

// Errors Verify wraps, so a receiver can tell a broken sender from a forgery.
var (
	// ErrHeader: a header is missing or malformed.
	ErrHeader = errors.New("webhook: bad headers")
	// ErrTimestamp: webhook-timestamp is further from now than the tolerance.
	ErrTimestamp = errors.New("webhook: timestamp outside tolerance")
	// ErrSignature: no v1 signature matches.
	ErrSignature = errors.New("webhook: signature mismatch")
)

// Secret is the HMAC key of one subscription, the raw bytes behind a
// "whsec_…" string. Its String and LogValue are redacted, so printing or
// logging a Secret does not leak it.
type Secret []byte

// String returns a placeholder, never the key.
func (Secret) String() string { return secretPrefix + "[redacted]" }

// LogValue keeps the key out of slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// NewSecret returns a fresh secret in its "whsec_<base64>" form, 32 bytes
// from crypto/rand. Show it to the subscriber once and store it as given.
func NewSecret() (string, error) {
	b := make([]byte, secretGenLen)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("new webhook secret: %w", err)
	}
	return secretPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// ParseSecret decodes a "whsec_<base64>" secret into its key bytes. Its
// errors say what is wrong without repeating the secret.
func ParseSecret(s string) (Secret, error) {
	b64, ok := strings.CutPrefix(s, secretPrefix)
	if !ok {
		return nil, fmt.Errorf("webhook secret: must start with %q", secretPrefix)
	}
	if b64 == "" {
		return nil, fmt.Errorf("webhook secret: nothing after %q", secretPrefix)
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return nil, fmt.Errorf("webhook secret: the part after %q is not standard base64", secretPrefix)
	}
	if len(key) < secretMinLen || len(key) > secretMaxLen {
		return nil, fmt.Errorf("webhook secret: key is %d bytes, want %d to %d", len(key), secretMinLen, secretMaxLen)
	}
	return Secret(key), nil
}

// Sign returns the webhook-signature value, "v1,<base64>", for one attempt
// at sending body as message msgID at time ts (truncated to the second, as
// the header carries it).
func Sign(secret Secret, msgID string, ts time.Time, body []byte) string {
	return "v1," + base64.StdEncoding.EncodeToString(mac(secret, msgID, strconv.FormatInt(ts.Unix(), 10), body))
}

func mac(secret Secret, msgID, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(msgID))
	h.Write([]byte{'.'})
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks a received webhook as a receiver should: the three headers
// are present, webhook-timestamp is within tolerance of now (DefaultTolerance
// when tolerance ≤ 0), and at least one "v1," signature in webhook-signature
// matches body, compared in constant time. Signatures of other schemes
// ("v1a,…") are skipped, so a sender may rotate keys or add schemes.
//
// body must be the raw bytes received, not JSON parsed and encoded again.
// The error wraps ErrHeader, ErrTimestamp or ErrSignature and says which
// header is at fault. A nil error does not make the message new: receivers
// should also remember webhook-id for the tolerance window to drop replays.
func Verify(secret Secret, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	if len(secret) == 0 {
		return errors.New("webhook: empty secret")
	}
	id, tsv, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	for _, v := range [...]struct{ name, val string }{{HeaderID, id}, {HeaderTimestamp, tsv}, {HeaderSignature, sigs}} {
		if v.val == "" {
			return fmt.Errorf("%w: missing %s header", ErrHeader, v.name)
		}
	}
	// Only the canonical decimal form is accepted, so sender and receiver
	// cannot disagree about the string that was signed ("+17…", "017…").
	sec, err := strconv.ParseInt(tsv, 10, 64)
	if err != nil || strconv.FormatInt(sec, 10) != tsv {
		return fmt.Errorf("%w: %s %q is not a Unix time in seconds", ErrHeader, HeaderTimestamp, clip(tsv))
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	ts := time.Unix(sec, 0)
	if d := now.Sub(ts); d > tolerance {
		return fmt.Errorf("%w: %s is %s old, more than the %s allowed", ErrTimestamp, HeaderTimestamp, d.Round(time.Second), tolerance)
	}
	if d := ts.Sub(now); d > tolerance {
		return fmt.Errorf("%w: %s is %s in the future, more than the %s allowed", ErrTimestamp, HeaderTimestamp, d.Round(time.Second), tolerance)
	}
	want := []byte(base64.StdEncoding.EncodeToString(mac(secret, id, tsv, body)))
	v1 := false
	for _, s := range strings.Fields(sigs) {
		scheme, sig, ok := strings.Cut(s, ",")
		if !ok || scheme != "v1" {
			continue
		}
		v1 = true
		if hmac.Equal([]byte(sig), want) {
			return nil
		}
	}
	if !v1 {
		return fmt.Errorf("%w: no v1 signature in %s", ErrSignature, HeaderSignature)
	}
	return fmt.Errorf("%w: no v1 signature in %s matches the id, timestamp and body", ErrSignature, HeaderSignature)
}

// Result describes one attempt. It is plain data, ready for a delivery log.
type Result struct {
	// Status is the response's HTTP status, 0 when none was received.
	Status int
	// Err says why the attempt failed, in words fit for the subscription's
	// owner; empty on success.
	Err string
	// Retry reports a failure worth retrying later: a network error, a
	// timeout, 408, 429 or 5xx. Other failures (3xx, other 4xx, a refused
	// address, bad input) are permanent for this message. A 410 Gone also
	// asks the caller to disable the subscription, as the specification says.
	Retry bool
	// RetryAfter is the delay the receiver asked for in Retry-After, capped
	// at 6h; zero when absent or Retry is false. Wait at least the larger of
	// it and Backoff.
	RetryAfter time.Duration
	// Duration is the attempt's wall time.
	Duration time.Duration
}

// OK reports a delivered message: a 2xx response.
func (r Result) OK() bool { return r.Err == "" && r.Status >= 200 && r.Status <= 299 }

// Client sends webhooks. Its zero value is ready to use. Set the fields
// before the first Post and leave them alone after; a Client is then safe
// for concurrent use and must not be copied.
type Client struct {
	// HTTP, when set, is copied for requests; redirects are never followed
	// whatever its CheckRedirect says. When it has its own Transport, that
	// Transport must do the address checks below: the guard only comes with
	// the Transport this package builds (for a nil HTTP or a nil Transport).
	HTTP *http.Client
	// UserAgent defaults to DefaultUserAgent.
	UserAgent string
	// Timeout bounds each attempt; zero means DefaultTimeout.
	Timeout time.Duration
	// AllowPrivate lets Post connect to loopback, private, link-local and
	// other non-public addresses. Leave it false in production: subscribers
	// choose the URLs, and must not reach Candor's own network (SSRF).
	AllowPrivate bool

	once sync.Once
	hc   *http.Client
}

func (c *Client) client() *http.Client {
	c.once.Do(func() {
		hc := &http.Client{}
		if c.HTTP != nil {
			*hc = *c.HTTP
		}
		if hc.Transport == nil {
			hc.Transport = newTransport(c.AllowPrivate)
		}
		// The specification and Statuspage treat a redirect as a failure: the
		// subscriber should fix the URL, and following one would let a public
		// URL lead the request anywhere.
		hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		c.hc = hc
	})
	return c.hc
}

// newTransport returns a transport that, unless allowPrivate, refuses to
// connect to non-public addresses. The check runs on the address being
// dialled, after DNS resolution, so a name that resolves (or re-resolves) to
// an internal address is refused too. It uses no proxy: through one, the dial
// would go to the proxy and the target would escape the check.
func newTransport(allowPrivate bool) *http.Transport {
	d := &net.Dialer{Timeout: DefaultTimeout, KeepAlive: 30 * time.Second}
	if !allowPrivate {
		d.Control = dialGuard
	}
	return &http.Transport{
		DialContext:            d.DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           100,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    DefaultTimeout,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
}

// addrError is a connection refused by the dial guard.
type addrError struct {
	addr   string
	reason string
}

func (e *addrError) Error() string {
	return fmt.Sprintf("refused to connect to %s: %s address, not on the public internet", e.addr, e.reason)
}

func dialGuard(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return &addrError{addr: address, reason: "unparsable"}
	}
	if r := nonPublic(ap.Addr()); r != "" {
		return &addrError{addr: ap.Addr().String(), reason: r}
	}
	return nil
}

var (
	// Special-purpose IPv4 ranges (IANA registry, RFC 6890) that the netip
	// predicates miss and that no webhook receiver lives in.
	reservedV4 = []netip.Prefix{
		netip.MustParsePrefix("0.0.0.0/8"),     // "this network"; Linux routes it to the local host
		netip.MustParsePrefix("100.64.0.0/10"), // carrier-grade NAT; some clouds' metadata service is here
		netip.MustParsePrefix("192.0.0.0/24"),  // IETF protocol assignments
		netip.MustParsePrefix("198.18.0.0/15"), // benchmarking
		netip.MustParsePrefix("240.0.0.0/4"),   // reserved, and the limited broadcast address
	}
	// NAT64 (RFC 6052) embeds an IPv4 address in the low 32 bits.
	nat64 = netip.MustParsePrefix("64:ff9b::/96")
)

// nonPublic names the kind of a non-public address, or returns "" for an
// address a webhook may be sent to.
func nonPublic(a netip.Addr) string {
	a = a.Unmap()
	switch {
	case !a.IsValid():
		return "invalid"
	case a.IsLoopback():
		return "loopback"
	case a.IsPrivate():
		return "private"
	case a.IsLinkLocalUnicast(), a.IsLinkLocalMulticast():
		return "link-local"
	case a.IsUnspecified():
		return "unspecified"
	case a.IsMulticast():
		return "multicast"
	}
	if a.Is4() {
		for _, p := range reservedV4 {
			if p.Contains(a) {
				return "reserved"
			}
		}
		return ""
	}
	if nat64.Contains(a) {
		b := a.As16()
		return nonPublic(netip.AddrFrom4([4]byte(b[12:])))
	}
	return ""
}

// Post sends body to rawURL once, as message msgID signed with secret, and
// reports how it went. It never returns an error: everything the caller needs
// to log the attempt and schedule the next is in the Result. The request is a
// POST with Content-Type application/json, the three Standard Webhooks
// headers timestamped now, and User-Agent; redirects are not followed, and
// at most 64 KiB of the response body is read, then discarded.
//
// msgID must be non-empty printable ASCII without spaces or dots (the
// specification asks for no dots, which would make the signed string
// ambiguous); keep it the same on every retry of a message.
func (c *Client) Post(ctx context.Context, rawURL string, secret Secret, msgID string, body []byte) Result {
	start := time.Now()
	r := c.post(ctx, rawURL, secret, msgID, body)
	r.Duration = time.Since(start)
	return r
}

func (c *Client) post(ctx context.Context, rawURL string, secret Secret, msgID string, body []byte) Result {
	// Addresses are checked at dial time, where DNS answers are known.
	if err := ValidateURL(rawURL, true); err != nil {
		return Result{Err: "url: " + apperr.Message(err)}
	}
	if err := checkID(msgID); err != nil {
		return Result{Err: err.Error()}
	}
	if len(secret) == 0 {
		return Result{Err: "no signing secret"}
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	req, err := http.NewRequestWithContext(actx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return Result{Err: "url: " + err.Error()}
	}
	now := time.Now()
	req.Header.Set("Content-Type", "application/json")
	ua := c.UserAgent
	if ua == "" {
		ua = DefaultUserAgent
	}
	req.Header.Set("User-Agent", ua)
	req.Header.Set(HeaderID, msgID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(HeaderSignature, Sign(secret, msgID, now, body))

	resp, err := c.client().Do(req)
	if err != nil {
		var ae *addrError
		switch {
		case errors.As(err, &ae):
			return Result{Err: ae.Error()}
		case ctx.Err() != nil:
			return Result{Err: "canceled before the receiver answered", Retry: true}
		case errors.Is(err, context.DeadlineExceeded):
			return Result{Err: fmt.Sprintf("timeout: no response within %s", timeout), Retry: true}
		}
		// The resolver's address is ours, not the subscriber's business.
		var de *net.DNSError
		if errors.As(err, &de) {
			return Result{Err: fmt.Sprintf("DNS lookup of %s: %s", clip(de.Name), de.Err), Retry: true}
		}
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return Result{Err: err.Error(), Retry: true}
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrain))
	return classify(resp, time.Now())
}

func classify(resp *http.Response, now time.Time) Result {
	code := resp.StatusCode
	r := Result{Status: code}
	switch {
	case code >= 200 && code <= 299:
		return r
	case code >= 300 && code <= 399:
		r.Err = fmt.Sprintf("HTTP %s: redirects are not followed; set the subscription to the final URL", resp.Status)
		if loc := resp.Header.Get("Location"); loc != "" {
			r.Err = fmt.Sprintf("HTTP %s to %q: redirects are not followed; set the subscription to the final URL", resp.Status, clip(loc))
		}
		return r
	case code == http.StatusGone:
		r.Err = fmt.Sprintf("HTTP %s: the receiver wants no more webhooks", resp.Status)
		return r
	case code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500 || code < 200:
		r.Err = "HTTP " + resp.Status
		r.Retry = true
		r.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), now)
		return r
	default:
		r.Err = "HTTP " + resp.Status
		return r
	}
}

// retryAfter parses a Retry-After value, delay-seconds or an HTTP-date
// (RFC 9110, section 10.2.3), capped at the Backoff cap so a receiver cannot
// park a message for days.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n > int64(backoffCap/time.Second) {
			return backoffCap
		}
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now).Round(time.Second)
	}
	return max(0, min(d, backoffCap))
}

func checkID(id string) error {
	if id == "" {
		return errors.New("empty message id")
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c > '~' || c == '.' {
			return fmt.Errorf("message id %q: only printable ASCII without spaces or dots", clip(id))
		}
	}
	return nil
}

// ValidateURL checks a subscription URL as a user enters it: absolute http or
// https, a host, no user name or password, at most 2000 bytes. Unless
// allowPrivate, it also refuses a host that is plainly not public: "localhost"
// or an IP address in a loopback, private, link-local or reserved range.
// Names are not resolved here; Post checks the resolved address when it
// dials. The error is an apperr EINVALID for field "url".
func ValidateURL(raw string, allowPrivate bool) error {
	invalid := func(format string, args ...any) error { return apperr.Invalid("url", format, args...) }
	if raw == "" {
		return invalid("a URL is required")
	}
	if len(raw) > maxURLLen {
		return invalid("longer than %d characters", maxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return invalid("not a valid URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return invalid("must start with https:// or http://")
	}
	if u.User != nil {
		return invalid("must not contain a user name or password")
	}
	host := u.Hostname()
	if host == "" {
		return invalid("has no host")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return invalid("port %q is not between 1 and 65535", p)
		}
	}
	if allowPrivate {
		return nil
	}
	h := strings.TrimSuffix(strings.ToLower(host), ".")
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return invalid("must not point at this server (localhost)")
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if r := nonPublic(a); r != "" {
			return invalid("%s is a %s address, not on the public internet", host, r)
		}
	}
	return nil
}

// Backoff returns how long to wait before the next attempt after attempt
// failures in a row (attempt ≥ 1; smaller counts as 1): a random duration
// between zero and 30s·2^(attempt-1), capped at 6h ("full jitter"), so
// receivers recovering from an outage are not hit by every sender at once.
// It is safe for concurrent use.
func Backoff(attempt int) time.Duration {
	attempt = max(attempt, 1)
	ceil := backoffCap
	if attempt <= 20 {
		ceil = min(backoffBase<<(attempt-1), backoffCap)
	}
	return time.Duration(mrand.Int64N(int64(ceil) + 1))
}

// clip shortens a value echoed from the network into an error message.
func clip(s string) string {
	if len(s) > maxHeaderEcho {
		return s[:maxHeaderEcho] + "…"
	}
	return s
}
