-- What a person sees of their own sessions: where and when each was last used.
ALTER TABLE sessions ADD COLUMN last_active_at INTEGER;
ALTER TABLE sessions ADD COLUMN address TEXT;

-- A deleted account keeps its row (its messages stay, signed "Deleted user") but nothing
-- else: no name, no password, no sessions, blocks, mutes or notifications.
ALTER TABLE users ADD COLUMN deleted_at INTEGER;
