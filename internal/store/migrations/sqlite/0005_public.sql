-- The public side: services (components) incidents affect, the public
-- timeline of updates, notices published on the status page, subscribers
-- (email and webhook), outgoing webhook deliveries, the quiet period, and a
-- version that every public change bumps so that each process rebuilds its
-- in-memory copy of the public pages.

CREATE TABLE components (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL,
    description TEXT    NOT NULL DEFAULT '',
    position    INTEGER NOT NULL DEFAULT 0,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);
CREATE UNIQUE INDEX components_name ON components (lower(name));

CREATE TABLE incident_components (
    incident_id  INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    component_id INTEGER NOT NULL REFERENCES components (id) ON DELETE CASCADE,
    status       TEXT    NOT NULL,
    updated_at   BIGINT  NOT NULL,
    PRIMARY KEY (incident_id, component_id)
);

CREATE TABLE updates (
    id           INTEGER PRIMARY KEY,
    incident_id  INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    status       TEXT    NOT NULL,
    body         TEXT    NOT NULL,
    what_to_do   TEXT    NOT NULL DEFAULT '',
    -- JSON object: locale -> {"body", "what_to_do"}
    translations TEXT    NOT NULL DEFAULT '{}',
    display_at   BIGINT  NOT NULL,
    publish_at   BIGINT  NOT NULL,
    notify       BOOLEAN NOT NULL DEFAULT FALSE,
    -- Set once subscribers were handed the update (email release and
    -- webhooks queued); the notice carrying it by email.
    notified_at  BIGINT,
    notice_id    INTEGER REFERENCES notices (id) ON DELETE SET NULL,
    edited       BOOLEAN NOT NULL DEFAULT FALSE,
    -- JSON array of the texts it showed before each edit, oldest first.
    revisions    TEXT    NOT NULL DEFAULT '[]',
    -- The approved notice it was published from, if any.
    source_notice_id INTEGER,
    author_id    INTEGER REFERENCES users (id),
    author       TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL
);
CREATE INDEX updates_incident ON updates (incident_id, display_at);
CREATE INDEX updates_unnotified ON updates (publish_at) WHERE notify AND notified_at IS NULL;

-- Approved notices released on the status page channel (the website Q&A).
CREATE TABLE public_documents (
    notice_id    INTEGER PRIMARY KEY REFERENCES notices (id) ON DELETE CASCADE,
    incident_id  INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    version      INTEGER NOT NULL,
    title        TEXT    NOT NULL,
    markdown     TEXT    NOT NULL,
    published_by TEXT    NOT NULL,
    published_at BIGINT  NOT NULL
);

CREATE TABLE subscribers (
    id           INTEGER PRIMARY KEY,
    -- email: updates by email; webhook: updates POSTed to url; quiet: the
    -- quiet period's start and end POSTed to url (registered by an admin).
    kind         TEXT    NOT NULL,
    email        TEXT    NOT NULL,
    url          TEXT    NOT NULL DEFAULT '',
    locale       TEXT    NOT NULL DEFAULT '',
    -- pending, confirmed, unsubscribed, disabled
    state        TEXT    NOT NULL,
    secret       TEXT    NOT NULL DEFAULT '',
    failures     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT    NOT NULL DEFAULT '',
    -- The audience member that receives update emails.
    recipient_id BIGINT,
    created_at   BIGINT  NOT NULL,
    updated_at   BIGINT  NOT NULL,
    confirmed_at BIGINT,
    ended_at     BIGINT
);
-- email is stored lower-cased.
CREATE UNIQUE INDEX subscribers_key ON subscribers (kind, email, url);

CREATE TABLE webhook_deliveries (
    id            INTEGER PRIMARY KEY,
    subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    event_type    TEXT    NOT NULL,
    -- The webhook-id header: the same on every attempt, so receivers can
    -- drop repeats.
    msg_id        TEXT    NOT NULL UNIQUE,
    body          TEXT    NOT NULL,
    -- queued, sent, failed, cancelled
    state         TEXT    NOT NULL,
    attempts      INTEGER NOT NULL DEFAULT 0,
    not_before    BIGINT  NOT NULL,
    last_status   INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT    NOT NULL DEFAULT '',
    created_at    BIGINT  NOT NULL,
    sent_at       BIGINT
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (not_before) WHERE state = 'queued';
CREATE INDEX webhook_deliveries_subscriber ON webhook_deliveries (subscriber_id, id);

-- One row: the quiet period as switched by hand, and as last announced to
-- registered systems.
CREATE TABLE quiet_period (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    manual         BOOLEAN NOT NULL DEFAULT FALSE,
    manual_since   BIGINT,
    manual_reason  TEXT    NOT NULL DEFAULT '',
    manual_by      TEXT    NOT NULL DEFAULT '',
    announced      BOOLEAN NOT NULL DEFAULT FALSE,
    announced_at   BIGINT
);
INSERT INTO quiet_period (id) VALUES (1);

-- One row: bumped by every change of what the public sees.
CREATE TABLE public_version (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    version    BIGINT  NOT NULL,
    changed_at BIGINT  NOT NULL,
    -- Key for subscription tokens (hex), made on first use.
    token_key  TEXT    NOT NULL DEFAULT ''
);
INSERT INTO public_version (id, version, changed_at) VALUES (1, 1, 0);
