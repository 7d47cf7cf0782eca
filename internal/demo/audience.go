package demo

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"

	"github.com/candorhq/candor/internal/app"
	"github.com/candorhq/candor/internal/audience"
	"github.com/candorhq/candor/internal/auth"
)

// AffectedCount is how many recipients the demo's affected audience holds.
const AffectedCount = 15000

var (
	firstNames = []string{"James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Elizabeth",
		"William", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah", "Charles", "Karen", "Daniel", "Nancy",
		"Matthew", "Lisa", "Anthony", "Betty", "Mark", "Sandra", "Steven", "Ashley", "Andrew", "Emily", "Kevin", "Michelle",
		"Brian", "Amanda", "Wei", "Mei", "Hiroshi", "Yuki", "Priya", "Arjun", "Minh", "Linh", "Aaliyah", "Jamal", "Olivia", "Noah"}
	lastNames = []string{"Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson", "Taylor",
		"Thomas", "Moore", "Martin", "Jackson", "Thompson", "White", "Harris", "Clark", "Lewis", "Robinson", "Walker", "Young",
		"Allen", "King", "Wright", "Scott", "Nguyen", "Chen", "Kim", "Patel", "Tanaka", "Okafor", "Baker", "Nelson", "Carter", "Mitchell"}
	spanishFirst = []string{"José", "María", "Juan", "Guadalupe", "Luis", "Carmen", "Carlos", "Ana", "Jorge", "Sofía", "Miguel", "Lucía", "Alejandro", "Valentina"}
	spanishLast  = []string{"García", "Rodríguez", "Martínez", "Hernández", "López", "González", "Pérez", "Sánchez", "Ramírez", "Torres", "Flores", "Rivera"}
	frenchFirst  = []string{"Jean", "Marie", "Luc", "Geneviève", "Mathieu", "Chloé", "Étienne", "Camille", "François", "Élodie"}
	frenchLast   = []string{"Tremblay", "Gagnon", "Roy", "Côté", "Bouchard", "Gauthier", "Morin", "Lavoie", "Fortin", "Gagné"}
	mailDomains  = []string{"example.com", "example.net", "example.org", "mail.example", "inbox.example"}
	areaCodes    = map[string][]string{"US-CA": {"951", "909", "760", "619", "714", "213", "415"}, "US-NV": {"702", "775"}, "US-OR": {"503", "541"}, "US-MA": {"617", "508"}}
)

// asciiFold spells a name the way it would appear in an email address.
var asciiFold = strings.NewReplacer("á", "a", "é", "e", "í", "i", "ó", "o", "ú", "u", "ñ", "n", "É", "E", "è", "e", "ô", "o", "ç", "c", "ï", "i")

// customers writes a CSV of n generated customers, the way a billing
// system would export them. rnd makes it the same every time.
// It streams: memory stays flat however many are asked for.
func customers(rnd *rand.Rand, n int, prefix string, affected bool) io.Reader {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeCustomers(pw, rnd, n, prefix, affected)) }()
	return pr
}

func writeCustomers(w io.Writer, rnd *rand.Rand, n int, prefix string, affected bool) error {
	b := bufio.NewWriterSize(w, 64<<10)
	b.WriteString("customer_id,name,email,phone,locale,state,exposed,plan\n")
	for i := range n {
		locale, first, last := "en-US", firstNames[rnd.IntN(len(firstNames))], lastNames[rnd.IntN(len(lastNames))]
		switch p := rnd.IntN(100); {
		case p < 9:
			locale, first, last = "es-US", spanishFirst[rnd.IntN(len(spanishFirst))], spanishLast[rnd.IntN(len(spanishLast))]
		case p < 13:
			locale, first, last = "fr-CA", frenchFirst[rnd.IntN(len(frenchFirst))], frenchLast[rnd.IntN(len(frenchLast))]
		}
		state := "US-CA"
		switch p := rnd.IntN(100); {
		case p < 6:
			state = "US-NV"
		case p < 9:
			state = "US-OR"
		case p < 11:
			state = "US-MA"
		}
		codes := areaCodes[state]
		phone := fmt.Sprintf("+1%s555%04d", codes[rnd.IntN(len(codes))], rnd.IntN(10000))
		email := fmt.Sprintf("%s.%s%d@%s", strings.ToLower(asciiFold.Replace(first)), strings.ToLower(asciiFold.Replace(strings.ReplaceAll(last, " ", ""))), i, mailDomains[rnd.IntN(len(mailDomains))])
		exposed := ""
		if affected {
			exposed = "name;email;card_number"
			if rnd.IntN(100) < 60 {
				exposed += ";card_expiry"
			}
			if rnd.IntN(100) < 4 {
				exposed += ";postal_address"
			}
		}
		plan := "home"
		if rnd.IntN(100) < 18 {
			plan = "business"
		}
		if rnd.IntN(100) < 7 {
			phone = "" // not everyone gave a phone number
		}
		if _, err := fmt.Fprintf(b, "%s-%06d,\"%s %s\",%s,%s,%s,%s,%s,%s\n", prefix, 100000+i, first, last, email, phone, locale, state, exposed, plan); err != nil {
			return err
		}
	}
	return b.Flush()
}

