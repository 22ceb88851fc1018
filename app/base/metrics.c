/*
 * metrics.c - counters shared by the workers of a pool, and GET /metrics.
 *
 * Layout of the mapping: a header (pool gauges, restarts, the WeChat call
 * table) and then one slot per worker. A worker writes only its own slot,
 * plus the WeChat table, which every worker shares because its keys (api,
 * errcode) are only known as calls happen: an entry is claimed once with a
 * compare-and-swap and never changes or goes away afterwards, so readers
 * need no lock. A scrape reads everything with relaxed atomic loads; the
 * sums it prints can be a few requests apart from each other, never torn.
 */
#include <limits.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <curl/curl.h>
#include <libpq-fe.h>
#include <sodium.h>

#include "log.h"
#include "metrics.h"

#ifndef WXAUTH_VERSION
#define WXAUTH_VERSION "unknown"
#endif
#define SLOTS_MAX 320                   /* = the pool's SLOTS: main and gate */
#define ROUTES (METRICS_ROUTES_MAX + 1) /* the last one: no route matched */
#define UNMATCHED METRICS_ROUTES_MAX

/* The routes' names, handed over by the front (metrics_routes). */
static const char *const *route_names;
static size_t nroutes;
#define WX_ENTRIES 128                  /* distinct (api, errcode) pairs */
#define WX_API_MAX 32
#define WX_SPINS 10000                  /* while another process fills an entry */

/* Pseudo errcodes for calls that got no errcode from WeChat. */
#define WX_TIMEOUT METRICS_WX_TIMEOUT
#define WX_UNAVAILABLE METRICS_WX_UNAVAILABLE

/* The statuses wxauth and its front door answer; anything else is "other". */
static const int statuses[] = {
	200, 201, 204, 400, 401, 403, 404, 405, 409, 413, 414, 415, 422, 429,
	500, 502, 503, 504,
};
#define NSTATUS (sizeof(statuses) / sizeof(statuses[0]))

/* Latency buckets, seconds, of all three histograms: /v1/session and a
 * statement live below a millisecond, a login waits for WeChat (tens of
 * milliseconds, up to the configured timeouts). */
static const double buckets[] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
	1, 2.5, 5, 10,
};
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))

static const char *const merge_reasons[] = {"unionid", "link", "other"};
#define NMERGE (sizeof(merge_reasons) / sizeof(merge_reasons[0]))

static const char *const db_kinds[MDB__MAX] = {
	[MDB_CONNECT] = "connect",
	[MDB_LOST] = "connection_lost",
	[MDB_QUERY] = "query",
	[MDB_RETRY] = "retry",
	[MDB_LOCK_TIMEOUT] = "lock_timeout",
	[MDB_TIMEOUT] = "timeout",
};

static const char *const restart_reasons[MR__MAX] = {
	[MR_CRASHED] = "crashed",
	[MR_RECYCLED] = "recycled",
	[MR_RELOADED] = "reloaded",
};

static const char *const admin_reasons[MA__MAX] = {
	[MA_NO_KEY] = "no_key",
	[MA_WRONG_KEY] = "wrong_key",
	[MA_DISABLED] = "disabled",
};

typedef _Atomic uint64_t counter;

struct slot {
	counter requests[ROUTES][NSTATUS + 1];  /* last column: other statuses */
	counter hist[ROUTES][NBUCKETS + 1];     /* per bucket, not cumulative; last: > 10 s */
	counter sum_ns[ROUTES];
	counter token_refreshes;
	counter merges[NMERGE];
	counter db_errors[MDB__MAX];
	counter admin_denied[MA__MAX];
	counter userinfo_cache[2];              /* miss, hit */
	counter db_hist[NBUCKETS + 1];          /* statement round trips */
	counter db_sum_ns;
} __attribute__((aligned(64)));

struct wx_entry {
	_Atomic unsigned state;                 /* 0 free, 1 being filled, 2 ready */
	long errcode;
	char api[WX_API_MAX];
	counter count;
	counter hist[NBUCKETS + 1];             /* how long these calls took */
	counter sum_ns;
};

struct shm {
	_Atomic int alive;
	_Atomic int configured;
	_Atomic int used;                       /* slots ever used: what a scrape sums */
	_Atomic int gate_alive;                 /* the gate pool (gate_listen) */
	_Atomic int gate_configured;
	int nslots;
	int shared;                             /* 1: serve's pool, 0: this process only */
	counter restarts[MR__MAX];
	struct wx_entry wx[WX_ENTRIES];
	/* Which slots a worker ever took: a scrape reads only those, so that
	 * the pages of the slots never used (the gate pool's come after
	 * WORKERS_MAX) are never touched, in no process's resident memory. */
	_Atomic unsigned char attached[SLOTS_MAX];
	struct slot slots[];
};

