package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/audience"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/notice"
)

const noticeColumns = `n.id, n.incident_id, n.title, n.audience_kind, n.audience_id, n.channels, n.playbook_key, n.item_key, n.offset_spec,
	n.current_version, v.state, n.created_by, n.created_at, n.updated_at`

const noticeFrom = ` FROM notices n JOIN notice_versions v ON v.notice_id = n.id AND v.version = n.current_version`

func scanNotice(s interface{ Scan(...any) error }) (notice.Notice, error) {
	var n notice.Notice
	var audienceID, createdBy sql.NullInt64
	var channels string
	var created, updated int64
	err := s.Scan(&n.ID, &n.IncidentID, &n.Title, &n.AudienceKind, &audienceID, &channels, &n.PlaybookKey, &n.ItemKey, &n.Offset,
		&n.CurrentVersion, &n.State, &createdBy, &created, &updated)
	if err != nil {
		return n, err
	}
	n.AudienceID, n.CreatedBy = audienceID.Int64, createdBy.Int64
	n.CreatedAt, n.UpdatedAt = fromMicros(created), fromMicros(updated)
	if err := json.Unmarshal([]byte(channels), &n.Channels); err != nil {
		return n, fmt.Errorf("notice %d channels: %w", n.ID, err)
	}
	return n, nil
}

// CreateNotices creates notices, each with a first draft version, in one
// transaction: one for a notice written by hand, a whole package when a
// playbook is applied. A notice from a playbook item the incident already
// has (same playbook and item key) is skipped, so applying twice creates
// nothing new. It returns the notices created.
func (db *DB) CreateNotices(ctx context.Context, actor auth.Principal, ns []notice.New, reason string) ([]notice.Notice, error) {
	var out []notice.Notice
	err := db.inTx(ctx, func(tx *Tx) error {
		out = out[:0]
		for _, n := range ns {
			if _, err := tx.incident(ctx, n.IncidentID); err != nil {
				return err
			}
			if n.AudienceID != 0 {
				a, err := tx.audience(ctx, n.AudienceID)
				if err != nil {
					return apperr.Invalid("audience_id", "audience %d does not exist", n.AudienceID)
				}
				if a.IncidentID != n.IncidentID {
					return apperr.Invalid("audience_id", "audience %d belongs to another incident; choose one of this incident's audiences", n.AudienceID)
				}
			}
			if n.ItemKey != "" {
				var exists int
				err := tx.queryRow(ctx, `SELECT COUNT(*) FROM notices WHERE incident_id = ? AND playbook_key = ? AND item_key = ?`, n.IncidentID, n.PlaybookKey, n.ItemKey).Scan(&exists)
				if err != nil {
					return fmt.Errorf("find playbook notice: %w", err)
				}
				if exists > 0 {
					continue
				}
			}
			created, err := tx.createNotice(ctx, actor, n, reason)
			if err != nil {
				return err
			}
			out = append(out, created)
		}
		return nil
	})
	return out, err
}

