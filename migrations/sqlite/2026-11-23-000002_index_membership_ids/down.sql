DROP INDEX index_memberships_on_id;
