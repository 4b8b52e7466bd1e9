-- As in migrations/sqlite: NULL is enabled, a time is when it was disabled.
-- Adding a nullable column without a default rewrites no rows.
ALTER TABLE users ADD COLUMN disabled_at TIMESTAMP(0);
