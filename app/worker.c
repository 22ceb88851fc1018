/*
 * worker.c - one worker: build what lives for the worker, then accept and
 * serve one request at a time until told to stop.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>
#include <sodium.h>

#include "admin.h"
#include "auth.h"
#include "box.h"
#include "db.h"
#include "http.h"
#include "log.h"
#include "revoke.h"
#include "route.h"
#include "worker.h"
#include "wx.h"

volatile sig_atomic_t worker_stop;
static volatile sig_atomic_t reopen_log;

static void
on_stop(int sig)
{
	(void)sig;
	worker_stop = 1;
}

static void
on_usr1(int sig)
{
	(void)sig;
	reopen_log = 1;
}

/* Notifications and reloads from the database feed the revocation view. */
static void
on_event(void *arg, char kind, const char *a, const char *b, const char *c)
{
	struct worker *w = arg;
	int64_t until = (int64_t)time(NULL) + w->conf->access_ttl + 60;

	switch (kind) {
	case 'r':
		revoke_clear(w->rev);
		break;
	case 's':
		if (revoke_add_session(w->rev, a, until) == -1)
			log_warnx("out of memory recording a revoked session");
		break;
	case 'm':
		if (revoke_add_merge(w->rev, a, b, c, until) == -1)
			log_warnx("out of memory recording a merge");
		break;
	case 'u':
		revoke_drop_merge(w->rev, a);
		break;
	default:
		break;
	}
}

int
worker_init(struct worker *w, const struct conf *c, int slot)
{
	char err[512];

	memset(w, 0, sizeof(*w));
	w->conf = c;
	w->slot = slot;
	if ((w->keys = tok_keys_load(c->key_file, err, sizeof(err))) == NULL ||
	    (w->data_keys = tok_keys_load(c->data_key_file, err, sizeof(err))) == NULL) {
		log_warnx("%s", err);
		goto fail;
	}
	/* The code-hash key is derived from the data key, so that every
	 * worker and host computes the same hash for the same code. */
	if ((w->code_key = sodium_malloc(WORKER_CODE_KEYBYTES)) == NULL ||
	    crypto_generichash(w->code_key, WORKER_CODE_KEYBYTES,
	    (const unsigned char *)"wxauth login code", 17,
	    w->data_keys->k[0].key, TOK_KEYBYTES) != 0)
		goto fail;
	if ((w->rev = revoke_new()) == NULL ||
	    (w->db = db_new(c->database, on_event, w, c->access_ttl)) == NULL ||
	    (w->wx = wx_new(c)) == NULL) {
		log_warnx("worker: out of memory");
		goto fail;
	}
	return 0;
fail:
	worker_cleanup(w);
	return -1;
}

void
worker_cleanup(struct worker *w)
{
	wx_free(w->wx);
	db_free(w->db);
	revoke_free(w->rev);
	sodium_free(w->code_key);
	tok_keys_free(w->data_keys);
	tok_keys_free(w->keys);
	memset(w, 0, sizeof(*w));
}

static int
is_json_type(const char *ct)
{
	size_t n = strlen("application/json");

	return strncasecmp(ct, "application/json", n) == 0 &&
	    (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/*
 * front: the front door. Method and route, token, body size, content type,
 * JSON, then fields, before any handler runs.
 */
static enum err
front(struct worker *w, struct req *r, enum route *rt, struct tok_claims *who,
    char *why, size_t whylen)
{
	const struct route_def *d;
	enum err rc;

	if ((rc = route_find(r->method, r->path, rt, r->param, sizeof(r->param))) != OK)
		return rc;
	d = &routes[*rt];
	r->route_name = d->name;
	if ((d->flags & RF_BEARER) && (rc = auth_bearer(w, r, who)) != OK)
		return rc;
	if ((d->flags & RF_ADMIN) && (rc = admin_check(w, r)) != OK)
		return rc;
	if (!(d->flags & RF_BODY))
		return OK;
	if ((rc = http_read_body(r, w->conf->max_body)) != OK)
		return rc;
	if (r->body_len > 0 && !is_json_type(r->content_type))
		return ERR_UNSUPPORTED_MEDIA_TYPE;
	if ((rc = http_parse_json(r, (d->flags & RF_BODY_OPTIONAL) != 0)) != OK) {
		if (r->body_len == 0)
			snprintf(why, whylen, "a JSON object body is required");
		return rc;
	}
	return form_check(r->json, d->fields, why, whylen);
}

static void
serve_one(struct worker *w, FCGX_Request *f)
{
	struct req r;
	struct tok_claims who;
	enum route rt = R__MAX;
	char why[128] = "";
	enum err rc;

	http_req_init(&r, f);
	log_set_rid(r.id);
	/* Drain revocations and merges before answering anything. */
	(void)db_poll(w->db);
	if ((w->served & 1023) == 0)
		revoke_prune(w->rev, (int64_t)time(NULL));
	memset(&who, 0, sizeof(who));
	rc = front(w, &r, &rt, &who, why, sizeof(why));
	if (rc == OK)
		rc = routes[rt].fn(w, &r, (routes[rt].flags & RF_BEARER) ? &who : NULL);
	if (rc != OK)
		http_send_error(&r, rc, why[0] != '\0' ? why : NULL);
	log_request(r.method_str, r.route_name, r.status, http_elapsed_ms(&r),
	    r.appid, r.user);
	log_set_rid(NULL);
	sodium_memzero(&who, sizeof(who));
	http_req_cleanup(&r);
}

static void
signals(void)
{
	struct sigaction sa;
	sigset_t none;

	/* No SA_RESTART: SIGTERM must interrupt accept() so an idle worker
	 * exits at once; a busy one finishes its request first. */
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_usr1;
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

int
worker_run(const struct conf *c, int fd, int slot)
{
	struct worker w;
	FCGX_Request f;
	int status = 1;

	if (FCGX_Init() != 0 || FCGX_InitRequest(&f, fd, FCGI_FAIL_ACCEPT_ON_INTR) != 0) {
		log_warnx("worker: cannot initialise FastCGI");
		return 1;
	}
	signals();
	if (worker_init(&w, c, slot) == -1)
		return 1;
	(void)db_poll(w.db);
	while (!worker_stop) {
		if (c->max_requests > 0 && w.served >= (unsigned long)c->max_requests)
			break;
		if (FCGX_Accept_r(&f) < 0) {
			if (worker_stop || errno == EINTR)
				continue;
			log_warn("worker: accept failed");
			goto out;
		}
		if (reopen_log) {
			reopen_log = 0;
			log_reopen();
		}
		serve_one(&w, &f);
		FCGX_Finish_r(&f);
		w.served++;
	}
	status = 0;
out:
	FCGX_Free(&f, 0);
	worker_cleanup(&w);
	return status;
}
