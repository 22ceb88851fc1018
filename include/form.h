/*
 * form.h - the front door: each route's body fields in a const table (name,
 * type, bounds, required), checked before any handler runs, so handlers
 * only read values that are known to be there and well-formed.
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
	FF_NUMSTR = 1 << 3      /* FT_INT may come as a string of digits */
};

struct field {
	const char *name;
	enum ftype type;
	unsigned flags;
	long long min;
	long long max;
};

/* Field lists end with a zeroed entry. */
#define FIELDS_END {NULL, FT_STRING, 0, 0, 0}

/*
 * form_check: check body (a JSON object, or NULL for no body) against
 * fields. Unknown fields are ignored: WeChat's client adds its own.
 * Returns OK, or ERR_INVALID_REQUEST with why naming the field (never its
 * value).
 */
enum err form_check(struct json_object *body, const struct field *fields,
    char *why, size_t whylen) WARN_UNUSED;

/* After form_check: the string value of name, or NULL when absent. */
const char *form_str(struct json_object *body, const char *name);
/* After form_check: the boolean value of name, or dflt when absent. */
bool form_bool(struct json_object *body, const char *name, bool dflt);

/* form_text_ok: s (len bytes) is valid UTF-8 without control characters,
 * and has between min and max code points. */
bool form_text_ok(const char *s, size_t len, size_t min, size_t max);

#endif
