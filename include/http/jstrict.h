/*
 * jstrict.h - is a request body JSON as RFC 8259 defines it, whatever the
 * parser behind it lets through? json-c's strict mode still takes numbers
 * with leading zeros or a bare dot, raw control characters in strings,
 * single quotes, NaN and Infinity, and its UTF-8 check takes overlong
 * forms, encoded surrogates and code points above U+10FFFF. This scanner
 * reads the body once, allocates nothing and recurses at most
 * JSTRICT_DEPTH levels; json-c parses only what it accepts.
 */
#ifndef WXAUTH_JSTRICT_H
#define WXAUTH_JSTRICT_H

#include <stddef.h>

#define JSTRICT_DEPTH 16

enum jstrict {
	JS_OK,
	JS_SYNTAX,      /* not JSON: grammar, numbers, controls, depth */
	JS_UTF8,        /* JSON, but a string is not valid UTF-8 */
	JS_SURROGATE    /* JSON, but an escape is a lone surrogate */
};

/*
 * jstrict_check: the verdict on len bytes at b (one value, white space
 * around it). For JS_SURROGATE, key receives the top-level member the
 * escape is in, when that member's name is plain (letters, digits, '_')
 * and the escape is in its value; "" otherwise.
 */
enum jstrict jstrict_check(const char *b, size_t len, char *key, size_t keylen);

#endif
