-- Calls between the two members of a direct conversation. Every transition is written
-- here; the call log message lands in the same transaction as the final state.
CREATE TABLE calls (
    id              TEXT PRIMARY KEY NOT NULL,
    conversation_id TEXT NOT NULL REFERENCES conversations (id) ON DELETE CASCADE,
    caller_id       TEXT NOT NULL REFERENCES users (id),
    callee_id       TEXT NOT NULL REFERENCES users (id),
    media           TEXT NOT NULL CHECK (media IN ('audio', 'video')),
    state           TEXT NOT NULL CHECK (state IN
                        ('ringing', 'active', 'ended', 'declined', 'cancelled', 'missed', 'busy')),
    created_at      INTEGER NOT NULL,
    answered_at     INTEGER,
    ended_at        INTEGER
);

CREATE INDEX calls_by_conversation ON calls (conversation_id, created_at);
-- Live calls are few; the busy check looks only at them.
CREATE INDEX calls_live ON calls (state) WHERE state IN ('ringing', 'active');
