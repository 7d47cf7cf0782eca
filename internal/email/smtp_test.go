package email

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/textproto"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/candorhq/candor/internal/apperr"
)

func dial(t testing.TB, cfg Config) *Conn {
	t.Helper()
	c, err := Dial(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func mustAppend(t testing.TB, m *Message) []byte {
	t.Helper()
	raw, err := m.AppendTo(nil)
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestSendDelivers sends messages with BDAT (go-smtp offers CHUNKING) and
// with DATA: both arrive byte for byte, line ends mended.
func TestSendDelivers(t *testing.T) {
	for _, noChunking := range []bool{false, true} {
		t.Run(map[bool]string{false: "BDAT", true: "DATA"}[noChunking], func(t *testing.T) {
			testSendDelivers(t, noChunking)
		})
	}
}

func testSendDelivers(t *testing.T, noChunking bool) {
	be := &testBackend{}
	addr, _ := startServer(t, be, serverOptions{})
	c := dial(t, Config{Addr: addr, Security: SecurityNone, NoChunking: noChunking})
	if c.TLS() {
		t.Error("TLS with security none")
	}
	if c.chunking == noChunking {
		t.Errorf("chunking %v with NoChunking %v", c.chunking, noChunking)
	}

	dots := testMessage()
	dots.Text = ".\n..\n.hidden\nend without a newline"
	dots.HTML = ""
	messages := [][]byte{
		mustAppend(t, testMessage()),
		mustAppend(t, dots),
		[]byte("Subject: raw\r\n\r\n.\r\nlast line without CRLF"),
		[]byte("Subject: bare LF\n\n.line\nend\n"),
		[]byte("Subject: bare CR\r\rx\r"),
	}
	want := []string{
		string(messages[0]),
		string(messages[1]),
		"Subject: raw\r\n\r\n.\r\nlast line without CRLF\r\n",
		"Subject: bare LF\r\n\r\n.line\r\nend\r\n",
		"Subject: bare CR\r\n\r\nx\r\n",
	}
	for i, data := range messages {
		reply, err := c.Send("bounce+1@acme.example", []string{"zoe@customer.example"}, data)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if reply.Code != 250 || reply.Enhanced != "2.0.0" || reply.Text == "" {
			t.Errorf("message %d: reply %+v", i, reply)
		}
	}
	got := be.messages()
	if len(got) != len(want) {
		t.Fatalf("server received %d messages, want %d", len(got), len(want))
	}
	for i, m := range got {
		if m.From != "bounce+1@acme.example" || len(m.To) != 1 || m.To[0] != "zoe@customer.example" {
			t.Errorf("message %d: envelope %q -> %q", i, m.From, m.To)
		}
		if m.Data != want[i] {
			t.Errorf("message %d arrived as\n%q\nwant\n%q", i, m.Data, want[i])
		}
	}
	if sessions, _, _ := be.stats(); sessions != 1 {
		t.Errorf("%d sessions for one conn", sessions)
	}
}

// TestSendPipelines checks what goes out in one write: the whole
// transaction with BDAT, or the commands up to DATA without CHUNKING.
func TestSendPipelines(t *testing.T) {
	data := mustAppend(t, testMessage())
	envelope := "MAIL FROM:<a@acme.example>\r\nRCPT TO:<b@customer.example>\r\nRCPT TO:<c@customer.example>\r\n"
	for _, tc := range []struct {
		name       string
		noChunking bool
		want       string
	}{
		{"BDAT", false, envelope + "BDAT " + strconv.Itoa(len(data)) + " LAST\r\n" + string(data)},
		{"DATA", true, envelope + "DATA\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			be := &testBackend{}
			addr, reads := startServer(t, be, serverOptions{})
			c := dial(t, Config{Addr: addr, Security: SecurityNone, NoChunking: tc.noChunking})
			if _, err := c.Send("a@acme.example", []string{"b@customer.example", "c@customer.example"}, data); err != nil {
				t.Fatal(err)
			}
			if got := be.messages(); len(got) != 1 || got[0].Data != string(data) {
				t.Fatalf("the server received %+v", got)
			}
			for _, r := range reads.all() {
				if strings.HasPrefix(r, "MAIL FROM:") {
					if r != tc.want {
						t.Errorf("the server read %q in one read, want %q", r, tc.want)
					}
					return
				}
			}
			t.Errorf("the server never read MAIL FROM at the start of a read: %q", reads.all())
		})
	}
}

// TestSendLockstep talks to a server that does not offer PIPELINING and
// checks that the client waits for each reply.
func TestSendLockstep(t *testing.T) {
	var got []string
	addr := fakeServer(t, func(f *fakeConn) {
		f.send("220 fake ESMTP")
		f.expect("EHLO localhost", true)
		f.send("250-fake", "250-8BITMIME", "250 ENHANCEDSTATUSCODES")
		for range 2 {
			f.expect("MAIL FROM:<a@acme.example>", true)
			f.send("250 2.1.0 Ok")
			f.expect("RCPT TO:<b@customer.example>", true)
			f.send("250 2.1.5 Ok")
			f.expect("RCPT TO:<c@customer.example>", true)
			f.send("250 2.1.5 Ok")
			f.expect("DATA", true)
			f.send("354 End data with <CR><LF>.<CR><LF>")
			got = append(got, f.readData())
			f.send("250-2.0.0 Ok:", "250 2.0.0 queued as 1234")
		}
		f.expect("QUIT", true)
		f.send("221 2.0.0 Bye")
	})
	c, err := Dial(context.Background(), Config{Addr: addr, Security: SecurityNone})
	if err != nil {
		t.Fatal(err)
	}
	data := mustAppend(t, testMessage())
	for range 2 {
		reply, err := c.Send("a@acme.example", []string{"b@customer.example", "c@customer.example"}, data)
		if err != nil {
			t.Fatal(err)
		}
		if want := (Reply{250, "2.0.0", "Ok: queued as 1234"}); reply != want {
			t.Errorf("reply %+v, want %+v", reply, want)
		}
	}
	if err := c.Close(); err != nil {
		t.Error(err)
	}
	time.Sleep(50 * time.Millisecond) // let the script finish reading
	for _, m := range got {
		if m != string(data) {
			t.Errorf("the server got\n%q\nwant\n%q", m, data)
		}
	}
}

func TestSecurity(t *testing.T) {
	be := &testBackend{}
	plainAddr, _ := startServer(t, be, serverOptions{})
	startTLSAddr, startTLSReads := startServer(t, be, serverOptions{startTLS: true})
	implicitAddr, _ := startServer(t, be, serverOptions{implicitTLS: true})

	for _, tc := range []struct {
		name    string
		cfg     Config
		tls     bool
		errText string
	}{
		{"starttls", Config{Addr: startTLSAddr, TLSConfig: clientTLS(t)}, true, ""},
		{"starttls explicit", Config{Addr: startTLSAddr, Security: SecuritySTARTTLS, TLSConfig: clientTLS(t)}, true, ""},
		{"implicit tls", Config{Addr: implicitAddr, Security: SecurityTLS, TLSConfig: clientTLS(t)}, true, ""},
		{"none ignores the offer", Config{Addr: startTLSAddr, Security: SecurityNone}, false, ""},
		{"starttls not offered", Config{Addr: plainAddr}, false, "does not offer STARTTLS"},
		{"untrusted certificate", Config{Addr: startTLSAddr}, false, "certificate"},
		{"wrong name", Config{Addr: strings.Replace(startTLSAddr, "127.0.0.1", "localhost", 1), TLSConfig: clientTLS(t)}, true, ""},
		{"implicit tls to plain", Config{Addr: plainAddr, Security: SecurityTLS, TLSConfig: clientTLS(t), CommandTimeout: time.Second}, false, "tls"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Dial(context.Background(), tc.cfg)
			if tc.errText != "" {
				if err == nil {
					c.Close()
					t.Fatal("Dial succeeded")
				}
				if !strings.Contains(strings.ToLower(err.Error()), strings.ToLower(tc.errText)) {
					t.Errorf("error %q does not say %q", err, tc.errText)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if c.TLS() != tc.tls {
				t.Errorf("TLS() = %v, want %v", c.TLS(), tc.tls)
			}
			if _, err := c.Send("a@acme.example", []string{"b@customer.example"}, mustAppend(t, testMessage())); err != nil {
				t.Fatal(err)
			}
		})
	}
	for _, r := range startTLSReads.all() {
		if strings.Contains(r, "MAIL FROM") && !strings.Contains(r, "MAIL FROM:<a@acme.example>") {
			t.Errorf("odd read %q", r)
		}
	}
}

func TestSTARTTLSInjection(t *testing.T) {
	addr := fakeServer(t, func(f *fakeConn) {
		f.send("220 fake ESMTP")
		f.expect("EHLO", false)
		f.send("250-fake", "250 STARTTLS")
		f.expect("STARTTLS", false)
		// A man in the middle slips a reply in ahead of the handshake.
		f.send("220 2.0.0 Ready", "250 2.1.0 Ok")
	})
	_, err := Dial(context.Background(), Config{Addr: addr, TLSConfig: clientTLS(t)})
	var e *Error
	if !errors.As(err, &e) || e.Stage != StageSTARTTLS || Classify(err) != Connection {
		t.Fatalf("Dial: %v; want a connection error at starttls", err)
	}
}

func TestAuth(t *testing.T) {
	users := map[string]string{"candor": "s3cret pass"}
	for _, tc := range []struct {
		name     string
		be       *testBackend
		o        serverOptions
		cfg      Config
		mech     string
		errStage string
		outcome  Outcome
	}{
		{"plain preferred", &testBackend{users: users}, serverOptions{insecureAuth: true}, Config{Security: SecurityNone, Username: "candor", Password: "s3cret pass"}, sasl.Plain, "", 0},
		{"login only", &testBackend{users: users, mechs: []string{sasl.Login}}, serverOptions{insecureAuth: true}, Config{Security: SecurityNone, Username: "candor", Password: "s3cret pass"}, sasl.Login, "", 0},
		{"over starttls", &testBackend{users: users}, serverOptions{startTLS: true}, Config{TLSConfig: clientTLS(t), Username: "candor", Password: "s3cret pass"}, sasl.Plain, "", 0},
		{"wrong password", &testBackend{users: users}, serverOptions{insecureAuth: true}, Config{Security: SecurityNone, Username: "candor", Password: "guess"}, "", StageAuth, Permanent},
		{"login wrong password", &testBackend{users: users, mechs: []string{sasl.Login}}, serverOptions{insecureAuth: true}, Config{Security: SecurityNone, Username: "candor", Password: "guess"}, "", StageAuth, Permanent},
		{"no auth offered in clear", &testBackend{users: users}, serverOptions{startTLS: true}, Config{Security: SecurityNone, Username: "candor", Password: "s3cret pass"}, "", StageAuth, Connection},
		{"no usable mechanism", &testBackend{users: users, mechs: []string{"XOAUTH2"}}, serverOptions{insecureAuth: true}, Config{Security: SecurityNone, Username: "candor", Password: "x"}, "", StageAuth, Connection},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, _ := startServer(t, tc.be, tc.o)
			tc.cfg.Addr = addr
			c, err := Dial(context.Background(), tc.cfg)
			if tc.errStage != "" {
				var e *Error
				if !errors.As(err, &e) || e.Stage != tc.errStage || Classify(err) != tc.outcome {
					t.Fatalf("Dial: %v; want a %v error at %s", err, tc.outcome, tc.errStage)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if _, err := c.Send("a@acme.example", []string{"b@customer.example"}, mustAppend(t, testMessage())); err != nil {
				t.Fatal(err)
			}
			if tc.be.authMech != tc.mech {
				t.Errorf("authenticated with %q, want %q", tc.be.authMech, tc.mech)
			}
		})
	}
}

// TestLoginWithoutInitialResponse checks LOGIN against a server that
// prompts for the username, as LOGIN servers do.
func TestLoginWithoutInitialResponse(t *testing.T) {
	addr := fakeServer(t, func(f *fakeConn) {
		f.send("220 fake ESMTP")
		f.expect("EHLO", false)
		f.send("250-fake", "250 AUTH LOGIN")
		if line := f.expect("AUTH LOGIN", false); line != "AUTH LOGIN\r\n" {
			t.Errorf("AUTH LOGIN with an initial response: %q", line)
		}
		f.send("334 VXNlcm5hbWU6") // Username:
		f.expect("Y2FuZG9y", false)
		f.send("334 UGFzc3dvcmQ6") // Password:
		f.expect("cHc=", false)
		f.send("235 2.7.0 Authentication successful")
		f.expect("QUIT", false)
		f.send("221 Bye")
	})
	c, err := Dial(context.Background(), Config{Addr: addr, Security: SecurityNone, Username: "candor", Password: "pw"})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

func TestSendRefusals(t *testing.T) {
	be := &testBackend{
		rcptErr: func(to string) error {
			switch {
			case strings.HasPrefix(to, "busy@"):
				return &smtp.SMTPError{Code: 450, EnhancedCode: smtp.EnhancedCode{4, 2, 1}, Message: "Mailbox busy, try later"}
			case strings.HasPrefix(to, "nobody@"):
				return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}
			}
			return nil
		},
		dataErr: func(data string) error {
			if strings.Contains(data, "REJECT-ME") {
				return &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 7, 1}, Message: "Message rejected: spam score too high"}
			}
			if strings.Contains(data, "DEFER-ME") {
				return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "Queue full"}
			}
			return nil
		},
	}
	good := mustAppend(t, testMessage())
	reject := []byte("Subject: x\r\n\r\nREJECT-ME\r\n")
	deferred := []byte("Subject: x\r\n\r\nDEFER-ME\r\n")
	for _, mode := range []string{"BDAT", "DATA", "lockstep"} {
		addr, _ := startServer(t, be, serverOptions{})
		c := dial(t, Config{Addr: addr, Security: SecurityNone, NoChunking: mode != "BDAT"})
		c.pipelining = mode != "lockstep" // go-smtp always offers it; the lockstep path is tested for itself above
		for _, tc := range []struct {
			name     string
			to       []string
			data     []byte
			outcome  Outcome
			stage    string
			code     int
			enhanced string
			message  string
			rcpt     string
			reply    int
		}{
			{"temporary rcpt", []string{"busy@customer.example"}, good, Temporary, StageRcpt, 450, "4.2.1", "Mailbox busy, try later", "busy@customer.example", 0},
			{"still usable", []string{"zoe@customer.example"}, good, Sent, "", 0, "", "", "", 250},
			{"permanent rcpt", []string{"nobody@customer.example"}, good, Permanent, StageRcpt, 550, "5.1.1", "No such user", "nobody@customer.example", 0},
			{"one of two refused", []string{"nobody@customer.example", "zoe@customer.example"}, good, Permanent, StageRcpt, 550, "5.1.1", "No such user", "nobody@customer.example", 250},
			{"permanent end", []string{"zoe@customer.example"}, reject, Permanent, StageEnd, 554, "5.7.1", "Message rejected: spam score too high", "", 0},
			{"temporary end", []string{"zoe@customer.example"}, deferred, Temporary, StageEnd, 451, "4.3.0", "Queue full", "", 0},
			{"usable after all that", []string{"zoe@customer.example"}, good, Sent, "", 0, "", "", "", 250},
		} {
			t.Run(mode+"/"+tc.name, func(t *testing.T) {
				reply, err := c.Send("a@acme.example", tc.to, tc.data)
				if got := Classify(err); got != tc.outcome {
					t.Fatalf("Classify(%v) = %v, want %v", err, got, tc.outcome)
				}
				if reply.Code != tc.reply {
					t.Errorf("reply %+v, want code %d", reply, tc.reply)
				}
				if c.Broken() {
					t.Fatal("the conn is broken")
				}
				if err == nil {
					return
				}
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("%T %v is not an *Error", err, err)
				}
				if e.Stage != tc.stage || e.Code != tc.code || e.Enhanced != tc.enhanced || e.Message != tc.message || e.Rcpt != tc.rcpt {
					t.Errorf("error %+v, want stage %s code %d %s %q rcpt %q", e, tc.stage, tc.code, tc.enhanced, tc.message, tc.rcpt)
				}
			})
		}
	}
	delivered := 0
	for _, m := range be.messages() {
		if len(m.To) != 1 || m.To[0] != "zoe@customer.example" {
			t.Errorf("delivered to %q", m.To)
		}
		delivered++
	}
	if delivered != 9 {
		t.Errorf("%d messages delivered, want 9 (3 in each mode)", delivered)
	}
}

