/*
 * utf8.h - UTF-8 as RFC 3629 defines it (shortest form, no surrogates,
 * nothing above U+10FFFF): the one reader of it that the config file
 * (conf.c), the field checks (form.c) and the JSON scanner (jstrict.c) use.
 */
#ifndef WXAUTH_UTF8_H
#define WXAUTH_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* utf8_next: the length (1 to 4) of the well-formed sequence at p, n > 0
 * bytes left, with *cp its code point; 0 when there is none. */
size_t utf8_next(const unsigned char *p, size_t n, unsigned *cp);

/* utf8_valid: s[0..len) is well-formed UTF-8 throughout. */
bool utf8_valid(const char *s, size_t len);

#endif
