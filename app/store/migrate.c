/*
 * migrate.c - schema migrations.
 *
 * A migration file is a script of several DDL statements, so it runs
 * through PQexec (the simple protocol); everything carrying a value is
 * parameterised.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "migrate.h"

#define MIGRATION_MAX (1024 * 1024)
#define MIGRATE_LOCK "7781234501"       /* advisory lock key for migrate runs */

static int
sql_file(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n > 4 && strcmp(d->d_name + n - 4, ".sql") == 0 && d->d_name[0] != '.';
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t n;

	if (f == NULL)
		return NULL;
	if ((buf = malloc(MIGRATION_MAX + 1)) != NULL) {
		n = fread(buf, 1, MIGRATION_MAX + 1, f);
		if (ferror(f) || n > MIGRATION_MAX) {
			free(buf);
			buf = NULL;
		} else {
			buf[n] = '\0';
		}
	}
	fclose(f);
	return buf;
}

static int
ok(PGconn *c, PGresult *res, const char *what)
{
	ExecStatusType st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		PQclear(res);
		return 1;
	}
	fprintf(stderr, "migrate: %s: %s", what, PQerrorMessage(c));
	PQclear(res);
	return 0;
}

static int
applied(PGconn *c, const char *version, int *yes)
{
	const char *p[1] = {version};
	PGresult *res = PQexecParams(c,
	    "SELECT 1 FROM schema_migrations WHERE version = $1", 1, NULL, p,
	    NULL, NULL, 0);

	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK)
		return ok(c, res, "reading schema_migrations") - 1;
	*yes = PQntuples(res) > 0;
	PQclear(res);
	return 0;
}

static int
apply(PGconn *c, const char *dir, const char *name)
{
	char path[4096];
	const char *p[1] = {name};
	char *sql = NULL;
	int rc = -1;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path) ||
	    (sql = slurp(path)) == NULL) {
		fprintf(stderr, "migrate: cannot read %s\n", path);
		goto out;
	}
	if (!ok(c, PQexec(c, "BEGIN"), "BEGIN"))
		goto out;
	if (!ok(c, PQexec(c, sql), name) ||
	    !ok(c, PQexecParams(c, "INSERT INTO schema_migrations (version) VALUES ($1)",
	    1, NULL, p, NULL, NULL, 0), "recording") ||
	    !ok(c, PQexec(c, "COMMIT"), "COMMIT")) {
		PQclear(PQexec(c, "ROLLBACK"));
		goto out;
	}
	printf("migrate: applied %s\n", name);
	rc = 0;
out:
	free(sql);
	return rc;
}

int
migrate_run(const char *conninfo, const char *dir)
{
	struct dirent **list = NULL;
	PGconn *c = NULL;
	int i, n = -1, yes = 0, rc = -1, done = 0;

	if ((n = scandir(dir, &list, sql_file, alphasort)) < 0) {
		fprintf(stderr, "migrate: cannot read folder %s\n", dir);
		goto out;
	}
	c = PQconnectdb(conninfo);
	if (c == NULL || PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "migrate: cannot connect: %s", c ? PQerrorMessage(c) : "\n");
		goto out;
	}
	PQclear(PQexec(c, "SET client_min_messages = warning"));
	if (!ok(c, PQexec(c, "SELECT pg_advisory_lock(" MIGRATE_LOCK ")"), "lock") ||
	    !ok(c, PQexec(c, "CREATE TABLE IF NOT EXISTS schema_migrations ("
	    " version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"),
	    "schema_migrations"))
		goto out;
	for (i = 0; i < n; i++) {
		if (applied(c, list[i]->d_name, &yes) == -1)
			goto out;
		if (yes)
			continue;
		if (apply(c, dir, list[i]->d_name) == -1)
			goto out;
		done++;
	}
	printf("migrate: %d applied, %d already there\n", done, n - done);
	rc = 0;
out:
	for (i = 0; i < n; i++)
		free(list[i]);
	free(list);
	PQfinish(c);
	return rc;
}

int
migrate_pending(const char *conninfo, const char *dir)
{
	struct dirent **list = NULL;
	PGconn *c = NULL;
	PGresult *res = NULL;
	int i, n = -1, yes = 0, pending = -1, have;
	char *msg, *nl;

	if ((n = scandir(dir, &list, sql_file, alphasort)) < 0) {
		fprintf(stderr, "migrate: cannot read folder %s\n", dir);
		goto out;
	}
	c = PQconnectdb(conninfo);
	if (c == NULL || PQstatus(c) != CONNECTION_OK) {
		/* libpq's message, on one line. */
		msg = c != NULL ? PQerrorMessage(c) : "out of memory";
		while ((nl = strchr(msg, '\n')) != NULL && nl[1] != '\0')
			*nl = ' ';
		fprintf(stderr, "database: cannot connect: %s%s", msg,
		    strchr(msg, '\n') != NULL ? "" : "\n");
		goto out;
	}
	res = PQexec(c, "SELECT to_regclass('schema_migrations') IS NOT NULL");
	if (res == NULL || PQresultStatus(res) != PGRES_TUPLES_OK) {
		(void)ok(c, res, "schema_migrations");
		res = NULL;
		goto out;
	}
	have = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	pending = 0;
	for (i = 0; i < n; i++) {
		if (!have) {
			pending++;
			continue;
		}
		if (applied(c, list[i]->d_name, &yes) == -1) {
			pending = -1;
			goto out;
		}
		pending += !yes;
	}
out:
	PQclear(res);
	for (i = 0; i < n; i++)
		free(list[i]);
	free(list);
	PQfinish(c);
	return pending;
}
