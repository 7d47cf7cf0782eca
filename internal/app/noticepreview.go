package app

import (
	"context"
	"fmt"
	"github.com/candorhq/candor/internal/apperr"
	"strings"

	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/notice"
)

// VariantPreview is one text of a notice — the default or a variant —
// rendered for a recipient on email, SMS and web page, or the error that
// rendering it met.
type VariantPreview struct {
	Variant int    `json:"variant"` // -1: the default text
	Name    string `json:"name"`
	// Gets is true for the text this recipient is actually sent.
	Gets  bool          `json:"gets"`
	Email *notice.Email `json:"email,omitempty"`
	SMS   *notice.SMS   `json:"sms,omitempty"`
	Page  *notice.Page  `json:"page,omitempty"`
	Error string        `json:"error,omitempty"`
}

// PreviewVariants renders every text of a version (0: current) — the
// default and each variant — for the same recipient (see PreviewNotice for
// how the recipient is chosen), so reviewers compare them side by side. A
// text that fails to render carries its error; the others still render.
func (s *Service) PreviewVariants(ctx context.Context, p auth.Principal, id int64, number int, recipientID int64) (Preview, []VariantPreview, error) {
	if err := p.Require(auth.Read); err != nil {
		return Preview{}, nil, err
	}
	n, err := s.db.FindNoticeByID(ctx, id)
	if err != nil {
		return Preview{}, nil, err
	}
	v, err := s.db.FindNoticeVersion(ctx, id, number)
	if err != nil {
		return Preview{}, nil, err
	}
	pv, err := s.PreviewNotice(ctx, p, id, v.Number, recipientID)
	if err != nil && pv.VariantName == "" {
		return pv, nil, err
	}
	in, err := s.db.FindIncidentByID(ctx, n.IncidentID)
	if err != nil {
		return pv, nil, err
	}
	facts, err := s.db.FindFacts(ctx, n.IncidentID, 0)
	if err != nil {
		return pv, nil, err
	}
	d := s.renderData(in, facts)
	d.Recipient = pv.Recipient
	var out []VariantPreview
	for i := -1; i < len(v.Content.Variants); i++ {
		vp := VariantPreview{Variant: i, Name: "Default", Gets: i == pv.Variant}
		if i >= 0 {
			vp.Name = v.Content.Variants[i].Name
		}
		t, err := notice.Parse(v.Content.Text(i))
		if err == nil {
			var e notice.Email
			var m notice.SMS
			var pg notice.Page
			if e, err = t.Email(d); err == nil {
				vp.Email = &e
				if m, err = t.SMS(d); err == nil {
					vp.SMS = &m
					if pg, err = t.Page(d); err == nil {
						vp.Page = &pg
					}
				}
			}
		}
		if err != nil {
			var msgs []string
			for _, fe := range apperr.Flatten(err) {
				msgs = append(msgs, fmt.Sprintf("%s: %s", fe.Field, fe.Message))
			}
			vp.Error = strings.Join(msgs, "; ")
		}
		out = append(out, vp)
	}
	return pv, out, nil
}
