/*
 * svc.h - what a handler works with, and nothing more: the request
 * (http.h, with its checked fields), the error enum (common.h), the
 * caller's verified identity (tok.h) and struct svc, the per-worker
 * context: configuration, keys, and the clients of the modules below
 * (db, wx, wxtoken, the revocation view).
 *
 * A handler is a leaf: the gate (gate.h) calls it after the checks of its
 * route (route.h); it calls down only, and returns OK once it has sent
 * its answer or an error for the dispatcher to send (http_fail sets the
 * message). It never sends an error itself.
 */
#ifndef WXAUTH_SVC_H
#define WXAUTH_SVC_H

#include <stdbool.h>

#include "common.h"
#include "conf.h"
#include "form.h"
#include "http.h"
#include "tok.h"

struct db;
struct wx;
struct ended;
struct wxtoken;
struct profview;

/* Which pool a worker serves in: the main pool answers every route; the
 * gate pool (gate_listen) only RF_GATE routes, which never wait on WeChat
 * or the database. */
enum svc_role { SVC_MAIN, SVC_GATE };

struct svc {
	const struct conf *conf;
	struct tok_keys *keys;          /* token keys: first seals, all open */
	struct tok_keys *data_keys;     /* at-rest keys: sealed session_keys, answers */
	struct tok_hashkeys *hash_keys; /* keyed hashes of codes and blobs (tok.h) */
	struct db *db;
	struct wx *wx;
	struct ended *rev;
	struct wxtoken *wxtok;          /* the apps' access tokens (wxtoken.h) */
	struct profview *pc;              /* userinfo answers (profview.h); may be NULL */
	enum svc_role role;
	/* Fail closed: true only once the revocation view is whole (loaded
	 * since a connect, or handed over by serve); until then tokens get 503. */
	bool view_ok;
};

/* A handler. who is the token's identity on RF_BEARER routes, else NULL. */
typedef enum err (*svc_fn)(struct svc *s, struct req *r, const struct tok_claims *who);

#endif
