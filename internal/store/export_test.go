package store

import "context"

// SetCopyLimits shrinks copyIntoEmpty's filter and held rows for a test,
// and returns a function that restores them.
func SetCopyLimits(bloomBits, heldMax int) (restore func()) {
	b, h := copyBloomBits, copyHeldMax
	copyBloomBits, copyHeldMax = bloomBits, heldMax
	return func() { copyBloomBits, copyHeldMax = b, h }
}

// Leases returns how many leases are held.
func (db *DB) Leases() (int, error) {
	var n int
	err := db.queryRow(context.Background(), `SELECT COUNT(*) FROM leases`).Scan(&n)
	return n, err
}

// DropLeases deletes every lease as if a bug had lost them, leaving their
// deliveries queued below leased_to.
func (db *DB) DropLeases() error {
	_, err := db.exec(context.Background(), `DELETE FROM leases`)
	return err
}

// PlannerRows returns the number of rows PostgreSQL's planner believes a
// table holds (pg_class.reltuples: -1 until the table is first analyzed).
func (db *DB) PlannerRows(table string) (float64, error) {
	var n float64
	err := db.queryRow(context.Background(), `SELECT reltuples FROM pg_class WHERE relname = ? AND relkind = 'r'`, table).Scan(&n)
	return n, err
}

// DeleteRecipientRow deletes a recipient the way no user action does:
// leaving its deliveries as they are.
func (db *DB) DeleteRecipientRow(email string) error {
	_, err := db.exec(context.Background(), `DELETE FROM recipients WHERE email = ?`, email)
	return err
}
