/* SPDX-License-Identifier: MIT */
/* check_scenario.c - unit tests of the scenario parser: tokens, DATA, options, durations, sizes, errors. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario.h"
#include "scenario_value.h"

static struct scenario *parse_ok(const char *text)
{
	struct scenario_error err;
	struct scenario *s = NULL;
	int r = scenario_parse("t.scenario", text, strlen(text), &err, &s);

	ck_assert_msg(r == 0, "parse failed: line %u: %s", err.line, err.message);
	return s;
}

/* Parses text that must fail; returns the error (line and message). */
static struct scenario_error parse_fail(const char *text)
{
	struct scenario_error err;
	struct scenario *s = NULL;
	int r = scenario_parse("t.scenario", text, strlen(text), &err, &s);

	ck_assert_msg(r == -EINVAL, "parse of <<%s>> returned %d, want -EINVAL", text, r);
	ck_assert_ptr_null(s);
	return err;
}

#define ck_assert_error(text, want_line, want_substring) do {                       \
		struct scenario_error e_ = parse_fail(text);                          \
		ck_assert_uint_eq(e_.line, (want_line));                              \
		ck_assert_msg(strstr(e_.message, (want_substring)) != NULL,           \
			      "message '%s' lacks '%s'", e_.message, (want_substring)); \
	} while (0)

START_TEST(empty_and_comments)
{
	struct scenario *s = parse_ok("");

	ck_assert_uint_eq(s->count, 0);
	scenario_free(s);
	s = parse_ok("# only a comment\n\n   \t\n  # indented comment\n");
	ck_assert_uint_eq(s->count, 0);
	ck_assert_str_eq(s->file, "t.scenario");
	scenario_free(s);
}
END_TEST

START_TEST(window_tokens_and_options)
{
	struct scenario *s = parse_ok(
		"window a https://a.example:8080/x  # first\n"
		"window\tb\thttps://b.example privileged opener=a name=bee\n"
		"window c \"https://c.example/#frag\" parent=b name=\"the c window\"\n");
	const struct scenario_statement *st = s->statements;

	ck_assert_uint_eq(s->count, 3);
	ck_assert_int_eq(st[0].verb, SCENARIO_WINDOW);
	ck_assert_uint_eq(st[0].line, 1);
	ck_assert_str_eq(st[0].actor, "a");
	ck_assert_str_eq(st[0].url, "https://a.example:8080/x");
	/* The text as written, without the comment and the blanks before it. */
	ck_assert_str_eq(st[0].text, "window a https://a.example:8080/x");
	ck_assert_ptr_null(st[0].name);
	ck_assert(!st[0].privileged);

	ck_assert_str_eq(st[1].actor, "b");
	ck_assert(st[1].privileged);
	ck_assert_str_eq(st[1].opener, "a");
	ck_assert_str_eq(st[1].name, "bee");
	ck_assert_ptr_null(st[1].parent);

	/* A quoted URL keeps its '#'; a quoted option value keeps its spaces. */
	ck_assert_str_eq(st[2].url, "https://c.example/#frag");
	ck_assert_str_eq(st[2].parent, "b");
	ck_assert_str_eq(st[2].name, "the c window");
	scenario_free(s);
}
END_TEST

START_TEST(quoted_and_bare_option_values_are_the_same)
{
	struct scenario *s = parse_ok(
		"window a https://a.example\n"
		"window b https://b.example\n"
		"a post b 1 target=https://b.example\n"
		"a post b 1 target=\"https://b.example\"\n"
		"a post b 1 target=\"https://b.example/a b\\u00e9\"\n");

	ck_assert_str_eq(s->statements[2].target_origin, "https://b.example");
	ck_assert_str_eq(s->statements[3].target_origin, "https://b.example");
	ck_assert_str_eq(s->statements[4].target_origin, "https://b.example/a b\xc3\xa9");
	scenario_free(s);
}
END_TEST

START_TEST(data_spans_spaces_and_hashes)
{
	struct scenario *s = parse_ok(
		"window a https://a.example\n"
		"window b https://b.example\n"
		"a post b {\"text\": \"hello # not a comment\", \"list\": [1, 2, 3]} target=*  # comment\n"
		"a post b [ 1 , 2 ]\n"
		"a post b \"a string\"#comment\n"
		"a post b -12.5 target=/\n"
		"a post b null\n");
	const struct scenario_statement *st = s->statements;

	ck_assert_uint_eq(s->count, 7);
	ck_assert_int_eq(st[2].verb, SCENARIO_POST);
	ck_assert_int_eq(st[2].target_kind, SCENARIO_TARGET_WINDOW);
	ck_assert_str_eq(st[2].target_alias, "b");
	ck_assert_str_eq(st[2].data_json, "{\"text\": \"hello # not a comment\", \"list\": [1, 2, 3]}");
	ck_assert_ptr_nonnull(st[2].data);
	ck_assert_str_eq(st[2].target_origin, "*");
	ck_assert_str_eq(st[3].data_json, "[ 1 , 2 ]");
	ck_assert_str_eq(st[3].target_origin, "/");   /* the default */
	ck_assert_str_eq(st[4].data_json, "\"a string\"");
	ck_assert_str_eq(st[5].data_json, "-12.5");
	ck_assert_str_eq(st[6].data_json, "null");
	scenario_free(s);
}
END_TEST

