package notice

import (
	"math"
	"regexp"
	"strings"
	"unicode"
)

// Readability is the Flesch–Kincaid grade level of a text and the counts it
// is computed from.
type Readability struct {
	// Grade is the US school grade a reader needs, rounded to one
	// decimal: 0.39 × (words / sentences) + 11.8 × (syllables / words) −
	// 15.59 (Kincaid et al., 1975, "Derivation of new readability formulas
	// for Navy enlisted personnel"). Plain-language guidance for notices
	// to the public aims at grade 8 or below; Check warns above 9.
	Grade     float64 `json:"grade"`
	Words     int     `json:"words"`
	Sentences int     `json:"sentences"`
	Syllables int     `json:"syllables"`
}

var sentenceEnd = regexp.MustCompile(`[.!?]+["')\]]*(\s|$)`)

// FleschKincaid measures text. Sentences end at ".", "!" or "?" followed by
// a space or the end (a text without one is one sentence). Words are runs
// of non-space characters; web and email addresses are left out, and a
// word without letters (a number) counts as one syllable. Syllables are
// counted with the usual heuristic for English: after dropping a silent
// final "e", "es" or "ed" (unless preceded by l or a vowel: "table",
// "agreed" keep theirs) and a leading "y", each run of vowels (a e i o u y)
// is one syllable, and every word has at least one. The heuristic errs by
// a syllable on some words ("wanted" counts one), which moves the grade by
// little over a whole notice. An empty text has grade 0.
func FleschKincaid(text string) Readability {
	var r Readability
	for _, s := range sentenceEnd.Split(text, -1) {
		words := 0
		for _, w := range strings.Fields(s) {
			if strings.Contains(w, "://") || strings.Contains(w, "@") || strings.HasPrefix(w, "www.") {
				continue
			}
			letters := strings.Map(func(r rune) rune {
				if unicode.IsLetter(r) {
					return unicode.ToLower(r)
				}
				return -1
			}, w)
			if letters == "" && !strings.ContainsFunc(w, unicode.IsDigit) {
				continue // punctuation only
			}
			words++
			r.Syllables += syllables(letters)
		}
		if words > 0 {
			r.Words += words
			r.Sentences++
		}
	}
	if r.Words == 0 {
		return r
	}
	g := 0.39*float64(r.Words)/float64(r.Sentences) + 11.8*float64(r.Syllables)/float64(r.Words) - 15.59
	r.Grade = math.Round(g*10) / 10
	return r
}

var (
	silentEnding = regexp.MustCompile(`(?:[^laeiouy]es|[^laeiouy]ed|[^laeiouy]e)$`)
	vowelRun     = regexp.MustCompile(`[aeiouy]+`)
)

// syllables estimates the syllables of a lower-case word (see
// FleschKincaid).
func syllables(w string) int {
	if len(w) <= 3 {
		return 1
	}
	w = silentEnding.ReplaceAllString(w, "")
	w = strings.TrimPrefix(w, "y")
	return max(1, len(vowelRun.FindAllString(w, -1)))
}
