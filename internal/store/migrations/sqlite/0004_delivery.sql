-- The delivery ledger: one release per (notice version, channel), one
-- delivery per recipient of that release. A delivery is the proof of who
-- was told what and when; its state moves queued → sending → sent |
-- deferred | failed | bounced | cancelled. Workers claim queued rows; the
-- rows in "sending" are exactly those in flight, so after a crash they are
-- the only ones that may have reached their recipient already.

CREATE TABLE releases (
    id           INTEGER PRIMARY KEY,
    notice_id    INTEGER NOT NULL REFERENCES notices (id) ON DELETE CASCADE,
    version_id   INTEGER NOT NULL REFERENCES notice_versions (id) ON DELETE CASCADE,
    version      INTEGER NOT NULL,
    audience_id  BIGINT  NOT NULL,
    channel      TEXT    NOT NULL,
    -- scheduled, running, paused, cancelled, done
    state        TEXT    NOT NULL,
    start_at     BIGINT  NOT NULL,
    reason       TEXT    NOT NULL DEFAULT '',
    -- Key for the per-delivery reply and bounce tokens (hex).
    token_key    TEXT    NOT NULL,
    total        BIGINT  NOT NULL DEFAULT 0,
    created_by   INTEGER REFERENCES users (id),
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL,
    state_by     TEXT    NOT NULL DEFAULT '',
    finished_at  BIGINT,
    UNIQUE (version_id, channel)
);
CREATE INDEX releases_notice ON releases (notice_id);
CREATE INDEX releases_state ON releases (state);

CREATE TABLE deliveries (
    id                 INTEGER PRIMARY KEY,
    release_id         INTEGER NOT NULL REFERENCES releases (id) ON DELETE CASCADE,
    recipient_id       BIGINT  NOT NULL,
    address            TEXT    NOT NULL,
    -- The variant the recipient was sent (-1: the default text); NULL
    -- until it is rendered.
    variant            INTEGER,
    state              TEXT    NOT NULL,
    attempts           INTEGER NOT NULL DEFAULT 0,
    not_before         BIGINT  NOT NULL DEFAULT 0,
    last_error         TEXT    NOT NULL DEFAULT '',
    message_id         TEXT    NOT NULL DEFAULT '',
    provider_id        TEXT    NOT NULL DEFAULT '',
    possible_duplicate BOOLEAN NOT NULL DEFAULT FALSE,
    worker_id          BIGINT,
    queued_at          BIGINT  NOT NULL,
    first_attempt_at   BIGINT,
    last_attempt_at    BIGINT,
    sent_at            BIGINT,
    UNIQUE (release_id, recipient_id)
);
-- The work queue: what is left to send, in the order it may be claimed.
CREATE INDEX deliveries_queue ON deliveries (release_id, not_before, id) WHERE state IN ('queued', 'deferred', 'sending');
CREATE INDEX deliveries_state ON deliveries (release_id, state);
CREATE INDEX deliveries_address ON deliveries (lower(address));

-- Processes that claim deliveries, so that another can tell a dead one's
-- rows from a live one's.
CREATE TABLE workers (
    id           INTEGER PRIMARY KEY,
    host         TEXT    NOT NULL,
    pid          INTEGER NOT NULL,
    started_at   BIGINT  NOT NULL,
    heartbeat_at BIGINT  NOT NULL
);
