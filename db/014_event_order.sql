-- 014_event_order.sql (issue 28): the events feed in commit order, with no
-- lock held through the commits of the transactions that write events.
--
-- Until now every such transaction (a logout of every session, an admin
-- revoke, a disable, a deletion, an unlink, a merge) took one advisory lock
-- before its event's insert and kept it through its commit, WAL flush
-- included, so that ids followed commit order and a reader paging by id
-- never skipped a row: they flushed one after another (`make bench`, row
-- (h): 58 % of the busy backends' time waiting on that lock).
--
-- Now an event is written with no feed position (seq NULL); the feed's
-- reader hands positions out, under the one row of event_seq, to the
-- committed events that have none, in id order, then answers by position.
-- An event that commits later gets a later position: a reader paging with
-- after=the last position it applied never skips one. Existing events keep
-- their id as their position. The feed shows the position as "id".
ALTER TABLE events ADD COLUMN seq bigint;
UPDATE events SET seq = id;
CREATE UNIQUE INDEX events_seq ON events (seq);
CREATE INDEX events_unsequenced ON events (id) WHERE seq IS NULL;

CREATE TABLE event_seq (
	one           boolean PRIMARY KEY DEFAULT true CHECK (one),
	last          bigint NOT NULL
);
INSERT INTO event_seq (last) SELECT coalesce(max(id), 0) FROM events;