func (t *Tx) createNotice(ctx context.Context, actor auth.Principal, n notice.New, reason string) (notice.Notice, error) {
	now := t.db.now()
	channels, _ := json.Marshal(n.Channels)
	content, _ := json.Marshal(n.Content)
	out := notice.Notice{IncidentID: n.IncidentID, Title: n.Title, AudienceKind: n.AudienceKind, AudienceID: n.AudienceID, Channels: n.Channels,
		PlaybookKey: n.PlaybookKey, ItemKey: n.ItemKey, Offset: n.Offset, CurrentVersion: 1, State: notice.Draft,
		CreatedBy: actor.UserID, CreatedAt: now, UpdatedAt: now}
	if err := t.queryRow(ctx, `INSERT INTO notices (incident_id, title, audience_kind, audience_id, channels, playbook_key, item_key, offset_spec, current_version, created_by, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?) RETURNING id`,
		n.IncidentID, n.Title, n.AudienceKind, nullInt(n.AudienceID), string(channels), n.PlaybookKey, n.ItemKey, n.Offset,
		nullInt(actor.UserID), micros(now), micros(now)).Scan(&out.ID); err != nil {
		return out, fmt.Errorf("insert notice: %w", err)
	}
	if _, err := t.exec(ctx, `INSERT INTO notice_versions (notice_id, version, state, content, content_hash, reason, author_id, author, created_at, updated_at)
		VALUES (?, 1, ?, ?, ?, ?, ?, ?, ?, ?)`,
		out.ID, notice.Draft, string(content), n.Content.Hash(), reason, nullInt(actor.UserID), actor.Label(), micros(now), micros(now)); err != nil {
		return out, fmt.Errorf("insert notice version: %w", err)
	}
	summary := fmt.Sprintf("Drafted notice %q for %s", n.Title, strings.ReplaceAll(n.AudienceKind, "_", " "))
	if n.PlaybookKey != "" {
		summary += fmt.Sprintf(" from playbook %s", n.PlaybookKey)
	}
	_, err := t.appendAudit(ctx, actor, record{
		Action: "notice.create", ObjectType: "notice", ObjectID: out.ID, IncidentID: n.IncidentID, Summary: summary,
		After: map[string]any{"title": n.Title, "audience_kind": n.AudienceKind, "channels": n.Channels, "version": 1, "content_hash": n.Content.Hash()},
	})
	return out, err
}

