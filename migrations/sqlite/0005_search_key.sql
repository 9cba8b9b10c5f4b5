-- What people search on: the display name, NFKC-normalised and Unicode case-folded. SQLite's
-- lower() and LIKE fold ASCII only, so the server computes this form (text::search_key) when it
-- writes a name; rows from before this column are filled in at start.
ALTER TABLE users ADD COLUMN search_key TEXT NOT NULL DEFAULT '';
