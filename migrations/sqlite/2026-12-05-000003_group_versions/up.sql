-- Changes to a group's members, counted for its SCIM version (`meta.version`
-- and the ETag: users_groups.version plus the sum of these). Counted in
-- rows of their own, one per (group, shard), so that concurrent creates in
-- one group do not all queue on the group's row until their commits: on
-- PostgreSQL each connection counts in shard pg_backend_pid() % 8 (a
-- create bumping user_groups.version took C from 3,850 to 1,650 a second);
-- SQLite, which has one writer at a time, uses shard 0.
CREATE TABLE group_versions (
  user_group_id BIGINT NOT NULL REFERENCES user_groups (id) ON DELETE CASCADE,
  shard INTEGER NOT NULL,
  changes BIGINT NOT NULL,
  PRIMARY KEY (user_group_id, shard)
);
