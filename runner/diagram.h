/* SPDX-License-Identifier: MIT */
/* diagram.h - a sequence diagram (lifelines, arrows, notes) written as SVG 1.1.
 *
 * Knows nothing of crosspost: scenario_trace.c decides what to draw.  Every
 * string given here may come from an attacker (window names, message data,
 * origins): the writer replaces what is not valid UTF-8 or not allowed in
 * XML 1.0 with U+FFFD, escapes the XML specials, and truncates labels to
 * the room they have (the full text, capped, is the element's <title>). */
#ifndef CP_DIAGRAM_H
#define CP_DIAGRAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* The longest text kept for a tooltip (<title>), in code points. */
#define DIAGRAM_TOOLTIP_MAX 1000
/* The most header lines of a lifeline. */
#define DIAGRAM_HEADER_LINES 6

struct diagram;

enum diagram_lifeline_kind {
	DIAGRAM_LIFELINE_WINDOW,
	DIAGRAM_LIFELINE_PORT,
};

enum diagram_arrow_kind {
	DIAGRAM_ARROW_MESSAGE,      /* delivered to a window */
	DIAGRAM_ARROW_PORT,         /* between two MessagePorts */
	DIAGRAM_ARROW_BROADCAST,    /* a BroadcastChannel message */
	DIAGRAM_ARROW_DROPPED,      /* stops short of its target, with the reason */
	DIAGRAM_ARROW_CREATE,       /* a lifeline made by another (window.open, iframe) */
};

enum diagram_note_kind {
	DIAGRAM_NOTE_INFO,
	DIAGRAM_NOTE_PASSED,
	DIAGRAM_NOTE_FAILED,        /* drawn in red */
};

/* A diagram titled title (copied).  *ret belongs to the caller
 * (diagram_free()).  Errors: -ENOMEM. */
int diagram_new(const char *title, struct diagram **ret);
/* A line under the title (copied; NULL: none).  Errors: -ENOMEM. */
int diagram_set_subtitle(struct diagram *d, const char *subtitle);
/* Accepts NULL; returns NULL. */
struct diagram *diagram_free(struct diagram *d);

/* A lifeline, left of those added after it, whose header shows lines[0]
 * (bold) and up to DIAGRAM_HEADER_LINES - 1 more (copied; NULL entries are
 * skipped).  It is drawn from the top until diagram_begin() says where it
 * starts.  Returns its index, or -ENOMEM. */
int diagram_lifeline(struct diagram *d, enum diagram_lifeline_kind kind, const char *const *lines, size_t n);

/* The rows, top to bottom.  tag is shown in the left margin when it
 * differs from the row above (a script line number; may be NULL); label
 * goes above an arrow, detail below it (either may be NULL); tooltip, when
 * not NULL, is the full text shown on hover.  from/to are lifeline
 * indexes; to may be -1 for a dropped message whose target has no
 * lifeline.  A CREATE arrow also starts its target's lifeline there.
 * Errors (all): -ENOMEM, -EINVAL (an index out of range). */
int diagram_arrow(struct diagram *d, const char *tag, enum diagram_arrow_kind kind, int from, int to,
		  const char *label, const char *detail, const char *tooltip);
/* A note on a lifeline, or across the whole diagram (lifeline -1). */
int diagram_note(struct diagram *d, const char *tag, enum diagram_note_kind kind, int lifeline, const char *text,
		 const char *tooltip);
/* The lifeline starts at the next row (without a CREATE arrow). */
int diagram_begin(struct diagram *d, int lifeline);
/* The lifeline ends here (an X), with why (may be NULL). */
int diagram_end(struct diagram *d, const char *tag, int lifeline, const char *why);

/* Writes the SVG document to out.  Errors: -EIO (a write failed). */
int diagram_write(const struct diagram *d, FILE *out);

/* Writes text as XML character data (also fit for an attribute value) of
 * at most max code points (0: no limit; a longer text ends with U+2026):
 * invalid UTF-8, characters XML 1.0 forbids, C1 controls and bidi
 * overrides become U+FFFD, tabs and line breaks a space, and & < > " '
 * entity references.  NULL writes nothing.  Exposed for the tests. */
void diagram_put_text(FILE *out, const char *text, size_t max);

#endif
