package email

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"strings"

	"github.com/emersion/go-msgauth/dkim"

	"github.com/candorhq/candor/internal/apperr"
)

// ParsePrivateKey reads a PEM private key: RSA (PKCS#1 or PKCS#8) or
// Ed25519 (PKCS#8). It returns an EINVALID error on "dkim_key" for
// anything else.
func ParsePrivateKey(pemBytes []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		return nil, apperr.Invalid("dkim_key", "is not a PEM-encoded private key")
	}
	switch block.Type {
	case "RSA PRIVATE KEY":
		k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
		if err != nil {
			return nil, apperr.Invalid("dkim_key", "cannot read the RSA key: %v", err)
		}
		return k, nil
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, apperr.Invalid("dkim_key", "cannot read the PKCS#8 key: %v", err)
		}
		switch k := k.(type) {
		case *rsa.PrivateKey:
			return k, nil
		case ed25519.PrivateKey:
			return k, nil
		}
		return nil, apperr.Invalid("dkim_key", "is a %T; DKIM takes RSA or Ed25519 keys", k)
	}
	return nil, apperr.Invalid("dkim_key", "is a %q PEM block; DKIM takes an RSA or Ed25519 private key", block.Type)
}

// DKIM signs messages for one domain and selector. It is safe for
// concurrent use.
type DKIM struct {
	domain, selector string
	key              crypto.Signer
	record           string
}

// NewDKIM returns a signer for domain with the key published at
// selector._domainkey.domain. The key must be RSA of at least 1024 bits
// (RFC 8301; 2048 is the norm) or Ed25519 (RFC 8463). Bad arguments give
// EINVALID errors on "dkim_domain", "dkim_selector" or "dkim_key".
func NewDKIM(domain, selector string, key crypto.Signer) (*DKIM, error) {
	if !hostname(domain) {
		return nil, apperr.Invalid("dkim_domain", "%q is not a domain name", domain)
	}
	if !hostname(selector) {
		return nil, apperr.Invalid("dkim_selector", "%q is not a DKIM selector (letters, digits, dots and hyphens)", selector)
	}
	var record string
	switch pub := key.Public().(type) {
	case *rsa.PublicKey:
		if pub.N.BitLen() < 1024 {
			return nil, apperr.Invalid("dkim_key", "an RSA key of %d bits is too short; use 2048", pub.N.BitLen())
		}
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			return nil, fmt.Errorf("dkim: %w", err)
		}
		record = "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der)
	case ed25519.PublicKey:
		record = "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(pub)
	default:
		return nil, apperr.Invalid("dkim_key", "a %T key cannot sign DKIM; use RSA or Ed25519", pub)
	}
	return &DKIM{domain: strings.ToLower(domain), selector: strings.ToLower(selector), key: key, record: record}, nil
}

// RecordName is the DNS name of the TXT record that publishes the key.
func (d *DKIM) RecordName() string { return d.selector + "._domainkey." + d.domain }

// Record is the TXT record value to publish at RecordName.
func (d *DKIM) Record() string { return d.record }

// signed are the fields Sign covers when present (RFC 6376 5.4.1), besides
// every List-* field (RFC 2369, RFC 8058: the one-click unsubscribe
// fields must be signed to be honoured).
var signed = []string{"From", "To", "Subject", "Date", "Message-ID", "Reply-To", "MIME-Version", "Content-Type"}

// Sign returns msg with a DKIM-Signature header prepended (relaxed/relaxed,
// signing From, To, Subject, Date, Message-ID, Reply-To, MIME-Version,
// Content-Type and any List-* headers present), appended to dst. From is
// signed once more than it occurs, so that no From can be added without
// breaking the signature (RFC 6376 8.15). msg must be a message with CRLF
// line ends, as from Message.AppendTo; dst must not overlap it.
func (d *DKIM) Sign(dst, msg []byte) ([]byte, error) {
	keys := headerKeys(msg)
	if keys == nil {
		return dst, fmt.Errorf("dkim: the message has no From field")
	}
	s, err := dkim.NewSigner(&dkim.SignOptions{
		Domain:                 d.domain,
		Selector:               d.selector,
		Signer:                 d.key,
		Hash:                   crypto.SHA256,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed,
		BodyCanonicalization:   dkim.CanonicalizationRelaxed,
		HeaderKeys:             keys,
	})
	if err != nil {
		return dst, fmt.Errorf("dkim: %w", err)
	}
	if _, err := s.Write(msg); err != nil {
		s.Close()
		return dst, fmt.Errorf("dkim: %w", err)
	}
	if err := s.Close(); err != nil {
		return dst, fmt.Errorf("dkim: %w", err)
	}
	dst = append(dst, s.Signature()...)
	return append(dst, msg...), nil
}

// headerKeys lists the fields of msg's header to sign, one entry per
// occurrence, plus one more From; nil when msg has no From.
func headerKeys(msg []byte) []string {
	keys := make([]string, 0, 12)
	from := false
	for len(msg) > 0 {
		line := msg
		if i := bytes.IndexByte(msg, '\n'); i >= 0 {
			line, msg = msg[:i], msg[i+1:]
		} else {
			msg = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			continue
		}
		name := string(bytes.TrimRight(line[:colon], " \t"))
		if len(name) > 5 && strings.EqualFold(name[:5], "List-") {
			keys = append(keys, name)
			continue
		}
		for _, s := range signed {
			if strings.EqualFold(name, s) {
				keys = append(keys, s)
				from = from || s == "From"
				break
			}
		}
	}
	if !from {
		return nil
	}
	return append(keys, "From")
}