static struct shm *m;
static int me;                                  /* this process's slot */

static void
add(counter *c, uint64_t n)
{
	atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static uint64_t
get(counter *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

static struct shm *
map(int nslots, int shared)
{
	size_t size = sizeof(struct shm) + (size_t)nslots * sizeof(struct slot);
	struct shm *p;

	p = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	p->nslots = nslots;
	p->shared = shared;
	atomic_store(&p->used, shared ? 0 : 1);
	atomic_store(&p->attached[0], shared ? 0 : 1);
	atomic_store(&p->alive, shared ? 0 : 1);
	atomic_store(&p->configured, shared ? 0 : 1);
	return p;
}

int
metrics_init(int nslots)
{
	if (nslots < 1 || nslots > SLOTS_MAX)
		nslots = SLOTS_MAX;
	if ((m = map(nslots, 1)) == NULL) {
		log_warn("metrics: cannot map shared memory");
		return -1;
	}
	me = 0;
	return 0;
}

void
metrics_attach(int slot)
{
	int used;

	if (m != NULL && m->shared && slot >= 0 && slot < m->nslots) {
		me = slot;
		atomic_store(&m->attached[slot], 1);
		/* A scrape sums the slots attached up to the highest one (the
		 * gate pool's slots come after the main pool's). */
		used = atomic_load(&m->used);
		while (used < slot + 1 &&
		    !atomic_compare_exchange_weak(&m->used, &used, slot + 1))
			;
		return;
	}
	/* spawn-fcgi, or a slot the mapping lacks: count for this process. */
	if ((m = map(1, 0)) == NULL)
		log_warn("metrics: cannot map memory; /metrics will be empty");
	me = 0;
}

/* mine: this process's slot, mapping private memory on first use. */
static struct slot *
mine(void)
{
	if (m == NULL)
		metrics_attach(-1);
	return m != NULL ? &m->slots[me] : NULL;
}

static size_t
status_index(int status)
{
	size_t i;

	for (i = 0; i < NSTATUS; i++)
		if (statuses[i] == status)
			return i;
	return NSTATUS;
}

/* observe: one duration into a histogram (NBUCKETS + 1 counters) and its sum. */
static void
observe(counter *hist, counter *sum_ns, double seconds)
{
	size_t b;

	if (!(seconds > 0))
		seconds = 0;
	for (b = 0; b < NBUCKETS && seconds > buckets[b]; b++)
		;
	add(&hist[b], 1);
	add(sum_ns, (uint64_t)(seconds * 1e9));
}

void
metrics_request(int route, int status, double seconds)
{
	struct slot *s = mine();
	size_t ri;

	if (s == NULL)
		return;
	ri = route >= 0 && (size_t)route < nroutes ? (size_t)route : UNMATCHED;
	add(&s->requests[ri][status_index(status)], 1);
	observe(s->hist[ri], &s->sum_ns[ri], seconds);
}

void
metrics_db_query(double seconds)
{
	struct slot *s = mine();

	if (s != NULL)
		observe(s->db_hist, &s->db_sum_ns, seconds);
}

/* wx_entry: the entry for (api, code), claimed if new; NULL when full. */
static struct wx_entry *
wx_entry(const char *api, long code)
{
	struct wx_entry *e;
	unsigned st;
	size_t i;
	int spins;

	for (i = 0; i < WX_ENTRIES; i++) {
		e = &m->wx[i];
		st = atomic_load_explicit(&e->state, memory_order_acquire);
		if (st == 0) {
			if (atomic_compare_exchange_strong(&e->state, &st, 1)) {
				snprintf(e->api, sizeof(e->api), "%s", api);
				e->errcode = code;
				atomic_store_explicit(&e->state, 2, memory_order_release);
				return e;
			}
		}
		/* Another process is filling this entry: it may be ours. */
		for (spins = 0; st == 1 && spins < WX_SPINS; spins++) {
			sched_yield();
			st = atomic_load_explicit(&e->state, memory_order_acquire);
		}
		if (st == 2 && e->errcode == code &&
		    strncmp(e->api, api, sizeof(e->api) - 1) == 0)
			return e;
	}
	return NULL;
}

void
metrics_wechat_call(const char *api, enum err rc, long errcode, double seconds)
{
	struct wx_entry *e;

	if (mine() == NULL)
		return;
	if (errcode == 0 && rc != OK)
		errcode = rc == ERR_UPSTREAM_TIMEOUT ? WX_TIMEOUT : WX_UNAVAILABLE;
	if ((e = wx_entry(api != NULL ? api : "-", errcode)) != NULL) {
		add(&e->count, 1);
		observe(e->hist, &e->sum_ns, seconds);
	}
}

void
metrics_token_refresh(void)
{
	struct slot *s = mine();

	if (s != NULL)
		add(&s->token_refreshes, 1);
}

void
metrics_merge(const char *reason)
{
	struct slot *s = mine();
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < NMERGE - 1; i++)
		if (reason != NULL && strcmp(reason, merge_reasons[i]) == 0)
			break;
	add(&s->merges[i], 1);
}

void
metrics_db_error(enum metrics_db kind)
{
	struct slot *s = mine();

	if (s != NULL && kind >= 0 && kind < MDB__MAX)
		add(&s->db_errors[kind], 1);
}

void
metrics_workers(int alive, int configured)
{
	int used;

	if (m == NULL || !m->shared)
		return;
	atomic_store(&m->alive, alive);
	atomic_store(&m->configured, configured);
	used = atomic_load(&m->used);
	if (configured > m->nslots)
		configured = m->nslots;
	if (configured > used)
		atomic_store(&m->used, configured);
}

void
metrics_admin_denied(enum metrics_admin why)
{
	struct slot *s = mine();

	if (s != NULL && why >= 0 && why < MA__MAX)
		add(&s->admin_denied[why], 1);
}

void
metrics_userinfo_cache(bool hit)
{
	struct slot *s = mine();

	if (s != NULL)
		add(&s->userinfo_cache[hit ? 1 : 0], 1);
}

const char *
metrics_admin_reason(enum metrics_admin why)
{
	return why >= 0 && why < MA__MAX ? admin_reasons[why] : "other";
}

void
metrics_gate_workers(int alive, int configured)
{
	if (m == NULL || !m->shared)
		return;
	atomic_store(&m->gate_alive, alive);
	atomic_store(&m->gate_configured, configured);
}

void
metrics_restart(enum metrics_restart why)
{
	if (m != NULL && why >= 0 && why < MR__MAX)
		add(&m->restarts[why], 1);
}

/* -- the exposition --------------------------------------------------- */

struct out {
	char *p;
	size_t len, cap;
	int oom;
};

static void
put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	size_t cap;
	char *np;
	int n;

	if (o->oom)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(o->p + o->len, o->cap - o->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			o->oom = 1;
			return;
		}
		if ((size_t)n < o->cap - o->len) {
			o->len += (size_t)n;
			return;
		}
		cap = o->cap * 2 + (size_t)n;
		if ((np = realloc(o->p, cap)) == NULL) {
			o->oom = 1;
			return;
		}
		o->p = np;
		o->cap = cap;
	}
}

