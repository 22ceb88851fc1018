/*
 * conf.c - the configuration file, read through two const tables of settings:
 * the global ones and those of an [app NAME] section.
 *
 * Everything is checked here, at start-up, so that the rest of wxauth only
 * ever reads valid values. The first bad line stops the load with
 * "path:line: what is wrong" and nothing half-read survives: the struct is
 * wiped. deploy/wxauth.conf.sample documents the format for operators:
 *
 *   - UTF-8 text, one "name = value" per line; blanks around '=' and at both
 *     ends of the line are dropped. A value wrapped in double quotes keeps
 *     its blanks; the outer quotes are removed and nothing is escaped.
 *   - '#' starts a comment only at the start of a line. An unquoted value
 *     holding a blank followed by '#' is refused, so that what looks like a
 *     trailing comment is never silently read as part of a value.
 *   - Global settings first, then any number of "[app NAME]" sections.
 *   - A setting given twice, an unknown setting and a line longer than
 *     LINE_LEN bytes are errors.
 *
 * Secrets (app secrets, the admin key) are never put in an error message, and
 * every buffer that held one (the line, stdio's buffer, a secret file's
 * contents) is wiped before it goes out of scope.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <sodium.h>

#include "conf.h"
#include "utf8.h"

#define LINE_LEN 4096        /* longest line, its newline not counted */
#define SECRET_FILE_LEN 4096 /* a bigger file cannot hold a secret of ours */
#define HOST_LEN 253         /* longest DNS name */
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

enum kind {
	K_STR,         /* text, copied as is */
	K_PATH,        /* a file name; relative ones resolved against the config's folder */
	K_LISTEN,      /* "/unix/socket/path" or "host:port" */
	K_URL,         /* http:// or https:// base URL, no trailing slash */
	K_HOSTS,       /* blank-separated host names, into avatar_hosts[] */
	K_REDIRECTS,   /* blank-separated http(s) URLs, into an app's redirects[] */
	K_INT,         /* decimal, into an int */
	K_LONG,        /* decimal, into a long */
	K_MODE,        /* octal file mode, into an int */
	K_SECRET,      /* the secret itself */
	K_SECRET_FILE, /* the name of a file holding the secret */
	K_SECRET_ENV,  /* the name of an environment variable holding the secret */
	K_APPID,       /* 1..APPID_MAX of [A-Za-z0-9_] */
	K_APPTYPE,     /* miniprogram | official_account | website | mobile */
	K_LOGFORMAT,   /* logfmt | json, into an int (1: json) */
	K_SCHED,       /* batch | normal, into an int (1: batch) */
	K_TOKFMT,      /* local | public, into an int (1: public) */
	K_SIGNUP,      /* open | closed, into an int (1: closed) */
	K_USERS        /* blank-separated user ids, into console_operators[] or _viewers[] */
};

#define REQUIRED 1u

/*
 * One row per setting. Numbers are bounded by min..max; text, paths and
 * secrets have at least min bytes and at most the field's size less one.
 * Rows that share a nonzero group are alternatives for the same field (a
 * secret given inline, by file or by environment): at most one may be set,
 * and when they are REQUIRED, one must be.
 */
struct setting {
	const char *name;
	enum kind kind;
	size_t off;      /* offsetof the field in struct conf or struct conf_app */
	size_t size;     /* sizeof that field */
	const char *def; /* default, parsed like a value from the file; NULL: none */
	long long min;
	long long max;
	unsigned flags;  /* REQUIRED */
	int group;
};

#define G(f) offsetof(struct conf, f), sizeof(((struct conf *)0)->f)
#define A(f) offsetof(struct conf_app, f), sizeof(((struct conf_app *)0)->f)

