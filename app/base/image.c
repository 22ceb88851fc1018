/*
 * image.c - recognising an uploaded image by its structure (image.h). Only
 * what a browser or WeChat's <image> would take is let through; nothing is
 * decoded beyond the headers.
 */
#include <stdint.h>
#include <string.h>

#include "image.h"

static uint32_t
be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint32_t
le32(const unsigned char *p)
{
	return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* crc32: the CRC of PNG chunks (ISO 3309, reflected 0xedb88320). */
static uint32_t
crc32(const unsigned char *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	size_t i;
	int k;

	for (i = 0; i < n; i++) {
		c ^= p[i];
		for (k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
	}
	return c ^ 0xffffffffu;
}

static int
is_png(const unsigned char *b, size_t n)
{
	size_t at = 8, len;
	int first = 1;

	if (n < 8 || memcmp(b, "\x89PNG\r\n\x1a\n", 8) != 0)
		return 0;
	for (;;) {
		if (n - at < 12)
			return 0;
		len = be32(b + at);
		if (len > n - at - 12)
			return 0;
		if (crc32(b + at + 4, len + 4) != be32(b + at + 8 + len))
			return 0;
		if (first && (memcmp(b + at + 4, "IHDR", 4) != 0 || len != 13 ||
		    be32(b + at + 8) == 0 || be32(b + at + 12) == 0))
			return 0;
		first = 0;
		if (memcmp(b + at + 4, "IEND", 4) == 0)
			return at + 12 + len == n;
		at += 12 + len;
	}
}

static int
is_jpeg(const unsigned char *b, size_t n)
{
	size_t at = 2, len;
	int frame = 0;

	if (n < 4 || b[0] != 0xff || b[1] != 0xd8 || b[n - 2] != 0xff || b[n - 1] != 0xd9)
		return 0;
	/* Segments up to the start of scan; the entropy-coded data after it
	 * is not parsed, only its end (EOI) checked above. */
	while (n - at >= 4) {
		if (b[at] != 0xff)
			return 0;
		if (b[at + 1] == 0xff) {        /* fill byte */
			at++;
			continue;
		}
		len = (size_t)b[at + 2] << 8 | b[at + 3];
		if (len < 2 || len > n - at - 2)
			return 0;
		/* SOF0..SOF15 but DHT (c4), JPG (c8) and DAC (cc): P, Y, X. */
		if (b[at + 1] >= 0xc0 && b[at + 1] <= 0xcf && b[at + 1] != 0xc4 &&
		    b[at + 1] != 0xc8 && b[at + 1] != 0xcc) {
			if (len < 8 || (b[at + 5] == 0 && b[at + 6] == 0) ||
			    (b[at + 7] == 0 && b[at + 8] == 0))
				return 0;
			frame = 1;
		}
		if (b[at + 1] == 0xda)          /* SOS */
			return frame;
		at += 2 + len;
	}
	return 0;
}

static int
is_webp(const unsigned char *b, size_t n)
{
	if (n < 20 || memcmp(b, "RIFF", 4) != 0 || memcmp(b + 8, "WEBP", 4) != 0)
		return 0;
	if (le32(b + 4) != n - 8)
		return 0;
	if (memcmp(b + 12, "VP8 ", 4) != 0 && memcmp(b + 12, "VP8L", 4) != 0 &&
	    memcmp(b + 12, "VP8X", 4) != 0)
		return 0;
	return le32(b + 16) > 0 && le32(b + 16) <= n - 20;
}

const char *
image_type(const unsigned char *b, size_t n)
{
	if (b == NULL)
		return NULL;
	if (is_png(b, n))
		return "image/png";
	if (is_jpeg(b, n))
		return "image/jpeg";
	if (is_webp(b, n))
		return "image/webp";
	return NULL;
}
