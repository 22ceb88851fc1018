/*
 * main.c - the wxauth command: serve, worker, migrate, keygen, check-config.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "conf.h"
#include "db.h"
#include "log.h"
#include "migrate.h"
#include "pool.h"
#include "tok.h"
#include "worker.h"

#ifndef WXAUTH_DATADIR
#define WXAUTH_DATADIR "/usr/local/share/wxauth"
#endif
#ifndef WXAUTH_VERSION
#define WXAUTH_VERSION "unknown"
#endif
#define DEFAULT_CONF "/etc/wxauth/wxauth.conf"
#define KEYFILE_MAX (64 * 1024)

/* The commands: what each takes, and one line of what it does. */
static const struct {
	const char *name;
	const char *args;
	const char *what;
} cmds[] = {
	{"serve", "[-c CONF]", "run the worker pool (php-fpm style)"},
	{"worker", "[-c CONF] [--gate]", "one worker on the FastCGI socket on fd 0 "
	    "(spawn-fcgi, mod_fcgid); --gate: the token check only"},
	{"migrate", "[-c CONF] [-d DIR]", "apply database migrations (default DIR "
	    WXAUTH_DATADIR "/db)"},
	{"keygen", "[--public] [--rotate | --announce] FILE",
	    "write a new key file, or put a new first (or with --announce last) key in FILE"},
	{"check-config", "[-c CONF] [--connect [-d DIR]]", "check the config and the key "
	    "files it names; --connect: log in to the database and check its migrations"},
	{"unmerge", "[-c CONF] ID", "undo merge ID (see GET /v1/events)"},
	{"prune", "[-c CONF]", "delete what is past its retention (for cron)"},
};
#define NCMDS (sizeof(cmds) / sizeof(cmds[0]))

/* help: every command's usage (one < 0), or one command's, on stdout. */
static void
help(int one)
{
	size_t i;

	printf("wxauth %s: a login and account service for WeChat apps (FastCGI)\n\n",
	    WXAUTH_VERSION);
	for (i = 0; i < NCMDS; i++)
		if (one < 0 || (size_t)one == i)
			printf("  wxauth %s %s\n      %s\n", cmds[i].name, cmds[i].args,
			    cmds[i].what);
	printf("\nCONF defaults to $WXAUTH_CONFIG, then %s.\n"
	    "wxauth --help, wxauth COMMAND --help, wxauth --version.\n", DEFAULT_CONF);
}

/* usage_error: one line on stderr; the exit status of a usage error. */
static int
usage_error(const char *cmd, const char *fmt, const char *arg)
{
	fprintf(stderr, "wxauth%s%s: ", cmd != NULL ? " " : "", cmd != NULL ? cmd : "");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, " (see wxauth %s%s--help)\n", cmd != NULL ? cmd : "",
	    cmd != NULL ? " " : "");
	return 2;
}

/* conf_open: the config at path, or NULL with the reason printed. */
static struct conf *
conf_open(const char *path)
{
	struct conf *c = calloc(1, sizeof(*c));
	char err[1024];

	if (c == NULL) {
		fprintf(stderr, "wxauth: out of memory\n");
		return NULL;
	}
	if (conf_load(c, path, err, sizeof(err)) == -1) {
		fprintf(stderr, "%s\n", err);
		free(c);
		return NULL;
	}
	return c;
}

/* conf_close: wipe and free what conf_open returned (NULL is fine). */
static void
conf_close(struct conf *c)
{
	if (c == NULL)
		return;
	conf_cleanup(c);
	free(c);
}

/* db_open_tool: a database handle for a command-line tool: no LISTEN, the
 * config's deadlines, a minute for a statement (an unmerge may wait on
 * locks). */
static struct db *
db_open_tool(const struct conf *c)
{
	struct db_opts o;

	memset(&o, 0, sizeof(o));
	o.conninfo = c->database;
	o.reload_window = c->access_ttl;
	o.connect_timeout_ms = c->db_connect_timeout_ms;
	o.statement_timeout_ms = 60000;
	return db_new(&o);
}

