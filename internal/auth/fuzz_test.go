package auth_test

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"github.com/candorhq/candor/internal/auth"
)

// FuzzVerifyPassword checks that VerifyPassword never panics, whatever the
// stored hash string holds. Inputs whose cost parameters would make one call
// take seconds or gigabytes are skipped (see costly).
func FuzzVerifyPassword(f *testing.F) {
	seeds := []struct{ hash, pw string }{
		{"", ""},
		{"$argon2id$v=19$m=64,t=1,p=1$" + validSalt + "$" + validKey, "correct horse battery staple"},
		{"$argon2id$v=19$m=64,t=2,p=4$" + validSalt + "$" + validKey[:8], "x"},
		{"$argon2id$v=19$m=8,t=1,p=1$$" + validKey, "no salt"},
		{"$argon2id$v=19$m=64,t=0,p=1$" + validSalt + "$" + validKey, "zero passes"},
		{"$argon2id$v=19$m=64,t=1,p=0$" + validSalt + "$" + validKey, "zero lanes"},
		{"$argon2id$v=19$m=64,t=1,p=1$" + validSalt + "$", "empty key"},
		{"$argon2id$v=19$m=64,t=1,p=255$" + validSalt + "$" + validKey, "many lanes"},
		{"$argon2id$v=19$m=-1,t=1,p=1$" + validSalt + "$" + validKey, ""},
		{"$argon2id$v=x$m=64$$", ""},
		{"$argon2i$v=19$m=64,t=1,p=1$" + validSalt + "$" + validKey, ""},
		{"$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy", "bcrypt"},
		{"$argon2id$v=19$m=64,t=1,p=1$\xff$\x00", "\xff"},
	}
	for _, s := range seeds {
		f.Add(s.hash, s.pw)
	}
	f.Fuzz(func(t *testing.T, hash, pw string) {
		mem, iters, threads, keyLen, parsed := params(hash)
		if parsed {
			if costly(mem, iters, threads, keyLen) {
				t.Skip("cost parameters too high for fuzzing")
			}
		}
		ok, err := auth.VerifyPassword(hash, pw)
		if ok && err != nil {
			t.Errorf("VerifyPassword = true with error %v", err)
		}
	})
}

// params mirrors what VerifyPassword parses, reporting whether it would get
// as far as hashing.
func params(hash string) (mem, iters uint32, threads uint8, keyLen int, ok bool) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil {
		return
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &mem, &iters, &threads); err != nil {
		return
	}
	if _, err := base64.RawStdEncoding.DecodeString(parts[4]); err != nil {
		return
	}
	key, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil {
		return
	}
	return mem, iters, threads, len(key), true
}

func costly(mem, iters uint32, threads uint8, keyLen int) bool {
	return mem > 4096 || iters > 4 || keyLen > 4096
}
