package store

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/incident"
	"github.com/candorhq/candor/internal/status"
)

// bumpPublic marks a change of what the public sees, so that every process
// rebuilds its copy of the public pages.
func (tx *Tx) bumpPublic(ctx context.Context) error {
	if _, err := tx.exec(ctx, `UPDATE public_version SET version = version + 1, changed_at = ? WHERE id = 1`, micros(tx.db.now())); err != nil {
		return fmt.Errorf("bump public version: %w", err)
	}
	return nil
}

// PublicVersion returns the counter every public change bumps.
func (db *DB) PublicVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := db.queryRow(ctx, `SELECT version FROM public_version WHERE id = 1`).Scan(&v); err != nil {
		return 0, fmt.Errorf("public version: %w", err)
	}
	return v, nil
}

// PublicTokenKey returns the key subscription tokens are signed with,
// making it on first use; every process sharing the database gets the same.
func (db *DB) PublicTokenKey(ctx context.Context) ([]byte, error) {
	var k string
	if err := db.queryRow(ctx, `SELECT token_key FROM public_version WHERE id = 1`).Scan(&k); err != nil {
		return nil, fmt.Errorf("read token key: %w", err)
	}
	if k == "" {
		b := make([]byte, 32)
		rand.Read(b)
		if _, err := db.exec(ctx, `UPDATE public_version SET token_key = ? WHERE id = 1 AND token_key = ''`, hex.EncodeToString(b)); err != nil {
			return nil, fmt.Errorf("store token key: %w", err)
		}
		if err := db.queryRow(ctx, `SELECT token_key FROM public_version WHERE id = 1`).Scan(&k); err != nil {
			return nil, fmt.Errorf("read token key: %w", err)
		}
	}
	return hex.DecodeString(k)
}

// ---- Components ----

// CreateComponent adds a service incidents can affect.
func (db *DB) CreateComponent(ctx context.Context, actor auth.Principal, c status.Component) (status.Component, error) {
	c.Name, c.Description = strings.TrimSpace(c.Name), strings.TrimSpace(c.Description)
	if c.Name == "" || len([]rune(c.Name)) > 100 {
		return c, apperr.Invalid("name", "give the service a name of 1 to 100 characters, e.g. \"Customer login\"")
	}
	now := db.now()
	c.CreatedAt, c.UpdatedAt = now, now
	err := db.inTx(ctx, func(tx *Tx) error {
		var n int
		if err := tx.queryRow(ctx, `SELECT COUNT(*) FROM components WHERE lower(name) = lower(?)`, c.Name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return apperr.Invalid("name", "a service named %q already exists", c.Name)
		}
		if c.Position == 0 {
			if err := tx.queryRow(ctx, `SELECT COALESCE(MAX(position), 0) + 1 FROM components`).Scan(&c.Position); err != nil {
				return err
			}
		}
		if err := tx.queryRow(ctx, `INSERT INTO components (name, description, position, created_at, updated_at) VALUES (?, ?, ?, ?, ?) RETURNING id`,
			c.Name, c.Description, c.Position, micros(now), micros(now)).Scan(&c.ID); err != nil {
			return fmt.Errorf("insert component: %w", err)
		}
		if _, err := tx.appendAudit(ctx, actor, record{Action: "component.create", ObjectType: "component", ObjectID: c.ID,
			Summary: fmt.Sprintf("Added service %q to the status page", c.Name), After: map[string]any{"name": c.Name}}); err != nil {
			return err
		}
		return tx.bumpPublic(ctx)
	})
	return c, err
}

// FindComponents returns every component in page order.
func (db *DB) FindComponents(ctx context.Context) ([]status.Component, error) {
	rows, err := db.query(ctx, componentQuery)
	if err != nil {
		return nil, fmt.Errorf("find components: %w", err)
	}
	return scanComponents(rows)
}

const componentQuery = `SELECT id, name, description, position, created_at, updated_at FROM components ORDER BY position, id`

