/* SPDX-License-Identifier: MIT */
/*
 * check_contexts.c - browsing contexts through libcrosspost against a real
 * broker: window.open with claim tokens, opener/parent/top/frames, iframe
 * removal, close() by script, documents and Window objects, origin
 * inheritance, BroadcastChannel; and the attacks on them (someone else's
 * token, a forged opener, removing another's iframe, guessing tokens), and
 * their bounds.  The HTML Standard sections each test follows are named in
 * the test; docs/architecture.md, "Browsing contexts", is the model.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "broker/document.h"
#include "fixture.h"
#include "broker/site.h"

static TestBroker broker;

static void setup(void) { test_broker_start(&broker); }
/* The broker exits cleanly: under ASan, a leak or an error would not. */
static void teardown(void) { ck_assert_int_eq(test_broker_stop(&broker), 0); }

#define OK(expr) do { int r_ = (expr); ck_assert_msg(r_ >= 0, "%s: %s: %s", #expr, cp_error_name(r_), \
						      cp_last_error_message()); } while (0)

static cp_window *top_window(cp_client *c, const char *url)
{
	cp_window *w = NULL;

	OK(cp_window_open(c, url, NULL, &w));
	return w;
}

/* window.open() by opener, claimed by host: the popup's window handle. */
static cp_window *open_popup(cp_window *opener, cp_client *host, const char *url, const char *target,
			     unsigned flags, cp_window_ref **ret_ref)
{
	char *token = NULL;
	cp_window *w = NULL;

	OK(cp_window_open_window(opener, url, target, flags, ret_ref, &token));
	ck_assert_ptr_nonnull(token);
	OK(cp_window_claim(host, token, &w));
	free(token);
	return w;
}

static cp_window *make_frame(cp_window *parent, cp_client *host, const char *url, const char *name,
			     cp_window_ref **ret_ref)
{
	char *token = NULL;
	cp_window *w = NULL;

	OK(cp_iframe_new(parent, url, name, ret_ref, &token));
	ck_assert_ptr_nonnull(token);
	OK(cp_window_claim(host, token, &w));
	free(token);
	return w;
}

static void post_json(cp_window *from, uint64_t target, const char *json, const char *target_origin)
{
	cp_value *v = test_value(json);

	OK(cp_post_message(from, target, v, target_origin));
	cp_value_free(v);
}

/* The id a relation names (0: null), freeing the reference. */
static uint64_t id_of(cp_window_ref *ref)
{
	uint64_t id = ref ? cp_window_ref_id(ref) : 0;

	cp_window_ref_free(ref);
	return id;
}

static uint64_t opener_of(cp_window *w)
{
	cp_window_ref *ref = NULL;

	OK(cp_window_opener(cp_window_proxy(w), &ref));
	return id_of(ref);
}

static bool closed_ref(cp_client *c, uint64_t id)
{
	cp_window_ref *ref = NULL;
	bool closed = false;

	OK(cp_window_ref_new(c, id, &ref));
	OK(cp_window_closed(ref, &closed));
	cp_window_ref_free(ref);
	return closed;
}

