package email

import (
	"bytes"
	"flag"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/candorhq/candor/internal/apperr"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

var testDate = time.Date(2026, 3, 14, 9, 26, 53, 0, time.FixedZone("", 3600))

func testMessage() *Message {
	return &Message{
		From:      Address{"Acme Security Team", "security@acme.example"},
		To:        Address{"Zoë O'Brien", "zoe@customer.example"},
		ReplyTo:   "reply+7f3a@acme.example",
		Subject:   "Important: your account data was exposed in a security incident",
		Text:      "Dear Zoë,\n\nOn 12 March we found that ...\n.\n..and a line that starts with dots\n",
		HTML:      "<!doctype html>\n<html><body><p style=\"color: red\">Dear Zoë,</p></body></html>\n",
		MessageID: "<d7f3a9.1@acme.example>",
		Date:      testDate,
		Headers: []Header{
			{"List-Unsubscribe", "<mailto:unsubscribe+7f3a@acme.example>, <https://acme.example/unsubscribe/7f3a>"},
			{"List-Unsubscribe-Post", "List-Unsubscribe=One-Click"},
			{"X-Candor-Delivery", "7f3a"},
		},
	}
}

func TestAppendToGolden(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Message)
	}{
		{"alternative", func(*Message) {}},
		{"text", func(m *Message) { m.HTML, m.ReplyTo, m.Headers = "", "", nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := testMessage()
			tc.edit(m)
			raw, err := m.AppendTo(nil)
			if err != nil {
				t.Fatal(err)
			}
			checkMessage(t, m, raw)
			golden := filepath.Join("testdata", tc.name+".eml")
			if *update {
				if err := os.WriteFile(golden, raw, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(raw, want) {
				t.Errorf("message differs from %s (go test -update rewrites it):\n%s", golden, raw)
			}
		})
	}
}

func TestAppendToAppends(t *testing.T) {
	m := testMessage()
	buf, err := m.AppendTo([]byte("prefix"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(buf, []byte("prefixDate: ")) {
		t.Fatalf("AppendTo did not append: %.40q", buf)
	}
	m.To.Addr = "bad"
	out, err := m.AppendTo(buf[:6])
	if err == nil || string(out) != "prefix" {
		t.Fatalf("on error AppendTo returned %q, %v; want the buffer unchanged and an error", out, err)
	}
}

// TestAppendToFields writes names and subjects a header cannot carry raw
// and checks that a reader gets back exactly them and no other field.
func TestAppendToFields(t *testing.T) {
	long := strings.Repeat("Ünïcödé ", 30)
	for _, tc := range []struct {
		name, display, subject string
	}{
		{"ascii", "Bob Smith", "Hello"},
		{"empty", "", ""},
		{"specials", `Smith, Bob "the builder" (ops) \ <x>`, "Re: [Acme] a; b: c"},
		{"dots", "John Q. Public", "v1.2.3"},
		{"spaces", "  Bob   Smith  ", "  two  spaces  "},
		{"only spaces", "   ", "   "},
		{"utf8", "Zoë Ørsted 山田太郎", "Sécurité : vos données 🔒"},
		{"cjk", "山田太郎山田太郎山田太郎山田太郎山田太郎山田太郎山田太郎山田太郎", "お客様の個人情報に関する重要なお知らせお客様の個人情報に関する重要なお知らせ"},
		{"crlf injection", "Bob\r\nBcc: victim@evil.example", "Hi\r\nBcc: victim@evil.example\r\n\r\nbody"},
		{"lf injection", "Bob\nX-Evil: 1", "Hi\nX-Evil: 1"},
		{"cr", "Bob\rX", "Hi\rthere"},
		{"controls", "a\x00b\x1bc\x7f", "tab\there\x00nul"},
		{"encoded word lookalike", "=?utf-8?q?evil?=", "=?utf-8?b?ZXZpbA==?="},
		{"underscores", "a_b=c?d", "under_score = ?"},
		{"long ascii", strings.Repeat("Longname ", 12), strings.Repeat("word ", 60) + "end"},
		{"long word", strings.Repeat("x", 120), strings.Repeat("y", 1200)},
		{"long utf8", long, long},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := testMessage()
			m.To.Name = tc.display
			m.From.Name = tc.display
			m.Subject = tc.subject
			raw, err := m.AppendTo(nil)
			if err != nil {
				t.Fatal(err)
			}
			checkMessage(t, m, raw)
		})
	}
}

func TestAppendToFolds(t *testing.T) {
	m := testMessage()
	m.Subject = strings.Repeat("Sécurité ", 20)
	m.To.Name = strings.Repeat("Zoë ", 20)
	m.Headers = []Header{{"List-Unsubscribe", "<mailto:u@acme.example>, <https://acme.example/unsubscribe/" + strings.Repeat("a", 60) + ">, <https://acme.example/x>"}}
	raw, err := m.AppendTo(nil)
	if err != nil {
		t.Fatal(err)
	}
	checkMessage(t, m, raw)
	head, _, _ := bytes.Cut(raw, []byte("\r\n\r\n"))
	for line := range strings.SplitSeq(string(head), "\r\n") {
		if len(line) > 78 && !strings.Contains(line, strings.Repeat("a", 60)) {
			t.Errorf("header line of %d characters: %q", len(line), line)
		}
	}
}

func TestAppendToRefuses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(*Message)
		field string
	}{
		{"to empty", func(m *Message) { m.To.Addr = "" }, "to"},
		{"to no at", func(m *Message) { m.To.Addr = "zoe.customer.example" }, "to"},
		{"to crlf", func(m *Message) { m.To.Addr = "zoe@customer.example\r\nBcc: x@evil.example" }, "to"},
		{"to lf", func(m *Message) { m.To.Addr = "zoe@customer.example\nX: y" }, "to"},
		{"to space", func(m *Message) { m.To.Addr = "zoe @customer.example" }, "to"},
		{"to angle", func(m *Message) { m.To.Addr = "zoe@customer.example>, <x@evil.example" }, "to"},
		{"to comma", func(m *Message) { m.To.Addr = "zoe@customer.example,x@evil.example" }, "to"},
		{"to name-addr", func(m *Message) { m.To.Addr = "Zoe <zoe@customer.example>" }, "to"},
		{"to control", func(m *Message) { m.To.Addr = "zo\x00e@customer.example" }, "to"},
		{"to no domain", func(m *Message) { m.To.Addr = "zoe@" }, "to"},
		{"to no local", func(m *Message) { m.To.Addr = "@customer.example" }, "to"},
		{"to double dot", func(m *Message) { m.To.Addr = "zo..e@customer.example" }, "to"},
		{"to bad domain", func(m *Message) { m.To.Addr = "zoe@-customer.example" }, "to"},
		{"to domain literal", func(m *Message) { m.To.Addr = "zoe@[127.0.0.1]" }, "to"},
		{"to quoted local", func(m *Message) { m.To.Addr = `"zoe x"@customer.example` }, "to"},
		{"to non-ascii", func(m *Message) { m.To.Addr = "zoë@customer.example" }, "to"},
		{"to too long", func(m *Message) { m.To.Addr = strings.Repeat("a", 65) + "@customer.example" }, "to"},
		{"to bad name utf8", func(m *Message) { m.To.Name = "\xff" }, "to"},
		{"from", func(m *Message) { m.From.Addr = "security" }, "from"},
		{"reply_to", func(m *Message) { m.ReplyTo = "reply@acme.example\r\nBcc: x@evil.example" }, "reply_to"},
		{"reply_to name", func(m *Message) { m.ReplyTo = "Acme <reply@acme.example>" }, "reply_to"},
		{"subject utf8", func(m *Message) { m.Subject = "a\xc3" }, "subject"},
		{"message_id empty", func(m *Message) { m.MessageID = "" }, "message_id"},
		{"message_id no brackets", func(m *Message) { m.MessageID = "x@acme.example" }, "message_id"},
		{"message_id crlf", func(m *Message) { m.MessageID = "<x@acme.example>\r\nBcc: x@evil.example" }, "message_id"},
		{"message_id space", func(m *Message) { m.MessageID = "<x y@acme.example>" }, "message_id"},
		{"message_id two", func(m *Message) { m.MessageID = "<x@acme.example> <y@acme.example>" }, "message_id"},
		{"date", func(m *Message) { m.Date = time.Time{} }, "date"},
		{"text utf8", func(m *Message) { m.Text = "a\xffb" }, "text"},
		{"html utf8", func(m *Message) { m.HTML = "a\xffb" }, "html"},
		{"header key colon", func(m *Message) { m.Headers = append(m.Headers, Header{"X-A: b", "c"}) }, "headers[3]"},
		{"header key space", func(m *Message) { m.Headers = append(m.Headers, Header{"X A", "c"}) }, "headers[3]"},
		{"header key crlf", func(m *Message) { m.Headers = []Header{{"X-A\r\nBcc", "c"}} }, "headers[0]"},
		{"header key empty", func(m *Message) { m.Headers = []Header{{"", "c"}} }, "headers[0]"},
		{"header key non-ascii", func(m *Message) { m.Headers = []Header{{"X-Ä", "c"}} }, "headers[0]"},
		{"header value crlf", func(m *Message) { m.Headers = []Header{{"X-A", "b\r\nBcc: x@evil.example"}} }, "headers[0]"},
		{"header value lf", func(m *Message) { m.Headers = []Header{{"X-A", "b\nc"}} }, "headers[0]"},
		{"header value cr", func(m *Message) { m.Headers = []Header{{"X-A", "b\rc"}} }, "headers[0]"},
		{"header value non-ascii", func(m *Message) { m.Headers = []Header{{"X-A", "ä"}} }, "headers[0]"},
		{"header value too long", func(m *Message) { m.Headers = []Header{{"X-A", strings.Repeat("x", 1000)}} }, "headers[0]"},
		{"header reserved", func(m *Message) { m.Headers = []Header{{"bcc", "x@evil.example"}} }, "headers[0]"},
		{"header reserved subject", func(m *Message) { m.Headers = []Header{{"SUBJECT", "x"}} }, "headers[0]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := testMessage()
			tc.edit(m)
			raw, err := m.AppendTo(nil)
			e := apperr.As(err)
			if e == nil || e.Code != apperr.EINVALID || e.Field != tc.field {
				t.Fatalf("AppendTo = %q, %v; want an EINVALID error on %q", raw, err, tc.field)
			}
			if len(raw) != 0 {
				t.Errorf("AppendTo wrote %d bytes along with its error", len(raw))
			}
		})
	}
}

