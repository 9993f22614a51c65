/* SPDX-License-Identifier: MIT */
/* check_registry.c - the broker's window registry, targetOrigin and policy. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <check.h>

#include "broker/policy.h"
#include "fixture.h"
#include "broker/registry.h"
#include "target_origin.h"

static int owner_a, owner_b;

START_TEST(registry_assigns_increasing_ids_never_reused)
{
	Registry *r = NULL;
	Window *w1, *w2, *w3;

	ck_assert_int_eq(registry_new(&r), 0);
	ck_assert_int_eq(registry_add(r, &owner_a, 1, "https://a.example/", NULL, false, &w1, NULL), 0);
	ck_assert_int_eq(registry_add(r, &owner_a, 1, "https://a.example/", NULL, false, &w2, NULL), 0);
	ck_assert_uint_eq(w1->id, 1);
	ck_assert_uint_eq(w2->id, 2);
	registry_remove(r, w2);
	ck_assert_int_eq(registry_add(r, &owner_b, 1, "https://b.example/", NULL, false, &w3, NULL), 0);
	ck_assert_uint_eq(w3->id, 3);
	ck_assert_ptr_null(registry_find(r, 2));
	ck_assert(registry_id_assigned(r, 2));     /* closed: dropped silently */
	ck_assert(!registry_id_assigned(r, 4));    /* never existed: NotFoundError */
	ck_assert(!registry_id_assigned(r, 0));
	ck_assert_ptr_eq(registry_find(r, 3), w3);
	registry_free(r);
}
END_TEST

START_TEST(registry_names_unique_among_live_windows)
{
	Registry *r = NULL;
	const char *reason = NULL;
	Window *w1, *w2;

	ck_assert_int_eq(registry_new(&r), 0);
	ck_assert_int_eq(registry_add(r, &owner_a, 1, "https://a.example/", "main", false, &w1, NULL), 0);
	ck_assert_int_eq(registry_add(r, &owner_b, 1, "https://b.example/", "main", false, &w2, &reason),
			 REGISTRY_E_NAME_TAKEN);
	ck_assert_ptr_nonnull(reason);
	ck_assert_ptr_eq(registry_find_name(r, "main"), w1);
	registry_remove(r, w1);
	ck_assert_ptr_null(registry_find_name(r, "main"));
	ck_assert_int_eq(registry_add(r, &owner_b, 1, "https://b.example/", "main", false, &w2, NULL), 0);
	ck_assert_ptr_eq(registry_find_name(r, "main"), w2);
	/* An empty name is no name. */
	ck_assert_int_eq(registry_add(r, &owner_b, 1, "https://b.example/", "", false, &w1, NULL), 0);
	ck_assert_ptr_null(w1->name);
	registry_free(r);
}
END_TEST

START_TEST(registry_computes_origin_and_rejects_bad_urls)
{
	Registry *r = NULL;
	const char *reason = NULL;
	Window *w;

	ck_assert_int_eq(registry_new(&r), 0);
	ck_assert_int_eq(registry_add(r, &owner_a, 1, "https://A.example:443/path?q", NULL, false, &w, NULL), 0);
	ck_assert_str_eq(origin_serialization(w->origin), "https://a.example");
	ck_assert_int_eq(registry_add(r, &owner_a, 1, "http://a.example:8080/", NULL, false, &w, NULL), 0);
	ck_assert_str_eq(origin_serialization(w->origin), "http://a.example:8080");
	ck_assert_int_eq(registry_add(r, &owner_a, 1, "file:///tmp/x.html", NULL, false, &w, NULL), 0);
	ck_assert_str_eq(origin_serialization(w->origin), "null");
	ck_assert_int_eq(registry_add(r, &owner_a, 1, "not a url", NULL, false, &w, &reason), REGISTRY_E_BAD_URL);
	ck_assert_ptr_nonnull(reason);
	ck_assert_uint_eq(registry_count(r), 3);
	registry_free(r);
}
END_TEST

