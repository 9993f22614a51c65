/* SPDX-License-Identifier: MIT */
/* diagram.c - a sequence diagram (lifelines, arrows, notes) written as SVG 1.1. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "diagram.h"

/* Geometry, in SVG user units (pixels at 1:1).  Text is monospace, so a
 * label's room in characters follows from its width: about 0.6 em each. */
#define MARGIN 16
#define GUTTER 40            /* the line numbers, left of the lifelines */
#define COLUMN 230           /* one lifeline */
#define TITLE_H 52
#define HEADER_LINE_H 15
#define ROW_ARROW_H 46
#define ROW_CREATE_H 34
#define ROW_NOTE_H 30
#define ROW_END_H 30
#define FONT 11
#define CHAR_W 6.6
#define DROP_STOP 0.62       /* a dropped arrow stops this far along its way */
#define NOTE_MAX_W (COLUMN * 1.6)

enum row_type { ROW_ARROW, ROW_NOTE, ROW_END };

struct row {
	enum row_type type;
	int kind;                   /* enum diagram_arrow_kind or diagram_note_kind */
	int from, to;               /* lifelines (to: -1 none); notes and ends: from */
	char *tag, *label, *detail, *tooltip;
};

struct lifeline {
	enum diagram_lifeline_kind kind;
	char *lines[DIAGRAM_HEADER_LINES];
	size_t count;
	size_t start;               /* first row it is drawn at (0: from the top) */
	size_t end;                 /* row it ends at (SIZE_MAX: runs to the bottom) */
};

struct diagram {
	char *title, *subtitle;
	struct lifeline *lifelines;
	size_t lifeline_count;
	struct row *rows;
	size_t row_count;
};

static char *dup_or_null(const char *s, bool *failed)
{
	char *copy;

	if (!s)
		return NULL;
	copy = strdup(s);
	if (!copy)
		*failed = true;
	return copy;
}

int diagram_new(const char *title, struct diagram **ret)
{
	struct diagram *d = calloc(1, sizeof(*d));

	if (!d || !(d->title = strdup(title ? title : ""))) {
		free(d);
		return -ENOMEM;
	}
	*ret = d;
	return 0;
}

int diagram_set_subtitle(struct diagram *d, const char *subtitle)
{
	bool failed = false;
	char *s = dup_or_null(subtitle, &failed);

	if (failed)
		return -ENOMEM;
	free(d->subtitle);
	d->subtitle = s;
	return 0;
}

struct diagram *diagram_free(struct diagram *d)
{
	if (!d)
		return NULL;
	for (size_t i = 0; i < d->lifeline_count; i++)
		for (size_t k = 0; k < d->lifelines[i].count; k++)
			free(d->lifelines[i].lines[k]);
	for (size_t i = 0; i < d->row_count; i++) {
		free(d->rows[i].tag);
		free(d->rows[i].label);
		free(d->rows[i].detail);
		free(d->rows[i].tooltip);
	}
	free(d->lifelines);
	free(d->rows);
	free(d->title);
	free(d->subtitle);
	free(d);
	return NULL;
}

int diagram_lifeline(struct diagram *d, enum diagram_lifeline_kind kind, const char *const *lines, size_t n)
{
	struct lifeline *v = realloc(d->lifelines, (d->lifeline_count + 1) * sizeof(*v)), *l;
	bool failed = false;

	if (!v)
		return -ENOMEM;
	d->lifelines = v;
	l = &v[d->lifeline_count];
	*l = (struct lifeline){ .kind = kind, .end = SIZE_MAX };
	for (size_t i = 0; i < n && l->count < DIAGRAM_HEADER_LINES; i++)
		if (lines[i])
			l->lines[l->count++] = dup_or_null(lines[i], &failed);
	if (failed) {
		for (size_t k = 0; k < l->count; k++)
			free(l->lines[k]);
		return -ENOMEM;
	}
	return (int)d->lifeline_count++;
}

