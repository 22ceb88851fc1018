/*
 * test_codec.c - base64 (both alphabets) and hex: RFC 4648 known answers,
 * round trips, and everything the strict decoders must refuse.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "codec.h"

/* RFC 4648, section 10, in both alphabets. */
static const struct {
	const char *bin;
	const char *std;
	const char *url;
} rfc4648[] = {
	{"", "", ""},
	{"f", "Zg==", "Zg"},
	{"fo", "Zm8=", "Zm8"},
	{"foo", "Zm9v", "Zm9v"},
	{"foob", "Zm9vYg==", "Zm9vYg"},
	{"fooba", "Zm9vYmE=", "Zm9vYmE"},
	{"foobar", "Zm9vYmFy", "Zm9vYmFy"},
};

static void
test_known_answers(void **state)
{
	char out[64];
	unsigned char bin[64];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof rfc4648 / sizeof rfc4648[0]; i++) {
		const unsigned char *b = (const unsigned char *)rfc4648[i].bin;
		size_t blen = strlen(rfc4648[i].bin);

		assert_int_equal(codec_b64(out, sizeof out, b, blen), 0);
		assert_string_equal(out, rfc4648[i].std);
		assert_int_equal(codec_b64url(out, sizeof out, b, blen), 0);
		assert_string_equal(out, rfc4648[i].url);

		n = 99;
		assert_int_equal(codec_unb64(bin, sizeof bin, &n, rfc4648[i].std,
		    strlen(rfc4648[i].std)), 0);
		assert_int_equal(n, blen);
		assert_memory_equal(bin, b, blen);
		n = 99;
		assert_int_equal(codec_unb64url(bin, sizeof bin, &n, rfc4648[i].url,
		    strlen(rfc4648[i].url)), 0);
		assert_int_equal(n, blen);
		assert_memory_equal(bin, b, blen);
	}
}

/* The two alphabets differ in exactly two characters. */
static void
test_alphabets(void **state)
{
	static const unsigned char b[] = {0xfb, 0xff, 0xbf};
	unsigned char bin[8];
	char out[16];
	size_t n;

	(void)state;
	assert_int_equal(codec_b64(out, sizeof out, b, sizeof b), 0);
	assert_string_equal(out, "+/+/");
	assert_int_equal(codec_b64url(out, sizeof out, b, sizeof b), 0);
	assert_string_equal(out, "-_-_");

	assert_int_equal(codec_unb64url(bin, sizeof bin, &n, "-_-_", 4), 0);
	assert_memory_equal(bin, b, sizeof b);
	assert_int_equal(codec_unb64(bin, sizeof bin, &n, "+/+/", 4), 0);
	assert_memory_equal(bin, b, sizeof b);

	/* '+' and '/' are not base64url; '-' and '_' are not standard base64. */
	assert_int_equal(codec_unb64url(bin, sizeof bin, &n, "+/+/", 4), -1);
	assert_int_equal(codec_unb64url(bin, sizeof bin, &n, "-_+_", 4), -1);
	assert_int_equal(codec_unb64url(bin, sizeof bin, &n, "-_-/", 4), -1);
	assert_int_equal(codec_unb64(bin, sizeof bin, &n, "-_-_", 4), -1);
	assert_int_equal(codec_unb64(bin, sizeof bin, &n, "+/+_", 4), -1);
}

static void
test_round_trip(void **state)
{
	unsigned char in[300], bin[300];
	char out[512];
	size_t len, n;

	(void)state;
	for (len = 0; len <= sizeof in; len++) {
		randombytes_buf(in, len);

		assert_int_equal(codec_b64url(out, sizeof out, in, len), 0);
		/* CODEC_B64URL_LEN is exact, NUL included. */
		assert_int_equal(strlen(out) + 1, CODEC_B64URL_LEN(len));
		assert_null(strchr(out, '='));
		assert_int_equal(codec_unb64url(bin, sizeof bin, &n, out, strlen(out)), 0);
		assert_int_equal(n, len);
		assert_memory_equal(bin, in, len);

		assert_int_equal(codec_b64(out, sizeof out, in, len), 0);
		assert_int_equal(strlen(out), (len + 2) / 3 * 4);
		assert_int_equal(codec_unb64(bin, sizeof bin, &n, out, strlen(out)), 0);
		assert_int_equal(n, len);
		assert_memory_equal(bin, in, len);
	}
}

/* No whitespace anywhere: ignore = NULL in both decoders. */
static void
test_rejects_spaces(void **state)
{
	static const char *url[] = {
		"Zm9v Yg", " Zm9vYg", "Zm9vYg ", "Zm9vYg\n", "Zm9v\nYg", "Zm9v\tYg",
		"Zm9v\rYg", "\nZm9vYg",
	};
	static const char *std[] = {
		"Zm9v Yg==", " Zm9vYg==", "Zm9vYg== ", "Zm9vYg==\n", "Zm9v\nYg==",
		"Zm9vYg= =", "Zm9vYg=\n=", "Zm9v\r\nYg==",
	};
	unsigned char bin[32];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof url / sizeof url[0]; i++)
		assert_int_equal(codec_unb64url(bin, sizeof bin, &n, url[i],
		    strlen(url[i])), -1);
	for (i = 0; i < sizeof std / sizeof std[0]; i++)
		assert_int_equal(codec_unb64(bin, sizeof bin, &n, std[i],
		    strlen(std[i])), -1);
}

