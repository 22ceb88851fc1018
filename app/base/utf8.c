/*
 * utf8.c - the well-formed UTF-8 sequences of RFC 3629, table 3-7 of the
 * Unicode standard: the second byte's range depends on the first.
 */
#include "utf8.h"

size_t
utf8_next(const unsigned char *p, size_t n, unsigned *cp)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t k, need;
	unsigned v;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		need = 1;
		v = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 2;
		v = c & 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3;
		v = c & 0x07;
	} else {
		return 0;
	}
	if (c == 0xe0)
		lo = 0xa0;      /* overlong */
	else if (c == 0xed)
		hi = 0x9f;      /* surrogates */
	else if (c == 0xf0)
		lo = 0x90;      /* overlong */
	else if (c == 0xf4)
		hi = 0x8f;      /* above U+10FFFF */
	if (n < need + 1 || p[1] < lo || p[1] > hi)
		return 0;
	for (k = 1; k <= need; k++) {
		if (p[k] < 0x80 || p[k] > 0xbf)
			return 0;
		v = (v << 6) | (p[k] & 0x3f);
	}
	*cp = v;
	return need + 1;
}

bool
utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;
	unsigned cp;

	while (i < len) {
		if ((k = utf8_next(p + i, len - i, &cp)) == 0)
			return false;
		i += k;
	}
	return true;
}