/* Reads from the broker until cond or 5 s. */
#define WAIT_UNTIL(c, cond) do { \
	for (int i_ = 0; i_ < 100 && !(cond); i_++) \
		cp_client_wait((c), 50); \
	ck_assert_msg((cond), "timed out waiting for %s", #cond); } while (0)

/* ---- the seed's example: a popup, a targetOrigin, a reply via event.source ---- */

typedef struct Replier {
	cp_window *self;
	int replies;
} Replier;

/* The popup's page: event.source.postMessage(data, event.origin). */
static void reply_to_source(cp_window *w, const cp_event *ev, void *userdata)
{
	Replier *r = userdata;
	cp_window_ref *source = NULL;
	cp_value *answer = test_value("{\"reply\":\"from the popup\"}");

	OK(cp_event_source(ev, &source));
	ck_assert_ptr_nonnull(source);
	OK(cp_post_message(w, cp_window_ref_id(source), answer, cp_event_origin(ev)));
	cp_value_free(answer);
	cp_window_ref_free(source);
	r->replies++;
}

START_TEST(open_a_popup_post_with_a_target_origin_and_get_the_reply_through_event_source)
{
	/* HTML 7.2.2.1 window.open(), 9.3.3 postMessage, MessageEvent.source */
	cp_client *c_top = test_client(&broker), *c_popup = test_client(&broker);
	cp_window *top = top_window(c_top, "https://shop.example/cart");
	cp_window_ref *popup_ref = NULL;
	cp_window *popup = open_popup(top, c_popup, "https://pay.example/checkout", "", 0, &popup_ref);
	Replier replier = { .self = popup };
	TestInbox inbox = { 0 };

	ck_assert_str_eq(cp_window_origin(popup), "https://pay.example");
	ck_assert_uint_eq(opener_of(popup), cp_window_id(top));
	cp_window_set_callback(popup, reply_to_source, &replier);
	cp_window_set_callback(top, test_inbox_callback, &inbox);
	/* dropped: the popup is not at that origin */
	post_json(top, cp_window_ref_id(popup_ref), "\"wrong\"", "https://evil.example");
	post_json(top, cp_window_ref_id(popup_ref), "{\"amount\":12}", "https://pay.example");
	WAIT_UNTIL(c_popup, replier.replies == 1);
	test_inbox_wait(c_top, &inbox, 1, 5000);
	ck_assert_str_eq(inbox.json[0], "{\"reply\":\"from the popup\"}");
	ck_assert_str_eq(inbox.origin[0], "https://pay.example");
	ck_assert_uint_eq(inbox.source[0], cp_window_ref_id(popup_ref));
	test_inbox_clear(&inbox);
	cp_window_ref_free(popup_ref);
	cp_client_free(c_popup);
	cp_client_free(c_top);
}
END_TEST

/* ---- claims --------------------------------------------------------------- */

START_TEST(a_claim_token_is_good_once)
{
	cp_client *a = test_client(&broker), *b = test_client(&broker), *thief = test_client(&broker);
	cp_window *top = top_window(a, "https://a.example/");
	cp_window *w = NULL, *again = NULL;
	char *token = NULL;

	OK(cp_window_open_window(top, "https://b.example/", NULL, 0, NULL, &token));
	ck_assert_uint_eq(strlen(token), 32);
	OK(cp_window_claim(b, token, &w));
	/* someone else presenting the same token gets nothing */
	ck_assert_int_eq(cp_window_claim(thief, token, &again), CP_ERR_NOT_FOUND);
	ck_assert_int_eq(cp_window_claim(b, token, &again), CP_ERR_NOT_FOUND);
	ck_assert_int_eq(cp_window_claim(thief, "00000000000000000000000000000000", &again), CP_ERR_NOT_FOUND);
	ck_assert_int_eq(cp_window_claim(thief, "", &again), CP_ERR_NOT_FOUND);
	free(token);
	cp_client_free(thief);
	cp_client_free(b);
	cp_client_free(a);
}
END_TEST

START_TEST(a_pending_window_receives_nothing_and_a_claim_expires)
{
	static const char *const args[] = { "--limit", "claim-timeout=300ms", NULL };
	cp_client *a, *b;
	cp_window *top, *w = NULL;
	cp_window_ref *ref = NULL;
	TestInbox inbox = { 0 };
	char *token = NULL, *late = NULL;

	test_broker_stop(&broker);
	test_broker_start_args(&broker, args, 0);
	a = test_client(&broker);
	b = test_client(&broker);
	top = top_window(a, "https://a.example/");
	OK(cp_window_open_window(top, "https://b.example/", "", 0, &ref, &token));
	/* no document yet: dropped (as to a browser's initial about:blank) */
	post_json(top, cp_window_ref_id(ref), "\"too early\"", "*");
	OK(cp_client_sync(a, 5000));
	OK(cp_window_claim(b, token, &w));
	cp_window_set_callback(w, test_inbox_callback, &inbox);
	post_json(top, cp_window_ref_id(ref), "\"now\"", "*");
	test_inbox_wait(b, &inbox, 1, 5000);
	ck_assert_str_eq(inbox.json[0], "\"now\"");
	/* a window nobody claims is discarded after claim-timeout */
	OK(cp_window_open_window(top, "https://c.example/", "", 0, NULL, &late));
	for (int i = 0; i < 40; i++)
		cp_client_wait(a, 50);
	ck_assert_int_eq(cp_window_claim(b, late, &w), CP_ERR_NOT_FOUND);
	test_inbox_clear(&inbox);
	free(token);
	free(late);
	cp_window_ref_free(ref);
	cp_client_free(b);
	cp_client_free(a);
}
END_TEST

START_TEST(pending_claims_per_connection_are_bounded)
{
	static const char *const args[] = { "--limit", "max-pending-claims=3", NULL };
	cp_client *a;
	cp_window *top;
	char *tokens[4] = { 0 };

	test_broker_stop(&broker);
	test_broker_start_args(&broker, args, 0);
	a = test_client(&broker);
	top = top_window(a, "https://a.example/");
	for (int i = 0; i < 3; i++)
		OK(cp_window_open_window(top, "https://b.example/", "", 0, NULL, &tokens[i]));
	ck_assert_int_eq(cp_window_open_window(top, "https://b.example/", "", 0, NULL, &tokens[3]), CP_ERR_QUOTA);
	ck_assert_int_eq(cp_iframe_new(top, "https://b.example/", NULL, NULL, &tokens[3]), CP_ERR_QUOTA);
	for (int i = 0; i < 3; i++)
		free(tokens[i]);
	cp_client_free(a);
}
END_TEST

START_TEST(the_claiming_uid_is_the_one_the_policy_checks)
{
	/* docs/security.md "Policy": a window another opened or framed is
	 * hosted by whoever claims it, so the claimer's uid must be allowed
	 * the window's origin (and name, privilege); a navigation another
	 * window asks for must be one the host's uid may make. */
	static const char config[] = "[uid 0]\nregister = https://ok.example, https://*.ok.example\n";
	char path[] = "/tmp/cp-contexts-policy.XXXXXX";
	const char *args[] = { "--config", path, NULL };
	cp_client *a, *b;
	cp_window *top, *w = NULL;
	cp_window_ref *ref = NULL;
	char *token = NULL;
	int fd;

	if (getuid() != 0)
		return;    /* the section is for uid 0, the broker's here */
	fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, config, sizeof(config) - 1), (ssize_t)(sizeof(config) - 1));
	close(fd);
	test_broker_stop(&broker);
	test_broker_start_args(&broker, args, 0);
	unlink(path);
	a = test_client(&broker);
	b = test_client(&broker);
	top = top_window(a, "https://ok.example/");
	OK(cp_window_open_window(top, "https://evil.example/", "", 0, &ref, &token));
	ck_assert_int_eq(cp_window_claim(b, token, &w), CP_ERR_SECURITY);
	free(token);
	cp_window_ref_free(ref);
	OK(cp_window_open_window(top, "https://www.ok.example/", "named", 0, &ref, &token));
	OK(cp_window_claim(b, token, &w));
	free(token);
	/* window.open() navigating it somewhere its host may not go: refused */
	ck_assert_int_eq(cp_window_open_window(top, "https://evil.example/", "named", 0, NULL, &token),
			 CP_ERR_SECURITY);
	ck_assert_str_eq(cp_window_origin(w), "https://www.ok.example");
	cp_window_ref_free(ref);
	cp_client_free(b);
	cp_client_free(a);
}
END_TEST

/* ---- window.open targets --------------------------------------------------- */

START_TEST(open_with_the_name_of_a_live_window_navigates_it)
{
	/* HTML 7.3.1.7 the rules for choosing a navigable; window open steps */
	cp_client *a = test_client(&broker), *b = test_client(&broker);
	cp_window *top = top_window(a, "https://a.example/");
	cp_window_ref *first = NULL, *second = NULL;
	cp_window *popup = open_popup(top, b, "https://b.example/one", "help", 0, &first);
	char *token = NULL;

	ck_assert_str_eq(cp_window_name(popup), "help");
	OK(cp_window_open_window(top, "https://c.example/two", "help", 0, &second, &token));
	ck_assert_ptr_null(token);                 /* no new window */
	ck_assert_uint_eq(cp_window_ref_id(second), cp_window_ref_id(first));
	WAIT_UNTIL(b, strcmp(cp_window_origin(popup), "https://c.example") == 0);
	ck_assert_str_eq(cp_window_url(popup), "https://c.example/two");
	/* an empty URL chooses it without navigating */
	cp_window_ref_free(second);
	OK(cp_window_open_window(top, "", "help", 0, &second, &token));
	ck_assert_ptr_null(token);
	ck_assert_uint_eq(cp_window_ref_id(second), cp_window_ref_id(first));
	/* _blank always makes a new one */
	cp_window_ref_free(second);
	OK(cp_window_open_window(top, "https://c.example/", "_blank", 0, &second, &token));
	ck_assert_ptr_nonnull(token);
	ck_assert_uint_ne(cp_window_ref_id(second), cp_window_ref_id(first));
	free(token);
	cp_window_ref_free(first);
	cp_window_ref_free(second);
	cp_client_free(b);
	cp_client_free(a);
}
END_TEST

