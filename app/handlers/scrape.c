/*
 * scrape.c - the GET /metrics handler.
 */
#include <stdlib.h>

#include "metrics.h"
#include "scrape.h"

enum err
scrape_serve(struct svc *s, struct req *r, const struct tok_claims *who)
{
	char *text;
	size_t len;

	(void)s;
	(void)who;
	if ((text = metrics_render(&len)) == NULL)
		return ERR_INTERNAL;
	http_send_body(r, 200, METRICS_CONTENT_TYPE, text, len);
	free(text);
	return OK;
}