func TestAppendToAccepts(t *testing.T) {
	for _, addr := range []string{
		"a@b", "first.last@sub.example.co.uk", "user+tag@example.com", "o'brien@example.ie",
		"x!#$%&'*+-/=?^_`{|}~@example.com", "UPPER@EXAMPLE.COM", "a@xn--bcher-kva.example", "a@1.2.3.4",
	} {
		m := testMessage()
		m.To.Addr = addr
		raw, err := m.AppendTo(nil)
		if err != nil {
			t.Errorf("%s: %v", addr, err)
			continue
		}
		checkMessage(t, m, raw)
	}
}

func TestAppendToBodies(t *testing.T) {
	for _, tc := range []struct{ name, text string }{
		{"empty", ""},
		{"no final newline", "last line"},
		{"crlf", "a\r\nb\r\n"},
		{"dots", ".\n..\n.a\n. \n"},
		{"trailing space", "a \nb\t\nc  "},
		{"only spaces", "   "},
		{"lone cr", "a\rb\r\rc\r"},
		{"equals", "a=b =3D ==\n="},
		{"long line", strings.Repeat("0123456789", 200)},
		{"long words", strings.Repeat("ab ", 100) + strings.Repeat("é", 100)},
		{"exactly 75", strings.Repeat("x", 75) + "\n" + strings.Repeat("x", 76) + "\n" + strings.Repeat("x", 74) + "="},
		{"controls", "\x00\x01\x1b\x7f\t"},
		{"boundary", "--=_0000000000000000.candor\n--=_" + "ABC.candor--\n"},
		{"from line", "From here\n"},
	} {
		for _, html := range []string{"", "<p>" + tc.text + "</p>"} {
			m := testMessage()
			m.Text, m.HTML = tc.text, html
			raw, err := m.AppendTo(nil)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			t.Run(tc.name, func(t *testing.T) { checkMessage(t, m, raw) })
		}
	}
}

