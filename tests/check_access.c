/* SPDX-License-Identifier: MIT */
/*
 * check_access.c - the policy's pieces without a broker: origin patterns
 * (common/origin_pattern.c), which section applies and what it allows
 * (broker/access.c, read from files by broker/config.c), and which limits
 * a reload may change (limits_apply_live).  Runs as any user.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "broker/access.h"
#include "broker/config.h"
#include "fixture.h"
#include "broker/limits.h"
#include "origin.h"
#include "origin_pattern.h"

static Origin *origin_of(const char *url)
{
	Origin *o = NULL;

	ck_assert_msg(origin_from_url(url, strlen(url), NULL, 0, &o, NULL) == 0, "%s does not parse", url);
	return o;
}

static bool pattern_matches(const char *pattern, const char *url)
{
	OriginPattern p;
	const char *reason = "?";
	Origin *o = origin_of(url);
	bool r;

	ck_assert_msg(origin_pattern_parse(&p, pattern, &reason) == 0, "%s: %s", pattern, reason);
	r = origin_pattern_matches(&p, o);
	origin_pattern_deinit(&p);
	origin_free(o);
	return r;
}

START_TEST(origin_patterns_match_as_documented)
{
	static const struct {
		const char *pattern, *url;
		bool match;
	} cases[] = {
		{ "*", "https://a.example/", true },
		{ "*", "file:///etc/passwd", true },
		{ "null", "file:///etc/passwd", true },
		{ "null", "data:text/html,hi", true },
		{ "null", "https://a.example/", false },
		{ "https://example.com", "https://example.com/path?q#f", true },
		{ "https://example.com", "https://example.com:443/", true },
		{ "HTTPS://EXAMPLE.com:443", "https://example.com/", true },
		{ "https://example.com", "https://example.com:8443/", false },
		{ "https://example.com", "http://example.com/", false },
		{ "https://example.com", "https://a.example.com/", false },
		{ "https://example.com:8443", "https://example.com:8443/", true },
		{ "https://example.com:*", "https://example.com:8443/", true },
		{ "https://example.com:*", "https://example.com/", true },
		{ "https://*.example.com", "https://a.example.com/", true },
		{ "https://*.example.com", "https://x.y.example.com/", true },
		{ "https://*.example.com", "https://example.com/", false },
		{ "https://*.example.com", "https://badexample.com/", false },
		{ "https://*.example.com", "https://a.example.com.evil/", false },
		{ "https://*.example.com", "https://a.example.com:444/", false },
		{ "https://*.example.com:*", "https://a.example.com:444/", true },
		{ "https://*.bücher.de", "https://www.xn--bcher-kva.de/", true },
		{ "http://localhost:*", "http://localhost:3000/", true },
		{ "http://[::1]:8080", "http://[0:0::1]:8080/", true },
		{ "http://127.0.0.1", "http://0x7f.1/", true },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(pattern_matches(cases[i].pattern, cases[i].url) == cases[i].match, "%s %s %s",
			      cases[i].pattern, cases[i].match ? "should match" : "should not match", cases[i].url);
}
END_TEST

START_TEST(origin_patterns_that_are_not_patterns_are_refused)
{
	static const char *const bad[] = {
		"", "example.com", "https://", "https://a.example/", "https://a.example/x", "https://a.example?q",
		"https://user@a.example", "https://a.*.example", "https://*", "https://*.*.example",
		"file://server", "https://*.10.0.0.1", "https://*.[::1]", "https://exa mple.com", "*.example.com",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		OriginPattern p;
		const char *reason = NULL;
		int r = origin_pattern_parse(&p, bad[i], &reason);

		if (r == 0)
			origin_pattern_deinit(&p);
		ck_assert_msg(r == -EINVAL && reason, "'%s' was accepted as an origin pattern", bad[i]);
	}
}
END_TEST

/* A policy from config text, for a broker running as uid 1000. */
static AccessPolicy *policy_from(const char *text)
{
	char path[] = "/tmp/cpaccess.XXXXXX", error[512];
	BrokerConfig *config = NULL;
	AccessPolicy *policy;
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	ck_assert_msg(config_load(&config, path, 1000, error, sizeof(error)) == 0, "%s", error);
	unlink(path);
	policy = config->policy;
	config->policy = NULL;
	config_free(config);
	return policy;
}