func TestSendRefusesBadAddresses(t *testing.T) {
	be := &testBackend{}
	addr, reads := startServer(t, be, serverOptions{})
	c := dial(t, Config{Addr: addr, Security: SecurityNone})
	for _, tc := range []struct {
		from  string
		to    []string
		field string
	}{
		{"a@acme.example\r\nRCPT TO:<x@evil.example>", []string{"b@customer.example"}, "from"},
		{"a@acme.example", []string{"b@customer.example>\r\nRCPT TO:<x@evil.example"}, "to"},
		{"a@acme.example", []string{"b@customer.example> NOTIFY=NEVER"}, "to"},
		{"a@acme.example", nil, "to"},
	} {
		_, err := c.Send(tc.from, tc.to, []byte("Subject: x\r\n\r\nx\r\n"))
		if e := apperr.As(err); e == nil || e.Field != tc.field || Classify(err) != Permanent {
			t.Errorf("Send(%q, %q) = %v; want EINVALID on %s", tc.from, tc.to, err, tc.field)
		}
	}
	for _, r := range reads.all() {
		if strings.Contains(r, "evil") || strings.Contains(r, "MAIL") {
			t.Errorf("the server read %q", r)
		}
	}
	if _, err := c.Send("", []string{"b@customer.example"}, []byte("Subject: bounce\r\n\r\nx\r\n")); err != nil {
		t.Errorf("null reverse-path: %v", err)
	}
}

