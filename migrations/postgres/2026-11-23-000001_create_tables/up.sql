-- The same schema as migrations/sqlite: BIGSERIAL ids, plain TIMESTAMP columns
-- holding UTC to the whole second (the multi backend has no TIMESTAMPTZ).
CREATE TABLE users (
  id BIGSERIAL PRIMARY KEY,
  login TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  email_address TEXT,
  user_group_manager BOOLEAN NOT NULL DEFAULT FALSE,
  password_digest TEXT,
  token_digest TEXT UNIQUE,
  created_at TIMESTAMP(0) NOT NULL,
  updated_at TIMESTAMP(0) NOT NULL
);

CREATE TABLE user_groups (
  id BIGSERIAL PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  description TEXT,
  created_at TIMESTAMP(0) NOT NULL,
  updated_at TIMESTAMP(0) NOT NULL
);

CREATE TABLE user_group_memberships (
  id BIGSERIAL PRIMARY KEY,
  user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  user_group_id BIGINT NOT NULL REFERENCES user_groups (id) ON DELETE CASCADE,
  created_at TIMESTAMP(0) NOT NULL,
  updated_at TIMESTAMP(0) NOT NULL
);

CREATE UNIQUE INDEX index_memberships_on_user_and_group
  ON user_group_memberships (user_id, user_group_id);
CREATE INDEX index_memberships_on_group_and_id
  ON user_group_memberships (user_group_id, id);