/* The global settings. They come before the first [app] section. */
static const struct setting globals[] = {
	{"listen", K_LISTEN, G(listen), NULL, 1, 0, REQUIRED, 0},
	{"listen_backlog", K_INT, G(listen_backlog), "128", 1, 65535, 0, 0},
	{"listen_mode", K_MODE, G(listen_mode), "0660", 0, 0777, 0, 0},
	{"workers", K_INT, G(workers), "4", 1, 256, 0, 0},
	{"max_requests", K_LONG, G(max_requests), "0", 0, 1000000000, 0, 0},
	{"pid_file", K_PATH, G(pid_file), "", 0, 0, 0, 0},
	{"log_file", K_PATH, G(log_file), "", 0, 0, 0, 0},
	{"log_format", K_LOGFORMAT, G(log_json), "logfmt", 0, 0, 0, 0},
	{"worker_scheduling", K_SCHED, G(sched_batch), "batch", 0, 0, 0, 0},
	{"database", K_STR, G(database), NULL, 1, 0, REQUIRED, 0},
	{"key_file", K_PATH, G(key_file), NULL, 1, 0, REQUIRED, 0},
	{"data_key_file", K_PATH, G(data_key_file), NULL, 1, 0, REQUIRED, 0},
	/* The admin API is off unless one of these three gives it a key. */
	{"admin_key", K_SECRET, G(admin_key), NULL, 16, 0, 0, 1},
	{"admin_key_file", K_SECRET_FILE, G(admin_key), NULL, 16, 0, 0, 1},
	{"admin_key_env", K_SECRET_ENV, G(admin_key), NULL, 16, 0, 0, 1},
	{"issuer", K_STR, G(issuer), "wxauth", 1, 0, 0, 0},
	/* v4.local (encrypted, only wxauth reads it) or v4.public (signed:
	 * services elsewhere verify it with /v1/keys, and can read it). */
	{"token_format", K_TOKFMT, G(token_public), "local", 0, 0, 0, 0},
	{"access_ttl", K_LONG, G(access_ttl), "7200", 60, 86400, 0, 0},
	{"refresh_ttl", K_LONG, G(refresh_ttl), "2592000", 300, 31536000, 0, 0},
	{"max_body", K_LONG, G(max_body), "65536", 1024, 10485760, 0, 0},
	{"wechat_base_url", K_URL, G(wechat_base_url), "https://api.weixin.qq.com", 0, 0, 0, 0},
	/* The web login: WeChat's authorize pages, and this service's own
	 * address as the browser sees it (the callback WeChat returns to is
	 * public_url + /v1/oauth/callback; empty: no web login). */
	{"wechat_open_url", K_URL, G(wechat_open_url), "https://open.weixin.qq.com", 0, 0, 0, 0},
	{"public_url", K_URL, G(public_url), "", 0, 0, 0, 0},
	/* The PC scan login: the mini-program page its code opens (empty: no
	 * scan login), the build it opens (release, trial, develop), and how
	 * many seconds a PC page's login request lives. */
	{"scan_page", K_STR, G(scan_page), "", 0, 0, 0, 0},
	{"scan_env_version", K_STR, G(scan_env_version), "release", 1, 0, 0, 0},
	{"scan_ttl", K_LONG, G(scan_ttl), "120", 30, 600, 0, 0},
	{"wechat_connect_timeout_ms", K_LONG, G(wechat_connect_timeout_ms), "2000", 100, 60000, 0, 0},
	{"wechat_timeout_ms", K_LONG, G(wechat_timeout_ms), "5000", 100, 120000, 0, 0},
	{"wechat_ca_file", K_PATH, G(wechat_ca_file), "", 0, 0, 0, 0},
	/* The gate pool: a second pool of `serve` on its own socket that
	 * answers only the token check, so that it never queues behind a
	 * login waiting on WeChat or the database. Off when gate_listen is
	 * empty. */
	{"gate_listen", K_LISTEN, G(gate_listen), "", 0, 0, 0, 0},
	{"gate_workers", K_INT, G(gate_workers), "2", 1, 64, 0, 0},
	/* Fail fast: PostgreSQL connection and statement deadlines, and how
	 * long a request may wait in the socket's queue before a worker
	 * takes it (0: no limit). */
	{"db_connect_timeout_ms", K_LONG, G(db_connect_timeout_ms), "2000", 100, 60000, 0, 0},
	{"db_statement_timeout_ms", K_LONG, G(db_statement_timeout_ms), "5000", 100, 600000, 0, 0},
	{"queue_timeout_ms", K_LONG, G(queue_timeout_ms), "1000", 0, 600000, 0, 0},
	/* Stored answers: a login code retried, a refresh token presented
	 * again, within this many seconds get the first answer (0: never). */
	{"login_replay_window", K_LONG, G(login_replay_window), "10", 0, 300, 0, 0},
	{"delete_login_max_age", K_LONG, G(delete_login_max_age), "300", 10, 3600, 0, 0},
	{"refresh_reuse_grace", K_LONG, G(refresh_reuse_grace), "5", 0, 300, 0, 0},
	/* Up to 20 years: tests accept WeChat's official 2016 vector with it. */
	{"watermark_max_age", K_LONG, G(watermark_max_age), "86400", 60, 630720000, 0, 0},
	/* Retention: how long what is over stays, in days; workers prune a
	 * batch every prune_interval seconds (0: only `wxauth prune`). */
	{"retain_sessions_days", K_LONG, G(retain_sessions_days), "30", 1, 3650, 0, 0},
	{"retain_audit_days", K_LONG, G(retain_audit_days), "180", 1, 36500, 0, 0},
	{"retain_events_days", K_LONG, G(retain_events_days), "90", 1, 36500, 0, 0},
	{"prune_interval", K_LONG, G(prune_interval), "60", 0, 86400, 0, 0},
	{"avatar_hosts", K_HOSTS, G(avatar_hosts), "thirdwx.qlogo.cn wx.qlogo.cn", 1, CONF_HOSTS_MAX, 0, 0},
	/* The console's people, by user id: operators may act, viewers look. */
	{"console_operators", K_USERS, G(console_operators), "", 0, CONF_CONSOLE_MAX, 0, 0},
	{"console_viewers", K_USERS, G(console_viewers), "", 0, CONF_CONSOLE_MAX, 0, 0},
};

/* The settings of one [app NAME] section. */
static const struct setting app_settings[] = {
	{"appid", K_APPID, A(appid), NULL, 1, 0, REQUIRED, 0},
	{"type", K_APPTYPE, A(type), NULL, 0, 0, REQUIRED, 0},
	{"secret", K_SECRET, A(secret), NULL, 1, 0, REQUIRED, 1},
	{"secret_file", K_SECRET_FILE, A(secret), NULL, 1, 0, REQUIRED, 1},
	{"secret_env", K_SECRET_ENV, A(secret), NULL, 1, 0, REQUIRED, 1},
	{"redirect_uris", K_REDIRECTS, A(redirects), "", 0, CONF_REDIRECTS_MAX, 0, 0},
	/* closed: a person with no user yet is refused (403 signup_closed). */
	{"signup", K_SIGNUP, A(signup_closed), "open", 0, 0, 0, 0},
};

/* Parallel to enum app_type. */
static const char *const app_types[] = {
	[APP_MINIPROGRAM] = "miniprogram",
	[APP_OFFICIAL_ACCOUNT] = "official_account",
	[APP_WEBSITE] = "website",
	[APP_MOBILE] = "mobile",
};

/* What one conf_load call knows besides the struct it fills. */
struct parser {
	struct conf *c;
	const char *path;              /* as given, for messages */
	char dir[CONF_PATH_MAX];       /* absolute folder of the file, for relative names */
	char *err;
	size_t errlen;
	int line;                      /* current line, 1-based */
	struct conf_app *app;          /* the open section, NULL before the first */
	int gseen[NELEM(globals)];     /* line where each global was set, 0: not yet */
	int aseen[NELEM(app_settings)]; /* the same for the open section */
	int appid_line[CONF_APPS_MAX]; /* line of each app's appid */
};

/* setting_index: the row of a global setting, by name (it must exist). */
static size_t
setting_index(const char *name)
{
	size_t i;

	for (i = 0; i < NELEM(globals); i++)
		if (strcmp(globals[i].name, name) == 0)
			return i;
	assert(!"no such global setting");
	return 0;
}

