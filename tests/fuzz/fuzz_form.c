/* fuzz_form: a query string through form_query with the field kinds the
 * routes use, into buffers of every small size (the buffer ends where its
 * allocation does, for ASan), and the same input as a JSON body's values
 * through form_check. */
#include <json-c/json.h>

#include "form.h"
#include "fuzz.h"

static const struct field fields[] = {
	{"id", FT_STRING, FF_UUID, 36, 36},
	{"after", FT_INT, 0, 0, 999999999999999999LL},
	{"limit", FT_INT, 0, 1, 1000},
	{"name", FT_STRING, FF_TEXT, 1, 16},
	{"appid", FT_STRING, FF_TOKEN, 1, 64},
	{"all", FT_BOOL, 0, 0, 0},
	FIELDS_END
};

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fval v[FORM_MAX];
	struct json_object *o;
	char why[256], *q = fuzz_str(data, size), *buf;
	size_t cap;

	for (cap = 0; cap < 40; cap++) {
		if ((buf = malloc(cap ? cap : 1)) == NULL)
			abort();
		(void)form_query(q, fields, v, buf, cap, why, sizeof(why));
		free(buf);
	}
	if ((buf = malloc(512)) == NULL)
		abort();
	if (form_query(q, fields, v, buf, 512, why, sizeof(why)) == OK && v[0].set)
		FUZZ_CHECK(strlen(v[0].s) == 36);
	free(buf);
	if ((o = json_tokener_parse(q)) != NULL) {
		if (json_object_is_type(o, json_type_object))
			(void)form_check(o, fields, v, why, sizeof(why));
		json_object_put(o);
	}
	free(q);
	return 0;
}
