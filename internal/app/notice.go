package app

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/audience"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/dispatch"
	"github.com/candorhq/candor/internal/incident"
	"github.com/candorhq/candor/internal/notice"
	"github.com/candorhq/candor/internal/store"
)

// CreateNotice drafts a notice for an incident, written by hand.
func (s *Service) CreateNotice(ctx context.Context, p auth.Principal, n notice.New) (notice.Notice, error) {
	if err := p.Require(auth.EditIncident); err != nil {
		return notice.Notice{}, err
	}
	var list apperr.List
	if !audience.Kind(n.AudienceKind).Valid() {
		list = append(list, apperr.Invalid("audience_kind", "unknown audience kind %q; use one of %s", n.AudienceKind, audienceKinds()))
	}
	if err := n.Validate(); err != nil {
		list = append(list, apperr.Flatten(err)...)
	}
	if err := list.Err(); err != nil {
		return notice.Notice{}, err
	}
	out, err := s.db.CreateNotices(ctx, p, []notice.New{n}, "Drafted")
	if err != nil {
		return notice.Notice{}, err
	}
	return out[0], nil
}

func audienceKinds() string {
	names := make([]string, len(audience.Kinds))
	for i, k := range audience.Kinds {
		names[i] = string(k.Kind)
	}
	return strings.Join(names, ", ")
}

// Notices lists an incident's notices.
func (s *Service) Notices(ctx context.Context, p auth.Principal, incidentID int64) ([]notice.Notice, error) {
	if err := p.Require(auth.Read); err != nil {
		return nil, err
	}
	if _, err := s.db.FindIncidentByID(ctx, incidentID); err != nil {
		return nil, err
	}
	return s.db.FindNotices(ctx, incidentID)
}

// Notice returns one notice.
func (s *Service) Notice(ctx context.Context, p auth.Principal, id int64) (notice.Notice, error) {
	if err := p.Require(auth.Read); err != nil {
		return notice.Notice{}, err
	}
	return s.db.FindNoticeByID(ctx, id)
}

// NoticeVersion returns one version of a notice (0: the current one), with
// its reviews and overrides.
func (s *Service) NoticeVersion(ctx context.Context, p auth.Principal, id int64, number int) (store.NoticeVersion, error) {
	if err := p.Require(auth.Read); err != nil {
		return store.NoticeVersion{}, err
	}
	return s.db.FindNoticeVersion(ctx, id, number)
}

// NoticeVersions lists every version of a notice, newest first.
func (s *Service) NoticeVersions(ctx context.Context, p auth.Principal, id int64) ([]store.NoticeVersion, error) {
	if err := p.Require(auth.Read); err != nil {
		return nil, err
	}
	return s.db.FindNoticeVersions(ctx, id)
}

// NoticeDiff compares two versions of a notice.
func (s *Service) NoticeDiff(ctx context.Context, p auth.Principal, id int64, from, to int) ([]notice.TextDiff, error) {
	a, err := s.NoticeVersion(ctx, p, id, from)
	if err != nil {
		return nil, err
	}
	b, err := s.NoticeVersion(ctx, p, id, to)
	if err != nil {
		return nil, err
	}
	return notice.Diff(a.Content, b.Content), nil
}

// SaveNotice stores new text for a notice as a new draft version (see
// store.SaveNoticeVersion). A reason is required, as for facts.
func (s *Service) SaveNotice(ctx context.Context, p auth.Principal, id int64, e store.NoticeEdit) (store.NoticeVersion, error) {
	if err := p.Require(auth.EditIncident); err != nil {
		return store.NoticeVersion{}, err
	}
	var list apperr.List
	e.Reason = strings.TrimSpace(e.Reason)
	if e.Reason == "" {
		list = append(list, apperr.Invalid("reason", "say why you are changing the notice, e.g. \"Added the helpline number\""))
	} else if len([]rune(e.Reason)) > 500 {
		list = append(list, apperr.Invalid("reason", "keep the reason under 500 characters"))
	}
	if e.BaseVersion <= 0 {
		list = append(list, apperr.Invalid("base_version", "say which version your edit is based on (base_version), so a colleague's change is never overwritten"))
	}
	if e.Title != "" {
		e.Title = strings.TrimSpace(e.Title)
		if err := notice.ValidateTitle(e.Title); err != nil {
			list = append(list, apperr.As(err))
		}
	}
	if e.Channels != nil {
		names := make([]string, len(e.Channels))
		for i, c := range e.Channels {
			names[i] = string(c)
		}
		cs, err := notice.ParseChannels(names)
		if err != nil {
			list = append(list, apperr.As(err))
		}
		e.Channels = cs
	}
	if err := e.Content.ValidateVariants(); err != nil {
		list = append(list, apperr.Flatten(err)...)
	}
	if err := e.Content.Parse(); err != nil {
		list = append(list, apperr.Flatten(err)...)
	}
	if err := list.Err(); err != nil {
		return store.NoticeVersion{}, err
	}
	return s.db.SaveNoticeVersion(ctx, p, id, e)
}

