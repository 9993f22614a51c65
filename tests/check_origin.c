/* SPDX-License-Identifier: MIT */
/* check_origin.c - unit tests for the origin module: tuples, opaque origins, hosts, bad input. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "origin.h"
#include "tier.h"

/* Parses input (len bytes) against base (NUL-terminated or NULL); returns
 * the serialization in a static buffer, or "failure". */
static const char *origin_of_len(const char *input, size_t len, const char *base)
{
	static char buf[4096];
	const char *reason = NULL;
	Origin *o = NULL;
	int r;

	r = origin_from_url(input, len, base, base ? strlen(base) : 0, &o, &reason);
	if (r == -EINVAL) {
		ck_assert_ptr_nonnull(reason);
		ck_assert_ptr_null(o);
		return "failure";
	}
	ck_assert_int_eq(r, 0);
	ck_assert_ptr_nonnull(o);
	snprintf(buf, sizeof(buf), "%s", origin_serialization(o));
	origin_free(o);
	return buf;
}

static const char *origin_of(const char *input, const char *base)
{
	return origin_of_len(input, strlen(input), base);
}

static Origin *parse(const char *input)
{
	Origin *o = NULL;

	ck_assert_int_eq(origin_from_url(input, strlen(input), NULL, 0, &o, NULL), 0);
	return o;
}

/* One table per behaviour: input, base (NULL for none), expected. */
struct row {
	const char *input;
	const char *base;
	const char *expected;
};

static void check_rows(const struct row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(!strcmp(origin_of(rows[i].input, rows[i].base), rows[i].expected),
			      "%s (base %s): got %s, want %s", rows[i].input,
			      rows[i].base ? rows[i].base : "none",
			      origin_of(rows[i].input, rows[i].base), rows[i].expected);
}

#define CHECK_ROWS(rows) check_rows(rows, sizeof(rows) / sizeof(rows[0]))

START_TEST(test_default_ports_are_elided)
{
	static const struct row rows[] = {
		{ "http://example.com:80/", NULL, "http://example.com" },
		{ "https://example.com:443/", NULL, "https://example.com" },
		{ "ws://example.com:80/", NULL, "ws://example.com" },
		{ "wss://example.com:443/", NULL, "wss://example.com" },
		{ "ftp://example.com:21/", NULL, "ftp://example.com" },
		{ "http://example.com:0080/", NULL, "http://example.com" },
		{ "http://example.com:/", NULL, "http://example.com" },
		{ "https://example.com:80/", NULL, "https://example.com:80" },
		{ "http://example.com:443/", NULL, "http://example.com:443" },
		{ "http://example.com:8080/", NULL, "http://example.com:8080" },
		{ "http://example.com:0/", NULL, "http://example.com:0" },
		{ "http://example.com:65535/", NULL, "http://example.com:65535" },
		{ "HTTP://EXAMPLE.COM/path?q#f", NULL, "http://example.com" },
		{ "http://user:pass@example.com:81/", NULL, "http://example.com:81" },
	};

	CHECK_ROWS(rows);
}
END_TEST

START_TEST(test_idn_forms_are_one_origin)
{
	Origin *u = parse("https://пример.рф/");
	Origin *a = parse("https://xn--e1afmkfd.xn--p1ai/");
	Origin *mixed = parse("https://ПРИМЕР.xn--p1ai:443");
	char *display;

	ck_assert_str_eq(origin_serialization(u), "https://xn--e1afmkfd.xn--p1ai");
	ck_assert(origin_same(u, a));
	ck_assert(origin_same(u, mixed));
	display = origin_unicode_serialization(a);
	ck_assert_str_eq(display, "https://пример.рф");
	free(display);
	origin_free(u);
	origin_free(a);
	origin_free(mixed);
}
END_TEST