START_TEST(registry_navigate_changes_origin_and_generation)
{
	Registry *r = NULL;
	Window *w;

	ck_assert_int_eq(registry_new(&r), 0);
	ck_assert_int_eq(registry_add(r, &owner_a, 1, "https://a.example/", NULL, false, &w, NULL), 0);
	ck_assert_uint_eq(w->generation, 0);
	ck_assert_int_eq(registry_navigate(r, w, "https://c.example/next", NULL), 0);
	ck_assert_str_eq(origin_serialization(w->origin), "https://c.example");
	ck_assert_str_eq(w->url, "https://c.example/next");
	ck_assert_uint_eq(w->generation, 1);
	ck_assert_int_eq(registry_navigate(r, w, "::bad::", NULL), REGISTRY_E_BAD_URL);
	ck_assert_str_eq(origin_serialization(w->origin), "https://c.example");
	ck_assert_uint_eq(w->generation, 1);
	registry_free(r);
}
END_TEST

START_TEST(registry_many_windows_stay_findable_in_id_order)
{
	Registry *r = NULL;
	char name[32];
	Window *w;
	uint64_t expected = 1;

	ck_assert_int_eq(registry_new(&r), 0);
	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "w%d", i);
		ck_assert_int_eq(registry_add(r, &owner_a, 1, "https://a.example/", name, false, &w, NULL), 0);
	}
	for (int i = 0; i < 5000; i += 2)
		registry_remove(r, registry_find(r, (uint64_t)i + 1));
	ck_assert_uint_eq(registry_count(r), 2500);
	ck_assert_ptr_nonnull(registry_find_name(r, "w4999"));
	ck_assert_ptr_null(registry_find_name(r, "w4998"));
	for (w = registry_first(r); w; w = w->order_next) {
		expected++;
		ck_assert_uint_eq(w->id, expected);
		expected++;
	}
	registry_free(r);
}
END_TEST

static PolicyVerdict check(const char *window_url, const char *sender_url, const char *target_origin)
{
	Registry *r = NULL;
	Window *target, *sender;
	TargetOrigin t;
	PolicyVerdict v;

	ck_assert_int_eq(registry_new(&r), 0);
	ck_assert_int_eq(registry_add(r, &owner_a, 1, window_url, NULL, false, &target, NULL), 0);
	ck_assert_int_eq(registry_add(r, &owner_b, 1, sender_url, NULL, false, &sender, NULL), 0);
	ck_assert_int_eq(target_origin_parse(&t, target_origin, strlen(target_origin), sender->origin, NULL), 0);
	v = policy_check(target, &t);
	target_origin_deinit(&t);
	registry_free(r);
	return v;
}

START_TEST(policy_matches_target_origin_as_html_says)
{
	ck_assert_int_eq(check("https://b.example/x", "https://a.example", "*"), POLICY_DELIVER);
	ck_assert_int_eq(check("https://b.example/x", "https://a.example", "https://b.example"), POLICY_DELIVER);
	ck_assert_int_eq(check("https://b.example/x", "https://a.example", "https://b.example:443/other/path"), POLICY_DELIVER);
	ck_assert_int_eq(check("https://b.example/x", "https://a.example", "https://b.example:8443"), POLICY_E_ORIGIN_MISMATCH);
	ck_assert_int_eq(check("https://b.example/x", "https://a.example", "http://b.example"), POLICY_E_ORIGIN_MISMATCH);
	/* "/" is the sender's origin. */
	ck_assert_int_eq(check("https://a.example/x", "https://a.example/y", "/"), POLICY_DELIVER);
	ck_assert_int_eq(check("https://b.example/x", "https://a.example", "/"), POLICY_E_ORIGIN_MISMATCH);
	/* Opaque origins are same-origin only with themselves. */
	ck_assert_int_eq(check("file:///x", "https://a.example", "*"), POLICY_DELIVER);
	ck_assert_int_eq(check("file:///x", "https://a.example", "file:///x"), POLICY_E_ORIGIN_MISMATCH);
	ck_assert_int_eq(check("file:///x", "file:///x", "/"), POLICY_E_ORIGIN_MISMATCH);
}
END_TEST