/* key_problem: what is wrong with a key file, then which line named it and,
 * when it is missing, how to make one. */
static void
key_problem(const struct conf *c, const char *name, int line, const char *file,
    const char *err)
{
	fprintf(stderr, "%s\n", err);
	if (access(file, F_OK) == 0)
		fprintf(stderr, "%s:%d: %s = %s\n", c->path, line, name, file);
	else
		fprintf(stderr, "%s:%d: %s = %s (run: wxauth keygen %s)\n", c->path, line,
		    name, file, file);
}

static int
check_config(const char *path, int connect, const char *dir)
{
	struct conf *c = conf_open(path);
	struct tok_keys *k = NULL;
	char err[1024];
	int rc = 1, pending;

	if (c == NULL)
		goto out;
	if ((k = tok_keys_open(c->key_file, c->token_public, err, sizeof(err))) == NULL) {
		key_problem(c, "key_file", c->key_file_line, c->key_file, err);
		goto out;
	}
	tok_keys_free(k);
	if ((k = tok_keys_open(c->data_key_file, false, err, sizeof(err))) == NULL) {
		key_problem(c, "data_key_file", c->data_key_file_line, c->data_key_file, err);
		goto out;
	}
	printf("%s: ok: %zu app%s, %d workers, listen %s\n", path, c->napps,
	    c->napps == 1 ? "" : "s", c->workers, c->listen);
	if (c->napps == 0)
		printf("%s: no [app] section yet: every login is refused until "
		    "one is added\n", path);
	if (connect) {
		if ((pending = migrate_pending(c->database, dir)) < 0)
			goto out;
		if (pending > 0) {
			fprintf(stderr, "database: %d migration%s of %s not applied "
			    "(run: wxauth migrate)\n", pending, pending == 1 ? "" : "s", dir);
			goto out;
		}
		printf("database: ok: logged in, migrations up to date\n");
	}
	rc = 0;
out:
	tok_keys_free(k);
	conf_close(c);
	return rc;
}

/* keygen: a new key file (refusing to overwrite one), or with rotate a new
 * first key ahead of the keys already in path (it seals or signs from the
 * next reload on), or with announce a new last key (it verifies and is
 * published at /v1/keys, and signs only once moved first). public: the new
 * key is a v4.public signing key (k4.secret), else a v4.local key. Written to a temporary file
 * of a name nobody can guess, made by mkostemp (O_EXCL: never a file or a
 * link someone put there first; mode 0600 from the start), then linked
 * into place (a new file: refused if one appeared meanwhile) or renamed
 * over the old one (rotate). */