START_TEST(expect_forms)
{
	struct scenario *s = parse_ok(
		"window a https://a.example\n"
		"window b https://b.example\n"
		"b expect message\n"
		"b expect message {\"x\": 1} within=2s source=a origin=https://a.example\n"
		"b expect message origin=\"https://a.example\" source=null\n"
		"b expect message true\n"
		"b expect messageerror within=1.5s\n"
		"b expect nothing\n"
		"b expect nothing within=50ms\n"
		"a post b 1 target=bogus\n"
		"a expect error SyntaxError\n");
	const struct scenario_statement *st = s->statements;

	ck_assert_int_eq(st[2].verb, SCENARIO_EXPECT_MESSAGE);
	ck_assert_ptr_null(st[2].data);
	ck_assert_ptr_null(st[2].origin);
	ck_assert_ptr_null(st[2].source);
	ck_assert(!st[2].source_null);
	ck_assert_int_eq(st[2].within_ms, SCENARIO_WITHIN_MESSAGE_MS);

	ck_assert_str_eq(st[3].data_json, "{\"x\": 1}");
	ck_assert_int_eq(st[3].within_ms, 2000);
	ck_assert_str_eq(st[3].source, "a");
	ck_assert_str_eq(st[3].origin, "https://a.example");

	ck_assert_ptr_null(st[4].data);
	ck_assert(st[4].source_null);
	ck_assert_ptr_null(st[4].source);
	ck_assert_str_eq(st[4].origin, "https://a.example");

	ck_assert_str_eq(st[5].data_json, "true");
	ck_assert_int_eq(st[6].verb, SCENARIO_EXPECT_MESSAGEERROR);
	ck_assert_int_eq(st[6].within_ms, 1500);
	ck_assert_int_eq(st[7].verb, SCENARIO_EXPECT_NOTHING);
	ck_assert_int_eq(st[7].within_ms, SCENARIO_WITHIN_NOTHING_MS);
	ck_assert_int_eq(st[8].within_ms, 50);
	ck_assert_int_eq(st[10].verb, SCENARIO_EXPECT_ERROR);
	ck_assert_str_eq(st[10].error_name, "SyntaxError");
	scenario_free(s);
}
END_TEST

START_TEST(targets_and_other_verbs)
{
	struct scenario *s = parse_ok(
		"window top https://top.example name=top\n"
		"window kid https://kid.example opener=top parent=top\n"
		"kid post opener 1\n"
		"kid post parent 2 target=*\n"
		"top expect message\n"
		"top post source 3\n"
		"top post name:top 4\n"
		"top post name:\"a b\" 4\n"
		"top reply {\"ok\": true}\n"
		"kid navigate https://elsewhere.example/\n"
		"kid close\n"
		"sleep 250ms\n"
		"kill kid\n"
		"restart broker\n"
		"top post kid 5\n");
	const struct scenario_statement *st = s->statements;

	/* opener and parent are read from the broker when the post runs */
	ck_assert_int_eq(st[2].target_kind, SCENARIO_TARGET_OPENER);
	ck_assert_ptr_null(st[2].target_alias);
	ck_assert_int_eq(st[3].target_kind, SCENARIO_TARGET_PARENT);
	ck_assert_ptr_null(st[3].target_alias);
	ck_assert_int_eq(st[5].target_kind, SCENARIO_TARGET_SOURCE);
	ck_assert_ptr_null(st[5].target_alias);
	ck_assert_int_eq(st[6].target_kind, SCENARIO_TARGET_NAME);
	ck_assert_str_eq(st[6].target_name, "top");
	ck_assert_int_eq(st[7].target_kind, SCENARIO_TARGET_NAME);
	ck_assert_str_eq(st[7].target_name, "a b");
	ck_assert_str_eq(st[7].data_json, "4");
	st++;
	ck_assert_int_eq(st[7].verb, SCENARIO_REPLY);
	ck_assert_str_eq(st[7].data_json, "{\"ok\": true}");
	ck_assert_int_eq(st[8].verb, SCENARIO_NAVIGATE);
	ck_assert_str_eq(st[8].url, "https://elsewhere.example/");
	ck_assert_int_eq(st[9].verb, SCENARIO_CLOSE);
	ck_assert_int_eq(st[10].verb, SCENARIO_SLEEP);
	ck_assert_int_eq(st[10].duration_ms, 250);
	ck_assert_ptr_null(st[10].actor);
	ck_assert_int_eq(st[11].verb, SCENARIO_KILL);
	ck_assert_str_eq(st[11].actor, "kid");
	ck_assert_int_eq(st[12].verb, SCENARIO_RESTART_BROKER);
	/* Posting to a killed window is allowed: the broker drops it. */
	ck_assert_int_eq(st[13].verb, SCENARIO_POST);
	scenario_free(s);
}
END_TEST

