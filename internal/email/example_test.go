package email_test

import (
	"bytes"
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/candorhq/candor/internal/email"
)

func ExampleMessage_AppendTo() {
	m := &email.Message{
		From:      email.Address{Name: "Acme Security", Addr: "security@acme.example"},
		To:        email.Address{Name: "Zoë Ørsted", Addr: "zoe@customer.example"},
		Subject:   "Sécurité : un incident vous concerne",
		Text:      "Bonjour Zoë,\n",
		MessageID: "<d-42@acme.example>",
		Date:      time.Date(2026, 3, 14, 9, 26, 0, 0, time.UTC),
	}
	raw, err := m.AppendTo(nil)
	if err != nil {
		log.Fatal(err)
	}
	os.Stdout.Write(bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n"))) // CRLF on the wire
	// Output:
	// Date: Sat, 14 Mar 2026 09:26:00 +0000
	// From: Acme Security <security@acme.example>
	// To: =?utf-8?q?Zo=C3=AB_=C3=98rsted?= <zoe@customer.example>
	// Subject: =?utf-8?q?S=C3=A9curit=C3=A9_=3A_un_incident_vous_concerne?=
	// Message-ID: <d-42@acme.example>
	// MIME-Version: 1.0
	// Content-Type: text/plain; charset=utf-8
	// Content-Transfer-Encoding: quoted-printable
	//
	// Bonjour Zo=C3=AB,
}

// A sender builds each message into a reused buffer, signs it, and sends
// it on a pooled session; Classify says what to do when that fails.
func ExamplePool() {
	pemKey, err := os.ReadFile("/etc/candor/dkim.pem")
	if err != nil {
		log.Fatal(err)
	}
	key, err := email.ParsePrivateKey(pemKey)
	if err != nil {
		log.Fatal(err)
	}
	signer, err := email.NewDKIM("acme.example", "candor1", key)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("publish at %s: %s\n", signer.RecordName(), signer.Record())

	pool := email.NewPool(email.Config{Addr: "smtp.acme.example:587", Username: "candor", Password: "…"}, 4)
	defer pool.Close()

	var raw, signed []byte
	m := &email.Message{ /* … */ }
	if raw, err = m.AppendTo(raw[:0]); err != nil {
		log.Fatal(err) // an EINVALID error naming the field
	}
	if signed, err = signer.Sign(signed[:0], raw); err != nil {
		log.Fatal(err)
	}
	c, err := pool.Get(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	reply, err := c.Send("bounce@acme.example", []string{m.To.Addr}, signed)
	pool.Put(c)
	switch email.Classify(err) {
	case email.Sent:
		fmt.Println("sent:", reply.Text)
	case email.Temporary:
		// retry later, with backoff
	case email.Permanent:
		// failed for good; err says why, in the server's words
	case email.Connection:
		// retry now, on another connection
	}
}