static AccessVerdict may_register(const AccessPolicy *p, uid_t uid, gid_t gid, const char *url, bool privileged,
				  const char *name, AccessDecision *d)
{
	AccessPeer peer = { .uid = uid, .gid = gid, .fd = -1 };
	Origin *o = origin_of(url);
	AccessVerdict v = access_may_register(p, &peer, o, privileged, name, d);

	origin_free(o);
	return v;
}

START_TEST(without_sections_only_the_broker_uid_may_act)
{
	AccessPolicy *p = NULL;
	AccessPeer me = { 1000, 1000, -1 }, other = { 1001, 1000, -1 };
	AccessDecision d;

	ck_assert_int_eq(access_policy_new(&p, 1000), 0);
	ck_assert_int_eq(access_may_connect(p, &me, &d), ACCESS_ALLOW);
	ck_assert_int_eq(may_register(p, 1000, 1000, "file:///x", true, "any-name", &d), ACCESS_ALLOW);
	ck_assert_int_eq(access_may_list_all(p, &me, &d), ACCESS_ALLOW);
	ck_assert_int_eq(access_may_monitor(p, &me, &d), ACCESS_ALLOW);
	ck_assert_int_eq(access_may_connect(p, &other, &d), ACCESS_E_NO_SECTION);
	ck_assert_str_eq(d.section, "");
	ck_assert_int_eq(may_register(p, 1001, 1000, "https://a.example/", false, NULL, &d), ACCESS_E_NO_SECTION);
	ck_assert_int_eq(access_may_list_all(p, &other, &d), ACCESS_E_NO_SECTION);
	access_policy_free(p);
}
END_TEST

START_TEST(the_first_matching_section_applies_and_alone)
{
	AccessPolicy *p = policy_from("[everyone]\nregister = https://everyone.example\nlist-all = yes\n"
				      "[gid 50]\nregister = https://staff.example\n"
				      "[gid 100]\nregister = https://users.example\nprivileged = yes\n"
				      "[uid 1000]\nregister = https://me.example\n"
				      "[uid 2000]\nconnect = no\nregister = *\n");
	AccessPeer peer = { 3000, 100, -1 };
	AccessDecision d;

	/* A [uid] section for the broker's own uid replaces its "everything". */
	ck_assert_int_eq(may_register(p, 1000, 50, "https://me.example/", false, NULL, &d), ACCESS_ALLOW);
	ck_assert_int_eq(may_register(p, 1000, 50, "https://staff.example/", false, NULL, &d), ACCESS_E_ORIGIN);
	ck_assert_str_eq(d.section, "[uid 1000]");
	ck_assert_int_eq(strncmp(d.where, "/tmp/cpaccess.", 14), 0);
	ck_assert_ptr_nonnull(strstr(d.where, ":9"));
	/* A group section; keys it does not set are defaults, not [everyone]'s. */
	ck_assert_int_eq(may_register(p, 3000, 50, "https://staff.example/", false, NULL, &d), ACCESS_ALLOW);
	ck_assert_int_eq(may_register(p, 3000, 50, "https://everyone.example/", false, NULL, &d), ACCESS_E_ORIGIN);
	peer.gid = 50;
	ck_assert_int_eq(access_may_list_all(p, &peer, &d), ACCESS_E_LIST_ALL);
	ck_assert_int_eq(may_register(p, 3000, 50, "https://staff.example/", true, NULL, &d), ACCESS_E_PRIVILEGED);
	ck_assert_int_eq(may_register(p, 3000, 100, "https://users.example/", true, NULL, &d), ACCESS_ALLOW);
	/* Nobody's group: [everyone]. */
	ck_assert_int_eq(may_register(p, 3000, 7, "https://everyone.example/", false, NULL, &d), ACCESS_ALLOW);
	ck_assert_str_eq(d.section, "[everyone]");
	peer.gid = 7;
	ck_assert_int_eq(access_may_list_all(p, &peer, &d), ACCESS_ALLOW);
	/* connect = no refuses everything else too. */
	peer.uid = 2000;
	ck_assert_int_eq(access_may_connect(p, &peer, &d), ACCESS_E_CONNECT);
	ck_assert_int_eq(may_register(p, 2000, 7, "https://a.example/", false, NULL, &d), ACCESS_E_CONNECT);
	ck_assert_uint_eq(access_policy_count(p), 5);
	access_policy_free(p);
}
END_TEST