START_TEST(self_parent_and_top_targets)
{
	cp_client *a = test_client(&broker), *f = test_client(&broker);
	cp_window *top = top_window(a, "https://a.example/");
	cp_window_ref *frame_ref = NULL, *got = NULL;
	cp_window *frame = make_frame(top, f, "https://a.example/frame", "inner", &frame_ref);
	char *token = NULL;

	OK(cp_window_open_window(frame, "", "_self", 0, &got, &token));
	ck_assert_uint_eq(id_of(got), cp_window_id(frame));
	OK(cp_window_open_window(frame, "", "_PARENT", 0, &got, &token));
	ck_assert_uint_eq(id_of(got), cp_window_id(top));
	OK(cp_window_open_window(frame, "", "_top", 0, &got, &token));
	ck_assert_uint_eq(id_of(got), cp_window_id(top));
	/* a top-level window is its own parent */
	OK(cp_window_open_window(top, "", "_parent", 0, &got, &token));
	ck_assert_uint_eq(id_of(got), cp_window_id(top));
	ck_assert_ptr_null(token);
	/* the parent finds its frame by name, and navigates it */
	OK(cp_window_open_window(top, "https://b.example/", "inner", 0, &got, &token));
	ck_assert_uint_eq(id_of(got), cp_window_id(frame));
	WAIT_UNTIL(f, strcmp(cp_window_origin(frame), "https://b.example") == 0);
	cp_window_ref_free(frame_ref);
	cp_client_free(f);
	cp_client_free(a);
}
END_TEST

START_TEST(a_frame_that_navigates_its_top_goes_with_the_old_document)
{
	/* window.open(url, "_top") from a frame: the top gets a new
	 * document, whose frames the old one's were, so the frame that asked
	 * is discarded by its own call (the broker must not use it after). */
	cp_client *a = test_client(&broker), *f = test_client(&broker);
	cp_window *top = top_window(a, "https://a.example/");
	cp_window *frame = make_frame(top, f, "https://b.example/", NULL, NULL);
	cp_window_ref *got = NULL;
	char *token = NULL;

	OK(cp_window_open_window(frame, "https://c.example/", "_top", 0, &got, &token));
	ck_assert_ptr_null(token);
	ck_assert_uint_eq(id_of(got), cp_window_id(top));
	ck_assert(cp_window_is_closed(frame));
	WAIT_UNTIL(a, strcmp(cp_window_origin(top), "https://c.example") == 0);
	/* its opener was discarded: null */
	ck_assert_uint_eq(opener_of(top), 0);
	cp_client_free(f);
	cp_client_free(a);
}
END_TEST

START_TEST(noopener_gives_no_reference_no_opener_and_no_lookup)
{
	cp_client *a = test_client(&broker), *b = test_client(&broker);
	cp_window *top = top_window(a, "https://a.example/");
	cp_window_ref *ref = (cp_window_ref *)1, *named = NULL;
	cp_window *named_w = open_popup(top, b, "https://b.example/", "x", 0, &named);
	char *token = NULL;
	cp_window *popup = NULL;

	OK(cp_window_open_window(top, "about:blank", "x", CP_OPEN_NOOPENER, &ref, &token));
	ck_assert_ptr_null(ref);                   /* window.open() returned null */
	ck_assert_ptr_nonnull(token);              /* a new window even though "x" exists */
	OK(cp_window_claim(b, token, &popup));
	ck_assert_uint_ne(cp_window_id(popup), cp_window_id(named_w));
	ck_assert_uint_eq(opener_of(popup), 0);
	/* about:blank with no creator: an opaque origin */
	ck_assert_str_eq(cp_window_origin(popup), "null");
	free(token);
	cp_window_ref_free(named);
	cp_client_free(b);
	cp_client_free(a);
}
END_TEST

START_TEST(a_name_in_an_unrelated_tree_is_reached_only_when_familiar)
{
	/* HTML 7.3.2.2 "familiar with"; find a navigable by target name */
	cp_client *a = test_client(&broker), *z = test_client(&broker), *h = test_client(&broker);
	cp_window *mine = top_window(a, "https://a.example/");
	cp_window *theirs = top_window(z, "https://z.example/");
	cp_window *same = top_window(z, "https://a.example/other");
	cp_window_ref *ref = NULL, *got = NULL;
	cp_window *named = open_popup(theirs, h, "https://z.example/p", "target", 0, &ref);
	cp_window *named_same = NULL;
	char *token = NULL;

	(void)named;
	/* z's popup is cross-origin and unrelated to a: not found, a new window */
	OK(cp_window_open_window(mine, "https://a.example/x", "target", 0, &got, &token));
	ck_assert_ptr_nonnull(token);
	ck_assert_uint_ne(id_of(got), cp_window_ref_id(ref));
	free(token);
	token = NULL;
	/* a same-origin window's popup is familiar: found */
	cp_window_ref_free(ref);
	named_same = open_popup(same, h, "https://q.example/", "shared", 0, &ref);
	(void)named_same;
	OK(cp_window_open_window(mine, "", "shared", 0, &got, &token));
	ck_assert_ptr_null(token);
	ck_assert_uint_eq(id_of(got), cp_window_ref_id(ref));
	cp_window_ref_free(ref);
	cp_client_free(h);
	cp_client_free(z);
	cp_client_free(a);
}
END_TEST

/* ---- frames --------------------------------------------------------------- */

