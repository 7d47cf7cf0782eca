package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/incident"
)

const incidentColumns = `id, title, state, severity, facts_version, created_by, created_at, updated_at`

func scanIncident(s interface{ Scan(...any) error }) (incident.Incident, error) {
	var in incident.Incident
	var createdBy sql.NullInt64
	var created, updated int64
	err := s.Scan(&in.ID, &in.Title, &in.State, &in.Severity, &in.FactsVersion, &createdBy, &created, &updated)
	in.CreatedBy, in.CreatedAt, in.UpdatedAt = createdBy.Int64, fromMicros(created), fromMicros(updated)
	return in, err
}

// CreateIncident opens an incident in state investigating with its first
// facts version, validated by the caller.
func (db *DB) CreateIncident(ctx context.Context, actor auth.Principal, n incident.New) (incident.Incident, error) {
	now := db.now()
	in := incident.Incident{Title: n.Title, State: incident.Investigating, Severity: n.Severity, FactsVersion: 1, CreatedBy: actor.UserID, CreatedAt: now, UpdatedAt: now}
	factsJSON, err := json.Marshal(n.Facts)
	if err != nil {
		return in, err
	}
	err = db.inTx(ctx, func(tx *Tx) error {
		if err := tx.queryRow(ctx, `INSERT INTO incidents (title, state, severity, facts_version, created_by, created_at, updated_at)
			VALUES (?, ?, ?, 1, ?, ?, ?) RETURNING id`,
			in.Title, in.State, in.Severity, nullInt(actor.UserID), micros(now), micros(now)).Scan(&in.ID); err != nil {
			return fmt.Errorf("insert incident: %w", err)
		}
		if _, err := tx.exec(ctx, `INSERT INTO facts_versions (incident_id, version, facts, reason, author_id, author, created_at) VALUES (?, 1, ?, ?, ?, ?, ?)`,
			in.ID, string(factsJSON), "Incident opened", nullInt(actor.UserID), actor.Label(), micros(now)); err != nil {
			return fmt.Errorf("insert facts: %w", err)
		}
		_, err := tx.appendAudit(ctx, actor, record{
			Action: "incident.create", ObjectType: "incident", ObjectID: in.ID, IncidentID: in.ID,
			Summary: fmt.Sprintf("Opened incident %q (severity %s)", in.Title, in.Severity),
			After:   map[string]any{"title": in.Title, "severity": in.Severity, "state": in.State},
		})
		return err
	})
	return in, err
}

// FindIncidentByID returns ENOTFOUND if there is no such incident.
func (db *DB) FindIncidentByID(ctx context.Context, id int64) (incident.Incident, error) {
	in, err := scanIncident(db.queryRow(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return in, apperr.NotFound("incident %d not found", id)
	}
	if err != nil {
		return in, fmt.Errorf("find incident %d: %w", id, err)
	}
	return in, nil
}

// IncidentFilter selects incidents, newest first.
type IncidentFilter struct {
	State  incident.State // "" for any
	Before int64          // only ids below this; 0 for the newest
	Limit  int
}

// FindIncidents returns incidents, newest first, and the cursor of the next
// page (0 when there is none).
func (db *DB) FindIncidents(ctx context.Context, f IncidentFilter) ([]incident.Incident, int64, error) {
	limit := clampLimit(f.Limit)
	q := `SELECT ` + incidentColumns + ` FROM incidents WHERE 1 = 1`
	var args []any
	if f.State != "" {
		q += ` AND state = ?`
		args = append(args, f.State)
	}
	if f.Before > 0 {
		q += ` AND id < ?`
		args = append(args, f.Before)
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, limit+1)
	rows, err := db.query(ctx, q, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("find incidents: %w", err)
	}
	defer rows.Close()
	var out []incident.Incident
	for rows.Next() {
		in, err := scanIncident(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("find incidents: %w", err)
		}
		out = append(out, in)
	}
	var next int64
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].ID
	}
	return out, next, rows.Err()
}

// IncidentUpdate holds the fields to change; nil fields stay as they are.
type IncidentUpdate struct {
	Title    *string
	Severity *incident.Severity
}

