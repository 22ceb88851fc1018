/* fuzz_route: any method and path through the route table; a route found
 * has its own method, and a '*' segment fits the buffer. */
#include "fuzz.h"
#include "route.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char param[64], *path;
	enum route rt = R__MAX;
	enum err rc;

	if (size == 0)
		return 0;
	path = fuzz_str(data + 1, size - 1);
	rc = route_find((enum method)(data[0] % (M_OTHER + 1)), path, &rt, param, sizeof(param));
	FUZZ_CHECK(rc == OK || rc == ERR_NOT_FOUND || rc == ERR_METHOD_NOT_ALLOWED);
	if (rc == OK)
		FUZZ_CHECK(rt < R__MAX && strlen(param) < sizeof(param));
	free(path);
	return 0;
}
