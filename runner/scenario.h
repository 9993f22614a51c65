/* SPDX-License-Identifier: MIT */
/* scenario.h - parses scenario scripts (docs/scenarios.md) into statements. */
#ifndef CP_SCENARIO_H
#define CP_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crosspost.h"
#include "scenario_corrupt.h"

/* The longest duration a script may ask for; longer is a syntax error
 * rather than a run that seems to hang. */
#define SCENARIO_DURATION_MAX_MS (3600 * 1000)
/* The largest buffer a script may create (`buffer B SIZE`). */
#define SCENARIO_SIZE_MAX (1ULL << 30)
/* Defaults of `within=` (docs/scenarios.md). */
#define SCENARIO_WITHIN_MESSAGE_MS 1000
#define SCENARIO_WITHIN_NOTHING_MS 200

enum scenario_verb {
	SCENARIO_WINDOW,              /* window ALIAS URL [name=] [opener=] [parent=] [privileged] */
	SCENARIO_POST,                /* ALIAS post TARGET DATA [target=] [transfer=] */
	SCENARIO_REPLY,               /* ALIAS reply DATA */
	SCENARIO_EXPECT_MESSAGE,      /* ALIAS expect message [DATA] [origin=] [source=] [ports=] [port=] [within=] */
	SCENARIO_EXPECT_MESSAGEERROR, /* ALIAS expect messageerror [origin=] [source=] [port=] [within=] */
	SCENARIO_EXPECT_NOTHING,      /* ALIAS expect nothing [port=] [within=] */
	SCENARIO_EXPECT_ERROR,        /* ALIAS expect error NAME */
	SCENARIO_EXPECT_DETACHED,     /* ALIAS expect detached BUFFER (addition) */
	SCENARIO_NAVIGATE,            /* ALIAS navigate URL */
	SCENARIO_CLOSE,               /* ALIAS close */
	SCENARIO_SLEEP,               /* sleep DURATION */
	SCENARIO_KILL,                /* kill ALIAS */
	SCENARIO_RESTART_BROKER,      /* restart broker */
	SCENARIO_CHANNEL,             /* ALIAS channel P1 P2 */
	SCENARIO_BUFFER,              /* ALIAS buffer B SIZE [fill=BYTE] */
	SCENARIO_SEND,                /* ALIAS send PORT DATA [transfer=] */
	SCENARIO_CLOSE_PORT,          /* ALIAS close PORT */
	SCENARIO_POST_CORRUPT,        /* ALIAS post-corrupt TARGET [DATA] [kind=] [target=] (addition) */
	SCENARIO_OPEN,                /* open ALIAS URL by=OPENER [name=] [noopener] */
	SCENARIO_FRAME,               /* frame ALIAS URL in=PARENT [name=] */
	SCENARIO_REMOVE,              /* remove ALIAS: its iframe is removed from its parent */
	SCENARIO_EXPECT_CLOSED,       /* OBSERVER expect closed ALIAS [within=] */
	SCENARIO_EXPECT_OPEN,         /* OBSERVER expect open ALIAS [within=] */
	SCENARIO_HOLD,                /* hold ALIAS: its events wait, undispatched */
	SCENARIO_RELEASE,             /* release ALIAS */
	SCENARIO_START_PORT,          /* ALIAS start PORT: port.start() */
	SCENARIO_LISTEN_PORT,         /* ALIAS listen PORT: addEventListener, not started (addition) */
	SCENARIO_SEND_CORRUPT,        /* ALIAS send-corrupt PORT [DATA] [kind=] */
	SCENARIO_CLOSE_WINDOW,        /* ALIAS close TARGET: TARGET.close() by script (addition) */
	SCENARIO_BROADCAST_OPEN,      /* ALIAS broadcast-channel B NAME (addition) */
	SCENARIO_BROADCAST_POST,      /* ALIAS broadcast B DATA (addition) */
	SCENARIO_CLOSE_BROADCAST,     /* ALIAS close B (addition) */
};

/* What a post's TARGET names. */
enum scenario_target {
	SCENARIO_TARGET_WINDOW,   /* a window alias (target_alias) */
	SCENARIO_TARGET_OPENER,   /* the poster's window.opener, from the broker */
	SCENARIO_TARGET_PARENT,   /* the poster's window.parent, from the broker */
	SCENARIO_TARGET_SOURCE,   /* the source of the last event the poster consumed */
	SCENARIO_TARGET_NAME,     /* name:NAME, looked up at the broker (target_name) */
	SCENARIO_TARGET_TOP,      /* the poster's window.top, from the broker */
	SCENARIO_TARGET_FRAME_INDEX,  /* frames[N] of the poster (target_index) */
	SCENARIO_TARGET_FRAME_NAME,   /* frames[NAME] of the poster (target_name) */
};

/* One statement.  Every string is NUL-terminated and owned by the statement;
 * fields a verb does not use are NULL / 0 / false. */
