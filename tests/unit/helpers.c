/* helpers.c - see helpers.h. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sodium.h>

#include "helpers.h"

const char *
vectors_dir(void)
{
	const char *d = getenv("WXAUTH_VECTORS");

	return d != NULL && d[0] != '\0' ? d : "tests/vectors";
}

struct json_object *
load_vectors(const char *file)
{
	char path[1024];
	struct json_object *o;
	int n;

	n = snprintf(path, sizeof path, "%s/%s", vectors_dir(), file);
	assert_true(n > 0 && (size_t)n < sizeof path);
	o = json_object_from_file(path);
	if (o == NULL)
		fail_msg("cannot read %s (set WXAUTH_VECTORS): %s", path,
		    json_util_get_last_err());
	return o;
}

const char *
jstr(struct json_object *o, const char *name)
{
	struct json_object *v = NULL;

	if (!json_object_object_get_ex(o, name, &v) || v == NULL)
		return NULL;
	assert_true(json_object_is_type(v, json_type_string));
	return json_object_get_string(v);
}

int
jbool(struct json_object *o, const char *name)
{
	struct json_object *v = NULL;

	assert_true(json_object_object_get_ex(o, name, &v));
	assert_true(json_object_is_type(v, json_type_boolean));
	return json_object_get_boolean(v);
}

size_t
unhex(unsigned char *out, size_t outmax, const char *hex)
{
	size_t n = 0;

	assert_int_equal(sodium_hex2bin(out, outmax, hex, strlen(hex), NULL, &n,
	    NULL), 0);
	return n;
}