START_TEST(names_navigate_and_none)
{
	AccessPolicy *p = policy_from("[uid 3000]\nregister = https://a.example\nnames = app-*, tool\n"
				      "[uid 3001]\nregister = https://a.example, https://b.example\n"
				      "navigate = https://c.example\n"
				      "[uid 3002]\nregister = https://a.example\nnavigate = none\n"
				      "[uid 3003]\nregister = none\n");
	AccessPeer peer = { 3000, 3000, -1 };
	AccessDecision d;
	Origin *a = origin_of("https://a.example/"), *c = origin_of("https://c.example/");

	ck_assert_int_eq(may_register(p, 3000, 1, "https://a.example/", false, "app-1", &d), ACCESS_ALLOW);
	ck_assert_int_eq(may_register(p, 3000, 1, "https://a.example/", false, "tool", &d), ACCESS_ALLOW);
	ck_assert_int_eq(may_register(p, 3000, 1, "https://a.example/", false, NULL, &d), ACCESS_ALLOW);
	ck_assert_int_eq(may_register(p, 3000, 1, "https://a.example/", false, "", &d), ACCESS_ALLOW);
	ck_assert_int_eq(may_register(p, 3000, 1, "https://a.example/", false, "tools", &d), ACCESS_E_NAME);
	/* navigate defaults to register... */
	ck_assert_int_eq(access_may_navigate(p, &peer, a, &d), ACCESS_ALLOW);
	ck_assert_int_eq(access_may_navigate(p, &peer, c, &d), ACCESS_E_ORIGIN);
	/* ...or is its own list... */
	peer.uid = 3001;
	ck_assert_int_eq(may_register(p, 3001, 1, "https://b.example/", false, "any", &d), ACCESS_ALLOW);
	ck_assert_int_eq(access_may_navigate(p, &peer, c, &d), ACCESS_ALLOW);
	ck_assert_int_eq(access_may_navigate(p, &peer, a, &d), ACCESS_E_ORIGIN);
	/* ...or none. */
	peer.uid = 3002;
	ck_assert_int_eq(access_may_navigate(p, &peer, a, &d), ACCESS_E_ORIGIN);
	ck_assert_int_eq(may_register(p, 3003, 1, "https://a.example/", false, NULL, &d), ACCESS_E_ORIGIN);
	origin_free(a);
	origin_free(c);
	access_policy_free(p);
}
END_TEST

static void count_key(const char *key, void *userdata)
{
	char *keys = userdata;

	strcat(keys, key);
	strcat(keys, " ");
}

START_TEST(a_reload_changes_only_the_live_limits)
{
	BrokerLimits running, wanted;
	char keys[256] = "";
	const char *reason;

	limits_init(&running);
	wanted = running;
	ck_assert_int_eq(limits_set(&wanted, "max-connections", "100", &reason), 0);
	ck_assert_int_eq(limits_set(&wanted, "max-connections-per-uid", "10", &reason), 0);
	ck_assert_int_eq(limits_set(&wanted, "handshake-timeout", "1s", &reason), 0);
	ck_assert_int_eq(limits_set(&wanted, "queue-high", "16MiB", &reason), 0);
	ck_assert_int_eq(limits_set(&wanted, "max-url-length", "4KiB", &reason), 0);
	limits_apply_live(&running, &wanted, count_key, keys);
	ck_assert_uint_eq(running.max_connections, 100);
	ck_assert_uint_eq(running.max_connections_per_uid, 10);
	ck_assert_uint_eq(running.handshake_timeout_ms, 1000);
	ck_assert_uint_eq(running.queue_high, 1024 * 1024);
	ck_assert_uint_eq(running.max_url_length, 8192);
	ck_assert_str_eq(keys, "queue-high max-url-length ");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("access");
	TCase *tc = tcase_create("access");

	tcase_add_test(tc, origin_patterns_match_as_documented);
	tcase_add_test(tc, origin_patterns_that_are_not_patterns_are_refused);
	tcase_add_test(tc, without_sections_only_the_broker_uid_may_act);
	tcase_add_test(tc, the_first_matching_section_applies_and_alone);
	tcase_add_test(tc, names_navigate_and_none);
	tcase_add_test(tc, a_reload_changes_only_the_live_limits);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