START_TEST(test_idna_options)
{
	static const struct row rows[] = {
		/* Nontransitional: ß and ς are kept. */
		{ "https://faß.example/", NULL, "https://xn--fa-hia.example" },
		/* UTS #46 allows symbols IDNA2008 disallows (the URL Standard's own example). */
		{ "http://☕.example/", NULL, "http://xn--53h.example" },
		{ "http://xn--53h.example/", NULL, "http://xn--53h.example" },
		/* CheckHyphens=false. */
		{ "http://-ü-.example/", NULL, "http://xn-----xka.example" },
		{ "http://ab--ü.example/", NULL, "http://xn--ab---3ra.example" },
		{ "http://xn----eha.example/", NULL, "http://xn----eha.example" },
		{ "http://-a-.example/", NULL, "http://-a-.example" },
		/* UseSTD3ASCIIRules=false: "_" and "*" are fine. */
		{ "http://_ü*.example/", NULL, "http://xn--_*-xka.example" },
		/* Full stops that map to ".". */
		{ "http://a。b．c｡d/", NULL, "http://a.b.c.d" },
		/* Mapped to forbidden code points. */
		{ "http://％41.com/", NULL, "failure" },
		/* Invalid A-labels, and a label that maps to nothing. */
		{ "http://xn--/", NULL, "failure" },
		{ "http://xn--abc-/", NULL, "failure" },
		{ "http://xn--zz%7F/", NULL, "failure" },
		{ "http://\xC2\xAD/", NULL, "failure" },
		/* CheckJoiners, CheckBidi. */
		{ "http://a\xE2\x80\x8C" "b.example/", NULL, "failure" },
		{ "http://\xD8\xA7" "b.example/", NULL, "failure" },
		{ "http://\xD9\xA1.example/", NULL, "failure" },	/* starts with AN */
		/* CheckBidi also for labels with symbols IDNA2008 disallows. */
		{ "http://\xD7\x90\xE2\x98\x95\xD7\x90/", NULL, "http://xn--4dba698v" },
		{ "http://\xD7\x90\xE2\x98\x95/", NULL, "failure" },
		{ "http://\xE2\x98\x95\xD7\x90/", NULL, "failure" },
		/* ASCII that libidn2's own Punycode decoder refuses, both ways. */
		{ "http://\xC3\xBC*.example/", NULL, "http://xn--*-dha.example" },
		{ "http://xn--*-dha.example/", NULL, "http://xn--*-dha.example" },
		/* Labels that map to an A-label are checked as A-labels (found
		 * by fuzzing, and by comparing with another implementation). */
		{ "http://XN--N--\xEF\xBC\x8D-dpp/", NULL, "http://xn--n----dpp" },
		{ "http://xn--n----dpp/", NULL, "http://xn--n----dpp" },
		{ "http://XN--N----\xEF\xBC\x8D--dhpac______/", NULL, "failure" },
		{ "http://xn--n-------dhpac______/", NULL, "failure" },
		{ "http://xn--n3h\xEF\xBC\xA1_.com/", NULL, "failure" },
		{ "http://xn--n3ha_.com/", NULL, "failure" },
		/* An A-label must not decode to all ASCII (UTS #46 15.1). */
		{ "http://xn--ls8h-.com/", NULL, "failure" },
	};

	CHECK_ROWS(rows);
}
END_TEST

START_TEST(test_ipv4_forms)
{
	static const struct row rows[] = {
		{ "http://127.0.0.1/", NULL, "http://127.0.0.1" },
		{ "http://0x7f.0.0.1/", NULL, "http://127.0.0.1" },
		{ "http://0177.0.0.1/", NULL, "http://127.0.0.1" },
		{ "http://0X7F.1/", NULL, "http://127.0.0.1" },
		{ "http://127.1/", NULL, "http://127.0.0.1" },
		{ "http://127.0.1/", NULL, "http://127.0.0.1" },
		{ "http://2130706433/", NULL, "http://127.0.0.1" },
		{ "http://0x7f000001/", NULL, "http://127.0.0.1" },
		{ "http://127.0.0.1./", NULL, "http://127.0.0.1" },
		{ "http://0x/", NULL, "http://0.0.0.0" },
		{ "http://4294967295/", NULL, "http://255.255.255.255" },
		{ "http://00000000000000000000000000000000000000001/", NULL, "http://0.0.0.1" },
		{ "http://%31%32%37.1/", NULL, "http://127.0.0.1" },
		{ "http://１２７．１/", NULL, "http://127.0.0.1" },
		/* Overflow and malformed numbers fail, whatever their length. */
		{ "http://4294967296/", NULL, "failure" },
		{ "http://99999999999999999999999999999999/", NULL, "failure" },
		{ "http://256.0.0.1/", NULL, "failure" },
		{ "http://1.256.0.1/", NULL, "failure" },
		{ "http://1.2.65536/", NULL, "failure" },
		{ "http://1.2.3.4.5/", NULL, "failure" },
		{ "http://1..2/", NULL, "failure" },
		{ "http://09.1/", NULL, "failure" },
		{ "http://0x1g.1/", NULL, "failure" },
		{ "http://0x1g/", NULL, "http://0x1g" },
		{ "http://foo.09/", NULL, "failure" },
		{ "http://foo.0x/", NULL, "failure" },
		/* Not ending in a number: a domain. */
		{ "http://1.2.3.a/", NULL, "http://1.2.3.a" },
		{ "http://0x1g.com/", NULL, "http://0x1g.com" },
		/* Opaque hosts are not IPv4-parsed. */
		{ "sc://999999999999/", NULL, "null" },
	};

	CHECK_ROWS(rows);
}
END_TEST

