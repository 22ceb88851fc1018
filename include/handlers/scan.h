/*
 * scan.h - the PC scan login (handlers/scan.c):
 *   POST /v1/scan {"appid"}            a PC page's login request: its id,
 *                                      code_url, expires_in; the browser's
 *                                      wxauth_scan cookie
 *   GET  /v1/scan/{id}                 its status (that cookie): pending,
 *                                      scanned, confirmed (with the ticket,
 *                                      once), cancelled, expired; refused
 *   GET  /v1/scan/{id}/code            its mini-program code (that cookie)
 *   POST /v1/scan/{id}/scanned|confirm|cancel   the person, in the
 *                                      mini-program (Bearer)
 */
#ifndef WXAUTH_SCAN_H
#define WXAUTH_SCAN_H

#include "form.h"
#include "svc.h"

extern const struct field scan_new_fields[];
extern const struct field scan_param;          /* the {id} of /v1/scan/{id}... */

enum err scan_new(struct svc *s, struct req *r, const struct tok_claims *who);
enum err scan_status(struct svc *s, struct req *r, const struct tok_claims *who);
enum err scan_code(struct svc *s, struct req *r, const struct tok_claims *who);
enum err scan_scanned(struct svc *s, struct req *r, const struct tok_claims *who);
enum err scan_confirm(struct svc *s, struct req *r, const struct tok_claims *who);
enum err scan_cancel(struct svc *s, struct req *r, const struct tok_claims *who);

#endif
