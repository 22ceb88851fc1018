/* fuzz_json: a request body through http_parse_json (jstrict, then json-c)
 * and, when it is an object, the field checks of a real route. jstrict's
 * verdict must agree with json-c: what it calls JSON, json-c parses. */
#include <json-c/json.h>

#include "form.h"
#include "fuzz.h"
#include "http.h"
#include "jstrict.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct field fields[] = {
		{"appid", FT_STRING, FF_TOKEN, 1, 64},
		{"code", FT_STRING, FF_REQUIRED | FF_TOKEN, 1, 128},
		{"nickname", FT_STRING, FF_TEXT, 1, 64},
		{"n", FT_INT, FF_NUMSTR, 0, 1000},
		{"all", FT_BOOL, 0, 0, 0},
		FIELDS_END
	};
	struct req r;
	struct fval in[FORM_MAX];
	char key[64], why[256];
	enum jstrict js;
	enum err rc;

	memset(&r, 0, sizeof(r));
	r.body = malloc(size + 1);
	if (r.body == NULL)
		return 0;
	memcpy(r.body, data, size);
	r.body[size] = '\0';
	r.body_len = size;
	js = jstrict_check(r.body, size, key, sizeof(key));
	rc = http_parse_json(&r, 0);
	FUZZ_CHECK(strlen(key) < sizeof(key));
	if (js == JS_SYNTAX)
		FUZZ_CHECK(rc == ERR_INVALID_JSON && r.json == NULL);
	if (rc == OK) {
		FUZZ_CHECK(js == JS_OK && r.json != NULL);
		(void)form_check(r.json, fields, in, why, sizeof(why));
		FUZZ_CHECK(strlen(why) < sizeof(why));
	}
	http_req_cleanup(&r);
	return 0;
}
