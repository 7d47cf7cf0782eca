package email

import (
	"encoding/base64"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/candorhq/candor/internal/apperr"
)

// Address is a mailbox: an optional display name and an addr-spec.
type Address struct{ Name, Addr string }

// Header is an extra header field (e.g. List-Unsubscribe, X-Candor-Delivery).
type Header struct{ Key, Value string }

// Message is one email to one recipient.
type Message struct {
	From      Address
	To        Address
	ReplyTo   string // addr-spec, e.g. reply+TOKEN@example.com; optional
	Subject   string
	Text      string // plain-text body (UTF-8; LF or CRLF line ends)
	HTML      string // optional full HTML document; when set: multipart/alternative with Text first
	MessageID string // "<id@domain>" including angle brackets; required
	Date      time.Time
	Headers   []Header
}

const (
	crlf       = "\r\n"
	dateLayout = "Mon, 02 Jan 2006 15:04:05 -0700"

	// lineGoal is the length header lines are folded to (RFC 5322 2.1.1
	// "SHOULD be no more than 78"); lineMax is the hard limit, 998 plus CRLF.
	lineGoal = 78
	lineMax  = 998
)

// reserved are the header fields AppendTo writes itself; an extra Header
// with one of these names would give the message two of them.
var reserved = []string{
	"Date", "From", "Sender", "To", "Cc", "Bcc", "Reply-To", "Subject",
	"Message-ID", "MIME-Version", "Content-Type", "Content-Transfer-Encoding",
}

// AppendTo appends the message in RFC 5322 / MIME form (CRLF line ends, NOT
// dot-stuffed) to buf.
//
// It returns an EINVALID *apperr.Error naming the field ("from", "to",
// "reply_to", "subject", "message_id", "date", "text", "html",
// "headers[i]") when an address is not a plain local@domain, a
// Message-ID is malformed, a text is not valid UTF-8 or an extra header
// could not be written as one field; buf is then returned unchanged.
// Display names and the subject are refused only when they are not valid
// UTF-8: any character a header cannot carry raw, CR and LF included, is
// encoded, so a recipient's odd name never stops their notice.
func (m *Message) AppendTo(buf []byte) ([]byte, error) {
	start := len(buf)
	buf = slices.Grow(buf, 1024+len(m.Text)+len(m.HTML)+(len(m.Text)+len(m.HTML))/8)
	buf, err := m.appendTo(buf)
	if err != nil {
		return buf[:start], err
	}
	return buf, nil
}

