ALTER TABLE users DROP COLUMN active_unset;
DROP INDEX index_user_groups_on_lower_name;
DROP INDEX index_users_on_lower_login;
DROP INDEX index_user_groups_on_external_id;
DROP INDEX index_users_on_external_id;
ALTER TABLE user_groups DROP COLUMN version;
ALTER TABLE user_groups DROP COLUMN external_id;
ALTER TABLE users DROP COLUMN version;
ALTER TABLE users DROP COLUMN external_id;
