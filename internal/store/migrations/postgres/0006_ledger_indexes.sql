-- Cheaper ledger writes. Each delivery is written twice, claimed and then
-- recorded, and every index whose columns or condition mention the state
-- is rewritten each time. So:
--   - the queue holds only what is waiting (queued, deferred): a claim
--     takes a row out of it and never has to step over rows in flight;
--   - rows in flight have their own small index, for recovery and for
--     telling when a release is finished;
--   - the index on (release_id, state) over every row goes: a release's
--     counts come from the queue, the rows in flight and the exceptions
--     (failed, bounced, cancelled), and sent is the rest of releases.total.
DROP INDEX deliveries_state;
DROP INDEX deliveries_queue;
CREATE INDEX deliveries_queue ON deliveries (release_id, not_before, id, state) WHERE state IN ('queued', 'deferred');
CREATE INDEX deliveries_sending ON deliveries (release_id, worker_id) WHERE state = 'sending';
CREATE INDEX deliveries_exceptions ON deliveries (release_id, state) WHERE state IN ('failed', 'bounced', 'cancelled');