static bool valid(const struct diagram *d, int lifeline, bool may_be_none)
{
	return (may_be_none && lifeline == -1) || (lifeline >= 0 && (size_t)lifeline < d->lifeline_count);
}

static int add_row(struct diagram *d, const struct row *proto, const char *tag, const char *label,
		   const char *detail, const char *tooltip)
{
	struct row *v = realloc(d->rows, (d->row_count + 1) * sizeof(*v)), *r;
	bool failed = false;

	if (!v)
		return -ENOMEM;
	d->rows = v;
	r = &v[d->row_count];
	*r = *proto;
	r->tag = dup_or_null(tag, &failed);
	r->label = dup_or_null(label, &failed);
	r->detail = dup_or_null(detail, &failed);
	r->tooltip = dup_or_null(tooltip, &failed);
	if (failed) {
		free(r->tag);
		free(r->label);
		free(r->detail);
		free(r->tooltip);
		return -ENOMEM;
	}
	d->row_count++;
	return 0;
}

int diagram_arrow(struct diagram *d, const char *tag, enum diagram_arrow_kind kind, int from, int to,
		  const char *label, const char *detail, const char *tooltip)
{
	struct row r = { .type = ROW_ARROW, .kind = kind, .from = from, .to = to };
	int e;

	if (!valid(d, from, false) || !valid(d, to, kind == DIAGRAM_ARROW_DROPPED))
		return -EINVAL;
	e = add_row(d, &r, tag, label, detail, tooltip);
	if (e == 0 && kind == DIAGRAM_ARROW_CREATE)
		d->lifelines[to].start = d->row_count - 1;
	return e;
}

int diagram_note(struct diagram *d, const char *tag, enum diagram_note_kind kind, int lifeline, const char *text,
		 const char *tooltip)
{
	struct row r = { .type = ROW_NOTE, .kind = kind, .from = lifeline, .to = -1 };

	if (!valid(d, lifeline, true))
		return -EINVAL;
	return add_row(d, &r, tag, text, NULL, tooltip);
}

int diagram_begin(struct diagram *d, int lifeline)
{
	if (!valid(d, lifeline, false))
		return -EINVAL;
	d->lifelines[lifeline].start = d->row_count;
	return 0;
}

int diagram_end(struct diagram *d, const char *tag, int lifeline, const char *why)
{
	struct row r = { .type = ROW_END, .from = lifeline, .to = -1 };
	int e;

	if (!valid(d, lifeline, false))
		return -EINVAL;
	e = add_row(d, &r, tag, why, NULL, NULL);
	if (e == 0)
		d->lifelines[lifeline].end = d->row_count - 1;
	return e;
}

/* ---- text ---- */

/* The next code point of *p (advanced), U+FFFD for a byte that does not
 * start a well-formed UTF-8 sequence (overlong forms, surrogates and
 * values over U+10FFFF included). */
static uint32_t next_code_point(const unsigned char **p)
{
	const unsigned char *s = *p;
	uint32_t cp;
	size_t n;

	if (s[0] < 0x80) {
		*p = s + 1;
		return s[0];
	}
	if (s[0] >= 0xC2 && s[0] <= 0xDF) {
		cp = s[0] & 0x1F;
		n = 1;
	} else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
		cp = s[0] & 0x0F;
		n = 2;
		if ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] >= 0xA0))
			n = 0;
	} else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
		cp = s[0] & 0x07;
		n = 3;
		if ((s[0] == 0xF0 && s[1] < 0x90) || (s[0] == 0xF4 && s[1] >= 0x90))
			n = 0;
	} else {
		n = 0;
	}
	for (size_t i = 1; i <= n; i++) {
		/* A NUL ends the loop here too: it is not a continuation byte. */
		if ((s[i] & 0xC0) != 0x80) {
			n = 0;
			break;
		}
		cp = cp << 6 | (s[i] & 0x3F);
	}
	if (n == 0) {
		*p = s + 1;
		return 0xFFFD;
	}
	*p = s + n + 1;
	return cp;
}

/* What a code point is shown as: XML 1.0's Char production without the
 * C1 controls (legal but invisible) and the bidi embeddings, overrides and
 * isolates, with which a label could read backwards. */