START_TEST(port_and_buffer_statements_parse)
{
	struct scenario *s = parse_ok(
		"window a https://a.example\n"
		"window b https://b.example\n"
		"a channel p1 p2\n"
		"a buffer buf 64KiB fill=0xff\n"
		"a post b {\"$buffer\": \"buf\"} transfer=p2,buf target=*\n"
		"a send p1 \"hi\" transfer=buf\n"
		"b expect message ports=1 port=p2 within=2s\n"
		"b expect nothing port=p2\n"
		"a close p1\n"
		"a expect detached buf\n"
		"b expect messageerror port=p2\n");
	const struct scenario_statement *st = s->statements;

	ck_assert_int_eq(st[2].verb, SCENARIO_CHANNEL);
	ck_assert_str_eq(st[2].port1, "p1");
	ck_assert_str_eq(st[2].port2, "p2");
	ck_assert_int_eq(st[3].verb, SCENARIO_BUFFER);
	ck_assert_str_eq(st[3].buffer, "buf");
	ck_assert_uint_eq(st[3].size, 65536);
	ck_assert_uint_eq(st[3].fill, 255);
	ck_assert_uint_eq(st[4].buffer_ref_count, 1);
	ck_assert_str_eq(st[4].buffer_refs[0], "buf");
	ck_assert_str_eq(st[4].data_json, "{\"$buffer\": \"buf\"}");
	ck_assert(st[4].data_named);
	ck_assert_str_eq(st[4].data_masked, "{\"$host\":\"\\u0001crosspost:buffer:buf\"}");
	ck_assert_ptr_nonnull(st[4].data);
	ck_assert_uint_eq(st[4].transfer_count, 2);
	ck_assert_str_eq(st[4].transfer[0], "p2");
	ck_assert_str_eq(st[4].transfer[1], "buf");
	ck_assert_int_eq(st[5].verb, SCENARIO_SEND);
	ck_assert_str_eq(st[5].port, "p1");
	ck_assert_uint_eq(st[5].transfer_count, 1);
	ck_assert(!st[5].data_named);
	ck_assert_str_eq(st[5].data_masked, "\"hi\"");
	ck_assert(st[6].ports_given);
	ck_assert_uint_eq(st[6].ports, 1);
	ck_assert_str_eq(st[6].port, "p2");
	ck_assert_int_eq(st[6].within_ms, 2000);
	ck_assert_int_eq(st[7].verb, SCENARIO_EXPECT_NOTHING);
	ck_assert_str_eq(st[7].port, "p2");
	ck_assert_int_eq(st[8].verb, SCENARIO_CLOSE_PORT);
	ck_assert_str_eq(st[8].port, "p1");
	ck_assert_int_eq(st[9].verb, SCENARIO_EXPECT_DETACHED);
	ck_assert_str_eq(st[9].buffer, "buf");
	ck_assert_int_eq(st[10].verb, SCENARIO_EXPECT_MESSAGEERROR);
	ck_assert_str_eq(st[10].port, "p2");
	scenario_free(s);
}
END_TEST