START_TEST(frames_parent_top_length_index_and_name)
{
	/* HTML 7.2.2.2 indexed access, 7.2.2.3 named access, 7.2.2.4 top/parent */
	cp_client *a = test_client(&broker), *f = test_client(&broker);
	cp_window *top = top_window(a, "https://a.example/");
	cp_window_ref *r1 = NULL, *r2 = NULL, *r3 = NULL, *got = NULL;
	cp_window *f1 = make_frame(top, f, "https://a.example/1", "one", &r1);
	cp_window *f2 = make_frame(top, f, "https://b.example/2", "two", &r2);
	cp_window *f3 = make_frame(f1, f, "about:srcdoc", NULL, &r3);
	size_t n = 0;

	OK(cp_window_frame_count(cp_window_proxy(top), &n));
	ck_assert_uint_eq(n, 2);
	OK(cp_window_frame(cp_window_proxy(top), 0, &got));
	ck_assert_uint_eq(id_of(got), cp_window_id(f1));
	OK(cp_window_frame(cp_window_proxy(top), 1, &got));
	ck_assert_uint_eq(id_of(got), cp_window_id(f2));
	OK(cp_window_frame(cp_window_proxy(top), 2, &got));
	ck_assert_ptr_null(got);
	OK(cp_window_frame_named(cp_window_proxy(top), "one", &got));
	ck_assert_uint_eq(id_of(got), cp_window_id(f1));
	/* a cross-origin frame's name is not exposed */
	OK(cp_window_frame_named(cp_window_proxy(top), "two", &got));
	ck_assert_ptr_null(got);
	OK(cp_window_parent(cp_window_proxy(f3), &got));
	ck_assert_uint_eq(id_of(got), cp_window_id(f1));
	OK(cp_window_top(cp_window_proxy(f3), &got));
	ck_assert_uint_eq(id_of(got), cp_window_id(top));
	OK(cp_window_parent(cp_window_proxy(top), &got));
	ck_assert_uint_eq(id_of(got), cp_window_id(top));
	/* about:srcdoc takes the parent's origin */
	ck_assert_str_eq(cp_window_origin(f3), "https://a.example");
	ck_assert_uint_eq(opener_of(f1), 0);
	cp_window_ref_free(r1);
	cp_window_ref_free(r2);
	cp_window_ref_free(r3);
	cp_client_free(f);
	cp_client_free(a);
}
END_TEST

START_TEST(removing_an_iframe_discards_it_and_its_descendants)
{
	cp_client *a = test_client(&broker), *f = test_client(&broker), *g = test_client(&broker);
	cp_window *top = top_window(a, "https://a.example/");
	cp_window_ref *r1 = NULL, *r2 = NULL, *r3 = NULL, *got = NULL;
	cp_window *f1 = make_frame(top, f, "https://b.example/", NULL, &r1);
	cp_window *f2 = make_frame(top, f, "https://c.example/", NULL, &r2);
	cp_window *deep = make_frame(f1, g, "https://d.example/", NULL, &r3);
	size_t n = 0;

	OK(cp_iframe_remove(top, r1));
	WAIT_UNTIL(f, cp_window_is_closed(f1));
	WAIT_UNTIL(g, cp_window_is_closed(deep));
	ck_assert(!cp_window_is_closed(f2));
	ck_assert(closed_ref(a, cp_window_ref_id(r1)));
	ck_assert(closed_ref(a, cp_window_ref_id(r3)));
	/* frames[0] is the next one now; a removed frame's parent and top are null */
	OK(cp_window_frame(cp_window_proxy(top), 0, &got));
	ck_assert_uint_eq(id_of(got), cp_window_id(f2));
	OK(cp_window_frame_count(cp_window_proxy(top), &n));
	ck_assert_uint_eq(n, 1);
	OK(cp_window_parent(r1, &got));
	ck_assert_ptr_null(got);
	OK(cp_window_top(r1, &got));
	ck_assert_ptr_null(got);
	/* posting from a discarded window fails here, and is no violation */
	{
		cp_value *v = test_value("1");

		ck_assert_int_eq(cp_post_message(f1, cp_window_id(top), v, "*"), CP_ERR_INVALID_STATE);
		cp_value_free(v);
	}
	/* removing it again: it is not a frame of top any more */
	ck_assert_int_eq(cp_iframe_remove(top, r1), CP_ERR_NOT_FOUND);
	OK(cp_window_close(f1));
	cp_window_ref_free(r1);
	cp_window_ref_free(r2);
	cp_window_ref_free(r3);
	cp_client_free(g);
	cp_client_free(f);
	cp_client_free(a);
}
END_TEST

START_TEST(closing_a_top_level_window_discards_its_frame_tree)
{
	cp_client *a = test_client(&broker), *f = test_client(&broker), *p = test_client(&broker);
	cp_window *top = top_window(a, "https://a.example/");
	cp_window_ref *r1 = NULL, *rp = NULL;
	cp_window *f1 = make_frame(top, f, "https://b.example/", NULL, &r1);
	cp_window *popup = open_popup(top, p, "https://c.example/", "", 0, &rp);
	uint64_t top_id = cp_window_id(top);

	OK(cp_window_close(top));
	WAIT_UNTIL(f, cp_window_is_closed(f1));
	/* a popup is not part of its opener's tree: it stays, and its
	 * discarded opener reads as null (WPT html/browsers/windows/
	 * auxiliary-browsing-contexts/opener-closed.html) */
	ck_assert(!cp_window_is_closed(popup));
	ck_assert_uint_eq(opener_of(popup), 0);
	ck_assert(closed_ref(p, top_id));
	cp_window_ref_free(r1);
	cp_window_ref_free(rp);
	cp_client_free(p);
	cp_client_free(f);
	cp_client_free(a);
}
END_TEST

START_TEST(a_process_that_dies_closes_its_windows_and_their_frames)
{
	cp_client *a = test_client(&broker), *f = test_client(&broker);
	cp_window *top = top_window(a, "https://a.example/");
	cp_window_ref *r1 = NULL;
	cp_window *f1 = make_frame(top, f, "https://b.example/", NULL, &r1);
	uint64_t top_id = cp_window_id(top);
	cp_client *watcher = test_client(&broker);

	cp_client_free(a);    /* the process of top goes away */
	WAIT_UNTIL(f, cp_window_is_closed(f1));
	ck_assert(closed_ref(watcher, top_id));
	cp_window_ref_free(r1);
	cp_client_free(watcher);
	cp_client_free(f);
}
END_TEST

