/*
 * box.h - data sealed at rest (session_keys) under the data key file, with
 * XChaCha20-Poly1305 and associated data binding the value to its row.
 *
 * The data key file has the same format as the token key file: the first
 * key seals, every key opens, so the data key can rotate.
 */
#ifndef WXAUTH_BOX_H
#define WXAUTH_BOX_H

#include <stddef.h>

#include "common.h"
#include "tok.h"

#define BOX_NONCEBYTES 24
#define BOX_TAGBYTES 16
#define BOX_OVERHEAD (BOX_NONCEBYTES + BOX_TAGBYTES)

/*
 * box_seal: seal n bytes of msg under the first key of ks, bound to ad (a
 * NUL-terminated string such as "appid/openid"). Writes n + BOX_OVERHEAD
 * bytes to out. Returns 0, or -1 when outmax is too small.
 */
int box_seal(unsigned char *out, size_t outmax, size_t *outlen,
    const struct tok_keys *ks, const unsigned char *msg, size_t n,
    const char *ad) WARN_UNUSED;

/*
 * box_open: open what box_seal wrote, trying every key of ks. Returns 0, or
 * -1 when no key opens it (forged, other row, other key, too short).
 */
int box_open(unsigned char *out, size_t outmax, size_t *outlen,
    const struct tok_keys *ks, const unsigned char *in, size_t n,
    const char *ad) WARN_UNUSED;

#endif