func scanComponents(rows *sql.Rows) ([]status.Component, error) {
	defer rows.Close()
	var out []status.Component
	for rows.Next() {
		var c status.Component
		var cr, up int64
		if err := rows.Scan(&c.ID, &c.Name, &c.Description, &c.Position, &cr, &up); err != nil {
			return nil, err
		}
		c.CreatedAt, c.UpdatedAt = fromMicros(cr), fromMicros(up)
		out = append(out, c)
	}
	return out, rows.Err()
}

// SetIncidentComponents replaces the services an incident affects.
func (db *DB) SetIncidentComponents(ctx context.Context, actor auth.Principal, incidentID int64, as []status.Affected) error {
	return db.inTx(ctx, func(tx *Tx) error {
		now := micros(tx.db.now())
		if _, err := tx.exec(ctx, `DELETE FROM incident_components WHERE incident_id = ?`, incidentID); err != nil {
			return err
		}
		var names []string
		for i, a := range as {
			if !a.Status.Valid() {
				return apperr.Invalid(fmt.Sprintf("components[%d].status", i), "unknown status %q; use operational, degraded_performance, partial_outage, major_outage or under_maintenance", a.Status)
			}
			res, err := tx.exec(ctx, `INSERT INTO incident_components (incident_id, component_id, status, updated_at) SELECT ?, id, ?, ? FROM components WHERE id = ?`, incidentID, a.Status, now, a.ID)
			if err != nil {
				return fmt.Errorf("insert incident component: %w", err)
			}
			if n, _ := res.RowsAffected(); n == 0 {
				return apperr.Invalid(fmt.Sprintf("components[%d].id", i), "there is no service %d", a.ID)
			}
			names = append(names, fmt.Sprintf("%d:%s", a.ID, a.Status))
		}
		if _, err := tx.appendAudit(ctx, actor, record{Action: "incident.components", ObjectType: "incident", ObjectID: incidentID, IncidentID: incidentID,
			Summary: "Set the affected services", After: map[string]any{"components": names}}); err != nil {
			return err
		}
		return tx.bumpPublic(ctx)
	})
}

// IncidentComponents returns how an incident affects each service, by
// service id.
func (db *DB) IncidentComponents(ctx context.Context, incidentID int64) (map[int64]status.ComponentStatus, error) {
	rows, err := db.query(ctx, `SELECT component_id, status FROM incident_components WHERE incident_id = ?`, incidentID)
	if err != nil {
		return nil, fmt.Errorf("incident components: %w", err)
	}
	defer rows.Close()
	out := map[int64]status.ComponentStatus{}
	for rows.Next() {
		var id int64
		var st status.ComponentStatus
		if err := rows.Scan(&id, &st); err != nil {
			return nil, err
		}
		out[id] = st
	}
	return out, rows.Err()
}

// ---- Updates ----

const updateColumns = `id, incident_id, status, body, what_to_do, translations, display_at, publish_at, notify, notified_at, notice_id, edited, revisions, author, author_id, created_at, updated_at`

func scanUpdate(s interface{ Scan(...any) error }) (status.Update, int64, error) {
	u, nid, _, err := scanUpdateInfo(s)
	return u, nid, err
}

func scanUpdateInfo(s interface{ Scan(...any) error }) (status.Update, int64, bool, error) {
	var u status.Update
	var tr, revs string
	var display, publish, created, updated int64
	var notified, noticeID, authorID sql.NullInt64
	err := s.Scan(&u.ID, &u.IncidentID, &u.Status, &u.Body, &u.WhatToDo, &tr, &display, &publish, &u.Notify, &notified, &noticeID, &u.Edited, &revs, &u.Author, &authorID, &created, &updated)
	u.AuthorID = authorID.Int64
	if err != nil {
		return u, 0, false, err
	}
	u.DisplayAt, u.PublishAt, u.CreatedAt, u.UpdatedAt = fromMicros(display), fromMicros(publish), fromMicros(created), fromMicros(updated)
	if err := json.Unmarshal([]byte(tr), &u.Translations); err != nil {
		return u, 0, false, fmt.Errorf("update %d translations: %w", u.ID, err)
	}
	if err := json.Unmarshal([]byte(revs), &u.Revisions); err != nil {
		return u, 0, false, fmt.Errorf("update %d revisions: %w", u.ID, err)
	}
	return u, noticeID.Int64, notified.Valid, nil
}