static int fail(struct parser *, int, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/* fail: "path:line: message" into the caller's errbuf; always returns -1. */
static int
fail(struct parser *p, int line, const char *fmt, ...)
{
	va_list ap;
	int n;
	size_t used;

	if (p->err == NULL || p->errlen == 0)
		return -1;
	n = snprintf(p->err, p->errlen, "%s:%d: ", p->path, line);
	if (n < 0) {
		p->err[0] = '\0';
		return -1;
	}
	used = (size_t)n;
	/* A message too long for errbuf is cut; what fits is still useful. */
	if (used >= p->errlen)
		return -1;
	va_start(ap, fmt);
	n = vsnprintf(p->err + used, p->errlen - used, fmt, ap);
	va_end(ap);
	if (n < 0)
		p->err[used] = '\0';
	return -1;
}

static int
is_blank(int ch)
{
	return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' ||
	    ch == '\v' || ch == '\f';
}

static int
is_alnum(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	    (ch >= '0' && ch <= '9');
}

static int
is_digit(int ch)
{
	return ch >= '0' && ch <= '9';
}

/* trim: s without blanks at either end; s is changed in place. */
static char *
trim(char *s)
{
	size_t len;

	while (is_blank((unsigned char)*s))
		s++;
	len = strlen(s);
	while (len > 0 && is_blank((unsigned char)s[len - 1]))
		s[--len] = '\0';
	return s;
}

/* copy: src[0..len) and a NUL into dst of size bytes; -1 when it does not fit. */
static int
copy(char *dst, size_t size, const char *src, size_t len)
{
	if (len >= size)
		return -1;
	memcpy(dst, src, len);
	dst[len] = '\0';
	return 0;
}

/*
 * resolve: the file name v into dst (size bytes), relative names joined to
 * the folder of the config file so that a worker finds them whatever its
 * current directory. An empty v stays empty (the setting is off).
 */
static int
resolve(struct parser *p, const char *name, const char *v, char *dst,
    size_t size, int line)
{
	size_t dlen = strlen(p->dir);
	int n;

	if (v[0] == '\0' || v[0] == '/') {
		if (copy(dst, size, v, strlen(v)) == -1)
			return fail(p, line, "%s is too long (at most %zu bytes)",
			    name, size - 1);
		return 0;
	}
	n = snprintf(dst, size, "%s%s%s", p->dir,
	    dlen > 0 && p->dir[dlen - 1] == '/' ? "" : "/", v);
	if (n < 0 || (size_t)n >= size)
		return fail(p, line, "%s is too long once resolved against '%s' "
		    "(at most %zu bytes)", name, p->dir, size - 1);
	return 0;
}

/* set_text: a plain string setting. Its value is not echoed: a conninfo can
 * hold a password. */
static int
set_text(struct parser *p, const struct setting *s, char *dst, const char *v,
    int line)
{
	size_t len = strlen(v);

	if ((long long)len < s->min)
		return fail(p, line, "%s must not be empty", s->name);
	if (copy(dst, s->size, v, len) == -1)
		return fail(p, line, "%s is too long (at most %zu bytes)", s->name,
		    s->size - 1);
	return 0;
}

static int
set_path(struct parser *p, const struct setting *s, char *dst, const char *v,
    int line)
{
	if ((long long)strlen(v) < s->min)
		return fail(p, line, "%s must not be empty", s->name);
	return resolve(p, s->name, v, dst, s->size, line);
}

/* valid_hostname: letters, digits, '.', '-' (and '_', seen in the wild),
 * 1..HOST_LEN bytes, not starting with '.' or '-'. */
static int
valid_hostname(const char *h, size_t len)
{
	size_t i;

	if (len == 0 || len > HOST_LEN || h[0] == '.' || h[0] == '-')
		return 0;
	for (i = 0; i < len; i++)
		if (!is_alnum((unsigned char)h[i]) && h[i] != '.' &&
		    h[i] != '-' && h[i] != '_')
			return 0;
	return 1;
}

/* listen_ok: "/path" (a unix socket, checked for length by the caller) or
 * "host:port" with host a name, an IPv4 address or a bracketed IPv6 one. */
static int
listen_ok(const char *v)
{
	const char *colon = strrchr(v, ':');
	char *end = NULL;
	size_t hlen, i;
	long port;

	if (v[0] == '/')
		return 1;
	if (colon == NULL || colon == v || !is_digit((unsigned char)colon[1]))
		return 0;
	hlen = (size_t)(colon - v);
	if (v[0] == '[') {
		if (hlen < 3 || v[hlen - 1] != ']')
			return 0;
		for (i = 1; i < hlen - 1; i++)
			if (!is_alnum((unsigned char)v[i]) && v[i] != ':' &&
			    v[i] != '.')
				return 0;
	} else if (!valid_hostname(v, hlen)) {
		return 0;
	}
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	return errno == 0 && *end == '\0' && port >= 1 && port <= 65535;
}

static int
set_listen(struct parser *p, const struct setting *s, char *dst, const char *v,
    int line)
{
	size_t max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;

	/* An optional address (gate_listen) may be left empty: none. */
	if (*v == '\0' && s->min == 0) {
		dst[0] = '\0';
		return 0;
	}
	if (!listen_ok(v))
		return fail(p, line, "%s must be a unix socket path starting with "
		    "'/' or host:port with a port from 1 to 65535", s->name);
	if (v[0] == '/' && strlen(v) > max)
		return fail(p, line, "%s: a unix socket path has at most %zu "
		    "bytes", s->name, max);
	if (copy(dst, s->size, v, strlen(v)) == -1)
		return fail(p, line, "%s is too long (at most %zu bytes)", s->name,
		    s->size - 1);
	return 0;
}

/* set_url: http:// or https://, a host, an optional path, no trailing
 * slash, no blanks or control characters, no query or fragment. The value
 * is not echoed: it could carry user:password. */
static int
set_url(struct parser *p, const struct setting *s, char *dst, const char *v,
    int line)
{
	const char *rest, *c;
	size_t len = strlen(v);

	/* An optional URL (min 0) may be left empty: the feature is off. */
	if (len == 0 && s->min == 0 && s->def != NULL && s->def[0] == '\0') {
		dst[0] = '\0';
		return 0;
	}
	if (strncmp(v, "https://", 8) == 0)
		rest = v + 8;
	else if (strncmp(v, "http://", 7) == 0)
		rest = v + 7;
	else
		return fail(p, line, "%s must start with http:// or https://",
		    s->name);
	if (*rest == '\0' || *rest == '/')
		return fail(p, line, "%s has no host", s->name);
	for (c = rest; *c != '\0'; c++)
		if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f ||
		    *c == '?' || *c == '#')
			return fail(p, line, "%s must be a plain URL without "
			    "blanks, query or fragment", s->name);
	if (v[len - 1] == '/')
		return fail(p, line, "%s must not end with '/'", s->name);
	if (copy(dst, s->size, v, len) == -1)
		return fail(p, line, "%s is too long (at most %zu bytes)", s->name,
		    s->size - 1);
	return 0;
}

