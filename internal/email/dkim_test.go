package email

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"math/big"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/candorhq/candor/internal/apperr"
)

var (
	rsaKeyOnce sync.Once
	rsaKey     *rsa.PrivateKey
)

// testRSAKey is generated once: a 2048-bit key takes a while under -race.
func testRSAKey(t testing.TB) *rsa.PrivateKey {
	rsaKeyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		rsaKey = k
	})
	return rsaKey
}

func testKeys(t *testing.T) map[string]crypto.Signer {
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]crypto.Signer{"rsa-2048": testRSAKey(t), "ed25519": edKey}
}

func TestDKIMSign(t *testing.T) {
	for name, key := range testKeys(t) {
		t.Run(name, func(t *testing.T) {
			d, err := NewDKIM("acme.example", "candor1", key)
			if err != nil {
				t.Fatal(err)
			}
			m := testMessage()
			raw, err := m.AppendTo(nil)
			if err != nil {
				t.Fatal(err)
			}
			signed, err := d.Sign([]byte("keep"), raw)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(signed, []byte("keepDKIM-Signature: ")) || !bytes.HasSuffix(signed, raw) {
				t.Fatalf("Sign did not prepend a DKIM-Signature to dst:\n%s", signed)
			}
			signed = signed[4:]

			v := verifyGo(t, d, signed)
			if v.Err != nil {
				t.Fatalf("go-msgauth: %v\n%s", v.Err, signed)
			}
			if v.Domain != "acme.example" {
				t.Errorf("d= %q", v.Domain)
			}
			want := []string{"Date", "From", "To", "Reply-To", "Subject", "Message-ID", "List-Unsubscribe", "List-Unsubscribe-Post", "MIME-Version", "Content-Type", "From"}
			if !slices.Equal(v.HeaderKeys, want) {
				t.Errorf("h= %q, want %q", v.HeaderKeys, want)
			}
			if sig := string(signed[:bytes.Index(signed, []byte("Date:"))]); !strings.Contains(sig, "c=relaxed/relaxed") {
				t.Errorf("signature is not relaxed/relaxed: %s", sig)
			}

			// Relaxed canonicalisation forgives refolding and trailing
			// whitespace, as relays do; it does not forgive a changed
			// subject or body, nor an added From.
			variants := []struct {
				name  string
				msg   []byte
				valid bool
			}{
				{"as signed", signed, true},
				{"refolded", bytes.Replace(signed, []byte("Subject: Important: your"), []byte("Subject:   Important:\r\n\tyour"), 1), true},
				{"subject", bytes.Replace(signed, []byte("Important"), []byte("Urgent"), 1), false},
				{"body", bytes.Replace(signed, []byte("12 March"), []byte("13 March"), 1), false},
				{"from added", bytes.Replace(signed, []byte("\r\n\r\n"), []byte("\r\nFrom: ceo@evil.example\r\n\r\n"), 1), false},
			}
			var msgs [][]byte
			for _, v := range variants {
				if got := verifyGo(t, d, v.msg).Err == nil; got != v.valid {
					t.Errorf("%s: go-msgauth says valid %v, want %v", v.name, got, v.valid)
				}
				msgs = append(msgs, v.msg)
			}
			for i, valid := range verifyPython(t, d, msgs) {
				if valid != variants[i].valid {
					t.Errorf("%s: dkimpy says valid %v, want %v", variants[i].name, valid, variants[i].valid)
				}
			}
		})
	}
}

