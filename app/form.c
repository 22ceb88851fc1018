/*
 * form.c - declarative checks of request bodies.
 */
#include <stdio.h>
#include <string.h>

#include "form.h"

static bool
token_ok(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e)
			return false;
	return true;
}

bool
form_text_ok(const char *s, size_t len, size_t min, size_t max)
{
	/* The smallest code point each length may encode. */
	static const unsigned least_cp[4] = {0, 0x80, 0x800, 0x10000};
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	size_t points = 0;
	unsigned cp, least;
	int extra;

	while (p < end) {
		if (*p < 0x80) {
			cp = *p;
			extra = 0;
		} else if ((*p & 0xe0) == 0xc0) {
			cp = *p & 0x1f;
			extra = 1;
		} else if ((*p & 0xf0) == 0xe0) {
			cp = *p & 0x0f;
			extra = 2;
		} else if ((*p & 0xf8) == 0xf0) {
			cp = *p & 0x07;
			extra = 3;
		} else {
			return false;
		}
		if (end - p <= extra)
			return false;
		least = least_cp[extra];
		for (p++; extra > 0; extra--, p++) {
			if ((*p & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (*p & 0x3f);
		}
		/* Overlong forms (0xc0 0xaf is not '/'), surrogates and
		 * out-of-range points. */
		if (cp < least || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0) ||
		    cp == 0x2028 || cp == 0x2029)
			return false;
		points++;
	}
	return points >= min && points <= max;
}

static bool
numstr(const char *s, long long *v)
{
	long long n = 0;

	if (*s == '\0' || strlen(s) > 18)
		return false;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return false;
		n = n * 10 + (*s - '0');
	}
	*v = n;
	return true;
}

static bool
check_one(struct json_object *v, const struct field *f, const char **what)
{
	const char *s;
	size_t len;
	long long n;

	switch (f->type) {
	case FT_STRING:
		if (!json_object_is_type(v, json_type_string)) {
			*what = "must be a string";
			return false;
		}
		s = json_object_get_string(v);
		len = (size_t)json_object_get_string_len(v);
		if (strlen(s) != len) {
			*what = "must not contain NUL";
			return false;
		}
		if ((long long)len < f->min || (long long)len > f->max) {
			*what = len == 0 ? "must not be empty" : "has a wrong length";
			return false;
		}
		if ((f->flags & FF_TOKEN) && !token_ok(s, len)) {
			*what = "has characters that are not allowed";
			return false;
		}
		if ((f->flags & FF_TEXT) && !form_text_ok(s, len, 0, (size_t)-1)) {
			*what = "must be valid UTF-8 without control characters";
			return false;
		}
		return true;
	case FT_BOOL:
		if (!json_object_is_type(v, json_type_boolean)) {
			*what = "must be true or false";
			return false;
		}
		return true;
	case FT_INT:
		if (json_object_is_type(v, json_type_int)) {
			n = json_object_get_int64(v);
		} else if ((f->flags & FF_NUMSTR) &&
		    json_object_is_type(v, json_type_string) &&
		    numstr(json_object_get_string(v), &n)) {
			;
		} else {
			*what = "must be an integer";
			return false;
		}
		if (n < f->min || n > f->max) {
			*what = "is out of range";
			return false;
		}
		return true;
	}
	*what = "has an unknown type";
	return false;
}

enum err
form_check(struct json_object *body, const struct field *fields, char *why,
    size_t whylen)
{
	const struct field *f;
	struct json_object *v;
	const char *what = NULL;

	for (f = fields; f->name != NULL; f++) {
		if (body == NULL || !json_object_object_get_ex(body, f->name, &v) ||
		    v == NULL) {
			if (f->flags & FF_REQUIRED) {
				snprintf(why, whylen, "field '%s' is required", f->name);
				return ERR_INVALID_REQUEST;
			}
			continue;
		}
		if (!check_one(v, f, &what)) {
			snprintf(why, whylen, "field '%s' %s", f->name, what);
			return ERR_INVALID_REQUEST;
		}
	}
	return OK;
}

const char *
form_str(struct json_object *body, const char *name)
{
	struct json_object *v;

	if (body == NULL || !json_object_object_get_ex(body, name, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

bool
form_bool(struct json_object *body, const char *name, bool dflt)
{
	struct json_object *v;

	if (body == NULL || !json_object_object_get_ex(body, name, &v) ||
	    !json_object_is_type(v, json_type_boolean))
		return dflt;
	return json_object_get_boolean(v);
}