START_TEST(test_ipv6_compression)
{
	static const struct row rows[] = {
		{ "http://[0:0:0:0:0:0:0:1]/", NULL, "http://[::1]" },
		{ "http://[::]/", NULL, "http://[::]" },
		{ "http://[1:0:0:2:0:0:0:3]/", NULL, "http://[1:0:0:2::3]" },
		{ "http://[1:0:0:2:3:0:0:4]/", NULL, "http://[1::2:3:0:0:4]" },
		{ "http://[1:2:3:4:5:6:0:8]/", NULL, "http://[1:2:3:4:5:6:0:8]" },
		{ "http://[1:2:3:4:5:6:7::]/", NULL, "http://[1:2:3:4:5:6:7:0]" },
		{ "http://[2001:DB8::0001]:8080/", NULL, "http://[2001:db8::1]:8080" },
		{ "http://[::ffff:192.168.0.1]/", NULL, "http://[::ffff:c0a8:1]" },
		{ "http://[::127.0.0.1]/", NULL, "http://[::7f00:1]" },
		{ "http://[1:2:3:4:5:6:7:8]:443/", NULL, "http://[1:2:3:4:5:6:7:8]:443" },
		{ "http://[::1/", NULL, "failure" },
		{ "http://[:1]/", NULL, "failure" },
		{ "http://[1::2::3]/", NULL, "failure" },
		{ "http://[1:2:3:4:5:6:7:8:9]/", NULL, "failure" },
		{ "http://[1:2:3]/", NULL, "failure" },
		{ "http://[1:]/", NULL, "failure" },
		{ "http://[::1.2.3]/", NULL, "failure" },
		{ "http://[::1.2.3.256]/", NULL, "failure" },
		{ "http://[::01.2.3.4]/", NULL, "failure" },
		{ "http://[12345::]/", NULL, "failure" },
		{ "http://[::1%25eth0]/", NULL, "failure" },
		{ "http://[www.example.com]/", NULL, "failure" },
	};

	CHECK_ROWS(rows);
}
END_TEST

START_TEST(test_opaque_origin_identity_and_copy)
{
	Origin *a = origin_new_opaque();
	Origin *b = origin_new_opaque();
	Origin *a2 = origin_copy(a);
	Origin *d1 = parse("data:text/plain,x");
	Origin *d2 = parse("data:text/plain,x");
	Origin *t = parse("https://example.com");
	Origin *t2 = origin_copy(t);

	ck_assert(origin_is_opaque(a));
	ck_assert_str_eq(origin_serialization(a), "null");
	ck_assert(origin_same(a, a));
	ck_assert(origin_same(a, a2));
	ck_assert(origin_same(a2, a));
	ck_assert(!origin_same(a, b));
	/* Same serialization, still not the same origin: each parse makes a
	 * new opaque origin. */
	ck_assert_str_eq(origin_serialization(d1), origin_serialization(d2));
	ck_assert(!origin_same(d1, d2));
	ck_assert(origin_same(d1, d1));
	ck_assert(!origin_same(a, t));
	ck_assert(!origin_same(t, a));
	ck_assert(!origin_is_opaque(t));
	ck_assert(origin_same(t, t2));
	ck_assert(!origin_same(t, NULL));
	ck_assert_ptr_null(origin_free(NULL));

	origin_free(a2);
	/* The copy's lifetime is its own. */
	ck_assert(origin_same(a, a));
	origin_free(a);
	origin_free(b);
	origin_free(d1);
	origin_free(d2);
	origin_free(t);
	origin_free(t2);
}
END_TEST