// FindNoticeByID returns ENOTFOUND if there is no such notice.
func (db *DB) FindNoticeByID(ctx context.Context, id int64) (notice.Notice, error) {
	n, err := scanNotice(db.queryRow(ctx, `SELECT `+noticeColumns+noticeFrom+` WHERE n.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return n, apperr.NotFound("notice %d not found", id)
	}
	if err != nil {
		return n, fmt.Errorf("find notice %d: %w", id, err)
	}
	return n, nil
}

// FindNotices returns an incident's notices in the order of their planned
// offsets' creation (id order).
func (db *DB) FindNotices(ctx context.Context, incidentID int64) ([]notice.Notice, error) {
	return db.findNotices(ctx, ` WHERE n.incident_id = ? ORDER BY n.id`, incidentID)
}

// FindNoticesInState returns the notices, of every incident, whose current
// version is in state: the approvers' review queue is those in review.
func (db *DB) FindNoticesInState(ctx context.Context, state notice.State) ([]notice.Notice, error) {
	return db.findNotices(ctx, ` WHERE v.state = ? ORDER BY v.updated_at, n.id`, state)
}

func (db *DB) findNotices(ctx context.Context, where string, args ...any) ([]notice.Notice, error) {
	rows, err := db.query(ctx, `SELECT `+noticeColumns+noticeFrom+where, args...)
	if err != nil {
		return nil, fmt.Errorf("find notices: %w", err)
	}
	defer rows.Close()
	var out []notice.Notice
	for rows.Next() {
		n, err := scanNotice(rows)
		if err != nil {
			return nil, fmt.Errorf("find notices: %w", err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// NoticeVersion is a stored version with what people need to see about it.
type NoticeVersion struct {
	notice.Version
	Reason    string
	Author    string
	Overrides []Override
	CreatedAt int64 // unix micros
	UpdatedAt int64
}

// Override is an approver's written decision to approve despite a failing
// check.
type Override struct {
	FindingKey string `json:"finding_key"`
	Reason     string `json:"reason"`
	Author     string `json:"author"`
	At         int64  `json:"-"`
}

const noticeVersionColumns = `id, notice_id, version, state, content, content_hash, approvals_needed, reason, author_id, author, created_at, updated_at`

func scanNoticeVersion(s interface{ Scan(...any) error }) (NoticeVersion, error) {
	var v NoticeVersion
	var content string
	var authorID sql.NullInt64
	err := s.Scan(&v.ID, &v.NoticeID, &v.Number, &v.State, &content, &v.ContentHash, &v.Policy.Approvals, &v.Reason, &authorID, &v.Author, &v.CreatedAt, &v.UpdatedAt)
	if err != nil {
		return v, err
	}
	v.AuthorID = authorID.Int64
	if err := json.Unmarshal([]byte(content), &v.Content); err != nil {
		return v, fmt.Errorf("notice version %d content: %w", v.ID, err)
	}
	return v, nil
}

// FindNoticeVersion returns one version (0: the current one) with its
// reviews and overrides.
func (db *DB) FindNoticeVersion(ctx context.Context, noticeID int64, number int) (NoticeVersion, error) {
	var v NoticeVersion
	err := db.inTx(ctx, func(tx *Tx) error {
		var err error
		v, err = tx.noticeVersion(ctx, noticeID, number)
		return err
	})
	return v, err
}

func (t *Tx) noticeVersion(ctx context.Context, noticeID int64, number int) (NoticeVersion, error) {
	q := `SELECT ` + noticeVersionColumns + ` FROM notice_versions WHERE notice_id = ? AND version = ?`
	args := []any{noticeID, number}
	if number <= 0 {
		q = `SELECT ` + prefixed("v.", noticeVersionColumns) + ` FROM notice_versions v JOIN notices n ON n.id = v.notice_id AND n.current_version = v.version WHERE n.id = ?`
		args = args[:1]
	}
	v, err := scanNoticeVersion(t.queryRow(ctx, q, args...))
	if errors.Is(err, sql.ErrNoRows) {
		if number <= 0 {
			return v, apperr.NotFound("notice %d not found", noticeID)
		}
		return v, apperr.NotFound("notice %d has no version %d", noticeID, number)
	}
	if err != nil {
		return v, fmt.Errorf("find notice version: %w", err)
	}
	if v.Reviews, err = t.reviews(ctx, v.ID); err != nil {
		return v, err
	}
	v.Overrides, err = t.overrides(ctx, v.ID)
	return v, err
}

func (t *Tx) reviews(ctx context.Context, versionID int64) ([]notice.Review, error) {
	rows, err := t.query(ctx, `SELECT reviewer_id, reviewer, decision, comment, content_hash, created_at FROM notice_reviews WHERE version_id = ? ORDER BY id`, versionID)
	if err != nil {
		return nil, fmt.Errorf("find reviews: %w", err)
	}
	defer rows.Close()
	var out []notice.Review
	for rows.Next() {
		var r notice.Review
		var id sql.NullInt64
		var at int64
		if err := rows.Scan(&id, &r.Reviewer, &r.Decision, &r.Comment, &r.ContentHash, &at); err != nil {
			return nil, fmt.Errorf("find reviews: %w", err)
		}
		r.ReviewerID, r.At = id.Int64, fromMicros(at)
		out = append(out, r)
	}
	return out, rows.Err()
}

func (t *Tx) overrides(ctx context.Context, versionID int64) ([]Override, error) {
	rows, err := t.query(ctx, `SELECT finding_key, reason, author, created_at FROM notice_overrides WHERE version_id = ? ORDER BY created_at, finding_key`, versionID)
	if err != nil {
		return nil, fmt.Errorf("find overrides: %w", err)
	}
	defer rows.Close()
	var out []Override
	for rows.Next() {
		var o Override
		if err := rows.Scan(&o.FindingKey, &o.Reason, &o.Author, &o.At); err != nil {
			return nil, fmt.Errorf("find overrides: %w", err)
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// FindNoticeVersions returns every version of a notice, newest first,
// without reviews.
func (db *DB) FindNoticeVersions(ctx context.Context, noticeID int64) ([]NoticeVersion, error) {
	if _, err := db.FindNoticeByID(ctx, noticeID); err != nil {
		return nil, err
	}
	rows, err := db.query(ctx, `SELECT `+noticeVersionColumns+` FROM notice_versions WHERE notice_id = ? ORDER BY version DESC`, noticeID)
	if err != nil {
		return nil, fmt.Errorf("find notice versions: %w", err)
	}
	defer rows.Close()
	var out []NoticeVersion
	for rows.Next() {
		v, err := scanNoticeVersion(rows)
		if err != nil {
			return nil, fmt.Errorf("find notice versions: %w", err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// NoticeEdit is a change to a notice: new text (always a new version) and
// optionally new title, channels and audience.
type NoticeEdit struct {
	BaseVersion int
	Content     notice.Content
	Reason      string
	Title       string           // "" keeps it
	Channels    []notice.Channel // nil keeps them
	AudienceID  *int64           // nil keeps it; 0 clears it
}

// SaveNoticeVersion stores edit as a new draft version on top of the
// current one. Earlier versions stay as they were — an approved version
// stays approved and can still be released. If the current version is no
// longer BaseVersion, someone else saved in the meantime: ECONFLICT.
func (db *DB) SaveNoticeVersion(ctx context.Context, actor auth.Principal, noticeID int64, e NoticeEdit) (NoticeVersion, error) {
	var out NoticeVersion
	err := db.inTx(ctx, func(tx *Tx) error {
		now := tx.db.now()
		n, err := tx.notice(ctx, noticeID)
		if err != nil {
			return err
		}
		next := n.CurrentVersion + 1
		res, err := tx.exec(ctx, `UPDATE notices SET current_version = ?, updated_at = ? WHERE id = ? AND current_version = ?`, next, micros(now), noticeID, e.BaseVersion)
		if err != nil {
			return fmt.Errorf("update notice: %w", err)
		}
		if k, _ := res.RowsAffected(); k == 0 {
			cur, _ := tx.noticeVersion(ctx, noticeID, n.CurrentVersion)
			return &apperr.Error{Code: apperr.ECONFLICT, Field: "base_version",
				Message: fmt.Sprintf("%s saved version %d of this notice while you were editing version %d; your text is not saved — compare, then save again on top of version %d", cur.Author, n.CurrentVersion, e.BaseVersion, n.CurrentVersion),
				Detail:  map[string]any{"current_version": n.CurrentVersion, "author": cur.Author, "reason": cur.Reason}}
		}
		before := map[string]any{"version": n.CurrentVersion}
		after := map[string]any{"version": next, "content_hash": e.Content.Hash()}
		if e.Title != "" && e.Title != n.Title {
			before["title"], after["title"] = n.Title, e.Title
			n.Title = e.Title
		}
		if e.Channels != nil {
			before["channels"], after["channels"] = n.Channels, e.Channels
			n.Channels = e.Channels
		}
		if e.AudienceID != nil && *e.AudienceID != n.AudienceID {
			if *e.AudienceID != 0 {
				a, err := tx.audience(ctx, *e.AudienceID)
				if err != nil || a.IncidentID != n.IncidentID {
					return apperr.Invalid("audience_id", "audience %d is not one of this incident's audiences", *e.AudienceID)
				}
			}
			before["audience_id"], after["audience_id"] = n.AudienceID, *e.AudienceID
			n.AudienceID = *e.AudienceID
		}
		channels, _ := json.Marshal(n.Channels)
		if _, err := tx.exec(ctx, `UPDATE notices SET title = ?, channels = ?, audience_id = ? WHERE id = ?`, n.Title, string(channels), nullInt(n.AudienceID), noticeID); err != nil {
			return fmt.Errorf("update notice: %w", err)
		}
		content, _ := json.Marshal(e.Content)
		if _, err := tx.exec(ctx, `INSERT INTO notice_versions (notice_id, version, state, content, content_hash, reason, author_id, author, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			noticeID, next, notice.Draft, string(content), e.Content.Hash(), e.Reason, nullInt(actor.UserID), actor.Label(), micros(now), micros(now)); err != nil {
			return fmt.Errorf("insert notice version: %w", err)
		}
		if _, err := tx.appendAudit(ctx, actor, record{
			Action: "notice.edit", ObjectType: "notice", ObjectID: noticeID, IncidentID: n.IncidentID,
			Summary: fmt.Sprintf("Saved version %d of notice %q: %s", next, n.Title, e.Reason),
			Before:  before, After: after,
		}); err != nil {
			return err
		}
		out, err = tx.noticeVersion(ctx, noticeID, next)
		return err
	})
	return out, err
}

