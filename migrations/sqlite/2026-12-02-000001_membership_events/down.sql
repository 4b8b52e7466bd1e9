DROP TRIGGER memberships_are_removed_with_an_event;
CREATE TABLE user_group_memberships_old (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  user_group_id BIGINT NOT NULL REFERENCES user_groups (id) ON DELETE CASCADE,
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL
);
INSERT INTO user_group_memberships_old (id, user_id, user_group_id, created_at, updated_at)
SELECT id, user_id, user_group_id, created_at, updated_at FROM user_group_memberships ORDER BY id;
DELETE FROM sqlite_sequence WHERE name = 'user_group_memberships_old';
INSERT INTO sqlite_sequence (name, seq)
SELECT 'user_group_memberships_old', seq FROM sqlite_sequence WHERE name = 'user_group_memberships';
DROP TABLE user_group_memberships;
ALTER TABLE user_group_memberships_old RENAME TO user_group_memberships;
CREATE UNIQUE INDEX index_memberships_on_user_and_group
  ON user_group_memberships (user_id, user_group_id);
CREATE INDEX index_memberships_on_group_and_id
  ON user_group_memberships (user_group_id, id);
CREATE INDEX index_memberships_on_id ON user_group_memberships (id);
DROP TABLE membership_events;
