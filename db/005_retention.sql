-- wxauth schema: retention (issue 9). The pruning (`wxauth prune`, and each
-- worker now and then) deletes in small batches by these indexes: sessions
-- over (expired or revoked) for retain_sessions_days, audit rows and events
-- older than retain_audit_days and retain_events_days.
CREATE INDEX sessions_expires ON sessions (expires_at);
CREATE INDEX audit_log_at ON audit_log (at);
