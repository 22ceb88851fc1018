/* fuzz_codec: the hand-written base64 and base64url codecs against
 * libsodium's, both ways: decoding any text, and encoding any bytes.
 * libsodium (1.0.18) decodes some bytes above 0x7f as if they were of the
 * alphabet ("\xad\xb4\xb4r" is 3 bytes to it); ours refuses every one, as
 * codec.h says, and only ASCII input is compared. */
#include <sodium.h>

#include "codec.h"
#include "fuzz.h"

static void
decode_both(const char *s, size_t n, int variant,
    int (*ours)(unsigned char *, size_t, size_t *, const char *, size_t))
{
	unsigned char a[1024], b[1024];
	size_t alen = 0, blen = 0;
	int ra, rb;

	size_t i;

	ra = ours(a, sizeof(a), &alen, s, n);
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] > 0x7f) {
			FUZZ_CHECK(ra != 0);
			return;
		}
	rb = sodium_base642bin(b, sizeof(b), s, n, NULL, &blen, NULL, variant);
	FUZZ_CHECK((ra == 0) == (rb == 0));
	if (ra == 0)
		FUZZ_CHECK(alen == blen && memcmp(a, b, alen) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char ours[1500], theirs[1500];
	char *s;

	if (size > 700)
		return 0;
	s = fuzz_str(data, size);
	decode_both(s, size, sodium_base64_VARIANT_URLSAFE_NO_PADDING, codec_unb64url);
	decode_both(s, size, sodium_base64_VARIANT_ORIGINAL, codec_unb64);
	FUZZ_CHECK(codec_b64url(ours, sizeof(ours), data, size) == 0);
	sodium_bin2base64(theirs, sizeof(theirs), data, size,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	FUZZ_CHECK(strcmp(ours, theirs) == 0);
	FUZZ_CHECK(codec_b64(ours, sizeof(ours), data, size) == 0);
	sodium_bin2base64(theirs, sizeof(theirs), data, size, sodium_base64_VARIANT_ORIGINAL);
	FUZZ_CHECK(strcmp(ours, theirs) == 0);
	free(s);
	return 0;
}
