/*
 * helpers.h - what the C unit tests share: the official vectors folder,
 * reading a vector file, and typed access to JSON members and hex. Include
 * after <cmocka.h>: the helpers fail the running test on a malformed vector.
 */
#ifndef WXAUTH_TEST_HELPERS_H
#define WXAUTH_TEST_HELPERS_H

#include <stddef.h>
#include <json-c/json.h>

/* The folder of ../shared/vectors' copies: $WXAUTH_VECTORS or tests/vectors. */
const char *vectors_dir(void);
/* The JSON of vectors_dir()/file; fails the test when it does not load. */
struct json_object *load_vectors(const char *file);
/* A string member, or NULL when missing or JSON null (any other type fails). */
const char *jstr(struct json_object *o, const char *name);
/* A boolean member that must be there. */
int jbool(struct json_object *o, const char *name);
/* hex decoded into out (at most outmax bytes); returns the length. */
size_t unhex(unsigned char *out, size_t outmax, const char *hex);

#endif