// UpdateIncident changes an incident's title or severity. Returns ENOTFOUND.
func (db *DB) UpdateIncident(ctx context.Context, actor auth.Principal, id int64, upd IncidentUpdate) (incident.Incident, error) {
	var in incident.Incident
	err := db.inTx(ctx, func(tx *Tx) error {
		var err error
		in, err = tx.incident(ctx, id)
		if err != nil {
			return err
		}
		before, after := map[string]any{}, map[string]any{}
		if upd.Title != nil && *upd.Title != in.Title {
			before["title"], after["title"] = in.Title, *upd.Title
			in.Title = *upd.Title
		}
		if upd.Severity != nil && *upd.Severity != in.Severity {
			before["severity"], after["severity"] = in.Severity, *upd.Severity
			in.Severity = *upd.Severity
		}
		if len(after) == 0 {
			return nil
		}
		in.UpdatedAt = db.now()
		if _, err := tx.exec(ctx, `UPDATE incidents SET title = ?, severity = ?, updated_at = ? WHERE id = ?`, in.Title, in.Severity, micros(in.UpdatedAt), id); err != nil {
			return fmt.Errorf("update incident: %w", err)
		}
		_, err = tx.appendAudit(ctx, actor, record{Action: "incident.update", ObjectType: "incident", ObjectID: id, IncidentID: id,
			Summary: "Changed the incident's " + joinWords(sortedKeys(after)), Before: before, After: after})
		return err
	})
	return in, err
}

