package notice

import "unicode/utf16"

// SMS encodings and sizes, from 3GPP TS 23.038 (alphabets and language-
// specific information) and TS 23.040 (concatenated short messages):
//
//   - A message whose every character is in the GSM 7-bit default alphabet
//     (TS 23.038 § 6.2.1) or its extension table (§ 6.2.1.1) is sent as
//     GSM-7. A short message holds 140 octets = 160 septets. Extension
//     characters are sent as ESC (0x1B) plus a code, so they count as two
//     septets.
//   - Anything else is sent as UCS-2 (§ 6.2.3): 2 octets per character, 70
//     characters per message. Characters outside the Basic Multilingual
//     Plane take two 16-bit units (UTF-16 surrogates, as handsets send them).
//   - A longer message is split into concatenated segments, each carrying a
//     6-octet user-data header (TS 23.040 § 9.2.3.24.1), leaving 153
//     septets (GSM-7) or 67 units (UCS-2) per segment. An escape pair or a
//     surrogate pair is never split across segments.
//
// National language shift tables (§ 6.2.1.2) are not used: not every
// handset and gateway supports them.
const (
	gsmSingle  = 160
	gsmSegment = 153
	ucsSingle  = 70
	ucsSegment = 67
)

// gsmBasic is the GSM 7-bit default alphabet in code order (0x00–0x7F),
// with ESC (0x1B) left out: it only introduces extension characters.
const gsmBasic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ" + "ÆæßÉ" +
	" !\"#¤%&'()*+,-./0123456789:;<=>?" +
	"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§" +
	"¿abcdefghijklmnopqrstuvwxyzäöñüà"

// gsmExtension is the default extension table: form feed ^ { } \ [ ~ ] | €.
const gsmExtension = "\f^{}\\[~]|€"

var gsmSeptets = func() map[rune]int {
	m := map[rune]int{}
	for _, r := range gsmBasic {
		m[r] = 1
	}
	for _, r := range gsmExtension {
		m[r] = 2
	}
	return m
}()

// SMSSegments decides the encoding of text and counts its length and
// segments: encoding is "GSM-7" or "UCS-2", units are septets or UTF-16
// code units. Empty text is one segment of zero units.
func SMSSegments(text string) (encoding string, units, segments int) {
	var sizes []int
	gsm := true
	for _, r := range text {
		n, ok := gsmSeptets[r]
		if !ok {
			gsm = false
			break
		}
		sizes = append(sizes, n)
	}
	single, per := gsmSingle, gsmSegment
	encoding = "GSM-7"
	if !gsm {
		encoding = "UCS-2"
		single, per = ucsSingle, ucsSegment
		sizes = sizes[:0]
		for _, r := range text {
			sizes = append(sizes, len(utf16.Encode([]rune{r})))
		}
	}
	for _, n := range sizes {
		units += n
	}
	if units <= single {
		return encoding, units, 1
	}
	// Fill segments greedily, never splitting a character's units.
	segments, used := 1, 0
	for _, n := range sizes {
		if used+n > per {
			segments++
			used = 0
		}
		used += n
	}
	return encoding, units, segments
}
