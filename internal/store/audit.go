package store

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/audit"
	"github.com/candorhq/candor/internal/auth"
)

// record describes an audit entry before it is chained.
type record struct {
	Action     string
	ObjectType string
	ObjectID   int64
	IncidentID int64
	Summary    string
	Before     any
	After      any
}

// appendAudit chains one entry onto the log inside tx. The UPDATE of the
// single audit_head row comes first: it takes that row's write lock, so
// concurrent transactions append one after another and never link to the
// same previous entry.
func (t *Tx) appendAudit(ctx context.Context, actor auth.Principal, r record) (audit.Entry, error) {
	var e audit.Entry
	if err := t.queryRow(ctx, `UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash`).Scan(&e.Seq, &e.PrevHash); err != nil {
		return e, fmt.Errorf("advance audit head: %w", err)
	}
	e.At = t.db.now()
	e.ActorID = actor.UserID
	e.Actor = actor.Label()
	e.Action = r.Action
	e.ObjectType = r.ObjectType
	e.ObjectID = strconv.FormatInt(r.ObjectID, 10)
	e.IncidentID = r.IncidentID
	e.Summary = r.Summary
	e.Change = audit.Change(r.Before, r.After)
	e.Hash = audit.ComputeHash(e)
	if _, err := t.exec(ctx, `
		INSERT INTO audit_log (seq, at, actor_id, actor, action, object_type, object_id, incident_id, summary, change, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.Seq, micros(e.At), nullInt(e.ActorID), e.Actor, e.Action, e.ObjectType, e.ObjectID,
		nullInt(e.IncidentID), e.Summary, nullString(string(e.Change)), e.PrevHash, e.Hash); err != nil {
		return e, fmt.Errorf("insert audit entry: %w", err)
	}
	if _, err := t.exec(ctx, `UPDATE audit_head SET hash = ? WHERE id = 1`, e.Hash); err != nil {
		return e, fmt.Errorf("update audit head: %w", err)
	}
	return e, nil
}

// AuditFilter selects audit entries, newest first.
type AuditFilter struct {
	IncidentID int64 // 0 for every entry
	Before     int64 // only entries with seq < Before; 0 for the newest
	Limit      int
}

// FindAudit returns audit entries, newest first, and the cursor for the next
// page (0 when there is none).
func (db *DB) FindAudit(ctx context.Context, f AuditFilter) ([]audit.Entry, int64, error) {
	limit := clampLimit(f.Limit)
	q := `SELECT ` + auditColumns + ` FROM audit_log WHERE 1 = 1`
	var args []any
	if f.IncidentID != 0 {
		q += ` AND incident_id = ?`
		args = append(args, f.IncidentID)
	}
	if f.Before > 0 {
		q += ` AND seq < ?`
		args = append(args, f.Before)
	}
	q += ` ORDER BY seq DESC LIMIT ?`
	args = append(args, limit+1)
	rows, err := db.query(ctx, q, args...)
	if err != nil {
		return nil, 0, fmt.Errorf("find audit: %w", err)
	}
	defer rows.Close()
	var out []audit.Entry
	for rows.Next() {
		e, err := scanAudit(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("find audit: %w", err)
	}
	var next int64
	if len(out) > limit {
		out = out[:limit]
		next = out[limit-1].Seq
	}
	return out, next, nil
}

const auditColumns = `seq, at, actor_id, actor, action, object_type, object_id, incident_id, summary, change, prev_hash, hash`

func scanAudit(s interface{ Scan(...any) error }) (audit.Entry, error) {
	var e audit.Entry
	var at int64
	var actorID, incidentID sql.NullInt64
	var change sql.NullString
	if err := s.Scan(&e.Seq, &at, &actorID, &e.Actor, &e.Action, &e.ObjectType, &e.ObjectID, &incidentID, &e.Summary, &change, &e.PrevHash, &e.Hash); err != nil {
		return e, fmt.Errorf("scan audit entry: %w", err)
	}
	e.At = fromMicros(at)
	e.ActorID = actorID.Int64
	e.IncidentID = incidentID.Int64
	if change.Valid {
		e.Change = []byte(change.String)
	}
	return e, nil
}

// VerifyAudit walks the whole chain in order and returns the number of
// entries checked and the first problem found (nil when the chain is intact).
// It reads in pages, so memory stays flat whatever the log's size.
func (db *DB) VerifyAudit(ctx context.Context) (int64, *audit.Problem, error) {
	var v audit.Verifier
	var after int64
	for {
		rows, err := db.query(ctx, `SELECT `+auditColumns+` FROM audit_log WHERE seq > ? ORDER BY seq LIMIT 1000`, after)
		if err != nil {
			return v.Checked, nil, fmt.Errorf("verify audit: %w", err)
		}
		n := 0
		for rows.Next() {
			e, err := scanAudit(rows)
			if err != nil {
				rows.Close()
				return v.Checked, nil, err
			}
			n++
			after = e.Seq
			if p := v.Next(e); p != nil {
				rows.Close()
				return v.Checked, p, nil
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return v.Checked, nil, fmt.Errorf("verify audit: %w", err)
		}
		if n == 0 {
			break
		}
	}
	var headSeq int64
	var headHash string
	if err := db.queryRow(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&headSeq, &headHash); err != nil {
		return v.Checked, nil, fmt.Errorf("read audit head: %w", err)
	}
	return v.Checked, v.End(headSeq, headHash), nil
}

func nullInt(v int64) any {
	if v == 0 {
		return nil
	}
	return v
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// ClampLimit bounds a page size to 1…500, defaulting to 50.
func ClampLimit(n int) int { return clampLimit(n) }

func clampLimit(n int) int {
	switch {
	case n <= 0:
		return 50
	case n > 500:
		return 500
	}
	return n
}

func notFound(what string) error { return apperr.NotFound("%s not found", what) }
