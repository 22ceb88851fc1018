/*
 * form.c - declarative checks of request bodies.
 */
#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "codec.h"
#include "form.h"
#include "utf8.h"

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
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	size_t points = 0, n;
	unsigned cp;

	while (p < end) {
		if ((n = utf8_next(p, (size_t)(end - p), &cp)) == 0)
			return false;
		p += n;
		if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0) ||
		    cp == 0x2028 || cp == 0x2029)
			return false;
		points++;
	}
	return points >= min && points <= max;
}

static bool
uuid_ok(const char *s, size_t len)
{
	size_t i;

	if (len != 36)
		return false;
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!isxdigit((unsigned char)s[i])) {
			return false;
		}
	}
	return true;
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

/* check_string: s (len bytes, NUL-free) against f's bounds and flags. */
static bool
check_string(const char *s, size_t len, const struct field *f, const char **what)
{
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
	if ((f->flags & FF_UUID) && !uuid_ok(s, len)) {
		*what = "must be an id (8-4-4-4-12 hex digits)";
		return false;
	}
	return true;
}

static bool
check_int(long long n, const struct field *f, const char **what)
{
	if (n < f->min || n > f->max) {
		*what = "is out of range";
		return false;
	}
	return true;
}

static bool
check_one(struct json_object *v, const struct field *f, struct fval *out,
    const char **what)
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
		out->s = s;
		return check_string(s, len, f, what);
	case FT_BOOL:
		if (!json_object_is_type(v, json_type_boolean)) {
			*what = "must be true or false";
			return false;
		}
		out->b = json_object_get_boolean(v);
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
		out->n = n;
		return check_int(n, f, what);
	}
	*what = "has an unknown type";
	return false;
}

enum err
form_check(struct json_object *body, const struct field *fields,
    struct fval vals[FORM_MAX], char *why, size_t whylen)
{
	const struct field *f;
	struct json_object *v;
	const char *what = NULL;
	size_t i;

	memset(vals, 0, sizeof(struct fval) * FORM_MAX);
	for (i = 0, f = fields; f->name != NULL; f++, i++) {
		assert(i < FORM_MAX);
		if (body == NULL || !json_object_object_get_ex(body, f->name, &v) ||
		    v == NULL) {
			if (f->flags & FF_REQUIRED) {
				snprintf(why, whylen, "field '%s' is required", f->name);
				return ERR_INVALID_REQUEST;
			}
			continue;
		}
		if (!check_one(v, f, &vals[i], &what)) {
			snprintf(why, whylen, "field '%s' %s", f->name, what);
			return ERR_INVALID_REQUEST;
		}
		vals[i].set = true;
	}
	return OK;
}

/*
 * decode: the %-encoded value p..end into out, NUL-terminated. Returns its
 * length, or -1 when malformed, too long, or holding a control character.
 */
static long
decode(const char *p, const char *end, char *out, size_t outlen)
{
	size_t o = 0;
	int hi, lo, c;

	if (outlen == 0)
		return -1;      /* not even the NUL fits */
	for (; p < end; p++) {
		c = (unsigned char)*p;
		if (c == '%') {
			if (end - p < 3 || (hi = codec_hexval(p[1])) < 0 ||
			    (lo = codec_hexval(p[2])) < 0)
				return -1;
			c = hi * 16 + lo;
			p += 2;
		} else if (c == '+') {
			c = ' ';
		}
		if (c < 0x20 || c == 0x7f || o + 1 >= outlen)
			return -1;
		out[o++] = (char)c;
	}
	out[o] = '\0';
	return (long)o;
}

/* query_one: parameter f (the index i) from the value p..end. */
static bool
query_one(const char *p, const char *end, const struct field *f, struct fval *v,
    char **buf, size_t *left, const char **what)
{
	long len;

	if (v->set) {
		*what = "is given twice";
		return false;
	}
	if ((len = decode(p, end, *buf, *left)) == -1) {
		*what = "is malformed or too long";
		return false;
	}
	v->set = true;
	v->s = *buf;
	*buf += len + 1;
	*left -= (size_t)len + 1;
	switch (f->type) {
	case FT_STRING:
		if (!form_text_ok(v->s, (size_t)len, 0, (size_t)-1)) {
			*what = "must be valid UTF-8 without control characters";
			return false;
		}
		return check_string(v->s, (size_t)len, f, what);
	case FT_INT:
		if (!numstr(v->s, &v->n)) {
			*what = "must be a number";
			return false;
		}
		return check_int(v->n, f, what);
	case FT_BOOL:
		if (strcmp(v->s, "true") != 0 && strcmp(v->s, "false") != 0) {
			*what = "must be true or false";
			return false;
		}
		v->b = v->s[0] == 't';
		return true;
	}
	*what = "has an unknown type";
	return false;
}

enum err
form_query(const char *query, const struct field *fields, struct fval vals[FORM_MAX],
    char *buf, size_t buflen, char *why, size_t whylen)
{
	const struct field *f;
	const char *q = query, *end, *eq, *what = NULL;
	size_t i, nlen;

	memset(vals, 0, sizeof(struct fval) * FORM_MAX);
	for (; *q != '\0'; q = *end == '&' ? end + 1 : end) {
		end = q + strcspn(q, "&");
		if ((eq = memchr(q, '=', (size_t)(end - q))) == NULL)
			continue;
		nlen = (size_t)(eq - q);
		for (i = 0, f = fields; f->name != NULL; f++, i++) {
			assert(i < FORM_MAX);
			if (strlen(f->name) != nlen || strncmp(q, f->name, nlen) != 0)
				continue;
			if (!query_one(eq + 1, end, f, &vals[i], &buf, &buflen, &what)) {
				snprintf(why, whylen, "parameter '%s' %s", f->name, what);
				return ERR_INVALID_REQUEST;
			}
			break;
		}
	}
	for (i = 0, f = fields; f->name != NULL; f++, i++) {
		if ((f->flags & FF_REQUIRED) && !vals[i].set) {
			snprintf(why, whylen, "parameter '%s' is required", f->name);
			return ERR_INVALID_REQUEST;
		}
	}
	return OK;
}

bool
form_value(const char *s, const struct field *f)
{
	const char *what;

	return f->type == FT_STRING && check_string(s, strlen(s), f, &what);
}
