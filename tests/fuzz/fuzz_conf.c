/* fuzz_conf: any text as the configuration file (conf_load), which names
 * the line it refuses; a file it takes has at least one app, each of which
 * conf_app_find finds. */
#include <sys/mman.h>
#include <unistd.h>

#include "conf.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf *c = calloc(1, sizeof(*c));
	char path[64], err[512];
	size_t i;
	int fd;

	if (c == NULL || (fd = memfd_create("wxauth.conf", MFD_CLOEXEC)) == -1)
		abort();
	if (write(fd, data, size) != (ssize_t)size)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (conf_load(c, path, err, sizeof(err)) == 0) {
		for (i = 0; i < c->napps; i++)
			FUZZ_CHECK(conf_app_find(c, c->apps[i].appid) == &c->apps[i]);
		conf_cleanup(c);
	} else {
		FUZZ_CHECK(strlen(err) > 0 && strlen(err) < sizeof(err));
	}
	close(fd);
	free(c);
	return 0;
}
