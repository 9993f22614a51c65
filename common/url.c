/* SPDX-License-Identifier: MIT */
/* url.c - the URL Standard's basic URL parser, as far as an origin needs it. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "cleanup.h"
#include "url.h"
#include "url_str.h"

#define EOF_CP (-1)

/* The states of https://url.spec.whatwg.org/#concept-basic-url-parser this
 * parser runs.  Path start, path, query and fragment are folded into DONE:
 * nothing in them fails or changes the origin. */
typedef enum State {
	ST_SCHEME_START,
	ST_SCHEME,
	ST_NO_SCHEME,
	ST_SPECIAL_RELATIVE_OR_AUTHORITY,
	ST_PATH_OR_AUTHORITY,
	ST_RELATIVE,
	ST_RELATIVE_SLASH,
	ST_SPECIAL_AUTHORITY_SLASHES,
	ST_SPECIAL_AUTHORITY_IGNORE_SLASHES,
	ST_AUTHORITY,
	ST_HOST,
	ST_PORT,
	ST_FILE,
	ST_FILE_SLASH,
	ST_FILE_HOST,
	ST_OPAQUE_PATH,
	ST_DONE,
} State;

static const struct {
	const char *scheme;
	int port;
} special_schemes[] = {
	{ "ftp", 21 }, { "file", -1 }, { "http", 80 }, { "https", 443 }, { "ws", 80 }, { "wss", 443 },
};

bool url_scheme_is_special(const char *scheme)
{
	for (size_t i = 0; i < sizeof(special_schemes) / sizeof(special_schemes[0]); i++)
		if (!strcmp(scheme, special_schemes[i].scheme))
			return true;
	return false;
}

int url_scheme_default_port(const char *scheme)
{
	for (size_t i = 0; i < sizeof(special_schemes) / sizeof(special_schemes[0]); i++)
		if (!strcmp(scheme, special_schemes[i].scheme))
			return special_schemes[i].port;
	return -1;
}

void url_record_deinit(UrlRecord *url)
{
	free(url->scheme);
	url_host_deinit(&url->host);
	free(url->blob_path);
	*url = (UrlRecord)URL_RECORD_INIT;
}

static bool is_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/*
 * The input as the parser's first steps leave it: leading and trailing C0
 * control or space removed, ASCII tab and newline removed, and ill-formed
 * UTF-8 replaced by U+FFFD (the URL Standard parses scalar value strings;
 * this is the conversion a browser applies to bytes).  Every structural
 * character is ASCII, so the parser can then work on bytes.
 */
static int preprocess(const char *input, size_t len, char **ret, size_t *ret_len)
{
	const unsigned char *s = (const unsigned char *)input;
	size_t start = 0, end = len, o = 0;
	char *out;

	while (start < end && s[start] <= 0x20)
		start++;
	while (end > start && s[end - 1] <= 0x20)
		end--;
	if (end - start > (SIZE_MAX - 1) / 3)
		return -ENOMEM;
	/* U+FFFD takes three bytes and replaces at least one. */
	out = malloc(3 * (end - start) + 1);
	if (!out)
		return -ENOMEM;
	for (size_t i = start; i < end;) {
		size_t bad, l;

		if (s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
			i++;
			continue;
		}
		l = url_utf8_next(s + i, end - i, &bad);
		if (l) {
			memcpy(out + o, s + i, l);
			o += l;
			i += l;
		} else {
			memcpy(out + o, "\xEF\xBF\xBD", 3);
			o += 3;
			i += bad;
		}
	}
	out[o] = '\0';
	*ret = out;
	*ret_len = o;
	return 0;
}

/* Copies base's host and port, as the relative states do. */
static int copy_base_authority(UrlRecord *url, const UrlRecord *base)
{
	url->port = base->port;
	url->has_host = base->has_host;
	if (!base->has_host)
		return 0;
	return url_host_copy(&base->host, &url->host);
}

