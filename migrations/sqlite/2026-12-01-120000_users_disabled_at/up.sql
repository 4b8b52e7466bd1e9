-- A disabled user keeps its row, its memberships and its credentials but
-- cannot sign in. A time rather than a flag: an operator can tell when an
-- account was disabled, and NULL (the default) keeps every existing user
-- enabled without rewriting the table.
ALTER TABLE users ADD COLUMN disabled_at TIMESTAMP;
