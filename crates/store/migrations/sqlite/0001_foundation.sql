-- chatgate on SQLite: instances, their outbound lanes, messages and their
-- histories, emulated receipts. Times are milliseconds since the Unix epoch.

CREATE TABLE instances (
    id           INTEGER PRIMARY KEY,          -- 10-digit InstanceId
    kind         TEXT    NOT NULL,             -- sandbox | instagram | whatsapp
    name         TEXT    NOT NULL,
    token_hash   TEXT    NOT NULL,             -- sha256 hex of the API token
    state        TEXT    NOT NULL,             -- notAuthorized | authorized | blocked | starting
    state_reason TEXT,
    active       INTEGER NOT NULL DEFAULT 1,
    settings     TEXT    NOT NULL,             -- JSON, core::Settings
    created_at   INTEGER NOT NULL,
    deleted_at   INTEGER
);
CREATE UNIQUE INDEX instances_token ON instances (token_hash);

-- One row per live instance: the state of its outbound FIFO.
-- Invariant: ready_at is the earliest time the lane may be claimed:
--   NULL when nothing is pending or the instance may not send (blocked);
--   lease_until while a worker holds the lane;
--   otherwise max(head.not_before, last_attempt_at + delay_ms, hold_until).
CREATE TABLE outbound_lanes (
    instance_id     INTEGER PRIMARY KEY,
    delay_ms        INTEGER NOT NULL,
    blocked         INTEGER NOT NULL,
    last_attempt_at INTEGER,
    hold_until      INTEGER,
    ready_at        INTEGER,
    lease_owner     TEXT,
    lease_until     INTEGER
);
CREATE INDEX outbound_lanes_ready ON outbound_lanes (ready_at) WHERE ready_at IS NOT NULL;

CREATE TABLE messages (
    seq                 INTEGER PRIMARY KEY,   -- global insertion order; FIFO per instance
    id                  TEXT    NOT NULL,      -- MessageId (UUIDv7)
    instance_id         INTEGER NOT NULL,
    recipient_kind      TEXT    NOT NULL,      -- user | comment
    recipient_id        TEXT    NOT NULL,
    content             TEXT    NOT NULL,      -- JSON, core::Content
    status              TEXT    NOT NULL,
    failure             TEXT,
    provider_message_id TEXT,
    attempts            INTEGER NOT NULL DEFAULT 0,
    not_before          INTEGER NOT NULL,      -- no attempt before this
    idempotency_key     TEXT,
    request_fingerprint TEXT,
    created_at          INTEGER NOT NULL,
    status_at           INTEGER NOT NULL
);
CREATE UNIQUE INDEX messages_id ON messages (id);
CREATE UNIQUE INDEX messages_idempotency ON messages (instance_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX messages_pending ON messages (instance_id, seq)
    WHERE status IN ('queued', 'sending');
CREATE INDEX messages_queued_age ON messages (created_at) WHERE status = 'queued';
CREATE INDEX messages_provider ON messages (instance_id, provider_message_id)
    WHERE provider_message_id IS NOT NULL;

CREATE TABLE message_transitions (
    message_seq INTEGER NOT NULL,
    status      TEXT    NOT NULL,
    at          INTEGER NOT NULL,
    detail      TEXT
);
CREATE INDEX message_transitions_message ON message_transitions (message_seq);

-- Receipts an emulated platform (the sandbox) promised when it accepted a
-- message; applied when due, so they survive a restart.
CREATE TABLE simulated_receipts (
    id          INTEGER PRIMARY KEY,
    message_seq INTEGER NOT NULL,
    status      TEXT    NOT NULL,
    due_at      INTEGER NOT NULL
);
CREATE INDEX simulated_receipts_due ON simulated_receipts (due_at);
