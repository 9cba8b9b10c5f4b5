-- Administration, personal blocks and notifications.

-- Settings an admin changed in the admin area. The value is the text of the setting as
-- Leptos.toml or a NATTER_* variable would give it; a stored value wins over both.
CREATE TABLE settings (
    key        TEXT PRIMARY KEY NOT NULL,
    value      TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by TEXT REFERENCES users (id) ON DELETE SET NULL
);

-- Set with a temporary password from an admin: the next login must choose a new one.
ALTER TABLE users ADD COLUMN must_change_password INTEGER NOT NULL DEFAULT 0;

-- One person keeping another out: no new direct conversation, no messages in their direct
-- conversation, no calls, no presence and no typing, either way.
CREATE TABLE blocks (
    blocker_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    blocked_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (blocker_id, blocked_id)
);

CREATE INDEX blocks_by_blocked ON blocks (blocked_id);

-- A muted conversation still counts unread, but makes no sound and no desktop notification.
ALTER TABLE members ADD COLUMN muted INTEGER NOT NULL DEFAULT 0;

-- What the bell lists besides unread conversations: missed calls, being added to a group.
CREATE TABLE notifications (
    id              TEXT PRIMARY KEY NOT NULL,
    user_id         TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    kind            TEXT NOT NULL CHECK (kind IN ('missed_call', 'added_to_group')),
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    actor_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at      INTEGER NOT NULL,
    read_at         INTEGER
);

CREATE INDEX notifications_by_user ON notifications (user_id, created_at);

-- The dashboard counts messages and calls by time.
CREATE INDEX messages_by_time ON messages (created_at);
CREATE INDEX calls_by_time ON calls (created_at);
