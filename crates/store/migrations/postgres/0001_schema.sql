-- chatgate on PostgreSQL: the schema the SQLite migrations 0001–0010 build,
-- in one step (PostgreSQL support starts with it). Times are milliseconds
-- since the Unix epoch (BIGINT), JSON is kept as TEXT (the store reads and
-- writes it whole), as on SQLite, so both backends run the same SQL.

CREATE TABLE instances (
    id                            BIGINT  PRIMARY KEY,   -- 10-digit InstanceId
    kind                          TEXT    NOT NULL,
    name                          TEXT    NOT NULL,
    token_hash                    TEXT    NOT NULL,
    state                         TEXT    NOT NULL,
    state_reason                  TEXT,
    active                        BOOLEAN NOT NULL DEFAULT TRUE,
    settings                      TEXT    NOT NULL,
    created_at                    BIGINT  NOT NULL,
    deleted_at                    BIGINT,
    last_event_seq                BIGINT  NOT NULL DEFAULT 0,
    webhook_format                TEXT    NOT NULL DEFAULT 'native',
    webhook_secret                TEXT    NOT NULL DEFAULT '',
    webhook_secret_previous       TEXT,
    webhook_secret_previous_until BIGINT,
    account_id                    TEXT,
    account_username              TEXT,
    token_sealed                  TEXT,
    access_token_sealed           TEXT,
    service_secret_sealed         TEXT
);
CREATE UNIQUE INDEX instances_token ON instances (token_hash);
CREATE UNIQUE INDEX instances_account ON instances (account_id)
    WHERE account_id IS NOT NULL AND deleted_at IS NULL;

CREATE TABLE outbound_lanes (
    instance_id     BIGINT  PRIMARY KEY,
    delay_ms        BIGINT  NOT NULL,
    blocked         BOOLEAN NOT NULL,
    last_attempt_at BIGINT,
    hold_until      BIGINT,
    ready_at        BIGINT,
    lease_owner     TEXT,
    lease_until     BIGINT
);
CREATE INDEX outbound_lanes_ready ON outbound_lanes (ready_at) WHERE ready_at IS NOT NULL;

