-- Foundation: users, sessions, API tokens, incidents with versioned facts,
-- and the hash-chained audit log. Times are Unix microseconds (UTC) in both
-- dialects, so they compare, sort and hash the same everywhere.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY,
    email         TEXT    NOT NULL UNIQUE,
    name          TEXT    NOT NULL DEFAULT '',
    role          TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    disabled      BOOLEAN NOT NULL DEFAULT FALSE,
    created_at    BIGINT  NOT NULL
);

CREATE TABLE sessions (
    id           INTEGER PRIMARY KEY,
    secret_hash  TEXT    NOT NULL UNIQUE,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   BIGINT  NOT NULL,
    expires_at   BIGINT  NOT NULL,
    last_seen_at BIGINT  NOT NULL,
    client       TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user ON sessions (user_id);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name         TEXT    NOT NULL,
    role         TEXT    NOT NULL,
    secret_hash  TEXT    NOT NULL UNIQUE,
    created_at   BIGINT  NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);

CREATE TABLE incidents (
    id            INTEGER PRIMARY KEY,
    title         TEXT    NOT NULL,
    state         TEXT    NOT NULL,
    severity      TEXT    NOT NULL,
    facts_version INTEGER NOT NULL DEFAULT 0,
    created_by    INTEGER REFERENCES users (id),
    created_at    BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL
);

CREATE TABLE facts_versions (
    incident_id INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    version     INTEGER NOT NULL,
    facts       TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    author_id   INTEGER REFERENCES users (id),
    author      TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    PRIMARY KEY (incident_id, version)
);

CREATE TABLE audit_log (
    seq         INTEGER PRIMARY KEY,
    at          BIGINT  NOT NULL,
    actor_id    INTEGER,
    actor       TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    object_type TEXT    NOT NULL,
    object_id   TEXT    NOT NULL,
    incident_id INTEGER,
    summary     TEXT    NOT NULL,
    change      TEXT,
    prev_hash   TEXT    NOT NULL,
    hash        TEXT    NOT NULL
);
CREATE INDEX audit_log_incident ON audit_log (incident_id, seq);

-- The head of the chain: one row, updated by every append. Updating it
-- serialises appends, so two transactions never link to the same entry.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT  NOT NULL,
    hash TEXT    NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Append-only: the application never updates or deletes audit entries, and
-- the database refuses it too. (Whoever can drop the triggers can edit rows;
-- `candor audit verify` catches that through the hash chain.)
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
