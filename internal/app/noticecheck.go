package app

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/audience"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/incident"
	"github.com/candorhq/candor/internal/notice"
)

// Finding is one result of the checks run on a notice, shown next to its
// text. Error-level findings block approval unless an approver overrides
// them with a written reason.
type Finding struct {
	Key     string `json:"key"`
	Level   string `json:"level"` // "error", "warning" or "info"
	Variant int    `json:"variant"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
	// Value is the measured or quoted value: the readability grade, the
	// number or date found in the text.
	Value     string `json:"value,omitempty"`
	Citation  string `json:"citation,omitempty"`
	SourceURL string `json:"source_url,omitempty"`
	Caveat    string `json:"caveat,omitempty"`
}

// VariantCount is how many members of the audience get one variant.
type VariantCount struct {
	Variant int    `json:"variant"` // -1: the default text
	Name    string `json:"name"`
	Count   int64  `json:"count"`
}

// CheckReport is the result of checking a notice's text against the facts,
// the audience and the rules.
type CheckReport struct {
	Findings []Finding      `json:"findings"`
	Variants []VariantCount `json:"variants"`
	// Members is the audience's size (members read, when Complete is false).
	Members  int64 `json:"members"`
	Complete bool  `json:"complete"`
	// Unreachable counts members the notice's channels cannot reach (no
	// email address for an email-only notice, …): they get nothing, so
	// the number must be zero or explained.
	Unreachable int64 `json:"unreachable"`
	// Jurisdictions are those found among the members.
	Jurisdictions []string `json:"jurisdictions"`
}

// Blocking returns the error-level findings.
func (r CheckReport) Blocking() []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Level == string(notice.LevelError) {
			out = append(out, f)
		}
	}
	return out
}

func (r CheckReport) templateErrors() apperr.List {
	var out apperr.List
	for _, f := range r.Findings {
		if f.Key == "template" || strings.HasSuffix(f.Key, "/template") {
			out = append(out, apperr.Invalid(f.Field, "%s", f.Message))
		}
	}
	return out
}

// maxScan bounds how many audience members a check reads to find sample
// recipients and jurisdictions; counts of a larger audience are partial
// (Complete false) until release counts them all.
const maxScan = 200_000

// samplesPerVariant is how many real recipients each variant is rendered
// for when checked.
const samplesPerVariant = 5

type audienceScan struct {
	counts        map[int]int64
	samples       map[int][]notice.Recipient
	jurisdictions []string
	// variantJurisdictions are the jurisdictions of the members who get
	// each variant (-1: the default text).
	variantJurisdictions map[int][]string
	members              int64
	unreachable          int64
	complete             bool
}

// scanAudience reads the notice's audience: which variant each member gets,
// sample members per variant, jurisdictions, and who cannot be reached.
func (s *Service) scanAudience(ctx context.Context, n notice.Notice, c notice.Content, limit int64) (audienceScan, error) {
	sc := audienceScan{counts: map[int]int64{}, samples: map[int][]notice.Recipient{}, variantJurisdictions: map[int][]string{}, complete: true}
	if n.AudienceID == 0 {
		return sc, nil
	}
	matchers, err := s.segmentMatchers(ctx, c)
	if err != nil {
		return sc, err
	}
	jur := map[string]bool{}
	vjur := map[int]map[string]bool{}
	email, sms := slices.Contains(n.Channels, notice.ChannelEmail), slices.Contains(n.Channels, notice.ChannelSMS)
	err = s.db.EachMember(ctx, n.AudienceID, func(r *audience.Recipient) error {
		if sc.members >= limit {
			sc.complete = false
			return errStop
		}
		sc.members++
		i := c.Select(r.Locale, func(id int64) bool { return matchers[id].Match(*r) })
		sc.counts[i]++
		if len(sc.samples[i]) < samplesPerVariant {
			sc.samples[i] = append(sc.samples[i], RecipientData(*r))
		}
		if r.Jurisdiction != "" && !jur[r.Jurisdiction] {
			jur[r.Jurisdiction] = true
			sc.jurisdictions = append(sc.jurisdictions, r.Jurisdiction)
		}
		if r.Jurisdiction != "" && !vjur[i][r.Jurisdiction] {
			if vjur[i] == nil {
				vjur[i] = map[string]bool{}
			}
			vjur[i][r.Jurisdiction] = true
			sc.variantJurisdictions[i] = append(sc.variantJurisdictions[i], r.Jurisdiction)
		}
		if (email || sms) && !(email && r.Email != "") && !(sms && r.Phone != "") {
			sc.unreachable++
		}
		return nil
	})
	if err != nil && !errors.Is(err, errStop) {
		return sc, err
	}
	slices.Sort(sc.jurisdictions)
	return sc, nil
}

// CheckNotice runs the checks on a version of a notice (0: the current
// one), or on content being edited when content is not nil — the editor
// calls this as the author types.
func (s *Service) CheckNotice(ctx context.Context, p auth.Principal, id int64, number int, content *notice.Content) (CheckReport, error) {
	if err := p.Require(auth.Read); err != nil {
		return CheckReport{}, err
	}
	n, err := s.db.FindNoticeByID(ctx, id)
	if err != nil {
		return CheckReport{}, err
	}
	var c notice.Content
	if content != nil {
		c = *content
	} else {
		v, err := s.db.FindNoticeVersion(ctx, id, number)
		if err != nil {
			return CheckReport{}, err
		}
		c = v.Content
	}
	in, err := s.db.FindIncidentByID(ctx, n.IncidentID)
	if err != nil {
		return CheckReport{}, err
	}
	facts, err := s.db.FindFacts(ctx, n.IncidentID, 0)
	if err != nil {
		return CheckReport{}, err
	}
	sc, err := s.scanAudience(ctx, n, c, maxScan)
	if err != nil {
		return CheckReport{}, err
	}
	rep := CheckReport{Members: sc.members, Complete: sc.complete, Unreachable: sc.unreachable, Jurisdictions: sc.jurisdictions}
	rep.Variants = append(rep.Variants, VariantCount{Variant: -1, Name: "Default", Count: sc.counts[-1]})
	for i, v := range c.Variants {
		rep.Variants = append(rep.Variants, VariantCount{Variant: i, Name: v.Name, Count: sc.counts[i]})
	}
	base := s.renderData(in, facts)
	rep.Findings = append(rep.Findings, renderFindings(n, c, base, sc)...)
	rep.Findings = append(rep.Findings, s.contentFindings(n, c, base, facts.Facts, sc)...)
	return rep, nil
}

// renderFindings renders every variant for sample recipients of its
// segment on every channel of the notice, and reports what fails.
func renderFindings(n notice.Notice, c notice.Content, base notice.Data, sc audienceScan) []Finding {
	var out []Finding
	for i := -1; i < len(c.Variants); i++ {
		prefix := ""
		if i >= 0 {
			prefix = fmt.Sprintf("variants[%d].", i)
		}
		subject, body := c.Text(i)
		t, err := notice.Parse(subject, body)
		if err != nil {
			continue // notice.Check reports template errors, with positions
		}
		samples := sc.samples[i]
		if len(samples) == 0 {
			samples = []notice.Recipient{notice.SampleData().Recipient}
		}
	render:
		for _, r := range samples {
			d := base
			d.Recipient = r
			for _, ch := range append([]notice.Channel{""}, n.Channels...) {
				var err error
				switch ch {
				case "":
					_, err = t.Render(d)
				case notice.ChannelEmail:
					_, err = t.Email(d)
				case notice.ChannelSMS:
					_, err = t.SMS(d)
				default:
					_, err = t.Page(d)
				}
				if err != nil {
					for _, e := range apperr.Flatten(err) {
						who := r.Email
						if who == "" {
							who = r.Name
						}
						out = append(out, Finding{Key: "template", Level: string(notice.LevelError), Variant: i, Field: prefix + e.Field,
							Message: fmt.Sprintf("rendering for %s failed: %s", who, e.Message)})
					}
					break render
				}
			}
		}
	}
	return out
}

// contentFindings runs the content checks of package notice — the four
// points, facts consistency, plain language, legal content for the
// jurisdictions among the recipients — on each variant, rendered for real
// recipients of its segment. The rules live in package notice, as data
// where they come from law; this is only the seam.
func (s *Service) contentFindings(n notice.Notice, c notice.Content, base notice.Data, facts incident.Facts, sc audienceScan) []Finding {
	in := notice.CheckInput{Content: c, AudienceKind: n.AudienceKind, Channels: n.Channels, Facts: facts, FactsVersion: base.FactsVersion,
		Company: base.Company, Incident: base.Incident, Jurisdictions: sc.jurisdictions, VariantJurisdictions: sc.variantJurisdictions,
		Samples: map[int][]notice.Data{}}
	for v, rs := range sc.samples {
		for _, r := range rs {
			d := base
			d.Recipient = r
			in.Samples[v] = append(in.Samples[v], d)
		}
	}
	var out []Finding
	for _, f := range notice.Check(in) {
		out = append(out, Finding{Key: f.Ref(), Level: string(f.Level), Variant: f.Variant, Field: f.Field, Message: f.Message,
			Value: f.Value, Citation: f.Citation, SourceURL: f.SourceURL, Caveat: f.Caveat})
	}
	return out
}

// Preview is a notice rendered for one recipient on each of its channels.
type Preview struct {
	Variant     int              `json:"variant"`
	VariantName string           `json:"variant_name"`
	Recipient   notice.Recipient `json:"recipient"`
	Sample      bool             `json:"sample"` // the recipient is made up, not a member
	Email       *notice.Email    `json:"email,omitempty"`
	SMS         *notice.SMS      `json:"sms,omitempty"`
	Page        *notice.Page     `json:"page,omitempty"`
}

// PreviewNotice renders a version (0: current) for a recipient of its
// audience (recipientID 0: the first member, or a made-up sample when the
// notice has no audience yet), on every channel of the notice.
func (s *Service) PreviewNotice(ctx context.Context, p auth.Principal, id int64, number int, recipientID int64) (Preview, error) {
	if err := p.Require(auth.Read); err != nil {
		return Preview{}, err
	}
	n, err := s.db.FindNoticeByID(ctx, id)
	if err != nil {
		return Preview{}, err
	}
	v, err := s.db.FindNoticeVersion(ctx, id, number)
	if err != nil {
		return Preview{}, err
	}
	in, err := s.db.FindIncidentByID(ctx, n.IncidentID)
	if err != nil {
		return Preview{}, err
	}
	facts, err := s.db.FindFacts(ctx, n.IncidentID, 0)
	if err != nil {
		return Preview{}, err
	}
	var pv Preview
	var rec *audience.Recipient
	switch {
	case recipientID != 0:
		r, err := s.db.FindRecipientByID(ctx, recipientID)
		if err != nil {
			return Preview{}, err
		}
		rec = &r
	case n.AudienceID != 0:
		err = s.db.EachMember(ctx, n.AudienceID, func(r *audience.Recipient) error {
			c := *r
			rec = &c
			return errStop
		})
		if err != nil && !errors.Is(err, errStop) {
			return Preview{}, err
		}
	}
	d := s.renderData(in, facts)
	if rec == nil {
		d.Recipient, pv.Sample = notice.SampleData().Recipient, true
	} else {
		d.Recipient = RecipientData(*rec)
	}
	pv.Recipient = d.Recipient
	matchers := map[int64]bool{}
	if rec != nil {
		for _, vr := range v.Content.Variants {
			if vr.SegmentID == 0 {
				continue
			}
			seg, err := s.db.FindSegmentByID(ctx, vr.SegmentID)
			if err != nil {
				continue
			}
			if m, err := audience.Compile(&seg.Rule); err == nil {
				matchers[vr.SegmentID] = m.Match(*rec)
			}
		}
	}
	pv.Variant = v.Content.Select(d.Recipient.Locale, func(id int64) bool { return matchers[id] })
	pv.VariantName = "Default"
	if pv.Variant >= 0 {
		pv.VariantName = v.Content.Variants[pv.Variant].Name
	}
	t, err := notice.Parse(v.Content.Text(pv.Variant))
	if err != nil {
		return pv, err
	}
	for _, ch := range n.Channels {
		switch ch {
		case notice.ChannelEmail:
			e, err := t.Email(d)
			if err != nil {
				return pv, err
			}
			pv.Email = &e
		case notice.ChannelSMS:
			m, err := t.SMS(d)
			if err != nil {
				return pv, err
			}
			pv.SMS = &m
		default:
			if pv.Page == nil {
				pg, err := t.Page(d)
				if err != nil {
					return pv, err
				}
				pv.Page = &pg
			}
		}
	}
	if pv.Email == nil && pv.SMS == nil && pv.Page == nil {
		pg, err := t.Page(d)
		if err != nil {
			return pv, err
		}
		pv.Page = &pg
	}
	return pv, nil
}