// UpdateInfo is an update with what the admin side needs to know of it.
type UpdateInfo struct {
	status.Update
	Notified bool
	// NoticeID is the notice that carries it to email subscribers.
	NoticeID int64
}

// CreateUpdate stores an update, validated by the caller. It is public from
// u.PublishAt on.
func (db *DB) CreateUpdate(ctx context.Context, actor auth.Principal, u status.Update, sourceNoticeID int64) (status.Update, error) {
	now := db.now()
	u.CreatedAt, u.UpdatedAt, u.Author = now, now, actor.Label()
	tr, err := json.Marshal(nonNilTexts(u.Translations))
	if err != nil {
		return u, err
	}
	err = db.inTx(ctx, func(tx *Tx) error {
		in, err := tx.incident(ctx, u.IncidentID)
		if err != nil {
			return err
		}
		if err := tx.queryRow(ctx, `INSERT INTO updates (incident_id, status, body, what_to_do, translations, display_at, publish_at, notify, source_notice_id, author_id, author, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			u.IncidentID, u.Status, u.Body, u.WhatToDo, string(tr), micros(u.DisplayAt), micros(u.PublishAt), u.Notify, nullInt(sourceNoticeID),
			nullInt(actor.UserID), u.Author, micros(now), micros(now)).Scan(&u.ID); err != nil {
			return fmt.Errorf("insert update: %w", err)
		}
		verb := "Published"
		if u.PublishAt.After(now) {
			verb = "Scheduled"
		}
		if _, err := tx.appendAudit(ctx, actor, record{Action: "update.publish", ObjectType: "update", ObjectID: u.ID, IncidentID: u.IncidentID,
			Summary: fmt.Sprintf("%s a status page update (%s) on %q", verb, u.Status, in.Title),
			After: map[string]any{"status": u.Status, "body": u.Body, "what_to_do": u.WhatToDo, "translations": u.Translations,
				"display_at": u.DisplayAt, "publish_at": u.PublishAt, "notify": u.Notify}}); err != nil {
			return err
		}
		return tx.bumpPublic(ctx)
	})
	return u, err
}

func nonNilTexts(m map[string]status.Text) map[string]status.Text {
	if m == nil {
		return map[string]status.Text{}
	}
	return m
}

// EditUpdate replaces an update's text. Once the update is public the old
// text is kept as a revision and the update is marked edited: corrections
// are never silent.
func (db *DB) EditUpdate(ctx context.Context, actor auth.Principal, id int64, text status.Text, translations map[string]status.Text, reason string) (status.Update, error) {
	var out status.Update
	err := db.inTx(ctx, func(tx *Tx) error {
		now := tx.db.now()
		if _, err := tx.exec(ctx, `UPDATE updates SET updated_at = updated_at WHERE id = ?`, id); err != nil {
			return err
		}
		u, _, err := scanUpdate(tx.queryRow(ctx, `SELECT `+updateColumns+` FROM updates WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return apperr.NotFound("update %d not found", id)
		}
		if err != nil {
			return err
		}
		if translations == nil {
			translations = u.Translations
		}
		if u.Published(now) {
			u.Revisions = append(u.Revisions, status.Revision{Text: status.Text{Body: u.Body, WhatToDo: u.WhatToDo}, Translations: u.Translations,
				Editor: actor.Label(), Reason: reason, ReplacedAt: now})
			u.Edited = true
		}
		before := map[string]any{"body": u.Body, "what_to_do": u.WhatToDo, "translations": u.Translations}
		u.Body, u.WhatToDo, u.Translations, u.UpdatedAt = text.Body, text.WhatToDo, translations, now
		tr, _ := json.Marshal(nonNilTexts(u.Translations))
		revs, _ := json.Marshal(u.Revisions)
		if revs == nil || string(revs) == "null" {
			revs = []byte("[]")
		}
		if _, err := tx.exec(ctx, `UPDATE updates SET body = ?, what_to_do = ?, translations = ?, edited = ?, revisions = ?, updated_at = ? WHERE id = ?`,
			u.Body, u.WhatToDo, string(tr), u.Edited, string(revs), micros(now), id); err != nil {
			return fmt.Errorf("edit update: %w", err)
		}
		if _, err := tx.appendAudit(ctx, actor, record{Action: "update.edit", ObjectType: "update", ObjectID: id, IncidentID: u.IncidentID,
			Summary: fmt.Sprintf("Edited a status page update: %s", reason), Before: before,
			After: map[string]any{"body": u.Body, "what_to_do": u.WhatToDo, "translations": u.Translations}}); err != nil {
			return err
		}
		out = u
		return tx.bumpPublic(ctx)
	})
	return out, err
}