static uint32_t shown_as(uint32_t cp)
{
	if (cp == '\t' || cp == '\n' || cp == '\r')
		return ' ';
	if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || cp == 0xFFFE || cp == 0xFFFF ||
	    (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069))
		return 0xFFFD;
	return cp;
}

static void put_code_point(FILE *out, uint32_t cp)
{
	switch (cp) {
	case '&': fputs("&amp;", out); return;
	case '<': fputs("&lt;", out); return;
	case '>': fputs("&gt;", out); return;
	case '"': fputs("&quot;", out); return;
	case '\'': fputs("&apos;", out); return;
	}
	if (cp < 0x80) {
		fputc((int)cp, out);
	} else if (cp < 0x800) {
		fputc((int)(0xC0 | cp >> 6), out);
		fputc((int)(0x80 | (cp & 0x3F)), out);
	} else if (cp < 0x10000) {
		fputc((int)(0xE0 | cp >> 12), out);
		fputc((int)(0x80 | (cp >> 6 & 0x3F)), out);
		fputc((int)(0x80 | (cp & 0x3F)), out);
	} else {
		fputc((int)(0xF0 | cp >> 18), out);
		fputc((int)(0x80 | (cp >> 12 & 0x3F)), out);
		fputc((int)(0x80 | (cp >> 6 & 0x3F)), out);
		fputc((int)(0x80 | (cp & 0x3F)), out);
	}
}

static size_t count_code_points(const char *text)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t n = 0;

	while (*p) {
		next_code_point(&p);
		n++;
	}
	return n;
}

void diagram_put_text(FILE *out, const char *text, size_t max)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t total, shown;

	if (!text)
		return;
	total = count_code_points(text);
	shown = max && total > max ? max - 1 : total;
	for (size_t i = 0; i < shown; i++)
		put_code_point(out, shown_as(next_code_point(&p)));
	if (shown < total)
		put_code_point(out, 0x2026);
}

/* ---- drawing ---- */

struct style {
	const char *cls, *color, *marker;
	bool dashed;
};

static const struct style arrow_styles[] = {
	[DIAGRAM_ARROW_MESSAGE] = { "message", "#1f4e8c", "head-message", false },
	[DIAGRAM_ARROW_PORT] = { "message port-message", "#6a1b9a", "head-port", false },
	[DIAGRAM_ARROW_BROADCAST] = { "message broadcast", "#00695c", "head-broadcast", false },
	[DIAGRAM_ARROW_DROPPED] = { "dropped", "#c62828", NULL, true },
	[DIAGRAM_ARROW_CREATE] = { "create", "#616161", "head-create", true },
};

static const struct { const char *cls, *fill, *stroke, *text; } note_styles[] = {
	[DIAGRAM_NOTE_INFO] = { "note info", "#f5f5f5", "#9e9e9e", "#424242" },
	[DIAGRAM_NOTE_PASSED] = { "note passed", "#e8f5e9", "#2e7d32", "#1b5e20" },
	[DIAGRAM_NOTE_FAILED] = { "note failed", "#fdecea", "#c62828", "#c62828" },
};

static double lifeline_x(int i)
{
	return MARGIN + GUTTER + (double)i * COLUMN + COLUMN / 2.0;
}

static int row_height(const struct row *r)
{
	switch (r->type) {
	case ROW_ARROW: return r->kind == DIAGRAM_ARROW_CREATE ? ROW_CREATE_H : ROW_ARROW_H;
	case ROW_NOTE: return ROW_NOTE_H;
	case ROW_END: return ROW_END_H;
	}
	return 0;
}

/* How many characters fit in width. */
static size_t fit(double width)
{
	double n = width / CHAR_W;

	return n < 8 ? 8 : (size_t)n;
}

static void put_title(FILE *out, const char *tooltip)
{
	if (!tooltip)
		return;
	fputs("<title>", out);
	diagram_put_text(out, tooltip, DIAGRAM_TOOLTIP_MAX);
	fputs("</title>", out);
}