START_TEST(frame_depth_and_tree_size_are_bounded)
{
	static const char *const args[] = { "--limit", "max-frame-depth=2", "--limit", "max-frames=4", NULL };
	cp_client *a;
	cp_window *top, *d1, *d2;
	char *token = NULL;

	test_broker_stop(&broker);
	test_broker_start_args(&broker, args, 0);
	a = test_client(&broker);
	top = top_window(a, "https://a.example/");
	d1 = make_frame(top, a, "https://a.example/1", NULL, NULL);
	d2 = make_frame(d1, a, "https://a.example/2", NULL, NULL);
	ck_assert_int_eq(cp_iframe_new(d2, "https://a.example/3", NULL, NULL, &token), CP_ERR_QUOTA);
	make_frame(top, a, "https://a.example/4", NULL, NULL);    /* 4 windows in the tree */
	ck_assert_int_eq(cp_iframe_new(top, "https://a.example/5", NULL, NULL, &token), CP_ERR_QUOTA);
	cp_client_free(a);
}
END_TEST

/* ---- close() by script ------------------------------------------------------ */

START_TEST(close_by_script_only_for_script_closable_familiar_top_level_windows)
{
	/* HTML 7.2.2.1 close(), "script-closable", "familiar with" */
	cp_client *a = test_client(&broker), *b = test_client(&broker), *z = test_client(&broker);
	cp_window *top = top_window(a, "https://a.example/");
	cp_window *stranger = top_window(z, "https://z.example/");
	cp_window_ref *popup_ref = NULL, *frame_ref = NULL, *top_ref = NULL;
	cp_window *popup = open_popup(top, b, "https://b.example/", "", 0, &popup_ref);
	cp_window *frame = make_frame(top, b, "https://a.example/f", NULL, &frame_ref);

	/* a frame is not top-level: ignored */
	ck_assert_int_eq(cp_window_ref_close(top, frame_ref), 0);
	ck_assert(!cp_window_is_closed(frame));
	/* an unrelated cross-origin window is not familiar with the popup */
	ck_assert_int_eq(cp_window_ref_close(stranger, popup_ref), 0);
	ck_assert(!closed_ref(a, cp_window_ref_id(popup_ref)));
	/* a window the user opened and navigated is not script-closable */
	OK(cp_window_navigate(top, "https://a.example/page2"));
	OK(cp_window_ref_new(b, cp_window_id(top), &top_ref));
	ck_assert_int_eq(cp_window_ref_close(popup, top_ref), 0);
	ck_assert(!closed_ref(b, cp_window_id(top)));
	/* the opener closes the popup it opened */
	ck_assert_int_eq(cp_window_ref_close(top, popup_ref), 1);
	WAIT_UNTIL(b, cp_window_is_closed(popup));
	ck_assert(closed_ref(a, cp_window_ref_id(popup_ref)));
	/* closing it again does nothing */
	ck_assert_int_eq(cp_window_ref_close(top, popup_ref), 0);
	cp_window_ref_free(popup_ref);
	cp_window_ref_free(frame_ref);
	cp_window_ref_free(top_ref);
	cp_client_free(z);
	cp_client_free(b);
	cp_client_free(a);
}
END_TEST

START_TEST(a_window_closes_itself_when_it_never_navigated)
{
	cp_client *a = test_client(&broker);
	cp_window *w = top_window(a, "https://a.example/");

	ck_assert_int_eq(cp_window_ref_close(w, cp_window_proxy(w)), 1);
	ck_assert(cp_window_is_closed(w));
	OK(cp_window_close(w));
	cp_client_free(a);
}
END_TEST

/* ---- documents ----------------------------------------------------------- */

START_TEST(messages_for_the_old_document_are_never_dispatched_to_the_new_one)
{
	/* HTML 9.3.3 window post message steps (the task is queued on the
	 * Window current at post time), 8.1.7.3 "fully active" */
	cp_client *a = test_client(&broker), *b = test_client(&broker);
	cp_window *sender = top_window(a, "https://a.example/");
	cp_window *target = top_window(b, "https://b.example/");
	TestInbox inbox = { 0 };

	/* no callback yet: the events wait, undispatched */
	post_json(sender, cp_window_id(target), "\"for the old document, any origin\"", "*");
	post_json(sender, cp_window_id(target), "\"for the old document, b\"", "https://b.example");
	OK(cp_client_sync(a, 5000));
	OK(cp_window_navigate(target, "https://b.example/next"));   /* same origin: a new Window all the same */
	post_json(sender, cp_window_id(target), "\"for the new document\"", "*");
	cp_window_set_callback(target, test_inbox_callback, &inbox);
	test_inbox_wait(b, &inbox, 1, 5000);
	for (int i = 0; i < 4; i++)
		cp_client_wait(b, 25);
	ck_assert_uint_eq(inbox.count, 1);
	ck_assert_str_eq(inbox.json[0], "\"for the new document\"");
	test_inbox_clear(&inbox);
	cp_client_free(b);
	cp_client_free(a);
}
END_TEST

START_TEST(the_initial_about_blank_keeps_its_window_for_a_same_origin_document)
{
	/* HTML 7.2.2 "The Document object associated with a Window object can
	 * change in exactly one case": the initial about:blank replaced */
	cp_client *a = test_client(&broker), *b = test_client(&broker);
	cp_window *opener = top_window(a, "https://a.example/");
	cp_window_ref *ref = NULL;
	cp_window *popup = open_popup(opener, b, "", "", 0, &ref);
	TestInbox inbox = { 0 };

	ck_assert_str_eq(cp_window_url(popup), "about:blank");
	ck_assert_str_eq(cp_window_origin(popup), "https://a.example");   /* the opener's */
	post_json(opener, cp_window_ref_id(ref), "\"posted to about:blank\"", "https://a.example");
	OK(cp_client_sync(a, 5000));
	OK(cp_window_navigate(popup, "https://a.example/loaded"));
	cp_window_set_callback(popup, test_inbox_callback, &inbox);
	test_inbox_wait(b, &inbox, 1, 5000);
	ck_assert_str_eq(inbox.json[0], "\"posted to about:blank\"");
	test_inbox_clear(&inbox);
	cp_window_ref_free(ref);
	cp_client_free(b);
	cp_client_free(a);
}
END_TEST

