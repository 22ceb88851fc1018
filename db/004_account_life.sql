-- wxauth schema: an account's whole life (issue 11): deletion, unlinking,
-- and one feed of the events downstream services follow.

-- A deleted user stays as an id-only tombstone, so that merge history and
-- downstream references keep pointing at something.
ALTER TABLE users ADD COLUMN deleted_at timestamptz;

-- Events, written in the transaction of the change they report. Writers
-- take a transaction-scoped advisory lock before they insert, so ids are
-- handed out in commit order: a reader paging with ?after=LAST never skips
-- an event that commits late.
CREATE TABLE events (
	id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	type          text NOT NULL CHECK (type IN ('merged', 'unmerged', 'user_deleted',
	              'account_unlinked', 'sessions_revoked')),
	at            timestamptz NOT NULL DEFAULT now(),
	user_id       uuid,
	detail        jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX events_at ON events (at);

-- The merges made before this migration, and their undoing, as events.
INSERT INTO events (type, user_id, at, detail)
SELECT x.type, x.into_user, x.at, x.detail FROM (
	SELECT m.id, 0 AS k, 'merged' AS type, m.into_user, m.at,
	       jsonb_build_object('merge_id', m.id, 'from_user', m.from_user,
	       'into_user', m.into_user, 'reason', m.reason,
	       'accounts', (SELECT coalesce(jsonb_agg(jsonb_build_object('appid', a.appid,
	       'openid', a.openid) ORDER BY a.id), '[]') FROM accounts a WHERE a.id IN
	       (SELECT jsonb_array_elements_text(m.moved->'accounts')::bigint))) AS detail
	FROM merges m
	UNION ALL
	SELECT m.id, 1, 'unmerged', m.into_user, m.undone_at,
	       jsonb_build_object('merge_id', m.id, 'from_user', m.from_user,
	       'into_user', m.into_user,
	       'accounts', (SELECT coalesce(jsonb_agg(jsonb_build_object('appid', a.appid,
	       'openid', a.openid) ORDER BY a.id), '[]') FROM accounts a WHERE a.id IN
	       (SELECT jsonb_array_elements_text(m.moved->'accounts')::bigint)))
	FROM merges m WHERE m.undone_at IS NOT NULL
) x ORDER BY x.at, x.id, x.k;

-- The sessions of a user, for GET /v1/sessions.
CREATE INDEX sessions_user_live ON sessions (user_id, created_at)
	WHERE revoked_at IS NULL;

-- The web login (GET /v1/oauth/authorize, /v1/oauth/callback): a state is
-- honoured once (its hash kept past its 10-minute life, then pruned with
-- the login codes); a ticket is one login's stored answer (the row of its
-- code in login_codes), traded once, within seconds, for the tokens.
CREATE TABLE oauth_states (
	hash          bytea PRIMARY KEY,
	used_at       timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE oauth_tickets (
	hash          bytea PRIMARY KEY,
	code_hash     bytea NOT NULL,
	created_at    timestamptz NOT NULL DEFAULT now(),
	used_at       timestamptz
);
CREATE INDEX oauth_tickets_created ON oauth_tickets (created_at);
