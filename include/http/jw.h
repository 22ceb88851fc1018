/*
 * jw.h - a JSON writer into a caller's bounded buffer, for the answers on
 * every request's path (the token check, the profile), where building a
 * json-c tree only to print it cost more than the check itself. Writes
 * compact JSON as json-c prints it with JSON_C_TO_STRING_PLAIN |
 * JSON_C_TO_STRING_NOSLASHESCAPE: the same bytes.
 *
 * Usage: jw_init, then jw_open / jw_str / jw_int / jw_raw / jw_close in
 * document order (key NULL inside an array or at the top), then jw_end.
 * A write that does not fit marks the writer failed; jw_end says so.
 */
#ifndef WXAUTH_JW_H
#define WXAUTH_JW_H

#include <stddef.h>
#include <stdint.h>

#include "common.h"

#define JW_DEPTH 8

struct jw {
	char *b;
	size_t cap, n;
	int failed;
	int depth;
	int count[JW_DEPTH];    /* members written so far at each depth */
	char array[JW_DEPTH];   /* 1 where the open value is an array */
};

void jw_init(struct jw *w, char *buf, size_t cap);
/* jw_open: '{' (array 0) or '[' (array 1), as member key of the object. */
void jw_open(struct jw *w, const char *key, int array);
void jw_close(struct jw *w);
/* jw_str: v as a JSON string; null when v is NULL or empty. */
void jw_str(struct jw *w, const char *key, const char *v);
void jw_int(struct jw *w, const char *key, int64_t v);
/* jw_raw: text that already is one JSON value (NULL: null). */
void jw_raw(struct jw *w, const char *key, const char *text, size_t len);
/* jw_end: the length written (NUL-terminated), or -1 when something did not
 * fit or the nesting is not closed. */
long jw_end(struct jw *w) WARN_UNUSED;

#endif
