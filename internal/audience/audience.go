// Package audience owns who is told: audiences (an incident's groups, each
// of a kind, and the organisation's standing contact lists that can be
// attached to them), their recipients, the streaming CSV import that fills
// them, and segments — rules over recipient fields that let one audience get
// different wording. It holds no SQL and no HTTP: package store persists
// these types and package app checks who may change them.
//
// Recipient fields follow the usual standards: phone numbers in E.164
// (ITU-T E.164, written +<country code><number>), locales as BCP 47 language
// tags (RFC 5646), jurisdictions as ISO 3166-1 alpha-2 or ISO 3166-2 codes,
// and exposed data kinds from the incident package's vocabulary.
package audience

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/language"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/incident"
)

// Kind is the sort of people an audience holds; it decides which wording
// they get.
type Kind string

const (
	AffectedCustomers   Kind = "affected_customers"
	UnaffectedCustomers Kind = "unaffected_customers"
	Employees           Kind = "employees"
	ResponseTeam        Kind = "response_team"
	Partners            Kind = "partners"
	Press               Kind = "press"
	Regulators          Kind = "regulators"
	Custom              Kind = "custom"
)

// Kinds lists every kind, in the order forms show them, with labels.
var Kinds = []struct {
	Kind  Kind
	Label string
}{
	{AffectedCustomers, "Affected customers"},
	{UnaffectedCustomers, "Customers not affected"},
	{Employees, "Employees"},
	{ResponseTeam, "Response team"},
	{Partners, "Partners and vendors (e.g. card companies)"},
	{Press, "Press"},
	{Regulators, "Regulators"},
	{Custom, "Other"},
}

// Valid reports whether k is a known kind.
func (k Kind) Valid() bool {
	for _, x := range Kinds {
		if x.Kind == k {
			return true
		}
	}
	return false
}

// Label is the human name of the kind.
func (k Kind) Label() string {
	for _, x := range Kinds {
		if x.Kind == k {
			return x.Label
		}
	}
	return string(k)
}

func kindList() string {
	names := make([]string, len(Kinds))
	for i, k := range Kinds {
		names[i] = string(k.Kind)
	}
	return strings.Join(names, ", ")
}

// Audience is a group of recipients. With an IncidentID it is one of that
// incident's audiences; without (0) it is a standing contact list of the
// organisation ("All customers", "Press contacts") that incident audiences
// can attach.
type Audience struct {
	ID          int64
	IncidentID  int64 // 0 for a standing list
	Kind        Kind
	Name        string
	Description string
	CreatedBy   int64
	CreatedAt   time.Time
	UpdatedAt   time.Time

	// Filled by the store when it reads an audience.
	Recipients int64   // its own recipients
	Members    int64   // its own recipients and those of attached lists, deduplicated by email
	Lists      []int64 // the standing lists attached to it
}

// IsList reports whether the audience is a standing list.
func (a Audience) IsList() bool { return a.IncidentID == 0 }

// New is the input to create an audience or a standing list.
type New struct {
	IncidentID  int64 // 0 for a standing list
	Kind        Kind
	Name        string
	Description string
}

// Limits on text, so one cell cannot fill the database.
const (
	MaxName        = 200
	MaxDescription = 2000
	MaxEmail       = 254 // RFC 5321's path limit
	MaxValue       = 1000
	MaxAttributes  = 100
)

// Validate normalizes and checks the input.
func (n *New) Validate() error {
	var errs apperr.List
	n.Name = strings.TrimSpace(n.Name)
	n.Description = strings.TrimSpace(n.Description)
	n.Kind = Kind(strings.ToLower(strings.TrimSpace(string(n.Kind))))
	switch {
	case n.Name == "":
		errs = append(errs, apperr.Invalid("name", "a name is required, e.g. \"Customers whose cards were exposed\""))
	case utf8.RuneCountInString(n.Name) > MaxName:
		errs = append(errs, apperr.Invalid("name", "keep the name under %d characters", MaxName))
	}
	if n.Kind == "" {
		errs = append(errs, apperr.Invalid("kind", "say what kind of audience this is: %s", kindList()))
	} else if !n.Kind.Valid() {
		errs = append(errs, apperr.Invalid("kind", "unknown kind %q; use one of %s", n.Kind, kindList()))
	}
	if utf8.RuneCountInString(n.Description) > MaxDescription {
		errs = append(errs, apperr.Invalid("description", "keep the description under %d characters", MaxDescription))
	}
	return errs.Err()
}