START_TEST(test_non_special_schemes_are_opaque)
{
	static const struct row rows[] = {
		{ "data:text/plain,hello", NULL, "null" },
		{ "javascript:alert(1)", NULL, "null" },
		{ "about:blank", NULL, "null" },
		{ "sc://example.com:8080/", NULL, "null" },
		{ "web+demo:/.//not-a-host/", NULL, "null" },
		{ "sc://", NULL, "null" },
		/* Their hosts are still parsed, and can fail. */
		{ "sc://ex ample/", NULL, "failure" },
		{ "sc://[::1/", NULL, "failure" },
		{ "sc://:1/", NULL, "failure" },
		{ "sc://a:99999/", NULL, "failure" },
	};

	CHECK_ROWS(rows);
}
END_TEST

START_TEST(test_file_urls_are_opaque)
{
	static const struct row rows[] = {
		{ "file:///etc/passwd", NULL, "null" },
		{ "file://localhost/etc", NULL, "null" },
		{ "file://host.example/share", NULL, "null" },
		{ "file:C:/x", NULL, "null" },
		{ "file://C|/x", NULL, "null" },
		{ "file:", NULL, "null" },
		{ "x", "file:///dir/file", "null" },
		/* Parsed, so failures are found. */
		{ "file://exa mple/", NULL, "failure" },
		{ "file://host:80/", NULL, "failure" },
		{ "file://[1::/", NULL, "failure" },
		{ "file://%43%7C/", NULL, "failure" },
		{ "file://xn--/", NULL, "failure" },
	};
	Origin *a = parse("file:///same");
	Origin *b = parse("file:///same");

	CHECK_ROWS(rows);
	/* A window at a file: URL is same-origin with nothing it did not
	 * copy, so only targetOrigin "*" reaches it. */
	ck_assert(!origin_same(a, b));
	origin_free(a);
	origin_free(b);
}
END_TEST

START_TEST(test_blob_urls)
{
	static const struct row rows[] = {
		{ "blob:https://example.com/7f2b0e4e-1b9a-4c3e", NULL, "https://example.com" },
		{ "blob:http://example.com:8080/uuid", NULL, "http://example.com:8080" },
		{ "blob:https://example.com:443/uuid", NULL, "https://example.com" },
		{ "blob:https://пример.рф/uuid", NULL, "https://xn--e1afmkfd.xn--p1ai" },
		{ "BLOB:HTTPS://EXAMPLE.COM/X", NULL, "https://example.com" },
		{ "#frag", "blob:https://example.com/uuid", "https://example.com" },
		/* Only http(s) inside gives a tuple. */
		{ "blob:ftp://example.com/x", NULL, "null" },
		{ "blob:wss://example.com/x", NULL, "null" },
		{ "blob:file:///x", NULL, "null" },
		{ "blob:blob:https://example.com/x", NULL, "null" },
		{ "blob:data:text/plain,x", NULL, "null" },
		{ "blob:", NULL, "null" },
		{ "blob:not a url", NULL, "null" },
		{ "blob:https://exa mple.com/", NULL, "null" },
		{ "blob://example.com/x", NULL, "null" },
		{ "blob:http%3a//example.org/", NULL, "null" },
		/* A space before the query is kept as %20, which the host rejects. */
		{ "blob:https://example.com ?x", NULL, "null" },
		{ "blob:https://example.com/ ?x", NULL, "https://example.com" },
	};

	CHECK_ROWS(rows);
}
END_TEST

START_TEST(test_relative_input)
{
	static const struct row rows[] = {
		{ "/path", "https://example.com:8443/a/b", "https://example.com:8443" },
		{ "?q", "https://example.com/a", "https://example.com" },
		{ "", "https://example.com/a", "https://example.com" },
		{ "//other.example/x", "https://example.com/a", "https://other.example" },
		{ "\\\\other.example\\x", "https://example.com/a", "https://other.example" },
		{ "https:relative", "https://example.com/a", "https://example.com" },
		{ "http:relative", "https://example.com/a", "http://relative" },
		{ "wss://x", "https://example.com/a", "wss://x" },
		{ "x", "sc://host/a", "null" },
		{ "#f", "mailto:someone", "null" },
		{ "x", "mailto:someone", "failure" },
		{ "x", NULL, "failure" },
		{ "//x", NULL, "failure" },
		{ "x", "not a url", "failure" },
	};

	CHECK_ROWS(rows);
}
END_TEST

