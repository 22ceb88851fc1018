/*
 * wxtoken.c - the app access token: a cache in each worker, the
 * wechat_tokens row every worker and host shares, one refresh at a time.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "db.h"
#include "log.h"
#include "metrics.h"
#include "wx.h"
#include "wxtoken.h"

_Static_assert(DB_TOKEN_MAX == WX_TOKEN_MAX, "the store keeps a whole token");

/* One app's token as this worker last saw it. */
struct slot {
	char token[WX_TOKEN_MAX];       /* empty: none */
	double until;                   /* monotonic seconds at which it expires */
	double forced_at;               /* of this worker's last force_refresh, 0 never */
};

struct wxtoken {
	const struct conf *conf;
	struct db *db;
	struct wx *wx;
	struct slot *slots;             /* sodium_malloc'd, one per configured app */
	size_t n;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
pause_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* same: a is the token b (b may be NULL: nothing to avoid). Tokens are
 * secrets: compared in constant time. */
static int
same(const char *a, const char *b)
{
	size_t n = strlen(a);

	return b != NULL && n == strlen(b) && sodium_memcmp(a, b, n) == 0;
}

struct wxtoken *
wxtoken_new(const struct conf *c, struct db *db, struct wx *wx)
{
	struct wxtoken *t = calloc(1, sizeof(*t));
	size_t n = c->napps > 0 ? c->napps : 1;

	if (t == NULL)
		return NULL;
	if ((t->slots = sodium_malloc(n * sizeof(*t->slots))) == NULL) {
		free(t);
		return NULL;
	}
	memset(t->slots, 0, n * sizeof(*t->slots));
	t->n = n;
	t->conf = c;
	t->db = db;
	t->wx = wx;
	return t;
}

void
wxtoken_free(struct wxtoken *t)
{
	if (t == NULL)
		return;
	sodium_free(t->slots);  /* wipes */
	free(t);
}

static struct slot *
slot_of(struct wxtoken *t, const struct conf_app *app)
{
	size_t i = (size_t)(app - t->conf->apps);

	/* Apps come from the worker's own configuration. */
	assert(app >= t->conf->apps && i < t->n);
	return &t->slots[i];
}

/* keep: remember token, left seconds to live, and hand it to out. */
static void
keep(struct slot *s, const char *token, long left, char *out)
{
	size_t n = strlen(token);

	if (s->token != token)
		memcpy(s->token, token, n + 1);
	s->until = now_s() + (double)left;
	if (out != token)
		memcpy(out, token, n + 1);
}

/* cached: hand out this worker's token when it has more than min_left
 * seconds to live and is not avoid. */
static bool
cached(const struct slot *s, const char *avoid, double min_left, char *out)
{
	if (s->token[0] == '\0' || s->until - now_s() <= min_left || same(s->token, avoid))
		return false;
	memcpy(out, s->token, strlen(s->token) + 1);
	return true;
}

/*
 * fetch: a token from WeChat. stable_token answers every caller with the
 * same token until shortly before it expires, so a plain request is safe;
 * only when that is still the token WeChat just refused (avoid) is a new
 * one forced (*forced is then set). WeChat allows that 20 times a day, 30 s
 * apart, per app: not again when this worker, or any (forced_age: seconds
 * since the last one the database knows of, -1 for none), forced one less
 * than WXTOKEN_FORCE_EVERY seconds ago.
 */
static enum err
fetch(struct wxtoken *t, const struct conf_app *app, struct slot *s, const char *avoid,
    long forced_age, char *out, long *left, bool *forced)
{
	double now = now_s();
	enum err rc;

	*forced = false;
	if ((rc = wx_stable_token(t->wx, app, 0, out, WX_TOKEN_MAX, left)) != OK ||
	    !same(out, avoid))
		return rc;
	if ((s->forced_at > 0 && now - s->forced_at < WXTOKEN_FORCE_EVERY) ||
	    (forced_age >= 0 && forced_age < WXTOKEN_FORCE_EVERY)) {
		log_warnx("wechat: app %s: access token refused again within %d s "
		    "of a forced refresh; not forcing another", app->name,
		    WXTOKEN_FORCE_EVERY);
		return ERR_UPSTREAM_UNAVAILABLE;
	}
	s->forced_at = now;
	*forced = true;
	log_info("wechat: app %s: WeChat still hands out the refused access token: "
	    "forcing a new one", app->name);
	if ((rc = wx_stable_token(t->wx, app, 1, out, WX_TOKEN_MAX, left)) == OK &&
	    same(out, avoid))
		rc = ERR_UPSTREAM_UNAVAILABLE;
	return rc;
}

/*
 * offline: the database cannot be asked. A cached token keeps serving while
 * it lives; without one, WeChat is asked directly (safe: see fetch), and
 * the answer kept in this worker only.
 */
static enum err
offline(struct wxtoken *t, const struct conf_app *app, struct slot *s, const char *avoid,
    char *out)
{
	long left = 0;
	bool forced;
	enum err rc;

	if (cached(s, avoid, WXTOKEN_MIN_LEFT, out))
		return OK;
	if ((rc = fetch(t, app, s, avoid, -1, out, &left, &forced)) == OK) {
		metrics_token_refresh();
		keep(s, out, left, out);
	}
	return rc;
}

/* refresh_locked: holding the app's lock, make sure a current token is
 * stored, and hand it out. */
static enum err
refresh_locked(struct wxtoken *t, const struct conf_app *app, struct slot *s,
    const char *avoid, char *out)
{
	struct db_wxtoken row;
	long left = 0;
	bool stored = false, forced = false;
	enum err rc;

	/* Someone may have stored one while we waited for the lock, or just
	 * before (then WeChat would hand out the same token again). */
	rc = db_wxtoken_get(t->db, app->appid, &row);
	if (rc == OK && !same(row.token, avoid) && row.left > WXTOKEN_MIN_LEFT &&
	    (row.left > WXTOKEN_AHEAD || row.age < WXTOKEN_FORCE_EVERY)) {
		keep(s, row.token, row.left, out);
		goto out;
	}
	if ((rc = fetch(t, app, s, avoid, rc == OK ? row.forced_age : -1, out, &left,
	    &forced)) != OK)
		goto out;
	metrics_token_refresh();
	/* Newer only; a failure to store is logged by the database layer and
	 * does not stop this worker from using what it has. */
	if (db_wxtoken_put(t->db, app->appid, out, left, forced, &stored) == OK && !stored)
		log_info("wechat: app %s: a newer access token was already stored", app->name);
	keep(s, out, left, out);
out:
	sodium_memzero(&row, sizeof(row));
	return rc;
}

/*
 * acquire: a token for app that is not avoid (the one WeChat just refused,
 * or NULL), into out (WX_TOKEN_MAX bytes): from the cache, else from the
 * database, else refreshed by whichever worker gets the lock while the
 * others wait for what it stores.
 */
static enum err
acquire(struct wxtoken *t, const struct conf_app *app, const char *avoid, char *out)
{
	struct slot *s = slot_of(t, app);
	struct db_wxtoken row;
	char seen[WX_TOKEN_MAX];
	double deadline;
	bool locked = false;
	enum err rc;

	if (cached(s, avoid, WXTOKEN_AHEAD, out))
		return OK;
	rc = db_wxtoken_get(t->db, app->appid, &row);
	if (rc != OK && rc != ERR_NOT_FOUND) {
		rc = offline(t, app, s, avoid, out);
		goto out;
	}
	if (rc == OK && row.left > WXTOKEN_AHEAD && !same(row.token, avoid)) {
		keep(s, row.token, row.left, out);
		goto out;
	}
	/* What was stored before someone refreshed it (maybe nothing). */
	memcpy(seen, row.token, sizeof(seen));
	deadline = now_s() + (double)(t->conf->wechat_timeout_ms * 2 +
	    t->conf->wechat_connect_timeout_ms + 1000) / 1000.0;
	for (;;) {
		if ((rc = db_wxtoken_trylock(t->db, app->appid, &locked)) != OK) {
			rc = offline(t, app, s, avoid, out);
			goto out;
		}
		if (locked) {
			rc = refresh_locked(t, app, s, avoid, out);
			db_wxtoken_unlock(t->db, app->appid);
			goto out;
		}
		/* Another worker is refreshing: wait for what it stores. */
		pause_ms(WXTOKEN_POLL_MS);
		rc = db_wxtoken_get(t->db, app->appid, &row);
		if (rc == OK && !same(row.token, avoid) && row.left > WXTOKEN_MIN_LEFT &&
		    (row.left > WXTOKEN_AHEAD || !same(row.token, seen))) {
			keep(s, row.token, row.left, out);
			goto out;
		}
		if (rc != OK && rc != ERR_NOT_FOUND) {
			rc = offline(t, app, s, avoid, out);
			goto out;
		}
		if (now_s() > deadline) {
			log_warnx("wechat: app %s: gave up waiting for another worker "
			    "to refresh the access token", app->name);
			/* A token that still lives does better than an error. */
			rc = cached(s, avoid, WXTOKEN_MIN_LEFT, out) ? OK : ERR_UPSTREAM_TIMEOUT;
			goto out;
		}
	}
out:
	sodium_memzero(&row, sizeof(row));
	sodium_memzero(seen, sizeof(seen));
	if (rc != OK)
		sodium_memzero(out, WX_TOKEN_MAX);
	return rc;
}

/* forget: WeChat refused token: drop it from this worker and, in one
 * statement and only if it is still the stored one, expire it for all. */
static void
forget(struct wxtoken *t, const struct conf_app *app, struct slot *s, const char *token)
{
	if (same(s->token, token)) {
		sodium_memzero(s->token, sizeof(s->token));
		s->until = 0;
	}
	if (db_wxtoken_expire(t->db, app->appid, token) != OK)
		log_info("wechat: app %s: could not mark the refused access token "
		    "expired in the database", app->name);
}

enum err
wxtoken_call(struct wxtoken *t, const struct conf_app *app, wxtoken_fn fn, void *arg)
{
	struct slot *s = slot_of(t, app);
	char tok[WX_TOKEN_MAX], failed[WX_TOKEN_MAX];
	enum err rc;

	if ((rc = acquire(t, app, NULL, tok)) != OK)
		goto out;
	if ((rc = fn(t->wx, tok, arg)) != ERR_WX_TOKEN_INVALID)
		goto out;
	/* Refused: one refresh and one retry, never more. */
	log_info("wechat: app %s: access token refused; refreshing it once", app->name);
	memcpy(failed, tok, sizeof(failed));
	forget(t, app, s, failed);
	if ((rc = acquire(t, app, failed, tok)) != OK)
		goto out;
	if ((rc = fn(t->wx, tok, arg)) == ERR_WX_TOKEN_INVALID) {
		/* Forgotten too, so that the next request refreshes at once;
		 * this one stops here. */
		log_warnx("wechat: app %s: the refreshed access token was refused too",
		    app->name);
		forget(t, app, s, tok);
		rc = ERR_UPSTREAM_UNAVAILABLE;
	}
out:
	sodium_memzero(tok, sizeof(tok));
	sodium_memzero(failed, sizeof(failed));
	return rc;
}
