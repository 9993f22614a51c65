/* SPDX-License-Identifier: MIT */
/* document.c - a new document's origin: from its URL, or inherited from its creator. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "document.h"

/* The URL Standard's preprocessing: leading and trailing C0 controls and
 * spaces go, ASCII tabs and newlines go anywhere.  Then the scheme (up to
 * ':') and, for an opaque path, the path up to '?' or '#'. */
DocumentUrlKind document_url_kind(const char *url)
{
	size_t len = strlen(url), start = 0, n = 0;
	char *clean = malloc(len + 1), *colon, *end;
	DocumentUrlKind kind = DOCUMENT_URL_PLAIN;

	if (!clean)
		return DOCUMENT_URL_PLAIN;
	while (start < len && (unsigned char)url[start] <= 0x20)
		start++;
	while (len > start && (unsigned char)url[len - 1] <= 0x20)
		len--;
	for (size_t i = start; i < len; i++)
		if (url[i] != '\t' && url[i] != '\n' && url[i] != '\r')
			clean[n++] = url[i];
	clean[n] = '\0';
	colon = strchr(clean, ':');
	if (colon) {
		*colon = '\0';
		end = colon + 1 + strcspn(colon + 1, "?#");
		*end = '\0';
		if (strcasecmp(clean, "javascript") == 0)
			kind = DOCUMENT_URL_JAVASCRIPT;
		else if (strcasecmp(clean, "about") == 0 && strcmp(colon + 1, "blank") == 0)
			kind = DOCUMENT_URL_ABOUT_BLANK;
		else if (strcasecmp(clean, "about") == 0 && strcmp(colon + 1, "srcdoc") == 0)
			kind = DOCUMENT_URL_ABOUT_SRCDOC;
	}
	free(clean);
	return kind;
}

static int inherit(const Origin *creator, Origin **ret)
{
	*ret = creator ? origin_copy(creator) : origin_new_opaque();
	return *ret ? 0 : -ENOMEM;
}

int document_origin(const char *url, const Origin *creator, bool in_frame, Origin **ret,
		    DocumentUrlKind *ret_kind, const char **ret_reason)
{
	Origin *parsed = NULL;
	DocumentUrlKind kind;
	int r;

	/* Whatever it is, it must be a URL (window.open and navigation throw
	 * SyntaxError otherwise). */
	r = origin_from_url(url, strlen(url), NULL, 0, &parsed, ret_reason);
	if (r == -EINVAL)
		return DOCUMENT_E_BAD_URL;
	if (r < 0)
		return r;
	kind = document_url_kind(url);
	switch (kind) {
	case DOCUMENT_URL_PLAIN:
		*ret = parsed;
		*ret_kind = kind;
		return 0;
	case DOCUMENT_URL_ABOUT_BLANK:
	case DOCUMENT_URL_JAVASCRIPT:
		r = inherit(creator, ret);
		break;
	case DOCUMENT_URL_ABOUT_SRCDOC:
		r = inherit(in_frame ? creator : NULL, ret);
		break;
	}
	origin_free(parsed);
	if (r == 0)
		*ret_kind = kind;
	return r;
}