START_TEST(test_failures)
{
	static const struct row rows[] = {
		{ "", NULL, "failure" },
		{ "   ", NULL, "failure" },
		{ "http://", NULL, "failure" },
		{ "http:///", NULL, "failure" },
		{ "http://user@/", NULL, "failure" },
		{ "http://:80/", NULL, "failure" },
		{ "http://a:99999/", NULL, "failure" },
		{ "http://a:65536/", NULL, "failure" },
		{ "http://a:1x/", NULL, "failure" },
		{ "http://a:-1/", NULL, "failure" },
		{ "http://a b/", NULL, "failure" },
		{ "http://a<b/", NULL, "failure" },
		{ "http://a%00b/", NULL, "failure" },
		{ "http://a%b/", NULL, "failure" },
		{ "http://%zz/", NULL, "failure" },
		{ "http://a^b/", NULL, "failure" },
		{ "https://\xEF\xBF\xBD/", NULL, "failure" },
		{ "1http://a/", NULL, "failure" },
	};
	const char *reason = NULL;
	Origin *o = (Origin *)0x1;

	CHECK_ROWS(rows);
	/* A failure leaves *ret alone and says why. */
	ck_assert_int_eq(origin_from_url("http://a:99999", 14, NULL, 0, &o, &reason), -EINVAL);
	ck_assert_ptr_eq(o, (Origin *)0x1);
	ck_assert_ptr_nonnull(strstr(reason, "port-out-of-range"));
	ck_assert_int_eq(origin_from_url("x", 1, "http://a:99999", 14, &o, &reason), -EINVAL);
	ck_assert_ptr_nonnull(strstr(reason, "base URL"));
	ck_assert_int_eq(origin_from_url(NULL, 5, NULL, 0, &o, &reason), -EINVAL);
	ck_assert_int_eq(origin_from_url("x", 1, NULL, 3, &o, &reason), -EINVAL);
}
END_TEST

START_TEST(test_embedded_nul)
{
	static const char in_host[] = "http://exa\0mple.com/";
	static const char in_path[] = "http://example.com/a\0b";
	static const char leading[] = "\0\0http://example.com/\0";
	static const char in_port[] = "http://example.com:8\0/";

	/* Lengths, not strlen(): the NUL is part of the input. */
	ck_assert_str_eq(origin_of_len(in_host, sizeof(in_host) - 1, NULL), "failure");
	ck_assert_str_eq(origin_of_len(in_path, sizeof(in_path) - 1, NULL), "http://example.com");
	ck_assert_str_eq(origin_of_len(leading, sizeof(leading) - 1, NULL), "http://example.com");
	ck_assert_str_eq(origin_of_len(in_port, sizeof(in_port) - 1, NULL), "failure");
	/* And only the given bytes are read. */
	ck_assert_str_eq(origin_of_len("http://a.com/xyz", 12, NULL), "http://a.com");
	ck_assert_str_eq(origin_of_len("http://a.com:81", 14, NULL), "http://a.com:8");
}
END_TEST

START_TEST(test_invalid_utf8)
{
	static const struct row rows[] = {
		/* Ill-formed bytes decode to U+FFFD, which no host may hold... */
		{ "http://exa\xFFmple.com/", NULL, "failure" },
		{ "http://\xC3/", NULL, "failure" },
		{ "http://\xED\xA0\x80.com/", NULL, "failure" },	/* a surrogate */
		{ "http://\xC0\xAE.com/", NULL, "failure" },		/* overlong "." */
		{ "http://%C3%28.com/", NULL, "failure" },
		{ "http://%FF.com/", NULL, "failure" },
		/* ...but paths, queries and fragments may. */
		{ "http://example.com/\xFF\xFE", NULL, "http://example.com" },
		{ "http://example.com/?\xC3#\xF4\x90\x80\x80", NULL, "http://example.com" },
		{ "\xFFhttp://example.com/", NULL, "failure" },
		{ "blob:https://example.com/\xFF", NULL, "https://example.com" },
	};

	CHECK_ROWS(rows);
}
END_TEST

static double seconds_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

/* Fills a 1 MiB input with prefix, then unit repeated, then suffix. */
static char *mib_input(const char *prefix, const char *unit, const char *suffix, size_t *ret_len)
{
	size_t pl = strlen(prefix), ul = strlen(unit), sl = strlen(suffix);
	size_t n = (1024 * 1024 / TEST_SCALE_DIVISOR - pl - sl) / ul, len = pl + n * ul + sl;
	char *s = malloc(len + 1), *p = s;

	ck_assert_ptr_nonnull(s);
	memcpy(p, prefix, pl);
	p += pl;
	for (size_t i = 0; i < n; i++, p += ul)
		memcpy(p, unit, ul);
	memcpy(p, suffix, sl);
	p[sl] = '\0';
	*ret_len = len;
	return s;
}