struct scenario_statement {
	enum scenario_verb verb;
	unsigned line;              /* 1-based line in the file */
	int block;                  /* the `## NAME` block it is in (index); -1: before any */
	char *text;                 /* the statement as written, without comment */
	char *actor;                /* the window that acts (ALIAS ...), the new window's
	                             * alias (window) or the victim (kill); NULL for sleep
	                             * and restart */

	/* window */
	char *url;                  /* also navigate */
	char *name;                 /* name=, or NULL */
	char *opener;               /* opener= (window), by= (open): alias, or NULL */
	char *parent;               /* parent= (window), in= (frame): alias, or NULL */
	bool privileged;
	bool noopener;              /* open: noopener */

	/* post, post-corrupt */
	enum scenario_target target_kind;
	char *target_alias;         /* SCENARIO_TARGET_WINDOW */
	char *target_name;          /* SCENARIO_TARGET_NAME, _FRAME_NAME */
	uint32_t target_index;      /* SCENARIO_TARGET_FRAME_INDEX */
	char *target_origin;        /* target=; "/" when not given */
	enum scenario_corruption corruption;  /* post-corrupt: kind= */

	/* DATA of post, post-corrupt, reply, send and expect message (NULL: not given;
	 * post-corrupt then has SCENARIO_CORRUPT_DEFAULT_DATA in data_json only).
	 * data_json is the text as written.  data_masked is the same text with
	 * every {"$buffer":"B"}, {"$port":"P"} and view over a named buffer
	 * replaced by a placeholder (scenario_value.h), and data is it parsed:
	 * when data_named, it must be resolved before use. */
	char *data_json;
	char *data_masked;
	cp_value *data;
	bool data_named;
	/* The buffers and ports DATA names, each once, in order of appearance. */
	char **buffer_refs;
	size_t buffer_ref_count;
	char **port_refs;
	size_t port_ref_count;

	/* expect message / messageerror / nothing */
	char *origin;               /* origin=, or NULL: not checked */
	char *source;               /* source= alias, or NULL: not checked */
	bool source_null;           /* source=null */
	int64_t within_ms;          /* within=, or the verb's default */
	bool ports_given;           /* ports=N or ports=P1,P2 */
	unsigned ports;
	char **ports_list;          /* ports=P1,P2: these ports, in this order (else NULL) */
	char *last_event_id;        /* last-event-id=, or NULL: not checked */
	char *port;                 /* port= (expect), PORT (send, close, start, listen) */
	char *channel;              /* channel= (expect), B (broadcast-channel, broadcast, close B) */
	char *channel_name;         /* broadcast-channel: NAME */

	/* expect error */
	char *error_name;

	/* post / send transfer=, in order, as written (ports, buffers, and
	 * windows or repeats, which fail with DataCloneError when run) */
	char **transfer;
	size_t transfer_count;

	/* channel */
	char *port1, *port2;

	/* buffer; expect detached */
	char *buffer;
	uint64_t size;
	unsigned fill;
	char *bytes;                /* buffer bytes=BASE64 (then size is their count) */

	/* sleep */
	int64_t duration_ms;
};

/* A parsed script. */
struct scenario {
	char *file;                              /* as given to scenario_parse() */
	struct scenario_statement *statements;
	size_t count;
	/* Named blocks: a comment line "## NAME" starts one, which runs to the
	 * next such line (`crosspost run --filter NAME` runs the statements
	 * before the first block, then that block alone). */
	char **blocks;
	size_t block_count;
};

/* Where and why a script does not parse. */
struct scenario_error {
	unsigned line;              /* 1-based; 0 when not about one line (I/O) */
	char message[512];
};

/* Parses a whole script.  file names it in messages.  On success *ret
 * belongs to the caller (scenario_free()).  Errors: -EINVAL with *err
 * describing the first problem (syntax, unknown alias, bad DATA, ...),
 * -ENOMEM. */
int scenario_parse(const char *file, const char *text, size_t len,
		   struct scenario_error *err, struct scenario **ret);

/* Reads path and parses it (path also names it in messages).  Errors as
 * scenario_parse(), plus a negative errno from reading the file (then
 * err->line is 0 and err->message says why). */
int scenario_load(const char *path, struct scenario_error *err, struct scenario **ret);

/* Frees the script and its statements.  Accepts NULL; returns NULL. */
struct scenario *scenario_free(struct scenario *scenario);

/* "250ms", "2s", "1.5s" -> milliseconds (a unit is required).  0 or -EINVAL
 * (not a duration, or over SCENARIO_DURATION_MAX_MS). */
int scenario_parse_duration(const char *text, int64_t *ret_ms);

/* "4096", "64KiB", "8MiB", "1GiB" -> bytes.  0 or -EINVAL (not a size, or
 * over SCENARIO_SIZE_MAX). */
int scenario_parse_size(const char *text, uint64_t *ret);

/* The statement's verb as written ("post", "expect message", ...); static. */
const char *scenario_verb_name(enum scenario_verb verb);

#endif