func (m *Message) appendTo(buf []byte) ([]byte, error) {
	if m.Date.IsZero() {
		return buf, apperr.Invalid("date", "is required")
	}
	if p := messageIDProblem(m.MessageID); p != "" {
		return buf, apperr.Invalid("message_id", "%q %s", m.MessageID, p)
	}
	if !utf8.ValidString(m.Text) {
		return buf, apperr.Invalid("text", "is not valid UTF-8")
	}
	if !utf8.ValidString(m.HTML) {
		return buf, apperr.Invalid("html", "is not valid UTF-8")
	}

	buf = append(buf, "Date: "...)
	buf = m.Date.AppendFormat(buf, dateLayout)
	buf = append(buf, crlf...)

	var err error
	if buf, err = appendMailbox(buf, "From: ", m.From, "from"); err != nil {
		return buf, err
	}
	if buf, err = appendMailbox(buf, "To: ", m.To, "to"); err != nil {
		return buf, err
	}
	if m.ReplyTo != "" {
		if p := addrSpecProblem(m.ReplyTo); p != "" {
			return buf, apperr.Invalid("reply_to", "%q %s", m.ReplyTo, p)
		}
		buf = append(buf, "Reply-To: "...)
		buf = append(buf, m.ReplyTo...)
		buf = append(buf, crlf...)
	}
	if !utf8.ValidString(m.Subject) {
		return buf, apperr.Invalid("subject", "is not valid UTF-8")
	}
	buf = appendUnstructured(buf, "Subject: ", m.Subject)
	buf = append(buf, "Message-ID: "...)
	buf = append(buf, m.MessageID...)
	buf = append(buf, crlf...)
	for i, h := range m.Headers {
		if buf, err = appendExtra(buf, h); err != nil {
			e := apperr.As(err)
			e.Field = "headers[" + strconv.Itoa(i) + "]"
			return buf, e
		}
	}
	buf = append(buf, "MIME-Version: 1.0\r\n"...)

	const textPart = "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
	if m.HTML == "" {
		buf = append(buf, textPart...)
		buf = appendQP(buf, m.Text)
		if n := len(m.Text); n > 0 && m.Text[n-1] != '\n' {
			// A soft line break decodes to nothing, so the text comes back
			// exactly, with no newline added, while the message still
			// ends in CRLF as SMTP needs.
			buf = append(buf, "="+crlf...)
		}
		return buf, nil
	}

	// The boundary starts with "=_": quoted-printable writes every "=" as
	// "=3D" or a soft line break, so no encoded line can contain it and no
	// check of the parts is needed. The hash only keeps boundaries
	// distinct between messages, which some filters like.
	var b [2 + 16 + 7]byte
	boundary := append(b[:0], "=_"...)
	boundary = appendHex64(boundary, fnv64(m.MessageID))
	boundary = append(boundary, ".candor"...)

	buf = append(buf, "Content-Type: multipart/alternative; boundary=\""...)
	buf = append(buf, boundary...)
	buf = append(buf, "\"\r\n\r\n--"...)
	buf = append(buf, boundary...)
	buf = append(buf, crlf+textPart...)
	buf = appendQP(buf, m.Text)
	buf = append(buf, crlf+"--"...)
	buf = append(buf, boundary...)
	buf = append(buf, crlf+"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"...)
	buf = appendQP(buf, m.HTML)
	buf = append(buf, crlf+"--"...)
	buf = append(buf, boundary...)
	buf = append(buf, "--"+crlf...)
	return buf, nil
}

// appendMailbox writes prefix and a's name-addr, folded, or refuses a's
// addr-spec.
func appendMailbox(buf []byte, prefix string, a Address, field string) ([]byte, error) {
	if p := addrSpecProblem(a.Addr); p != "" {
		return buf, apperr.Invalid(field, "%q %s", a.Addr, p)
	}
	if !utf8.ValidString(a.Name) {
		return buf, apperr.Invalid(field, "the display name is not valid UTF-8")
	}
	lineStart := len(buf)
	buf = append(buf, prefix...)
	if a.Name == "" {
		buf = append(buf, a.Addr...)
		return append(buf, crlf...), nil
	}
	kind := nameKind(a.Name)
	if kind != nameEncoded && len(prefix)+len(a.Name)+2 > lineGoal {
		// A quoted-string cannot be folded without changing it, and a
		// long phrase is rare enough not to deserve its own folding:
		// encoded-words fold anywhere.
		kind = nameEncoded
	}
	switch kind {
	case nameAtoms:
		buf = append(buf, a.Name...)
	case nameQuoted:
		buf = append(buf, '"')
		for i := 0; i < len(a.Name); i++ {
			if c := a.Name[i]; c == '"' || c == '\\' {
				buf = append(buf, '\\')
			}
			buf = append(buf, a.Name[i])
		}
		buf = append(buf, '"')
	default:
		buf = appendEncodedWords(buf, len(prefix), a.Name)
	}
	if col := len(buf) - lastLineStart(buf, lineStart); col+3+len(a.Addr) > lineGoal {
		buf = append(buf, crlf+" <"...)
	} else {
		buf = append(buf, " <"...)
	}
	buf = append(buf, a.Addr...)
	return append(buf, ">"+crlf...), nil
}

// lastLineStart returns the index in buf just after the last CRLF at or
// after from, or from.
func lastLineStart(buf []byte, from int) int {
	for i := len(buf) - 1; i > from; i-- {
		if buf[i] == '\n' {
			return i + 1
		}
	}
	return from
}

