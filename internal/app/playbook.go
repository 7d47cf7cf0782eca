package app

import (
	"context"
	"fmt"
	"strings"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/audience"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/notice"
	"github.com/candorhq/candor/internal/playbook"
)

// PlaybookInfo is a playbook with where it comes from.
type PlaybookInfo struct {
	playbook.Playbook
	Builtin bool `json:"builtin"`
}

// Playbooks lists the built-in playbooks, then the organisation's own.
func (s *Service) Playbooks(ctx context.Context, p auth.Principal) ([]PlaybookInfo, error) {
	if err := p.Require(auth.Read); err != nil {
		return nil, err
	}
	builtin, err := playbook.Builtin()
	if err != nil {
		return nil, err
	}
	var out []PlaybookInfo
	for _, pb := range builtin {
		out = append(out, PlaybookInfo{Playbook: pb, Builtin: true})
	}
	saved, err := s.db.FindPlaybooks(ctx)
	if err != nil {
		return nil, err
	}
	for _, pb := range saved {
		out = append(out, PlaybookInfo{Playbook: pb})
	}
	return out, nil
}

// Playbook returns one playbook by key: a saved one of the organisation
// first, else a built-in one.
func (s *Service) Playbook(ctx context.Context, p auth.Principal, key string) (PlaybookInfo, error) {
	if err := p.Require(auth.Read); err != nil {
		return PlaybookInfo{}, err
	}
	pb, err := s.db.FindPlaybook(ctx, key)
	if err == nil {
		return PlaybookInfo{Playbook: pb}, nil
	}
	if apperr.Code(err) != apperr.ENOTFOUND {
		return PlaybookInfo{}, err
	}
	if b, ok := playbook.BuiltinByKey(key); ok {
		return PlaybookInfo{Playbook: b, Builtin: true}, nil
	}
	return PlaybookInfo{}, apperr.NotFound("playbook %q not found; see the list of playbooks", key)
}

// ApplyPlaybook drafts every notice of a playbook for an incident, filled
// from its facts when rendered, each addressed to the incident's audience
// of the item's kind when there is one. Items the incident already has are
// skipped, so applying twice creates nothing new. All or nothing.
func (s *Service) ApplyPlaybook(ctx context.Context, p auth.Principal, incidentID int64, key string) ([]notice.Notice, error) {
	if err := p.Require(auth.EditIncident); err != nil {
		return nil, err
	}
	pb, err := s.Playbook(ctx, p, key)
	if err != nil {
		return nil, err
	}
	if _, err := s.db.FindIncidentByID(ctx, incidentID); err != nil {
		return nil, err
	}
	auds, err := s.db.FindAudiences(ctx, incidentID)
	if err != nil {
		return nil, err
	}
	byKind := map[string]int64{}
	for _, a := range auds {
		if _, ok := byKind[string(a.Kind)]; !ok {
			byKind[string(a.Kind)] = a.ID
		}
	}
	var ns []notice.New
	for i, it := range pb.Items {
		chans, err := notice.ParseChannels(it.Channels)
		if err != nil {
			return nil, fmt.Errorf("playbook %s item %d (%s): %w", pb.Key, i, it.Key, err)
		}
		ns = append(ns, notice.New{
			IncidentID: incidentID, Title: it.Title, AudienceKind: it.Audience, AudienceID: byKind[it.Audience], Channels: chans,
			PlaybookKey: pb.Key, ItemKey: it.Key, Offset: it.Offset, Content: notice.Content{Subject: it.Subject, Body: it.Body},
		})
	}
	created, err := s.db.CreateNotices(ctx, p, ns, fmt.Sprintf("From playbook %q version %d", pb.Name, pb.Version))
	if err != nil {
		return nil, err
	}
	s.log.Info("playbook_applied", "incident", incidentID, "playbook", pb.Key, "created", len(created), "skipped", len(ns)-len(created))
	return created, nil
}

