-- Events (the journal), notifications (the consumer queue, pushed or
-- pulled), delivery attempts, contacts, webhook secrets.

ALTER TABLE instances ADD COLUMN last_event_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE instances ADD COLUMN webhook_format TEXT NOT NULL DEFAULT 'native';
ALTER TABLE instances ADD COLUMN webhook_secret TEXT NOT NULL DEFAULT '';
ALTER TABLE instances ADD COLUMN webhook_secret_previous TEXT;
ALTER TABLE instances ADD COLUMN webhook_secret_previous_until INTEGER;

CREATE TABLE events (
    position    INTEGER PRIMARY KEY,          -- global order
    id          TEXT    NOT NULL,              -- EventId (UUIDv7): the webhook-id
    instance_id INTEGER NOT NULL,
    seq         INTEGER NOT NULL,              -- per-instance sequence number, from 1
    type        TEXT    NOT NULL,              -- incomingMessage, messageStatus, stateChanged, …
    category    TEXT    NOT NULL,              -- which switch governs it
    payload     TEXT    NOT NULL,              -- JSON, core::event::EventPayload
    dedupe_key  TEXT,                          -- the platform's id for inbound events
    at          INTEGER NOT NULL
);
CREATE UNIQUE INDEX events_id ON events (id);
CREATE UNIQUE INDEX events_seq ON events (instance_id, seq);
CREATE UNIQUE INDEX events_dedupe ON events (instance_id, dedupe_key) WHERE dedupe_key IS NOT NULL;
CREATE INDEX events_at ON events (at);

-- One row per event queued for the instance's consumer. receipt id = id.
CREATE TABLE notifications (
    id              INTEGER PRIMARY KEY,
    instance_id     INTEGER NOT NULL,
    event_position  INTEGER NOT NULL,
    event_seq       INTEGER NOT NULL,
    state           TEXT    NOT NULL,          -- pending | delivered | dead
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    done_at         INTEGER
);
CREATE INDEX notifications_pending ON notifications (instance_id, event_seq, id) WHERE state = 'pending';
CREATE INDEX notifications_instance ON notifications (instance_id, id);
CREATE INDEX notifications_created ON notifications (created_at);

-- Per instance, the push side of its notification queue.
-- Invariant: ready_at is NULL unless the instance pushes (push = 1) and has
-- a pending notification; then it is lease_until while a worker holds the
-- lane, otherwise the head's next_attempt_at.
CREATE TABLE hook_lanes (
    instance_id INTEGER PRIMARY KEY,
    push        INTEGER NOT NULL,
    ready_at    INTEGER,
    lease_owner TEXT,
    lease_until INTEGER
);
CREATE INDEX hook_lanes_ready ON hook_lanes (ready_at) WHERE ready_at IS NOT NULL;
INSERT INTO hook_lanes (instance_id, push)
    SELECT id, json_extract(settings, '$.webhookUrl') IS NOT NULL FROM instances WHERE deleted_at IS NULL;

CREATE TABLE delivery_attempts (
    id              INTEGER PRIMARY KEY,
    notification_id INTEGER NOT NULL,
    instance_id     INTEGER NOT NULL,
    attempt         INTEGER NOT NULL,
    at              INTEGER NOT NULL,
    url             TEXT    NOT NULL,
    status_code     INTEGER,
    latency_ms      INTEGER NOT NULL,
    error           TEXT
);
CREATE INDEX delivery_attempts_notification ON delivery_attempts (notification_id);

CREATE TABLE contacts (
    instance_id     INTEGER NOT NULL,
    id              TEXT    NOT NULL,
    username        TEXT,
    name            TEXT,
    first_seen_at   INTEGER NOT NULL,
    last_inbound_at INTEGER,
    PRIMARY KEY (instance_id, id)
) WITHOUT ROWID;

CREATE INDEX notifications_event ON notifications (event_position);
CREATE INDEX messages_status_at ON messages (status_at);