func TestSendSizeLimit(t *testing.T) {
	be := &testBackend{}
	addr, _ := startServer(t, be, serverOptions{})
	c := dial(t, Config{Addr: addr, Security: SecurityNone})
	c.size = 100
	_, err := c.Send("a@acme.example", []string{"b@customer.example"}, mustAppend(t, testMessage()))
	var e *Error
	if !errors.As(err, &e) || e.Code != 552 || Classify(err) != Permanent || c.Broken() {
		t.Fatalf("Send: %v; want a permanent 552 and a usable conn", err)
	}
}

func TestConnectionErrors(t *testing.T) {
	data := mustAppend(t, testMessage())
	for _, tc := range []struct {
		name   string
		script func(f *fakeConn)
		cfg    Config
		stage  string // where Send fails, or stages separated by "|"; "dial" when Dial does
		code   int
		want   Outcome
	}{
		{"closed mid-message", func(f *fakeConn) {
			ehlo(f)
			f.expect("MAIL", false)
			f.send("250 Ok", "250 Ok", "354 Go ahead")
			f.r.ReadString('\n')
		}, Config{}, StageData + "|" + StageEnd, 0, Connection},
		{"closed before replies", func(f *fakeConn) {
			ehlo(f)
			f.expect("MAIL", false)
		}, Config{}, StageMail, 0, Connection},
		{"no reply to the data", func(f *fakeConn) {
			ehlo(f)
			f.expect("MAIL", false)
			f.send("250 Ok", "250 Ok", "354 Go ahead")
			f.readData()
			f.waitClose()
		}, Config{DataTimeout: 200 * time.Millisecond}, StageEnd, 0, Connection},
		{"no reply to MAIL", func(f *fakeConn) {
			ehlo(f)
			f.expect("MAIL", false)
			f.waitClose()
		}, Config{CommandTimeout: 200 * time.Millisecond}, StageMail, 0, Connection},
		{"no greeting", func(f *fakeConn) {
			f.waitClose()
		}, Config{CommandTimeout: 200 * time.Millisecond}, "dial", 0, Connection},
		{"greeting refused", func(f *fakeConn) {
			f.send("554 5.7.1 No service for you")
		}, Config{}, "dial", 554, Permanent},
		{"421 to MAIL", func(f *fakeConn) {
			ehlo(f)
			f.expect("MAIL", false)
			f.send("421 4.7.0 Too many messages, closing")
		}, Config{}, StageMail, 421, Temporary},
		{"421 to the data", func(f *fakeConn) {
			ehlo(f)
			f.expect("MAIL", false)
			f.send("250 Ok", "250 Ok", "354 Go ahead")
			f.readData()
			f.send("421 4.3.2 Shutting down")
		}, Config{}, StageEnd, 421, Temporary},
		{"garbage reply", func(f *fakeConn) {
			ehlo(f)
			f.expect("MAIL", false)
			f.send("hello there")
		}, Config{}, StageMail, 0, Connection},
		{"mismatched multiline", func(f *fakeConn) {
			ehlo(f)
			f.expect("MAIL", false)
			f.send("250-Ok", "251 Ok")
		}, Config{}, StageMail, 0, Connection},
		// With BDAT the message goes out with the commands: once written,
		// a broken connection may have delivered it.
		{"BDAT: closed before replies", func(f *fakeConn) {
			ehloChunking(f)
			f.readChunked()
		}, Config{}, StageEnd, 0, Connection},
		{"BDAT: no reply to the chunk", func(f *fakeConn) {
			ehloChunking(f)
			f.readChunked()
			f.send("250 Ok", "250 Ok")
			f.waitClose()
		}, Config{DataTimeout: 200 * time.Millisecond}, StageEnd, 0, Connection},
		{"BDAT: 421 to MAIL", func(f *fakeConn) {
			ehloChunking(f)
			f.readChunked()
			f.send("421 4.7.0 Too many messages, closing")
		}, Config{}, StageMail, 421, Temporary},
		{"BDAT: 421 to the chunk", func(f *fakeConn) {
			ehloChunking(f)
			f.readChunked()
			f.send("250 Ok", "250 Ok", "421 4.3.2 Shutting down")
		}, Config{}, StageEnd, 421, Temporary},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := fakeServer(t, tc.script)
			cfg := tc.cfg
			cfg.Addr, cfg.Security = addr, SecurityNone
			start := time.Now()
			c, err := Dial(context.Background(), cfg)
			if tc.stage == "dial" {
				if got := Classify(err); got != tc.want {
					t.Fatalf("Dial: %v (%v), want %v", err, got, tc.want)
				}
				var e *Error
				if errors.As(err, &e); e.Code != tc.code {
					t.Errorf("code %d, want %d", e.Code, tc.code)
				}
				if time.Since(start) > 800*time.Millisecond {
					t.Errorf("Dial took %v", time.Since(start))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_, err = c.Send("a@acme.example", []string{"b@customer.example"}, data)
			var e *Error
			if !errors.As(err, &e) || !slices.Contains(strings.Split(tc.stage, "|"), e.Stage) || e.Code != tc.code || Classify(err) != tc.want {
				t.Fatalf("Send: %#v; want a %v error at %s with code %d", err, tc.want, tc.stage, tc.code)
			}
			if time.Since(start) > 800*time.Millisecond {
				t.Errorf("Send took %v", time.Since(start))
			}
			if !c.Broken() {
				t.Error("the conn does not report itself broken")
			}
			if _, err := c.Send("a@acme.example", []string{"b@customer.example"}, data); Classify(err) != Connection {
				t.Errorf("Send on a broken conn: %v", err)
			}
		})
	}
}

