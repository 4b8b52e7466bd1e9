-- As in migrations/sqlite (see there for why each part is here).
CREATE TABLE membership_events (
  id BIGSERIAL PRIMARY KEY,
  action TEXT NOT NULL CHECK (action IN ('added', 'removed')),
  membership_id BIGINT NOT NULL,
  user_id BIGINT NOT NULL,
  user_group_id BIGINT NOT NULL,
  actor_id BIGINT,
  via TEXT NOT NULL CHECK (via IN ('api', 'form', 'change-set', 'sync', 'import',
    'group-delete', 'user-delete', 'scim', 'migration')),
  created_at TIMESTAMP(0) NOT NULL
);

INSERT INTO membership_events
  (action, membership_id, user_id, user_group_id, actor_id, via, created_at)
SELECT 'added', id, user_id, user_group_id, NULL, 'migration', created_at
FROM user_group_memberships
ORDER BY id;

CREATE UNIQUE INDEX index_events_on_membership_and_action
  ON membership_events (membership_id, action);
CREATE INDEX index_events_on_group_and_id ON membership_events (user_group_id, id);
CREATE INDEX index_events_on_user_and_id ON membership_events (user_id, id);
CREATE INDEX index_events_on_created_at ON membership_events (created_at);

CREATE FUNCTION membership_events_refuse_change() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'membership events are never changed or deleted';
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER membership_events_are_append_only
BEFORE UPDATE OR DELETE ON membership_events
FOR EACH ROW EXECUTE FUNCTION membership_events_refuse_change();

CREATE FUNCTION membership_event_names_a_membership() RETURNS trigger AS $$
BEGIN
  IF NOT EXISTS (
    SELECT 1 FROM user_group_memberships
    WHERE id = NEW.membership_id
      AND user_id = NEW.user_id
      AND user_group_id = NEW.user_group_id
  ) THEN
    RAISE EXCEPTION 'a membership event names no such membership';
  END IF;
  RETURN NEW;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER membership_events_name_a_membership
BEFORE INSERT ON membership_events
FOR EACH ROW EXECUTE FUNCTION membership_event_names_a_membership();

CREATE FUNCTION membership_removed_with_an_event() RETURNS trigger AS $$
BEGIN
  IF NOT EXISTS (
    SELECT 1 FROM membership_events
    WHERE membership_id = OLD.id AND action = 'removed'
  ) THEN
    RAISE EXCEPTION 'a membership was removed without its event';
  END IF;
  RETURN OLD;
END
$$ LANGUAGE plpgsql;

CREATE TRIGGER memberships_are_removed_with_an_event
BEFORE DELETE ON user_group_memberships
FOR EACH ROW EXECUTE FUNCTION membership_removed_with_an_event();

-- Checked at commit: by then the `added` event of a new membership must be
-- there (the write path inserts the membership, then its event).
CREATE FUNCTION membership_added_with_an_event() RETURNS trigger AS $$
BEGIN
  IF NOT EXISTS (
    SELECT 1 FROM membership_events
    WHERE membership_id = NEW.id AND action = 'added'
  ) THEN
    RAISE EXCEPTION 'a membership was added without its event';
  END IF;
  RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE CONSTRAINT TRIGGER memberships_are_added_with_an_event
AFTER INSERT ON user_group_memberships
DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW EXECUTE FUNCTION membership_added_with_an_event();
