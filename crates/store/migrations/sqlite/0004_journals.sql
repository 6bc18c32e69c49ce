-- What the journals of the vendor APIs need: chat histories (events by the
-- customer they come from, messages by recipient), the API token sealed
-- for GREEN-API's partner getInstances, files uploaded to be sent.

ALTER TABLE instances ADD COLUMN token_sealed TEXT;

ALTER TABLE events ADD COLUMN contact_id TEXT;
CREATE INDEX events_contact ON events (instance_id, contact_id, seq) WHERE contact_id IS NOT NULL;
CREATE INDEX events_instance_at ON events (instance_id, at);

CREATE INDEX messages_recipient ON messages (instance_id, recipient_id, seq);
CREATE INDEX messages_instance_created ON messages (instance_id, created_at);

-- Files a business uploaded (GREEN-API uploadFile / sendFileByUpload),
-- served at /files/{id}/{name} for the platform to fetch.
CREATE TABLE files (
    id           TEXT    PRIMARY KEY,
    instance_id  INTEGER NOT NULL,
    name         TEXT    NOT NULL,
    content_type TEXT    NOT NULL,
    size         INTEGER NOT NULL,
    data         BLOB    NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX files_created ON files (created_at);