func ehlo(f *fakeConn) {
	f.send("220 fake ESMTP")
	f.expect("EHLO", false)
	f.send("250-fake", "250-PIPELINING", "250 ENHANCEDSTATUSCODES")
}

func ehloChunking(f *fakeConn) {
	f.send("220 fake ESMTP")
	f.expect("EHLO", false)
	f.send("250-fake", "250-PIPELINING", "250-CHUNKING", "250 ENHANCEDSTATUSCODES")
}

// readChunked reads a pipelined MAIL, one RCPT and "BDAT n LAST" with its
// chunk, and returns the chunk.
func (f *fakeConn) readChunked() string {
	f.t.Helper()
	f.expect("MAIL", false)
	f.expect("RCPT", false)
	line := f.expect("BDAT ", false)
	n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(line, "BDAT "), " LAST\r\n"))
	if err != nil {
		f.t.Errorf("fake server: %q is not BDAT n LAST", line)
		return ""
	}
	chunk := make([]byte, n)
	if _, err := io.ReadFull(f.r, chunk); err != nil {
		f.t.Errorf("fake server: reading a chunk of %d: %v", n, err)
	}
	return string(chunk)
}

// TestSendChunkedByteCount checks BDAT's count against the bytes sent, for
// data that goes as it is and data whose line ends are mended, and that
// each message is one round trip even when SendNext is asked to open the
// next one.
func TestSendChunkedByteCount(t *testing.T) {
	messages := []string{"Subject: a\r\n\r\n.\r\nbody\r\n", "Subject: b\n\n.x\rend", ""}
	want := []string{messages[0], "Subject: b\r\n\r\n.x\r\nend\r\n", ""}
	got := make(chan string, len(messages))
	addr := fakeServer(t, func(f *fakeConn) {
		ehloChunking(f)
		for range messages {
			got <- f.readChunked()
			if f.r.Buffered() > 0 {
				f.t.Error("the client sent the next message before the replies to this one")
			}
			f.send("250 2.1.0 Ok", "250 2.1.5 Ok", "250 2.0.0 Ok: queued as X")
		}
		f.expect("QUIT", false)
		f.send("221 Bye")
	})
	c := dial(t, Config{Addr: addr, Security: SecurityNone})
	for i, m := range messages {
		next := Next{From: "a@acme.example", To: []string{"b@customer.example"}, Size: 10}
		reply, err := c.SendNext("a@acme.example", []string{"b@customer.example"}, []byte(m), next)
		if err != nil || reply.Text != "Ok: queued as X" {
			t.Fatalf("message %d: %+v, %v", i, reply, err)
		}
		if g := <-got; g != want[i] {
			t.Errorf("message %d: chunk %q, want %q", i, g, want[i])
		}
	}
	if c.opened != nil {
		t.Error("a transaction was opened with BDAT")
	}
	if err := c.Close(); err != nil {
		t.Error(err)
	}
}

