-- When the platform was last asked for a contact's profile and answered
-- (even with nothing): a profile is fetched once, not on every message of
-- a person who shares none.

ALTER TABLE contacts ADD COLUMN profile_checked_at INTEGER;
