-- Leases: a delivery is written once, when its outcome is recorded.
--
-- A worker no longer marks each delivery it claims as sending. It takes a
-- run of its release's never-tried deliveries (state queued) in id order
-- and writes one lease row saying so: the lease holds every queued
-- delivery of the release with after_id < id <= last_id. The release
-- remembers how far leases reach (leased_to), so the next claim starts
-- after it. Retries (state deferred: a temporary failure, or a message a
-- dead worker had in flight) are claimed one row at a time as before.
--
-- Nothing else ever puts a delivery back in queued, so the queued rows in
-- a lease's range are exactly those still in flight: recovery of a dead
-- worker moves them to deferred (possible_duplicate), cancelling leaves
-- them to their worker, and the lease goes when its last outcome is
-- recorded.
ALTER TABLE releases ADD COLUMN leased_to BIGINT NOT NULL DEFAULT 0;
CREATE TABLE leases (
    id         INTEGER PRIMARY KEY,
    worker_id  BIGINT  NOT NULL,
    release_id INTEGER NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    after_id   BIGINT  NOT NULL,
    last_id    BIGINT  NOT NULL,
    claimed_at BIGINT  NOT NULL
);
CREATE INDEX leases_release ON leases (release_id, last_id);
CREATE INDEX leases_worker ON leases (worker_id);
-- The waiting rows, split: never tried (claimed by lease, in id order) and
-- retries (claimed when due).
DROP INDEX deliveries_queue;
CREATE INDEX deliveries_fresh ON deliveries (release_id, id) WHERE state = 'queued';
CREATE INDEX deliveries_retry ON deliveries (release_id, not_before, id) WHERE state = 'deferred';