func TestDialContext(t *testing.T) {
	addr := fakeServer(t, func(f *fakeConn) { f.waitClose() })
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Dial(ctx, Config{Addr: addr, Security: SecurityNone})
	if !errors.Is(err, context.DeadlineExceeded) || Classify(err) != Connection {
		t.Fatalf("Dial: %v; want the context's error", err)
	}
	if d := time.Since(start); d > 800*time.Millisecond {
		t.Errorf("Dial took %v after its context ended", d)
	}
}

func TestConfigRefuses(t *testing.T) {
	for _, tc := range []struct {
		cfg   Config
		field string
	}{
		{Config{Addr: "relay.example"}, "addr"},
		{Config{}, "addr"},
		{Config{Addr: "relay.example:25", Security: "ssl"}, "security"},
		{Config{Addr: "relay.example:25", HeloName: "bad name\r\n"}, "helo_name"},
	} {
		_, err := Dial(context.Background(), tc.cfg)
		if e := apperr.As(err); e == nil || e.Field != tc.field {
			t.Errorf("Dial(%+v) = %v; want EINVALID on %s", tc.cfg, err, tc.field)
		}
	}
	if _, err := (Config{Addr: "relay.example:25", HeloName: "[192.0.2.1]"}).withDefaults(); err != nil {
		t.Errorf("address literal: %v", err)
	}
}