// TestAppendToBoundary puts the message's own boundary in its bodies: the
// quoted-printable encoding must keep it from ending a part.
func TestAppendToBoundary(t *testing.T) {
	m := testMessage()
	raw := mustAppend(t, m)
	_, params, _ := mime.ParseMediaType(textproto.MIMEHeader(must(mail.ReadMessage(bytes.NewReader(raw))).Header).Get("Content-Type"))
	b := params["boundary"]
	if !strings.HasPrefix(b, "=_") {
		t.Fatalf("boundary %q", b)
	}
	m.Text = "--" + b + "\n--" + b + "--\n" + b
	m.HTML = "<pre>\n--" + b + "--\n</pre>"
	checkMessage(t, m, mustAppend(t, m))

	other := testMessage()
	other.MessageID = "<other@acme.example>"
	if _, p2, _ := mime.ParseMediaType(textproto.MIMEHeader(must(mail.ReadMessage(bytes.NewReader(mustAppend(t, other)))).Header).Get("Content-Type")); p2["boundary"] == b {
		t.Error("two Message-IDs gave the same boundary")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// checkMessage parses raw and checks that it is m: exactly the expected
// header fields, each once, with m's values, and m's bodies. It also
// checks the line rules of RFC 5322 and RFC 2045.
func checkMessage(t testing.TB, m *Message, raw []byte) {
	t.Helper()
	for i, line := range bytes.Split(raw, []byte("\r\n")) {
		if len(line) > lineMax {
			t.Errorf("line %d has %d characters", i+1, len(line))
		}
		if bytes.ContainsAny(line, "\r\n") {
			t.Errorf("line %d has a bare CR or LF: %q", i+1, line)
		}
		for _, c := range line {
			if c >= 0x80 {
				t.Errorf("line %d is not ASCII: %q", i+1, line)
				break
			}
		}
	}
	if !bytes.HasSuffix(raw, []byte("\r\n")) {
		t.Errorf("message does not end in CRLF")
	}
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("net/mail cannot read the message: %v\n%s", err, raw)
	}
	want := []string{"Date", "From", "To", "Subject", "Message-Id", "Mime-Version", "Content-Type"}
	if m.ReplyTo != "" {
		want = append(want, "Reply-To")
	}
	if m.HTML == "" {
		want = append(want, "Content-Transfer-Encoding")
	}
	for _, h := range m.Headers {
		want = append(want, textproto.CanonicalMIMEHeaderKey(h.Key))
	}
	var got []string
	for k, vs := range msg.Header {
		for range vs {
			got = append(got, k)
		}
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("header fields:\n got %q\nwant %q\n%s", got, want, raw)
	}

	checkAddress := func(key string, want Address) {
		t.Helper()
		a, err := mail.ParseAddress(msg.Header.Get(key))
		if err != nil {
			t.Errorf("%s: %v in %q", key, err, msg.Header.Get(key))
			return
		}
		if a.Name != want.Name || a.Address != want.Addr {
			t.Errorf("%s = %q <%s>, want %q <%s>", key, a.Name, a.Address, want.Name, want.Addr)
		}
	}
	checkAddress("From", m.From)
	checkAddress("To", m.To)
	if m.ReplyTo != "" {
		checkAddress("Reply-To", Address{Addr: m.ReplyTo})
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil || subject != m.Subject {
		t.Errorf("Subject = %q (%v), want %q", subject, err, m.Subject)
	}
	if got := msg.Header.Get("Message-Id"); got != m.MessageID {
		t.Errorf("Message-ID = %q, want %q", got, m.MessageID)
	}
	if d, err := msg.Header.Date(); err != nil || !d.Equal(m.Date.Truncate(time.Second)) {
		t.Errorf("Date = %v (%v), want %v", d, err, m.Date)
	}
	for _, h := range m.Headers {
		if got := msg.Header.Get(h.Key); got != strings.TrimSpace(h.Value) {
			t.Errorf("%s = %q, want %q", h.Key, got, h.Value)
		}
	}

	mediaType, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	if m.HTML == "" {
		if mediaType != "text/plain" || params["charset"] != "utf-8" {
			t.Errorf("Content-Type = %q", msg.Header.Get("Content-Type"))
		}
		checkBody(t, "text", msg.Header.Get("Content-Transfer-Encoding"), msg.Body, m.Text)
		return
	}
	if mediaType != "multipart/alternative" {
		t.Fatalf("Content-Type = %q", msg.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for i, want := range []struct{ typ, body string }{{"text/plain", m.Text}, {"text/html", m.HTML}} {
		p, err := mr.NextRawPart()
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		if ct := p.Header.Get("Content-Type"); ct != want.typ+"; charset=utf-8" {
			t.Errorf("part %d: Content-Type = %q", i, ct)
		}
		checkBody(t, want.typ, p.Header.Get("Content-Transfer-Encoding"), p, want.body)
	}
	if p, err := mr.NextRawPart(); err != io.EOF {
		t.Errorf("a third part: %v, %v", p, err)
	}
}

func checkBody(t testing.TB, name, cte string, r io.Reader, want string) {
	t.Helper()
	if cte != "quoted-printable" {
		t.Errorf("%s: Content-Transfer-Encoding = %q", name, cte)
	}
	raw, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(raw), "\r\n") {
		if len(line) > 76 {
			t.Errorf("%s: quoted-printable line of %d characters", name, len(line))
		}
	}
	got, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(raw)))
	if err != nil {
		t.Fatalf("%s: %v in %q", name, err, raw)
	}
	if w := crlfLines(want); string(got) != w {
		t.Errorf("%s decodes to\n%q\nwant\n%q", name, got, w)
	}
}

// crlfLines turns every LF not after a CR into CRLF, as AppendTo does.
func crlfLines(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' && (i == 0 || s[i-1] != '\r') {
			b.WriteByte('\r')
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func FuzzMessage(f *testing.F) {
	f.Add("Bob", "Hello", "body\n", "", "x-tag", "v")
	f.Add("Bob\r\nBcc: x@evil.example", "Hi\r\nBcc: y@evil.example", ".\n", "<p>x</p>", "List-Id", "<l.acme.example>")
	f.Add("Zoë \"Z\" Ørsted", "=?utf-8?q?x?=  ", "a \r\n", "é", "X-A", "  b  c ")
	f.Add(strings.Repeat("é", 50), strings.Repeat("日本", 80), strings.Repeat("x", 300), "", "K", strings.Repeat("v ", 300))
	f.Fuzz(func(t *testing.T, name, subject, text, html, hkey, hval string) {
		m := testMessage()
		m.To.Name, m.From.Name, m.Subject, m.Text, m.HTML = name, name, subject, text, html
		m.Headers = []Header{{hkey, hval}}
		raw, err := m.AppendTo(nil)
		if err != nil {
			if apperr.Code(err) != apperr.EINVALID {
				t.Fatalf("error %v is not EINVALID", err)
			}
			return
		}
		checkMessage(t, m, raw)
	})
}

func benchMessage() *Message {
	m := testMessage()
	var text, html strings.Builder
	for text.Len() < 2000 {
		text.WriteString("We are writing to tell you about a security incident that may affect your personal data. Prévenez-nous.\n")
	}
	html.WriteString("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Notice</title></head><body>\n")
	for html.Len() < 4000 {
		html.WriteString(`<p style="margin:0 0 16px 0;font-family:Arial,sans-serif">We are writing to tell you about a security incident that may affect <a href="https://acme.example/incident?id=42&amp;r=7f3a">your data</a>.</p>` + "\n")
	}
	html.WriteString("</body></html>\n")
	m.Text, m.HTML = text.String(), html.String()
	return m
}

func BenchmarkAppendTo(b *testing.B) {
	m := benchMessage()
	buf, err := m.AppendTo(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(m.Text) + len(m.HTML)))
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = m.AppendTo(buf[:0])
	}
}
