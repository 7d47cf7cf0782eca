package audience

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/incident"
)

// The fields a column can fill. A column can also become an attribute
// ("attr:plan") or be ignored.
const (
	FieldEmail        = "email"
	FieldPhone        = "phone"
	FieldName         = "name"
	FieldLocale       = "locale"
	FieldJurisdiction = "jurisdiction"
	FieldExternalID   = "external_id"
	FieldExposed      = "exposed"
	FieldIgnore       = "ignore"
	attrPrefix        = "attr:"
)

// defaultFields maps column headings, as AttributeKey normalises them, to
// fields. Any other heading becomes an attribute named after it.
var defaultFields = map[string]string{
	"email": FieldEmail, "e_mail": FieldEmail, "email_address": FieldEmail, "e_mail_address": FieldEmail,
	"phone": FieldPhone, "mobile": FieldPhone, "phone_number": FieldPhone, "mobile_number": FieldPhone, "mobile_phone": FieldPhone,
	"name": FieldName, "full_name": FieldName,
	"locale": FieldLocale, "language": FieldLocale,
	"jurisdiction": FieldJurisdiction, "region": FieldJurisdiction, "state": FieldJurisdiction,
	"external_id": FieldExternalID, "id": FieldExternalID,
	"exposed": FieldExposed, "exposed_data": FieldExposed,
}

// DefaultMappingHelp documents the default mapping for help texts.
const DefaultMappingHelp = `email, e-mail, email address     → email
phone, mobile, phone number       → phone (E.164, e.g. +14155550123)
name, full_name                   → name
locale, language                  → locale (BCP 47, e.g. fr-CA)
jurisdiction, region, state       → jurisdiction (ISO 3166, e.g. US-CA, FR)
external_id, id                   → external id
exposed, exposed_data             → exposed data kinds, separated by ; or |
any other column                  → an attribute named after the heading
                                    ("Plan Tier" → plan_tier)`

// Mapping overrides the default mapping: column heading (matched without
// regard to case) → field ("email", "phone", "name", "locale",
// "jurisdiction", "external_id", "exposed", "attr:NAME" or "ignore").
type Mapping map[string]string

// ParseMapping reads a mapping written as `Heading=field,Heading=attr:name`,
// e.g. "E-mail Address=email,Plan=attr:plan,Notes=ignore".
func ParseMapping(s string) (Mapping, error) {
	m := Mapping{}
	if strings.TrimSpace(s) == "" {
		return m, nil
	}
	for _, part := range strings.Split(s, ",") {
		h, f, ok := strings.Cut(part, "=")
		h, f = strings.TrimSpace(h), strings.ToLower(strings.TrimSpace(f))
		if !ok || h == "" || f == "" {
			return nil, apperr.Invalid("map", "%q is not a mapping; write Heading=field, e.g. \"E-mail Address=email,Plan=attr:plan\"", strings.TrimSpace(part))
		}
		if err := checkTarget(f); err != nil {
			return nil, err
		}
		m[h] = f
	}
	return m, nil
}

func checkTarget(f string) error {
	switch f {
	case FieldEmail, FieldPhone, FieldName, FieldLocale, FieldJurisdiction, FieldExternalID, FieldExposed, FieldIgnore:
		return nil
	}
	if k, ok := strings.CutPrefix(f, attrPrefix); ok {
		if !ValidAttributeKey(k) {
			return apperr.Invalid("map", "%q: an attribute name uses lower-case letters, digits and _ only (e.g. attr:plan)", f)
		}
		return nil
	}
	return apperr.Invalid("map", "unknown field %q; map columns to email, phone, name, locale, jurisdiction, external_id, exposed, attr:NAME or ignore", f)
}

// Column says where one column of a file goes.
type Column struct {
	Heading string `json:"heading"`
	Field   string `json:"field"` // a field name, "attr:NAME" or "ignore"
}

// Rejection is a row that was not imported: the physical line where its
// record starts (quoted fields may span lines), the column at fault (its
// heading, "" when the row as a whole is malformed), the offending value
// and why.
type Rejection struct {
	Line   int    `json:"line"`
	Column string `json:"column"`
	Value  string `json:"value"`
	Reason string `json:"reason"`
}