static void
test_padding(void **state)
{
	unsigned char bin[32];
	size_t n;

	(void)state;
	/* base64url here is unpadded: any '=' is refused. */
	assert_int_equal(codec_unb64url(bin, sizeof bin, &n, "Zm9vYg==", 8), -1);
	assert_int_equal(codec_unb64url(bin, sizeof bin, &n, "Zm9vYg=", 7), -1);
	assert_int_equal(codec_unb64url(bin, sizeof bin, &n, "Zm9v=", 5), -1);
	assert_int_equal(codec_unb64url(bin, sizeof bin, &n, "=", 1), -1);
	/* Standard base64 is padded: missing, short or extra padding fails. */
	assert_int_equal(codec_unb64(bin, sizeof bin, &n, "Zm9vYg", 6), -1);
	assert_int_equal(codec_unb64(bin, sizeof bin, &n, "Zm9vYg=", 7), -1);
	assert_int_equal(codec_unb64(bin, sizeof bin, &n, "Zm9vYg===", 9), -1);
	assert_int_equal(codec_unb64(bin, sizeof bin, &n, "Zm9vYmE", 7), -1);
	assert_int_equal(codec_unb64(bin, sizeof bin, &n, "Zm9vYmE==", 9), -1);
	assert_int_equal(codec_unb64(bin, sizeof bin, &n, "Zm9v=", 5), -1);
	assert_int_equal(codec_unb64(bin, sizeof bin, &n, "Zm9v====", 8), -1);
	assert_int_equal(codec_unb64(bin, sizeof bin, &n, "Zg==Zg==", 8), -1);
	assert_int_equal(codec_unb64(bin, sizeof bin, &n, "=", 1), -1);
	/* And the right padding is accepted. */
	assert_int_equal(codec_unb64(bin, sizeof bin, &n, "Zm9vYg==", 8), 0);
	assert_int_equal(n, 4);
	assert_int_equal(codec_unb64(bin, sizeof bin, &n, "Zm9vYmE=", 8), 0);
	assert_int_equal(n, 5);
}

/* Lengths no encoder produces, and non-zero spare bits (non-canonical). */
static void
test_bad_lengths_and_bits(void **state)
{
	unsigned char bin[32];
	size_t n;

	(void)state;
	assert_int_equal(codec_unb64url(bin, sizeof bin, &n, "Z", 1), -1);
	assert_int_equal(codec_unb64url(bin, sizeof bin, &n, "Zm9vY", 5), -1);
	assert_int_equal(codec_unb64(bin, sizeof bin, &n, "Z===", 4), -1);
	/* "Zg" is 'f'; "Zh" has a spare bit set. */
	assert_int_equal(codec_unb64url(bin, sizeof bin, &n, "Zh", 2), -1);
	assert_int_equal(codec_unb64(bin, sizeof bin, &n, "Zh==", 4), -1);
	assert_int_equal(codec_unb64url(bin, sizeof bin, &n, "Zm9", 3), -1);
	assert_int_equal(codec_unb64url(bin, sizeof bin, &n, "Zm8", 3), 0);
	/* Characters outside both alphabets, NUL and high bytes included. */
	assert_int_equal(codec_unb64url(bin, sizeof bin, &n, "Zm\0v", 4), -1);
	assert_int_equal(codec_unb64url(bin, sizeof bin, &n, "Zm9\xc3", 4), -1);
	assert_int_equal(codec_unb64(bin, sizeof bin, &n, "Zm9\xc3", 4), -1);
	assert_int_equal(codec_unb64url(bin, sizeof bin, &n, "Zm9.", 4), -1);
	assert_int_equal(codec_unb64(bin, sizeof bin, &n, "Zm9*", 4), -1);
	/* Only len characters are read; a longer string is not trailing data. */
	assert_int_equal(codec_unb64url(bin, sizeof bin, &n, "Zm9vXXXX", 4), 0);
	assert_int_equal(n, 3);
	assert_int_equal(codec_unb64url(bin, sizeof bin, &n, NULL, 0), -1);
	/* The empty string is the encoding of nothing. */
	n = 7;
	assert_int_equal(codec_unb64url(bin, sizeof bin, &n, "", 0), 0);
	assert_int_equal(n, 0);
}

/*
 * Every byte with the high bit set, in every position of two groups:
 * libsodium 1.0.18 alone accepts most of them (it reads input as signed char).
 */