func (t *Tx) notice(ctx context.Context, id int64) (notice.Notice, error) {
	n, err := scanNotice(t.queryRow(ctx, `SELECT `+noticeColumns+noticeFrom+` WHERE n.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return n, apperr.NotFound("notice %d not found", id)
	}
	if err != nil {
		return n, fmt.Errorf("find notice %d: %w", id, err)
	}
	return n, nil
}

// Transition is a review action on one version: its state change, the
// review recorded with it, and the overrides of failing checks. Decide is
// called inside the transaction with the version as stored (locked), and
// returns the state to move to, so the rule — who may approve, how many
// approvals are enough — is applied to what is in the database, not to
// what a caller read earlier.
type Transition struct {
	Action    string // audit action, e.g. "notice.submit"
	Summary   string
	Review    *notice.Review
	Overrides []Override
	// ApprovalsNeeded, when positive, is stored on the version (on submit).
	ApprovalsNeeded int
	// Notify is told to the version's author, with a link, in the UI.
	Notify     string
	NotifyLink string
	Decide     func(v NoticeVersion) (notice.State, error)
}

// TransitionNotice applies tr to version number of a notice, which must be
// its current version: a review of text that has since been replaced is
// refused.
func (db *DB) TransitionNotice(ctx context.Context, actor auth.Principal, noticeID int64, number int, tr Transition) (NoticeVersion, error) {
	var out NoticeVersion
	err := db.inTx(ctx, func(tx *Tx) error {
		now := tx.db.now()
		n, err := tx.notice(ctx, noticeID)
		if err != nil {
			return err
		}
		// Lock the version row first (PostgreSQL: row lock; SQLite: the
		// write lock is already held), then read it.
		if _, err := tx.exec(ctx, `UPDATE notice_versions SET updated_at = updated_at WHERE notice_id = ? AND version = ?`, noticeID, number); err != nil {
			return fmt.Errorf("lock notice version: %w", err)
		}
		v, err := tx.noticeVersion(ctx, noticeID, number)
		if err != nil {
			return err
		}
		if number != n.CurrentVersion && v.State != notice.Approved {
			return apperr.Conflict("version %d of notice %q has been replaced by version %d; review the current version", number, n.Title, n.CurrentVersion)
		}
		if tr.ApprovalsNeeded > 0 {
			v.Policy.Approvals = tr.ApprovalsNeeded
		}
		if tr.Review != nil {
			tr.Review.ContentHash = v.ContentHash
			v.Reviews = append(v.Reviews, *tr.Review)
		}
		to, err := tr.Decide(v)
		if err != nil {
			return err
		}
		if to != v.State {
			if err := v.State.Move(to); err != nil {
				return err
			}
		}
		if _, err := tx.exec(ctx, `UPDATE notice_versions SET state = ?, approvals_needed = ?, updated_at = ? WHERE id = ?`, to, v.Policy.Approvals, micros(now), v.ID); err != nil {
			return fmt.Errorf("update notice version: %w", err)
		}
		if tr.Review != nil {
			if _, err := tx.exec(ctx, `INSERT INTO notice_reviews (version_id, reviewer_id, reviewer, decision, comment, content_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
				v.ID, nullInt(actor.UserID), actor.Label(), tr.Review.Decision, tr.Review.Comment, v.ContentHash, micros(now)); err != nil {
				return fmt.Errorf("insert review: %w", err)
			}
		}
		for _, o := range tr.Overrides {
			if _, err := tx.exec(ctx, `INSERT INTO notice_overrides (version_id, finding_key, reason, user_id, author, created_at) VALUES (?, ?, ?, ?, ?, ?)
				ON CONFLICT (version_id, finding_key) DO UPDATE SET reason = excluded.reason, user_id = excluded.user_id, author = excluded.author, created_at = excluded.created_at`,
				v.ID, o.FindingKey, o.Reason, nullInt(actor.UserID), actor.Label(), micros(now)); err != nil {
				return fmt.Errorf("insert override: %w", err)
			}
		}
		if _, err := tx.exec(ctx, `UPDATE notices SET updated_at = ? WHERE id = ?`, micros(now), noticeID); err != nil {
			return fmt.Errorf("update notice: %w", err)
		}
		after := map[string]any{"state": to, "version": number, "content_hash": v.ContentHash}
		if tr.Review != nil {
			after["decision"], after["comment"] = tr.Review.Decision, tr.Review.Comment
		}
		if len(tr.Overrides) > 0 {
			after["overrides"] = tr.Overrides
		}
		if _, err := tx.appendAudit(ctx, actor, record{
			Action: tr.Action, ObjectType: "notice", ObjectID: noticeID, IncidentID: n.IncidentID,
			Summary: fmt.Sprintf("%s (notice %q, version %d)", tr.Summary, n.Title, number),
			Before:  map[string]any{"state": v.State}, After: after,
		}); err != nil {
			return err
		}
		if tr.Notify != "" && v.AuthorID != 0 && v.AuthorID != actor.UserID {
			if _, err := tx.exec(ctx, `INSERT INTO notifications (user_id, message, link, created_at) VALUES (?, ?, ?, ?)`,
				v.AuthorID, tr.Notify, tr.NotifyLink, micros(now)); err != nil {
				return fmt.Errorf("insert notification: %w", err)
			}
		}
		out, err = tx.noticeVersion(ctx, noticeID, number)
		return err
	})
	return out, err
}

