-- Transient failures (network, 5xx) are counted apart from attempts: a
-- message throttled many times still gets its whole transient retry
-- schedule.

ALTER TABLE messages ADD COLUMN transient_failures INTEGER NOT NULL DEFAULT 0;
