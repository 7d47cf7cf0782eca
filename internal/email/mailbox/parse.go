package mailbox

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"strings"
	"unicode/utf8"
)

// Header is one header field of a parsed message.
type Header struct{ Key, Value string }

// Parsed is a message split for display: headers in order, the plain text
// and the HTML part (decoded from quoted-printable/base64, as UTF-8).
type Parsed struct {
	Headers []Header // in message order; values unfolded and decoded from RFC 2047
	Text    string   // the first text/plain part that is not an attachment, line ends LF
	HTML    string   // the first text/html part that is not an attachment, line ends LF
}

// Limits on what Parse walks through, so that a hostile message costs
// little.
const (
	maxDepth = 8
	maxParts = 200
)

// Parse splits raw for display. It is lenient, as a mail reader must be:
// a header line without a colon is skipped, a part in an unknown charset
// is shown with invalid bytes replaced. It returns an error, along with
// what it could read, when a multipart body or a transfer encoding is
// broken.
func Parse(raw []byte) (Parsed, error) {
	var p Parsed
	head, body := splitHead(raw)
	p.Headers = parseHeaders(head)
	var ct, cte string
	for _, h := range p.Headers {
		switch strings.ToLower(h.Key) {
		case "content-type":
			ct = h.Value
		case "content-transfer-encoding":
			cte = h.Value
		}
	}
	parts := 0
	err := p.walk(body, ct, cte, "", 0, &parts)
	return p, err
}

// splitHead cuts raw at the first empty line.
func splitHead(raw []byte) (head, body []byte) {
	for i := 0; i < len(raw); {
		j := bytes.IndexByte(raw[i:], '\n')
		if j < 0 {
			break
		}
		line := raw[i : i+j]
		if len(line) == 0 || len(line) == 1 && line[0] == '\r' {
			return raw[:i], raw[i+j+1:]
		}
		i += j + 1
	}
	return raw, nil
}

func parseHeaders(head []byte) []Header {
	var hs []Header
	var cur []byte
	valid := false
	flush := func() {
		if !valid {
			return
		}
		k, v, _ := bytes.Cut(cur, []byte(":"))
		hs = append(hs, Header{
			Key:   string(bytes.TrimSpace(k)),
			Value: decodeWords(toUTF8(strings.TrimSpace(string(v)), "")),
		})
	}
	for line := range bytes.SplitSeq(head, []byte("\n")) {
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			if valid {
				cur = append(cur, line...) // unfolding removes only the CRLF
			}
			continue
		}
		flush()
		colon := bytes.IndexByte(line, ':')
		valid = colon > 0 && bytes.IndexAny(line[:colon], " \t") < 0
		cur = append(cur[:0], line...)
	}
	flush()
	return hs
}

// walk finds the text and HTML parts of body, whose Content-Type is ct
// (text/plain when empty, or the parent's default) and whose transfer
// encoding is cte.
func (p *Parsed) walk(body []byte, ct, cte, disposition string, depth int, parts *int) error {
	if *parts++; *parts > maxParts || depth > maxDepth {
		return errors.New("mailbox: too many MIME parts")
	}
	mediaType, params, err := mime.ParseMediaType(ct)
	if err != nil {
		mediaType, params = "text/plain", nil
	}
	if d, _, _ := mime.ParseMediaType(disposition); d == "attachment" {
		return nil
	}
	switch {
	case strings.HasPrefix(mediaType, "multipart/"):
		boundary := params["boundary"]
		if boundary == "" {
			return errors.New("mailbox: multipart without a boundary")
		}
		mr := multipart.NewReader(bytes.NewReader(body), boundary)
		for {
			part, err := mr.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return fmt.Errorf("mailbox: %w", err)
			}
			b, err := io.ReadAll(io.LimitReader(part, MaxMessageBytes))
			if err != nil {
				return fmt.Errorf("mailbox: %w", err)
			}
			pct := part.Header.Get("Content-Type")
			if pct == "" && mediaType == "multipart/digest" {
				pct = "message/rfc822"
			}
			if err := p.walk(b, pct, part.Header.Get("Content-Transfer-Encoding"), part.Header.Get("Content-Disposition"), depth+1, parts); err != nil {
				return err
			}
		}
	case mediaType == "text/plain" && p.Text == "", mediaType == "text/html" && p.HTML == "":
		s, err := decodeBody(body, cte, params["charset"])
		if mediaType == "text/plain" {
			p.Text = s
		} else {
			p.HTML = s
		}
		return err
	}
	return nil
}

// decodeBody undoes the transfer encoding, converts to UTF-8 and makes
// line ends LF.
func decodeBody(body []byte, cte, charset string) (string, error) {
	var r io.Reader = bytes.NewReader(body)
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, r) // it skips CR and LF
	}
	b, err := io.ReadAll(r)
	if err != nil {
		err = fmt.Errorf("mailbox: %s body: %w", cte, err)
	}
	s := toUTF8(string(b), charset)
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return s, err
}

// toUTF8 converts s from charset: UTF-8 and US-ASCII as they are, Latin-1
// byte by byte, anything else with invalid bytes replaced.
func toUTF8(s, charset string) string {
	switch strings.ToLower(charset) {
	case "iso-8859-1", "latin1", "iso_8859-1", "l1":
		var b strings.Builder
		for i := 0; i < len(s); i++ {
			b.WriteRune(rune(s[i]))
		}
		return b.String()
	}
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// charsetReader lets RFC 2047 words in charsets the standard library does
// not know decode with their invalid bytes replaced rather than fail.
func charsetReader(charset string, r io.Reader) (io.Reader, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return strings.NewReader(toUTF8(string(b), charset)), nil
}
