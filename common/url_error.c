/* SPDX-License-Identifier: MIT */
/* url_error.c - English reasons for the URL parser's failure codes. */
#include "url_error.h"

/* Both tables are built from the one list at compile time, so a reason is
 * always a static string and the two can never drift apart. */
static const char *const reasons[_URL_E_MAX] = {
#define URL_ERROR_REASON(e, name, text) [URL_E_##e] = text " (" name ")",
	URL_ERRORS(URL_ERROR_REASON)
#undef URL_ERROR_REASON
};

static const char *const base_reasons[_URL_E_MAX] = {
#define URL_ERROR_BASE_REASON(e, name, text) [URL_E_##e] = "invalid base URL: " text " (" name ")",
	URL_ERRORS(URL_ERROR_BASE_REASON)
#undef URL_ERROR_BASE_REASON
};

const char *url_strerror(int code)
{
	if (code > 0 && code < _URL_E_MAX)
		return reasons[code];
	return "not a valid URL";
}

const char *url_strerror_base(int code)
{
	if (code > 0 && code < _URL_E_MAX)
		return base_reasons[code];
	return "invalid base URL";
}