// FindUpdateByID returns one update.
func (db *DB) FindUpdateByID(ctx context.Context, id int64) (UpdateInfo, error) {
	u, nid, notified, err := scanUpdateInfo(db.queryRow(ctx, `SELECT `+updateColumns+` FROM updates WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return UpdateInfo{}, apperr.NotFound("update %d not found", id)
	}
	if err != nil {
		return UpdateInfo{}, fmt.Errorf("find update %d: %w", id, err)
	}
	return UpdateInfo{Update: u, NoticeID: nid, Notified: notified}, nil
}

// FindUpdates returns an incident's updates (0: every incident's),
// published and scheduled, newest display time first.
func (db *DB) FindUpdates(ctx context.Context, incidentID int64) ([]UpdateInfo, error) {
	q := `SELECT ` + updateColumns + ` FROM updates`
	var args []any
	if incidentID != 0 {
		q += ` WHERE incident_id = ?`
		args = append(args, incidentID)
	}
	rows, err := db.query(ctx, q+` ORDER BY display_at DESC, id DESC`, args...)
	if err != nil {
		return nil, fmt.Errorf("find updates: %w", err)
	}
	defer rows.Close()
	var out []UpdateInfo
	for rows.Next() {
		u, nid, notified, err := scanUpdateInfo(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, UpdateInfo{Update: u, NoticeID: nid, Notified: notified})
	}
	return out, rows.Err()
}

// DueNotifications returns the published updates whose subscribers were
// not yet told, oldest first.
func (db *DB) DueNotifications(ctx context.Context, limit int) ([]UpdateInfo, error) {
	rows, err := db.query(ctx, `SELECT `+updateColumns+` FROM updates WHERE notify AND notified_at IS NULL AND publish_at <= ? ORDER BY publish_at, id LIMIT ?`,
		micros(db.now()), clampLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("due notifications: %w", err)
	}
	defer rows.Close()
	var out []UpdateInfo
	for rows.Next() {
		u, nid, err := scanUpdate(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, UpdateInfo{Update: u, NoticeID: nid})
	}
	return out, rows.Err()
}

// MarkNotified records that an update's subscribers were handed it.
func (db *DB) MarkNotified(ctx context.Context, updateID int64) error {
	_, err := db.exec(ctx, `UPDATE updates SET notified_at = ? WHERE id = ? AND notified_at IS NULL`, micros(db.now()), updateID)
	return err
}

// SetUpdateNotice records the notice that carries an update by email.
func (db *DB) SetUpdateNotice(ctx context.Context, updateID, noticeID int64) error {
	_, err := db.exec(ctx, `UPDATE updates SET notice_id = ? WHERE id = ? AND notice_id IS NULL`, noticeID, updateID)
	return err
}

// ---- Documents ----

// PublishDocument shows an approved notice's text on the status page,
// replacing the version shown before.
func (db *DB) PublishDocument(ctx context.Context, actor auth.Principal, noticeID, incidentID int64, version int, title, markdown string) error {
	return db.inTx(ctx, func(tx *Tx) error {
		now := micros(tx.db.now())
		if _, err := tx.exec(ctx, `INSERT INTO public_documents (notice_id, incident_id, version, title, markdown, published_by, published_at) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (notice_id) DO UPDATE SET version = excluded.version, title = excluded.title, markdown = excluded.markdown, published_by = excluded.published_by, published_at = excluded.published_at`,
			noticeID, incidentID, version, title, markdown, actor.Label(), now); err != nil {
			return fmt.Errorf("publish document: %w", err)
		}
		if _, err := tx.appendAudit(ctx, actor, record{Action: "notice.publish", ObjectType: "notice", ObjectID: noticeID, IncidentID: incidentID,
			Summary: fmt.Sprintf("Published notice %q version %d on the status page", title, version), After: map[string]any{"version": version}}); err != nil {
			return err
		}
		return tx.bumpPublic(ctx)
	})
}

// FindPublicDocument returns what the status page shows of a notice, with
// who published it (ok false: nothing of it is published).
func (db *DB) FindPublicDocument(ctx context.Context, noticeID int64) (d PublicDocument, by string, ok bool, err error) {
	var at int64
	err = db.queryRow(ctx, `SELECT notice_id, incident_id, version, title, markdown, published_at, published_by FROM public_documents WHERE notice_id = ?`, noticeID).
		Scan(&d.NoticeID, &d.IncidentID, &d.Version, &d.Title, &d.Markdown, &at, &by)
	if errors.Is(err, sql.ErrNoRows) {
		return PublicDocument{}, "", false, nil
	}
	if err != nil {
		return PublicDocument{}, "", false, fmt.Errorf("find published notice: %w", err)
	}
	d.PublishedAt = fromMicros(at)
	return d, by, true, nil
}

// ---- The public state ----

// PublicDocument is a notice text shown on the status page.
type PublicDocument struct {
	NoticeID    int64
	IncidentID  int64
	Version     int
	Title       string
	Markdown    string
	PublishedAt time.Time
}

// PublicState is everything the public snapshot is built from.
type PublicState struct {
	Version    int64
	Incidents  map[int64]incident.Incident
	Facts      map[int64]incident.Facts
	Updates    []status.Update // every update, scheduled ones too
	Components []status.Component
	Affected   map[int64][]status.Affected
	Documents  []PublicDocument
	Quiet      QuietRow
}

// QuietRow is the stored quiet period.
type QuietRow struct {
	Manual      bool
	ManualSince time.Time
	Reason, By  string
	Announced   bool
	AnnouncedAt time.Time
}

// LoadPublic reads the public state in one transaction, so that it is
// consistent.
func (db *DB) LoadPublic(ctx context.Context) (PublicState, error) {
	ps := PublicState{Incidents: map[int64]incident.Incident{}, Facts: map[int64]incident.Facts{}, Affected: map[int64][]status.Affected{}}
	err := db.inTx(ctx, func(tx *Tx) error {
		if err := tx.queryRow(ctx, `SELECT version FROM public_version WHERE id = 1`).Scan(&ps.Version); err != nil {
			return err
		}
		rows, err := tx.query(ctx, `SELECT `+updateColumns+` FROM updates ORDER BY display_at DESC, id DESC`)
		if err != nil {
			return err
		}
		for rows.Next() {
			u, _, err := scanUpdate(rows)
			if err != nil {
				rows.Close()
				return err
			}
			ps.Updates = append(ps.Updates, u)
		}
		rows.Close()
		rows, err = tx.query(ctx, `SELECT `+prefixed("i.", incidentColumns)+`, f.facts FROM incidents i
			JOIN facts_versions f ON f.incident_id = i.id AND f.version = i.facts_version
			WHERE i.id IN (SELECT incident_id FROM updates)`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var in incident.Incident
			var createdBy sql.NullInt64
			var created, updated int64
			var facts string
			if err := rows.Scan(&in.ID, &in.Title, &in.State, &in.Severity, &in.FactsVersion, &createdBy, &created, &updated, &facts); err != nil {
				rows.Close()
				return err
			}
			in.CreatedAt, in.UpdatedAt = fromMicros(created), fromMicros(updated)
			var f incident.Facts
			json.Unmarshal([]byte(facts), &f)
			ps.Incidents[in.ID], ps.Facts[in.ID] = in, f
		}
		rows.Close()
		comps, err := tx.components(ctx)
		if err != nil {
			return err
		}
		ps.Components = comps
		byID := map[int64]status.Component{}
		for _, c := range comps {
			byID[c.ID] = c
		}
		rows, err = tx.query(ctx, `SELECT incident_id, component_id, status FROM incident_components ORDER BY incident_id, component_id`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var iid, cid int64
			var st status.ComponentStatus
			if err := rows.Scan(&iid, &cid, &st); err != nil {
				rows.Close()
				return err
			}
			ps.Affected[iid] = append(ps.Affected[iid], status.Affected{Component: byID[cid], Status: st})
		}
		rows.Close()
		rows, err = tx.query(ctx, `SELECT notice_id, incident_id, version, title, markdown, published_at FROM public_documents ORDER BY published_at, notice_id`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var d PublicDocument
			var at int64
			if err := rows.Scan(&d.NoticeID, &d.IncidentID, &d.Version, &d.Title, &d.Markdown, &at); err != nil {
				rows.Close()
				return err
			}
			d.PublishedAt = fromMicros(at)
			ps.Documents = append(ps.Documents, d)
		}
		rows.Close()
		q, err := tx.quiet(ctx)
		ps.Quiet = q
		return err
	})
	if err != nil {
		return ps, fmt.Errorf("load public state: %w", err)
	}
	return ps, nil
}

func (tx *Tx) components(ctx context.Context) ([]status.Component, error) {
	rows, err := tx.query(ctx, componentQuery)
	if err != nil {
		return nil, err
	}
	return scanComponents(rows)
}

func (tx *Tx) quiet(ctx context.Context) (QuietRow, error) {
	return scanQuiet(tx.queryRow(ctx, quietQuery))
}

const quietQuery = `SELECT manual, manual_since, manual_reason, manual_by, announced, announced_at FROM quiet_period WHERE id = 1`

func scanQuiet(row interface{ Scan(...any) error }) (QuietRow, error) {
	var q QuietRow
	var since, announcedAt sql.NullInt64
	err := row.Scan(&q.Manual, &since, &q.Reason, &q.By, &q.Announced, &announcedAt)
	if since.Valid {
		q.ManualSince = fromMicros(since.Int64)
	}
	if announcedAt.Valid {
		q.AnnouncedAt = fromMicros(announcedAt.Int64)
	}
	return q, err
}

// QuietState returns the stored quiet period.
func (db *DB) QuietState(ctx context.Context) (QuietRow, error) {
	// A plain read: on SQLite a transaction would take the write lock.
	return scanQuiet(db.queryRow(ctx, quietQuery))
}

// SetQuietPeriod switches the quiet period on or off by hand.
func (db *DB) SetQuietPeriod(ctx context.Context, actor auth.Principal, on bool, reason string) error {
	return db.inTx(ctx, func(tx *Tx) error {
		now := micros(tx.db.now())
		q, err := tx.quiet(ctx)
		if err != nil {
			return err
		}
		if q.Manual == on {
			return nil
		}
		if on {
			_, err = tx.exec(ctx, `UPDATE quiet_period SET manual = TRUE, manual_since = ?, manual_reason = ?, manual_by = ? WHERE id = 1`, now, reason, actor.Label())
		} else {
			_, err = tx.exec(ctx, `UPDATE quiet_period SET manual = FALSE, manual_since = NULL, manual_reason = '', manual_by = ? WHERE id = 1`, actor.Label())
		}
		if err != nil {
			return fmt.Errorf("set quiet period: %w", err)
		}
		word := "off"
		if on {
			word = "on"
		}
		if _, err := tx.appendAudit(ctx, actor, record{Action: "quiet_period." + word, ObjectType: "quiet_period", ObjectID: 1,
			Summary: fmt.Sprintf("Switched the quiet period %s by hand: %s", word, reason), After: map[string]any{"manual": on, "reason": reason}}); err != nil {
			return err
		}
		return tx.bumpPublic(ctx)
	})
}

// AnnounceQuiet records that the quiet period's current state (active or
// not) was announced, and runs enqueue in the same transaction. It does
// nothing and reports false when that state was announced already, so
// that of several processes only one announces each change.
func (db *DB) AnnounceQuiet(ctx context.Context, active bool, enqueue func(tx *Tx) error) (bool, error) {
	did := false
	err := db.inTx(ctx, func(tx *Tx) error {
		res, err := tx.exec(ctx, `UPDATE quiet_period SET announced = ?, announced_at = ? WHERE id = 1 AND announced <> ?`, active, micros(tx.db.now()), active)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		did = true
		return enqueue(tx)
	})
	return did, err
}
