/* What an avatar upload may be (app/base/image.c): whole PNG, JPEG and WebP
 * files, and nothing that only starts like one. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "codec.h"
#include "image.h"

/* A 1x1 PNG (RGBA), as any encoder writes it. */
static const char PNG_B64[] =
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";

/* A JPEG's skeleton: SOI, SOF0 of 1x1, SOS, a byte of scan, EOI. */
static const unsigned char JPEG[] = {
	0xff, 0xd8, 0xff, 0xe0, 0x00, 0x04, 'J', 'F',
	0xff, 0xc0, 0x00, 0x0b, 0x08, 0x00, 0x01, 0x00, 0x01, 0x01, 0x01, 0x11, 0x00,
	0xff, 0xda, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3f, 0x00,
	0x12, 0xff, 0xd9
};

static size_t
png(unsigned char *out, size_t max)
{
	size_t n = 0;

	assert_int_equal(codec_unb64(out, max, &n, PNG_B64, strlen(PNG_B64)), 0);
	return n;
}

static size_t
webp(unsigned char *out, size_t payload)
{
	size_t n = 20 + payload;

	memcpy(out, "RIFF", 4);
	out[4] = (unsigned char)((n - 8) & 0xff);
	out[5] = (unsigned char)((n - 8) >> 8);
	out[6] = out[7] = 0;
	memcpy(out + 8, "WEBPVP8L", 8);
	out[16] = (unsigned char)payload;
	out[17] = out[18] = out[19] = 0;
	memset(out + 20, 0x2f, payload);
	return n;
}

static void
test_whole_images(void **state)
{
	unsigned char b[256];
	size_t n;

	(void)state;
	n = png(b, sizeof(b));
	assert_string_equal(image_type(b, n), "image/png");
	assert_string_equal(image_type(JPEG, sizeof(JPEG)), "image/jpeg");
	n = webp(b, 10);
	assert_string_equal(image_type(b, n), "image/webp");
}

static void
test_what_only_starts_like_one(void **state)
{
	unsigned char b[256];
	const char *svg = "<svg xmlns=\"http://www.w3.org/2000/svg\"><script>x</script></svg>";
	size_t n, i;

	(void)state;
	assert_null(image_type(NULL, 0));
	assert_null(image_type((const unsigned char *)"", 0));
	assert_null(image_type((const unsigned char *)svg, strlen(svg)));
	/* A PNG signature on garbage. */
	memcpy(b, "\x89PNG\r\n\x1a\n", 8);
	memset(b + 8, 'A', 100);
	assert_null(image_type(b, 108));
	/* Every byte of a good PNG matters: one changed, one more, one fewer. */
	n = png(b, sizeof(b));
	for (i = 8; i < n; i++) {
		b[i] ^= 0x01;
		if (image_type(b, n) != NULL)
			fail_msg("a PNG changed at byte %zu passed", i);
		b[i] ^= 0x01;
	}
	b[n] = 0;
	assert_null(image_type(b, n + 1));
	assert_null(image_type(b, n - 1));
	/* A JPEG without its end, without a frame header. */
	assert_null(image_type(JPEG, sizeof(JPEG) - 1));
	memcpy(b, JPEG, sizeof(JPEG));
	b[9] = 0xe1;                    /* SOF0 -> APP1 */
	assert_null(image_type(b, sizeof(JPEG)));
	memcpy(b, JPEG, 8);
	memcpy(b + 8, "\xff\xd9", 2);
	assert_null(image_type(b, 10));
	/* A WebP whose RIFF size is not the file's, or of another kind. */
	n = webp(b, 10);
	assert_null(image_type(b, n - 1));
	memcpy(b + 12, "XXXX", 4);
	assert_null(image_type(b, n));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_whole_images),
		cmocka_unit_test(test_what_only_starts_like_one),
	};

	return cmocka_run_group_tests_name("image", tests, NULL, NULL);
}
