/*
 * when.c - the times a token carries, as PASETO registers them (RFC 3339):
 * tok_time_fmt and tok_time_parse, proleptic Gregorian, years 0 to 9999.
 */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>
#include <sodium.h>

#include "codec.h"
#include "tok.h"

#define TIME_MIN (-INT64_C(62167219200))  /* 0000-01-01T00:00:00Z */
#define TIME_MAX INT64_C(253402300799)     /* 9999-12-31T23:59:59Z */
#define DAY 86400

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* The inverse of days_from_civil. */
static void
civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t era;
	unsigned doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

int
tok_time_fmt(char *out, size_t outlen, int64_t t)
{
	int64_t days, secs, y;
	unsigned m, d;
	int n, rc = -1;

	assert(out != NULL);
	if (outlen > 0)
		out[0] = '\0';
	if (t < TIME_MIN || t > TIME_MAX)
		goto out;
	/* Floor division, so that times before 1970 land on the right day. */
	days = t / DAY;
	secs = t % DAY;
	if (secs < 0) {
		secs += DAY;
		days--;
	}
	civil_from_days(days, &y, &m, &d);
	n = snprintf(out, outlen, "%04d-%02u-%02uT%02d:%02d:%02d+00:00", (int)y,
	    m, d, (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
	if (n < 0 || (size_t)n >= outlen)
		goto out;
	rc = 0;
out:
	if (rc != 0 && outlen > 0)
		out[0] = '\0';
	return rc;
}

/* n decimal digits at s, ASCII only (not isdigit: no locale surprises). */
static int
digits(const char *s, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (s[i] - '0');
	}
	return 0;
}

static int
leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int
tok_time_parse(const char *s, int64_t *t)
{
	static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, mo, d, h, mi, sec, oh = 0, om = 0, sign = 1, rc = -1;
	const char *p;

	assert(t != NULL);
	*t = 0;
	if (s == NULL)
		goto out;
	/* YYYY-MM-DDTHH:MM:SS; digits() stops at a NUL, so no overread. */
	if (digits(s, 4, &y) != 0 || s[4] != '-' ||
	    digits(s + 5, 2, &mo) != 0 || s[7] != '-' ||
	    digits(s + 8, 2, &d) != 0 || s[10] != 'T' ||
	    digits(s + 11, 2, &h) != 0 || s[13] != ':' ||
	    digits(s + 14, 2, &mi) != 0 || s[16] != ':' ||
	    digits(s + 17, 2, &sec) != 0)
		goto out;
	if (mo < 1 || mo > 12 || d < 1 ||
	    d > mdays[mo - 1] + (mo == 2 && leap(y)) ||
	    h > 23 || mi > 59 || sec > 59)
		goto out;
	p = s + 19;
	/* Fractions of a second are accepted and dropped (floor). */
	if (*p == '.') {
		p++;
		if (*p < '0' || *p > '9')
			goto out;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'Z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '-' ? -1 : 1;
		if (digits(p + 1, 2, &oh) != 0 || p[3] != ':' ||
		    digits(p + 4, 2, &om) != 0 || oh > 23 || om > 59)
			goto out;
		p += 6;
	} else {
		goto out;
	}
	if (*p != '\0')
		goto out;
	*t = days_from_civil(y, (unsigned)mo, (unsigned)d) * DAY +
	    h * 3600 + mi * 60 + sec - sign * (oh * 3600 + om * 60);
	rc = 0;
out:
	return rc;
}