func (t *Tx) incident(ctx context.Context, id int64) (incident.Incident, error) {
	in, err := scanIncident(t.queryRow(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return in, apperr.NotFound("incident %d not found", id)
	}
	return in, err
}

// MoveIncident changes an incident's state. The move is checked against the
// state read inside the transaction, so two people moving the same incident
// at once cannot both succeed with a move the other made invalid. Returns
// ENOTFOUND, or EINVALID for a move the lifecycle does not allow.
func (db *DB) MoveIncident(ctx context.Context, actor auth.Principal, id int64, to incident.State, note string) (incident.Incident, error) {
	var in incident.Incident
	err := db.inTx(ctx, func(tx *Tx) error {
		var err error
		in, err = tx.incident(ctx, id)
		if err != nil {
			return err
		}
		from := in.State
		if err := incident.CheckMove(from, to); err != nil {
			return err
		}
		in.State, in.UpdatedAt = to, db.now()
		// The WHERE on the old state makes the write itself conditional, a
		// second guard besides the transaction's lock.
		res, err := tx.exec(ctx, `UPDATE incidents SET state = ?, updated_at = ? WHERE id = ? AND state = ?`, to, micros(in.UpdatedAt), id, from)
		if err != nil {
			return fmt.Errorf("move incident: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return apperr.Conflict("the incident changed state while you were looking; reload and try again")
		}
		summary := fmt.Sprintf("Moved the incident from %s to %s", from, to)
		if note != "" {
			summary += ": " + note
		}
		_, err = tx.appendAudit(ctx, actor, record{Action: "incident.state", ObjectType: "incident", ObjectID: id, IncidentID: id,
			Summary: summary, Before: map[string]any{"state": from}, After: map[string]any{"state": to, "note": note}})
		return err
	})
	return in, err
}

// ConflictDetail is the Detail of the ECONFLICT error SaveFacts returns: the
// version the caller started from, the version now current, and what changed
// in between, so that the person can see what someone else saved.
type ConflictDetail struct {
	BaseVersion    int               `json:"base_version"`
	CurrentVersion int               `json:"current_version"`
	Changes        []incident.Change `json:"changes"`
	ChangedBy      string            `json:"changed_by"`
	Reason         string            `json:"reason"`
}

// SaveFacts stores facts (validated by the caller) as the next version of
// the incident's facts, provided baseVersion is still the current one. If
// someone saved in the meantime it returns ECONFLICT with a *ConflictDetail,
// and writes nothing. Saving facts equal to the current ones is refused with
// EINVALID, so the history holds only real changes.
func (db *DB) SaveFacts(ctx context.Context, actor auth.Principal, id int64, baseVersion int, f incident.Facts, reason string) (incident.Version, error) {
	v := incident.Version{IncidentID: id, Facts: f, Reason: reason, AuthorID: actor.UserID, Author: actor.Label()}
	factsJSON, err := json.Marshal(f)
	if err != nil {
		return v, err
	}
	err = db.inTx(ctx, func(tx *Tx) error {
		in, err := tx.incident(ctx, id)
		if err != nil {
			return err
		}
		cur, err := tx.factsVersion(ctx, id, in.FactsVersion)
		if err != nil {
			return err
		}
		if baseVersion != in.FactsVersion {
			base, err := tx.factsVersion(ctx, id, baseVersion)
			if err != nil {
				return apperr.Invalid("base_version", "version %d of these facts does not exist", baseVersion)
			}
			return &apperr.Error{
				Code:    apperr.ECONFLICT,
				Message: fmt.Sprintf("someone saved these facts while you were editing (version %d, by %s); review their changes, then save again", in.FactsVersion, cur.Author),
				Detail:  &ConflictDetail{BaseVersion: baseVersion, CurrentVersion: in.FactsVersion, Changes: incident.Diff(base.Facts, cur.Facts), ChangedBy: cur.Author, Reason: cur.Reason},
			}
		}
		changes := incident.Diff(cur.Facts, f)
		if len(changes) == 0 {
			return apperr.Invalid("facts", "nothing changed; these are the facts of version %d", in.FactsVersion)
		}
		v.Version = in.FactsVersion + 1
		v.CreatedAt = db.now()
		// The conditional UPDATE is what makes the version check safe on
		// PostgreSQL under READ COMMITTED: of two concurrent saves from the
		// same base, only one finds facts_version still equal to it.
		res, err := tx.exec(ctx, `UPDATE incidents SET facts_version = ?, updated_at = ? WHERE id = ? AND facts_version = ?`, v.Version, micros(v.CreatedAt), id, baseVersion)
		if err != nil {
			return fmt.Errorf("advance facts version: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 {
			return &apperr.Error{Code: apperr.ECONFLICT, Message: "someone saved these facts at the same moment; reload to see their version, then save again",
				Detail: &ConflictDetail{BaseVersion: baseVersion, CurrentVersion: baseVersion + 1}}
		}
		if _, err := tx.exec(ctx, `INSERT INTO facts_versions (incident_id, version, facts, reason, author_id, author, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			id, v.Version, string(factsJSON), reason, nullInt(actor.UserID), v.Author, micros(v.CreatedAt)); err != nil {
			return fmt.Errorf("insert facts version: %w", err)
		}
		labels := make([]string, len(changes))
		for i, c := range changes {
			labels[i] = c.Label
		}
		before, after := map[string]string{}, map[string]string{}
		for _, c := range changes {
			before[c.Field], after[c.Field] = c.Before, c.After
		}
		_, err = tx.appendAudit(ctx, actor, record{Action: "facts.update", ObjectType: "incident", ObjectID: id, IncidentID: id,
			Summary: fmt.Sprintf("Saved facts version %d (%s): %s", v.Version, joinWords(labels), reason), Before: before, After: after})
		return err
	})
	return v, err
}

func (t *Tx) factsVersion(ctx context.Context, id int64, version int) (incident.Version, error) {
	return scanVersion(t.queryRow(ctx, `SELECT `+versionColumns+` FROM facts_versions WHERE incident_id = ? AND version = ?`, id, version))
}

const versionColumns = `incident_id, version, facts, reason, author_id, author, created_at`

func scanVersion(s interface{ Scan(...any) error }) (incident.Version, error) {
	var v incident.Version
	var factsJSON string
	var author sql.NullInt64
	var created int64
	if err := s.Scan(&v.IncidentID, &v.Version, &factsJSON, &v.Reason, &author, &v.Author, &created); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return v, apperr.NotFound("facts version not found")
		}
		return v, fmt.Errorf("scan facts version: %w", err)
	}
	v.AuthorID, v.CreatedAt = author.Int64, fromMicros(created)
	if err := json.Unmarshal([]byte(factsJSON), &v.Facts); err != nil {
		return v, fmt.Errorf("decode facts version %d: %w", v.Version, err)
	}
	return v, nil
}

// FindFacts returns one version of an incident's facts; version 0 means the
// current one. Returns ENOTFOUND.
func (db *DB) FindFacts(ctx context.Context, id int64, version int) (incident.Version, error) {
	if version == 0 {
		in, err := db.FindIncidentByID(ctx, id)
		if err != nil {
			return incident.Version{}, err
		}
		version = in.FactsVersion
	}
	v, err := scanVersion(db.queryRow(ctx, `SELECT `+versionColumns+` FROM facts_versions WHERE incident_id = ? AND version = ?`, id, version))
	if apperr.Code(err) == apperr.ENOTFOUND {
		return v, apperr.NotFound("incident %d has no facts version %d", id, version)
	}
	return v, err
}

// FindFactsVersions returns every version of an incident's facts, newest first.
func (db *DB) FindFactsVersions(ctx context.Context, id int64) ([]incident.Version, error) {
	if _, err := db.FindIncidentByID(ctx, id); err != nil {
		return nil, err
	}
	rows, err := db.query(ctx, `SELECT `+versionColumns+` FROM facts_versions WHERE incident_id = ? ORDER BY version DESC`, id)
	if err != nil {
		return nil, fmt.Errorf("find facts versions: %w", err)
	}
	defer rows.Close()
	var out []incident.Version
	for rows.Next() {
		v, err := scanVersion(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