// Recipient is one person (or office) in an audience. A recipient has at
// least an email address or a phone number; within an audience the email
// address is unique (and, for those without one, the phone number).
type Recipient struct {
	ID           int64
	AudienceID   int64
	Email        string // lower-case; "" when unknown
	Phone        string // E.164, e.g. +14155550123; "" when unknown
	Name         string
	Locale       string // canonical BCP 47 tag, e.g. fr-CA; "" when unknown
	Jurisdiction string // ISO 3166-1/3166-2, e.g. US-CA; "" when unknown
	ExternalID   string // the organisation's own id for the person
	Exposed      []incident.DataKind
	Attributes   map[string]string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Exposes reports whether kind is among the recipient's exposed data.
func (r Recipient) Exposes(kind incident.DataKind) bool { return slices.Contains(r.Exposed, kind) }

// fieldError is a problem with one field of a recipient.
type fieldError struct {
	field, value, reason string
}

func (e *fieldError) Error() string { return e.field + ": " + e.reason }

// Validate normalizes r (trims, lower-cases the email, canonicalises the
// phone, locale and jurisdiction, sorts exposed kinds) and checks it. The
// error is EINVALID and names the field.
func (r *Recipient) Validate() error {
	if fe := r.normalize(newLocaleCache()); fe != nil {
		return apperr.Invalid(fe.field, "%s", fe.reason)
	}
	return nil
}

// normalize is Validate for the importer, which shares a locale cache across
// rows and wants the field, value and reason apart.
func (r *Recipient) normalize(lc *localeCache) *fieldError {
	var err *fieldError
	if r.Email, err = NormalizeEmail(r.Email); err != nil {
		return err
	}
	if r.Phone, err = NormalizePhone(r.Phone); err != nil {
		return err
	}
	if r.Email == "" && r.Phone == "" {
		return &fieldError{"email", "", "the row has neither an email address nor a phone number; give at least one"}
	}
	r.Name = strings.TrimSpace(r.Name)
	if !utf8.ValidString(r.Name) {
		return &fieldError{"name", r.Name, "not valid UTF-8; save the file as UTF-8"}
	}
	if utf8.RuneCountInString(r.Name) > MaxName {
		return &fieldError{"name", r.Name, fmt.Sprintf("longer than %d characters", MaxName)}
	}
	if r.Locale, err = lc.normalize(r.Locale); err != nil {
		return err
	}
	if r.Jurisdiction, err = NormalizeJurisdiction(r.Jurisdiction); err != nil {
		return err
	}
	r.ExternalID = strings.TrimSpace(r.ExternalID)
	if !utf8.ValidString(r.ExternalID) || len(r.ExternalID) > MaxName {
		return &fieldError{"external_id", r.ExternalID, fmt.Sprintf("must be valid UTF-8 and at most %d bytes", MaxName)}
	}
	if r.Exposed, err = normalizeKinds(r.Exposed); err != nil {
		return err
	}
	if len(r.Attributes) > MaxAttributes {
		return &fieldError{"attributes", "", fmt.Sprintf("more than %d attributes", MaxAttributes)}
	}
	for k, v := range r.Attributes {
		if !ValidAttributeKey(k) {
			return &fieldError{"attributes", k, "an attribute name uses letters, digits and _ only (e.g. plan or account_type)"}
		}
		if !utf8.ValidString(v) {
			return &fieldError{k, v, "not valid UTF-8; save the file as UTF-8"}
		}
		if len(v) > MaxValue {
			return &fieldError{k, v, fmt.Sprintf("longer than %d bytes", MaxValue)}
		}
	}
	return nil
}

// NormalizeEmail trims and lower-cases an address and checks its shape:
// one @, a local part of at most 64 bytes without spaces, and a domain of
// dot-separated labels with at least one dot. Internationalised addresses
// (RFC 6531) are accepted. "" stays "".
func NormalizeEmail(s string) (string, *fieldError) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	bad := func(why string) (string, *fieldError) {
		return "", &fieldError{"email", s, fmt.Sprintf("%q is not an email address: %s", clip(s), why)}
	}
	if !utf8.ValidString(s) {
		return bad("not valid UTF-8")
	}
	s = strings.ToLower(s)
	if len(s) > MaxEmail {
		return bad(fmt.Sprintf("longer than %d bytes", MaxEmail))
	}
	at := strings.IndexByte(s, '@')
	if at < 0 {
		return bad("it has no @")
	}
	local, domain := s[:at], s[at+1:]
	switch {
	case strings.IndexByte(domain, '@') >= 0:
		return bad("it has more than one @ (is it two addresses in one cell?)")
	case local == "":
		return bad("nothing before the @")
	case len(local) > 64:
		return bad("the part before the @ is longer than 64 bytes")
	case local[0] == '.' || local[len(local)-1] == '.' || strings.Contains(local, ".."):
		return bad("misplaced dot before the @")
	case domain == "":
		return bad("nothing after the @")
	}
	for _, c := range local {
		if c <= ' ' || c == 0x7f || strings.ContainsRune(`"(),:;<>[\]`, c) {
			return bad(fmt.Sprintf("the character %q is not allowed before the @", c))
		}
	}
	labels := strings.Split(domain, ".")
	if len(labels) < 2 {
		return bad("the domain has no dot (e.g. example.com)")
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return bad(fmt.Sprintf("%q is not a valid domain", clip(domain)))
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c >= 0x80) {
				return bad(fmt.Sprintf("the character %q is not allowed in the domain", c))
			}
		}
	}
	return s, nil
}

