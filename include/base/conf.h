/*
 * conf.h - the configuration file: one struct, filled from a table of
 * settings, checked before anything is served.
 *
 * Format: "name = value" lines, '#' comments, and one "[app NAME]" section
 * per WeChat app. Secrets (app secrets, the admin key) come from the file
 * itself, from a file named by *_file, or from an environment variable named
 * by *_env; never from the command line.
 */
#ifndef WXAUTH_CONF_H
#define WXAUTH_CONF_H

#include <stddef.h>
#include "common.h"

enum app_type {
	APP_MINIPROGRAM,      /* sns/jscode2session */
	APP_OFFICIAL_ACCOUNT, /* sns/oauth2/access_token (+ sns/userinfo) */
	APP_WEBSITE,          /* same OAuth flow, QR login */
	APP_MOBILE            /* same OAuth flow, native app SDK */
};

#define CONF_APPS_MAX 32
#define CONF_SECRET_MAX 128
#define CONF_PATH_MAX 1024
#define CONF_STR_MAX 256
#define CONF_HOSTS_MAX 8
#define CONF_CONSOLE_MAX 32
#define CONF_REDIRECTS_MAX 8

struct conf_app {
	char name[64];                  /* the section name, for logs */
	char appid[APPID_MAX + 1];
	enum app_type type;
	char secret[CONF_SECRET_MAX + 1]; /* wiped by conf_cleanup */
	/* Where the web login (/v1/oauth/authorize) may send the page back:
	 * exact URLs, official accounts and websites only. */
	char redirects[CONF_REDIRECTS_MAX][CONF_STR_MAX];
	size_t nredirects;
	int signup_closed;              /* signup = closed: no new users */
	int line;                       /* line of the [app] header, for messages */
};

struct conf {
	char path[CONF_PATH_MAX];       /* the file this was read from */
	/* process */
	char listen[CONF_PATH_MAX];     /* unix socket path, or host:port */
	int listen_backlog;             /* default 128 */
	int listen_mode;                /* unix socket mode, default 0660 */
	int workers;                    /* default 4, 1..256 */
	long max_requests;              /* recycle a worker after this many, 0 = never */
	char pid_file[CONF_PATH_MAX];   /* empty = none */
	int log_json;                   /* log_format = json (else logfmt) */
	int sched_batch;                /* worker_scheduling = batch (else normal) */
	int token_public;               /* token_format = public (else local) */
	int key_file_line;              /* the lines that name the key files */
	int data_key_file_line;
	char log_file[CONF_PATH_MAX];   /* empty = stderr */
	/* storage and keys */
	char database[CONF_PATH_MAX];   /* libpq conninfo */
	char key_file[CONF_PATH_MAX];   /* token keys, PASERK k4.local lines, first seals */
	char data_key_file[CONF_PATH_MAX]; /* key sealing session_keys at rest */
	char admin_key[CONF_SECRET_MAX + 1]; /* empty = admin API disabled; wiped */
	/* tokens */
	char issuer[CONF_STR_MAX];      /* iss claim */
	long access_ttl;                /* seconds, default 7200 */
	long refresh_ttl;               /* seconds, default 2592000 */
	/* HTTP */
	long max_body;                  /* bytes, default 65536 */
	/* WeChat */
	char wechat_base_url[CONF_STR_MAX]; /* default https://api.weixin.qq.com */
	char wechat_open_url[CONF_STR_MAX]; /* default https://open.weixin.qq.com */
	char public_url[CONF_STR_MAX];  /* this service as browsers reach it; "" = no web login */
	char scan_page[CONF_STR_MAX];   /* the page a PC scan login's code opens; "" = none */
	char scan_env_version[16];      /* release, trial or develop */
	long scan_ttl;                  /* seconds a PC login request lives */
	long wechat_connect_timeout_ms; /* default 2000 */
	long wechat_timeout_ms;         /* default 5000 */
	char wechat_ca_file[CONF_PATH_MAX]; /* empty = system CAs */
	/* the gate pool (empty: none) */
	char gate_listen[CONF_PATH_MAX];
	int gate_workers;               /* default 2 */
	/* deadlines */
	long db_connect_timeout_ms;     /* default 2000 */
	long db_statement_timeout_ms;   /* default 5000 */
	long queue_timeout_ms;          /* default 1000, 0 = none */
	/* stored answers */
	long login_replay_window;       /* seconds, default 10, 0 = off */
	long delete_login_max_age;      /* DELETE /v1/account: session opened this recently */
	long retain_sessions_days;      /* sessions over (expired, revoked) kept this long */
	long retain_audit_days;         /* audit_log rows */
	long retain_events_days;        /* the events feed */
	long prune_interval;            /* seconds between a worker's prune batches, 0: never */
	long refresh_reuse_grace;       /* seconds, default 5, 0 = strict */
	/* profile and open data (handlers/profile.c, wechat/wxdata.c) */
	long watermark_max_age;         /* seconds, default 86400 */
	char avatar_hosts[CONF_HOSTS_MAX][CONF_STR_MAX];
	size_t navatar_hosts;
	char console_operators[CONF_CONSOLE_MAX][CONF_STR_MAX];
	size_t nconsole_operators;
	char console_viewers[CONF_CONSOLE_MAX][CONF_STR_MAX];
	size_t nconsole_viewers;
	/* apps */
	struct conf_app apps[CONF_APPS_MAX];
	size_t napps;
};

/*
 * conf_load: read path into c (which the caller owns; any previous content is
 * overwritten). Returns 0, or -1 with errbuf holding "path:line: what is
 * wrong" (line 0 for whole-file problems). A file without an [app] section
 * loads (check-config says every login is refused until one is added). On
 * failure c is wiped.
 */
int conf_load(struct conf *c, const char *path, char *errbuf, size_t errlen) WARN_UNUSED;

/*
 * conf_app_find: the app with this appid; with appid NULL or empty, the only
 * app when exactly one is configured. NULL when none matches. The pointer
 * lives as long as c.
 */
/* conf_console_role: "operator" or "viewer" for a user named in
 * console_operators or console_viewers, else NULL. */
const char *conf_console_role(const struct conf *c, const char *user_id);
const struct conf_app *conf_app_find(const struct conf *c, const char *appid);

/* conf_app_type_name: "miniprogram", "official_account", "website", "mobile". */
const char *conf_app_type_name(enum app_type t);

/* conf_cleanup: wipe secrets held in c (with sodium_memzero). The whole
 * struct is wiped, so c holds nothing afterwards; c may be NULL. */
void conf_cleanup(struct conf *c);

#endif
