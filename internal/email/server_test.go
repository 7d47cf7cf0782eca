package email

// Test servers: a go-smtp server with a recording backend, and a scripted
// fake for what go-smtp will not do (no PIPELINING, dropping a session,
// stalling, 421).

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

type received struct {
	From string
	To   []string
	Data string
}

// testBackend records what its sessions receive. The hooks, when set,
// refuse recipients or messages.
type testBackend struct {
	rcptErr func(to string) error
	dataErr func(data string) error
	users   map[string]string // when set, MAIL needs AUTH
	mechs   []string          // AUTH mechanisms; default PLAIN and LOGIN
	discard bool              // count messages but do not keep them

	mu        sync.Mutex
	msgs      []received
	sessions  int
	active    int
	maxActive int
	logouts   int
	authMech  string
}

func (b *testBackend) NewSession(*smtp.Conn) (smtp.Session, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sessions++
	b.active++
	b.maxActive = max(b.maxActive, b.active)
	return &testSession{b: b}, nil
}

func (b *testBackend) messages() []received {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]received(nil), b.msgs...)
}

func (b *testBackend) stats() (sessions, maxActive, logouts int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.sessions, b.maxActive, b.logouts
}

type testSession struct {
	b      *testBackend
	from   string
	to     []string
	authed bool
}

func (s *testSession) Reset() { s.from, s.to = "", nil }

func (s *testSession) Logout() error {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	s.b.active--
	s.b.logouts++
	return nil
}

func (s *testSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.b.users != nil && !s.authed {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}

func (s *testSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.b.rcptErr != nil {
		if err := s.b.rcptErr(to); err != nil {
			return err
		}
	}
	s.to = append(s.to, to)
	return nil
}

func (s *testSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if s.b.dataErr != nil {
		if err := s.b.dataErr(string(data)); err != nil {
			return err
		}
	}
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if s.b.discard {
		return nil
	}
	s.b.msgs = append(s.b.msgs, received{s.from, s.to, string(data)})
	return nil
}

func (s *testSession) AuthMechanisms() []string {
	if s.b.users == nil {
		return nil
	}
	if s.b.mechs != nil {
		return s.b.mechs
	}
	return []string{sasl.Plain, sasl.Login}
}

func (s *testSession) Auth(mech string) (sasl.Server, error) {
	check := func(user, pass string) error {
		if want, ok := s.b.users[user]; !ok || want != pass {
			return smtp.ErrAuthFailed
		}
		s.authed = true
		s.b.mu.Lock()
		s.b.authMech = mech
		s.b.mu.Unlock()
		return nil
	}
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, user, pass string) error { return check(user, pass) }), nil
	case sasl.Login:
		return &loginServer{check: check}, nil
	}
	return nil, smtp.ErrAuthUnknownMechanism
}

// loginServer is the server side of LOGIN, which go-sasl lacks.
type loginServer struct {
	check func(user, pass string) error
	user  string
	step  int
}

func (l *loginServer) Next(resp []byte) ([]byte, bool, error) {
	switch l.step {
	case 0:
		l.step = 1
		if resp == nil {
			return []byte("Username:"), false, nil
		}
		fallthrough
	case 1:
		l.user, l.step = string(resp), 2
		return []byte("Password:"), false, nil
	default:
		return nil, true, l.check(l.user, string(resp))
	}
}

type serverOptions struct {
	startTLS     bool // offer STARTTLS
	implicitTLS  bool // TLS from the first byte
	insecureAuth bool // offer AUTH without TLS
}

// startServer runs a go-smtp server for be on 127.0.0.1:0 and returns its
// address and a log of what each Read on its connections returned.
func startServer(t testing.TB, be *testBackend, o serverOptions) (string, *readLog) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	reads := &readLog{}
	var ln net.Listener = &recListener{Listener: l, log: reads}
	s := smtp.NewServer(be)
	s.Domain = "mx.test"
	s.ErrorLog = log.New(io.Discard, "", 0)
	s.AllowInsecureAuth = o.insecureAuth
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	if o.startTLS || o.implicitTLS {
		s.TLSConfig = serverTLS(t)
	}
	if o.implicitTLS {
		ln = tls.NewListener(ln, s.TLSConfig)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Serve(ln)
	}()
	t.Cleanup(func() {
		s.Close()
		<-done
	})
	return l.Addr().String(), reads
}

// readLog keeps what each Read of the server's connections returned.
type readLog struct {
	mu    sync.Mutex
	reads []string
}

func (r *readLog) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.reads...)
}

type recListener struct {
	net.Listener
	log *readLog
}

func (l *recListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &recConn{Conn: c, log: l.log}, nil
}

type recConn struct {
	net.Conn
	log *readLog
}

func (c *recConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.log.mu.Lock()
		c.log.reads = append(c.log.reads, string(b[:n]))
		c.log.mu.Unlock()
	}
	return n, err
}

var testCA = sync.OnceValues(func() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "candor test relay"},
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, err
})

func serverTLS(t testing.TB) *tls.Config {
	cert, err := testCA()
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}}
}

// clientTLS trusts the self-signed test certificate, and nothing else.
func clientTLS(t testing.TB) *tls.Config {
	cert, err := testCA()
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert.Leaf)
	return &tls.Config{RootCAs: pool}
}

// fakeServer serves each connection to 127.0.0.1:0 with script, one at a
// time, until the test ends.
func fakeServer(t *testing.T, script func(f *fakeConn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			f := &fakeConn{t: t, c: c, r: bufio.NewReader(c)}
			c.SetDeadline(time.Now().Add(10 * time.Second))
			script(f)
			c.Close()
		}
	})
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
	})
	return l.Addr().String()
}

type fakeConn struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func (f *fakeConn) send(lines ...string) {
	for _, l := range lines {
		io.WriteString(f.c, l+"\r\n")
	}
}

// expect reads a command line and reports an error unless it starts with
// prefix. A client that does not pipeline never has sent more by then.
func (f *fakeConn) expect(prefix string, lockstep bool) string {
	f.t.Helper()
	line, err := f.r.ReadString('\n')
	if err != nil {
		f.t.Errorf("fake server: reading %q: %v", prefix, err)
		return ""
	}
	if !strings.HasPrefix(line, prefix) || !strings.HasSuffix(line, "\r\n") {
		f.t.Errorf("fake server: got %q, want %q", line, prefix)
	}
	if lockstep && f.r.Buffered() > 0 {
		f.t.Errorf("fake server: the client sent more after %q without waiting for the reply", line)
	}
	return line
}

// readData reads a message up to the "." line and returns it, dot-unstuffed.
func (f *fakeConn) readData() string {
	f.t.Helper()
	var b strings.Builder
	for {
		line, err := f.r.ReadString('\n')
		if err != nil {
			f.t.Errorf("fake server: reading data: %v", err)
			return b.String()
		}
		if line == ".\r\n" {
			return b.String()
		}
		b.WriteString(strings.TrimPrefix(line, "."))
	}
}

// waitClose reads until the client closes the connection (or the fake's
// own 10s deadline passes), for scripts that stall.
func (f *fakeConn) waitClose() { io.Copy(io.Discard, f.r) }