START_TEST(target_origin_syntax_errors)
{
	TargetOrigin t;
	const char *reason = NULL;

	ck_assert_int_eq(target_origin_parse(&t, "not a url", 9, NULL, &reason), -EINVAL);
	ck_assert_ptr_nonnull(reason);
	ck_assert_int_eq(target_origin_parse(&t, "", 0, NULL, NULL), -EINVAL);
	ck_assert_int_eq(target_origin_parse(&t, "null", 4, NULL, NULL), -EINVAL);
	ck_assert_int_eq(target_origin_parse(&t, "**", 2, NULL, NULL), -EINVAL);
	ck_assert_int_eq(target_origin_parse(&t, "//", 2, NULL, NULL), -EINVAL);
	ck_assert_int_eq(target_origin_parse(&t, "*", 1, NULL, NULL), 0);
	ck_assert(t.any);
	ck_assert_str_eq(target_origin_serialization(&t), "*");
	target_origin_deinit(&t);
}
END_TEST

/* crosspostd's shortcut: a targetOrigin that is the target window's own
 * serialization is taken without a parse, for every kind of host, and
 * gives the answers the full parse gives; anything else is parsed. */
START_TEST(target_origin_expected_serialization_is_its_own_origin)
{
	static const char *const urls[] = {
		"https://b.example/x", "http://[::1]:8080/", "https://xn--e1afmkfd.xn--p1ai/", "http://0x7f.1/",
		"https://a.example./", "ws://a.example:81/", "blob:https://c.example/uuid",
	};
	Registry *r = NULL;
	const char *reason = NULL;

	ck_assert_int_eq(registry_new(&r), 0);
	for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
		Window *w;
		TargetOrigin fast, full;
		const char *own;

		ck_assert_int_eq(registry_add(r, &owner_a, 1, urls[i], NULL, false, &w, NULL), 0);
		own = origin_serialization(w->origin);
		ck_assert_int_eq(target_origin_parse_expecting(&fast, own, strlen(own), NULL, w->origin, NULL), 0);
		ck_assert_ptr_eq(fast.canonical, own);    /* taken as it is */
		ck_assert_ptr_null(fast.origin);
		ck_assert_int_eq(target_origin_parse_full(&full, own, strlen(own), NULL, NULL), 0);
		ck_assert_str_eq(target_origin_serialization(&full), own);
		ck_assert(target_origin_matches(&fast, w->origin));
		ck_assert(target_origin_matches(&full, w->origin));
		target_origin_deinit(&fast);
		target_origin_deinit(&full);
	}
	{
		Window *w, *opaque;
		TargetOrigin t;

		ck_assert_int_eq(registry_add(r, &owner_a, 1, "https://d.example/", NULL, false, &w, NULL), 0);
		/* Not the serialization: parsed, and still the same origin. */
		ck_assert_int_eq(target_origin_parse_expecting(&t, "https://d.example:443/p", 23, NULL, w->origin,
							       NULL), 0);
		ck_assert_ptr_nonnull(t.origin);
		ck_assert(target_origin_matches(&t, w->origin));
		target_origin_deinit(&t);
		/* A prefix, or the serialization with more after a NUL: parsed. */
		ck_assert_int_eq(target_origin_parse_expecting(&t, "https://d.exampl", 16, NULL, w->origin, NULL), 0);
		ck_assert(!target_origin_matches(&t, w->origin));
		target_origin_deinit(&t);
		ck_assert_int_eq(target_origin_parse_expecting(&t, "https://d.example\0x", 19, NULL, w->origin,
							       &reason), -EINVAL);
		/* An opaque window's "null" names nothing. */
		ck_assert_int_eq(registry_add(r, &owner_a, 1, "file:///x", NULL, false, &opaque, NULL), 0);
		ck_assert_int_eq(target_origin_parse_expecting(&t, "null", 4, NULL, opaque->origin, NULL), -EINVAL);
	}
	registry_free(r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("registry");
	TCase *tc = tcase_create("registry");

	tcase_add_test(tc, registry_assigns_increasing_ids_never_reused);
	tcase_add_test(tc, registry_names_unique_among_live_windows);
	tcase_add_test(tc, registry_computes_origin_and_rejects_bad_urls);
	tcase_add_test(tc, registry_navigate_changes_origin_and_generation);
	tcase_add_test(tc, registry_many_windows_stay_findable_in_id_order);
	tcase_add_test(tc, policy_matches_target_origin_as_html_says);
	tcase_add_test(tc, target_origin_syntax_errors);
	tcase_add_test(tc, target_origin_expected_serialization_is_its_own_origin);
	suite_add_tcase(s, tc);
	return test_run_suite(s);
}
