/*
 * migrate.h - `wxauth migrate`: apply the SQL files of a folder in name
 * order, each once, each in its own transaction, recording them in
 * schema_migrations. Safe to run twice and from two hosts at once (an
 * advisory lock serialises runs).
 */
#ifndef WXAUTH_MIGRATE_H
#define WXAUTH_MIGRATE_H

/* migrate_run: returns 0, or -1 with the reason printed to stderr. */
int migrate_run(const char *conninfo, const char *dir);

/* migrate_pending: how many migrations of dir the database lacks (after
 * logging in to it), or -1 with the reason printed to stderr. */
int migrate_pending(const char *conninfo, const char *dir);

#endif
