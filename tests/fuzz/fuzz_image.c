/* fuzz_image: any bytes as an uploaded avatar (image_type). A type is
 * named only for bytes that begin as that type does; never more than a
 * refusal otherwise. */
#include "fuzz.h"
#include "image.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *b = malloc(size > 0 ? size : 1);
	const char *t;

	if (b == NULL)
		abort();
	if (size > 0)
		memcpy(b, data, size);
	t = image_type(b, size);
	if (t != NULL && strcmp(t, "image/png") == 0)
		FUZZ_CHECK(size >= 8 && memcmp(b, "\x89PNG", 4) == 0);
	if (t != NULL && strcmp(t, "image/jpeg") == 0)
		FUZZ_CHECK(size >= 4 && b[0] == 0xff && b[size - 1] == 0xd9);
	if (t != NULL && strcmp(t, "image/webp") == 0)
		FUZZ_CHECK(size >= 20 && memcmp(b, "RIFF", 4) == 0);
	free(b);
	return 0;
}
