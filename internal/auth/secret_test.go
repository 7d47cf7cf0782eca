package auth_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/candorhq/candor/internal/auth"
)

// Each argon2id hash costs 64 MiB and noticeable time: the tests below make
// three hashes in all.
func TestPasswordHashing(t *testing.T) {
	const pw = "correct horse battery staple"
	h1, err := auth.HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	h2, err := auth.HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("PHC format", func(t *testing.T) {
		if !strings.HasPrefix(h1, "$argon2id$v=19$m=65536,t=1,p=2$") {
			t.Errorf("hash %q is not an argon2id PHC string with the expected parameters", h1)
		}
		if strings.Contains(h1, pw) {
			t.Error("hash contains the password")
		}
	})
	t.Run("salted: two hashes of one password differ", func(t *testing.T) {
		if h1 == h2 {
			t.Errorf("both hashes are %q", h1)
		}
	})
	t.Run("right password verifies against both", func(t *testing.T) {
		for _, h := range []string{h1, h2} {
			ok, err := auth.VerifyPassword(h, pw)
			if err != nil || !ok {
				t.Errorf("VerifyPassword(%q) = %v, %v; want true", h, ok, err)
			}
		}
	})
	t.Run("wrong passwords refused", func(t *testing.T) {
		for _, wrong := range []string{"", "correct horse battery stapl", "Correct horse battery staple", pw + " "} {
			ok, err := auth.VerifyPassword(h1, wrong)
			if err != nil || ok {
				t.Errorf("VerifyPassword(h, %q) = %v, %v; want false, nil", wrong, ok, err)
			}
		}
	})
	t.Run("altered hash refuses the right password", func(t *testing.T) {
		parts := strings.Split(h1, "$")
		key, _ := base64.RawStdEncoding.DecodeString(parts[5])
		key[0] ^= 1
		parts[5] = base64.RawStdEncoding.EncodeToString(key)
		ok, err := auth.VerifyPassword(strings.Join(parts, "$"), pw)
		if err != nil || ok {
			t.Errorf("VerifyPassword(altered) = %v, %v; want false, nil", ok, err)
		}
	})
}

func TestPasswordHashingUnicode(t *testing.T) {
	pw := "pässwörd – 密码 – 🔑🔑"
	h, err := auth.HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := auth.VerifyPassword(h, pw); err != nil || !ok {
		t.Errorf("VerifyPassword = %v, %v; want true", ok, err)
	}
	// NFD form of ä is a different byte string and must not verify.
	if ok, _ := auth.VerifyPassword(h, strings.Replace(pw, "ä", "a\u0308", 1)); ok {
		t.Error("a differently encoded password verified")
	}
}

const validSalt = "c2FsdHNhbHRzYWx0c2FsdA"                     // 16 bytes
const validKey = "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U" // 32 bytes

func TestVerifyPasswordMalformedHash(t *testing.T) {
	tests := []struct {
		name string
		hash string
		bug  string // non-empty: VerifyPassword panics today; see the report
	}{
		{"empty", "", ""},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy", ""},
		{"argon2i", "$argon2i$v=19$m=65536,t=1,p=2$" + validSalt + "$" + validKey, ""},
		{"too few parts", "$argon2id$v=19$m=65536,t=1,p=2$" + validSalt, ""},
		{"too many parts", "$argon2id$v=19$m=65536,t=1,p=2$" + validSalt + "$" + validKey + "$x", ""},
		{"bad version", "$argon2id$v=x$m=65536,t=1,p=2$" + validSalt + "$" + validKey, ""},
		{"bad params", "$argon2id$v=19$m=lots$" + validSalt + "$" + validKey, ""},
		{"parallelism overflows uint8", "$argon2id$v=19$m=65536,t=1,p=256$" + validSalt + "$" + validKey, ""},
		{"negative memory", "$argon2id$v=19$m=-1,t=1,p=2$" + validSalt + "$" + validKey, ""},
		{"salt not base64", "$argon2id$v=19$m=65536,t=1,p=2$!!!$" + validKey, ""},
		{"key not base64", "$argon2id$v=19$m=65536,t=1,p=2$" + validSalt + "$***", ""},
		{"padded base64", "$argon2id$v=19$m=65536,t=1,p=2$" + validSalt + "==$" + validKey, ""},
		{"zero passes", "$argon2id$v=19$m=64,t=0,p=1$" + validSalt + "$" + validKey,
			"secret.go:63 passes t=0 from the hash to argon2.IDKey, which panics \"argon2: number of rounds too small\""},
		{"zero parallelism", "$argon2id$v=19$m=64,t=1,p=0$" + validSalt + "$" + validKey,
			"secret.go:63 passes p=0 from the hash to argon2.IDKey, which panics \"argon2: parallelism degree too low\""},
		{"empty key", "$argon2id$v=19$m=64,t=1,p=1$" + validSalt + "$", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := auth.VerifyPassword(tt.hash, "correct horse battery staple")
			if ok || err == nil {
				t.Errorf("VerifyPassword(%q) = %v, %v; want false and an error", tt.hash, ok, err)
			}
		})
	}
}

func TestCSRF(t *testing.T) {
	s1, s2 := auth.NewSecret(), auth.NewSecret()
	tok := auth.CSRFToken(s1)
	tests := []struct {
		name    string
		session string
		token   string
		want    bool
	}{
		{"own session's token", s1, tok, true},
		{"other session's token", s2, tok, false},
		{"empty token", s1, "", false},
		{"empty token, empty session", "", "", false},
		{"truncated token", s1, tok[:len(tok)-1], false},
		{"token with extra byte", s1, tok + "A", false},
		{"session secret as token", s1, s1, false},
		{"case-changed token", s1, strings.ToUpper(tok), strings.ToUpper(tok) == tok},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := auth.CheckCSRF(tt.session, tt.token); got != tt.want {
				t.Errorf("CheckCSRF = %v, want %v", got, tt.want)
			}
		})
	}
	if auth.CSRFToken(s1) != tok {
		t.Error("CSRFToken is not stable for a session")
	}
	if auth.CSRFToken(s2) == tok {
		t.Error("two sessions share a CSRF token")
	}
}

func TestSecrets(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		s := auth.NewSecret()
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(b) != 32 {
			t.Fatalf("NewSecret() = %q: not 32 URL-safe base64 bytes (%v)", s, err)
		}
		if seen[s] {
			t.Fatalf("NewSecret repeated %q", s)
		}
		seen[s] = true
	}
	tok := auth.NewAPIToken()
	if !strings.HasPrefix(tok, auth.TokenPrefix) || len(tok) != len(auth.TokenPrefix)+43 {
		t.Errorf("NewAPIToken() = %q", tok)
	}
	h := auth.HashSecret(tok)
	if len(h) != 64 || h != auth.HashSecret(tok) || h == auth.HashSecret(auth.NewAPIToken()) {
		t.Errorf("HashSecret(%q) = %q: want a stable 64-hex-digit digest unique to the secret", tok, h)
	}
	if strings.Contains(h, tok) {
		t.Error("hash contains the secret")
	}
}

func TestBurnPasswordCheckDoesNotPanic(t *testing.T) {
	auth.BurnPasswordCheck("whatever the attacker typed")
}
