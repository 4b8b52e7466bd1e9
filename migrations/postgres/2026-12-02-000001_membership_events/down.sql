DROP TRIGGER memberships_are_added_with_an_event ON user_group_memberships;
DROP TRIGGER memberships_are_removed_with_an_event ON user_group_memberships;
DROP TABLE membership_events;
DROP FUNCTION membership_added_with_an_event();
DROP FUNCTION membership_removed_with_an_event();
DROP FUNCTION membership_event_names_a_membership();
DROP FUNCTION membership_events_refuse_change();