const (
	nameAtoms   = iota // atoms separated by single spaces: written as is
	nameQuoted         // printable ASCII: written as a quoted-string
	nameEncoded        // anything else: written as encoded-words
)

func nameKind(s string) int {
	atoms := s[0] != ' ' && s[len(s)-1] != ' '
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '=' && i+1 < len(s) && s[i+1] == '?' {
			return nameEncoded
		}
		if c == ' ' {
			if i > 0 && s[i-1] == ' ' {
				atoms = false
			}
		} else if !atext[c] {
			atoms = false
		}
	}
	if atoms {
		return nameAtoms
	}
	return nameQuoted
}

// appendUnstructured writes prefix and s as an unstructured field body
// (RFC 5322 3.2.5), folded at spaces, or as encoded-words when s holds
// anything that would not read back the same: non-ASCII, controls, runs of
// spaces (unfolding collapses them), leading or trailing space, "=?", or a
// word too long for a line.
func appendUnstructured(buf []byte, prefix, s string) []byte {
	buf = append(buf, prefix...)
	if !plainUnstructured(s, lineMax-len(prefix)) {
		buf = appendEncodedWords(buf, len(prefix), s)
		return append(buf, crlf...)
	}
	col := len(prefix)
	for i := 0; i < len(s); {
		j := strings.IndexByte(s[i:], ' ')
		if j < 0 {
			j = len(s)
		} else {
			j += i
		}
		word := s[i:j]
		if i > 0 {
			if col+1+len(word) > lineGoal {
				buf = append(buf, crlf...)
				col = 0
			}
			buf = append(buf, ' ')
			col++
		}
		buf = append(buf, word...)
		col += len(word)
		i = j + 1
	}
	return append(buf, crlf...)
}

// plainUnstructured reports whether s can be written as is: printable
// ASCII words of at most maxWord characters separated by single spaces,
// with no "=?" that a reader would take for an encoded-word.
func plainUnstructured(s string, maxWord int) bool {
	if s == "" {
		return true
	}
	if s[0] == ' ' || s[len(s)-1] == ' ' {
		return false
	}
	word := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20 || c > 0x7e:
			return false
		case c == ' ':
			if s[i+1] == ' ' {
				return false
			}
			word = 0
		case c == '=' && i+1 < len(s) && s[i+1] == '?':
			return false
		default:
			if word++; word > maxWord {
				return false
			}
		}
	}
	return true
}

// appendEncodedWords writes s as RFC 2047 encoded-words in UTF-8, choosing
// Q or B by which is shorter, each word at most 75 characters and whole
// characters only, folded so lines stay within 78 characters. col is the
// length of the current line so far.
func appendEncodedWords(buf []byte, col int, s string) []byte {
	q := 0
	for i := 0; i < len(s); i++ {
		if qLiteral[s[i]] {
			q++
		} else {
			q += 3
		}
	}
	// Q reads better and spam filters frown on needless base64, so it is
	// kept unless it is half as long again as B.
	useQ := q <= (len(s)+2)/3*4*3/2
	prefix := "=?utf-8?b?"
	if useQ {
		prefix = "=?utf-8?q?"
	}
	const (
		maxWord  = 75 // RFC 2047 2
		overhead = len("=?utf-8?q?") + len("?=")
		minRoom  = 12 // the longest character, one 4-byte rune in Q
	)
	for first := true; len(s) > 0; first = false {
		switch {
		case col+1+overhead+minRoom > lineGoal:
			buf = append(buf, crlf+" "...)
			col = 1
		case !first:
			buf = append(buf, ' ')
			col++
		}
		room := min(maxWord, lineGoal-col) - overhead
		buf = append(buf, prefix...)
		n := 0 // bytes of s in this word
		if useQ {
			w := 0
			for n < len(s) {
				_, size := utf8.DecodeRuneInString(s[n:])
				rw := 0
				for k := n; k < n+size; k++ {
					if qLiteral[s[k]] {
						rw++
					} else {
						rw += 3
					}
				}
				if w+rw > room {
					break
				}
				for k := n; k < n+size; k++ {
					switch c := s[k]; {
					case c == ' ':
						buf = append(buf, '_')
					case qLiteral[c]:
						buf = append(buf, c)
					default:
						buf = append(buf, '=', upperHex[c>>4], upperHex[c&15])
					}
				}
				w += rw
				n += size
			}
			col += overhead + w
		} else {
			for n < len(s) {
				_, size := utf8.DecodeRuneInString(s[n:])
				if (n+size+2)/3*4 > room {
					break
				}
				n += size
			}
			buf = base64.StdEncoding.AppendEncode(buf, []byte(s[:n]))
			col += overhead + (n+2)/3*4
		}
		buf = append(buf, "?="...)
		s = s[n:]
	}
	return buf
}

