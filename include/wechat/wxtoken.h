/*
 * wxtoken.h - each app's server access token (the one WeChat's server APIs
 * take as ?access_token=), shared by every worker and host.
 *
 * It comes from cgi-bin/stable_token only, lives in each worker's memory
 * and in PostgreSQL (wechat_tokens), and is refreshed ahead of its expiry
 * by one worker of all hosts at a time (an advisory lock; the others wait
 * briefly, then read what it stored). A token is stored only if it expires
 * later than the stored one. When WeChat refuses a token (40001, 40014,
 * 42001), the stored token is expired only if it is still that one, the
 * token is refreshed once and the call made once more: never a loop. When
 * the database is down, a worker's cached token keeps serving.
 */
#ifndef WXAUTH_WXTOKEN_H
#define WXAUTH_WXTOKEN_H

#include "common.h"
#include "conf.h"

struct db;
struct wx;
struct wxtoken;

#define WXTOKEN_AHEAD 300       /* refresh when fewer seconds than this are left */
#define WXTOKEN_MIN_LEFT 30     /* never hand out a token with less than this left */
#define WXTOKEN_POLL_MS 50      /* how often a waiting worker reads the stored token */
#define WXTOKEN_FORCE_EVERY 30  /* seconds between two force_refresh (WeChat's limit) */

/* wxtoken_new: the per-worker cache for c's apps, over db and wx (which
 * must outlive it). NULL when out of memory. */
struct wxtoken *wxtoken_new(const struct conf *c, struct db *db, struct wx *wx);
/* wxtoken_free: wipe and free; NULL does nothing. */
void wxtoken_free(struct wxtoken *t);

/* A WeChat call that needs the app's access token. It returns
 * ERR_WX_TOKEN_INVALID when WeChat refused the token. */
typedef enum err (*wxtoken_fn)(struct wx *wx, const char *access_token, void *arg);

/*
 * wxtoken_call: run fn with app's access token. When fn says the token was
 * refused, expire it (only if still stored), refresh once, and run fn once
 * more; a second refusal is ERR_UPSTREAM_UNAVAILABLE. Returns what fn
 * returns, or the error of getting a token (ERR_UPSTREAM_UNAVAILABLE,
 * ERR_UPSTREAM_TIMEOUT, ...: WeChat could not give one, or the worker
 * refreshing it took too long).
 */
enum err wxtoken_call(struct wxtoken *t, const struct conf_app *app, wxtoken_fn fn,
    void *arg) WARN_UNUSED;

#endif