// seedAudiences gives the demo incident its audiences: the affected
// customers (AffectedCount generated people, imported through the same
// path as any CSV file), customers not affected, staff through a standing
// list, press and regulators; and two segments.
func seedAudiences(ctx context.Context, svc *app.Service, by auth.Principal, incidentID int64, affectedCount int) error {
	rnd := rand.New(rand.NewPCG(2024, 3))
	create := func(n audience.New) (audience.Audience, error) {
		a, err := svc.CreateAudience(ctx, by, n)
		if err != nil {
			return a, fmt.Errorf("seed audience %s: %w", n.Name, err)
		}
		return a, nil
	}
	load := func(a audience.Audience, file string, csv io.Reader) error {
		if _, err := svc.ImportRecipients(ctx, by, a.ID, csv, audience.ImportOptions{FileName: file}); err != nil {
			return fmt.Errorf("seed recipients of %s: %w", a.Name, err)
		}
		return nil
	}
	affected, err := create(audience.New{IncidentID: incidentID, Kind: audience.AffectedCustomers, Name: "Affected subscribers",
		Description: "Subscribers whose card details were in the stolen billing export"})
	if err != nil {
		return err
	}
	if err := load(affected, "billing-export-affected.csv", customers(rnd, affectedCount, "LL", true)); err != nil {
		return err
	}
	unaffected, err := create(audience.New{IncidentID: incidentID, Kind: audience.UnaffectedCustomers, Name: "Subscribers not affected",
		Description: "Subscribers who pay by bank transfer: their details were not in the export"})
	if err != nil {
		return err
	}
	if err := load(unaffected, "subscribers-not-affected.csv", customers(rnd, 340, "LN", false)); err != nil {
		return err
	}

	staff, err := create(audience.New{Kind: audience.Employees, Name: "All staff", Description: "Everyone at linkLINE, from the HR system"})
	if err != nil {
		return err
	}
	var sb strings.Builder
	sb.WriteString("name,email,phone,department\n")
	for i := range 42 {
		first, last := firstNames[i%len(firstNames)], lastNames[(i*7+rnd.IntN(3))%len(lastNames)]
		fmt.Fprintf(&sb, "%s %s,%s.%s@linkline.example,+1951555%04d,%s\n", first, last, strings.ToLower(first), strings.ToLower(last), 1000+i,
			[]string{"Support", "Network", "Billing", "Sales", "Engineering"}[i%5])
	}
	if err := load(staff, "hr-staff.csv", bytes.NewBufferString(sb.String())); err != nil {
		return err
	}
	employees, err := create(audience.New{IncidentID: incidentID, Kind: audience.Employees, Name: "Employees", Description: "Staff hear it from us before they read it anywhere else"})
	if err != nil {
		return err
	}
	if _, err := svc.AttachList(ctx, by, employees.ID, staff.ID); err != nil {
		return fmt.Errorf("seed: attach staff: %w", err)
	}

	press, err := create(audience.New{IncidentID: incidentID, Kind: audience.Press, Name: "Press", Description: "Local newspapers and the trade press"})
	if err != nil {
		return err
	}
	if err := load(press, "press.csv", bytes.NewBufferString("name,email,phone,outlet\n"+
		"Dana Whitfield,dana.whitfield@inland-daily.example,+19515550142,Inland Daily\n"+
		"Ray Ocampo,newsdesk@valley-news.example,+17605550187,Valley News\n"+
		"Priya Raman,priya@broadband-weekly.example,,Broadband Weekly\n")); err != nil {
		return err
	}
	regulators, err := create(audience.New{IncidentID: incidentID, Kind: audience.Regulators, Name: "Regulators", Description: "Attorneys general of the states where affected subscribers live"})
	if err != nil {
		return err
	}
	if err := load(regulators, "regulators.csv", bytes.NewBufferString("name,email,jurisdiction,office\n"+
		"Privacy Enforcement Section,privacy@oag.ca.example,US-CA,California Attorney General\n"+
		"Bureau of Consumer Protection,consumer@ag.nv.example,US-NV,Nevada Attorney General\n")); err != nil {
		return err
	}

	for _, sg := range []audience.NewSegment{
		{Name: "Card and expiry exposed", Description: "Their card can be used online: they should ask their bank for a new one",
			Rule: audience.Rule{All: []audience.Rule{{Field: "exposed", Op: "includes", Value: "card_number"}, {Field: "exposed", Op: "includes", Value: "card_expiry"}}}},
		{Name: "Business plan", Description: "Business subscribers get a call from their account manager too",
			Rule: audience.Rule{All: []audience.Rule{{Field: "attribute", Attribute: "plan", Op: "equals", Value: "business"}}}},
	} {
		sg.IncidentID = incidentID
		if _, err := svc.CreateSegment(ctx, by, sg); err != nil {
			return fmt.Errorf("seed segment %s: %w", sg.Name, err)
		}
	}
	return nil
}