// Parser reads recipients from CSV, one row at a time, in constant memory.
// It is not safe for concurrent use.
type Parser struct {
	cr      *countingReader
	csv     *csv.Reader
	cols    []column
	headers []string
	heading map[string]string // field or attribute key → heading, for rejections
	lc      *localeCache
	rows    int
	done    bool
	lastOff int64
}

type column struct {
	field string // a Field* constant, or "attr"
	key   string // the attribute name
}

// sniffSize is how much of the start of a file is checked for binary
// content before any row is read.
const sniffSize = 1024

// NewParser reads and checks the header row of r and resolves each column to
// a field, using the defaults overridden by m. It fails at once, with an
// EINVALID error saying what to do, when the file is empty, binary (NUL
// bytes or invalid UTF-8 in its first KiB), UTF-16, separated by something
// other than commas, has no email or phone column, maps two columns to one
// field, or when m names a column the file lacks. A UTF-8 byte order mark is
// skipped.
func NewParser(r io.Reader, m Mapping) (*Parser, error) {
	cr := &countingReader{r: r}
	br := bufio.NewReaderSize(cr, 64<<10)
	head, err := br.Peek(sniffSize)
	if err != nil && err != io.EOF && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, fmt.Errorf("read the file: %w", err)
	}
	if bytes.HasPrefix(head, []byte{0xEF, 0xBB, 0xBF}) {
		br.Discard(3)
		head = head[3:]
	}
	if err := sniff(head); err != nil {
		return nil, err
	}
	p := &Parser{cr: cr, lc: newLocaleCache(), heading: map[string]string{}}
	p.csv = csv.NewReader(br)
	p.csv.FieldsPerRecord = -1
	p.csv.ReuseRecord = true
	header, err := p.csv.Read()
	if err == io.EOF {
		return nil, apperr.Invalid("file", "the file is empty; it needs a header row naming its columns, e.g. email,name,locale,jurisdiction,exposed")
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return nil, apperr.Invalid("file", "the header row (line %d) is not valid CSV: %s", pe.StartLine, csvReason(pe.Err))
	}
	if err != nil {
		return nil, fmt.Errorf("read the header row: %w", err)
	}
	p.headers = slices.Clone(header)
	if len(header) == 1 {
		switch {
		case strings.Contains(header[0], ";"):
			return nil, apperr.Invalid("file", "the header row has one column holding %q: the file looks separated by semicolons; save it as CSV with commas (in Excel: \"CSV UTF-8 (Comma delimited)\")", clip(header[0]))
		case strings.Contains(header[0], "\t"):
			return nil, apperr.Invalid("file", "the header row has one column holding tabs: the file looks tab-separated; save it as CSV with commas")
		}
	}
	if err := p.resolve(m); err != nil {
		return nil, err
	}
	return p, nil
}

// sniff refuses content that is not UTF-8 text.
func sniff(head []byte) error {
	if bytes.HasPrefix(head, []byte{0xFF, 0xFE}) || bytes.HasPrefix(head, []byte{0xFE, 0xFF}) {
		return apperr.Invalid("file", "the file is UTF-16 text; save it as CSV UTF-8")
	}
	if i := bytes.IndexByte(head, 0); i >= 0 {
		return apperr.Invalid("file", "this is not a CSV file: it holds binary data (a NUL byte at offset %d); if it is a spreadsheet, save it as CSV UTF-8 first", i)
	}
	// The sample may end inside a multi-byte character; only complete
	// characters are judged.
	for cut := len(head); cut > 0 && len(head)-cut < utf8.UTFMax; cut-- {
		if utf8.RuneStart(head[cut-1]) {
			if !utf8.FullRune(head[cut-1:]) {
				head = head[:cut-1]
			}
			break
		}
	}
	if !utf8.Valid(head) {
		return apperr.Invalid("file", "the file is not UTF-8 text (it may be a spreadsheet or another encoding such as Latin-1); save it as CSV UTF-8")
	}
	return nil
}