static void count_port(cp_port *port, const cp_event *ev, void *userdata)
{
	(void)port;
	(void)ev;
	(*(int *)userdata)++;
}

START_TEST(the_old_documents_ports_stop_delivering)
{
	/* WPT webmessaging/multi-globals/messageport-current.html */
	cp_client *a = test_client(&broker);
	cp_window *w = top_window(a, "https://a.example/");
	cp_port *p1 = NULL, *p2 = NULL;
	cp_value *v = test_value("\"boo\"");
	int got = 0;

	OK(cp_channel_new(w, &p1, &p2));
	cp_port_set_callback(p1, count_port, &got);
	OK(cp_window_navigate(w, "https://a.example/blank"));
	ck_assert_int_eq(cp_port_get_state(p1), CP_PORT_CLOSED);
	ck_assert_int_eq(cp_port_get_state(p2), CP_PORT_CLOSED);
	OK(cp_port_post_message(p2, v, NULL, 0));     /* does nothing, throws nothing */
	for (int i = 0; i < 4; i++)
		cp_client_wait(a, 25);
	ck_assert_int_eq(got, 0);
	cp_value_free(v);
	cp_client_free(a);
}
END_TEST

START_TEST(origins_inherited_by_about_blank_srcdoc_and_opaque_for_data)
{
	cp_client *a = test_client(&broker), *b = test_client(&broker);
	cp_window *top = top_window(a, "https://a.example/");
	cp_window *blank = make_frame(top, b, "about:blank#x", NULL, NULL);
	cp_window *data = make_frame(top, b, "data:text/html,hi", NULL, NULL);
	cp_window *js = open_popup(top, b, "javascript:void(0)", "", 0, NULL);

	ck_assert_str_eq(cp_window_origin(blank), "https://a.example");
	ck_assert_str_eq(cp_window_origin(data), "null");
	/* a new window at a javascript: URL shows its initial about:blank */
	ck_assert_str_eq(cp_window_url(js), "about:blank");
	ck_assert_str_eq(cp_window_origin(js), "https://a.example");
	/* a javascript: URL keeps the document */
	OK(cp_window_navigate(data, "javascript:alert(1)"));
	ck_assert_str_eq(cp_window_url(data), "data:text/html,hi");
	ck_assert_str_eq(cp_window_origin(data), "null");
	/* navigating to about:blank keeps the navigator's origin; the old
	 * document's frames go with it */
	OK(cp_window_navigate(top, "about:blank"));
	ck_assert_str_eq(cp_window_origin(top), "https://a.example");
	WAIT_UNTIL(b, cp_window_is_closed(data) && cp_window_is_closed(blank));
	cp_client_free(b);
	cp_client_free(a);
}
END_TEST

/* ---- attacks ---------------------------------------------------------- */

START_TEST(a_forged_opener_or_parent_closes_the_connection)
{
	TestBystander by;
	int fd;
	uint64_t own;
	Crosspost__Header h = CROSSPOST__HEADER__INIT;
	Crosspost__OpenWindow open = CROSSPOST__OPEN_WINDOW__INIT;

	test_bystander_open(&broker, &by);
	fd = test_raw_connect(&broker);
	own = test_raw_register(fd, "https://evil.example/");
	(void)own;
	open.opener_window_id = by.window;     /* someone else's window */
	open.url = (char *)"https://evil.example/x";
	open.target = (char *)"";
	h.serial = 50;
	h.body_case = CROSSPOST__HEADER__BODY_OPEN_WINDOW;
	h.open_window = &open;
	test_raw_send(fd, &h, NULL, 0);
	ck_assert(test_raw_wait_closed(fd));
	close(fd);
	ck_assert_int_ge(test_broker_log_count(&broker, "window.open() by window"), 1);
	test_bystander_check(&by);
	test_bystander_close(&by);
}
END_TEST

START_TEST(another_windows_iframe_cannot_be_removed)
{
	cp_client *a = test_client(&broker), *f = test_client(&broker), *evil = test_client(&broker);
	cp_window *top = top_window(a, "https://a.example/");
	cp_window *mine = top_window(evil, "https://evil.example/");
	cp_window_ref *r1 = NULL;
	cp_window *f1 = make_frame(top, f, "https://b.example/", NULL, &r1);
	cp_window_ref *theirs = NULL;

	OK(cp_window_ref_new(evil, cp_window_ref_id(r1), &theirs));
	ck_assert_int_eq(cp_iframe_remove(mine, theirs), CP_ERR_NOT_FOUND);
	ck_assert(!closed_ref(evil, cp_window_id(f1)));
	/* nor closed by script: it is not top-level */
	ck_assert_int_eq(cp_window_ref_close(mine, theirs), 0);
	ck_assert(!closed_ref(evil, cp_window_id(f1)));
	/* the frame's own process cannot remove it either: only its parent can */
	ck_assert_int_eq(cp_iframe_remove(f1, r1), CP_ERR_NOT_FOUND);
	cp_window_ref_free(theirs);
	cp_window_ref_free(r1);
	cp_client_free(evil);
	cp_client_free(f);
	cp_client_free(a);
}
END_TEST

START_TEST(guessing_claim_tokens_closes_the_connection)
{
	int fd = test_raw_connect(&broker);
	Crosspost__Header h = CROSSPOST__HEADER__INIT;
	Crosspost__Claim claim = CROSSPOST__CLAIM__INIT;
	Crosspost__Header *answer;
	char token[40];
	int answered = 0;

	test_raw_register(fd, "https://guess.example/");
	h.body_case = CROSSPOST__HEADER__BODY_CLAIM;
	h.claim = &claim;
	for (int i = 0; i < 100; i++) {
		snprintf(token, sizeof(token), "%032x", i);
		claim.token = token;
		h.serial = (uint32_t)(100 + i);
		if (test_raw_try_send(fd, &h, NULL, 0, NULL, 0) < 0)
			break;
		answer = test_raw_wait_reply(fd, h.serial, 2000);
		if (!answer)
			break;
		ck_assert_int_eq(answer->body_case, CROSSPOST__HEADER__BODY_ERROR);
		ck_assert_int_eq(answer->error->code, CROSSPOST__ERROR_CODE__ERROR_NOT_FOUND);
		crosspost__header__free_unpacked(answer, NULL);
		answered++;
	}
	ck_assert_int_lt(answered, 100);
	ck_assert_int_ge(answered, 60);
	ck_assert_int_eq(test_broker_log_count(&broker, "a claim token that names no window"), 1);
	close(fd);
}
END_TEST

