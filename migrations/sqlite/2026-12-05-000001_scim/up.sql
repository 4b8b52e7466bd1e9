-- SCIM 2.0 (API.md section 9). An identity provider's own id for a user or
-- a group (`externalId`), kept as sent and found by filters; and a version
-- per user and per group for `meta.version` and `If-Match`, moved by every
-- change to the row and, for a group, by every change to its members (in
-- the transaction of the change: db/queries/changes.rs), so that a large
-- group's ETag never needs its members read.
ALTER TABLE users ADD COLUMN external_id TEXT;
ALTER TABLE users ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE user_groups ADD COLUMN external_id TEXT;
ALTER TABLE user_groups ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
CREATE INDEX index_users_on_external_id ON users (external_id);
CREATE INDEX index_user_groups_on_external_id ON user_groups (external_id);
-- SCIM's userName and displayName are not case-exact: filters and the
-- uniqueness check compare them in lower case.
CREATE INDEX index_users_on_lower_login ON users (lower(login));
CREATE INDEX index_user_groups_on_lower_name ON user_groups (lower(name));
-- A user whose `active` a SCIM client removed, or never gave (a create or
-- PUT without it): enabled, and `active` left out of its documents, since
-- a SCIM client reads a removed attribute back as absent.
ALTER TABLE users ADD COLUMN active_unset BOOLEAN NOT NULL DEFAULT FALSE;
