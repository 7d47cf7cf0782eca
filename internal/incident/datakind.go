package incident

// DataKind is one kind of personal data that can be exposed in a breach,
// from a controlled vocabulary so that notices, segments and legal rules can
// reason about it.
type DataKind string

// DataKinds lists the vocabulary in the order forms show it, with labels.
var DataKinds = []struct {
	Kind  DataKind
	Label string
}{
	{"name", "Names"},
	{"email", "Email addresses"},
	{"postal_address", "Postal addresses"},
	{"phone", "Phone numbers"},
	{"date_of_birth", "Dates of birth"},
	{"password_hash", "Hashed passwords"},
	{"credentials_plaintext", "Passwords in plain text"},
	{"security_qa", "Security questions and answers"},
	{"card_number", "Payment card numbers"},
	{"card_expiry", "Card expiry dates"},
	{"card_cvv", "Card security codes (CVV)"},
	{"bank_account", "Bank account numbers"},
	{"ssn", "Social Security numbers"},
	{"government_id", "Government ID numbers (passport, driver's licence)"},
	{"tax_id", "Tax identification numbers"},
	{"health", "Health information"},
	{"health_insurance", "Health insurance information"},
	{"biometric", "Biometric data"},
	{"email_contents", "Contents of emails"},
	{"email_metadata", "Email metadata (senders, recipients, subjects)"},
	{"contract_details", "Contract and account details"},
	{"usage_data", "Usage and browsing data"},
	{"ip_address", "IP addresses"},
	{"location", "Precise location"},
	{"username", "Usernames"},
}

var dataKindLabels = func() map[DataKind]string {
	m := make(map[DataKind]string, len(DataKinds))
	for _, d := range DataKinds {
		m[d.Kind] = d.Label
	}
	return m
}()

// Valid reports whether k is in the vocabulary.
func (k DataKind) Valid() bool { _, ok := dataKindLabels[k]; return ok }

// Label is the human name of k ("Payment card numbers"); unknown kinds return
// the raw code.
func (k DataKind) Label() string {
	if l, ok := dataKindLabels[k]; ok {
		return l
	}
	return string(k)
}
