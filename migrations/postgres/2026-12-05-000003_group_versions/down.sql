DROP TABLE group_versions;
