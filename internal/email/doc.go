// Package email builds, signs and sends Candor's notices by email.
//
// It owns three things, each written for one message per recipient at
// thousands of messages a second:
//
//   - Message.AppendTo writes an Internet message (RFC 5322) with MIME
//     bodies (RFC 2045, RFC 2046): text and optional HTML as
//     multipart/alternative, quoted-printable UTF-8, display names and
//     subjects as encoded-words (RFC 2047). Addresses, Message-IDs and extra
//     header fields are checked so that no input can add a header field.
//   - DKIM signs a message (RFC 6376 with rsa-sha256, RFC 8463 with
//     ed25519-sha256), relaxed/relaxed.
//   - Conn is an SMTP client session (RFC 5321) with PIPELINING
//     (RFC 2920), CHUNKING (RFC 3030: BDAT, the whole message in one
//     write, when offered), STARTTLS (RFC 3207), implicit TLS (RFC 8314), AUTH PLAIN
//     and LOGIN (RFC 4954, RFC 4616) and ENHANCEDSTATUSCODES (RFC 2034);
//     Pool shares a few sessions between senders. Classify tells a caller
//     whether a failed message should be retried.
//
// Subpackage mailbox is an SMTP server that keeps what it receives, for
// the demo and for tests.
package email