START_TEST(named_buffers_views_and_ports_in_data)
{
	struct scenario *s = parse_ok(
		"window a https://a.example\n"
		"a channel p q\n"
		"a buffer B 16 fill=1\n"
		"a buffer C 8\n"
		/* the same buffer twice, a view of it, a port, another buffer */
		"a post a [{\"$buffer\":\"B\"}, { \"$typed\" : [ \"Int32Array\" , { \"$buffer\" : \"B\" } , 4 , 2 ] }, "
		"{\"port\": {\"$port\": \"q\"}}, {\"$buffer\":\"C\"}, {\"$buffer\":\"B\"}] transfer=q target=*\n"
		/* tags inside strings are text */
		"a post a \"{\\\"$buffer\\\":\\\"B\\\"}\"\n"
		/* the two-element $typed form is no view over a named buffer */
		"a expect message {\"$typed\": [\"Uint8Array\", {\"$buffer\": \"C\"}, 0, 8]}\n");
	const struct scenario_statement *st = s->statements;

	ck_assert(st[4].data_named);
	ck_assert_uint_eq(st[4].buffer_ref_count, 2);
	ck_assert_str_eq(st[4].buffer_refs[0], "B");
	ck_assert_str_eq(st[4].buffer_refs[1], "C");
	ck_assert_uint_eq(st[4].port_ref_count, 1);
	ck_assert_str_eq(st[4].port_refs[0], "q");
	ck_assert_str_eq(st[4].data_masked,
			 "[{\"$host\":\"\\u0001crosspost:buffer:B\"}, "
			 "{\"$host\":\"\\u0001crosspost:view:Int32Array:4:2:B\"}, "
			 "{\"port\": {\"$host\":\"\\u0001crosspost:port:q\"}}, "
			 "{\"$host\":\"\\u0001crosspost:buffer:C\"}, "
			 "{\"$host\":\"\\u0001crosspost:buffer:B\"}]");
	ck_assert_ptr_nonnull(st[4].data);
	ck_assert(!st[5].data_named);
	ck_assert_uint_eq(st[5].buffer_ref_count, 0);
	ck_assert(st[6].data_named);
	ck_assert_str_eq(st[6].data_masked, "{\"$host\":\"\\u0001crosspost:view:Uint8Array:0:8:C\"}");
	scenario_free(s);
}
END_TEST

START_TEST(transfer_lists_are_checked_when_run)
{
	/* A window, a repeat and a closed port in transfer= parse: the
	 * library's DataCloneError is what such scripts test. */
	struct scenario *s = parse_ok(
		"window a https://a.example\n"
		"window b https://b.example\n"
		"a channel p q\n"
		"a buffer B 4\n"
		"a post b 1 transfer=b target=*\n"
		"a expect error DataCloneError\n"
		"a post b 1 transfer=q,q\n"
		"a expect error DataCloneError\n"
		"a send p 1 transfer=p\n"
		"a expect error DataCloneError\n"
		"a send p 1 transfer=B,q,B\n"
		"a expect error DataCloneError\n");
	const struct scenario_statement *st = s->statements;

	ck_assert_uint_eq(st[4].transfer_count, 1);
	ck_assert_str_eq(st[4].transfer[0], "b");
	ck_assert_uint_eq(st[6].transfer_count, 2);
	ck_assert_str_eq(st[6].transfer[1], "q");
	ck_assert_uint_eq(st[10].transfer_count, 3);
	scenario_free(s);
}
END_TEST

/* A resolver for the tests: buffers by name from a table, ports as host
 * objects. */
struct test_objects {
	cp_value *b, *c;
	int port_calls;
};

static int test_buffer(void *userdata, const char *name, cp_value **ret)
{
	struct test_objects *t = userdata;

	if (strcmp(name, "B") == 0)
		*ret = t->b;
	else if (strcmp(name, "C") == 0)
		*ret = t->c;
	else
		return CP_ERR_TYPE;
	return 0;
}

static int test_port(void *userdata, const char *name, cp_value **ret)
{
	struct test_objects *t = userdata;

	t->port_calls++;
	return cp_value_new_host_object(name, ret);
}

