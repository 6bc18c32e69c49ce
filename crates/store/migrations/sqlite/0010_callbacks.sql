-- Per-message status callbacks (imiconnect's callbackUrl) and the service
-- secret that signs an instance's JWTs.
--
-- A callback is a notification with its own target: `target` is the URL
-- (NULL: the instance's webhook, or a pull consumer) and `callback` the
-- message's callbackData and correlationId to render with it. Callbacks of
-- one instance to one URL go out in order on their own lane, so a dead
-- callback URL never holds back the instance's webhooks, and they are
-- never handed to a pull consumer.

ALTER TABLE instances ADD COLUMN service_secret_sealed TEXT;
ALTER TABLE messages ADD COLUMN callback TEXT;           -- JSON, core::message::Callback
ALTER TABLE notifications ADD COLUMN target TEXT;
ALTER TABLE notifications ADD COLUMN callback TEXT;      -- JSON, core::message::Callback

DROP INDEX IF EXISTS notifications_pending;
CREATE INDEX notifications_pending ON notifications (instance_id, event_seq, id)
    WHERE state = 'pending' AND target IS NULL;
CREATE INDEX notifications_callbacks ON notifications (instance_id, target, event_seq, id)
    WHERE state = 'pending' AND target IS NOT NULL;

-- Invariant (as for hook_lanes): ready_at is NULL unless the lane has a
-- pending notification, else the head's next_attempt_at; a leased lane's
-- ready_at is its lease's end.
CREATE TABLE callback_lanes (
    instance_id INTEGER NOT NULL,
    target      TEXT    NOT NULL,
    ready_at    INTEGER,
    lease_owner TEXT,
    lease_until INTEGER,
    PRIMARY KEY (instance_id, target)
);
CREATE INDEX callback_lanes_ready ON callback_lanes (ready_at) WHERE ready_at IS NOT NULL;