START_TEST(another_connections_channel_and_ids_never_assigned)
{
	/* A BroadcastChannel id is checked against the connection that opened
	 * it; relations of an id never assigned are NotFoundError. */
	cp_client *a = test_client(&broker);
	cp_window *w = top_window(a, "https://a.example/");
	cp_broadcast *bc = NULL;
	cp_window_ref *ghost = NULL, *got = NULL;
	Crosspost__Header h = CROSSPOST__HEADER__INIT, *answer;
	Crosspost__BroadcastPost post = CROSSPOST__BROADCAST_POST__INIT;
	bool closed;
	int fd;

	OK(cp_broadcast_new(w, "mine", &bc));
	fd = test_raw_connect(&broker);
	test_raw_register(fd, "https://a.example/");
	post.channel_id = 1;      /* a's */
	h.serial = 77;
	h.body_case = CROSSPOST__HEADER__BODY_BROADCAST_POST;
	h.broadcast_post = &post;
	test_raw_send(fd, &h, "x", 1);
	answer = test_raw_wait_reply(fd, 77, 5000);
	ck_assert_ptr_nonnull(answer);
	ck_assert_int_eq(answer->body_case, CROSSPOST__HEADER__BODY_ERROR);
	ck_assert_int_eq(answer->error->code, CROSSPOST__ERROR_CODE__ERROR_INVALID_STATE);
	crosspost__header__free_unpacked(answer, NULL);
	close(fd);
	OK(cp_window_ref_new(a, 999999, &ghost));
	ck_assert_int_eq(cp_window_closed(ghost, &closed), CP_ERR_NOT_FOUND);
	ck_assert_int_eq(cp_window_opener(ghost, &got), CP_ERR_NOT_FOUND);
	cp_window_ref_free(ghost);
	cp_client_free(a);
}
END_TEST

/* ---- BroadcastChannel -------------------------------------------------- */

typedef struct BcInbox {
	int count;
	char *json[16];
	char origin[16][64];
	uint64_t source[16];
} BcInbox;

static void on_broadcast(cp_broadcast *bc, const cp_event *ev, void *userdata)
{
	BcInbox *in = userdata;

	ck_assert_ptr_eq(cp_event_broadcast(ev), bc);
	ck_assert_int_lt(in->count, 16);
	in->json[in->count] = cp_value_to_json(cp_event_data(ev));
	snprintf(in->origin[in->count], sizeof(in->origin[0]), "%s", cp_event_origin(ev));
	in->source[in->count] = cp_event_source_id(ev);
	in->count++;
}

START_TEST(broadcast_reaches_same_origin_same_site_channels_but_not_the_sender)
{
	/* HTML 9.5 Broadcasting to other browsing contexts; partitioned by
	 * top-level site as browsers partition storage */
	cp_client *a = test_client(&broker), *b = test_client(&broker), *f = test_client(&broker);
	cp_window *w1 = top_window(a, "https://app.example/1");
	cp_window *w2 = top_window(b, "https://app.example/2");
	cp_window *other = top_window(b, "https://other.example/");
	cp_window *top_elsewhere = top_window(a, "https://news.test/");
	cp_window *framed = make_frame(top_elsewhere, f, "https://app.example/embedded", NULL, NULL);
	cp_window *framed_same_site = make_frame(w2, f, "https://app.example/in-w2", NULL, NULL);
	cp_broadcast *c1 = NULL, *c1b = NULL, *c2 = NULL, *cother = NULL, *cframed = NULL, *csame = NULL,
		     *cname = NULL;
	BcInbox in1 = { 0 }, in1b = { 0 }, in2 = { 0 }, inother = { 0 }, inframed = { 0 }, insame = { 0 },
		in_name = { 0 };
	cp_value *v = test_value("{\"hi\":1}");

	OK(cp_broadcast_new(w1, "news", &c1));
	OK(cp_broadcast_new(w1, "news", &c1b));
	OK(cp_broadcast_new(w2, "news", &c2));
	OK(cp_broadcast_new(other, "news", &cother));
	OK(cp_broadcast_new(framed, "news", &cframed));
	OK(cp_broadcast_new(framed_same_site, "news", &csame));
	OK(cp_broadcast_new(w2, "sports", &cname));
	cp_broadcast_set_callback(c1, on_broadcast, &in1);
	cp_broadcast_set_callback(c1b, on_broadcast, &in1b);
	cp_broadcast_set_callback(c2, on_broadcast, &in2);
	cp_broadcast_set_callback(cother, on_broadcast, &inother);
	cp_broadcast_set_callback(cframed, on_broadcast, &inframed);
	cp_broadcast_set_callback(csame, on_broadcast, &insame);
	cp_broadcast_set_callback(cname, on_broadcast, &in_name);
	ck_assert_str_eq(cp_broadcast_name(c1), "news");
	OK(cp_broadcast_post(c1, v));
	WAIT_UNTIL(b, in2.count == 1 && insame.count == 0 ? true : in2.count == 1);
	WAIT_UNTIL(a, in1b.count == 1);
	WAIT_UNTIL(f, insame.count == 1);
	for (int i = 0; i < 4; i++) {
		cp_client_wait(a, 25);
		cp_client_wait(b, 25);
		cp_client_wait(f, 25);
	}
	ck_assert_int_eq(in1.count, 0);        /* not the sender */
	ck_assert_int_eq(in1b.count, 1);       /* another channel of the same window */
	ck_assert_int_eq(in2.count, 1);
	ck_assert_str_eq(in2.json[0], "{\"hi\":1}");
	ck_assert_str_eq(in2.origin[0], "https://app.example");
	ck_assert_uint_eq(in2.source[0], 0);
	ck_assert_int_eq(inother.count, 0);    /* another origin */
	ck_assert_int_eq(inframed.count, 0);   /* same origin, another top-level site */
	ck_assert_int_eq(insame.count, 1);     /* framed under the same site */
	ck_assert_int_eq(in_name.count, 0);    /* another name */
	/* closed: nothing more in or out */
	OK(cp_broadcast_close(c2));
	ck_assert_int_eq(cp_broadcast_post(c2, v), CP_ERR_INVALID_STATE);
	/* a navigation closes the old Window's channels */
	OK(cp_window_navigate(w1, "https://app.example/next"));
	ck_assert_int_eq(cp_broadcast_post(c1, v), CP_ERR_INVALID_STATE);
	/* ports cannot travel on a BroadcastChannel */
	{
		cp_port *p1 = NULL, *p2 = NULL;
		cp_value *port = NULL;

		OK(cp_channel_new(w2, &p1, &p2));
		OK(cp_value_new_port(p1, &port));
		ck_assert_int_eq(cp_broadcast_post(cname, port), CP_ERR_DATA_CLONE);
		cp_value_free(port);
	}
	for (int i = 0; i < in2.count; i++)
		free(in2.json[i]);
	for (int i = 0; i < in1b.count; i++)
		free(in1b.json[i]);
	for (int i = 0; i < insame.count; i++)
		free(insame.json[i]);
	cp_value_free(v);
	cp_client_free(f);
	cp_client_free(b);
	cp_client_free(a);
}
END_TEST