static void put_label(FILE *out, double x, double y, const char *anchor, const char *fill, const char *extra,
		      const char *text, size_t max)
{
	fprintf(out, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" fill=\"%s\"%s>", x, y, anchor, fill,
		extra ? extra : "");
	diagram_put_text(out, text, max);
	fputs("</text>\n", out);
}

static void draw_header(FILE *out, const struct lifeline *l, int i, double top, double height)
{
	double x = lifeline_x(i), w = COLUMN - 24;
	bool port = l->kind == DIAGRAM_LIFELINE_PORT;

	fprintf(out, "<g class=\"lifeline %s\"><title>", port ? "port" : "window");
	/* The whole header, for lines cut to the box's width. */
	for (size_t k = 0; k < l->count; k++) {
		fputs(k ? " | " : "", out);
		diagram_put_text(out, l->lines[k], DIAGRAM_TOOLTIP_MAX / DIAGRAM_HEADER_LINES);
	}
	fputs("</title>\n", out);
	fprintf(out, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" rx=\"%d\" fill=\"%s\" "
		"stroke=\"%s\"%s/>\n", x - w / 2, top, w, height, port ? 12 : 4, port ? "#f3e5f5" : "#e3ecf7",
		port ? "#6a1b9a" : "#1f4e8c", port ? " stroke-dasharray=\"4 2\"" : "");
	for (size_t k = 0; k < l->count; k++)
		put_label(out, x, top + 16 + (double)k * HEADER_LINE_H, "middle", k ? "#333333" : "#000000",
			  k ? NULL : " font-weight=\"bold\" font-size=\"12\"", l->lines[k], fit(w - 10));
	fputs("</g>\n", out);
}

static void draw_arrow(FILE *out, const struct row *r, double y, double canvas_width)
{
	const struct style *s = &arrow_styles[r->kind];
	double x1 = lifeline_x(r->from), x2 = r->to >= 0 ? lifeline_x(r->to) : x1 + COLUMN * 0.8;
	double line_y = y + (r->kind == DIAGRAM_ARROW_CREATE ? 20 : 22), mid, room;
	const char *dash = s->dashed ? " stroke-dasharray=\"5 3\"" : "";

	fprintf(out, "<g class=\"%s\">", s->cls);
	put_title(out, r->tooltip);
	fputc('\n', out);
	if (r->to == r->from) {
		/* To itself: a loop on the right of its lifeline. */
		double w = 36;

		fprintf(out, "<path d=\"M%.1f %.1f h%.1f v10 h%.1f\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.5\"%s%s%s%s/>\n",
			x1, line_y - 6, w, -w + (s->marker ? 2 : 0), s->color, dash, s->marker ? " marker-end=\"url(#" : "",
			s->marker ? s->marker : "", s->marker ? ")\"" : "");
		mid = x1 + w + 6;
		room = COLUMN / 2.0 - w;
		put_label(out, mid, line_y - 10, "start", "#000000", NULL, r->label, fit(room + COLUMN / 2.0));
		put_label(out, mid, line_y + 14, "start", r->kind == DIAGRAM_ARROW_DROPPED ? s->color : "#555555",
			  " font-size=\"10\"", r->detail, fit(room + COLUMN / 2.0));
		fputs("</g>\n", out);
		return;
	}
	if (r->kind == DIAGRAM_ARROW_DROPPED) {
		/* It never arrives: the line stops on the way, with an X. */
		double stop = x1 + (x2 - x1) * DROP_STOP;

		fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"1.5\"%s/>\n",
			x1, line_y, stop, line_y, s->color, dash);
		fprintf(out, "<path d=\"M%.1f %.1f l10 10 m0 -10 l-10 10\" stroke=\"%s\" stroke-width=\"2\"/>\n",
			stop - 5, line_y - 5, s->color);
	} else {
		/* Stop short of the lifeline so the arrowhead touches it. */
		double end = x2 + (x2 > x1 ? -1 : 1);

		fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"1.5\"%s "
			"marker-end=\"url(#%s)\"/>\n", x1, line_y, end, line_y, s->color, dash, s->marker);
	}
	mid = (x1 + x2) / 2;
	room = x2 > x1 ? x2 - x1 : x1 - x2;
	if (room < COLUMN)
		room = COLUMN;
	put_label(out, mid, line_y - 5, "middle", r->kind == DIAGRAM_ARROW_CREATE ? "#616161" : "#000000",
		  r->kind == DIAGRAM_ARROW_CREATE ? " font-size=\"10\"" : NULL, r->label, fit(room - 12));
	if (r->detail && r->kind == DIAGRAM_ARROW_DROPPED) {
		/* The reason matters most: it starts at the sender and may run
		 * under the lifelines beyond, to the edge of the picture. */
		bool right = x2 >= x1;
		double edge = right ? canvas_width - MARGIN - x1 : x1 - MARGIN - GUTTER;

		put_label(out, x1 + (right ? 4 : -4), line_y + 14, right ? "start" : "end", s->color,
			  " font-size=\"10\"", r->detail, fit(edge * 1.1));
	} else if (r->detail) {
		put_label(out, mid, line_y + 14, "middle", "#555555", " font-size=\"10\"", r->detail,
			  fit((room - 12) * 1.1));
	}
	fputs("</g>\n", out);
}