CREATE TABLE messages (
    seq                 BIGINT  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id                  TEXT    NOT NULL,
    instance_id         BIGINT  NOT NULL,
    recipient_kind      TEXT    NOT NULL,
    recipient_id        TEXT    NOT NULL,
    content             TEXT    NOT NULL,
    status              TEXT    NOT NULL,
    failure             TEXT,
    provider_message_id TEXT,
    attempts            BIGINT  NOT NULL DEFAULT 0,
    not_before          BIGINT  NOT NULL,
    idempotency_key     TEXT,
    request_fingerprint TEXT,
    created_at          BIGINT  NOT NULL,
    status_at           BIGINT  NOT NULL,
    parts_sent          BIGINT  NOT NULL DEFAULT 0,
    transient_failures  BIGINT  NOT NULL DEFAULT 0,
    callback            TEXT
);
CREATE UNIQUE INDEX messages_id ON messages (id);
CREATE UNIQUE INDEX messages_idempotency ON messages (instance_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX messages_pending ON messages (instance_id, seq)
    WHERE status IN ('queued', 'sending');
CREATE INDEX messages_queued_age ON messages (created_at) WHERE status = 'queued';
CREATE INDEX messages_provider ON messages (instance_id, provider_message_id)
    WHERE provider_message_id IS NOT NULL;
CREATE INDEX messages_status_at ON messages (status_at);
CREATE UNIQUE INDEX messages_comment_reply ON messages (instance_id, recipient_id)
    WHERE recipient_kind = 'comment' AND status NOT IN ('failed', 'expired');
CREATE INDEX messages_recipient ON messages (instance_id, recipient_id, seq);
CREATE INDEX messages_instance_created ON messages (instance_id, created_at);

-- `rowid` keeps the insertion order the store reads transitions in (the
-- name SQLite gives it implicitly).
CREATE TABLE message_transitions (
    rowid       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_seq BIGINT NOT NULL,
    status      TEXT   NOT NULL,
    at          BIGINT NOT NULL,
    detail      TEXT
);
CREATE INDEX message_transitions_message ON message_transitions (message_seq);

CREATE TABLE message_parts (
    message_seq         BIGINT NOT NULL,
    idx                 BIGINT NOT NULL,
    instance_id         BIGINT NOT NULL,
    provider_message_id TEXT   NOT NULL,
    PRIMARY KEY (message_seq, idx)
);
CREATE INDEX message_parts_provider ON message_parts (instance_id, provider_message_id);

CREATE TABLE simulated_receipts (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_seq BIGINT NOT NULL,
    status      TEXT   NOT NULL,
    due_at      BIGINT NOT NULL
);
CREATE INDEX simulated_receipts_due ON simulated_receipts (due_at);

CREATE TABLE events (
    position    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id          TEXT   NOT NULL,
    instance_id BIGINT NOT NULL,
    seq         BIGINT NOT NULL,
    type        TEXT   NOT NULL,
    category    TEXT   NOT NULL,
    payload     TEXT   NOT NULL,
    dedupe_key  TEXT,
    at          BIGINT NOT NULL,
    contact_id  TEXT
);
CREATE UNIQUE INDEX events_id ON events (id);
CREATE UNIQUE INDEX events_seq ON events (instance_id, seq);
CREATE UNIQUE INDEX events_dedupe ON events (instance_id, dedupe_key) WHERE dedupe_key IS NOT NULL;
CREATE INDEX events_at ON events (at);
CREATE INDEX events_contact ON events (instance_id, contact_id, seq) WHERE contact_id IS NOT NULL;
CREATE INDEX events_instance_at ON events (instance_id, at);

CREATE TABLE notifications (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    instance_id     BIGINT NOT NULL,
    event_position  BIGINT NOT NULL,
    event_seq       BIGINT NOT NULL,
    state           TEXT   NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    done_at         BIGINT,
    target          TEXT,
    callback        TEXT
);
CREATE INDEX notifications_instance ON notifications (instance_id, id);
CREATE INDEX notifications_created ON notifications (created_at);
CREATE INDEX notifications_event ON notifications (event_position);
CREATE INDEX notifications_pending ON notifications (instance_id, event_seq, id)
    WHERE state = 'pending' AND target IS NULL;
CREATE INDEX notifications_callbacks ON notifications (instance_id, target, event_seq, id)
    WHERE state = 'pending' AND target IS NOT NULL;

CREATE TABLE hook_lanes (
    instance_id BIGINT  PRIMARY KEY,
    push        BOOLEAN NOT NULL,
    ready_at    BIGINT,
    lease_owner TEXT,
    lease_until BIGINT
);
CREATE INDEX hook_lanes_ready ON hook_lanes (ready_at) WHERE ready_at IS NOT NULL;

CREATE TABLE callback_lanes (
    instance_id BIGINT NOT NULL,
    target      TEXT   NOT NULL,
    ready_at    BIGINT,
    lease_owner TEXT,
    lease_until BIGINT,
    PRIMARY KEY (instance_id, target)
);
CREATE INDEX callback_lanes_ready ON callback_lanes (ready_at) WHERE ready_at IS NOT NULL;

CREATE TABLE delivery_attempts (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    notification_id BIGINT NOT NULL,
    instance_id     BIGINT NOT NULL,
    attempt         BIGINT NOT NULL,
    at              BIGINT NOT NULL,
    url             TEXT   NOT NULL,
    status_code     BIGINT,
    latency_ms      BIGINT NOT NULL,
    error           TEXT
);
CREATE INDEX delivery_attempts_notification ON delivery_attempts (notification_id);

CREATE TABLE contacts (
    instance_id        BIGINT NOT NULL,
    id                 TEXT   NOT NULL,
    username           TEXT,
    name               TEXT,
    first_seen_at      BIGINT NOT NULL,
    last_inbound_at    BIGINT,
    profile_checked_at BIGINT,
    PRIMARY KEY (instance_id, id)
);

CREATE TABLE files (
    id           TEXT   PRIMARY KEY,
    instance_id  BIGINT NOT NULL,
    name         TEXT   NOT NULL,
    content_type TEXT   NOT NULL,
    size         BIGINT NOT NULL,
    data         BYTEA  NOT NULL,
    created_at   BIGINT NOT NULL
);
CREATE INDEX files_created ON files (created_at);
