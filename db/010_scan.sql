-- 010_scan.sql (issue 26): log in on a PC by scanning a mini-program code.
--
-- A PC page asks for a login request (POST /v1/scan): its id goes in the
-- code's scene, never in the clear here (id_hash, keyed), and the browser
-- gets a secret cookie whose keyed hash is bind_hash. The person scans
-- (status scanned, by user_id on account_id), confirms or cancels in the
-- mini-program; a confirmation opens the PC's session in the same
-- transaction (sessions.via = 'scan', its sealed answer kept with a
-- login_codes row under code_hash), and the PC's next status poll gets a
-- one-use ticket (an oauth_tickets row bound to bind_hash), traded at
-- POST /v1/login as a web login's is. A request lives expires_at; an
-- expiry, a cancel or a confirmation is final.
CREATE TABLE scan_logins (
	id_hash       bytea PRIMARY KEY,
	appid         text NOT NULL,
	bind_hash     bytea NOT NULL,
	status        text NOT NULL DEFAULT 'pending'
	              CHECK (status IN ('pending', 'scanned', 'confirmed', 'cancelled')),
	user_id       uuid REFERENCES users (id),
	account_id    bigint REFERENCES accounts (id),
	refused       integer NOT NULL DEFAULT 0,   -- scans by someone else, refused
	code_hash     bytea,                        -- the confirmed session's stored answer
	created_at    timestamptz NOT NULL DEFAULT now(),
	expires_at    timestamptz NOT NULL,
	scanned_at    timestamptz,
	decided_at    timestamptz,
	ticket_at     timestamptz                   -- when the PC got its ticket (once)
);
CREATE INDEX scan_logins_expires ON scan_logins (expires_at);

-- How a session began: NULL a login of the app itself, 'scan' a PC scan login.
ALTER TABLE sessions ADD COLUMN via text;