/* label: a label value, escaped as the text format wants (\\, \", \n). */
static void
label(struct out *o, const char *v)
{
	for (; *v != '\0'; v++) {
		if (*v == '\\')
			put(o, "\\\\");
		else if (*v == '"')
			put(o, "\\\"");
		else if (*v == '\n')
			put(o, "\\n");
		else
			put(o, "%c", *v);
	}
}

static void
family(struct out *o, const char *name, const char *type, const char *help)
{
	put(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void
metrics_routes(const char *const *names, size_t n)
{
	route_names = names;
	nroutes = n < METRICS_ROUTES_MAX ? n : METRICS_ROUTES_MAX;
}

/* route_name: row i's name; NULL for a row no route uses. */
static const char *
route_name(size_t i)
{
	return i < nroutes ? route_names[i] : i == UNMATCHED ? "unmatched" : NULL;
}

/* first_of: the first route index with the same name as i (HEAD and GET
 * of one path share a name, and so share their series). */
static size_t
first_of(size_t i)
{
	size_t j;

	if (route_name(i) == NULL)
		return i;
	for (j = 0; j < i; j++)
		if (route_name(j) != NULL && strcmp(route_name(j), route_name(i)) == 0)
			return j;
	return i;
}

/* The pool's sums, with the series of routes of one name folded together. */
struct sums {
	uint64_t requests[ROUTES][NSTATUS + 1];
	uint64_t hist[ROUTES][NBUCKETS + 1];
	uint64_t sum_ns[ROUTES];
	uint64_t token_refreshes;
	uint64_t merges[NMERGE];
	uint64_t db_errors[MDB__MAX];
	uint64_t admin_denied[MA__MAX];
	uint64_t userinfo_cache[2];
	uint64_t db_hist[NBUCKETS + 1];
	uint64_t db_sum_ns;
};

static void
sum(struct sums *t)
{
	struct slot *s;
	size_t r, k, f, fold[ROUTES];
	int i, used = atomic_load(&m->used);

	memset(t, 0, sizeof(*t));
	for (r = 0; r < ROUTES; r++)
		fold[r] = first_of(r);
	if (used > m->nslots)
		used = m->nslots;
	for (i = 0; i < used; i++) {
		if (!atomic_load(&m->attached[i]))
			continue;
		s = &m->slots[i];
		for (r = 0; r < ROUTES; r++) {
			f = fold[r];
			for (k = 0; k <= NSTATUS; k++)
				t->requests[f][k] += get(&s->requests[r][k]);
			for (k = 0; k <= NBUCKETS; k++)
				t->hist[f][k] += get(&s->hist[r][k]);
			t->sum_ns[f] += get(&s->sum_ns[r]);
		}
		t->token_refreshes += get(&s->token_refreshes);
		for (k = 0; k < NMERGE; k++)
			t->merges[k] += get(&s->merges[k]);
		for (k = 0; k < MDB__MAX; k++)
			t->db_errors[k] += get(&s->db_errors[k]);
		for (k = 0; k < MA__MAX; k++)
			t->admin_denied[k] += get(&s->admin_denied[k]);
		for (k = 0; k < 2; k++)
			t->userinfo_cache[k] += get(&s->userinfo_cache[k]);
		for (k = 0; k <= NBUCKETS; k++)
			t->db_hist[k] += get(&s->db_hist[k]);
		t->db_sum_ns += get(&s->db_sum_ns);
	}
}

/* label_set: {key="value"}, or nothing when key is NULL. */
static void
label_set(struct out *o, const char *key, const char *value)
{
	if (key == NULL)
		return;
	put(o, "{%s=\"", key);
	label(o, value);
	put(o, "\"}");
}

/*
 * histogram: the series of one histogram (per-bucket counts, not yet
 * cumulative) of name, labelled key="value" unless key is NULL; nothing
 * when it holds no observation and is labelled.
 */
static void
histogram(struct out *o, const char *name, const char *key, const char *value,
    const uint64_t *hist, uint64_t sum_ns)
{
	uint64_t cum;
	size_t k;

	for (cum = 0, k = 0; k <= NBUCKETS; k++)
		cum += hist[k];
	if (cum == 0 && key != NULL)
		return;
	for (cum = 0, k = 0; k <= NBUCKETS; k++) {
		cum += hist[k];
		put(o, "%s_bucket{", name);
		if (key != NULL) {
			put(o, "%s=\"", key);
			label(o, value);
			put(o, "\",");
		}
		if (k < NBUCKETS)
			put(o, "le=\"%g\"} %llu\n", buckets[k], (unsigned long long)cum);
		else
			put(o, "le=\"+Inf\"} %llu\n", (unsigned long long)cum);
	}
	put(o, "%s_sum", name);
	label_set(o, key, value);
	put(o, " %.9f\n%s_count", (double)sum_ns / 1e9, name);
	label_set(o, key, value);
	put(o, " %llu\n", (unsigned long long)cum);
}

static void
render_requests(struct out *o, const struct sums *t)
{
	uint64_t n;
	size_t r, k;

	family(o, "wxauth_requests_total", "counter",
	    "Requests answered by the workers, by route and HTTP status.");
	for (r = 0; r < ROUTES; r++) {
		for (k = 0; k <= NSTATUS && route_name(r) != NULL; k++) {
			if ((n = t->requests[r][k]) == 0)
				continue;
			put(o, "wxauth_requests_total{route=\"");
			label(o, route_name(r));
			if (k < NSTATUS)
				put(o, "\",status=\"%d\"} %llu\n", statuses[k], (unsigned long long)n);
			else
				put(o, "\",status=\"other\"} %llu\n", (unsigned long long)n);
		}
	}
	family(o, "wxauth_request_duration_seconds", "histogram",
	    "Time from a request reaching a worker to its answer, by route.");
	for (r = 0; r < ROUTES; r++)
		if (route_name(r) != NULL)
			histogram(o, "wxauth_request_duration_seconds", "route", route_name(r),
			    t->hist[r], t->sum_ns[r]);
}

static void
render_wechat(struct out *o)
{
	struct wx_entry *e, *d;
	uint64_t n, hist[NBUCKETS + 1], sum_ns;
	size_t i, j, k;

	family(o, "wxauth_wechat_calls_total", "counter",
	    "Calls of the WeChat API, by API and WeChat's errcode (0: success; "
	    "timeout or unavailable when no errcode came back).");
	for (i = 0; i < WX_ENTRIES; i++) {
		e = &m->wx[i];
		if (atomic_load_explicit(&e->state, memory_order_acquire) != 2)
			continue;
		/* An entry claimed twice in a race is printed once, summed. */
		for (j = 0; j < i; j++) {
			d = &m->wx[j];
			if (atomic_load_explicit(&d->state, memory_order_acquire) == 2 &&
			    d->errcode == e->errcode && strcmp(d->api, e->api) == 0)
				break;
		}
		if (j < i)
			continue;
		n = get(&e->count);
		for (j = i + 1; j < WX_ENTRIES; j++) {
			d = &m->wx[j];
			if (atomic_load_explicit(&d->state, memory_order_acquire) == 2 &&
			    d->errcode == e->errcode && strcmp(d->api, e->api) == 0)
				n += get(&d->count);
		}
		put(o, "wxauth_wechat_calls_total{api=\"");
		label(o, e->api);
		if (e->errcode == WX_TIMEOUT)
			put(o, "\",errcode=\"timeout\"}");
		else if (e->errcode == WX_UNAVAILABLE)
			put(o, "\",errcode=\"unavailable\"}");
		else
			put(o, "\",errcode=\"%ld\"}", e->errcode);
		put(o, " %llu\n", (unsigned long long)n);
	}
	family(o, "wxauth_wechat_call_duration_seconds", "histogram",
	    "Time a call of the WeChat API took, whatever its outcome, by API.");
	for (i = 0; i < WX_ENTRIES; i++) {
		e = &m->wx[i];
		if (atomic_load_explicit(&e->state, memory_order_acquire) != 2)
			continue;
		for (j = 0; j < i; j++) {
			d = &m->wx[j];
			if (atomic_load_explicit(&d->state, memory_order_acquire) == 2 &&
			    strcmp(d->api, e->api) == 0)
				break;
		}
		if (j < i)
			continue;       /* this api is printed already */
		memset(hist, 0, sizeof(hist));
		sum_ns = 0;
		for (j = i; j < WX_ENTRIES; j++) {
			d = &m->wx[j];
			if (atomic_load_explicit(&d->state, memory_order_acquire) != 2 ||
			    strcmp(d->api, e->api) != 0)
				continue;
			for (k = 0; k <= NBUCKETS; k++)
				hist[k] += get(&d->hist[k]);
			sum_ns += get(&d->sum_ns);
		}
		histogram(o, "wxauth_wechat_call_duration_seconds", "api", e->api, hist, sum_ns);
	}
}

char *
metrics_render(size_t *len)
{
	struct sums *t = NULL;
	struct out o = {NULL, 0, 0, 0};
	size_t k;

	*len = 0;
	if (mine() == NULL || (t = malloc(sizeof(*t))) == NULL ||
	    (o.p = malloc(o.cap = 16384)) == NULL)
		goto fail;
	sum(t);
	render_requests(&o, t);
	render_wechat(&o);
	family(&o, "wxauth_wechat_token_refreshes_total", "counter",
	    "App access_tokens fetched from WeChat (cgi-bin/stable_token).");
	put(&o, "wxauth_wechat_token_refreshes_total %llu\n",
	    (unsigned long long)t->token_refreshes);
	family(&o, "wxauth_merges_total", "counter",
	    "Users merged into another user, by reason.");
	for (k = 0; k < NMERGE; k++)
		put(&o, "wxauth_merges_total{reason=\"%s\"} %llu\n", merge_reasons[k],
		    (unsigned long long)t->merges[k]);
	family(&o, "wxauth_db_errors_total", "counter",
	    "PostgreSQL failures, by kind (retry: run again, not seen by a client).");
	for (k = 0; k < MDB__MAX; k++)
		put(&o, "wxauth_db_errors_total{kind=\"%s\"} %llu\n", db_kinds[k],
		    (unsigned long long)t->db_errors[k]);
	family(&o, "wxauth_db_query_duration_seconds", "histogram",
	    "Round trip of one statement to PostgreSQL, from sent to its last result.");
	histogram(&o, "wxauth_db_query_duration_seconds", NULL, NULL, t->db_hist, t->db_sum_ns);
	family(&o, "wxauth_admin_denied_total", "counter",
	    "Admin requests refused, by reason.");
	for (k = 0; k < MA__MAX; k++)
		put(&o, "wxauth_admin_denied_total{reason=\"%s\"} %llu\n", admin_reasons[k],
		    (unsigned long long)t->admin_denied[k]);
	family(&o, "wxauth_userinfo_cache_total", "counter",
	    "Profile answers (GET /v1/userinfo, and those of its writes) from the worker's cache (hit) or PostgreSQL (miss).");
	put(&o, "wxauth_userinfo_cache_total{result=\"hit\"} %llu\n",
	    (unsigned long long)t->userinfo_cache[1]);
	put(&o, "wxauth_userinfo_cache_total{result=\"miss\"} %llu\n",
	    (unsigned long long)t->userinfo_cache[0]);
	family(&o, "wxauth_workers_alive", "gauge",
	    "Worker processes running (under spawn-fcgi: this one).");
	put(&o, "wxauth_workers_alive %d\n", atomic_load(&m->alive));
	family(&o, "wxauth_workers_configured", "gauge",
	    "Worker processes the configuration asks for.");
	put(&o, "wxauth_workers_configured %d\n", atomic_load(&m->configured));
	family(&o, "wxauth_gate_workers_alive", "gauge",
	    "Workers of the gate pool (the token check only) running.");
	put(&o, "wxauth_gate_workers_alive %d\n", atomic_load(&m->gate_alive));
	family(&o, "wxauth_gate_workers_configured", "gauge",
	    "Workers of the gate pool the configuration asks for (0: no gate pool).");
	put(&o, "wxauth_gate_workers_configured %d\n", atomic_load(&m->gate_configured));
	family(&o, "wxauth_worker_restarts_total", "counter",
	    "Workers replaced by wxauth serve, by reason.");
	for (k = 0; k < MR__MAX; k++)
		put(&o, "wxauth_worker_restarts_total{reason=\"%s\"} %llu\n",
		    restart_reasons[k], (unsigned long long)get(&m->restarts[k]));
	family(&o, "wxauth_build_info", "gauge",
	    "1, labelled with the version of wxauth and of the libraries it runs with.");
	put(&o, "wxauth_build_info{version=\"%s\",libpq=\"%d\",libsodium=\"%s\","
	    "libcurl=\"%s\"} 1\n", WXAUTH_VERSION, PQlibVersion(), sodium_version_string(),
	    curl_version_info(CURLVERSION_NOW)->version);
	family(&o, "wxauth_metrics_scope", "gauge",
	    "1 for the scope these numbers cover: the whole pool (serve) or "
	    "the one worker that answered (spawn-fcgi).");
	put(&o, "wxauth_metrics_scope{scope=\"%s\"} 1\n", m->shared ? "pool" : "worker");
	if (o.oom)
		goto fail;
	free(t);
	*len = o.len;
	return o.p;
fail:
	free(t);
	free(o.p);
	return NULL;
}

void
metrics_pools(int *alive, int *configured, int *gate_alive, int *gate_configured)
{
	*alive = *configured = *gate_alive = *gate_configured = 0;
	if (m == NULL)
		return;
	*alive = atomic_load(&m->alive);
	*configured = atomic_load(&m->configured);
	*gate_alive = atomic_load(&m->gate_alive);
	*gate_configured = atomic_load(&m->gate_configured);
}

size_t
metrics_wechat_counts(struct metrics_wx_count *out, size_t max)
{
	struct wx_entry *e;
	size_t i, j, n = 0;

	for (i = 0; m != NULL && i < WX_ENTRIES; i++) {
		e = &m->wx[i];
		if (atomic_load_explicit(&e->state, memory_order_acquire) != 2)
			continue;
		/* An entry claimed twice in a race counts once, summed. */
		for (j = 0; j < n; j++)
			if (out[j].errcode == e->errcode && strcmp(out[j].api, e->api) == 0)
				break;
		if (j == n) {
			if (n == max)
				break;
			snprintf(out[n].api, sizeof(out[n].api), "%s", e->api);
			out[n].errcode = e->errcode;
			out[n].calls = 0;
			n++;
		}
		out[j].calls += get(&e->count);
	}
	return n;
}