func TestWriteDotStuffed(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ".\r\n"},
		{"a", "a\r\n.\r\n"},
		{"a\r\n", "a\r\n.\r\n"},
		{".", "..\r\n.\r\n"},
		{".\r\n", "..\r\n.\r\n"},
		{"a\r\n.\r\nb", "a\r\n..\r\nb\r\n.\r\n"},
		{"a\n.b\n..c\n", "a\r\n..b\r\n...c\r\n.\r\n"},
		{"a\rb\r", "a\r\nb\r\n.\r\n"},
		{"a\r\r\nb", "a\r\n\r\nb\r\n.\r\n"},
		{"\r\n\r\n", "\r\n\r\n.\r\n"},
		{"\n.\r.", "\r\n..\r\n..\r\n.\r\n"},
		{"x.\r\n y", "x.\r\n y\r\n.\r\n"},
	} {
		var buf bytes.Buffer
		w := bufio.NewWriter(&buf)
		writeDotStuffed(w, []byte(tc.in))
		w.Flush()
		if buf.String() != tc.want {
			t.Errorf("writeDotStuffed(%q) = %q, want %q", tc.in, buf.String(), tc.want)
		}
	}
}

func TestCRLFClean(t *testing.T) {
	for in, want := range map[string]bool{
		"": true, "a\r\n": true, "a\r\n\r\nb\r\n": true,
		"a": false, "a\n": false, "a\r": false, "a\r\r\n": false, "a\n\r\n": false, "\r\na": false, "a\rb\r\n": false,
	} {
		if got := crlfClean([]byte(in)); got != want {
			t.Errorf("crlfClean(%q) = %v, want %v", in, got, want)
		}
	}
}