static int set_scheme(UrlRecord *url, const char *scheme, size_t len)
{
	char *s = strndup(scheme, len);

	if (!s)
		return -ENOMEM;
	for (char *p = s; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p += 'a' - 'A';
	free(url->scheme);
	url->scheme = s;
	return 0;
}

/* The opaque path state's output for s[0..n), which ends the path: the C0
 * control percent-encode set, and a last space before "?" or "#" as "%20"
 * (so that an origin parsed from it does not lose it as trailing space). */
static int encode_opaque_path(const unsigned char *s, size_t n, bool before_query_or_fragment,
			      char **ret)
{
	_cleanup_(url_str_deinit) UrlStr out = URL_STR_INIT;
	int r = 0;

	for (size_t i = 0; i < n && r == 0; i++) {
		if (s[i] == ' ' && i + 1 == n && before_query_or_fragment)
			r = url_str_append(&out, "%20", 3);
		else if (s[i] < 0x20 || s[i] > 0x7E)
			r = url_str_put_pct(&out, s[i]);
		else
			r = url_str_putc(&out, (char)s[i]);
	}
	if (r)
		return r;
	*ret = url_str_steal(&out);
	return *ret ? 0 : -ENOMEM;
}

/*
 * The state machine, on the preprocessed input s[0..n).  As in the
 * standard, p is a pointer that states may move back by one (so the next
 * round sees the same code point again in a new state); the authority state
 * moves it back once to the start of the host, and the scheme state once to
 * the start of the input, so every byte is looked at a bounded number of
 * times.
 */
static int parse(const unsigned char *s, size_t n, const UrlRecord *base, UrlRecord *url)
{
	State state = ST_SCHEME_START;
	ssize_t p = 0, buf = 0;		/* buf: where the state's buffer starts in s */
	bool special = false, at_sign_seen = false, inside_brackets = false;
	unsigned long port = 0;
	int r;

	for (;;) {
		int c = p >= 0 && (size_t)p < n ? s[p] : EOF_CP;
		bool end_of_authority = c == EOF_CP || c == '/' || c == '?' || c == '#' ||
					(special && c == '\\');

		switch (state) {
		case ST_SCHEME_START:
			if (is_alpha(c)) {
				state = ST_SCHEME;
			} else {
				state = ST_NO_SCHEME;
				p--;
			}
			break;

		case ST_SCHEME:
			if (is_alpha(c) || is_digit(c) || c == '+' || c == '-' || c == '.')
				break;
			if (c != ':') {
				/* Not a scheme after all: start over. */
				state = ST_NO_SCHEME;
				p = -1;
				break;
			}
			r = set_scheme(url, (const char *)s, (size_t)p);
			if (r)
				return r;
			special = url_scheme_is_special(url->scheme);
			if (!strcmp(url->scheme, "file")) {
				state = ST_FILE;
			} else if (special && base && !strcmp(base->scheme, url->scheme)) {
				state = ST_SPECIAL_RELATIVE_OR_AUTHORITY;
			} else if (special) {
				state = ST_SPECIAL_AUTHORITY_SLASHES;
			} else if ((size_t)p + 1 < n && s[p + 1] == '/') {
				state = ST_PATH_OR_AUTHORITY;
				p++;
			} else {
				url->opaque_path = true;
				state = ST_OPAQUE_PATH;
				buf = p + 1;
			}
			break;

		case ST_NO_SCHEME:
			if (!base || (base->opaque_path && c != '#'))
				return URL_E_MISSING_SCHEME_NON_RELATIVE;
			if (base->opaque_path) {
				/* Only a fragment changes: keep scheme and path
				 * (the host of such a URL is null). */
				r = set_scheme(url, base->scheme, strlen(base->scheme));
				if (r)
					return r;
				url->opaque_path = true;
				if (base->blob_path) {
					url->blob_path = strdup(base->blob_path);
					if (!url->blob_path)
						return -ENOMEM;
				}
				state = ST_DONE;
			} else if (strcmp(base->scheme, "file")) {
				state = ST_RELATIVE;
				p--;
			} else {
				state = ST_FILE;
				p--;
			}
			break;

		case ST_SPECIAL_RELATIVE_OR_AUTHORITY:
			if (c == '/' && (size_t)p + 1 < n && s[p + 1] == '/') {
				state = ST_SPECIAL_AUTHORITY_IGNORE_SLASHES;
				p++;
			} else {
				state = ST_RELATIVE;
				p--;
			}
			break;

		case ST_PATH_OR_AUTHORITY:
			if (c == '/') {
				state = ST_AUTHORITY;
				buf = p + 1;
			} else {
				state = ST_DONE;
			}
			break;

		case ST_RELATIVE:
			r = set_scheme(url, base->scheme, strlen(base->scheme));
			if (r)
				return r;
			special = url_scheme_is_special(url->scheme);
			if (c == '/' || (special && c == '\\')) {
				state = ST_RELATIVE_SLASH;
			} else {
				r = copy_base_authority(url, base);
				if (r)
					return r;
				state = ST_DONE;
			}
			break;

		case ST_RELATIVE_SLASH:
			if (special && (c == '/' || c == '\\')) {
				state = ST_SPECIAL_AUTHORITY_IGNORE_SLASHES;
			} else if (c == '/') {
				state = ST_AUTHORITY;
				buf = p + 1;
			} else {
				r = copy_base_authority(url, base);
				if (r)
					return r;
				state = ST_DONE;
			}
			break;

		case ST_SPECIAL_AUTHORITY_SLASHES:
			state = ST_SPECIAL_AUTHORITY_IGNORE_SLASHES;
			if (c == '/' && (size_t)p + 1 < n && s[p + 1] == '/')
				p++;
			else
				p--;
			break;

		case ST_SPECIAL_AUTHORITY_IGNORE_SLASHES:
			if (c != '/' && c != '\\') {
				state = ST_AUTHORITY;
				p--;
				buf = p + 1;
			}
			break;

		case ST_AUTHORITY:
			/* Userinfo does not take part in origins: only where
			 * the host starts (after the last "@") matters. */
			if (c == '@') {
				at_sign_seen = true;
				buf = p + 1;
			} else if (end_of_authority) {
				if (at_sign_seen && p == buf)
					return URL_E_HOST_MISSING;
				p = buf - 1;
				state = ST_HOST;
				buf = p + 1;
			}
			break;

		case ST_HOST:
			if (c == ':' && !inside_brackets) {
				if (p == buf)
					return URL_E_HOST_MISSING;
				r = url_host_parse((const char *)s + buf, (size_t)(p - buf), !special,
						   &url->host);
				if (r)
					return r;
				url->has_host = true;
				state = ST_PORT;
				buf = p + 1;
			} else if (end_of_authority) {
				if (special && p == buf)
					return URL_E_HOST_MISSING;
				r = url_host_parse((const char *)s + buf, (size_t)(p - buf), !special,
						   &url->host);
				if (r)
					return r;
				url->has_host = true;
				state = ST_DONE;
			} else if (c == '[') {
				inside_brackets = true;
			} else if (c == ']') {
				inside_brackets = false;
			}
			break;

		case ST_PORT:
			if (is_digit(c)) {
				/* Saturate: any number of digits, no overflow. */
				port = port * 10 + (unsigned long)(c - '0');
				if (port > 65536)
					port = 65536;
			} else if (end_of_authority) {
				if (p > buf) {
					if (port > 65535)
						return URL_E_PORT_OUT_OF_RANGE;
					url->port = (int)port == url_scheme_default_port(url->scheme) ?
						    -1 : (int)port;
				}
				state = ST_DONE;
			} else {
				return URL_E_PORT_INVALID;
			}
			break;

		case ST_FILE:
			r = set_scheme(url, "file", 4);
			if (r)
				return r;
			special = true;
			url_host_deinit(&url->host);
			r = url_host_init_empty(&url->host);
			if (r)
				return r;
			url->has_host = true;
			if (c == '/' || c == '\\') {
				state = ST_FILE_SLASH;
			} else {
				if (base && !strcmp(base->scheme, "file")) {
					url_host_deinit(&url->host);
					r = copy_base_authority(url, base);
					if (r)
						return r;
				}
				state = ST_DONE;
			}
			break;

		case ST_FILE_SLASH:
			if (c == '/' || c == '\\') {
				state = ST_FILE_HOST;
				buf = p + 1;
			} else {
				if (base && !strcmp(base->scheme, "file")) {
					url_host_deinit(&url->host);
					r = copy_base_authority(url, base);
					if (r)
						return r;
				}
				state = ST_DONE;
			}
			break;

		case ST_FILE_HOST:
			if (c == EOF_CP || c == '/' || c == '\\' || c == '?' || c == '#') {
				size_t len = (size_t)(p - buf);

				/* A Windows drive letter ("C:", "C|") is the
				 * start of the path, not a host; the host
				 * stays empty. */
				if (len == 2 && is_alpha(s[buf]) && (s[buf + 1] == ':' || s[buf + 1] == '|')) {
					state = ST_DONE;
					break;
				}
				if (len > 0) {
					UrlHost host;

					r = url_host_parse((const char *)s + buf, len, false, &host);
					if (r)
						return r;
					url_host_deinit(&url->host);
					url->host = host;
					if (host.type == URL_HOST_DOMAIN &&
					    !strcmp(host.serialized, "localhost")) {
						url_host_deinit(&url->host);
						r = url_host_init_empty(&url->host);
						if (r)
							return r;
					}
				}
				state = ST_DONE;
			}
			break;

		case ST_OPAQUE_PATH:
			if (c == '?' || c == '#' || c == EOF_CP) {
				if (!strcmp(url->scheme, "blob")) {
					r = encode_opaque_path(s + buf, (size_t)(p - buf), c != EOF_CP,
							       &url->blob_path);
					if (r)
						return r;
				}
				state = ST_DONE;
			}
			break;

		case ST_DONE:
			break;
		}

		if (state == ST_DONE)
			return 0;
		if (p >= (ssize_t)n)
			return 0;
		p++;
	}
}

int url_parse(const char *input, size_t len, const UrlRecord *base, UrlRecord *ret)
{
	_cleanup_(freep) char *s = NULL;
	UrlRecord url = URL_RECORD_INIT;
	size_t n;
	int r;

	r = preprocess(input, len, &s, &n);
	if (r)
		return r;
	r = parse((const unsigned char *)s, n, base, &url);
	if (r) {
		url_record_deinit(&url);
		return r;
	}
	*ret = url;
	return 0;
}
