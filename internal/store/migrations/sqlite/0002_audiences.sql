-- Audiences and their recipients, standing contact lists, and segments.
-- An audience with no incident is a standing list of the organisation
-- ("All customers", "Press contacts"); incident audiences attach lists, and
-- their members are their own recipients and the lists', deduplicated by
-- email. Exposed data kinds and attributes are JSON text in both dialects.

CREATE TABLE audiences (
    id          INTEGER PRIMARY KEY,
    incident_id INTEGER REFERENCES incidents (id) ON DELETE CASCADE,
    kind        TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    created_by  INTEGER REFERENCES users (id),
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);
-- Names are unique per incident, and among standing lists (incident 0).
CREATE UNIQUE INDEX audiences_name ON audiences (COALESCE(incident_id, 0), lower(name));

CREATE TABLE audience_lists (
    audience_id INTEGER NOT NULL REFERENCES audiences (id) ON DELETE CASCADE,
    list_id     INTEGER NOT NULL REFERENCES audiences (id) ON DELETE CASCADE,
    created_at  BIGINT  NOT NULL,
    PRIMARY KEY (audience_id, list_id)
);

-- recipients.audience_id has no foreign key: its check runs once per
-- inserted row (on PostgreSQL an index probe and a row lock on the
-- audience), which cost 40% of a million-row import. The store checks and
-- locks the audience once per import instead; whoever deletes an audience
-- must delete its recipients in the same transaction.
CREATE TABLE recipients (
    id           INTEGER PRIMARY KEY,
    audience_id  INTEGER NOT NULL,
    email        TEXT,
    phone        TEXT    NOT NULL DEFAULT '',
    name         TEXT    NOT NULL DEFAULT '',
    locale       TEXT    NOT NULL DEFAULT '',
    jurisdiction TEXT    NOT NULL DEFAULT '',
    external_id  TEXT    NOT NULL DEFAULT '',
    exposed      TEXT    NOT NULL DEFAULT '[]',
    attributes   TEXT    NOT NULL DEFAULT '{}',
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL
);
-- An import upserts on these: by email, and by phone for recipients
-- without an email address.
CREATE UNIQUE INDEX recipients_email ON recipients (audience_id, email);
CREATE UNIQUE INDEX recipients_phone ON recipients (audience_id, phone) WHERE email IS NULL;
-- Keyset pages of one audience's recipients (the rowid is in every index).
CREATE INDEX recipients_audience ON recipients (audience_id);

CREATE TABLE segments (
    id          INTEGER PRIMARY KEY,
    incident_id INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    rule        TEXT    NOT NULL,
    created_by  INTEGER REFERENCES users (id),
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);
CREATE UNIQUE INDEX segments_name ON segments (incident_id, lower(name));

-- One row per import of a CSV file, kept or refused: its counts and the
-- first rejected rows (line, column, value, reason) as JSON, so that the
-- result page and its "errors as CSV" download can be opened again later.
CREATE TABLE imports (
    id          INTEGER PRIMARY KEY,
    audience_id BIGINT  NOT NULL REFERENCES audiences (id) ON DELETE CASCADE,
    file_name   TEXT    NOT NULL DEFAULT '',
    kept        BOOLEAN NOT NULL,
    rows_read   BIGINT  NOT NULL,
    accepted    BIGINT  NOT NULL,
    rejected    BIGINT  NOT NULL,
    created     BIGINT  NOT NULL,
    updated     BIGINT  NOT NULL,
    report      TEXT    NOT NULL,
    created_by  BIGINT  REFERENCES users (id),
    created_at  BIGINT  NOT NULL
);
CREATE INDEX imports_audience ON imports (audience_id, id);