func FuzzDotStuff(f *testing.F) {
	for _, s := range []string{"", ".", "a\r\n.\r\n", "\r\r\n\n.", "..\n\r."} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var buf bytes.Buffer
		w := bufio.NewWriter(&buf)
		writeDotStuffed(w, data)
		w.Flush()
		out := buf.Bytes()
		if !bytes.HasSuffix(out, []byte("\r\n.\r\n")) && !bytes.Equal(out, []byte(".\r\n")) {
			t.Fatalf("output %q does not end the data", out)
		}
		body := out[:len(out)-3]
		for i, line := range bytes.Split(body, []byte("\r\n")) {
			if bytes.ContainsAny(line, "\r\n") {
				t.Fatalf("line %d has a bare CR or LF: %q", i, line)
			}
			if bytes.Equal(line, []byte(".")) {
				t.Fatalf("line %d ends the data early in %q", i, out)
			}
		}
		// textproto's DotReader undoes the stuffing and turns CRLF into LF.
		got, err := io.ReadAll(textproto.NewReader(bufio.NewReader(bytes.NewReader(out))).DotReader())
		if err != nil {
			t.Fatal(err)
		}
		want := strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(string(data))
		if want != "" && !strings.HasSuffix(want, "\n") {
			want += "\n"
		}
		if string(got) != want {
			t.Fatalf("round trip of %q gave %q, want %q", data, got, want)
		}
		// What BDAT sends: the same lines, CRLF-clean, without stuffing.
		var chunk bytes.Buffer
		writeLines(&chunk, data, false)
		if !crlfClean(chunk.Bytes()) {
			t.Fatalf("writeLines(%q) = %q, not CRLF-clean", data, chunk.Bytes())
		}
		if crlfClean(data) && !bytes.Equal(chunk.Bytes(), data) {
			t.Fatalf("writeLines changed the clean %q into %q", data, chunk.Bytes())
		}
		if s := strings.ReplaceAll(chunk.String(), "\r\n", "\n"); s != want {
			t.Fatalf("writeLines(%q) = %q, want the lines %q", data, chunk.Bytes(), want)
		}
	})
}

func TestPool(t *testing.T) {
	be := &testBackend{}
	addr, _ := startServer(t, be, serverOptions{})
	p := NewPool(Config{Addr: addr, Security: SecurityNone, MaxMessagesPerConn: 5}, 2)
	data := mustAppend(t, testMessage())

	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			for range 10 {
				c, err := p.Get(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := c.Send("a@acme.example", []string{"b@customer.example"}, data); err != nil {
					t.Error(err)
				}
				p.Put(c)
			}
		})
	}
	wg.Wait()
	if n := len(be.messages()); n != 60 {
		t.Errorf("%d messages delivered, want 60", n)
	}
	sessions, maxActive, _ := be.stats()
	if maxActive > 2 {
		t.Errorf("%d sessions at once, want at most 2", maxActive)
	}
	if sessions < 12 {
		t.Errorf("%d sessions for 60 messages at 5 per conn, want at least 12", sessions)
	}

	// Get blocks while both conns are in use.
	c1, err := p.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c2, err := p.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := p.Get(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("third Get: %v; want it to wait and give up", err)
	}

	// A broken conn is dropped, not reused.
	c1.close(errors.New("test"))
	p.Put(c1)
	c3, err := p.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c3 == c1 || c3.Broken() {
		t.Error("Get returned the broken conn")
	}
	p.Put(c3)
	p.Put(c2)

	if err := p.Close(); err != nil {
		t.Error(err)
	}
	if _, err := p.Get(context.Background()); !errors.Is(err, ErrPoolClosed) {
		t.Errorf("Get after Close: %v", err)
	}
	time.Sleep(50 * time.Millisecond)
	if sessions, _, logouts := be.stats(); logouts != sessions {
		t.Errorf("%d of %d sessions ended after Close", logouts, sessions)
	}
}

