/* SPDX-License-Identifier: MIT */
/* scenario_trace.h - `crosspost run --diagram FILE`: what a run did, drawn as a sequence diagram.
 *
 * The runner tells the trace what only it knows - which alias each window
 * and port id is, who made it, which statement runs, each test point's
 * verdict - and the trace watches the broker as a monitor
 * (cp_client_monitor()) for what only the broker knows: every message it
 * routed, with the origin it stamped, every one it dropped and why, and
 * every window that closed.  Both go into one sequence, in the order the
 * runner learns them: before each statement and each test point the trace
 * waits for the broker to have handled everything sent so far
 * (cp_client_sync()), so a message is drawn before the expectation that
 * saw it.  Ids are resolved to aliases only when the diagram is written,
 * so events may name windows the runner learns of later. */
#ifndef CP_SCENARIO_TRACE_H
#define CP_SCENARIO_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diagram.h"

/* How long the trace waits for the broker to catch up, before it gives up
 * watching (a broker that stops answering fails the run elsewhere). */
#define SCENARIO_TRACE_SYNC_MS 10000
/* The most bytes of a message's data (as JSON) kept for its label and tooltip. */
#define SCENARIO_TRACE_DATA_MAX 2048

struct scenario_trace;

/* A trace of the run of file (copied, for the title).  *ret belongs to the
 * caller (scenario_trace_free()).  Errors: -ENOMEM. */
int scenario_trace_new(const char *file, struct scenario_trace **ret);
/* Stops watching and frees everything.  Accepts NULL; returns NULL. */
struct scenario_trace *scenario_trace_free(struct scenario_trace *trace);

/* Watches the broker at socket_path from now on.  Errors: a CP_ERR_* from
 * connecting or from cp_client_monitor() (CP_ERR_SECURITY: the broker does
 * not let this user monitor), with errbuf saying why. */
int scenario_trace_attach(struct scenario_trace *trace, const char *socket_path, char *errbuf, size_t errlen);
/* Records what the broker routed so far and stops watching it (before the
 * runner restarts it, and at the end). */
void scenario_trace_detach(struct scenario_trace *trace);
/* The broker was restarted: ids from now on are the new broker's. */
void scenario_trace_restarted(struct scenario_trace *trace);
/* Records what the broker has routed so far (it has handled everything
 * the window processes sent, since each waits for that itself). */
void scenario_trace_sync(struct scenario_trace *trace);

/* What follows comes from the statement at this line of the script. */
void scenario_trace_line(struct scenario_trace *trace, unsigned line);

/* A window of the script opened: alias, its broker id, origin and URL;
 * name (window.name), opener and parent (aliases) may be NULL; creator
 * (an alias, or NULL for a top-level window the script opened itself) made
 * it as how says ("window.open(URL)", "iframe URL").  All copied.
 * Errors (all registrations): -ENOMEM. */
int scenario_trace_window(struct scenario_trace *trace, const char *alias, uint64_t id, const char *origin,
			  const char *url, const char *name, const char *opener, const char *parent,
			  const char *creator, const char *how);
/* alias is another name for the window of existing (window.open() chose it by name). */
int scenario_trace_same_window(struct scenario_trace *trace, const char *alias, const char *existing);
/* The window of alias is id at the current broker (after a restart). */
int scenario_trace_window_id(struct scenario_trace *trace, const char *alias, uint64_t id);
/* creator made a MessageChannel: ports alias1 (id1) and alias2 (id2). */
int scenario_trace_channel(struct scenario_trace *trace, const char *creator, const char *alias1, uint64_t id1,
			   const char *alias2, uint64_t id2);
/* Port alias moved with a message to window to (NULL: to nobody). */
void scenario_trace_port_moved(struct scenario_trace *trace, const char *alias, const char *to);
/* Port alias was closed (its channel with it). */
void scenario_trace_port_closed(struct scenario_trace *trace, const char *alias);

/* A note on the lifeline of alias (NULL, or an alias with no lifeline:
 * across the diagram); tooltip may be NULL. */
void scenario_trace_note(struct scenario_trace *trace, const char *alias, enum diagram_note_kind kind,
			 const char *text, const char *tooltip);

/* Writes the diagram as SVG to path.  Errors: negative errno. */
int scenario_trace_write(const struct scenario_trace *trace, const char *path);

#endif
