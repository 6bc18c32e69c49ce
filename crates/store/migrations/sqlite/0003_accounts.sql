-- The messenger account behind an instance (Instagram user id and
-- username), and Instagram's one private reply per comment.

ALTER TABLE instances ADD COLUMN account_id TEXT;
ALTER TABLE instances ADD COLUMN account_username TEXT;

-- A comment can be answered once; a failed or expired reply does not count.
CREATE UNIQUE INDEX messages_comment_reply ON messages (instance_id, recipient_id)
    WHERE recipient_kind = 'comment' AND status NOT IN ('failed', 'expired');