/* A list item's check: the word v[0..len) is good (then copied into out,
 * CONF_STR_MAX bytes, zeroed), or what fail() says. */
typedef int (*item_fn)(struct parser *p, const struct setting *s, const char *v,
    size_t len, char *out, int line);

/* word_list: v's blank-separated words through item into list, replacing
 * what it held; at least s->min and at most s->max of them. one and many
 * name them in messages ("host", "hosts"). */
static int
word_list(struct parser *p, const struct setting *s, const char *v, int line,
    char (*list)[CONF_STR_MAX], size_t *n, item_fn item, const char *one,
    const char *many)
{
	size_t len;

	memset(list, 0, (size_t)s->max * sizeof(*list));
	*n = 0;
	for (;;) {
		while (is_blank((unsigned char)*v))
			v++;
		if (*v == '\0')
			break;
		len = 0;
		while (v[len] != '\0' && !is_blank((unsigned char)v[len]))
			len++;
		if ((long long)*n >= s->max)
			return fail(p, line, "%s lists more than %lld %s", s->name, s->max, many);
		if (item(p, s, v, len, list[*n], line) == -1)
			return -1;
		(*n)++;
		v += len;
	}
	if ((long long)*n < s->min)
		return fail(p, line, "%s must list at least %lld %s", s->name, s->min,
		    s->min == 1 ? one : many);
	return 0;
}

/* redirect: an absolute http(s) URL of printable ASCII, no fragment. */
static int
redirect(struct parser *p, const struct setting *s, const char *v, size_t len,
    char *out, int line)
{
	size_t i;

	if (len >= CONF_STR_MAX || (strncmp(v, "https://", 8) != 0 &&
	    strncmp(v, "http://", 7) != 0) || memchr(v, '#', len) != NULL)
		return fail(p, line, "%s: '%.*s' is not an http(s) URL without a "
		    "fragment", s->name, (int)(len > 64 ? 64 : len), v);
	for (i = 0; i < len; i++)
		if ((unsigned char)v[i] < 0x21 || (unsigned char)v[i] > 0x7e)
			return fail(p, line, "%s: a URL holds a character that is "
			    "not printable ASCII", s->name);
	memcpy(out, v, len);
	return 0;
}

/* host: a host name, stored in lower case so that callers compare with
 * strcmp. */
static int
host(struct parser *p, const struct setting *s, const char *v, size_t len,
    char *out, int line)
{
	size_t i;

	if (!valid_hostname(v, len) || len >= CONF_STR_MAX)
		return fail(p, line, "%s: '%.*s' is not a host name",
		    s->name, (int)(len > 64 ? 64 : len), v);
	for (i = 0; i < len; i++)
		out[i] = (v[i] >= 'A' && v[i] <= 'Z') ? (char)(v[i] - 'A' + 'a') : v[i];
	return 0;
}

/* set_redirects: an app's allowed web-login targets, replacing the list. */
static int
set_redirects(struct parser *p, const struct setting *s, char *dst, const char *v,
    int line)
{
	struct conf_app *a = (struct conf_app *)(void *)(dst - offsetof(struct conf_app,
	    redirects));

	return word_list(p, s, v, line, a->redirects, &a->nredirects, redirect, "URL", "URLs");
}

/* set_hosts: the avatar hosts, replacing the list. */
static int
set_hosts(struct parser *p, const struct setting *s, char *dst, const char *v,
    int line)
{
	struct conf *c = p->c;

	/* The table's offset must lead to the one list we know how to count. */
	assert(dst == (char *)c->avatar_hosts);
	return word_list(p, s, v, line, c->avatar_hosts, &c->navatar_hosts, host, "host", "hosts");
}

/* user: a user id, as wxauth writes them (8-4-4-4-12 lower-case hex). */
static int
user(struct parser *p, const struct setting *s, const char *v, size_t len, char *out,
    int line)
{
	size_t i;

	for (i = 0; i < len && len == 36; i++)
		if (i == 8 || i == 13 || i == 18 || i == 23 ? v[i] != '-' :
		    !((v[i] >= '0' && v[i] <= '9') || (v[i] >= 'a' && v[i] <= 'f')))
			break;
	if (len != 36 || i != len)
		return fail(p, line, "%s: '%.*s' is not a user id", s->name,
		    (int)(len > 40 ? 40 : len), v);
	memcpy(out, v, len);
	return 0;
}

/* set_users: the console's operators or viewers, replacing the list. */
static int
set_users(struct parser *p, const struct setting *s, char *dst, const char *v, int line)
{
	struct conf *c = p->c;

	if (dst == (char *)c->console_operators)
		return word_list(p, s, v, line, c->console_operators, &c->nconsole_operators,
		    user, "user id", "user ids");
	assert(dst == (char *)c->console_viewers);
	return word_list(p, s, v, line, c->console_viewers, &c->nconsole_viewers, user,
	    "user id", "user ids");
}

