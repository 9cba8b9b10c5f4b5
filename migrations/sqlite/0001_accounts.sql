-- Accounts and sessions. Times are Unix milliseconds; ids are UUIDv7 text.
CREATE TABLE users (
    id                  TEXT PRIMARY KEY NOT NULL,
    username            TEXT NOT NULL,
    -- Uniqueness is checked on this form, so "Alice" and "alice" are one name.
    username_normalized TEXT NOT NULL UNIQUE,
    display_name        TEXT NOT NULL,
    password_hash       TEXT NOT NULL,
    role                TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    avatar              TEXT,
    blocked_at          INTEGER,
    created_at          INTEGER NOT NULL,
    last_seen_at        INTEGER
);

CREATE TABLE sessions (
    -- SHA-256 of the cookie token: a leaked database does not leak live sessions.
    id         TEXT PRIMARY KEY NOT NULL,
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    user_agent TEXT
);

CREATE INDEX sessions_by_user ON sessions (user_id);