// NormalizePhone returns a phone number in E.164 form (+ and 8 to 15
// digits, the first not 0). It removes spaces, dots, dashes and
// parentheses, and reads a leading 00 as +. "" stays "".
func NormalizePhone(s string) (string, *fieldError) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	var b [32]byte
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			if n == len(b) {
				return "", phoneError(s)
			}
			b[n] = c
			n++
		case c == '+' && n == 0:
		case c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		default:
			return "", phoneError(s)
		}
	}
	digits := b[:n]
	plus := s[0] == '+'
	if !plus && n > 2 && digits[0] == '0' && digits[1] == '0' {
		digits, plus = digits[2:], true
	}
	if !plus || len(digits) < 8 || len(digits) > 15 || digits[0] == '0' {
		return "", phoneError(s)
	}
	return "+" + string(digits), nil
}

func phoneError(s string) *fieldError {
	return &fieldError{"phone", s, fmt.Sprintf("%q is not a phone number in international (E.164) form; write it with + and the country code, like +14155550123", clip(s))}
}

// NormalizeJurisdiction upper-cases a code and checks it is an ISO 3166-1
// country or ISO 3166-2 subdivision. "" stays "".
func NormalizeJurisdiction(s string) (string, *fieldError) {
	c := incident.NormalizeJurisdiction(s)
	if c == "" {
		return "", nil
	}
	if !incident.ValidJurisdiction(c) {
		return "", &fieldError{"jurisdiction", s, fmt.Sprintf("%q is not a known jurisdiction; use an ISO 3166 code such as US-CA, FR or DE-BY", clip(s))}
	}
	return c, nil
}

// NormalizeLocale returns the canonical form of a BCP 47 language tag
// ("en_us" → "en-US"). "" stays "".
func NormalizeLocale(s string) (string, error) {
	l, fe := newLocaleCache().normalize(s)
	if fe != nil {
		return "", apperr.Invalid("locale", "%s", fe.reason)
	}
	return l, nil
}

