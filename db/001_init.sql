-- wxauth schema, version 1. Applied by `wxauth migrate`, which records it in
-- schema_migrations and runs each file once, in one transaction.

CREATE TABLE users (
	id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	unionid       text,
	nickname      text,
	avatar_url    text,
	gender        smallint,
	country       text,
	province      text,
	city          text,
	language      text,
	phone         text,
	pure_phone    text,
	country_code  text,
	merged_into   uuid REFERENCES users(id),
	created_at    timestamptz NOT NULL DEFAULT now(),
	updated_at    timestamptz NOT NULL DEFAULT now()
);
-- One live user per unionid; tombstones (merged users) keep theirs for undo.
CREATE UNIQUE INDEX users_unionid_live ON users (unionid)
	WHERE unionid IS NOT NULL AND merged_into IS NULL;

CREATE TABLE accounts (
	id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	appid         text NOT NULL,
	openid        text NOT NULL,
	user_id       uuid NOT NULL REFERENCES users(id),
	unionid       text,
	-- session_key sealed with the data key (XChaCha20-Poly1305, the account's
	-- appid and openid as associated data): nonce || ciphertext || tag.
	session_key   bytea,
	session_key_at timestamptz,
	first_login   timestamptz NOT NULL DEFAULT now(),
	last_login    timestamptz NOT NULL DEFAULT now(),
	UNIQUE (appid, openid)
);
CREATE INDEX accounts_user ON accounts (user_id);
CREATE INDEX accounts_unionid ON accounts (unionid) WHERE unionid IS NOT NULL;

-- A session is one login and the chain of refresh tokens that follows it.
-- Only the BLAKE2b hash of the current refresh token is kept here; hashes of
-- rotated ones go to refresh_used so that a replay revokes the session.
CREATE TABLE sessions (
	id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
	user_id       uuid NOT NULL REFERENCES users(id),
	account_id    bigint NOT NULL REFERENCES accounts(id),
	refresh_hash  bytea NOT NULL UNIQUE,
	created_at    timestamptz NOT NULL DEFAULT now(),
	refreshed_at  timestamptz NOT NULL DEFAULT now(),
	expires_at    timestamptz NOT NULL,
	revoked_at    timestamptz,
	revoke_reason text,
	ip            text,
	user_agent    text
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_revoked ON sessions (revoked_at) WHERE revoked_at IS NOT NULL;

CREATE TABLE refresh_used (
	hash          bytea PRIMARY KEY,
	session_id    uuid NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
	used_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX refresh_used_session ON refresh_used (session_id);

-- Idempotent login: one row per login code that succeeded (keyed BLAKE2b
-- hash, never the code), for 60 seconds, so a repeated code gets the same
-- account without asking WeChat again.
CREATE TABLE login_codes (
	code_hash     bytea PRIMARY KEY,
	appid         text NOT NULL,
	account_id    bigint NOT NULL REFERENCES accounts(id),
	created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_codes_created ON login_codes (created_at);

CREATE TABLE merges (
	id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	from_user     uuid NOT NULL REFERENCES users(id),
	into_user     uuid NOT NULL REFERENCES users(id),
	reason        text NOT NULL CHECK (reason IN ('unionid', 'link')),
	unionid       text,
	moved         jsonb NOT NULL DEFAULT '{}',
	at            timestamptz NOT NULL DEFAULT now(),
	undone_at     timestamptz
);

CREATE TABLE wechat_tokens (
	appid         text PRIMARY KEY,
	access_token  text NOT NULL,
	expires_at    timestamptz NOT NULL,
	fetched_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE audit_log (
	id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at            timestamptz NOT NULL DEFAULT now(),
	event         text NOT NULL,
	user_id       uuid,
	account_id    bigint,
	session_id    uuid,
	request_id    text,
	ip            text,
	detail        jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_user ON audit_log (user_id);
