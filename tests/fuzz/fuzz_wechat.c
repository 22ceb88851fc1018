/* fuzz_wechat: any text as an answer of WeChat's (wx_answer), with the
 * statuses it sends: an answer is a JSON object and an error of ours,
 * never a crash; what it takes for OK has no errcode of an error. */
#include <json-c/json.h>

#include "fuzz.h"
#include "wx.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const long statuses[] = {200, 500, 302};
	struct json_object *o;
	long code;
	char *s = fuzz_str(data, size);
	size_t i;
	enum err rc;

	for (i = 0; i < 3; i++) {
		rc = wx_answer(s, statuses[i], &code, &o);
		FUZZ_CHECK((rc == OK) == (o != NULL));
		if (rc == OK) {
			FUZZ_CHECK(statuses[i] == 200 && wx_errcode(code) == OK);
			FUZZ_CHECK(json_object_is_type(o, json_type_object));
			json_object_put(o);
		}
	}
	free(s);
	return 0;
}