// localeCache remembers parsed tags: a file has few distinct locales and
// parsing one costs far more than a map lookup.
type localeCache struct{ m map[string]string }

func newLocaleCache() *localeCache { return &localeCache{m: map[string]string{}} }

func (c *localeCache) normalize(s string) (string, *fieldError) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", nil
	}
	if v, ok := c.m[s]; ok {
		return v, nil
	}
	tag, err := language.Parse(strings.ReplaceAll(s, "_", "-"))
	if err != nil || tag == language.Und {
		return "", &fieldError{"locale", s, fmt.Sprintf("%q is not a language tag; use BCP 47 tags such as en, en-GB, fr-CA or pt-BR", clip(s))}
	}
	v := tag.String()
	if len(c.m) < 1000 {
		c.m[s] = v
	}
	return v, nil
}

// ParseKinds splits a cell of exposed data kinds separated by ; or | (or
// commas), checks each against the vocabulary, and returns them sorted
// without repeats.
func ParseKinds(s string) ([]incident.DataKind, error) {
	ks, fe := parseKinds(s)
	if fe != nil {
		return nil, apperr.Invalid("exposed", "%s", fe.reason)
	}
	return ks, nil
}

func parseKinds(s string) ([]incident.DataKind, *fieldError) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	parts := strings.FieldsFunc(s, func(r rune) bool { return r == ';' || r == '|' || r == ',' })
	ks := make([]incident.DataKind, 0, len(parts))
	for _, p := range parts {
		ks = append(ks, incident.DataKind(p))
	}
	return normalizeKinds(ks)
}

func normalizeKinds(ks []incident.DataKind) ([]incident.DataKind, *fieldError) {
	if len(ks) == 0 {
		return nil, nil
	}
	out := ks[:0:0]
	for _, k := range ks {
		k = incident.DataKind(strings.ToLower(strings.TrimSpace(string(k))))
		if k == "" || slices.Contains(out, k) {
			continue
		}
		if !k.Valid() {
			return nil, &fieldError{"exposed", string(k), fmt.Sprintf("unknown data kind %q; use the codes of GET /api/v1/data-kinds, e.g. card_number, email, password_hash", clip(string(k)))}
		}
		out = append(out, k)
	}
	slices.Sort(out)
	return out, nil
}

// ValidAttributeKey reports whether k can name an attribute: 1 to 64
// lower-case letters, digits and underscores.
func ValidAttributeKey(k string) bool {
	if k == "" || len(k) > 64 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// AttributeKey turns a column heading into an attribute name: lower case,
// with runs of anything but letters and digits as one underscore
// ("Plan Tier" → "plan_tier").
func AttributeKey(heading string) string {
	var b strings.Builder
	under := false
	for _, c := range strings.ToLower(strings.TrimSpace(heading)) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			if under && b.Len() > 0 {
				b.WriteByte('_')
			}
			under = false
			b.WriteRune(c)
			continue
		}
		under = true
	}
	k := b.String()
	if len(k) > 64 {
		k = k[:64]
	}
	return k
}

// clip shortens a value for an error message.
func clip(s string) string {
	if len(s) <= 80 {
		return s
	}
	cut := 77
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// ImportRecord is a stored import: its report, who ran it and when.
type ImportRecord struct {
	ID         int64
	AudienceID int64
	Report     Report
	CreatedBy  int64
	CreatedAt  time.Time
}

// Stats break an audience's own recipients down for its page.
type Stats struct {
	Recipients     int64
	WithEmail      int64
	WithPhone      int64
	ByJurisdiction []Tally // most first; "" is unknown
	ByLocale       []Tally
	ByExposed      []Tally // per data kind; a recipient counts once per kind
	NoneExposed    int64   // recipients with no exposed kind recorded
}

// Tally is how many recipients have one value.
type Tally struct {
	Value string `json:"value"`
	Count int64  `json:"count"`
}
