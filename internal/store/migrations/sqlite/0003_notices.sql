-- Notices of the response package, their versions, reviews and check
-- overrides; playbooks saved by the organisation; and the in-app
-- notifications that tell an author their notice was reviewed.
-- A version's content is JSON (notice.Content) and never changes once the
-- version has left draft; content_hash is what approvals were given to.

CREATE TABLE notices (
    id              INTEGER PRIMARY KEY,
    incident_id     INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    title           TEXT    NOT NULL,
    audience_kind   TEXT    NOT NULL,
    audience_id     INTEGER REFERENCES audiences (id) ON DELETE SET NULL,
    channels        TEXT    NOT NULL,
    playbook_key    TEXT    NOT NULL DEFAULT '',
    item_key        TEXT    NOT NULL DEFAULT '',
    offset_spec     TEXT    NOT NULL DEFAULT '',
    current_version INTEGER NOT NULL,
    created_by      INTEGER REFERENCES users (id),
    created_at      BIGINT  NOT NULL,
    updated_at      BIGINT  NOT NULL
);
CREATE INDEX notices_incident ON notices (incident_id);
-- Applying a playbook twice creates nothing new.
CREATE UNIQUE INDEX notices_item ON notices (incident_id, playbook_key, item_key) WHERE item_key <> '';

CREATE TABLE notice_versions (
    id               INTEGER PRIMARY KEY,
    notice_id        INTEGER NOT NULL REFERENCES notices (id) ON DELETE CASCADE,
    version          INTEGER NOT NULL,
    state            TEXT    NOT NULL,
    content          TEXT    NOT NULL,
    content_hash     TEXT    NOT NULL,
    approvals_needed INTEGER NOT NULL DEFAULT 1,
    reason           TEXT    NOT NULL DEFAULT '',
    author_id        INTEGER REFERENCES users (id),
    author           TEXT    NOT NULL,
    created_at       BIGINT  NOT NULL,
    updated_at       BIGINT  NOT NULL,
    UNIQUE (notice_id, version)
);

CREATE TABLE notice_reviews (
    id           INTEGER PRIMARY KEY,
    version_id   INTEGER NOT NULL REFERENCES notice_versions (id) ON DELETE CASCADE,
    reviewer_id  INTEGER REFERENCES users (id),
    reviewer     TEXT    NOT NULL,
    decision     TEXT    NOT NULL,
    comment      TEXT    NOT NULL DEFAULT '',
    content_hash TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL
);
CREATE INDEX notice_reviews_version ON notice_reviews (version_id);

CREATE TABLE notice_overrides (
    version_id  INTEGER NOT NULL REFERENCES notice_versions (id) ON DELETE CASCADE,
    finding_key TEXT    NOT NULL,
    reason      TEXT    NOT NULL,
    user_id     INTEGER REFERENCES users (id),
    author      TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    PRIMARY KEY (version_id, finding_key)
);

CREATE TABLE playbooks (
    id          INTEGER PRIMARY KEY,
    key         TEXT    NOT NULL UNIQUE,
    name        TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    items       TEXT    NOT NULL,
    created_by  INTEGER REFERENCES users (id),
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);

CREATE TABLE notifications (
    id         INTEGER PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    message    TEXT    NOT NULL,
    link       TEXT    NOT NULL DEFAULT '',
    created_at BIGINT  NOT NULL,
    read_at    BIGINT
);
CREATE INDEX notifications_user ON notifications (user_id, id);
