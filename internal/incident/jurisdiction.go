package incident

import (
	"regexp"
	"strings"
)

// ISO 3166-1 alpha-2 officially assigned codes (source: ISO 3166 Maintenance
// Agency, https://www.iso.org/iso-3166-country-codes.html).
const iso3166_1 = `AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ
CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR
GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP
KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT
MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW
SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG
UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW`

// ISO 3166-2 subdivisions for the countries whose breach laws differ by
// subdivision, or where teams commonly count by region. Other countries'
// subdivision codes are accepted when well-formed (see ValidJurisdiction).
var subdivisions = map[string]string{
	// US states, DC and the inhabited territories (ISO 3166-2:US).
	"US": `AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK OR PA
RI SC SD TN TX UT VT VA WA WV WI WY DC AS GU MP PR UM VI`,
	// Canadian provinces and territories (ISO 3166-2:CA).
	"CA": `AB BC MB NB NL NS NT NU ON PE QC SK YT`,
	// Australian states and territories (ISO 3166-2:AU).
	"AU": `ACT NSW NT QLD SA TAS VIC WA`,
	// German Länder (ISO 3166-2:DE).
	"DE": `BW BY BE BB HB HH HE MV NI NW RP SL SN ST SH TH`,
	// The four nations of the United Kingdom (ISO 3166-2:GB).
	"GB": `ENG NIR SCT WLS`,
}

var (
	countries = toSet(iso3166_1, "")
	subdivSet = func() map[string]bool {
		m := map[string]bool{}
		for c, list := range subdivisions {
			for k := range toSet(list, c+"-") {
				m[k] = true
			}
		}
		return m
	}()
	subdivShape = regexp.MustCompile(`^[A-Z]{2}-[A-Z0-9]{1,3}$`)
)

func toSet(list, prefix string) map[string]bool {
	m := map[string]bool{}
	for _, f := range strings.Fields(list) {
		m[prefix+f] = true
	}
	return m
}

// NormalizeJurisdiction upper-cases and trims a code ("us-ca" → "US-CA").
func NormalizeJurisdiction(code string) string {
	return strings.ToUpper(strings.TrimSpace(code))
}

// ValidJurisdiction reports whether code is an ISO 3166-1 alpha-2 country or
// an ISO 3166-2 subdivision. For the countries listed in subdivisions the
// subdivision must be one of theirs; for other countries a well-formed code of
// a known country is accepted.
func ValidJurisdiction(code string) bool {
	if len(code) == 2 {
		return countries[code]
	}
	if !subdivShape.MatchString(code) || !countries[code[:2]] {
		return false
	}
	if _, listed := subdivisions[code[:2]]; listed {
		return subdivSet[code]
	}
	return true
}
