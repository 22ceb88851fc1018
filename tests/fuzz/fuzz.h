/*
 * fuzz.h - what the libFuzzer targets of tests/fuzz share. Each target is
 * one file, fuzz_NAME.c, built by `make fuzzbins` with clang's libFuzzer,
 * ASan and UBSan into build-fuzz/fuzz_NAME; its seed corpus is
 * tests/fuzz/corpus/NAME. A crash, a sanitizer report or a failed check
 * (FUZZ_CHECK: two readers that disagree) is a finding: the run fails.
 */
#ifndef WXAUTH_FUZZ_H
#define WXAUTH_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond) do { \
	if (!(cond)) { \
		fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
		abort(); \
	} \
} while (0)

/* fuzz_str: data as a NUL-terminated string (malloc'd: ASan sees its end). */
static inline char *
fuzz_str(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s == NULL)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

#endif