// CertifiedVersion returns the proof that a notice version is approved, read
// and checked from the database (see notice.Certify). Release and publish
// take this, and nothing else.
func (db *DB) CertifiedVersion(ctx context.Context, noticeID int64, number int) (notice.ApprovedVersion, error) {
	v, err := db.FindNoticeVersion(ctx, noticeID, number)
	if err != nil {
		return notice.ApprovedVersion{}, err
	}
	return notice.Certify(v.Version)
}

// Notification is an in-app message for one user.
type Notification struct {
	ID        int64  `json:"id"`
	Message   string `json:"message"`
	Link      string `json:"link"`
	CreatedAt int64  `json:"-"`
	Read      bool   `json:"read"`
}

// FindNotifications returns a user's newest notifications (unread first is
// the caller's choice) and the number unread.
func (db *DB) FindNotifications(ctx context.Context, userID int64, limit int) ([]Notification, int, error) {
	var unread int
	if err := db.queryRow(ctx, `SELECT COUNT(*) FROM notifications WHERE user_id = ? AND read_at IS NULL`, userID).Scan(&unread); err != nil {
		return nil, 0, fmt.Errorf("count notifications: %w", err)
	}
	rows, err := db.query(ctx, `SELECT id, message, link, created_at, read_at IS NOT NULL FROM notifications WHERE user_id = ? ORDER BY id DESC LIMIT ?`, userID, clampLimit(limit))
	if err != nil {
		return nil, 0, fmt.Errorf("find notifications: %w", err)
	}
	defer rows.Close()
	var out []Notification
	for rows.Next() {
		var n Notification
		if err := rows.Scan(&n.ID, &n.Message, &n.Link, &n.CreatedAt, &n.Read); err != nil {
			return nil, 0, fmt.Errorf("find notifications: %w", err)
		}
		out = append(out, n)
	}
	return out, unread, rows.Err()
}

// MarkNotificationsRead marks all of a user's notifications read.
func (db *DB) MarkNotificationsRead(ctx context.Context, userID int64) error {
	_, err := db.exec(ctx, `UPDATE notifications SET read_at = ? WHERE user_id = ? AND read_at IS NULL`, micros(db.now()), userID)
	return err
}

// FindRecipientByID returns one recipient, or ENOTFOUND.
func (db *DB) FindRecipientByID(ctx context.Context, id int64) (audience.Recipient, error) {
	rows, err := db.query(ctx, `SELECT `+recipientColumns+` FROM recipients WHERE id = ?`, id)
	if err != nil {
		return audience.Recipient{}, fmt.Errorf("find recipient: %w", err)
	}
	defer rows.Close()
	var r audience.Recipient
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return r, fmt.Errorf("find recipient: %w", err)
		}
		return r, apperr.NotFound("recipient %d not found", id)
	}
	err = scanRecipient(rows, &r)
	return r, err
}
