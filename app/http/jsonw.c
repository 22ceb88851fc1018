/*
 * jsonw.c - the JSON writer of jsonw.h.
 */
#include <stdio.h>
#include <string.h>

#include "jsonw.h"

void
jsonw_init(struct jsonw *w, char *buf, size_t cap)
{
	memset(w, 0, sizeof(*w));
	w->b = buf;
	w->cap = cap;
	if (cap == 0)
		w->failed = 1;
	else
		buf[0] = '\0';
}

/* put: n bytes, or the writer fails (one byte is kept for the NUL). */
static void
put(struct jsonw *w, const char *s, size_t n)
{
	if (w->failed || n >= w->cap - w->n) {
		w->failed = 1;
		return;
	}
	memcpy(w->b + w->n, s, n);
	w->n += n;
	w->b[w->n] = '\0';
}

static void
putc1(struct jsonw *w, char c)
{
	put(w, &c, 1);
}

/* text: s quoted and escaped as json-c escapes it (no "\/"). */
static void
text(struct jsonw *w, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s, *run = p;
	char esc[7];

	putc1(w, '"');
	for (; *p != '\0'; p++) {
		if (*p >= 0x20 && *p != '"' && *p != '\\')
			continue;
		put(w, (const char *)run, (size_t)(p - run));
		run = p + 1;
		switch (*p) {
		case '"': put(w, "\\\"", 2); break;
		case '\\': put(w, "\\\\", 2); break;
		case '\b': put(w, "\\b", 2); break;
		case '\f': put(w, "\\f", 2); break;
		case '\n': put(w, "\\n", 2); break;
		case '\r': put(w, "\\r", 2); break;
		case '\t': put(w, "\\t", 2); break;
		default:
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[*p >> 4];
			esc[5] = hex[*p & 15];
			put(w, esc, 6);
		}
	}
	put(w, (const char *)run, (size_t)(p - run));
	putc1(w, '"');
}

/* member: the comma and the key of the next value at this depth. */
static void
member(struct jsonw *w, const char *key)
{
	if (w->count[w->depth]++ > 0)
		putc1(w, ',');
	if (key != NULL) {
		text(w, key);
		putc1(w, ':');
	}
}

void
jsonw_open(struct jsonw *w, const char *key, int array)
{
	if (w->depth + 1 >= JSONW_DEPTH) {
		w->failed = 1;
		return;
	}
	member(w, key);
	putc1(w, array ? '[' : '{');
	w->depth++;
	w->count[w->depth] = 0;
	w->array[w->depth] = array != 0;
}

void
jsonw_close(struct jsonw *w)
{
	if (w->depth == 0) {
		w->failed = 1;
		return;
	}
	putc1(w, w->array[w->depth] ? ']' : '}');
	w->depth--;
}

void
jsonw_str(struct jsonw *w, const char *key, const char *v)
{
	member(w, key);
	if (v == NULL || *v == '\0')
		put(w, "null", 4);
	else
		text(w, v);
}

void
jsonw_int(struct jsonw *w, const char *key, int64_t v)
{
	char d[24];
	int n = snprintf(d, sizeof(d), "%lld", (long long)v);

	member(w, key);
	put(w, d, n > 0 ? (size_t)n : 0);
}

void
jsonw_raw(struct jsonw *w, const char *key, const char *t, size_t len)
{
	member(w, key);
	if (t == NULL)
		put(w, "null", 4);
	else
		put(w, t, len);
}

long
jsonw_end(struct jsonw *w)
{
	if (w->failed || w->depth != 0)
		return -1;
	return (long)w->n;
}