func (p *Parser) resolve(m Mapping) error {
	over := map[string]string{}
	for h, f := range m {
		if err := checkTarget(strings.ToLower(f)); err != nil {
			return err
		}
		over[strings.ToLower(strings.TrimSpace(h))] = strings.ToLower(f)
	}
	used := map[string]bool{}
	taken := map[string]string{}
	p.cols = make([]column, len(p.headers))
	for i, h := range p.headers {
		h = strings.TrimSpace(h)
		if i == 0 {
			h = strings.TrimPrefix(h, "\uFEFF")
		}
		p.headers[i] = h
		f, ok := over[strings.ToLower(h)]
		if ok {
			used[strings.ToLower(h)] = true
		} else if h == "" {
			f = FieldIgnore
		} else if df, ok := defaultFields[AttributeKey(h)]; ok {
			f = df
		} else if k := AttributeKey(h); k != "" {
			f = attrPrefix + k
		} else {
			f = FieldIgnore
		}
		if f == FieldIgnore {
			p.cols[i] = column{field: FieldIgnore}
			continue
		}
		if prev, dup := taken[f]; dup {
			return apperr.Invalid("map", "columns %q and %q both map to %s; map one of them elsewhere, e.g. --map \"%s=ignore\"", prev, h, f, h)
		}
		taken[f] = h
		if k, isAttr := strings.CutPrefix(f, attrPrefix); isAttr {
			p.cols[i] = column{field: "attr", key: k}
			p.heading[k] = h
		} else {
			p.cols[i] = column{field: f}
			p.heading[f] = h
		}
	}
	for h := range over {
		if !used[h] {
			return apperr.Invalid("map", "the mapping names column %q, which the file does not have; its columns are %s", h, strings.Join(p.headers, ", "))
		}
	}
	if taken[FieldEmail] == "" && taken[FieldPhone] == "" {
		return apperr.Invalid("file", "no column holds email addresses or phone numbers (the columns are %s); name one \"email\" or \"phone\", or map it, e.g. --map \"Contact=email\"", strings.Join(p.headers, ", "))
	}
	return nil
}

// Columns says where each column of the file goes, in file order.
func (p *Parser) Columns() []Column {
	out := make([]Column, len(p.cols))
	for i, c := range p.cols {
		f := c.field
		if f == "attr" {
			f = attrPrefix + c.key
		}
		out[i] = Column{Heading: p.headers[i], Field: f}
	}
	return out
}

// BytesRead is how many bytes have been read from the input so far.
func (p *Parser) BytesRead() int64 { return p.cr.n }

// Rows is how many data rows (records after the header) have been read.
func (p *Parser) Rows() int { return p.rows }

// Next reads the next data row. For a valid row it fills rec (normalised)
// and returns the row's line; for a row that fails validation it returns a
// rejection; at the end it returns io.EOF. Any other error is a failure to
// read the input, after which the parser must not be used.
func (p *Parser) Next(rec *Recipient) (int, *Rejection, error) {
	if p.done {
		return 0, nil, io.EOF
	}
	fields, err := p.csv.Read()
	if err == io.EOF {
		p.done = true
		return 0, nil, io.EOF
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		// A malformed record is one rejected row. encoding/csv resumes
		// after it; should it ever fail to move on, stop rather than loop.
		off := p.csv.InputOffset()
		if off == p.lastOff {
			p.done = true
			return 0, nil, io.EOF
		}
		p.lastOff = off
		p.rows++
		return pe.StartLine, &Rejection{Line: pe.StartLine, Reason: "malformed CSV: " + csvReason(pe.Err)}, nil
	}
	if err != nil {
		return 0, nil, fmt.Errorf("read the file: %w", err)
	}
	p.lastOff = p.csv.InputOffset()
	p.rows++
	line, _ := p.csv.FieldPos(0)
	if len(fields) != len(p.cols) {
		return line, &Rejection{Line: line, Reason: fmt.Sprintf("the row has %d cells but the header has %d columns (an unquoted comma, or a missing quote?)", len(fields), len(p.cols))}, nil
	}
	*rec = Recipient{}
	var exposed string
	for i, c := range p.cols {
		v := fields[i]
		switch c.field {
		case FieldEmail:
			rec.Email = v
		case FieldPhone:
			rec.Phone = v
		case FieldName:
			rec.Name = v
		case FieldLocale:
			rec.Locale = v
		case FieldJurisdiction:
			rec.Jurisdiction = v
		case FieldExternalID:
			rec.ExternalID = v
		case FieldExposed:
			exposed = v
		case "attr":
			if v = strings.TrimSpace(v); v != "" {
				if rec.Attributes == nil {
					rec.Attributes = make(map[string]string, 4)
				}
				rec.Attributes[c.key] = v
			}
		}
	}
	if exposed != "" {
		ks, fe := parseKinds(exposed)
		if fe != nil {
			return line, p.rejection(line, fe), nil
		}
		rec.Exposed = ks
	}
	if fe := rec.normalize(p.lc); fe != nil {
		return line, p.rejection(line, fe), nil
	}
	return line, nil, nil
}

