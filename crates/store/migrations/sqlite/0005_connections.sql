-- A Meta instance's connection: its access token, sealed with the server
-- key (it must be used, never shown). The account id is in account_id.

ALTER TABLE instances ADD COLUMN access_token_sealed TEXT;
CREATE INDEX instances_account ON instances (account_id) WHERE account_id IS NOT NULL AND deleted_at IS NULL;