func verifyGo(t *testing.T, d *DKIM, msg []byte) *dkim.Verification {
	t.Helper()
	vs, err := dkim.VerifyWithOptions(bytes.NewReader(msg), &dkim.VerifyOptions{
		LookupTXT: func(domain string) ([]string, error) {
			if domain != d.RecordName() {
				t.Errorf("looked up %q, want %q", domain, d.RecordName())
			}
			return []string{d.Record()}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 1 {
		t.Fatalf("%d signatures", len(vs))
	}
	return vs[0]
}

// dkimpyVerify runs dkimpy, an implementation independent of go-msgauth,
// on the messages on stdin, one a line in base64, and prints 1 or 0 for
// each; the key record comes from argv, not DNS.
const dkimpyVerify = `
import base64, sys, dkim
name, record = sys.argv[1], sys.argv[2].encode()
def dnsfunc(qname, timeout=5):
    if isinstance(qname, bytes):
        qname = qname.decode()
    return record if qname.rstrip('.') == name else None
for line in sys.stdin:
    msg = base64.b64decode(line)
    print(1 if dkim.verify(msg, dnsfunc=dnsfunc) else 0)
`

var pythonDKIM = sync.OnceValue(func() string {
	// Debian's python3-dkim installs for the system interpreter, which may
	// not be the first python3 on PATH (pyenv, venvs).
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		if exec.Command(py, "-c", "import dkim").Run() == nil {
			return py
		}
	}
	return ""
})

// verifyPython reports whether dkimpy finds each message's signature
// valid, or skips the test when dkimpy is not installed.
func verifyPython(t *testing.T, d *DKIM, msgs [][]byte) []bool {
	t.Helper()
	py := pythonDKIM()
	if py == "" {
		t.Skip("install python3-dkim (dkimpy) to verify DKIM independently")
	}
	var in bytes.Buffer
	for _, m := range msgs {
		in.WriteString(base64.StdEncoding.EncodeToString(m) + "\n")
	}
	cmd := exec.Command(py, "-c", dkimpyVerify, d.RecordName(), d.Record())
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("dkimpy: %v\n%s", err, stderr.Bytes())
	}
	var valid []bool
	for _, f := range strings.Fields(string(out)) {
		valid = append(valid, f == "1")
	}
	if len(valid) != len(msgs) {
		t.Fatalf("dkimpy answered %q for %d messages\n%s", out, len(msgs), stderr.Bytes())
	}
	return valid
}

func TestParsePrivateKey(t *testing.T) {
	rsaKey := testRSAKey(t)
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pkcs8 := func(k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	ecDER, _ := x509.MarshalECPrivateKey(ecKey)
	for _, tc := range []struct {
		name string
		pem  []byte
		ok   bool
	}{
		{"rsa pkcs1", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}), true},
		{"rsa pkcs8", pkcs8(rsaKey), true},
		{"ed25519 pkcs8", pkcs8(edKey), true},
		{"ecdsa pkcs8", pkcs8(ecKey), false},
		{"ecdsa sec1", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: ecDER}), false},
		{"public key", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1}}), false},
		{"garbage pkcs8", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}), false},
		{"not pem", []byte("hello"), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ParsePrivateKey(tc.pem)
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				if _, err := NewDKIM("acme.example", "s1", k); err != nil {
					t.Fatal(err)
				}
				return
			}
			if e := apperr.As(err); e == nil || e.Field != "dkim_key" {
				t.Fatalf("ParsePrivateKey = %T, %v; want an EINVALID error on dkim_key", k, err)
			}
		})
	}
}

func TestNewDKIMRefuses(t *testing.T) {
	// Go no longer generates keys this small; only the modulus matters.
	small := &rsa.PrivateKey{PublicKey: rsa.PublicKey{N: new(big.Int).Lsh(big.NewInt(1), 511), E: 65537}}
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, tc := range []struct {
		name, domain, selector string
		key                    crypto.Signer
		field                  string
	}{
		{"domain", "acme example", "s1", testRSAKey(t), "dkim_domain"},
		{"domain empty", "", "s1", testRSAKey(t), "dkim_domain"},
		{"selector", "acme.example", "s1;x=y", testRSAKey(t), "dkim_selector"},
		{"small rsa", "acme.example", "s1", small, "dkim_key"},
		{"ecdsa", "acme.example", "s1", ecKey, "dkim_key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewDKIM(tc.domain, tc.selector, tc.key)
			if e := apperr.As(err); e == nil || e.Field != tc.field {
				t.Fatalf("NewDKIM: %v; want an EINVALID error on %s", err, tc.field)
			}
		})
	}
}

func BenchmarkDKIMSign(b *testing.B) {
	raw, err := benchMessage().AppendTo(nil)
	if err != nil {
		b.Fatal(err)
	}
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	for name, key := range map[string]crypto.Signer{"rsa-2048": testRSAKey(b), "ed25519": edKey} {
		b.Run(name, func(b *testing.B) {
			d, err := NewDKIM("acme.example", "s1", key)
			if err != nil {
				b.Fatal(err)
			}
			var buf []byte
			b.ReportAllocs()
			for b.Loop() {
				if buf, err = d.Sign(buf[:0], raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
