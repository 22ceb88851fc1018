/*
 * form.h - the front door's declarative checks: each route's body fields,
 * query parameters and path segment in const tables (name, type, bounds,
 * required), checked before any handler runs. The checked values land in
 * an array parallel to the table, so a handler reads a value by its
 * table entry (an enum index), never by a name a typo could miss.
 */
#ifndef WXAUTH_FORM_H
#define WXAUTH_FORM_H

#include <stdbool.h>
#include <stddef.h>
#include <json-c/json.h>

#include "common.h"

enum ftype {
	FT_STRING,      /* JSON string, length in bytes within [min, max] */
	FT_BOOL,        /* JSON true or false */
	FT_INT          /* JSON integer (or, with FF_NUMSTR, a string of digits) within [min, max] */
};

enum fflag {
	FF_REQUIRED = 1 << 0,
	FF_TOKEN = 1 << 1,      /* printable ASCII only (codes, tokens, appids, base64) */
	FF_TEXT = 1 << 2,       /* valid UTF-8 without control characters */
	FF_NUMSTR = 1 << 3,     /* FT_INT may come as a string of digits */
	FF_UUID = 1 << 4        /* FT_STRING in the canonical 8-4-4-4-12 hex form */
};

struct field {
	const char *name;
	enum ftype type;
	unsigned flags;
	long long min;
	long long max;
};

/* Field lists end with a zeroed entry, and hold at most FORM_MAX fields. */
#define FIELDS_END {NULL, FT_STRING, 0, 0, 0}
#define FORM_MAX 8

/* A checked value: set when the field came; s for FT_STRING (it lives as
 * long as the request), n for FT_INT, b for FT_BOOL. */
struct fval {
	bool set;
	const char *s;
	long long n;
	bool b;
};

/*
 * form_check: check body (a JSON object, or NULL for no body) against
 * fields, filling vals[i] for fields[i]. Unknown fields are ignored:
 * WeChat's client adds its own. Returns OK, or ERR_INVALID_REQUEST with
 * why naming the field (never its value).
 */
enum err form_check(struct json_object *body, const struct field *fields,
    struct fval vals[FORM_MAX], char *why, size_t whylen) WARN_UNUSED;

/*
 * form_query: the same for a query string ("a=1&b=x", %-decoded): FT_INT
 * values are digits, FT_STRING values text without control characters.
 * Decoded values are kept in buf (buflen bytes). A parameter given twice
 * is refused.
 */
enum err form_query(const char *query, const struct field *fields,
    struct fval vals[FORM_MAX], char *buf, size_t buflen, char *why,
    size_t whylen) WARN_UNUSED;

/* form_value: check one string value s (a path segment) against f.
 * Returns true when it passes. */
bool form_value(const char *s, const struct field *f);

/* form_text_ok: s (len bytes) is valid UTF-8 without control characters,
 * and has between min and max code points. */
bool form_text_ok(const char *s, size_t len, size_t min, size_t max);

#endif