static void draw_note(FILE *out, const struct diagram *d, const struct row *r, double y)
{
	double total = (double)d->lifeline_count * COLUMN, x, w;
	size_t max, len;

	if (r->from < 0) {
		/* Across every lifeline: an event of the whole run. */
		x = MARGIN + GUTTER + 4;
		w = total - 8;
	} else {
		max = fit(NOTE_MAX_W - 14);
		len = count_code_points(r->label ? r->label : "");
		w = (double)(len < max ? len : max) * CHAR_W + 16;
		x = lifeline_x(r->from) - w / 2;
		/* Keep it on the canvas at the edges. */
		if (x < MARGIN + GUTTER)
			x = MARGIN + GUTTER;
		if (x + w > MARGIN + GUTTER + total)
			x = MARGIN + GUTTER + total - w;
	}
	fprintf(out, "<g class=\"%s\">", note_styles[r->kind].cls);
	put_title(out, r->tooltip);
	fprintf(out, "\n<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"20\" rx=\"3\" fill=\"%s\" stroke=\"%s\"/>\n",
		x, y + 4, w, note_styles[r->kind].fill, note_styles[r->kind].stroke);
	put_label(out, x + w / 2, y + 18, "middle", note_styles[r->kind].text,
		  r->kind == DIAGRAM_NOTE_FAILED ? " font-weight=\"bold\"" : NULL, r->label, fit(w - 14));
	fputs("</g>\n", out);
}

static void draw_end(FILE *out, const struct row *r, double y)
{
	double x = lifeline_x(r->from), cy = y + 12;

	fputs("<g class=\"end\">", out);
	put_title(out, r->label);
	fprintf(out, "\n<path d=\"M%.1f %.1f l12 12 m0 -12 l-12 12\" stroke=\"#000000\" stroke-width=\"2\"/>\n", x - 6,
		cy - 6);
	put_label(out, x + 10, cy + 18, "start", "#555555", " font-size=\"10\"", r->label, fit(COLUMN / 2.0 + 40));
	fputs("</g>\n", out);
}

