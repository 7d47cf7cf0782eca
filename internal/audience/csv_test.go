package audience_test

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/audience"
	"github.com/candorhq/candor/internal/incident"
)

// readAll runs a whole import and returns the recipients it would store.
func readAll(t testing.TB, data string, opt audience.ImportOptions) ([]audience.Recipient, audience.Report, error) {
	t.Helper()
	im, err := audience.StartImport(strings.NewReader(data), opt)
	if err != nil {
		return nil, audience.Report{}, err
	}
	var out []audience.Recipient
	for {
		b, err := im.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("next: %v", err)
		}
		out = append(out, b...)
	}
	rep, err := im.Verdict()
	return out, rep, err
}

func TestImportFields(t *testing.T) {
	data := "\uFEFFE-mail,Full_Name,Mobile,Language,State,ID,Exposed,Plan Tier,Notes\n" +
		"Ana@Example.com,\"Ana, the first\",+1 (415) 555-0123,fr_ca,us-ca,c-1,card_number; email,Business,\n" +
		"\"bob@example.com\",\"Bob\nSmith\",,en,FR,c-2,password_hash|email,,\"said \"\"hi\"\"\"\n"
	got, rep, err := readAll(t, data, audience.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []audience.Recipient{
		{Email: "ana@example.com", Name: "Ana, the first", Phone: "+14155550123", Locale: "fr-CA", Jurisdiction: "US-CA", ExternalID: "c-1",
			Exposed: []incident.DataKind{"card_number", "email"}, Attributes: map[string]string{"plan_tier": "Business"}},
		{Email: "bob@example.com", Name: "Bob\nSmith", Locale: "en", Jurisdiction: "FR", ExternalID: "c-2",
			Exposed: []incident.DataKind{"email", "password_hash"}, Attributes: map[string]string{"notes": `said "hi"`}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %+v\nwant %+v", got, want)
	}
	if rep.Rows != 2 || rep.Accepted != 2 || rep.Rejected != 0 || !rep.Kept {
		t.Fatalf("report %+v", rep)
	}
	cols := map[string]string{}
	for _, c := range rep.Columns {
		cols[c.Heading] = c.Field
	}
	if cols["E-mail"] != "email" || cols["Plan Tier"] != "attr:plan_tier" || cols["State"] != "jurisdiction" {
		t.Fatalf("columns %v", cols)
	}
}

func TestImportRejectsRowsWithLineAndColumn(t *testing.T) {
	data := "email,phone,locale,jurisdiction,exposed,note\n" + // line 1
		"ok@example.com,,,,,\n" + // 2
		"not-an-address,,,,,\n" + // 3
		"b@example.com,0612345678,,,,\"two\nlines\"\n" + // 4-5: bad phone, record starts on line 4
		"c@example.com,,,US-ZZ,,\n" + // 6
		"d@example.com,,,,shoe_size,\n" + // 7
		"e@example.com,,xx-!!,,,\n" + // 8
		",,,,,\n" + // 9: neither email nor phone
		"f@example.com,,\n" + // 10: wrong cell count
		"g@exa\"mple.com,,,,,\n" + // 11: bare quote
		",+33612345678,,,,\n" // 12: phone only, fine
	var errCSV bytes.Buffer
	got, rep, err := readAll(t, data, audience.ImportOptions{Errors: &errCSV})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || rep.Accepted != 2 || rep.Rejected != 8 || rep.Rows != 10 {
		t.Fatalf("accepted %d rejected %d rows %d, recipients %d", rep.Accepted, rep.Rejected, rep.Rows, len(got))
	}
	want := []struct {
		line   int
		column string
		reason string
	}{
		{3, "email", "no @"},
		{4, "phone", "E.164"},
		{6, "jurisdiction", "not a known jurisdiction"},
		{7, "exposed", "unknown data kind"},
		{8, "locale", "not a language tag"},
		{9, "email", "neither an email address nor a phone number"},
		{10, "", "3 cells but the header has 6"},
		{11, "", "malformed CSV"},
	}
	for i, w := range want {
		e := rep.Errors[i]
		if e.Line != w.line || e.Column != w.column || !strings.Contains(e.Reason, w.reason) {
			t.Errorf("rejection %d: %+v, want line %d column %q reason ~%q", i, e, w.line, w.column, w.reason)
		}
	}
	recs, err := csv.NewReader(&errCSV).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 9 || strings.Join(recs[0], ",") != "line,column,value,reason" || recs[2][0] != "4" || recs[2][2] != "0612345678" {
		t.Fatalf("errors CSV: %q", recs)
	}
}

func TestImportAllOrNothing(t *testing.T) {
	data := "email\na@example.com\nbroken\nb@example.com\n"
	got, rep, err := readAll(t, data, audience.ImportOptions{AllOrNothing: true, BatchSize: 1})
	if apperr.Code(err) != apperr.EINVALID || !strings.Contains(apperr.Message(err), "nothing was imported") {
		t.Fatalf("err %v", err)
	}
	if rep.Kept || rep.Rows != 3 || rep.Rejected != 1 || rep.Accepted != 2 {
		t.Fatalf("report %+v", rep)
	}
	// The batch read before the bad row is handed out; the store rolls it
	// back when the verdict refuses the import.
	if len(got) > 1 {
		t.Fatalf("batches after the rejection: %v", got)
	}
}

func TestImportMergesDuplicates(t *testing.T) {
	data := "email,name,plan,seats\nA@example.com,Ana,pro,3\na@example.com,,business,\n"
	got, rep, err := readAll(t, data, audience.ImportOptions{})
	if err != nil || rep.Accepted != 2 {
		t.Fatal(err, rep)
	}
	want := []audience.Recipient{{Email: "a@example.com", Name: "Ana", Attributes: map[string]string{"plan": "business", "seats": "3"}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v", got)
	}
}

func TestImportRefusesBadFilesAtOnce(t *testing.T) {
	cases := []struct {
		name, data string
		mapping    audience.Mapping
		want       string
	}{
		{"empty", "", nil, "the file is empty"},
		{"binary", "PK\x03\x04\x00\x00\x08\x00", nil, "binary data"},
		{"latin-1", "email,name\na@example.com,Jos\xe9\n", nil, "not UTF-8"},
		{"utf-16", "\xff\xfee\x00m\x00", nil, "UTF-16"},
		{"semicolons", "email;name;plan\na@example.com;Ana;pro\n", nil, "semicolons"},
		{"tabs", "email\tname\na@example.com\tAna\n", nil, "tab-separated"},
		{"no address column", "customer,plan\nAna,pro\n", nil, "no column holds email addresses or phone numbers"},
		{"two email columns", "email,e-mail\na@example.com,b@example.com\n", nil, "both map to email"},
		{"mapping names a missing column", "email\na@example.com\n", audience.Mapping{"Plan": "attr:plan"}, "does not have"},
		{"mapping to an unknown field", "email\na@example.com\n", audience.Mapping{"email": "mail"}, "unknown field"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			data := c.data
			if data != "" {
				data += strings.Repeat("a@example.com,x\n", 1000)
			}
			_, err := audience.StartImport(strings.NewReader(data), audience.ImportOptions{Mapping: c.mapping})
			if apperr.Code(err) != apperr.EINVALID || !strings.Contains(apperr.Message(err), c.want) {
				t.Fatalf("got %v, want an invalid error containing %q", err, c.want)
			}
		})
	}
}

func TestImportMapping(t *testing.T) {
	m, err := audience.ParseMapping("E-mail Address=email, Plan=attr:tier ,Notes=ignore,Contact=phone")
	if err != nil {
		t.Fatal(err)
	}
	data := "e-mail address,plan,notes,contact,email\nA@example.com,pro,secret,+33612345678,other@example.com\n"
	// "email" is mapped by default too, so the user must say what it is.
	if _, _, err := readAll(t, data, audience.ImportOptions{Mapping: m}); err == nil || !strings.Contains(err.Error(), "both map to email") {
		t.Fatalf("default and mapped email columns: %v", err)
	}
	m["email"] = "attr:alt_email"
	got, _, err := readAll(t, data, audience.ImportOptions{Mapping: m})
	if err != nil {
		t.Fatal(err)
	}
	want := audience.Recipient{Email: "a@example.com", Phone: "+33612345678", Attributes: map[string]string{"tier": "pro", "alt_email": "other@example.com"}}
	if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
		t.Fatalf("got %+v", got)
	}
	for _, bad := range []string{"Plan", "Plan=", "Plan=attr:Bad Name", "Plan=colour"} {
		if _, err := audience.ParseMapping(bad); apperr.Code(err) != apperr.EINVALID {
			t.Errorf("ParseMapping(%q): %v", bad, err)
		}
	}
}

func TestImportProgress(t *testing.T) {
	var b strings.Builder
	b.WriteString("email\n")
	for i := range 10000 {
		b.WriteString("p" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + "@example.com\n")
	}
	var last audience.Progress
	calls := 0
	_, rep, err := readAll(t, b.String(), audience.ImportOptions{Total: int64(b.Len()), Progress: func(p audience.Progress) { last = p; calls++ }})
	if err != nil {
		t.Fatal(err)
	}
	if calls < 3 || last.Rows != 10000 || last.Bytes != int64(b.Len()) || last.Total != int64(b.Len()) || rep.Rows != 10000 {
		t.Fatalf("%d calls, last %+v", calls, last)
	}
}

func TestNormalize(t *testing.T) {
	cases := []struct {
		in       audience.Recipient
		want     audience.Recipient
		errField string
	}{
		{audience.Recipient{Email: " Ana@Example.COM "}, audience.Recipient{Email: "ana@example.com"}, ""},
		{audience.Recipient{Phone: "0033 6 12 34 56 78"}, audience.Recipient{Phone: "+33612345678"}, ""},
		{audience.Recipient{Email: "josé@exämple.de", Locale: "EN-gb"}, audience.Recipient{Email: "josé@exämple.de", Locale: "en-GB"}, ""},
		{audience.Recipient{Email: "a@b"}, audience.Recipient{}, "email"},
		{audience.Recipient{Email: "a b@example.com"}, audience.Recipient{}, "email"},
		{audience.Recipient{Email: "a@example.com", Phone: "+0123456789"}, audience.Recipient{}, "phone"},
		{audience.Recipient{Email: "a@example.com", Jurisdiction: "XX"}, audience.Recipient{}, "jurisdiction"},
		{audience.Recipient{Email: "a@example.com", Attributes: map[string]string{"Bad Key": "x"}}, audience.Recipient{}, "attributes"},
		{audience.Recipient{}, audience.Recipient{}, "email"},
	}
	for _, c := range cases {
		r := c.in
		err := r.Validate()
		if c.errField != "" {
			if e := apperr.As(err); e == nil || e.Field != c.errField {
				t.Errorf("%+v: got %v, want an error on %s", c.in, err, c.errField)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(r, c.want) {
			t.Errorf("%+v: got %+v, %v", c.in, r, err)
		}
	}
}

// FuzzImport feeds arbitrary bytes to the importer: it never panics or
// fails to terminate, every rejection names a line inside the file, and
// every data row is either accepted or rejected.
func FuzzImport(f *testing.F) {
	for _, s := range []string{
		"email,name\na@example.com,Ana\n",
		"email,phone,exposed\n\"a\n@example.com\",+33612345678,card_number\n,,\n",
		"\xef\xbb\xbfEmail;Name\nx;y\n",
		"email\n\"unterminated\n",
		"email,x\na@example.com\nb@example.com,1,2\n",
		"email\r\na@example.com\r\n\r\n\"b\"\"@example.com\"\r\n",
		"phone,locale,jurisdiction\n+14155550123,en-US,US-CA\n+1,zz-ZZ-!!,US-ZZ\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		im, err := audience.StartImport(bytes.NewReader(data), audience.ImportOptions{BatchSize: 3, KeepErrors: 1 << 20})
		if err != nil {
			if apperr.Code(err) != apperr.EINVALID {
				t.Fatalf("start: a non-user error %v", err)
			}
			return
		}
		accepted := 0
		for {
			b, err := im.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("next: %v", err)
			}
			for _, r := range b {
				if r.Email == "" && r.Phone == "" {
					t.Fatalf("accepted a recipient without email or phone: %+v", r)
				}
			}
			accepted += len(b)
		}
		rep, _ := im.Verdict()
		lines := bytes.Count(data, []byte("\n")) + 1
		for _, e := range rep.Errors {
			if e.Line < 2 || e.Line > lines {
				t.Fatalf("rejection on line %d of a %d-line file: %+v", e.Line, lines, e)
			}
		}
		if rep.Accepted+rep.Rejected != rep.Rows {
			t.Fatalf("accepted %d + rejected %d != rows %d", rep.Accepted, rep.Rejected, rep.Rows)
		}
		if int64(accepted) > rep.Accepted {
			t.Fatalf("%d recipients from %d accepted rows", accepted, rep.Accepted)
		}
		// The data rows are the records encoding/csv sees after the header.
		cr := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))))
		cr.FieldsPerRecord = -1
		records := -1
		for {
			_, err := cr.Read()
			if err == io.EOF {
				break
			}
			var pe *csv.ParseError
			if err != nil && !errors.As(err, &pe) {
				break
			}
			records++
		}
		if int64(records) != rep.Rows {
			t.Fatalf("importer saw %d rows, encoding/csv %d", rep.Rows, records)
		}
	})
}