/* number: v as a whole number in base (10, or 8 for a mode) within the
 * row's bounds. strtoll alone accepts " +12abc" and saturates on overflow;
 * all of that is refused here. */
static int
number(struct parser *p, const struct setting *s, const char *v, int base,
    long long *out, int line)
{
	const char *digits = v[0] == '-' ? v + 1 : v;
	char *end = NULL;
	long long n = 0;
	int ok, in_range;

	errno = 0;
	ok = is_digit((unsigned char)digits[0]);
	if (ok) {
		n = strtoll(v, &end, base);
		ok = end != v && *end == '\0';
	}
	if (!ok && base == 8)
		return fail(p, line, "%s must be an octal mode such as 0660",
		    s->name);
	if (!ok)
		return fail(p, line, "%s must be a whole number", s->name);
	in_range = errno != ERANGE && n >= s->min && n <= s->max;
	if (!in_range && base == 8)
		return fail(p, line, "%s must be an octal mode between "
		    "%#llo and %#llo", s->name, s->min, s->max);
	if (!in_range)
		return fail(p, line, "%s must be between %lld and %lld", s->name,
		    s->min, s->max);
	*out = n;
	return 0;
}

/*
 * put_secret: checks and stores a secret of len bytes. what names where it
 * came from ("secret", "secret_file '/etc/x'", ...); the secret itself is
 * never in a message. Secrets are single printable ASCII words: they travel
 * in URLs and HTTP headers.
 */
static int
put_secret(struct parser *p, const struct setting *s, char *dst,
    const char *secret, size_t len, const char *what, int line)
{
	size_t i;

	if ((long long)len < s->min) {
		if (len == 0)
			return fail(p, line, "%s: the secret is empty", what);
		return fail(p, line, "%s: the secret must be at least %lld "
		    "characters", what, s->min);
	}
	if (len >= s->size)
		return fail(p, line, "%s: the secret is longer than %zu bytes",
		    what, s->size - 1);
	for (i = 0; i < len; i++)
		if ((unsigned char)secret[i] <= 0x20 ||
		    (unsigned char)secret[i] >= 0x7f)
			return fail(p, line, "%s: the secret must be printable "
			    "ASCII without blanks", what);
	memcpy(dst, secret, len);
	dst[len] = '\0';
	return 0;
}

/* secret_from_file: the contents of the file named by v, trailing blanks and
 * newlines dropped. */
