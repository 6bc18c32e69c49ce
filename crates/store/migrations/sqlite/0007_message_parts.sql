-- A message the platform takes in several calls (an Instagram text over
-- 1000 bytes, a caption after its attachment) records each part once it is
-- sent, so a retry resumes after the last part delivered instead of sending
-- the first ones again, and every part's platform id finds its message
-- (echoes, read receipts).

ALTER TABLE messages ADD COLUMN parts_sent INTEGER NOT NULL DEFAULT 0;

CREATE TABLE message_parts (
    message_seq         INTEGER NOT NULL,
    idx                 INTEGER NOT NULL,
    instance_id         INTEGER NOT NULL,
    provider_message_id TEXT    NOT NULL,
    PRIMARY KEY (message_seq, idx)
);
CREATE INDEX message_parts_provider ON message_parts (instance_id, provider_message_id);
