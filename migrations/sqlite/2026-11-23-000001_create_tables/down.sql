DROP TABLE user_group_memberships;
DROP TABLE user_groups;
DROP TABLE users;
