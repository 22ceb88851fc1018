/*
 * profile.h - the user's own data: GET and PATCH /v1/userinfo, the legacy
 * encrypted open data (POST /v1/userinfo/decrypt), and phone numbers
 * (POST /v1/phone, by phone code or encrypted data).
 */
#ifndef WXAUTH_PROFILE_H
#define WXAUTH_PROFILE_H

#include "svc.h"


extern const struct field profile_patch_fields[];
extern const struct field profile_decrypt_fields[];
extern const struct field profile_phone_fields[];
extern const struct field profile_avatar_fields[];
extern const struct field profile_avatar_param;     /* the {id} of /v1/avatars/{id} */

/* GET /v1/userinfo: {"user": {...}, "accounts": [...]} of the token's user. */
enum err profile_get(struct svc *s, struct req *r, const struct tok_claims *who);
/* PATCH /v1/userinfo: nickname and/or avatar_url; answers like GET. */
enum err profile_patch(struct svc *s, struct req *r, const struct tok_claims *who);
/* POST /v1/userinfo/decrypt: legacy profile data; answers like GET. */
enum err profile_decrypt(struct svc *s, struct req *r, const struct tok_claims *who);
/* POST /v1/phone: {"phone_number", "pure_phone_number", "country_code"}. */
enum err profile_phone(struct svc *s, struct req *r, const struct tok_claims *who);
/* POST /v1/avatar: {"image": base64 of a PNG, JPEG or WebP of at most 256
 * KiB}: kept as the user's avatar, avatar_url pointing at it; answers like
 * GET /v1/userinfo. GET /v1/avatars/{id}: the image, cacheable, no token. */
enum err profile_avatar(struct svc *s, struct req *r, const struct tok_claims *who);
enum err profile_avatar_get(struct svc *s, struct req *r, const struct tok_claims *who);

#endif
