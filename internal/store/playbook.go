package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/candorhq/candor/internal/apperr"
	"github.com/candorhq/candor/internal/auth"
	"github.com/candorhq/candor/internal/playbook"
)

// SavePlaybook stores an organisation's playbook under its key: a new one
// starts at version 1, saving an existing key replaces its items and adds
// one to its version. baseVersion guards against a concurrent edit (0 for a
// new playbook).
func (db *DB) SavePlaybook(ctx context.Context, actor auth.Principal, pb playbook.Playbook, baseVersion int) (playbook.Playbook, error) {
	items, err := json.Marshal(pb.Items)
	if err != nil {
		return pb, err
	}
	err = db.inTx(ctx, func(tx *Tx) error {
		now := micros(tx.db.now())
		var cur int
		err := tx.queryRow(ctx, `SELECT version FROM playbooks WHERE key = ?`, pb.Key).Scan(&cur)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			if baseVersion != 0 {
				return apperr.NotFound("playbook %q not found", pb.Key)
			}
			pb.Version = 1
			if _, err := tx.exec(ctx, `INSERT INTO playbooks (key, name, version, description, items, created_by, created_at, updated_at) VALUES (?, ?, 1, ?, ?, ?, ?, ?)`,
				pb.Key, pb.Name, pb.Description, string(items), nullInt(actor.UserID), now, now); err != nil {
				if isUnique(err) {
					return apperr.Conflict("a playbook with key %q was saved at the same moment; choose another name", pb.Key)
				}
				return fmt.Errorf("insert playbook: %w", err)
			}
		case err != nil:
			return fmt.Errorf("find playbook: %w", err)
		default:
			if baseVersion != cur {
				if baseVersion == 0 {
					return &apperr.Error{Code: apperr.ECONFLICT, Field: "name", Message: fmt.Sprintf("a playbook named %q already exists (key %s); choose another name or edit that one", pb.Name, pb.Key)}
				}
				return apperr.Conflict("playbook %q is at version %d, not %d: someone saved it while you were editing; reload and edit again", pb.Key, cur, baseVersion)
			}
			pb.Version = cur + 1
			if _, err := tx.exec(ctx, `UPDATE playbooks SET name = ?, version = ?, description = ?, items = ?, updated_at = ? WHERE key = ?`,
				pb.Name, pb.Version, pb.Description, string(items), now, pb.Key); err != nil {
				return fmt.Errorf("update playbook: %w", err)
			}
		}
		_, err = tx.appendAudit(ctx, actor, record{
			Action: "playbook.save", ObjectType: "playbook", Summary: fmt.Sprintf("Saved playbook %q (%s) version %d with %d notices", pb.Name, pb.Key, pb.Version, len(pb.Items)),
			After: map[string]any{"key": pb.Key, "version": pb.Version, "items": len(pb.Items)},
		})
		return err
	})
	return pb, err
}

// FindPlaybooks returns the organisation's saved playbooks by name.
func (db *DB) FindPlaybooks(ctx context.Context) ([]playbook.Playbook, error) {
	rows, err := db.query(ctx, `SELECT key, name, version, description, items FROM playbooks ORDER BY name, key`)
	if err != nil {
		return nil, fmt.Errorf("find playbooks: %w", err)
	}
	defer rows.Close()
	var out []playbook.Playbook
	for rows.Next() {
		pb, err := scanPlaybook(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, pb)
	}
	return out, rows.Err()
}

// FindPlaybook returns a saved playbook, or ENOTFOUND.
func (db *DB) FindPlaybook(ctx context.Context, key string) (playbook.Playbook, error) {
	pb, err := scanPlaybook(db.queryRow(ctx, `SELECT key, name, version, description, items FROM playbooks WHERE key = ?`, key))
	if errors.Is(err, sql.ErrNoRows) {
		return pb, apperr.NotFound("playbook %q not found", key)
	}
	return pb, err
}

func scanPlaybook(s interface{ Scan(...any) error }) (playbook.Playbook, error) {
	var pb playbook.Playbook
	var items string
	if err := s.Scan(&pb.Key, &pb.Name, &pb.Version, &pb.Description, &items); err != nil {
		return pb, err
	}
	if err := json.Unmarshal([]byte(items), &pb.Items); err != nil {
		return pb, fmt.Errorf("playbook %s items: %w", pb.Key, err)
	}
	return pb, nil
}