/* ---- units: sites and document origins ------------------------------------ */

static char *site(const char *url)
{
	Origin *o = NULL;
	bool oom = false;
	char *s;

	ck_assert_int_eq(origin_from_url(url, strlen(url), NULL, 0, &o, NULL), 0);
	s = site_of(o, &oom);
	origin_free(o);
	return s;
}

START_TEST(sites_are_scheme_and_registrable_domain)
{
	const struct { const char *url, *site; } cases[] = {
		{ "https://a.b.example.co.uk:8443/x", "https://example.co.uk" },
		{ "https://example.com", "https://example.com" },
		{ "http://www.example.com", "http://example.com" },
		{ "https://user.github.io", "https://user.github.io" },   /* github.io is a public suffix */
		{ "https://127.0.0.1:8080", "https://127.0.0.1" },
		{ "https://[::1]:8080", "https://[::1]" },
		{ "http://localhost:3000", "http://localhost" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *s = site(cases[i].url);

		ck_assert_msg(s && strcmp(s, cases[i].site) == 0, "%s: site %s, expected %s", cases[i].url,
			      s ? s : "(null)", cases[i].site);
		free(s);
	}
	ck_assert_ptr_null(site("data:text/plain,x"));
	site_cleanup();
}
END_TEST

START_TEST(document_url_kinds)
{
	ck_assert_int_eq(document_url_kind("about:blank"), DOCUMENT_URL_ABOUT_BLANK);
	ck_assert_int_eq(document_url_kind(" ABOUT:blank?x#y "), DOCUMENT_URL_ABOUT_BLANK);
	ck_assert_int_eq(document_url_kind("about:bl\tank"), DOCUMENT_URL_ABOUT_BLANK);
	ck_assert_int_eq(document_url_kind("about:BLANK"), DOCUMENT_URL_PLAIN);
	ck_assert_int_eq(document_url_kind("about:blankx"), DOCUMENT_URL_PLAIN);
	ck_assert_int_eq(document_url_kind("about:srcdoc"), DOCUMENT_URL_ABOUT_SRCDOC);
	ck_assert_int_eq(document_url_kind("JavaScript:1"), DOCUMENT_URL_JAVASCRIPT);
	ck_assert_int_eq(document_url_kind("https://about.example/blank"), DOCUMENT_URL_PLAIN);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("contexts");
	TCase *tc = tcase_create("contexts"), *units = tcase_create("units");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, open_a_popup_post_with_a_target_origin_and_get_the_reply_through_event_source);
	tcase_add_test(tc, a_claim_token_is_good_once);
	tcase_add_test(tc, a_pending_window_receives_nothing_and_a_claim_expires);
	tcase_add_test(tc, pending_claims_per_connection_are_bounded);
	tcase_add_test(tc, the_claiming_uid_is_the_one_the_policy_checks);
	tcase_add_test(tc, open_with_the_name_of_a_live_window_navigates_it);
	tcase_add_test(tc, self_parent_and_top_targets);
	tcase_add_test(tc, a_frame_that_navigates_its_top_goes_with_the_old_document);
	tcase_add_test(tc, noopener_gives_no_reference_no_opener_and_no_lookup);
	tcase_add_test(tc, a_name_in_an_unrelated_tree_is_reached_only_when_familiar);
	tcase_add_test(tc, frames_parent_top_length_index_and_name);
	tcase_add_test(tc, removing_an_iframe_discards_it_and_its_descendants);
	tcase_add_test(tc, closing_a_top_level_window_discards_its_frame_tree);
	tcase_add_test(tc, a_process_that_dies_closes_its_windows_and_their_frames);
	tcase_add_test(tc, frame_depth_and_tree_size_are_bounded);
	tcase_add_test(tc, close_by_script_only_for_script_closable_familiar_top_level_windows);
	tcase_add_test(tc, a_window_closes_itself_when_it_never_navigated);
	tcase_add_test(tc, messages_for_the_old_document_are_never_dispatched_to_the_new_one);
	tcase_add_test(tc, the_initial_about_blank_keeps_its_window_for_a_same_origin_document);
	tcase_add_test(tc, the_old_documents_ports_stop_delivering);
	tcase_add_test(tc, origins_inherited_by_about_blank_srcdoc_and_opaque_for_data);
	tcase_add_test(tc, a_forged_opener_or_parent_closes_the_connection);
	tcase_add_test(tc, another_windows_iframe_cannot_be_removed);
	tcase_add_test(tc, guessing_claim_tokens_closes_the_connection);
	tcase_add_test(tc, another_connections_channel_and_ids_never_assigned);
	tcase_add_test(tc, broadcast_reaches_same_origin_same_site_channels_but_not_the_sender);
	suite_add_tcase(s, tc);
	tcase_add_test(units, sites_are_scheme_and_registrable_domain);
	tcase_add_test(units, document_url_kinds);
	suite_add_tcase(s, units);
	return test_run_suite(s);
}