func (p *Parser) rejection(line int, fe *fieldError) *Rejection {
	col := p.heading[fe.field]
	if col == "" {
		col = fe.field
	}
	return &Rejection{Line: line, Column: col, Value: clipValue(fe.value), Reason: fe.reason}
}

func clipValue(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) <= 200 {
		return s
	}
	cut := 200
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func csvReason(err error) string {
	switch {
	case errors.Is(err, csv.ErrBareQuote):
		return `a quote inside an unquoted field; quote the whole field and double the inner quotes, like "Smith, ""Jo"""`
	case errors.Is(err, csv.ErrQuote):
		return "a quoted field is not closed, or has text after its closing quote"
	}
	return err.Error()
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}

// Merge folds a later row for the same person into dst: each non-empty
// field of src replaces dst's, and attributes are merged key by key (src
// wins). This is the rule an import applies to duplicates, in the file and
// against recipients already stored.
func Merge(dst *Recipient, src Recipient) {
	for _, f := range []struct {
		d *string
		s string
	}{
		{&dst.Email, src.Email}, {&dst.Phone, src.Phone}, {&dst.Name, src.Name}, {&dst.Locale, src.Locale},
		{&dst.Jurisdiction, src.Jurisdiction}, {&dst.ExternalID, src.ExternalID},
	} {
		if f.s != "" {
			*f.d = f.s
		}
	}
	if len(src.Exposed) > 0 {
		dst.Exposed = src.Exposed
	}
	if len(src.Attributes) > 0 {
		if dst.Attributes == nil {
			dst.Attributes = make(map[string]string, len(src.Attributes))
		}
		maps.Copy(dst.Attributes, src.Attributes)
	}
}

// ImportOptions tune an import.
type ImportOptions struct {
	Mapping Mapping
	// AllOrNothing keeps nothing if any row is rejected; by default the
	// good rows are kept.
	AllOrNothing bool
	// Errors, if set, receives every rejection as CSV (line, column, value,
	// reason), streamed as rows are read.
	Errors io.Writer
	// Progress, if set, is called every few thousand rows and at the end.
	Progress func(Progress)
	// Total is the size of the input in bytes, if known, for Progress.
	Total int64
	// KeepErrors is how many rejections the Report holds (default 100).
	KeepErrors int
	// BatchSize is how many rows a batch holds (default 5000).
	BatchSize int
	// FileName names the file in the report, for people reading it later.
	FileName string
}

// Progress is how far an import has got.
type Progress struct {
	Rows     int64 `json:"rows"`
	Accepted int64 `json:"accepted"`
	Rejected int64 `json:"rejected"`
	Bytes    int64 `json:"bytes"`
	Total    int64 `json:"total"` // 0 when unknown
}