static int
keygen(const char *path, int rotate, int public, int announce)
{
	char line[TOK_PASERK_SECRET_STR + 8], tmp[4096], *old = NULL;
	ssize_t n = 0;
	int fd = -1, rc = 1;
	size_t len;

	if ((public ? tok_keygen_secret_line(line, sizeof(line)) :
	    tok_keygen_line(line, sizeof(line))) == -1)
		goto out;
	rotate = rotate || announce;
	if (rotate) {
		if ((old = malloc(KEYFILE_MAX)) == NULL ||
		    (fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
		    (n = read(fd, old, KEYFILE_MAX)) < 0) {
			fprintf(stderr, "keygen: cannot read %s: %s\n", path, strerror(errno));
			goto out;
		}
		close(fd);
		fd = -1;
	} else if (access(path, F_OK) == 0) {
		fprintf(stderr, "keygen: %s exists; use --rotate to add a key\n", path);
		goto out;
	}
	if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp))
		goto out;
	if ((fd = mkostemp(tmp, O_CLOEXEC)) == -1 || fchmod(fd, 0600) == -1) {
		fprintf(stderr, "keygen: cannot create %s: %s\n", tmp, strerror(errno));
		goto out;
	}
	len = strlen(line);
	line[len++] = '\n';
	if ((!rotate && write(fd, "# wxauth keys: the first seals, every one opens\n", 48) != 48) ||
	    (!announce && write(fd, line, len) != (ssize_t)len) ||
	    (rotate && n > 0 && write(fd, old, (size_t)n) != n) ||
	    (announce && n > 0 && old[n - 1] != '\n' && write(fd, "\n", 1) != 1) ||
	    (announce && write(fd, line, len) != (ssize_t)len) ||
	    fsync(fd) == -1 || close(fd) == -1) {
		fd = -1;
		fprintf(stderr, "keygen: cannot write %s\n", tmp);
		unlink(tmp);
		goto out;
	}
	fd = -1;
	if ((rotate ? rename(tmp, path) : link(tmp, path)) == -1) {
		fprintf(stderr, "keygen: cannot %s %s: %s\n", rotate ? "rename to" : "create",
		    path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	if (!rotate)
		unlink(tmp);
	printf("%s: %s\n", path, announce ? "new last key added (announced, not signing)" :
	    rotate ? "new first key added" : "written");
	rc = 0;
out:
	if (fd != -1)
		close(fd);
	sodium_memzero(line, sizeof(line));
	if (old != NULL) {
		sodium_memzero(old, KEYFILE_MAX);
		free(old);
	}
	return rc;
}

static int
worker_main(const char *path, enum svc_role role)
{
	struct conf *c = conf_open(path);
	int rc = 1;

	if (c == NULL)
		goto out;
	log_set_format(c->log_json ? LOG_JSON : LOG_LOGFMT);
	if (log_open(c->log_file) == -1) {
		fprintf(stderr, "cannot open log file %s\n", c->log_file);
		goto out;
	}
	/* spawn-fcgi hands us the listening socket as fd 0. */
	rc = worker_run(c, 0, -1, -1, role);
out:
	conf_close(c);
	return rc;
}

static int
migrate_main(const char *path, const char *dir)
{
	struct conf *c = conf_open(path);
	int rc = 1;

	if (c == NULL)
		goto out;
	rc = migrate_run(c->database, dir) == 0 ? 0 : 1;
out:
	conf_close(c);
	return rc;
}

static int
unmerge_main(const char *path, const char *arg)
{
	struct conf *c = conf_open(path);
	struct db *db = NULL;
	char why[512], *end;
	long long id;
	int rc = 1;

	id = strtoll(arg, &end, 10);
	if (*arg == '\0' || *end != '\0' || id <= 0) {
		fprintf(stderr, "unmerge: %s is not a merge id\n", arg);
		goto out;
	}
	if (c == NULL)
		goto out;
	if ((db = db_open_tool(c)) == NULL)
		goto out;
	switch (db_unmerge(db, id, why, sizeof(why))) {
	case OK:
		printf("%s\n", why);
		rc = 0;
		break;
	case ERR_NOT_FOUND:
	case ERR_FORBIDDEN:
		fprintf(stderr, "unmerge refused: %s\n", why);
		break;
	default:
		fprintf(stderr, "unmerge: the database failed; nothing was changed\n");
		break;
	}
out:
	db_free(db);
	conf_close(c);
	return rc;
}

/* prune_main: batches until nothing is left past its retention. */
static int
prune_main(const char *path)
{
	struct conf *c = conf_open(path);
	struct db *db = NULL;
	struct db_retention keep;
	struct db_pruned n, total = {0, 0, 0, 0};
	enum err e = OK;
	int rc = 1;

	if (c == NULL)
		goto out;
	keep.sessions_days = c->retain_sessions_days;
	keep.audit_days = c->retain_audit_days;
	keep.events_days = c->retain_events_days;
	keep.seen_secs = c->watermark_max_age + 60;
	if ((db = db_open_tool(c)) == NULL) {
		fprintf(stderr, "wxauth: out of memory\n");
		goto out;
	}
	do {
		if ((e = db_prune(db, &keep, 5000, &n)) != OK)
			break;
		total.sessions += n.sessions;
		total.audit += n.audit;
		total.events += n.events;
	} while (n.sessions == 5000 || n.audit == 5000 || n.events == 5000 ||
	    n.spent >= 5000);
	if (e != OK) {
		fprintf(stderr, "prune: %s\n", err_strerror(e));
		goto out;
	}
	printf("pruned: %ld sessions, %ld audit rows, %ld events\n", total.sessions,
	    total.audit, total.events);
	rc = 0;
out:
	db_free(db);
	conf_close(c);
	return rc;
}

int
main(int argc, char **argv)
{
	const char *cmd, *conf = getenv("WXAUTH_CONFIG"), *dir = WXAUTH_DATADIR "/db";
	const char *file = NULL;
	int i, k, rotate = 0, announce = 0, public = 0, gate = 0, connect = 0, rc;

	if (argc < 2)
		return usage_error(NULL, "no command given%s", "");
	cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
		help(-1);
		return 0;
	}
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
		printf("wxauth %s\n", WXAUTH_VERSION);
		return 0;
	}
	for (k = 0; k < (int)NCMDS && strcmp(cmds[k].name, cmd) != 0; k++)
		;
	if (k == (int)NCMDS)
		return usage_error(NULL, "unknown command '%s'", cmd);
	for (i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			help(k);
			return 0;
		}
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			conf = argv[++i];
		else if (strcmp(argv[i], "-d") == 0 && i + 1 < argc && (strcmp(cmd, "migrate") == 0 ||
		    strcmp(cmd, "check-config") == 0))
			dir = argv[++i];
		else if (strcmp(argv[i], "--connect") == 0 && strcmp(cmd, "check-config") == 0)
			connect = 1;
		else if (strcmp(argv[i], "--rotate") == 0 && strcmp(cmd, "keygen") == 0 &&
		    !announce)
			rotate = 1;
		else if (strcmp(argv[i], "--announce") == 0 && strcmp(cmd, "keygen") == 0 &&
		    !rotate)
			announce = 1;
		else if (strcmp(argv[i], "--public") == 0 && strcmp(cmd, "keygen") == 0)
			public = 1;
		else if (strcmp(argv[i], "--gate") == 0 && strcmp(cmd, "worker") == 0)
			gate = 1;
		else if (argv[i][0] != '-' && file == NULL)
			file = argv[i];
		else
			return usage_error(cmd, argv[i][0] == '-' ? "unknown option '%s'" :
			    "unexpected argument '%s'", argv[i]);
	}
	if ((strcmp(cmd, "keygen") == 0 || strcmp(cmd, "unmerge") == 0) != (file != NULL))
		return usage_error(cmd, file != NULL ? "unexpected argument '%s'" :
		    "%s is missing", file != NULL ? file : strrchr(cmds[k].args, ' ') + 1);
	if (conf == NULL || *conf == '\0')
		conf = DEFAULT_CONF;
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		fprintf(stderr, "wxauth: cannot initialise libsodium or libcurl\n");
		return 1;
	}
	if (strcmp(cmd, "serve") == 0)
		rc = pool_serve(conf);
	else if (strcmp(cmd, "worker") == 0)
		rc = worker_main(conf, gate ? SVC_GATE : SVC_MAIN);
	else if (strcmp(cmd, "migrate") == 0)
		rc = migrate_main(conf, dir);
	else if (strcmp(cmd, "check-config") == 0)
		rc = check_config(conf, connect, dir);
	else if (strcmp(cmd, "prune") == 0)
		rc = prune_main(conf);
	else if (strcmp(cmd, "unmerge") == 0)
		rc = unmerge_main(conf, file);
	else
		rc = keygen(file, rotate, public, announce);
	curl_global_cleanup();
	return rc;
}
