/* fuzz_jsonw: the JSON writer against json-c: the input, cut into strings,
 * written as an object of string members and an array, must parse back
 * (json-c) to exactly those strings; a buffer too small says so, never
 * writes past its end. */
#include <json-c/json.h>

#include "fuzz.h"
#include "jsonw.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_object *o, *v, *a;
	struct jsonw w;
	char *s = fuzz_str(data, size), *cap, key[8];
	char *parts[8];
	size_t n = 0, i, k;
	long len;

	/* Up to 8 strings, cut at NUL bytes (jw takes C strings). */
	for (i = 0; i <= size && n < 8; ) {
		parts[n++] = s + i;
		i += strlen(s + i) + 1;
	}
	for (k = 0; k < 2; k++) {
		size_t capn = k == 0 ? 16 * size + 256 : size / 2 + 1;

		cap = malloc(capn);
		if (cap == NULL)
			abort();
		jsonw_init(&w, cap, capn);
		jsonw_open(&w, NULL, 0);
		for (i = 0; i < n; i++) {
			snprintf(key, sizeof(key), "k%zu", i);
			jsonw_str(&w, key, parts[i]);
		}
		jsonw_int(&w, "n", (int64_t)size * -7919);
		jsonw_open(&w, "a", 1);
		for (i = 0; i < n; i++)
			jsonw_str(&w, NULL, parts[i]);
		jsonw_close(&w);
		jsonw_close(&w);
		len = jsonw_end(&w);
		if (k == 1 && len < 0) {
			free(cap);
			continue;
		}
		FUZZ_CHECK(len >= 0 && (size_t)len < capn && cap[len] == '\0');
		o = json_tokener_parse(cap);
		FUZZ_CHECK(o != NULL && json_object_is_type(o, json_type_object));
		FUZZ_CHECK(json_object_object_get_ex(o, "a", &a));
		for (i = 0; i < n; i++) {
			/* jw writes null for an empty string. */
			snprintf(key, sizeof(key), "k%zu", i);
			FUZZ_CHECK(json_object_object_get_ex(o, key, &v));
			if (parts[i][0] == '\0') {
				FUZZ_CHECK(v == NULL);
				continue;
			}
			FUZZ_CHECK(v != NULL && strcmp(json_object_get_string(v), parts[i]) == 0);
			FUZZ_CHECK(strcmp(json_object_get_string(
			    json_object_array_get_idx(a, i)), parts[i]) == 0);
		}
		FUZZ_CHECK(json_object_object_get_ex(o, "n", &v) &&
		    json_object_get_int64(v) == (int64_t)size * -7919);
		json_object_put(o);
		free(cap);
	}
	free(s);
	return 0;
}