// Report is the outcome of an import.
type Report struct {
	// ImportID identifies the stored report (kept or not), 0 before the
	// store has recorded it.
	ImportID int64  `json:"import_id"`
	FileName string `json:"file_name"`
	Rows     int64  `json:"rows"`     // data rows read
	Accepted int64  `json:"accepted"` // valid rows
	Rejected int64  `json:"rejected"` // invalid rows (see Errors)
	// Created and Updated split the accepted rows into new recipients and
	// rows that updated one already there (or repeated an earlier row);
	// the store fills them. Both are 0 when nothing was kept.
	Created int64 `json:"created"`
	Updated int64 `json:"updated"`
	// Kept is false when nothing was stored (all-or-nothing with rejections).
	Kept      bool        `json:"kept"`
	Columns   []Column    `json:"columns"`
	Errors    []Rejection `json:"errors"` // the first KeepErrors rejections
	Truncated bool        `json:"errors_truncated"`
}

// Import reads a CSV file in batches for the store. It is not safe for
// concurrent use.
type Import struct {
	p       *Parser
	opt     ImportOptions
	rep     Report
	errw    *csv.Writer
	byEmail map[string]int
	byPhone map[string]int
	sinceP  int
	eof     bool
}

// StartImport checks the header of r (see NewParser) and returns an Import
// ready to yield batches. Header problems come back at once, before any row
// is read.
func StartImport(r io.Reader, opt ImportOptions) (*Import, error) {
	p, err := NewParser(r, opt.Mapping)
	if err != nil {
		return nil, err
	}
	if opt.KeepErrors <= 0 {
		opt.KeepErrors = 100
	}
	if opt.BatchSize <= 0 {
		opt.BatchSize = 5000
	}
	im := &Import{p: p, opt: opt, byEmail: map[string]int{}, byPhone: map[string]int{}}
	im.rep.Columns = p.Columns()
	im.rep.FileName = opt.FileName
	if opt.Errors != nil {
		im.errw = csv.NewWriter(opt.Errors)
		im.errw.Write([]string{"line", "column", "value", "reason"})
	}
	return im, nil
}

// Columns says where each column goes.
func (im *Import) Columns() []Column { return im.rep.Columns }

// Next returns the next batch of valid recipients, at most BatchSize, with
// duplicates inside the batch merged (see Merge), or io.EOF after the last.
// Rejected rows are counted, kept in the report and written to Errors. Under
// AllOrNothing, once a row is rejected no more batches are returned: the
// rest of the file is only checked, so that the report lists every problem.
func (im *Import) Next() ([]Recipient, error) {
	if im.eof {
		return nil, io.EOF
	}
	batch := make([]Recipient, 0, im.opt.BatchSize)
	clear(im.byEmail)
	clear(im.byPhone)
	// Under all-or-nothing, a rejected row turns this into a check of the
	// rest of the file: nothing more is added, and the loop runs to the end.
	for !im.eof && (len(batch) < im.opt.BatchSize || im.refusing()) {
		var r Recipient
		_, rej, err := im.p.Next(&r)
		if err == io.EOF {
			im.eof = true
			break
		}
		if err != nil {
			return nil, err
		}
		im.rep.Rows++
		if rej != nil {
			im.reject(*rej)
		} else {
			im.rep.Accepted++
			if !im.refusing() {
				batch = im.add(batch, r)
			}
		}
		if im.sinceP++; im.sinceP >= 2048 {
			im.progress()
		}
	}
	if im.refusing() {
		batch = batch[:0]
	}
	if im.eof {
		im.progress()
		if im.errw != nil {
			im.errw.Flush()
			if err := im.errw.Error(); err != nil {
				return nil, fmt.Errorf("write the error report: %w", err)
			}
		}
		if len(batch) == 0 {
			return nil, io.EOF
		}
	}
	return batch, nil
}

func (im *Import) refusing() bool { return im.opt.AllOrNothing && im.rep.Rejected > 0 }

func (im *Import) add(batch []Recipient, r Recipient) []Recipient {
	idx, key := im.byEmail, r.Email
	if key == "" {
		idx, key = im.byPhone, r.Phone
	}
	if i, dup := idx[key]; dup {
		Merge(&batch[i], r)
		return batch
	}
	idx[key] = len(batch)
	return append(batch, r)
}

