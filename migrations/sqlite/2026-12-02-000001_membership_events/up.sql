-- History (API.md 8.7): one row per change to a membership, appended in the
-- same transaction as the change by the one write path
-- (src/db/queries/changes.rs). No foreign keys: a membership, its user, its
-- group and the actor may all be deleted, and their events stay.
-- No AUTOINCREMENT: events are never deleted (the trigger below), so the
-- largest id stays and a new one is always above every id ever given; and
-- AUTOINCREMENT's sqlite_sequence row is one more page written by every
-- change's commit (docs/PERFORMANCE.md, "History (issue 14)").
CREATE TABLE membership_events (
  id INTEGER PRIMARY KEY NOT NULL,
  action TEXT NOT NULL CHECK (action IN ('added', 'removed')),
  membership_id BIGINT NOT NULL,
  user_id BIGINT NOT NULL,
  user_group_id BIGINT NOT NULL,
  actor_id BIGINT,
  via TEXT NOT NULL CHECK (via IN ('api', 'form', 'change-set', 'sync', 'import',
    'group-delete', 'user-delete', 'scim', 'migration')),
  created_at TIMESTAMP NOT NULL
);

-- Memberships that existed before history was kept: one `added` event
-- each, dated at their creation, in membership order. The indexes are
-- built after the rows, which is faster than keeping them up to date row
-- by row (docs/PERFORMANCE.md has the figure for a million).
INSERT INTO membership_events
  (action, membership_id, user_id, user_group_id, actor_id, via, created_at)
SELECT 'added', id, user_id, user_group_id, NULL, 'migration', created_at
FROM user_group_memberships
ORDER BY id;

-- A membership is added once and removed at most once (ids are never
-- reused); also how `as_of` finds whether a membership had been removed,
-- and the order of its global list.
CREATE UNIQUE INDEX index_events_on_membership_and_action
  ON membership_events (membership_id, action);
-- The feed narrowed to groups or users, and `as_of` on a nested list.
CREATE INDEX index_events_on_group_and_id ON membership_events (user_group_id, id);
CREATE INDEX index_events_on_user_and_id ON membership_events (user_id, id);
-- `since`.
CREATE INDEX index_events_on_created_at ON membership_events (created_at);

-- A membership cannot be committed without its `added` event: a foreign
-- key from (id, 'added') to the events, checked at commit (deferred), since
-- the write path inserts the membership first and its event next. SQLite
-- adds a table constraint only by rebuilding the table: copy the rows, keep
-- the AUTOINCREMENT high-water mark (ids are never reused), swap, and
-- build the indexes again. Nothing references this table, and the triggers
-- below are made after the swap.
CREATE TABLE user_group_memberships_new (
  id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
  user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  user_group_id BIGINT NOT NULL REFERENCES user_groups (id) ON DELETE CASCADE,
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL,
  added_action TEXT GENERATED ALWAYS AS ('added') VIRTUAL,
  FOREIGN KEY (id, added_action) REFERENCES membership_events (membership_id, action)
    DEFERRABLE INITIALLY DEFERRED
);
INSERT INTO user_group_memberships_new (id, user_id, user_group_id, created_at, updated_at)
SELECT id, user_id, user_group_id, created_at, updated_at
FROM user_group_memberships
ORDER BY id;
DELETE FROM sqlite_sequence WHERE name = 'user_group_memberships_new';
INSERT INTO sqlite_sequence (name, seq)
SELECT 'user_group_memberships_new', seq FROM sqlite_sequence
WHERE name = 'user_group_memberships';
DROP TABLE user_group_memberships;
ALTER TABLE user_group_memberships_new RENAME TO user_group_memberships;
CREATE UNIQUE INDEX index_memberships_on_user_and_group
  ON user_group_memberships (user_id, user_group_id);
CREATE INDEX index_memberships_on_group_and_id
  ON user_group_memberships (user_group_id, id);
CREATE INDEX index_memberships_on_id ON user_group_memberships (id);

-- What the database itself refuses, whatever the code does: an event is
-- never changed or deleted; an event names a membership as it is (an
-- `added` event after its insert, a `removed` one before its delete); and
-- a membership is deleted only after its `removed` event is written, which
-- also catches a delete that cascades from a user or a group.
CREATE TRIGGER membership_events_are_never_changed
BEFORE UPDATE ON membership_events
BEGIN
  SELECT RAISE(ABORT, 'membership events are never changed');
END;

CREATE TRIGGER membership_events_are_never_deleted
BEFORE DELETE ON membership_events
BEGIN
  SELECT RAISE(ABORT, 'membership events are never deleted');
END;

CREATE TRIGGER membership_events_name_a_membership
BEFORE INSERT ON membership_events
WHEN NOT EXISTS (
  SELECT 1 FROM user_group_memberships
  WHERE id = NEW.membership_id
    AND user_id = NEW.user_id
    AND user_group_id = NEW.user_group_id
)
BEGIN
  SELECT RAISE(ABORT, 'a membership event names no such membership');
END;

CREATE TRIGGER memberships_are_removed_with_an_event
BEFORE DELETE ON user_group_memberships
WHEN NOT EXISTS (
  SELECT 1 FROM membership_events
  WHERE membership_id = OLD.id AND action = 'removed'
)
BEGIN
  SELECT RAISE(ABORT, 'a membership was removed without its event');
END;
