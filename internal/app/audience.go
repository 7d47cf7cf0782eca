package app

import (
	"context"
	"io"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/audience"
	"github.com/candorhq/candor/internal/auth"
)

// CreateAudience creates an incident's audience, or with n.IncidentID 0 a
// standing list of the organisation.
func (s *Service) CreateAudience(ctx context.Context, p auth.Principal, n audience.New) (audience.Audience, error) {
	if err := p.Require(auth.EditIncident); err != nil {
		return audience.Audience{}, err
	}
	if err := n.Validate(); err != nil {
		return audience.Audience{}, err
	}
	return s.db.CreateAudience(ctx, p, n)
}

// Audiences lists an incident's audiences, or with incidentID 0 the
// standing lists, with their recipient counts.
func (s *Service) Audiences(ctx context.Context, p auth.Principal, incidentID int64) ([]audience.Audience, error) {
	if err := p.Require(auth.Read); err != nil {
		return nil, err
	}
	return s.db.FindAudiences(ctx, incidentID)
}

// Audience returns one audience or standing list, with its counts and
// attached lists.
func (s *Service) Audience(ctx context.Context, p auth.Principal, id int64) (audience.Audience, error) {
	if err := p.Require(auth.Read); err != nil {
		return audience.Audience{}, err
	}
	return s.db.FindAudienceByID(ctx, id)
}

// AttachList makes the standing list listID's recipients members of the
// incident audience audienceID.
func (s *Service) AttachList(ctx context.Context, p auth.Principal, audienceID, listID int64) (audience.Audience, error) {
	if err := p.Require(auth.EditIncident); err != nil {
		return audience.Audience{}, err
	}
	if listID <= 0 {
		return audience.Audience{}, apperr.Invalid("list_id", "say which standing list to attach (list_id; see GET /api/v1/lists)")
	}
	if err := s.db.AttachList(ctx, p, audienceID, listID); err != nil {
		return audience.Audience{}, err
	}
	return s.db.FindAudienceByID(ctx, audienceID)
}

// ImportRecipients reads recipients from CSV into an audience (see
// audience.StartImport for the format and the checks made before any row is
// read, and store.ImportRecipients for how rows are merged). Rejected rows
// are reported, not fatal, unless opt.AllOrNothing is set: then nothing is
// kept and the error is EINVALID with the report as its Detail. The import
// streams: memory stays flat whatever the size of r.
func (s *Service) ImportRecipients(ctx context.Context, p auth.Principal, audienceID int64, r io.Reader, opt audience.ImportOptions) (audience.Report, error) {
	if err := p.Require(auth.EditIncident); err != nil {
		return audience.Report{}, err
	}
	// Refuse a missing audience before reading the file.
	if _, err := s.db.FindAudienceByID(ctx, audienceID); err != nil {
		return audience.Report{}, err
	}
	im, err := audience.StartImport(r, opt)
	if err != nil {
		return audience.Report{}, err
	}
	src := im.Prefetch()
	defer src.Close()
	rep, err := s.db.ImportRecipients(ctx, p, audienceID, src)
	if err != nil {
		if e := apperr.As(err); e != nil {
			if r, ok := e.Detail.(audience.Report); ok {
				rep = r
			}
		}
		return rep, err
	}
	s.log.Info("recipients_imported", "audience", audienceID, "rows", rep.Rows, "created", rep.Created, "updated", rep.Updated, "rejected", rep.Rejected)
	return rep, nil
}

// Recipients lists an audience's own recipients after the cursor, with the
// next page's cursor (0 on the last page).
func (s *Service) Recipients(ctx context.Context, p auth.Principal, audienceID, after int64, limit int) ([]audience.Recipient, int64, error) {
	if err := p.Require(auth.Read); err != nil {
		return nil, 0, err
	}
	return s.db.FindRecipients(ctx, audienceID, after, limit)
}

// CreateSegment stores a segment for an incident.
func (s *Service) CreateSegment(ctx context.Context, p auth.Principal, n audience.NewSegment) (audience.Segment, error) {
	if err := p.Require(auth.EditIncident); err != nil {
		return audience.Segment{}, err
	}
	if err := n.Validate(); err != nil {
		return audience.Segment{}, err
	}
	return s.db.CreateSegment(ctx, p, n)
}

// Segments lists an incident's segments.
func (s *Service) Segments(ctx context.Context, p auth.Principal, incidentID int64) ([]audience.Segment, error) {
	if err := p.Require(auth.Read); err != nil {
		return nil, err
	}
	return s.db.FindSegments(ctx, incidentID)
}

// Segment returns one segment.
func (s *Service) Segment(ctx context.Context, p auth.Principal, id int64) (audience.Segment, error) {
	if err := p.Require(auth.Read); err != nil {
		return audience.Segment{}, err
	}
	return s.db.FindSegmentByID(ctx, id)
}

// CountMatches counts the members of an audience (its recipients and those
// of attached lists) and how many of them the rule matches. It reads every
// member, so it takes about a second per million.
func (s *Service) CountMatches(ctx context.Context, p auth.Principal, audienceID int64, rule audience.Rule) (audience.Count, error) {
	if err := p.Require(auth.Read); err != nil {
		return audience.Count{}, err
	}
	m, err := audience.Compile(&rule)
	if err != nil {
		return audience.Count{}, err
	}
	var c audience.Count
	err = s.db.EachMember(ctx, audienceID, func(r *audience.Recipient) error {
		c.Members++
		if m.Match(*r) {
			c.Matching++
		}
		return nil
	})
	return c, err
}

// Import returns a stored import's report, kept or refused, with its first
// rejected rows.
func (s *Service) Import(ctx context.Context, p auth.Principal, id int64) (audience.ImportRecord, error) {
	if err := p.Require(auth.Read); err != nil {
		return audience.ImportRecord{}, err
	}
	return s.db.FindImportByID(ctx, id)
}

// Imports lists an audience's latest imports, newest first.
func (s *Service) Imports(ctx context.Context, p auth.Principal, audienceID int64, limit int) ([]audience.ImportRecord, error) {
	if err := p.Require(auth.Read); err != nil {
		return nil, err
	}
	return s.db.FindImports(ctx, audienceID, limit)
}

// AudienceStats breaks an audience's own recipients down by jurisdiction,
// locale and exposed data kind.
func (s *Service) AudienceStats(ctx context.Context, p auth.Principal, audienceID int64) (audience.Stats, error) {
	if err := p.Require(auth.Read); err != nil {
		return audience.Stats{}, err
	}
	return s.db.AudienceStats(ctx, audienceID)
}