START_TEST(resolving_placeholders_keeps_the_shape)
{
	struct scenario *s = parse_ok(
		"window a https://a.example\n"
		"a channel p q\n"
		"a buffer B 16\n"
		"a buffer C 8\n"
		"a post a {\"m\": {\"$map\": [[{\"$buffer\":\"C\"}, {\"$id\": 1, \"$value\": [\"cycle\", {\"$ref\": 1}]}]]}, "
		"\"v\": {\"$typed\": [\"Uint16Array\", {\"$buffer\": \"B\"}, 2, 3]}, \"b\": {\"$buffer\":\"B\"}, "
		"\"p\": [{\"$port\":\"q\"}, {\"$port\":\"q\"}], \"other\": {\"$bytes\": \"AQI=\"}}\n");
	struct test_objects t = { 0 };
	const struct scenario_resolver resolver = { .buffer = test_buffer, .port = test_port, .userdata = &t };
	static const char full[] =
		"{\"m\": {\"$map\": [[{\"$bytes\": \"AAAAAAAAAAA=\"}, {\"$id\": 1, \"$value\": [\"cycle\", {\"$ref\": 1}]}]]}, "
		"\"v\": {\"$typed\": [\"Uint16Array\", {\"$id\": 2, \"$value\": {\"$bytes\": \"AAAAAAAAAAAAAAAAAAAAAA==\"}}, 2, 3]}, "
		"\"b\": {\"$ref\": 2}, \"p\": [{\"$id\": 3, \"$value\": {\"$host\": \"q\"}}, {\"$ref\": 3}], "
		"\"other\": {\"$bytes\": \"AQI=\"}}";
	const cp_value *v, *buffers_b, **list = NULL, *cycle;
	cp_value *keeper = NULL, *out = NULL, *expected = NULL;
	const char *what = NULL;
	size_t count = 0;

	ck_assert_int_eq(cp_value_new_array_buffer(NULL, 16, &t.b), 0);
	ck_assert_int_eq(cp_value_new_array_buffer(NULL, 8, &t.c), 0);
	ck_assert_int_eq(cp_value_new_array(&keeper), 0);
	ck_assert_int_eq(cp_value_array_push(keeper, t.b), 0);
	ck_assert_int_eq(cp_value_array_push(keeper, t.c), 0);
	ck_assert(scenario_value_has_placeholders(s->statements[4].data));
	ck_assert_int_eq(scenario_value_resolve(s->statements[4].data, &resolver, keeper, &out, &what), 0);
	ck_assert(!scenario_value_has_placeholders(out));

	/* the named buffers are the resolver's nodes, wherever they appear */
	ck_assert_ptr_eq(cp_value_object_get(out, "b"), t.b);
	v = cp_value_object_get(out, "v");
	ck_assert_int_eq(cp_value_view_kind(v), CP_VIEW_UINT16);
	buffers_b = cp_value_view_buffer(v);
	ck_assert_ptr_eq(buffers_b, t.b);
	ck_assert_uint_eq(cp_value_view_byte_offset(v), 2);
	ck_assert_uint_eq(cp_value_view_length(v), 3);
	ck_assert_ptr_eq(cp_value_map_key(cp_value_object_get(out, "m"), 0), t.c);
	/* a cycle stays a cycle */
	cycle = cp_value_map_value(cp_value_object_get(out, "m"), 0);
	ck_assert_ptr_eq(cp_value_array_get(cycle, 1), cycle);
	/* one node per port */
	v = cp_value_object_get(out, "p");
	ck_assert_ptr_eq(cp_value_array_get(v, 0), cp_value_array_get(v, 1));
	ck_assert_int_eq(t.port_calls, 1);

	/* buffers in walk order: C (map key) before B (the view's) before the other */
	ck_assert_int_eq(scenario_value_buffers(out, &list, &count), 0);
	ck_assert_uint_eq(count, 3);
	ck_assert_ptr_eq(list[0], t.c);
	ck_assert_ptr_eq(list[1], t.b);
	ck_assert_int_eq(cp_value_get_type(list[2]), CP_VALUE_ARRAY_BUFFER);
	free(list);

	/* the same value written out in full compares equal */
	ck_assert_int_eq(cp_value_from_json(full, strlen(full), NULL, &expected), 0);
	ck_assert(cp_value_equal(out, expected));
	cp_value_free(expected);
	cp_value_free(keeper);
	scenario_free(s);
}
END_TEST

START_TEST(resolving_reports_what_failed)
{
	struct scenario *s = parse_ok(
		"window a https://a.example\n"
		"a buffer B 16\n"
		"a post a [{\"$typed\": [\"Float64Array\", {\"$buffer\": \"B\"}, 8, 1]}]\n");
	struct test_objects t = { 0 };
	const struct scenario_resolver resolver = { .buffer = test_buffer, .port = test_port, .userdata = &t };
	cp_value *keeper = NULL, *out = NULL;
	const char *what = NULL;

	/* B is smaller here than its statement said (as a detached one is) */
	ck_assert_int_eq(cp_value_new_array_buffer(NULL, 8, &t.b), 0);
	ck_assert_int_eq(cp_value_new_array(&keeper), 0);
	ck_assert_int_eq(cp_value_array_push(keeper, t.b), 0);
	ck_assert_int_eq(scenario_value_resolve(s->statements[2].data, &resolver, keeper, &out, &what), CP_ERR_TYPE);
	ck_assert_ptr_nonnull(what);
	ck_assert_str_eq(what, "view:Float64Array:8:1:B");
	cp_value_free(keeper);
	scenario_free(s);
}
END_TEST