func (im *Import) reject(rej Rejection) {
	im.rep.Rejected++
	if len(im.rep.Errors) < im.opt.KeepErrors {
		im.rep.Errors = append(im.rep.Errors, rej)
	} else {
		im.rep.Truncated = true
	}
	if im.errw != nil {
		im.errw.Write([]string{fmt.Sprint(rej.Line), rej.Column, SafeCell(rej.Value), rej.Reason})
	}
}

func (im *Import) progress() {
	im.sinceP = 0
	if im.opt.Progress != nil {
		im.opt.Progress(Progress{Rows: im.rep.Rows, Accepted: im.rep.Accepted, Rejected: im.rep.Rejected, Bytes: im.p.BytesRead(), Total: im.opt.Total})
	}
}

// Report returns the counts so far; after io.EOF, the whole file's.
func (im *Import) Report() Report {
	r := im.rep
	r.Errors = slices.Clone(r.Errors)
	if r.Errors == nil {
		r.Errors = []Rejection{}
	}
	return r
}

// Verdict is called once the last batch is stored: it returns the report,
// and an EINVALID error whose Detail is the report when the import must not
// be kept (all-or-nothing, and some rows were rejected).
func (im *Import) Verdict() (Report, error) {
	r := im.Report()
	if im.refusing() {
		return r, &apperr.Error{Code: apperr.EINVALID, Field: "file",
			Message: fmt.Sprintf("%d of %d rows were rejected, so nothing was imported (all-or-nothing); fix them and import the file again", r.Rejected, r.Rows),
			Detail:  r}
	}
	r.Kept = true
	return r, nil
}

// SafeCell defuses a value for a CSV that people open in a spreadsheet: a
// cell starting with =, +, -, @ or a control character would be read as a
// formula, so it gets a leading apostrophe.
func SafeCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// ExposedText lists kinds as the import reads them ("card_number;email").
func ExposedText(ks []incident.DataKind) string {
	parts := make([]string, len(ks))
	for i, k := range ks {
		parts[i] = string(k)
	}
	return strings.Join(parts, ";")
}

// Prefetched reads an Import's batches in a goroutine of its own, one or
// two batches ahead, so that parsing and validating the next batch overlaps
// with storing the current one. It implements the same Next and Verdict;
// Close must be called when the reader stops early.
type Prefetched struct {
	im      *Import
	batches chan prefetched
	stop    chan struct{}
	done    chan struct{}
	once    sync.Once
}

type prefetched struct {
	batch []Recipient
	err   error
}

// Prefetch starts reading ahead.
func (im *Import) Prefetch() *Prefetched {
	p := &Prefetched{im: im, batches: make(chan prefetched, 2), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		defer close(p.batches)
		for {
			b, err := im.Next()
			select {
			case p.batches <- prefetched{b, err}:
			case <-p.stop:
				return
			}
			if err != nil {
				return
			}
		}
	}()
	return p
}

// Next returns the next batch, or io.EOF after the last.
func (p *Prefetched) Next() ([]Recipient, error) {
	b, ok := <-p.batches
	if !ok {
		return nil, io.EOF
	}
	return b.batch, b.err
}

// Verdict waits for the reader to finish and returns the Import's verdict.
func (p *Prefetched) Verdict() (Report, error) {
	<-p.done
	return p.im.Verdict()
}

// Close stops reading ahead and waits for the goroutine to end. It is safe
// to call more than once, and after the end.
func (p *Prefetched) Close() {
	p.once.Do(func() { close(p.stop) })
	<-p.done
}

// WriteErrorsCSV writes rejected rows as the CSV an import's error report
// downloads as: line, column, value, reason, with values defused for
// spreadsheets (see SafeCell).
func WriteErrorsCSV(w io.Writer, rejs []Rejection) error {
	cw := csv.NewWriter(w)
	cw.Write([]string{"line", "column", "value", "reason"})
	for _, e := range rejs {
		cw.Write([]string{fmt.Sprint(e.Line), e.Column, SafeCell(e.Value), e.Reason})
	}
	cw.Flush()
	return cw.Error()
}