int diagram_write(const struct diagram *d, FILE *out)
{
	size_t header_lines = 1;
	double width, height, header_top = MARGIN + TITLE_H, header_h, rows_top, y;
	double *row_y = calloc(d->row_count + 1, sizeof(*row_y));
	const char *last_tag = NULL;

	if (!row_y)
		return -ENOMEM;
	for (size_t i = 0; i < d->lifeline_count; i++)
		if (d->lifelines[i].count > header_lines)
			header_lines = d->lifelines[i].count;
	header_h = 10 + (double)header_lines * HEADER_LINE_H;
	rows_top = header_top + header_h + 14;
	y = rows_top;
	for (size_t i = 0; i < d->row_count; i++) {
		row_y[i] = y;
		y += row_height(&d->rows[i]);
	}
	row_y[d->row_count] = y;
	width = 2 * MARGIN + GUTTER + (double)(d->lifeline_count ? d->lifeline_count : 1) * COLUMN;
	/* Room for the summary line too (it is ours, of bounded length). */
	if (d->subtitle && width < 2 * MARGIN + (double)count_code_points(d->subtitle) * CHAR_W)
		width = 2 * MARGIN + (double)count_code_points(d->subtitle) * CHAR_W;
	height = y + 12 + MARGIN;

	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", out);
	fprintf(out, "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%.0f\" height=\"%.0f\" "
		"viewBox=\"0 0 %.0f %.0f\" font-family=\"DejaVu Sans Mono, monospace\" font-size=\"%d\">\n",
		width, height, width, height, FONT);
	fputs("<title>", out);
	diagram_put_text(out, d->title, DIAGRAM_TOOLTIP_MAX);
	fputs("</title>\n<defs>\n", out);
	for (size_t k = 0; k < sizeof(arrow_styles) / sizeof(arrow_styles[0]); k++)
		if (arrow_styles[k].marker)
			fprintf(out, "<marker id=\"%s\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"8\" "
				"markerHeight=\"8\" orient=\"auto\"><path d=\"M0 0 L10 5 L0 10 z\" fill=\"%s\"/></marker>\n",
				arrow_styles[k].marker, arrow_styles[k].color);
	fputs("</defs>\n", out);
	fprintf(out, "<rect class=\"background\" x=\"0\" y=\"0\" width=\"%.0f\" height=\"%.0f\" fill=\"#ffffff\"/>\n",
		width, height);
	put_label(out, MARGIN, MARGIN + 16, "start", "#000000", " class=\"heading\" font-weight=\"bold\" font-size=\"14\"",
		  d->title, fit(width - 2 * MARGIN) * 11 / 14);
	if (d->subtitle)
		put_label(out, MARGIN, MARGIN + 36, "start", "#333333", " class=\"summary\"", d->subtitle,
			  fit(width - 2 * MARGIN));
	put_label(out, MARGIN + GUTTER / 2.0, header_top + 16, "middle", "#777777", " font-size=\"10\"", "line", 0);

	/* Lifelines first, so that arrows and notes are drawn over them. */
	for (size_t i = 0; i < d->lifeline_count; i++) {
		const struct lifeline *l = &d->lifelines[i];
		double x = lifeline_x((int)i), top = header_top + header_h;
		double start = l->start ? row_y[l->start] : top, end = l->end == SIZE_MAX ? y : row_y[l->end] + 12;

		if (l->start)
			fprintf(out, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#dddddd\" "
				"stroke-dasharray=\"1 4\"/>\n", x, top, x, start);
		fprintf(out, "<line class=\"lifeline-line\" x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
			"stroke-dasharray=\"6 4\"/>\n", x, start, x, end,
			l->kind == DIAGRAM_LIFELINE_PORT ? "#9c6fb0" : "#8aa2c2");
		draw_header(out, l, (int)i, header_top, header_h);
	}
	for (size_t i = 0; i < d->row_count; i++) {
		const struct row *r = &d->rows[i];

		if (r->tag && (!last_tag || strcmp(last_tag, r->tag) != 0))
			put_label(out, MARGIN + GUTTER / 2.0, row_y[i] + 18, "middle", "#777777",
				  " class=\"line-number\" font-size=\"10\"", r->tag, 6);
		if (r->tag)
			last_tag = r->tag;
		switch (r->type) {
		case ROW_ARROW: draw_arrow(out, r, row_y[i], width); break;
		case ROW_NOTE: draw_note(out, d, r, row_y[i]); break;
		case ROW_END: draw_end(out, r, row_y[i]); break;
		}
	}
	fputs("</svg>\n", out);
	free(row_y);
	return ferror(out) ? -EIO : 0;
}
