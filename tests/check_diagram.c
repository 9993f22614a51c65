/* SPDX-License-Identifier: MIT */
/* check_diagram.c - unit tests of the SVG sequence diagram writer: text escaping, cutting, rows and their checks. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diagram.h"

/* diagram_put_text() of text with max, as a string the caller frees. */
static char *put(const char *text, size_t max)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	diagram_put_text(f, text, max);
	fclose(f);
	return buf;
}

static void expect_put(const char *text, size_t max, const char *want)
{
	char *got = put(text, max);

	ck_assert_msg(strcmp(got, want) == 0, "put(<<%s>>, %zu) = <<%s>>, want <<%s>>", text, max, got, want);
	free(got);
}

START_TEST(xml_specials_are_entity_references)
{
	expect_put("</text><script>alert(1)</script>", 0,
		   "&lt;/text&gt;&lt;script&gt;alert(1)&lt;/script&gt;");
	expect_put("a&b \"q\" 'a' ]]>", 0, "a&amp;b &quot;q&quot; &apos;a&apos; ]]&gt;");
	expect_put("&amp;", 0, "&amp;amp;");
	expect_put("", 0, "");
	expect_put(NULL, 0, "");
}
END_TEST

START_TEST(what_xml_cannot_hold_becomes_a_replacement_character)
{
	/* C0 controls XML 1.0 forbids; tab and line breaks read as spaces. */
	expect_put("a\001b\033c\177d", 0, "a\xEF\xBF\xBD" "b\xEF\xBF\xBD" "c\xEF\xBF\xBD" "d");
	expect_put("a\tb\nc\rd", 0, "a b c d");
	/* C1 controls (U+0085 NEL), U+FFFE, U+FFFF */
	expect_put("x\xC2\x85y\xEF\xBF\xBEz\xEF\xBF\xBF", 0, "x\xEF\xBF\xBDy\xEF\xBF\xBDz\xEF\xBF\xBD");
	/* bidi override U+202E and isolate U+2066 would turn a label around */
	expect_put("\xE2\x80\xAE" "evil\xE2\x81\xA6", 0, "\xEF\xBF\xBD" "evil\xEF\xBF\xBD");
}
END_TEST

START_TEST(invalid_utf8_becomes_replacement_characters)
{
	/* a stray continuation byte, a lone lead byte, 0xFF */
	expect_put("a\x80" "b\xC3" "c\xFF", 0, "a\xEF\xBF\xBD" "b\xEF\xBF\xBD" "c\xEF\xBF\xBD");
	/* an overlong '/' (C0 AF), and E0 80 AF: each byte is replaced */
	expect_put("\xC0\xAF", 0, "\xEF\xBF\xBD\xEF\xBF\xBD");
	expect_put("\xE0\x80\xAF", 0, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
	/* a surrogate in WTF-8 (ED A0 80) is not UTF-8 */
	expect_put("\xED\xA0\x80", 0, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
	/* over U+10FFFF (F4 90 80 80) */
	expect_put("\xF4\x90\x80\x80", 0, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
	/* a sequence cut by the end of the string */
	expect_put("ok\xE2\x82", 0, "ok\xEF\xBF\xBD\xEF\xBF\xBD");
	/* valid text of every length passes unchanged */
	expect_put("\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", 0, "\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
}
END_TEST

START_TEST(long_text_is_cut_by_code_points_with_an_ellipsis)
{
	expect_put("abcdef", 4, "abc\xE2\x80\xA6");
	expect_put("abcd", 4, "abcd");
	/* four code points of several bytes each: none is split */
	expect_put("\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9", 3, "\xC3\xA9\xC3\xA9\xE2\x80\xA6");
	/* an entity counts as the one character it stands for */
	expect_put("<<<<<", 3, "&lt;&lt;\xE2\x80\xA6");
}
END_TEST

START_TEST(rows_name_lifelines_that_exist)
{
	struct diagram *d = NULL;
	const char *lines[] = { "a", "window 1", NULL, "https://a.example" };
	char *svg = NULL;
	size_t len = 0;
	FILE *f;

	ck_assert_int_eq(diagram_new("t <title>", &d), 0);
	ck_assert_int_eq(diagram_lifeline(d, DIAGRAM_LIFELINE_WINDOW, lines, 4), 0);
	ck_assert_int_eq(diagram_lifeline(d, DIAGRAM_LIFELINE_PORT, lines, 1), 1);
	ck_assert_int_eq(diagram_arrow(d, "1", DIAGRAM_ARROW_MESSAGE, 0, 2, "x", NULL, NULL), -EINVAL);
	ck_assert_int_eq(diagram_arrow(d, "1", DIAGRAM_ARROW_MESSAGE, 0, -1, "x", NULL, NULL), -EINVAL);
	ck_assert_int_eq(diagram_arrow(d, "1", DIAGRAM_ARROW_DROPPED, 0, -1, "x", "why", NULL), 0);
	ck_assert_int_eq(diagram_arrow(d, "1", DIAGRAM_ARROW_MESSAGE, 0, 0, "to itself", NULL, NULL), 0);
	ck_assert_int_eq(diagram_note(d, "2", DIAGRAM_NOTE_FAILED, -1, "across", NULL), 0);
	ck_assert_int_eq(diagram_note(d, "2", DIAGRAM_NOTE_FAILED, 5, "nowhere", NULL), -EINVAL);
	ck_assert_int_eq(diagram_end(d, NULL, 1, "closed"), 0);
	ck_assert_int_eq(diagram_set_subtitle(d, "s & s"), 0);
	f = open_memstream(&svg, &len);
	ck_assert_int_eq(diagram_write(d, f), 0);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(svg, "<title>t &lt;title&gt;</title>"));
	ck_assert_ptr_nonnull(strstr(svg, ">s &amp; s</text>"));
	/* The NULL header line is skipped, not drawn empty. */
	ck_assert_ptr_nonnull(strstr(svg, "<title>a | window 1 | https://a.example</title>"));
	ck_assert_ptr_nonnull(strstr(svg, "class=\"dropped\""));
	ck_assert_ptr_nonnull(strstr(svg, "class=\"note failed\""));
	ck_assert_ptr_nonnull(strstr(svg, "class=\"end\""));
	ck_assert_ptr_nonnull(strstr(svg, "</svg>\n"));
	free(svg);
	ck_assert_ptr_null(diagram_free(d));
	ck_assert_ptr_null(diagram_free(NULL));
}
END_TEST

static Suite *diagram_suite(void)
{
	Suite *s = suite_create("diagram");
	TCase *text = tcase_create("text");
	TCase *rows = tcase_create("rows");

	tcase_add_test(text, xml_specials_are_entity_references);
	tcase_add_test(text, what_xml_cannot_hold_becomes_a_replacement_character);
	tcase_add_test(text, invalid_utf8_becomes_replacement_characters);
	tcase_add_test(text, long_text_is_cut_by_code_points_with_an_ellipsis);
	tcase_add_test(rows, rows_name_lifelines_that_exist);
	suite_add_tcase(s, text);
	suite_add_tcase(s, rows);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(diagram_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
