/*
 * jsonw.h - a JSON writer into a caller's bounded buffer, for the answers on
 * every request's path (the token check, the profile), where building a
 * json-c tree only to print it cost more than the check itself. Writes
 * compact JSON as json-c prints it with JSON_C_TO_STRING_PLAIN |
 * JSON_C_TO_STRING_NOSLASHESCAPE: the same bytes.
 *
 * Usage: jsonw_init, then jsonw_open / jsonw_str / jsonw_int / jsonw_raw / jsonw_close in
 * document order (key NULL inside an array or at the top), then jsonw_end.
 * A write that does not fit marks the writer failed; jsonw_end says so.
 */
#ifndef WXAUTH_JSONW_H
#define WXAUTH_JSONW_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

#define JSONW_DEPTH 8

struct jsonw {
	char *b;
	size_t cap, n;
	int failed;
	int depth;
	int count[JSONW_DEPTH];    /* members written so far at each depth */
	char array[JSONW_DEPTH];   /* 1 where the open value is an array */
};

void jsonw_init(struct jsonw *w, char *buf, size_t cap);
/* jsonw_open: '{' (array 0) or '[' (array 1), as member key of the object. */
void jsonw_open(struct jsonw *w, const char *key, int array);
void jsonw_close(struct jsonw *w);
/* jsonw_str: v as a JSON string; null when v is NULL or empty. */
void jsonw_str(struct jsonw *w, const char *key, const char *v);
void jsonw_int(struct jsonw *w, const char *key, int64_t v);
/* jsonw_raw: text that already is one JSON value (NULL: null). */
void jsonw_raw(struct jsonw *w, const char *key, const char *text, size_t len);
/* jsonw_end: the length written (NUL-terminated), or -1 when something did not
 * fit or the nesting is not closed. */
long jsonw_end(struct jsonw *w) WARN_UNUSED;

#endif
