package audience

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/incident"
)

// Segment is a named rule over recipients, kept per incident, so that one
// audience can get different variants of a notice ("customers whose cards
// were exposed", "Californians").
type Segment struct {
	ID          int64
	IncidentID  int64
	Name        string
	Description string
	Rule        Rule
	CreatedBy   int64
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// NewSegment is the input to create a segment.
type NewSegment struct {
	IncidentID  int64
	Name        string
	Description string
	Rule        Rule
}

// Validate normalizes and checks the input, the rule included.
func (n *NewSegment) Validate() error {
	var errs apperr.List
	n.Name = strings.TrimSpace(n.Name)
	n.Description = strings.TrimSpace(n.Description)
	switch {
	case n.Name == "":
		errs = append(errs, apperr.Invalid("name", "a name is required, e.g. \"Card numbers exposed\""))
	case utf8.RuneCountInString(n.Name) > MaxName:
		errs = append(errs, apperr.Invalid("name", "keep the name under %d characters", MaxName))
	}
	if utf8.RuneCountInString(n.Description) > MaxDescription {
		errs = append(errs, apperr.Invalid("description", "keep the description under %d characters", MaxDescription))
	}
	if _, err := Compile(&n.Rule); err != nil {
		errs = append(errs, apperr.As(err))
	}
	return errs.Err()
}

// Rule is a segment's condition in its JSON form. A rule is either a
// combination — all (every sub-rule matches), any (at least one does) or
// not — or one condition on a field:
//
//	{"field": "exposed", "op": "includes", "value": "card_number"}
//	{"field": "jurisdiction", "op": "in", "values": ["US-CA", "US-NY"]}
//	{"field": "locale", "op": "starts_with", "value": "fr"}
//	{"field": "attribute", "attribute": "plan", "op": "equals", "value": "business"}
//	{"all": [{…}, {"not": {…}}]}
//
// Fields: email, phone, name, locale, jurisdiction, external_id, exposed
// and attribute. Operators: equals, in, starts_with, ends_with, is_set, and
// for exposed: includes (value, or any of values) and is_set. Text compares
// without regard to case; starts_with on locale and jurisdiction matches
// whole subtags ("fr" matches fr and fr-CA, not frr; "US" matches US-CA).
type Rule struct {
	All       []Rule   `json:"all,omitempty"`
	Any       []Rule   `json:"any,omitempty"`
	Not       *Rule    `json:"not,omitempty"`
	Field     string   `json:"field,omitempty"`
	Attribute string   `json:"attribute,omitempty"`
	Op        string   `json:"op,omitempty"`
	Value     string   `json:"value,omitempty"`
	Values    []string `json:"values,omitempty"`
}

// Operators.
const (
	OpEquals     = "equals"
	OpIn         = "in"
	OpStartsWith = "starts_with"
	OpEndsWith   = "ends_with"
	OpIsSet      = "is_set"
	OpIncludes   = "includes"
)

// Limits that keep a rule cheap to evaluate for millions of recipients.
const (
	maxDepth      = 8
	maxConditions = 100
)

// Matcher is a validated rule, ready to test recipients. It is safe for
// concurrent use.
type Matcher struct {
	match func(*Recipient) bool
}

// Match reports whether r satisfies the rule.
func (m Matcher) Match(r Recipient) bool { return m.match(&r) }

// Compile validates r, normalizing its values in place (kinds and
// jurisdictions to their codes, locales to canonical tags), and returns its
// Matcher. The error is EINVALID and names the part of the rule at fault,
// like rule.all[1].values[0].
func Compile(r *Rule) (Matcher, error) {
	c := compiler{}
	fn, err := c.compile(r, "rule", 0)
	if err != nil {
		return Matcher{}, err
	}
	return Matcher{match: fn}, nil
}

type compiler struct{ conditions int }

func (c *compiler) compile(r *Rule, path string, depth int) (func(*Recipient) bool, error) {
	if depth > maxDepth {
		return nil, apperr.Invalid(path, "the rule is nested more than %d levels deep; simplify it", maxDepth)
	}
	forms := 0
	for _, set := range []bool{r.All != nil, r.Any != nil, r.Not != nil, r.Field != "" || r.Op != ""} {
		if set {
			forms++
		}
	}
	if forms != 1 {
		return nil, apperr.Invalid(path, "a rule is exactly one of: all, any, not, or a condition (field, op, value)")
	}
	switch {
	case r.All != nil, r.Any != nil:
		subs, all := r.All, r.All != nil
		name := "all"
		if !all {
			subs, name = r.Any, "any"
		}
		if len(subs) == 0 {
			return nil, apperr.Invalid(path+"."+name, "list at least one rule")
		}
		fns := make([]func(*Recipient) bool, len(subs))
		for i := range subs {
			fn, err := c.compile(&subs[i], fmt.Sprintf("%s.%s[%d]", path, name, i), depth+1)
			if err != nil {
				return nil, err
			}
			fns[i] = fn
		}
		if all {
			return func(x *Recipient) bool {
				for _, f := range fns {
					if !f(x) {
						return false
					}
				}
				return true
			}, nil
		}
		return func(x *Recipient) bool {
			for _, f := range fns {
				if f(x) {
					return true
				}
			}
			return false
		}, nil
	case r.Not != nil:
		fn, err := c.compile(r.Not, path+".not", depth+1)
		if err != nil {
			return nil, err
		}
		return func(x *Recipient) bool { return !fn(x) }, nil
	}
	if c.conditions++; c.conditions > maxConditions {
		return nil, apperr.Invalid(path, "the rule has more than %d conditions; simplify it", maxConditions)
	}
	return c.condition(r, path)
}

var fieldGetters = map[string]func(*Recipient) string{
	FieldEmail:        func(x *Recipient) string { return x.Email },
	FieldPhone:        func(x *Recipient) string { return x.Phone },
	FieldName:         func(x *Recipient) string { return x.Name },
	FieldLocale:       func(x *Recipient) string { return x.Locale },
	FieldJurisdiction: func(x *Recipient) string { return x.Jurisdiction },
	FieldExternalID:   func(x *Recipient) string { return x.ExternalID },
}

func (c *compiler) condition(r *Rule, path string) (func(*Recipient) bool, error) {
	r.Field = strings.ToLower(strings.TrimSpace(r.Field))
	r.Op = strings.ToLower(strings.TrimSpace(r.Op))
	if r.Op == "=" {
		r.Op = OpEquals
	}
	if r.Field != "attribute" && r.Attribute != "" {
		return nil, apperr.Invalid(path+".attribute", "attribute goes with \"field\": \"attribute\"")
	}
	if r.Op == OpIsSet {
		if r.Value != "" || len(r.Values) > 0 {
			return nil, apperr.Invalid(path+".value", "is_set takes no value")
		}
	} else if (r.Value == "") == (len(r.Values) == 0) || (r.Op != OpIn && r.Op != OpIncludes && len(r.Values) > 0) {
		switch r.Op {
		case OpIn:
			return nil, apperr.Invalid(path+".values", "in takes a list of values, e.g. \"values\": [\"US-CA\", \"US-NY\"]")
		case OpIncludes:
			return nil, apperr.Invalid(path+".value", "includes takes a value, or a list of values (any of which matches)")
		default:
			return nil, apperr.Invalid(path+".value", "%s takes one value", orOp(r.Op))
		}
	}
	if r.Op == OpIn && r.Value != "" {
		return nil, apperr.Invalid(path+".values", "in takes a list of values, e.g. \"values\": [\"US-CA\", \"US-NY\"]")
	}
	if r.Field == FieldExposed {
		return exposedCondition(r, path)
	}
	var get func(*Recipient) string
	switch r.Field {
	case "attribute":
		r.Attribute = strings.ToLower(strings.TrimSpace(r.Attribute))
		if !ValidAttributeKey(r.Attribute) {
			return nil, apperr.Invalid(path+".attribute", "name the attribute (letters, digits and _), e.g. \"attribute\": \"plan\"")
		}
		key := r.Attribute
		get = func(x *Recipient) string { return x.Attributes[key] }
	case "":
		return nil, apperr.Invalid(path+".field", "say which field the condition tests: email, phone, name, locale, jurisdiction, external_id, exposed or attribute")
	default:
		var ok bool
		if get, ok = fieldGetters[r.Field]; !ok {
			return nil, apperr.Invalid(path+".field", "unknown field %q; use email, phone, name, locale, jurisdiction, external_id, exposed or attribute", r.Field)
		}
	}
	if err := normalizeValues(r, path); err != nil {
		return nil, err
	}
	subtags := r.Field == FieldLocale || r.Field == FieldJurisdiction
	switch r.Op {
	case OpIsSet:
		return func(x *Recipient) bool { return get(x) != "" }, nil
	case OpEquals:
		v := r.Value
		return func(x *Recipient) bool { return strings.EqualFold(get(x), v) }, nil
	case OpIn:
		vs := slices.Clone(r.Values)
		return func(x *Recipient) bool {
			s := get(x)
			for _, v := range vs {
				if strings.EqualFold(s, v) {
					return true
				}
			}
			return false
		}, nil
	case OpStartsWith:
		v := strings.ToLower(r.Value)
		return func(x *Recipient) bool {
			s := get(x)
			if len(s) < len(v) || !strings.EqualFold(s[:len(v)], v) {
				return false
			}
			return !subtags || len(s) == len(v) || s[len(v)] == '-' || strings.HasSuffix(v, "-")
		}, nil
	case OpEndsWith:
		v := strings.ToLower(r.Value)
		return func(x *Recipient) bool {
			s := get(x)
			return len(s) >= len(v) && strings.EqualFold(s[len(s)-len(v):], v)
		}, nil
	case OpIncludes:
		return nil, apperr.Invalid(path+".op", "includes is for exposed data kinds; for %s use equals, in, starts_with, ends_with or is_set", r.Field)
	}
	return nil, apperr.Invalid(path+".op", "unknown operator %q; use equals, in, starts_with, ends_with or is_set", r.Op)
}

func orOp(op string) string {
	if op == "" {
		return "the operator"
	}
	return op
}

// normalizeValues puts values in the form recipients are stored in, and
// refuses values no recipient could have (an unknown jurisdiction).
func normalizeValues(r *Rule, path string) error {
	norm := func(v, at string) (string, error) {
		v = strings.TrimSpace(v)
		if v == "" {
			return "", apperr.Invalid(at, "empty value")
		}
		switch {
		case r.Field == FieldJurisdiction && r.Op != OpStartsWith && r.Op != OpEndsWith:
			c, fe := NormalizeJurisdiction(v)
			if fe != nil {
				return "", apperr.Invalid(at, "%s", fe.reason)
			}
			return c, nil
		case r.Field == FieldLocale && r.Op != OpEndsWith:
			l, fe := newLocaleCache().normalize(v)
			if fe != nil {
				return "", apperr.Invalid(at, "%s", fe.reason)
			}
			return l, nil
		case r.Field == FieldPhone && (r.Op == OpEquals || r.Op == OpIn):
			p, fe := NormalizePhone(v)
			if fe != nil {
				return "", apperr.Invalid(at, "%s", fe.reason)
			}
			return p, nil
		}
		return v, nil
	}
	var err error
	if r.Value != "" {
		if r.Value, err = norm(r.Value, path+".value"); err != nil {
			return err
		}
	}
	for i := range r.Values {
		if r.Values[i], err = norm(r.Values[i], fmt.Sprintf("%s.values[%d]", path, i)); err != nil {
			return err
		}
	}
	return nil
}

func exposedCondition(r *Rule, path string) (func(*Recipient) bool, error) {
	switch r.Op {
	case OpIsSet:
		return func(x *Recipient) bool { return len(x.Exposed) > 0 }, nil
	case OpIncludes:
	default:
		return nil, apperr.Invalid(path+".op", "for exposed use includes (e.g. \"op\": \"includes\", \"value\": \"card_number\") or is_set")
	}
	vals := r.Values
	at := path + ".values"
	if r.Value != "" {
		vals, at = []string{r.Value}, path+".value"
	}
	kinds := make([]incident.DataKind, len(vals))
	for i, v := range vals {
		k := incident.DataKind(strings.ToLower(strings.TrimSpace(v)))
		if !k.Valid() {
			where := at
			if r.Value == "" {
				where = fmt.Sprintf("%s[%d]", at, i)
			}
			return nil, apperr.Invalid(where, "unknown data kind %q; use the codes of GET /api/v1/data-kinds, e.g. card_number", v)
		}
		kinds[i] = k
	}
	if r.Value != "" {
		r.Value = string(kinds[0])
	} else {
		for i, k := range kinds {
			r.Values[i] = string(k)
		}
	}
	return func(x *Recipient) bool {
		for _, k := range kinds {
			if slices.Contains(x.Exposed, k) {
				return true
			}
		}
		return false
	}, nil
}

// String writes the rule in words, e.g. `exposed includes card_number and
// jurisdiction in (US-CA, US-NY)`.
func (r Rule) String() string {
	join := func(rs []Rule, word string) string {
		parts := make([]string, len(rs))
		for i, s := range rs {
			parts[i] = s.String()
			if len(s.All)+len(s.Any) > 0 {
				parts[i] = "(" + parts[i] + ")"
			}
		}
		return strings.Join(parts, " "+word+" ")
	}
	switch {
	case r.All != nil:
		return join(r.All, "and")
	case r.Any != nil:
		return join(r.Any, "or")
	case r.Not != nil:
		return "not (" + r.Not.String() + ")"
	}
	field := r.Field
	if field == "attribute" {
		field = "attribute " + r.Attribute
	}
	op := strings.ReplaceAll(r.Op, "_", " ")
	switch {
	case r.Op == OpIsSet:
		return field + " is set"
	case r.Op == OpEquals:
		op = "="
	case r.Op == OpIncludes && len(r.Values) > 0:
		op = "includes any of"
	}
	if len(r.Values) > 0 {
		return fmt.Sprintf("%s %s (%s)", field, op, strings.Join(r.Values, ", "))
	}
	return fmt.Sprintf("%s %s %s", field, op, r.Value)
}

// Count is how many of an audience's members a rule matches.
type Count struct {
	Members  int64 `json:"members"`
	Matching int64 `json:"matching"`
}
