/*
 * atrest.h - data sealed at rest (session_keys) under the data key file, with
 * XChaCha20-Poly1305 and associated data binding the value to its row.
 *
 * The data key file has the same format as the token key file: the first
 * key seals, every key opens, so the data key can rotate.
 */
#ifndef WXAUTH_ATREST_H
#define WXAUTH_ATREST_H

#include <stddef.h>

#include "common.h"
#include "tok.h"

#define ATREST_NONCEBYTES 24
#define ATREST_TAGBYTES 16
#define ATREST_OVERHEAD (ATREST_NONCEBYTES + ATREST_TAGBYTES)

/*
 * atrest_seal: seal n bytes of msg under the first key of ks, bound to ad (a
 * NUL-terminated string such as "appid/openid"). Writes n + ATREST_OVERHEAD
 * bytes to out. Returns 0, or -1 when outmax is too small.
 */
int atrest_seal(unsigned char *out, size_t outmax, size_t *outlen,
    const struct tok_keys *ks, const unsigned char *msg, size_t n,
    const char *ad) WARN_UNUSED;

/*
 * atrest_open: open what atrest_seal wrote, trying every key of ks. Returns 0, or
 * -1 when no key opens it (forged, other row, other key, too short).
 */
int atrest_open(unsigned char *out, size_t outmax, size_t *outlen,
    const struct tok_keys *ks, const unsigned char *in, size_t n,
    const char *ad) WARN_UNUSED;

#endif