static void
test_rejects_high_bytes(void **state)
{
	unsigned char bin[32];
	char s[9];
	size_t n;
	int c, pos;

	(void)state;
	for (c = 0x80; c <= 0xff; c++) {
		for (pos = 0; pos < 8; pos++) {
			memcpy(s, "Zm9vYmFy", sizeof s);
			s[pos] = (char)c;
			assert_int_equal(codec_unb64url(bin, sizeof bin, &n, s, 8), -1);
			assert_int_equal(codec_unb64(bin, sizeof bin, &n, s, 8), -1);
		}
	}
}

static void
test_small_buffers(void **state)
{
	static const unsigned char b[] = "foobar";
	unsigned char bin[8];
	char out[16];
	size_t n = 42;

	(void)state;
	/* "Zm9vYmE" needs 8 bytes with the NUL; "Zm9vYmE=" needs 9. */
	assert_int_equal(codec_b64url(out, 7, b, 5), -1);
	assert_int_equal(codec_b64url(out, 8, b, 5), 0);
	assert_string_equal(out, "Zm9vYmE");
	assert_int_equal(codec_b64(out, 8, b, 5), -1);
	assert_int_equal(codec_b64(out, 9, b, 5), 0);
	assert_string_equal(out, "Zm9vYmE=");
	assert_int_equal(codec_b64url(out, 0, b, 0), -1);
	assert_int_equal(codec_b64url(out, 1, b, 0), 0);
	assert_string_equal(out, "");

	assert_int_equal(codec_unb64url(bin, 4, &n, "Zm9vYmE", 7), -1);
	assert_int_equal(n, 0);
	assert_int_equal(codec_unb64url(bin, 5, &n, "Zm9vYmE", 7), 0);
	assert_int_equal(n, 5);
	assert_int_equal(codec_unb64(bin, 5, &n, "Zm9vYmFy", 8), -1);
	assert_int_equal(codec_unb64(bin, 6, &n, "Zm9vYmFy", 8), 0);
	assert_int_equal(n, 6);
	assert_int_equal(codec_unb64(bin, 0, &n, "Zg==", 4), -1);
}

static void
test_hex(void **state)
{
	static const unsigned char b[] = {0x00, 0x01, 0xab, 0xcd, 0xef, 0xff, 0x7f};
	char out[2 * sizeof b + 1];

	(void)state;
	memset(out, 'x', sizeof out);
	codec_hex(out, b, sizeof b);
	assert_string_equal(out, "0001abcdefff7f");
	codec_hex(out, b, 0);
	assert_string_equal(out, "");
	/* One digit back, either case; anything else is -1. */
	assert_int_equal(codec_hexval('0'), 0);
	assert_int_equal(codec_hexval('9'), 9);
	assert_int_equal(codec_hexval('a'), 10);
	assert_int_equal(codec_hexval('F'), 15);
	assert_int_equal(codec_hexval('g'), -1);
	assert_int_equal(codec_hexval('/'), -1);
	assert_int_equal(codec_hexval(':'), -1);
	assert_int_equal(codec_hexval('@'), -1);
	assert_int_equal(codec_hexval(0), -1);
}

/*
 * test_same_as_libsodium: the decoders accept exactly what libsodium's
 * sodium_base642bin (no ignore set, every character consumed) accepts, and
 * decode it to the same bytes, over 200,000 strings drawn from the
 * alphabets, padding and a few strangers (ASCII only: libsodium takes some
 * bytes >= 0x80 for letters, which test_rejects_high_bytes covers).
 */
static void
test_same_as_libsodium(void **state)
{
	static const char pool[] = "ABCZabcz09+/-_=.= \n";
	char in[48];
	unsigned char ours[48], theirs[48];
	size_t len, i, n, m;
	const char *end;
	int k, r1, r2, variant, agreed = 0;

	(void)state;
	for (k = 0; k < 200000; k++) {
		len = randombytes_uniform(sizeof in);
		for (i = 0; i < len; i++)
			in[i] = pool[randombytes_uniform(sizeof pool - 1)];
		variant = k & 1 ? sodium_base64_VARIANT_URLSAFE_NO_PADDING :
		    sodium_base64_VARIANT_ORIGINAL;
		r1 = variant == sodium_base64_VARIANT_ORIGINAL ?
		    codec_unb64(ours, sizeof ours, &n, in, len) :
		    codec_unb64url(ours, sizeof ours, &n, in, len);
		end = NULL;
		m = 0;
		r2 = sodium_base642bin(theirs, sizeof theirs, in, len, NULL, &m, &end,
		    variant) == 0 && end == in + len ? 0 : -1;
		assert_int_equal(r1, r2);
		if (r1 == 0) {
			assert_int_equal(n, m);
			assert_memory_equal(ours, theirs, n);
			agreed++;
		}
	}
	/* Most random strings are refused; enough are accepted to matter. */
	assert_true(agreed > 1000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_answers),
		cmocka_unit_test(test_alphabets),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_rejects_spaces),
		cmocka_unit_test(test_padding),
		cmocka_unit_test(test_bad_lengths_and_bits),
		cmocka_unit_test(test_rejects_high_bytes),
		cmocka_unit_test(test_small_buffers),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_same_as_libsodium),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
