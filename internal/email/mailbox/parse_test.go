package mailbox

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/candorhq/candor/internal/email"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		name         string
		raw          string
		headers      []Header
		text, html   string
		wantErr      bool
		checkHeaders bool
	}{
		{
			name: "plain 7bit, folded and encoded headers",
			raw: "Subject: =?utf-8?q?S=C3=A9curit=C3=A9?=\r\n =?utf-8?b?IOKAlCBhdmlz?=\r\n" +
				"From: Acme\r\n\t<a@acme.example>\r\nX-Weird: a  b\r\nno colon here\r\n\r\nHello\r\nWorld\r\n",
			headers:      []Header{{"Subject", "Sécurité — avis"}, {"From", "Acme\t<a@acme.example>"}, {"X-Weird", "a  b"}},
			checkHeaders: true,
			text:         "Hello\nWorld\n",
		},
		{
			name: "LF only",
			raw:  "Subject: x\n\nline\n",
			text: "line\n",
		},
		{
			name: "no body",
			raw:  "Subject: x\r\n",
		},
		{
			name: "base64 latin1",
			raw: "Content-Type: text/plain; charset=ISO-8859-1\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
				"UHLpdmVuZXotbm91cy4NCg==\r\n",
			text: "Prévenez-nous.\n",
		},
		{
			name: "nested multipart with attachment",
			raw: "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=outer\r\n\r\n" +
				"preamble\r\n--outer\r\nContent-Type: multipart/alternative; boundary=\"in ner\"\r\n\r\n" +
				"--in ner\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nZo=C3=AB=\r\n says hi\r\n" +
				"--in ner\r\nContent-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nPHA+WjwvcD4=\r\n" +
				"--in ner--\r\n" +
				"--outer\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=x.txt\r\n\r\nnot the text\r\n" +
				"--outer--\r\n",
			text: "Zoë says hi",
			html: "<p>Z</p>",
		},
		{
			name:    "multipart without boundary",
			raw:     "Content-Type: multipart/alternative\r\n\r\nx\r\n",
			wantErr: true,
		},
		{
			name:    "truncated multipart",
			raw:     "Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsome text",
			wantErr: true,
		},
		{
			name:    "bad base64",
			raw:     "Content-Transfer-Encoding: base64\r\n\r\n!!!\r\n",
			wantErr: true,
		},
		{
			name: "invalid utf-8 shown replaced",
			raw:  "Subject: caf\xe9\r\nContent-Type: text/plain; charset=x-unknown\r\n\r\ncaf\xe9\r\n",
			text: "caf\uFFFD\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse([]byte(tc.raw))
			if (err != nil) != tc.wantErr {
				t.Fatalf("Parse: %v, want error %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			if p.Text != tc.text || p.HTML != tc.html {
				t.Errorf("text %q html %q, want %q %q", p.Text, p.HTML, tc.text, tc.html)
			}
			if tc.checkHeaders && !slices.Equal(p.Headers, tc.headers) {
				t.Errorf("headers %q, want %q", p.Headers, tc.headers)
			}
		})
	}
}

// FuzzParse checks that Parse never panics, and that whatever Text and
// HTML a Message carries, Parse gives them back from AppendTo's output.
func FuzzParse(f *testing.F) {
	f.Add([]byte("Subject: x\r\n\r\nbody"), "text", "<p>html</p>")
	f.Add([]byte("Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: multipart/alternative; boundary=a\r\n\r\n--a--\r\n"), ".\n..\n", "")
	f.Fuzz(func(t *testing.T, raw []byte, text, html string) {
		Parse(raw)

		text, html = lfLines(text), lfLines(html)
		m := &email.Message{
			From: email.Address{Addr: "a@acme.example"}, To: email.Address{Addr: "b@customer.example"},
			Subject: "s", Text: text, HTML: html, MessageID: "<x@acme.example>", Date: time.Unix(0, 0),
		}
		out, err := m.AppendTo(nil)
		if err != nil {
			return // invalid UTF-8
		}
		p, err := Parse(out)
		if err != nil {
			t.Fatal(err)
		}
		if p.Text != text || p.HTML != html {
			t.Fatalf("got text %q html %q, want %q %q", p.Text, p.HTML, text, html)
		}
	})
}

// lfLines makes every line end LF, as Parse does; a CR not before an LF
// stays, as a character.
func lfLines(s string) string {
	for strings.Contains(s, "\r\n") {
		s = strings.ReplaceAll(s, "\r\n", "\n")
	}
	return s
}