func TestPoolDropsStale(t *testing.T) {
	be := &testBackend{}
	addr, _ := startServer(t, be, serverOptions{})
	p := NewPool(Config{Addr: addr, Security: SecurityNone}, 1)
	defer p.Close()
	c, err := p.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	p.Put(c)
	c.idleSince = time.Now().Add(-maxIdle)
	c2, err := p.Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if c2 == c {
		t.Error("Get reused a conn idle for too long")
	}
	p.Put(c2)
}

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want Outcome
	}{
		{nil, Sent},
		{&Error{Code: 450}, Temporary},
		{&Error{Code: 421}, Temporary},
		{&Error{Code: 550}, Permanent},
		{&Error{Stage: StageMail, Err: io.ErrUnexpectedEOF}, Connection},
		{os.ErrDeadlineExceeded, Connection},
		{apperr.Invalid("to", "bad"), Permanent},
		{context.Canceled, Connection},
	} {
		if got := Classify(tc.err); got != tc.want {
			t.Errorf("Classify(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func BenchmarkSend(b *testing.B) {
	be := &testBackend{discard: true}
	addr, _ := startServer(b, be, serverOptions{})
	c := dial(b, Config{Addr: addr, Security: SecurityNone})
	data := mustAppend(b, benchMessage())
	to := []string{"zoe@customer.example"}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Send("bounce@acme.example", to, data); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSendNextChains sends messages each of which opens the next one's
// transaction: all arrive intact and in order, one round trip each; a
// refusal in an opened transaction leaves the session usable; abandoning an
// opened transaction delivers nothing.
func TestSendNextChains(t *testing.T) {
	be := &testBackend{rcptErr: func(to string) error {
		if to == "r2@customer.example" {
			return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "No such user"}
		}
		return nil
	}}
	addr, reads := startServer(t, be, serverOptions{})
	c := dial(t, Config{Addr: addr, Security: SecurityNone, NoChunking: true})
	msg := func(i int) []byte {
		m := testMessage()
		m.Subject = fmt.Sprintf("message %d", i)
		m.MessageID = fmt.Sprintf("<m%d@acme.example>", i)
		return mustAppend(t, m)
	}
	rcpt := func(i int) []string { return []string{fmt.Sprintf("r%d@customer.example", i)} }
	const n = 5
	for i := range n {
		next := Next{}
		if i+1 < n {
			next = Next{From: "a@acme.example", To: rcpt(i + 1), Size: len(msg(i + 1))}
		}
		_, err := c.SendNext("a@acme.example", rcpt(i), msg(i), next)
		switch {
		case i == 2:
			if Classify(err) != Permanent || !strings.Contains(err.Error(), "No such user") {
				t.Fatalf("message 2: %v, want the 550", err)
			}
		case err != nil:
			t.Fatalf("message %d: %v", i, err)
		}
	}
	got := be.messages()
	if len(got) != n-1 {
		t.Fatalf("%d messages arrived, want %d", len(got), n-1)
	}
	for k, i := range []int{0, 1, 3, 4} {
		if got[k].To[0] != rcpt(i)[0] || !strings.Contains(got[k].Data, fmt.Sprintf("message %d", i)) {
			t.Fatalf("message %d arrived as %+v", i, got[k])
		}
	}
	chained := false
	for _, r := range reads.all() {
		if strings.Contains(r, "\r\n.\r\nMAIL FROM:<a@acme.example>\r\nRCPT TO:<r1@customer.example>\r\nDATA\r\n") {
			chained = true
		}
	}
	if !chained {
		t.Error("the next transaction did not go out with the previous message's end")
	}

	// Open one more, then close instead of sending it: nothing arrives.
	if _, err := c.SendNext("a@acme.example", rcpt(5), msg(5), Next{From: "a@acme.example", To: rcpt(6), Size: len(msg(6))}); err != nil {
		t.Fatal(err)
	}
	c.Close()
	time.Sleep(100 * time.Millisecond)
	if got := be.messages(); len(got) != n {
		t.Fatalf("%d messages after abandoning an opened one, want %d (the abandoned one must not arrive)", len(got), n)
	}

	// A conn refuses to send another message than the one it opened.
	c2 := dial(t, Config{Addr: addr, Security: SecurityNone, NoChunking: true})
	if _, err := c2.SendNext("a@acme.example", rcpt(7), msg(7), Next{From: "a@acme.example", To: rcpt(8), Size: len(msg(8))}); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Send("a@acme.example", rcpt(9), msg(9)); Classify(err) != Connection || !c2.Broken() {
		t.Fatalf("sending another message than the opened one: %v", err)
	}
}