// appendExtra writes an extra header field, folded at single spaces where
// its line would pass 78 characters. It refuses names that are not
// field-names (RFC 5322 3.6.8), the fields AppendTo writes itself, values
// that are not printable ASCII, and lines it cannot keep within 998.
func appendExtra(buf []byte, h Header) ([]byte, error) {
	if h.Key == "" || len(h.Key) > 76 {
		return buf, apperr.Invalid("", "the header name must have 1 to 76 characters")
	}
	for i := 0; i < len(h.Key); i++ {
		if c := h.Key[i]; c <= ' ' || c > '~' || c == ':' {
			return buf, apperr.Invalid("", "%q is not a header name", h.Key)
		}
	}
	for _, r := range reserved {
		if strings.EqualFold(h.Key, r) {
			return buf, apperr.Invalid("", "%s is written from the message itself", r)
		}
	}
	for i := 0; i < len(h.Value); i++ {
		if c := h.Value[i]; (c < ' ' && c != '\t') || c > '~' {
			return buf, apperr.Invalid("", "the value of %s must be printable ASCII on one line", h.Key)
		}
	}
	buf = append(buf, h.Key...)
	buf = append(buf, ':', ' ')
	col := len(h.Key) + 2
	v := h.Value
	for col+len(v) > lineGoal {
		// Fold at the last space that keeps the line within the goal, else
		// at the first one after it. Only a single space between two
		// other characters is a fold point: unfolding collapses runs of
		// whitespace, and a fold must not change the value.
		cut := -1
		for i := 1; i < len(v)-1; i++ {
			if v[i] != ' ' || isWSP(v[i-1]) || isWSP(v[i+1]) {
				continue
			}
			if col+i <= lineGoal || cut < 0 {
				cut = i
			}
			if col+i > lineGoal {
				break
			}
		}
		if cut < 0 {
			break
		}
		if col+cut > lineMax {
			return buf, apperr.Invalid("", "the value of %s is too long to fit on a line", h.Key)
		}
		buf = append(buf, v[:cut]...)
		buf = append(buf, crlf...)
		v = v[cut:] // the space starts the continuation line
		col = 0
	}
	if col+len(v) > lineMax {
		return buf, apperr.Invalid("", "the value of %s is too long to fit on a line", h.Key)
	}
	buf = append(buf, v...)
	return append(buf, crlf...), nil
}

func isWSP(c byte) bool { return c == ' ' || c == '\t' }

// appendQP appends s quoted-printable encoded (RFC 2045 6.7) with CRLF
// line ends: LF and CRLF become line breaks, a lone CR is encoded, lines
// are broken softly before 76 characters, and whitespace at a line end is
// encoded so that no transport can strip it.
func appendQP(buf []byte, s string) []byte {
	const maxCol = 75 // plus the "=" of a soft line break
	col := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c == '\n' {
			buf = append(buf, crlf...)
			col = 0
			i++
			continue
		}
		if c == '\r' && i+1 < len(s) && s[i+1] == '\n' {
			buf = append(buf, crlf...)
			col = 0
			i += 2
			continue
		}
		if qpLiteral[c] {
			j := i + 1
			for j < len(s) && qpLiteral[s[j]] {
				j++
			}
			if last := s[j-1]; (last == ' ' || last == '\t') && qpLineEnd(s, j) {
				j--
			}
			if j > i {
				for i < j {
					if col == maxCol {
						buf = append(buf, "="+crlf...)
						col = 0
					}
					n := min(j-i, maxCol-col)
					buf = append(buf, s[i:i+n]...)
					i += n
					col += n
				}
				continue
			}
		}
		if col+3 > maxCol {
			buf = append(buf, "="+crlf...)
			col = 0
		}
		buf = append(buf, '=', upperHex[c>>4], upperHex[c&15])
		col += 3
		i++
	}
	return buf
}

