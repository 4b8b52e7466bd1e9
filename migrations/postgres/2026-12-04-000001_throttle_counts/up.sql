-- Counts in fixed windows shared by every syncd process on this database
-- (issue 17: several processes behind a load balancer): failed password
-- sign-ins per client address (`a:` and the address key in hex, an IPv6
-- client by its /64) and per login (`l:` and a 128-bit digest of the login
-- in hex, never the login itself), and requests per user under
-- SYNCD_RATE_LIMIT (`u:` and the user id). `count` is the events counted in
-- the window that ends at `window_ends_at` (the database's clock, so that
-- processes on skewed clocks agree). Written and read only with the
-- statements in src/db/queries/throttle_counts.rs; rows whose window has
-- ended mean nothing and are swept by the server.
--
-- PostgreSQL only: on SQLite (one process per database file) the counts
-- stay in each process's memory (src/security/lockout.rs, throttle.rs).
CREATE TABLE throttle_counts (
  key TEXT PRIMARY KEY,
  window_ends_at TIMESTAMPTZ NOT NULL,
  count INTEGER NOT NULL
);

-- The sweep of ended windows.
CREATE INDEX index_throttle_counts_on_window_ends_at ON throttle_counts (window_ends_at);