START_TEST(received_ports_become_readable)
{
	char *text = scenario_value_rewrite_ports("[{\"$port\":12},\"{\\\"$port\\\":3}\",{\"$id\":1,\"$value\":{\"$port\":4}},{\"$ref\":1}]");
	cp_value *v = NULL;

	ck_assert_ptr_nonnull(text);
	ck_assert_str_eq(text, "[{\"$host\":\"\\u0001crosspost:port:#12\"},\"{\\\"$port\\\":3}\","
			 "{\"$id\":1,\"$value\":{\"$host\":\"\\u0001crosspost:port:#4\"}},{\"$ref\":1}]");
	ck_assert_int_eq(cp_value_from_json(text, strlen(text), NULL, &v), 0);
	ck_assert_str_eq(cp_value_host_object_description(cp_value_array_get(v, 0)), SCENARIO_PLACEHOLDER "port:#12");
	cp_value_free(v);
	free(text);
	text = scenario_value_rewrite_ports("{\"plain\":true}");
	ck_assert_str_eq(text, "{\"plain\":true}");
	free(text);
}
END_TEST

START_TEST(crlf_lines)
{
	struct scenario *s = parse_ok("window a https://a.example\r\nwindow b https://b.example name=x\r\n");

	ck_assert_uint_eq(s->count, 2);
	ck_assert_str_eq(s->statements[0].url, "https://a.example");
	ck_assert_str_eq(s->statements[1].name, "x");
	scenario_free(s);
}
END_TEST

START_TEST(utf8_text)
{
	/* Two-, three- and four-byte sequences in a name, a URL and DATA. */
	struct scenario *s = parse_ok(
		"window a https://xn--caf-dma.example name=caf\xc3\xa9\n"
		"window b https://b.example name=\"\xe2\x82\xac \xf0\x9f\x98\x80\"\n"
		"a post b \"\xf0\x9f\x98\x80 # \xe2\x82\xac\" target=*\n");

	ck_assert_str_eq(s->statements[0].name, "caf\xc3\xa9");
	ck_assert_str_eq(s->statements[1].name, "\xe2\x82\xac \xf0\x9f\x98\x80");
	ck_assert_str_eq(s->statements[2].data_json, "\"\xf0\x9f\x98\x80 # \xe2\x82\xac\"");
	scenario_free(s);
	/* An overlong '/', a lone surrogate, a truncated sequence. */
	ck_assert_error("window a https://a.example name=\xc0\xaf\n", 1, "UTF-8 (column 33)");
	ck_assert_error("window a https://a.example name=\xed\xa0\x80\n", 1, "UTF-8");
	ck_assert_error("window a https://a.example name=\xe2\x82\n", 1, "UTF-8");
}
END_TEST

START_TEST(durations)
{
	static const struct { const char *text; int64_t ms; } good[] = {
		{ "0ms", 0 }, { "250ms", 250 }, { "2s", 2000 }, { "1.5s", 1500 },
		{ "0.001s", 1 }, { "3600s", 3600000 }, { "10.9ms", 10 },
	};
	static const char *const bad[] = {
		"", "2", "ms", "s", "-1s", "1.s", ".5s", "2m", "2 s", "2S", "3601s", "99999999999999999999s",
		"1e3ms",
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		int64_t ms = -1;

		ck_assert_msg(scenario_parse_duration(good[i].text, &ms) == 0, "%s", good[i].text);
		ck_assert_int_eq(ms, good[i].ms);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t ms = -1;

		ck_assert_msg(scenario_parse_duration(bad[i], &ms) == -EINVAL, "'%s' accepted", bad[i]);
		ck_assert_int_eq(ms, -1);   /* untouched on failure */
	}
}
END_TEST

START_TEST(sizes)
{
	static const struct { const char *text; uint64_t n; } good[] = {
		{ "0", 0 }, { "4096", 4096 }, { "64KiB", 65536 }, { "8MiB", 8u << 20 }, { "1GiB", 1u << 30 },
	};
	static const char *const bad[] = {
		"", "KiB", "64kib", "64KB", "64 KiB", "-1", "2GiB", "1073741825", "1025MiB", "1.5KiB",
	};

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		uint64_t n = 7;

		ck_assert_msg(scenario_parse_size(good[i].text, &n) == 0, "%s", good[i].text);
		ck_assert_uint_eq(n, good[i].n);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint64_t n = 7;

		ck_assert_msg(scenario_parse_size(bad[i], &n) == -EINVAL, "'%s' accepted", bad[i]);
		ck_assert_uint_eq(n, 7);
	}
}
END_TEST