static int
secret_from_file(struct parser *p, const struct setting *s, char *dst,
    const char *v, int line)
{
	char file[CONF_PATH_MAX];
	char what[CONF_PATH_MAX + 64];
	char buf[SECRET_FILE_LEN + 1];
	struct stat st;
	size_t len = 0;
	ssize_t n;
	int fd = -1, rc = -1, w;

	if (v[0] == '\0') {
		fail(p, line, "%s must not be empty", s->name);
		goto out;
	}
	if (resolve(p, s->name, v, file, sizeof file, line) == -1)
		goto out;
	w = snprintf(what, sizeof what, "%s '%s'", s->name, file);
	if (w < 0 || (size_t)w >= sizeof what) {
		fail(p, line, "%s is too long", s->name);
		goto out;
	}
	fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd == -1) {
		fail(p, line, "%s: cannot open: %s", what, strerror(errno));
		goto out;
	}
	if (fstat(fd, &st) == -1) {
		fail(p, line, "%s: %s", what, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		fail(p, line, "%s: not a regular file", what);
		goto out;
	}
	for (;;) {
		n = read(fd, buf + len, sizeof buf - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			fail(p, line, "%s: cannot read: %s", what, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == sizeof buf) {
			fail(p, line, "%s: larger than %d bytes, not a secret",
			    what, SECRET_FILE_LEN);
			goto out;
		}
	}
	/* Editors and `echo` add a newline; it is not part of the secret. */
	while (len > 0 && is_blank((unsigned char)buf[len - 1]))
		len--;
	if (put_secret(p, s, dst, buf, len, what, line) == -1)
		goto out;
	rc = 0;
out:
	sodium_memzero(buf, sizeof buf);
	if (fd != -1)
		close(fd);
	return rc;
}

/* secret_from_env: the value of the environment variable named by v. The
 * environment is left as it is: a reload on SIGHUP reads it again. */
static int
secret_from_env(struct parser *p, const struct setting *s, char *dst,
    const char *v, int line)
{
	char what[128];
	const char *val;
	size_t i, len = strlen(v);
	int w;

	if (len == 0 || len > 64 || is_digit((unsigned char)v[0]))
		return fail(p, line, "%s must be an environment variable name "
		    "(letters, digits, '_')", s->name);
	for (i = 0; i < len; i++)
		if (!is_alnum((unsigned char)v[i]) && v[i] != '_')
			return fail(p, line, "%s must be an environment "
			    "variable name (letters, digits, '_')", s->name);
	w = snprintf(what, sizeof what, "%s '%s'", s->name, v);
	if (w < 0 || (size_t)w >= sizeof what)
		return fail(p, line, "%s is too long", s->name);
	val = getenv(v);
	if (val == NULL)
		return fail(p, line, "%s: environment variable '%s' is not set",
		    s->name, v);
	return put_secret(p, s, dst, val, strlen(val), what, line);
}

/* set_appid: checks the form, then that no earlier app has it; appids are
 * public, so both are named. */
static int
set_appid(struct parser *p, const struct setting *s, char *dst, const char *v,
    int line)
{
	size_t i, len = strlen(v);
	int ok = len >= (size_t)s->min && len < s->size;

	for (i = 0; ok && i < len; i++)
		ok = is_alnum((unsigned char)v[i]) || v[i] == '_';
	if (!ok)
		return fail(p, line, "%s must be 1 to %zu characters of "
		    "A-Z a-z 0-9 _", s->name, s->size - 1);
	/* The open section is the last app; compare with those before it. */
	for (i = 0; i + 1 < p->c->napps; i++)
		if (strcmp(p->c->apps[i].appid, v) == 0)
			return fail(p, line, "appid '%s' is already used by "
			    "[app %s] at line %d", v, p->c->apps[i].name,
			    p->appid_line[i]);
	memcpy(dst, v, len + 1);
	p->appid_line[p->c->napps - 1] = line;
	return 0;
}

static int
set_apptype(struct parser *p, const struct setting *s, char *dst,
    const char *v, int line)
{
	enum app_type t;

	for (t = APP_MINIPROGRAM; t <= APP_MOBILE; t++) {
		if (strcmp(v, app_types[t]) == 0) {
			*(enum app_type *)(void *)dst = t;
			return 0;
		}
	}
	return fail(p, line, "%s must be miniprogram, official_account, website "
	    "or mobile, not '%.32s'", s->name, v);
}

/* set_either: one of two words, into an int: 0 for no, 1 for yes. */
static int
set_either(struct parser *p, const struct setting *s, char *dst, const char *v,
    int line, const char *no, const char *yes)
{
	assert(s->size == sizeof(int));
	if (strcmp(v, no) == 0 || strcmp(v, yes) == 0) {
		*(int *)(void *)dst = strcmp(v, yes) == 0;
		return 0;
	}
	return fail(p, line, "%s must be %s or %s, not '%.32s'", s->name, no, yes, v);
}

/* apply: parse v as setting s into the struct at base. */
static int
apply(struct parser *p, const struct setting *s, void *base, const char *v,
    int line)
{
	char *dst = (char *)base + s->off;
	long long n = 0;

	switch (s->kind) {
	case K_STR:
		return set_text(p, s, dst, v, line);
	case K_PATH:
		return set_path(p, s, dst, v, line);
	case K_LISTEN:
		return set_listen(p, s, dst, v, line);
	case K_URL:
		return set_url(p, s, dst, v, line);
	case K_HOSTS:
		return set_hosts(p, s, dst, v, line);
	case K_REDIRECTS:
		return set_redirects(p, s, dst, v, line);
	case K_USERS:
		return set_users(p, s, dst, v, line);
	case K_INT:
		assert(s->size == sizeof(int));
		if (number(p, s, v, 10, &n, line) == -1)
			return -1;
		*(int *)(void *)dst = (int)n;
		return 0;
	case K_LONG:
		assert(s->size == sizeof(long));
		if (number(p, s, v, 10, &n, line) == -1)
			return -1;
		*(long *)(void *)dst = (long)n;
		return 0;
	case K_MODE:
		assert(s->size == sizeof(int));
		if (number(p, s, v, 8, &n, line) == -1)
			return -1;
		*(int *)(void *)dst = (int)n;
		return 0;
	case K_SECRET:
		return put_secret(p, s, dst, v, strlen(v), s->name, line);
	case K_SECRET_FILE:
		return secret_from_file(p, s, dst, v, line);
	case K_SECRET_ENV:
		return secret_from_env(p, s, dst, v, line);
	case K_APPID:
		return set_appid(p, s, dst, v, line);
	case K_APPTYPE:
		assert(s->size == sizeof(enum app_type));
		return set_apptype(p, s, dst, v, line);
	case K_LOGFORMAT:
		return set_either(p, s, dst, v, line, "logfmt", "json");
	case K_SCHED:
		return set_either(p, s, dst, v, line, "normal", "batch");
	case K_TOKFMT:
		return set_either(p, s, dst, v, line, "local", "public");
	case K_SIGNUP:
		return set_either(p, s, dst, v, line, "open", "closed");
	}
	return fail(p, line, "%s: unknown kind of setting", s->name);
}

static int
find(const struct setting *tab, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(tab[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* set_row: row i of tab, unless it (or an alternative of its group) was
 * already set. */
static int
set_row(struct parser *p, const struct setting *tab, size_t n, int *seen,
    int i, void *base, const char *v)
{
	size_t j;

	if (seen[i] != 0)
		return fail(p, p->line, "duplicate setting '%s' (first set at "
		    "line %d)", tab[i].name, seen[i]);
	if (tab[i].group != 0)
		for (j = 0; j < n; j++)
			if (tab[j].group == tab[i].group && seen[j] != 0)
				return fail(p, p->line, "%s conflicts with %s at "
				    "line %d: set only one of them", tab[i].name,
				    tab[j].name, seen[j]);
	if (apply(p, &tab[i], base, v, p->line) == -1)
		return -1;
	seen[i] = p->line;
	return 0;
}

/*
 * missing: the first REQUIRED row of tab that was not set, or -1. A group
 * counts as set when any of its rows is; it is reported under its first
 * row's name.
 */
static int
missing(const struct setting *tab, size_t n, const int *seen)
{
	size_t i, j;
	int set;

	for (i = 0; i < n; i++) {
		if (!(tab[i].flags & REQUIRED) || seen[i] != 0)
			continue;
		if (tab[i].group == 0)
			return (int)i;
		set = 0;
		for (j = 0; j < n; j++)
			if (tab[j].group == tab[i].group && seen[j] != 0)
				set = 1;
		if (!set)
			return (int)i;
	}
	return -1;
}

/* close_app: the open section has everything it needs. */
static int
close_app(struct parser *p)
{
	const struct setting *s;
	int i;

	if (p->app == NULL)
		return 0;
	i = missing(app_settings, NELEM(app_settings), p->aseen);
	if (i == -1)
		return 0;
	s = &app_settings[i];
	if (s->group != 0)
		return fail(p, p->app->line, "[app %s] has no %s; set %s, %s_file "
		    "or %s_env", p->app->name, s->name, s->name, s->name, s->name);
	return fail(p, p->app->line, "[app %s] has no %s", p->app->name,
	    s->name);
}

static int
valid_app_name(const char *s)
{
	size_t i, len = strlen(s);

	if (len == 0 || len > 63)
		return 0;
	for (i = 0; i < len; i++)
		if (!is_alnum((unsigned char)s[i]) && s[i] != '_' && s[i] != '-')
			return 0;
	return 1;
}

/* header_name: NAME in a trimmed "[app NAME]" line (changed in place), or
 * NULL when the line is no such header. */
static char *
header_name(char *s)
{
	size_t len = strlen(s);
	char *inner;

	if (len < 2 || s[0] != '[' || s[len - 1] != ']')
		return NULL;
	s[len - 1] = '\0';
	inner = trim(s + 1);
	if (strncmp(inner, "app", 3) != 0 || !is_blank((unsigned char)inner[3]))
		return NULL;
	return trim(inner + 3);
}

/* open_app: a line starting with '['. The section before it is complete
 * first, so that its problems are reported at its own header. */
static int
open_app(struct parser *p, char *s)
{
	struct conf *c = p->c;
	struct conf_app *a;
	char *name;
	size_t i;

	if (close_app(p) == -1)
		return -1;
	name = header_name(s);
	if (name == NULL)
		return fail(p, p->line, "bad section header; expected [app NAME]");
	if (!valid_app_name(name))
		return fail(p, p->line, "bad app name '%.63s': use 1 to 63 "
		    "characters of A-Z a-z 0-9 _ -", name);
	for (i = 0; i < c->napps; i++)
		if (strcmp(c->apps[i].name, name) == 0)
			return fail(p, p->line, "[app %s] is already defined at "
			    "line %d", name, c->apps[i].line);
	if (c->napps == CONF_APPS_MAX)
		return fail(p, p->line, "too many [app] sections (at most %d)",
		    CONF_APPS_MAX);
	a = &c->apps[c->napps];
	memset(a, 0, sizeof *a);
	/* valid_app_name bounds the length to what a->name holds. */
	if (copy(a->name, sizeof a->name, name, strlen(name)) == -1)
		return fail(p, p->line, "app name too long");
	a->line = p->line;
	c->napps++;
	memset(p->aseen, 0, sizeof p->aseen);
	p->app = a;
	return 0;
}

/* unquote: the value between double quotes, or the bare value, in which a
 * blank then '#' means someone expected a trailing comment. */
static int
unquote(struct parser *p, char **vp)
{
	char *v = *vp;
	size_t len = strlen(v), i;

	if (v[0] == '"') {
		if (len < 2 || v[len - 1] != '"')
			return fail(p, p->line, "unterminated quoted value");
		v[len - 1] = '\0';
		*vp = v + 1;
		return 0;
	}
	for (i = 1; i < len; i++)
		if (v[i] == '#' && is_blank((unsigned char)v[i - 1]))
			return fail(p, p->line, "comments must be on their own "
			    "line (quote the value if '#' belongs to it)");
	return 0;
}

static int
valid_name(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!is_alnum((unsigned char)*s) && *s != '_')
			return 0;
	return 1;
}

/* parse_line: one line, without its newline. */
static int
parse_line(struct parser *p, char *line)
{
	char *s = trim(line), *eq, *name, *v;
	int gi, ai;

	if (*s == '\0' || *s == '#')
		return 0;
	if (*s == '[')
		return open_app(p, s);
	eq = strchr(s, '=');
	if (eq == NULL)
		return fail(p, p->line, "expected 'name = value' or '[app NAME]'");
	*eq = '\0';
	name = trim(s);
	v = trim(eq + 1);
	/* Not echoed: with the '=' missing or misplaced this may be a secret. */
	if (!valid_name(name))
		return fail(p, p->line, "bad setting name; expected 'name = value'");
	if (unquote(p, &v) == -1)
		return -1;
	gi = find(globals, NELEM(globals), name);
	ai = find(app_settings, NELEM(app_settings), name);
	if (p->app == NULL) {
		if (gi != -1)
			return set_row(p, globals, NELEM(globals), p->gseen, gi,
			    p->c, v);
		if (ai != -1)
			return fail(p, p->line, "'%s' belongs in an [app NAME] "
			    "section", name);
	} else {
		if (ai != -1)
			return set_row(p, app_settings, NELEM(app_settings),
			    p->aseen, ai, p->app, v);
		if (gi != -1)
			return fail(p, p->line, "'%s' is a global setting: put it "
			    "before the first [app] section", name);
	}
	return fail(p, p->line, "unknown setting '%.64s'", name);
}

/* config_dir: the absolute folder of the config file into p->dir. */
static int
config_dir(struct parser *p)
{
	const char *slash = strrchr(p->path, '/');
	char cwd[CONF_PATH_MAX];
	size_t dlen = slash == NULL ? 0 : (size_t)(slash - p->path);
	int n;

	if (slash == p->path)
		dlen = 1; /* "/wxauth.conf": the root */
	if (p->path[0] == '/') {
		if (copy(p->dir, sizeof p->dir, p->path, dlen) == -1)
			return fail(p, 0, "file name too long");
		return 0;
	}
	if (getcwd(cwd, sizeof cwd) == NULL)
		return fail(p, 0, "cannot find the current folder: %s",
		    strerror(errno));
	if (dlen == 0)
		n = snprintf(p->dir, sizeof p->dir, "%s", cwd);
	else
		n = snprintf(p->dir, sizeof p->dir, "%s/%.*s", cwd, (int)dlen,
		    p->path);
	if (n < 0 || (size_t)n >= sizeof p->dir)
		return fail(p, 0, "file name too long");
	return 0;
}

static int
apply_defaults(struct parser *p)
{
	size_t i;

	for (i = 0; i < NELEM(globals); i++)
		if (globals[i].def != NULL &&
		    apply(p, &globals[i], p->c, globals[i].def, 0) == -1)
			return -1;
	return 0;
}

enum { LINE_OK, LINE_EOF, LINE_LONG, LINE_NUL, LINE_ERR };

/* read_line: the next line of fp into buf (size bytes) without its newline,
 * never reading more of a line than fits. */
static int
read_line(FILE *fp, char *buf, size_t size)
{
	size_t len = 0;
	int ch, nul = 0;

	while ((ch = getc(fp)) != EOF && ch != '\n') {
		if (len + 1 >= size)
			return LINE_LONG;
		if (ch == '\0')
			nul = 1;
		buf[len++] = (char)ch;
	}
	if (ch == EOF && ferror(fp))
		return LINE_ERR;
	if (ch == EOF && len == 0)
		return LINE_EOF;
	buf[len] = '\0';
	return nul ? LINE_NUL : LINE_OK;
}

/* open_file: path opened for reading through iobuf (which the caller
 * wipes), a regular file. Returns the stream, or NULL after fail(). */
static FILE *
open_file(struct parser *p, const char *path, char *iobuf, size_t iolen)
{
	FILE *fp = fopen(path, "re");
	struct stat st;

	if (fp == NULL) {
		fail(p, 0, "cannot open: %s", strerror(errno));
		return NULL;
	}
	/* stdio's own buffer would keep inline secrets; ours is wiped. */
	if (setvbuf(fp, iobuf, _IOFBF, iolen) != 0)
		fail(p, 0, "cannot set a read buffer");
	else if (fstat(fileno(fp), &st) == -1)
		fail(p, 0, "%s", strerror(errno));
	else if (!S_ISREG(st.st_mode))
		fail(p, 0, "not a regular file");
	else
		return fp;
	fclose(fp);
	return NULL;
}

/* read_lines: every line of fp, checked (length, NUL, UTF-8) and parsed.
 * Returns 0, or -1 after fail(). */
static int
read_lines(struct parser *p, FILE *fp, char *line, size_t linelen)
{
	char *s;
	int r;

	for (;;) {
		if ((r = read_line(fp, line, linelen)) == LINE_EOF)
			return 0;
		p->line++;
		if (r == LINE_LONG)
			return fail(p, p->line, "line longer than %d bytes", LINE_LEN);
		if (r == LINE_NUL)
			return fail(p, p->line, "line holds a NUL byte");
		if (r == LINE_ERR)
			return fail(p, p->line, "cannot read: %s", strerror(errno));
		s = line;
		if (p->line == 1 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
			s += 3; /* a byte order mark some editors write */
		if (!utf8_valid(s, strlen(s)))
			return fail(p, p->line, "line is not valid UTF-8");
		if (parse_line(p, s) == -1)
			return -1;
	}
}

/* whole_file: what can be checked only once every line is read. */
static int
whole_file(struct parser *p)
{
	struct conf *c = p->c;
	int i;

	if (close_app(p) == -1)
		return -1;
	if ((i = missing(globals, NELEM(globals), p->gseen)) != -1)
		return fail(p, 0, "missing required setting '%s'", globals[i].name);
	if (c->gate_listen[0] != '\0' && strcmp(c->gate_listen, c->listen) == 0)
		return fail(p, p->gseen[setting_index("gate_listen")],
		    "gate_listen must differ from listen");
	if (strcmp(c->scan_env_version, "release") != 0 &&
	    strcmp(c->scan_env_version, "trial") != 0 &&
	    strcmp(c->scan_env_version, "develop") != 0)
		return fail(p, p->gseen[setting_index("scan_env_version")],
		    "scan_env_version must be release, trial or develop");
	if (c->scan_page[0] == '/' || strpbrk(c->scan_page, "?#") != NULL)
		return fail(p, p->gseen[setting_index("scan_page")],
		    "scan_page is a page path without a leading '/' and without a query "
		    "(pages/scan/scan)");
	/* Where the key files were named, for messages about them. */
	c->key_file_line = p->gseen[setting_index("key_file")];
	c->data_key_file_line = p->gseen[setting_index("data_key_file")];
	return 0;
}

int
conf_load(struct conf *c, const char *path, char *errbuf, size_t errlen)
{
	struct parser p;
	FILE *fp = NULL;
	char iobuf[BUFSIZ];
	char line[LINE_LEN + 1];
	int rc = -1;

	assert(c != NULL && path != NULL);
	memset(&p, 0, sizeof p);
	memset(iobuf, 0, sizeof iobuf);
	memset(line, 0, sizeof line);
	memset(c, 0, sizeof *c);
	p.c = c;
	p.path = path;
	p.err = errbuf;
	p.errlen = errlen;
	if (errbuf != NULL && errlen > 0)
		errbuf[0] = '\0';
	if (copy(c->path, sizeof c->path, path, strlen(path)) == -1)
		fail(&p, 0, "file name too long");
	else if (config_dir(&p) == 0 && apply_defaults(&p) == 0 &&
	    (fp = open_file(&p, path, iobuf, sizeof iobuf)) != NULL &&
	    read_lines(&p, fp, line, sizeof line) == 0 && whole_file(&p) == 0)
		rc = 0;
	if (fp != NULL)
		fclose(fp);
	sodium_memzero(iobuf, sizeof iobuf);
	sodium_memzero(line, sizeof line);
	if (rc != 0)
		sodium_memzero(c, sizeof *c);
	return rc;
}

const struct conf_app *
conf_app_find(const struct conf *c, const char *appid)
{
	size_t i;

	if (appid == NULL || appid[0] == '\0')
		return c->napps == 1 ? &c->apps[0] : NULL;
	/* appids are public: a plain comparison is fine. */
	for (i = 0; i < c->napps; i++)
		if (strcmp(c->apps[i].appid, appid) == 0)
			return &c->apps[i];
	return NULL;
}

const char *
conf_app_type_name(enum app_type t)
{
	if ((int)t < 0 || (size_t)t >= NELEM(app_types) || app_types[t] == NULL)
		return "unknown";
	return app_types[t];
}

void
conf_cleanup(struct conf *c)
{
	if (c == NULL)
		return;
	/* Wiping all of it also wipes every secret, wherever a later field
	 * puts one. */
	sodium_memzero(c, sizeof *c);
}

const char *
conf_console_role(const struct conf *c, const char *user_id)
{
	size_t i;

	for (i = 0; i < c->nconsole_operators; i++)
		if (strcmp(c->console_operators[i], user_id) == 0)
			return "operator";
	for (i = 0; i < c->nconsole_viewers; i++)
		if (strcmp(c->console_viewers[i], user_id) == 0)
			return "viewer";
	return NULL;
}
