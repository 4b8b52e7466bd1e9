-- Idempotency-Key (API.md 8.6): the answer to the first request with a key,
-- kept for 24 hours per caller, so that a retry gets it again instead of
-- doing the work twice. One row per (caller, key); `status` is NULL while
-- the first request is still running (its claim), and the answer's status
-- once it is kept. `fingerprint` is the SHA-256 (hex) of the request's
-- method, path with its query string, and body: the body itself is never
-- stored. `created_at` is when the key was claimed: rows older than 24 hours
-- count as absent and are swept by the server (src/db/queries/idempotency.rs),
-- a claim still running after 5 minutes counts as abandoned.
-- A user's keys go with the user.
CREATE TABLE idempotency_keys (
  caller_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  status INTEGER,
  content_type TEXT,
  location TEXT,
  etag TEXT,
  body BLOB,
  created_at TIMESTAMP NOT NULL,
  PRIMARY KEY (caller_id, key)
);

-- The sweep of expired keys.
CREATE INDEX index_idempotency_keys_on_created_at ON idempotency_keys (created_at);