START_TEST(errors_name_their_line)
{
	const char *two = "window a https://a.example\nwindow b https://b.example\n";
	char buf[512];

	ck_assert_error("bogus thing\n", 1, "neither a statement");
	ck_assert_error("window a https://a.example\nwindow a https://b.example\n", 2, "already used (line 1)");
	ck_assert_error("window 9a https://a.example\n", 1, "not a valid alias");
	ck_assert_error("window source https://a.example\n", 1, "reserved word");
	ck_assert_error("window a\n", 1, "expected the window's URL");
	ck_assert_error("window a https://a.example frobnicate=1\n", 1, "unknown option 'frobnicate'");
	ck_assert_error("window a https://a.example name=x name=y\n", 1, "given twice");
	ck_assert_error("window a https://a.example name=\n", 1, "needs a value");
	ck_assert_error("window a https://a.example name=\"open\n", 1, "unterminated string");
	ck_assert_error("window a https://a.example opener=b\n", 1, "unknown window 'b'");
	ck_assert_error("window a https://a.example privileged=yes\n", 1, "takes no value");
	ck_assert_error("window a https://a.example target=*\n", 1, "takes no option target");
	ck_assert_error("window a https://a.example extra\n", 1, "unexpected 'extra'");

	snprintf(buf, sizeof(buf), "%s\n# gap\na post b\n", two);
	ck_assert_error(buf, 5, "expected DATA");
	snprintf(buf, sizeof(buf), "%sa post b {\"x\": }\n", two);
	ck_assert_error(buf, 3, "bad DATA");
	snprintf(buf, sizeof(buf), "%sa post b [1]x\n", two);
	ck_assert_error(buf, 3, "followed by a space");
	snprintf(buf, sizeof(buf), "%sa post c 1\n", two);
	ck_assert_error(buf, 3, "unknown window 'c'");
	snprintf(buf, sizeof(buf), "%sa post frames[1x] 1\n", two);
	ck_assert_error(buf, 3, "is not an index");
	snprintf(buf, sizeof(buf), "%sa post b 1 2\n", two);
	ck_assert_error(buf, 3, "unexpected '2'");
	snprintf(buf, sizeof(buf), "%sa post b 1 within=1s\n", two);
	ck_assert_error(buf, 3, "takes no option within");
	snprintf(buf, sizeof(buf), "%sa jump\n", two);
	ck_assert_error(buf, 3, "unknown verb 'jump'");
	snprintf(buf, sizeof(buf), "%sa expect message within=2\n", two);
	ck_assert_error(buf, 3, "within= must be a duration");
	snprintf(buf, sizeof(buf), "%sa expect message source=c\n", two);
	ck_assert_error(buf, 3, "unknown window 'c'");
	snprintf(buf, sizeof(buf), "%sa expect everything\n", two);
	ck_assert_error(buf, 3, "expected message, messageerror, nothing, detached, closed, open or error");
	snprintf(buf, sizeof(buf), "%sb expect message\nb expect error SyntaxError\n", two);
	ck_assert_error(buf, 4, "cannot fail");
	ck_assert_error("window a https://a.example\nsleep 2\n", 2, "not a duration");
	ck_assert_error("window a https://a.example\nkill a\na post a 1\n", 3, "was killed at line 2");
	ck_assert_error("window a https://a.example\nkill a\nkill a\n", 3, "already killed");
	ck_assert_error("restart everything\n", 1, "expected 'restart broker'");
	ck_assert_error("window a https://a.example\na channel p q\na post p 1\n", 3,
			"'p' is a port (line 2), not a window");
	ck_assert_error("window a https://a.example\na channel p p\n", 2, "already used");
	ck_assert_error("window a https://a.example\na buffer b 2GiB\n", 2, "not a size");
	ck_assert_error("window a https://a.example\na buffer b 1 fill=256\n", 2, "fill=");
	ck_assert_error("window a https://a.example\na close nope\n", 2, "unknown port or window 'nope'");
	ck_assert_error("window a https://a.example\na post a 1 transfer=nope\n", 2, "unknown alias 'nope'");
	ck_assert_error("window a https://a.example\na channel p q\na post a 1 transfer=p,\n", 3, "empty name");
	ck_assert_error("window a https://a.example\na post a {\"$port\":\"nope\"}\n", 2, "unknown port 'nope'");
	ck_assert_error("window a https://a.example\na buffer B 4\na post a {\"$port\":\"B\"}\n", 3,
			"'B' is a buffer (line 2), not a port");
	ck_assert_error("window a https://a.example\na buffer B 4\na expect detached a\n", 3,
			"'a' is a window (line 1), not a buffer");
	ck_assert_error("window a https://a.example\na channel p q\na expect message port=a\n", 3,
			"'a' is a window (line 1), not a port");
	ck_assert_error("window a https://a.example\na buffer B 4\n"
			"a post a {\"$typed\":[\"Int32Array\",{\"$buffer\":\"B\"},0,2]}\n", 3,
			"does not fit buffer 'B' of 4 bytes (line 2)");
	ck_assert_error("window a https://a.example\na buffer B 8\n"
			"a post a {\"$typed\":[\"Int32Array\",{\"$buffer\":\"B\"},2,1]}\n", 3,
			"multiple of 4");
	ck_assert_error("window a https://a.example\na buffer B 8\n"
			"a post a {\"$typed\":[\"Int33Array\",{\"$buffer\":\"B\"},0,1]}\n", 3,
			"'Int33Array' is not a typed array");
	ck_assert_error("window a https://a.example\na post a {\"$host\":\"\\u0001crosspost:buffer:x\"}\n", 2,
			"reserved");
	/* offsets in DATA errors count in the text as written, references and all */
	ck_assert_error("window a https://a.example\na buffer B 8\na post a [{\"$buffer\": \"B\"}, x]\n", 3,
			"byte 20");
	ck_assert_error("window a https://a.example\na post a {\"$buffer\":\"nope\"}\n", 2, "unknown buffer 'nope'");
	ck_assert_error("window a https://a.example\na channel p q\na post a [{ \"$buffer\" : \"p\" }]\n", 3,
			"'p' is a port (line 2), not a buffer");
	ck_assert_error("window a https://a.example\nwindow b https://b.example\n\xff\n", 3, "UTF-8");
}
END_TEST