// SavePlaybook stores an organisation's playbook, new (baseVersion 0) or
// edited. Every item is checked as a notice would be.
func (s *Service) SavePlaybook(ctx context.Context, p auth.Principal, pb playbook.Playbook, baseVersion int) (playbook.Playbook, error) {
	if err := p.Require(auth.EditIncident); err != nil {
		return pb, err
	}
	if err := validatePlaybook(&pb); err != nil {
		return pb, err
	}
	if _, ok := playbook.BuiltinByKey(pb.Key); ok {
		return pb, apperr.Invalid("name", "%q is the key of a built-in playbook; choose another name", pb.Key)
	}
	return s.db.SavePlaybook(ctx, p, pb, baseVersion)
}

func validatePlaybook(pb *playbook.Playbook) error {
	var list apperr.List
	pb.Name = strings.TrimSpace(pb.Name)
	if pb.Name == "" || len([]rune(pb.Name)) > 100 {
		list = append(list, apperr.Invalid("name", "give the playbook a name of at most 100 characters, e.g. \"Ransomware\""))
	}
	if pb.Key == "" {
		pb.Key = playbook.Key(pb.Name)
	}
	if pb.Key == "" {
		list = append(list, apperr.Invalid("name", "the name needs at least one letter or digit"))
	}
	if len(pb.Items) == 0 {
		list = append(list, apperr.Invalid("items", "a playbook needs at least one notice"))
	}
	keys := map[string]bool{}
	for i, it := range pb.Items {
		f := func(name string) string { return fmt.Sprintf("items[%d].%s", i, name) }
		if it.Key == "" {
			it.Key = playbook.Key(it.Title)
			pb.Items[i].Key = it.Key
		}
		if keys[it.Key] {
			list = append(list, apperr.Invalid(f("key"), "two notices have the key %q; give each a different title", it.Key))
		}
		keys[it.Key] = true
		if err := notice.ValidateTitle(it.Title); err != nil {
			e := apperr.As(err)
			list = append(list, apperr.Invalid(f("title"), "%s", e.Message))
		}
		if !audience.Kind(it.Audience).Valid() {
			list = append(list, apperr.Invalid(f("audience"), "unknown audience kind %q; use one of %s", it.Audience, audienceKinds()))
		}
		if _, err := notice.ParseChannels(it.Channels); err != nil {
			list = append(list, apperr.Invalid(f("channels"), "%s", apperr.Message(err)))
		}
		if _, _, err := playbook.ParseOffset(it.Offset); err != nil {
			list = append(list, apperr.Invalid(f("offset"), "%s", err.Error()))
		}
		if _, err := notice.Parse(it.Subject, it.Body); err != nil {
			for _, e := range apperr.Flatten(err) {
				list = append(list, apperr.Invalid(f(e.Field), "%s", e.Message))
			}
		}
		pb.Items[i].File = ""
	}
	return list.Err()
}

// SaveIncidentAsPlaybook makes a new playbook of an incident's notices (the
// current text of each), so the next incident starts from this one's work.
func (s *Service) SaveIncidentAsPlaybook(ctx context.Context, p auth.Principal, incidentID int64, name, description string) (playbook.Playbook, error) {
	if err := p.Require(auth.EditIncident); err != nil {
		return playbook.Playbook{}, err
	}
	ns, err := s.Notices(ctx, p, incidentID)
	if err != nil {
		return playbook.Playbook{}, err
	}
	if len(ns) == 0 {
		return playbook.Playbook{}, apperr.Invalid("incident_id", "incident %d has no notices to save as a playbook", incidentID)
	}
	pb := playbook.Playbook{Name: name, Description: strings.TrimSpace(description)}
	for _, n := range ns {
		v, err := s.db.FindNoticeVersion(ctx, n.ID, 0)
		if err != nil {
			return pb, err
		}
		chans := make([]string, len(n.Channels))
		for i, c := range n.Channels {
			chans[i] = string(c)
		}
		key := n.ItemKey
		if key == "" {
			key = playbook.Key(n.Title)
		}
		pb.Items = append(pb.Items, playbook.Item{Key: key, Title: n.Title, Audience: n.AudienceKind, Channels: chans, Offset: n.Offset,
			Subject: v.Content.Subject, Body: v.Content.Body})
	}
	return s.SavePlaybook(ctx, p, pb, 0)
}
