-- One live instance per platform account: Meta's webhooks name the account,
-- and each delivery must reach exactly one instance. The index of 0005 was
-- not unique, so two connections racing could both succeed.

DROP INDEX IF EXISTS instances_account;
CREATE UNIQUE INDEX instances_account ON instances (account_id)
    WHERE account_id IS NOT NULL AND deleted_at IS NULL;