START_TEST(expect_error_refers_to_the_windows_previous_statement)
{
	/* b's statements in between do not matter: a's previous statement does. */
	struct scenario *s = parse_ok(
		"window a https://a.example\n"
		"window b https://b.example\n"
		"a post b 1 target=::\n"
		"b expect nothing\n"
		"a expect error SyntaxError\n"
		"window c bad name=x\n"
		"c expect error SyntaxError\n");

	ck_assert_uint_eq(s->count, 7);
	scenario_free(s);

	ck_assert_error("window a https://a.example\na expect nothing\na expect error SyntaxError\n", 3,
			"'a expect nothing' (line 2), which cannot fail");
}
END_TEST

START_TEST(nul_byte_is_an_error)
{
	static const char text[] = "window a https://a.example\nwindow b https://b.example name=x\0y\n";
	struct scenario_error err;
	struct scenario *s = NULL;

	ck_assert_int_eq(scenario_parse("t.scenario", text, sizeof(text) - 1, &err, &s), -EINVAL);
	ck_assert_ptr_null(s);
	ck_assert_uint_eq(err.line, 2);
	ck_assert_ptr_nonnull(strstr(err.message, "NUL"));
}
END_TEST

START_TEST(load_reports_missing_file)
{
	struct scenario_error err;
	struct scenario *s = NULL;

	ck_assert_int_eq(scenario_load("/nonexistent/x.scenario", &err, &s), -ENOENT);
	ck_assert_ptr_null(s);
	ck_assert_uint_eq(err.line, 0);
	ck_assert_str_eq(err.message, strerror(ENOENT));
}
END_TEST

START_TEST(verb_names)
{
	ck_assert_str_eq(scenario_verb_name(SCENARIO_EXPECT_MESSAGE), "expect message");
	ck_assert_str_eq(scenario_verb_name(SCENARIO_RESTART_BROKER), "restart broker");
	ck_assert_str_eq(scenario_verb_name(SCENARIO_POST), "post");
}
END_TEST

static Suite *scenario_suite(void)
{
	Suite *s = suite_create("scenario");
	TCase *lex = tcase_create("lexical");
	TCase *stmt = tcase_create("statements");
	TCase *err = tcase_create("errors");
	TCase *values = tcase_create("values");

	tcase_add_test(lex, empty_and_comments);
	tcase_add_test(lex, crlf_lines);
	tcase_add_test(lex, utf8_text);
	tcase_add_test(lex, durations);
	tcase_add_test(lex, sizes);
	tcase_add_test(lex, quoted_and_bare_option_values_are_the_same);
	tcase_add_test(lex, data_spans_spaces_and_hashes);
	tcase_add_test(stmt, window_tokens_and_options);
	tcase_add_test(stmt, expect_forms);
	tcase_add_test(stmt, targets_and_other_verbs);
	tcase_add_test(stmt, port_and_buffer_statements_parse);
	tcase_add_test(stmt, named_buffers_views_and_ports_in_data);
	tcase_add_test(stmt, transfer_lists_are_checked_when_run);
	tcase_add_test(values, resolving_placeholders_keeps_the_shape);
	tcase_add_test(values, resolving_reports_what_failed);
	tcase_add_test(values, received_ports_become_readable);
	tcase_add_test(stmt, expect_error_refers_to_the_windows_previous_statement);
	tcase_add_test(stmt, verb_names);
	tcase_add_test(err, errors_name_their_line);
	tcase_add_test(err, nul_byte_is_an_error);
	tcase_add_test(err, load_reports_missing_file);
	suite_add_tcase(s, lex);
	suite_add_tcase(s, stmt);
	suite_add_tcase(s, err);
	suite_add_tcase(s, values);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(scenario_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
