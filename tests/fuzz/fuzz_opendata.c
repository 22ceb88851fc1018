/* fuzz_opendata: what WeChat's client hands over. The input as the two
 * base64 fields (wxdata_blob_decode); then as the plaintext of an
 * encryptedData blob, encrypted here with AES-128-CBC under a known
 * session key and opened as the decrypt route does (padding, JSON,
 * watermark), its phone fields read; and as a getuserphonenumber
 * phone_info object. */
#include <json-c/json.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "fuzz.h"
#include "wx.h"
#include "wxdata.h"

#define APPID "wx0123456789abcdef"

static void
as_blob(const uint8_t *data, size_t size)
{
	static const unsigned char key[16] = "0123456789abcdef", iv[16] = "fedcba9876543210";
	struct wxdata_blob b;
	struct json_object *o = NULL;
	struct wxdata_phone ph;
	EVP_CIPHER_CTX *x;
	unsigned char *ct;
	char *enc, kb64[32], ivb64[32], why[256];
	int n1 = 0, n2 = 0;
	size_t enclen;

	if ((ct = malloc(size + 32)) == NULL || (x = EVP_CIPHER_CTX_new()) == NULL)
		abort();
	if (EVP_EncryptInit_ex(x, EVP_aes_128_cbc(), NULL, key, iv) != 1 ||
	    EVP_EncryptUpdate(x, ct, &n1, data, (int)size) != 1 ||
	    EVP_EncryptFinal_ex(x, ct + n1, &n2) != 1)
		abort();
	EVP_CIPHER_CTX_free(x);
	enclen = sodium_base64_ENCODED_LEN((size_t)(n1 + n2), sodium_base64_VARIANT_ORIGINAL);
	if ((enc = malloc(enclen)) == NULL)
		abort();
	sodium_bin2base64(enc, enclen, ct, (size_t)(n1 + n2), sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(kb64, sizeof(kb64), key, 16, sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(ivb64, sizeof(ivb64), iv, 16, sodium_base64_VARIANT_ORIGINAL);
	if (wxdata_blob_decode(&b, enc, ivb64, why, sizeof(why)) == OK) {
		if (wxdata_open(&b, kb64, APPID, 1800000000, 300, &o, why, sizeof(why)) == OK) {
			FUZZ_CHECK(o != NULL);
			(void)wxdata_phone_parse(o, &ph);
			json_object_put(o);
		}
	}
	wxdata_blob_cleanup(&b);
	free(enc);
	free(ct);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wxdata_blob b;
	struct wxdata_phone ph;
	struct json_object *o;
	char why[256], *s, *iv;

	if (size > 8192)
		return 0;
	s = fuzz_str(data, size);
	/* encryptedData, then iv after the first '\n'. */
	iv = strchr(s, '\n');
	if (iv != NULL)
		*iv++ = '\0';
	(void)wxdata_blob_decode(&b, s, iv != NULL ? iv : "", why, sizeof(why));
	wxdata_blob_cleanup(&b);
	free(s);
	as_blob(data, size);
	s = fuzz_str(data, size);
	if ((o = json_tokener_parse(s)) != NULL) {
		if (json_object_is_type(o, json_type_object))
			(void)wxdata_phone_parse(o, &ph);
		json_object_put(o);
	}
	(void)wx_errcode((long)size * 977 - 45011);
	free(s);
	return 0;
}
