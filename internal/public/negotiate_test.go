package public_test

import (
	"slices"
	"testing"

	"github.com/candorhq/candor/internal/public"
)

func TestNegotiate(t *testing.T) {
	offered := []string{"en", "fr", "de-CH"}
	for header, want := range map[string]string{
		"":                               "en",
		"fr":                             "fr",
		"fr-CA,fr;q=0.9,en;q=0.5":        "fr",
		"de":                             "de-CH",
		"en;q=0.2, fr;q=0.8":             "fr",
		"ja, *;q=0.1":                    "en",
		"fr;q=0, en":                     "en",
		"FR-be":                          "fr",
		"de-DE;q=1.5, fr;q=0.4":          "de-CH",
		",,, ;q=, fr":                    "fr",
		"zz;q=abc, de-at;q=0.9, fr;q=.8": "de-CH",
	} {
		if got := public.Negotiate(offered, header); got != want {
			t.Errorf("Negotiate(%q) = %q, want %q", header, got, want)
		}
	}
}

// FuzzNegotiate: any Accept-Language header picks one of the offered
// languages, without panicking.
func FuzzNegotiate(f *testing.F) {
	for _, s := range []string{"", "fr-CA,fr;q=0.9", "*", ";q=1", "en;q=NaN", "de;q=-1", "\x00\xff"} {
		f.Add(s)
	}
	offered := []string{"en", "fr", "es"}
	f.Fuzz(func(t *testing.T, header string) {
		if got := public.Negotiate(offered, header); !slices.Contains(offered, got) {
			t.Fatalf("Negotiate(%q) = %q, not offered", header, got)
		}
	})
}