/* 1 MiB inputs of many shapes (an eighth under ASan: tier.h): prefix, unit
 * repeated, suffix; expected origin, or NULL for "any origin, not
 * failure". */
static const struct {
	const char *prefix, *unit, *suffix, *expected;
} long_inputs[] = {
	{ "http://", "a", "", NULL },
	{ "http://", "a.", "com", NULL },
	{ "http://", "\xC3\xBC.", "com", NULL },	/* one libidn2 call per label */
	{ "http://", "-\xC3\xBC.", "com", NULL },	/* the hyphen workaround per label */
	{ "http://", "\xE2\x98\x95.", "com", NULL },	/* the IDNA2008 workaround per label */
	{ "http://", "xn--tda.", "com", NULL },		/* A-label checks per label */
	{ "http://xn--", "a", "", "failure" },
	{ "http://", "\xC3\xBC", "", "failure" },
	{ "http://example.com/", "a", "", "http://example.com" },
	{ "", "\xFF", "", "failure" },
	{ "http://", "@", "a", "http://a" },
	{ "http://a:", "0", "80", "http://a" },
	{ "http://", "1", "", "failure" },
	{ "http://", "1.", "1", "failure" },
	{ "http://[", "1:", "1]", "failure" },
	{ "", "a", ":", "null" },
	{ "blob:https://", "a", "/", NULL },
	{ "http://a", "\t", "", "http://a" },
};

START_TEST(test_long_inputs_take_bounded_time)
{
	struct timespec start;
	size_t len;
	char *input = mib_input(long_inputs[_i].prefix, long_inputs[_i].unit, long_inputs[_i].suffix,
				&len);
	const char *got;
	double took;

	clock_gettime(CLOCK_MONOTONIC, &start);
	got = origin_of_len(input, len, NULL);
	took = seconds_since(&start);
	/* The slowest shape takes about 2 s in a normal build (under the
	 * sanitizers the input is an eighth, tier.h); work quadratic in the
	 * input would take hours. */
	ck_assert_msg(took < 60.0, "took %.1fs", took);
	if (long_inputs[_i].expected)
		ck_assert_str_eq(got, long_inputs[_i].expected);
	else
		ck_assert_str_ne(got, "failure");
	free(input);
}
END_TEST

START_TEST(test_unicode_serialization)
{
	static const struct {
		const char *input, *display;
	} cases[] = {
		{ "https://xn--e1afmkfd.xn--p1ai:8443/", "https://пример.рф:8443" },
		{ "http://xn--53h.example/", "http://☕.example" },
		{ "http://example.com/", "http://example.com" },
		{ "http://[::1]:81/", "http://[::1]:81" },
		{ "http://192.168.0.1/", "http://192.168.0.1" },
		{ "data:,", "null" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		Origin *o = parse(cases[i].input);
		char *display = origin_unicode_serialization(o);

		ck_assert_str_eq(display, cases[i].display);
		free(display);
		origin_free(o);
	}
}
END_TEST

static Suite *origin_suite(void)
{
	Suite *s = suite_create("origin");
	TCase *tc = tcase_create("core");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_default_ports_are_elided);
	tcase_add_test(tc, test_idn_forms_are_one_origin);
	tcase_add_test(tc, test_idna_options);
	tcase_add_test(tc, test_ipv4_forms);
	tcase_add_test(tc, test_ipv6_compression);
	tcase_add_test(tc, test_opaque_origin_identity_and_copy);
	tcase_add_test(tc, test_non_special_schemes_are_opaque);
	tcase_add_test(tc, test_file_urls_are_opaque);
	tcase_add_test(tc, test_blob_urls);
	tcase_add_test(tc, test_relative_input);
	tcase_add_test(tc, test_failures);
	tcase_add_test(tc, test_embedded_nul);
	tcase_add_test(tc, test_invalid_utf8);
	tcase_add_loop_test(tc, test_long_inputs_take_bounded_time, 0,
			    (int)(sizeof(long_inputs) / sizeof(long_inputs[0])));
	tcase_add_test(tc, test_unicode_serialization);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(origin_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