// SubmitNotice sends the current version for review. Every variant is first
// rendered against sample recipients of its segment, so a template that
// fails does so now, never at send time. The approvals it needs come from
// the audience kind's policy.
func (s *Service) SubmitNotice(ctx context.Context, p auth.Principal, id int64, number int, comment string) (store.NoticeVersion, error) {
	if err := p.Require(auth.EditIncident); err != nil {
		return store.NoticeVersion{}, err
	}
	rep, err := s.CheckNotice(ctx, p, id, number, nil)
	if err != nil {
		return store.NoticeVersion{}, err
	}
	if errs := rep.templateErrors(); len(errs) > 0 {
		return store.NoticeVersion{}, &apperr.Error{Code: apperr.EINVALID, Field: "body",
			Message: fmt.Sprintf("the notice cannot be submitted: %s. Fix the template and save first", errs[0].Message), Detail: errs}
	}
	n, err := s.db.FindNoticeByID(ctx, id)
	if err != nil {
		return store.NoticeVersion{}, err
	}
	pol := s.Policy(n.AudienceKind)
	return s.db.TransitionNotice(ctx, p, id, number, store.Transition{
		Action: "notice.submit", Summary: "Submitted for review" + suffix(comment), ApprovalsNeeded: pol.Approvals,
		Decide: func(v store.NoticeVersion) (notice.State, error) {
			if !v.State.Editable() {
				return v.State, v.State.Move(notice.InReview)
			}
			return notice.InReview, nil
		},
	})
}

func suffix(comment string) string {
	if c := strings.TrimSpace(comment); c != "" {
		return ": " + c
	}
	return ""
}

// Policy is the approvals a notice for this audience kind needs.
func (s *Service) Policy(kind string) notice.Policy {
	if n, ok := s.approvals[kind]; ok && n > 0 {
		return notice.Policy{Approvals: n}
	}
	return notice.DefaultPolicy(kind)
}

// Review decisions an approver can make.
type Review struct {
	Decision string // notice.DecisionApprove or notice.DecisionRequestChanges
	Comment  string
	// Overrides approve despite failing checks: finding key → written
	// reason. Every blocking finding must be overridden to approve.
	Overrides map[string]string
}

// ReviewNotice records an approver's decision on the version in review. The
// two-person rule holds here, on the server: the version's author cannot
// approve it, and it is approved only when enough other approvers have
// approved exactly this text.
func (s *Service) ReviewNotice(ctx context.Context, p auth.Principal, id int64, number int, r Review) (store.NoticeVersion, error) {
	if err := p.Require(auth.ApproveNotice); err != nil {
		return store.NoticeVersion{}, err
	}
	r.Comment = strings.TrimSpace(r.Comment)
	var tr store.Transition
	switch r.Decision {
	case notice.DecisionApprove:
	case notice.DecisionRequestChanges:
		if r.Comment == "" {
			return store.NoticeVersion{}, apperr.Invalid("comment", "say what should change, so the author knows what to do")
		}
	default:
		return store.NoticeVersion{}, apperr.Invalid("decision", "decision must be %q or %q", notice.DecisionApprove, notice.DecisionRequestChanges)
	}
	n, err := s.db.FindNoticeByID(ctx, id)
	if err != nil {
		return store.NoticeVersion{}, err
	}
	link := fmt.Sprintf("/notices/%d", id)
	// Refuse what the transaction would refuse before running the checks,
	// so the reason given is the real one.
	cur, err := s.db.FindNoticeVersion(ctx, id, number)
	if err != nil {
		return store.NoticeVersion{}, err
	}
	if cur.State != notice.InReview {
		return store.NoticeVersion{}, apperr.Conflict("version %d of %q is %s, not in review; only a version in review can be reviewed", number, n.Title, cur.State.Label())
	}
	if cur.AuthorID != 0 && cur.AuthorID == p.UserID {
		return store.NoticeVersion{}, apperr.Forbidden("you wrote version %d of %q; the two-person rule needs another approver to review it", number, n.Title)
	}
	if r.Decision == notice.DecisionApprove {
		rep, err := s.CheckNotice(ctx, p, id, number, nil)
		if err != nil {
			return store.NoticeVersion{}, err
		}
		overridden := map[string]bool{}
		for _, o := range cur.Overrides {
			overridden[o.FindingKey] = true
		}
		var missing apperr.List
		for _, f := range rep.Blocking() {
			if overridden[f.Key] {
				continue
			}
			reason := strings.TrimSpace(r.Overrides[f.Key])
			if reason == "" {
				missing = append(missing, apperr.Invalid("overrides."+f.Key, "check failed: %s. Fix the notice, or approve anyway by writing why in the override for %q", f.Message, f.Key))
				continue
			}
			tr.Overrides = append(tr.Overrides, store.Override{FindingKey: f.Key, Reason: reason})
		}
		if err := missing.Err(); err != nil {
			return store.NoticeVersion{}, err
		}
	}
	tr.Action = "notice." + r.Decision
	tr.Review = &notice.Review{ReviewerID: p.UserID, Reviewer: p.Label(), Decision: r.Decision, Comment: r.Comment}
	tr.NotifyLink = link
	if r.Decision == notice.DecisionApprove {
		tr.Summary = "Approved" + suffix(r.Comment)
		tr.Notify = fmt.Sprintf("%s approved version %d of %q", p.Label(), number, n.Title)
	} else {
		tr.Summary = "Requested changes" + suffix(r.Comment)
		tr.Notify = fmt.Sprintf("%s asked for changes to %q: %s", p.Label(), n.Title, r.Comment)
	}
	tr.Decide = func(v store.NoticeVersion) (notice.State, error) {
		if v.State != notice.InReview {
			return v.State, apperr.Conflict("version %d of %q is %s, not in review; only a version in review can be reviewed", v.Number, n.Title, v.State.Label())
		}
		if v.AuthorID != 0 && v.AuthorID == p.UserID {
			return v.State, apperr.Forbidden("you wrote version %d of %q; the two-person rule needs another approver to review it", v.Number, n.Title)
		}
		for _, prev := range v.Reviews[:len(v.Reviews)-1] {
			if prev.ReviewerID == p.UserID && prev.ContentHash == v.ContentHash && prev.Decision == notice.DecisionApprove {
				return v.State, apperr.Conflict("you already approved version %d of %q; it needs approval from someone else", v.Number, n.Title)
			}
		}
		if r.Decision == notice.DecisionRequestChanges {
			return notice.ChangesRequested, nil
		}
		probe := v.Version
		probe.State = notice.Approved
		if _, err := notice.Certify(probe); err != nil {
			return notice.InReview, nil // approved by this reviewer; more approvals needed
		}
		return notice.Approved, nil
	}
	return s.db.TransitionNotice(ctx, p, id, number, tr)
}

