package delivery_test

import (
	"testing"

	"github.com/candorhq/candor/internal/delivery"
)

func TestReleaseLabels(t *testing.T) {
	for s, want := range map[delivery.ReleaseState]string{delivery.ReleaseScheduled: "Scheduled", delivery.ReleaseRunning: "Sending",
		delivery.ReleasePaused: "Paused", delivery.ReleaseCancelled: "Cancelled", delivery.ReleaseDone: "Done"} {
		if got := s.Label(); got != want {
			t.Errorf("%s.Label() = %q, want %q", s, got, want)
		}
	}
}

func TestTokens(t *testing.T) {
	key := []byte("release key")
	tok := delivery.Token(key, 12345)
	id, err := delivery.TokenDelivery(tok)
	if err != nil || id != 12345 || !delivery.VerifyToken(key, id, tok) {
		t.Fatalf("token %q: %d %v", tok, id, err)
	}
	if delivery.VerifyToken(key, 12346, tok) || delivery.VerifyToken([]byte("other"), id, tok) {
		t.Fatal("a token verified for another delivery or key")
	}
	for _, bad := range []string{"", "x", "12a34xabc", "99999999999999999999xabc"} {
		if _, err := delivery.TokenDelivery(bad); err == nil {
			t.Errorf("TokenDelivery(%q) accepted", bad)
		}
	}
	if a, b := delivery.MessageID(key, 7, "example.com"), delivery.MessageID(key, 7, "example.com"); a != b || a[0] != '<' {
		t.Fatalf("Message-IDs %q %q: must be the same for the same delivery", a, b)
	}
}
