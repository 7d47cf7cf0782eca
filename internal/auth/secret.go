package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// argon2id parameters: RFC 9106's second recommended option (64 MiB, 3 passes)
// scaled to 1 pass at 64 MiB as in OWASP's password storage cheat sheet.
const (
	argonTime    = 1
	argonMemory  = 64 * 1024
	argonThreads = 2
	argonKeyLen  = 32
	argonSaltLen = 16
)

// HashPassword returns an argon2id hash in the PHC string format.
func HashPassword(pw string) (string, error) {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// VerifyPassword reports whether pw matches a hash made by HashPassword, in
// time independent of where the two differ.
func VerifyPassword(hash, pw string) (bool, error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errors.New("verify password: not an argon2id hash")
	}
	var version int
	var mem, iters uint32
	var threads uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil {
		return false, fmt.Errorf("verify password: %w", err)
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &iters, &threads); err != nil {
		return false, fmt.Errorf("verify password: %w", err)
	}
	// The parameters come from the database: bound them, so that a
	// corrupted or hostile hash cannot crash the process or make it
	// allocate without limit.
	switch {
	case version != argon2.Version:
		return false, fmt.Errorf("verify password: unsupported argon2 version %d", version)
	case iters < 1 || iters > 16, threads < 1 || threads > 64, mem < 8*uint32(threads) || mem > 1<<20:
		return false, errors.New("verify password: argon2 parameters out of range")
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return false, fmt.Errorf("verify password: %w", err)
	}
	want, err := b64.DecodeString(parts[5])
	if err != nil {
		return false, fmt.Errorf("verify password: %w", err)
	}
	if len(salt) < 8 || len(want) < 16 || len(want) > 128 {
		return false, errors.New("verify password: salt or key of the wrong length")
	}
	got := argon2.IDKey([]byte(pw), salt, iters, mem, threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// dummyHash is verified against when a login names an unknown user, so that
// the response time does not reveal which emails have accounts.
var dummyHash, _ = HashPassword("candor-timing-equalizer")

// BurnPasswordCheck spends the time of one password verification.
func BurnPasswordCheck(pw string) { _, _ = VerifyPassword(dummyHash, pw) }

// NewSecret returns a random URL-safe secret with 256 bits of entropy.
func NewSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// TokenPrefix begins every API token, so that leaked tokens are easy to
// recognise in logs and by secret scanners.
const TokenPrefix = "cndr_"

// NewAPIToken returns a new API token to show once.
func NewAPIToken() string { return TokenPrefix + NewSecret() }

// HashSecret returns the hex SHA-256 of a session or API token secret. The
// secrets are random and long, so a fast hash is enough; only the hash is
// stored.
func HashSecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// CSRFToken derives the CSRF token of a session from its secret, so that it
// needs no storage of its own and changes with every session.
func CSRFToken(sessionSecret string) string {
	m := hmac.New(sha256.New, []byte(sessionSecret))
	m.Write([]byte("candor csrf v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// CheckCSRF reports whether token is the CSRF token of the session.
func CheckCSRF(sessionSecret, token string) bool {
	want := CSRFToken(sessionSecret)
	return token != "" && subtle.ConstantTimeCompare([]byte(want), []byte(token)) == 1
}
