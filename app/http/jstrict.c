/*
 * jstrict.c - RFC 8259's grammar, checked by recursive descent over the
 * bytes (jstrict.h). A syntax error ends the scan; a string that is not
 * valid Unicode is remembered (the first one) and the scan goes on, since
 * a syntax error later still makes the whole body not JSON.
 */
#include <stdio.h>
#include <string.h>

#include "codec.h"
#include "jstrict.h"
#include "utf8.h"

struct scan {
	const unsigned char *b;
	size_t len, i;
	enum jstrict soft;      /* the first JS_UTF8 or JS_SURROGATE seen */
	char *key;              /* where a JS_SURROGATE's member goes */
	size_t keylen;
	char member[64];        /* the top-level member being read, "" if not plain */
};

static int value(struct scan *s, int depth);

static void
ws(struct scan *s)
{
	while (s->i < s->len && (s->b[s->i] == ' ' || s->b[s->i] == '\t' ||
	    s->b[s->i] == '\n' || s->b[s->i] == '\r'))
		s->i++;
}

static int
at(const struct scan *s, unsigned char c)
{
	return s->i < s->len && s->b[s->i] == c;
}

static int
hex4(const unsigned char *p, unsigned *out)
{
	unsigned v = 0;
	int k, d;

	for (k = 0; k < 4; k++) {
		if ((d = codec_hexval(p[k])) < 0)
			return -1;
		v = v * 16 + (unsigned)d;
	}
	*out = v;
	return 0;
}

static void
soft(struct scan *s, enum jstrict what, int in_member)
{
	if (s->soft != JS_OK)
		return;
	s->soft = what;
	if (what == JS_SURROGATE && in_member && s->keylen > 0)
		(void)snprintf(s->key, s->keylen, "%s", s->member);
}

/* string: one string at s->i (its quote); name, when not NULL, receives it
 * if it is a plain name that fits (else ""). in_member: a value of a
 * top-level member (a lone surrogate in it is blamed on that member). */
static int
string(struct scan *s, char *name, size_t namelen, int in_member)
{
	size_t start = s->i + 1, n;
	unsigned u, lo, cp;
	int plain = 1;
	unsigned char c;

	s->i++;
	for (;;) {
		if (s->i >= s->len)
			return -1;
		c = s->b[s->i];
		if (c == '"')
			break;
		if (c < 0x20)
			return -1;      /* a raw control character */
		if (c == '\\') {
			plain = 0;
			if (s->i + 1 >= s->len)
				return -1;
			c = s->b[s->i + 1];
			if (c != 'u') {
				if (strchr("\"\\/bfnrt", c) == NULL || c == '\0')
					return -1;
				s->i += 2;
				continue;
			}
			if (s->i + 6 > s->len || hex4(s->b + s->i + 2, &u) == -1)
				return -1;
			s->i += 6;
			if (u >= 0xd800 && u <= 0xdbff && s->i + 6 <= s->len &&
			    s->b[s->i] == '\\' && s->b[s->i + 1] == 'u' &&
			    hex4(s->b + s->i + 2, &lo) == 0 && lo >= 0xdc00 && lo <= 0xdfff)
				s->i += 6;      /* a pair */
			else if (u >= 0xd800 && u <= 0xdfff)
				soft(s, JS_SURROGATE, in_member);
			continue;
		}
		if ((n = utf8_next(s->b + s->i, s->len - s->i, &cp)) == 0) {
			soft(s, JS_UTF8, in_member);
			n = 1;
		}
		if (!(c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		    (c >= 'A' && c <= 'Z')))
			plain = 0;
		s->i += n;
	}
	if (name != NULL) {
		n = s->i - start;
		if (plain && n > 0 && n < namelen) {
			memcpy(name, s->b + start, n);
			name[n] = '\0';
		} else {
			name[0] = '\0';
		}
	}
	s->i++;
	return 0;
}

static int
digits(struct scan *s)
{
	size_t from = s->i;

	while (s->i < s->len && s->b[s->i] >= '0' && s->b[s->i] <= '9')
		s->i++;
	return s->i > from ? 0 : -1;
}

/* number: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static int
number(struct scan *s)
{
	if (at(s, '-'))
		s->i++;
	if (at(s, '0'))
		s->i++;
	else if (!(s->i < s->len && s->b[s->i] >= '1' && s->b[s->i] <= '9') || digits(s) == -1)
		return -1;
	if (at(s, '.')) {
		s->i++;
		if (digits(s) == -1)
			return -1;
	}
	if (at(s, 'e') || at(s, 'E')) {
		s->i++;
		if (at(s, '+') || at(s, '-'))
			s->i++;
		if (digits(s) == -1)
			return -1;
	}
	return 0;
}

static int
literal(struct scan *s, const char *word)
{
	size_t n = strlen(word);

	if (s->len - s->i < n || memcmp(s->b + s->i, word, n) != 0)
		return -1;
	s->i += n;
	return 0;
}

/* members: an object's (after '{', white space read). */
static int
members(struct scan *s, int depth)
{
	if (at(s, '}'))
		return 0;
	for (;;) {
		if (!at(s, '"') || string(s, depth == 1 ? s->member : NULL,
		    sizeof(s->member), 0) == -1)
			return -1;
		ws(s);
		if (!at(s, ':'))
			return -1;
		s->i++;
		ws(s);
		if (value(s, depth) == -1)
			return -1;
		ws(s);
		if (at(s, '}'))
			return 0;
		if (!at(s, ','))
			return -1;
		s->i++;
		ws(s);
	}
}

static int
elements(struct scan *s, int depth)
{
	if (at(s, ']'))
		return 0;
	for (;;) {
		if (value(s, depth) == -1)
			return -1;
		ws(s);
		if (at(s, ']'))
			return 0;
		if (!at(s, ','))
			return -1;
		s->i++;
		ws(s);
	}
}

/* value: one value at s->i; depth: how many containers hold it. */
static int
value(struct scan *s, int depth)
{
	int rc;

	if (s->i >= s->len)
		return -1;
	switch (s->b[s->i]) {
	case '{':
	case '[':
		if (depth >= JSTRICT_DEPTH)
			return -1;
		s->i++;
		ws(s);
		rc = s->b[s->i - 1] == '{' ? members(s, depth + 1) : elements(s, depth + 1);
		if (rc == 0)
			s->i++;         /* the closing bracket */
		if (depth == 0)
			s->member[0] = '\0';
		return rc;
	case '"':
		return string(s, NULL, 0, depth == 1);
	case 't':
		return literal(s, "true");
	case 'f':
		return literal(s, "false");
	case 'n':
		return literal(s, "null");
	default:
		return number(s);
	}
}

enum jstrict
jstrict_check(const char *b, size_t len, char *key, size_t keylen)
{
	struct scan s;

	memset(&s, 0, sizeof(s));
	s.b = (const unsigned char *)b;
	s.len = len;
	s.key = key;
	s.keylen = keylen;
	if (keylen > 0)
		key[0] = '\0';
	ws(&s);
	if (value(&s, 0) == -1)
		return JS_SYNTAX;
	ws(&s);
	if (s.i != s.len)
		return JS_SYNTAX;
	return s.soft;
}