// WithdrawNotice withdraws an approved version: nothing more may be sent
// with it.
func (s *Service) WithdrawNotice(ctx context.Context, p auth.Principal, id int64, number int, reason string) (store.NoticeVersion, error) {
	if err := p.Require(auth.ApproveNotice); err != nil {
		return store.NoticeVersion{}, err
	}
	if strings.TrimSpace(reason) == "" {
		return store.NoticeVersion{}, apperr.Invalid("reason", "say why the notice is withdrawn")
	}
	return s.db.TransitionNotice(ctx, p, id, number, store.Transition{
		Action: "notice.withdraw", Summary: "Withdrew" + suffix(reason),
		Decide: func(v store.NoticeVersion) (notice.State, error) { return notice.Withdrawn, nil },
	})
}

// ReviewQueue lists the notices waiting for review, oldest first.
func (s *Service) ReviewQueue(ctx context.Context, p auth.Principal) ([]notice.Notice, error) {
	if err := p.Require(auth.Read); err != nil {
		return nil, err
	}
	return s.db.FindNoticesInState(ctx, notice.InReview)
}

// ApprovedNotice returns the proof that a version is approved, for release
// and publishing: the only door through which a notice's text leaves.
func (s *Service) ApprovedNotice(ctx context.Context, p auth.Principal, id int64, number int) (notice.ApprovedVersion, error) {
	if err := p.Require(auth.Read); err != nil {
		return notice.ApprovedVersion{}, err
	}
	return s.db.CertifiedVersion(ctx, id, number)
}

// Notifications returns the principal's in-app notifications and how many
// are unread.
func (s *Service) Notifications(ctx context.Context, p auth.Principal) ([]store.Notification, int, error) {
	if err := p.Require(auth.Read); err != nil {
		return nil, 0, err
	}
	if p.UserID == 0 {
		return nil, 0, nil
	}
	return s.db.FindNotifications(ctx, p.UserID, 20)
}

// MarkNotificationsRead marks the principal's notifications read.
func (s *Service) MarkNotificationsRead(ctx context.Context, p auth.Principal) error {
	if err := p.Require(auth.Read); err != nil {
		return err
	}
	return s.db.MarkNotificationsRead(ctx, p.UserID)
}

// renderData is what a notice is rendered from for one recipient.
func (s *Service) renderData(in incident.Incident, facts incident.Version) notice.Data {
	return notice.Data{Facts: facts.Facts, FactsVersion: facts.Version, Company: s.company, Incident: notice.Incident{Title: in.Title}}
}

// RecipientData converts an audience member for rendering.
func RecipientData(r audience.Recipient) notice.Recipient { return dispatch.RecipientData(&r) }

var errStop = errors.New("stop")