func qpLineEnd(s string, j int) bool {
	return j == len(s) || s[j] == '\n' || s[j] == '\r' && j+1 < len(s) && s[j+1] == '\n'
}

// addrSpecProblem returns why s is not an addr-spec Candor sends to, or "".
// Only dot-atom local parts and host-name domains are taken: quoted local
// parts, domain literals and non-ASCII (SMTPUTF8) addresses are refused,
// which also keeps anything that could end a header or an SMTP command out.
func addrSpecProblem(s string) string {
	if s == "" {
		return "is empty"
	}
	if len(s) > 254 {
		return "is longer than 254 characters"
	}
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return "is not an email address (no @)"
	}
	local, domain := s[:at], s[at+1:]
	if local == "" || len(local) > 64 {
		return "is not an email address (the part before @ must have 1 to 64 characters)"
	}
	if !dotAtom(local) {
		return "is not an email address (the part before @ has characters that are not allowed)"
	}
	if !hostname(domain) {
		return "is not an email address (the domain is not a host name)"
	}
	return ""
}

func dotAtom(s string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '.' {
			if s[i-1] == '.' {
				return false
			}
		} else if !atext[c] {
			return false
		}
	}
	return true
}

func hostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	label := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.':
			if label == 0 || s[i-1] == '-' {
				return false
			}
			label = 0
		case c == '-':
			if label == 0 {
				return false
			}
			label++
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
			label++
		default:
			return false
		}
		if label > 63 {
			return false
		}
	}
	return label > 0 && s[len(s)-1] != '-'
}

// messageIDProblem returns why s is not a msg-id (RFC 5322 3.6.4) of the
// form "<left@right>", or "".
func messageIDProblem(s string) string {
	if s == "" {
		return "is required"
	}
	if len(s) > 250 {
		return "is longer than 250 characters"
	}
	if len(s) < 5 || s[0] != '<' || s[len(s)-1] != '>' {
		return "must look like <id@domain>"
	}
	in := s[1 : len(s)-1]
	at := strings.IndexByte(in, '@')
	if at <= 0 || at == len(in)-1 {
		return "must look like <id@domain>"
	}
	if !dotAtom(in[:at]) || !dotAtom(in[at+1:]) {
		return "must look like <id@domain> with no spaces, brackets or quotes"
	}
	return ""
}

var (
	atext     [256]bool // RFC 5322 3.2.3
	qLiteral  [256]bool // RFC 2047 5(3): what a Q encoded-word may carry raw in a phrase; space is written as "_"
	qpLiteral [256]bool // RFC 2045 6.7 (2) and (3)
)

const upperHex = "0123456789ABCDEF"

func init() {
	for c := '0'; c <= '9'; c++ {
		atext[c], qLiteral[c] = true, true
	}
	for c := 'a'; c <= 'z'; c++ {
		atext[c], qLiteral[c] = true, true
		atext[c-32], qLiteral[c-32] = true, true
	}
	for _, c := range "!#$%&'*+-/=?^_`{|}~" {
		atext[c] = true
	}
	for _, c := range "!*+-/" {
		qLiteral[c] = true
	}
	qLiteral[' '] = true // written as "_"
	for c := 33; c <= 126; c++ {
		qpLiteral[c] = c != '='
	}
	qpLiteral[' '], qpLiteral['\t'] = true, true
}

func fnv64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

func appendHex64(b []byte, v uint64) []byte {
	for shift := 60; shift >= 0; shift -= 4 {
		b = append(b, upperHex[v>>uint(shift)&15])
	}
	return b
}
