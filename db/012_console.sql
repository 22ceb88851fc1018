-- 012_console.sql (issue 27): the operators' console.
--
-- A console session: an operator (console_operators / console_viewers in
-- the config, by user id) signed in with WeChat, bound to the browser by a
-- secret cookie (id_hash, keyed) and to the page by a CSRF token (csrf_hash)
-- that every state-changing call sends back; short-lived and revocable. It
-- lives on the operator's own session it was opened with (session_id,
-- marked via = 'console' in their sessions list): ending that session (a
-- logout, an admin's revoke, a disable) ends the console too.
CREATE TABLE console_sessions (
	id_hash       bytea PRIMARY KEY,
	user_id       uuid NOT NULL REFERENCES users (id),
	session_id    uuid NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
	role          text NOT NULL CHECK (role IN ('viewer', 'operator')),
	csrf_hash     bytea NOT NULL,
	created_at    timestamptz NOT NULL DEFAULT now(),
	expires_at    timestamptz NOT NULL,
	revoked_at    timestamptz,
	ip            text,
	user_agent    text
);
CREATE INDEX console_sessions_expires ON console_sessions (expires_at);

-- Finding a customer by phone or by the start of a nickname (CJK too):
-- partial indexes, touched only when those columns change.
CREATE INDEX users_pure_phone ON users (pure_phone) WHERE pure_phone IS NOT NULL;
CREATE INDEX users_nickname_prefix ON users (nickname text_pattern_ops)
	WHERE nickname IS NOT NULL;
