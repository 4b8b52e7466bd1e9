-- As in migrations/sqlite (see there for what each column is).
CREATE TABLE idempotency_keys (
  caller_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  status INTEGER,
  content_type TEXT,
  location TEXT,
  etag TEXT,
  body BYTEA,
  created_at TIMESTAMP(0) NOT NULL,
  PRIMARY KEY (caller_id, key)
);

CREATE INDEX index_idempotency_keys_on_created_at ON idempotency_keys (created_at);
