-- AUTOINCREMENT: an id is never reused after a delete, so a Location a client
-- kept never comes to mean another record.
CREATE TABLE users (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  login TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  email_address TEXT,
  user_group_manager BOOLEAN NOT NULL DEFAULT 0,
  password_digest TEXT,
  token_digest TEXT UNIQUE,
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL
);

CREATE TABLE user_groups (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  name TEXT NOT NULL UNIQUE,
  description TEXT,
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL
);

CREATE TABLE user_group_memberships (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  user_group_id BIGINT NOT NULL REFERENCES user_groups (id) ON DELETE CASCADE,
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL
);

CREATE UNIQUE INDEX index_memberships_on_user_and_group
  ON user_group_memberships (user_id, user_group_id);
CREATE INDEX index_memberships_on_group_and_id
  ON user_group_memberships (user_group_id, id);
