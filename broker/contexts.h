/* SPDX-License-Identifier: MIT */
/*
 * contexts.h - browsing contexts as the HTML Standard has them: top-level
 * windows and their frame trees, openers, documents and Window objects,
 * window.open()'s choice of a window, familiarity, script-closing and
 * discarding.  The registry (registry.h) stores windows; this module keeps
 * their relations true.  docs/architecture.md, "Browsing contexts".
 *
 *  - window.open() (contexts_open) and iframes (contexts_create_frame)
 *    create *pending* windows: they exist (a reference to them works, they
 *    have a name and an origin) but no process hosts their document until
 *    one presents the claim token (contexts_claim, claims.h).  Messages to
 *    a pending window are dropped: its document is not there yet (the
 *    HTML Standard's initial about:blank, which nobody would read).
 *  - A navigation gives a window a new document: its frames are discarded
 *    (they belonged to the old document), and unless the initial
 *    about:blank is replaced by a same-origin document, a new Window
 *    object, whose id (Window.document) events carry: the ports and
 *    BroadcastChannels of the old Window close.
 *  - Discarding a window discards its frames first; a frame's removal or
 *    its top-level window's close discards the whole subtree.  The
 *    processes hosting the windows are told (WindowClosed).
 */
#ifndef CP_CONTEXTS_H
#define CP_CONTEXTS_H

#include <stdbool.h>
#include <stdint.h>

typedef struct Broker Broker;
typedef struct Claim Claim;
typedef struct Connection Connection;
typedef struct Window Window;

/* Expected outcomes (driver_contexts.c maps them to wire errors). */
enum {
	CONTEXTS_E_BAD_URL = 1,    /* SyntaxError: the URL does not parse */
	CONTEXTS_E_QUOTA = 2,      /* QuotaExceededError: max-frame-depth, max-frames,
	                            * max-pending-claims, max-windows-per-connection */
	CONTEXTS_E_RANGE = 3,      /* RangeError: the document's origin is over max-url-length */
	CONTEXTS_E_NOT_FOUND = 4,  /* NotFoundError: no such frame, unknown claim token */
	CONTEXTS_E_SECURITY = 5,   /* SecurityError: the broker's policy refuses the host */
};

/* window.open(url, target, noopener) by opener (a live window of c).
 * url "" means about:blank, target "" means _blank.  Chooses a window as
 * the HTML Standard's rules for choosing a navigable do (contexts.c), and
 * navigates an existing one to url (unless url is ""), as initiated by
 * opener, telling its host.  Returns 0 with *ret and, when a new window was
 * created, *ret_claim (else NULL); CONTEXTS_E_* with a static reason; or
 * -ENOMEM / -EIO. */
int contexts_open(Connection *c, Window *opener, const char *url, const char *target, bool noopener,
		  Window **ret, Claim **ret_claim, const char **ret_reason);

/* parent (a live window of c) inserts an iframe at url ("": about:blank)
 * named name (may be ""): a new pending window, the parent's last frame.
 * Returns 0 with *ret and *ret_claim, CONTEXTS_E_* with a static reason,
 * or -ENOMEM / -EIO. */
int contexts_create_frame(Connection *c, Window *parent, const char *url, const char *name,
			  Window **ret, Claim **ret_claim, const char **ret_reason);

/* c presents a claim token: the pending window it names is c's from now
 * on (privileged: its events carry source = null, as for Register).  Returns 0 with *ret, or CONTEXTS_E_NOT_FOUND / _QUOTA / _SECURITY
 * with a static reason. */
int contexts_claim(Connection *c, const char *token, bool privileged, Window **ret, const char **ret_reason);

/* Navigates w to url, initiated by initiator (w itself for its own
 * navigation; the opener for window.open()): the new document's origin as
 * document.h says.  Tells w's host (WindowNavigated) when notify_host.  A
 * javascript: URL changes nothing.  Returns 0, CONTEXTS_E_BAD_URL /
 * _RANGE with a static reason, or -ENOMEM. */
int contexts_navigate(Broker *broker, Window *w, const Window *initiator, const char *url, bool notify_host,
		      const char **ret_reason);

/* by (a live window) calls target.close(): true when target is closing
 * now (it is discarded), false when the HTML Standard ignores the call
 * (target not top-level, not script-closable, or by not familiar with
 * it). */
bool contexts_script_close(Broker *broker, Window *by, Window *target);

/* Discards w and its frames.  Every host but `quiet` (the connection
 * that asked, or is going away; may be NULL) is told with WindowClosed. */
void contexts_discard(Broker *broker, Window *w, const Connection *quiet, const char *reason);

/* A claim expired (claims.h calls this): its pending window is discarded. */
void contexts_claim_expired(Broker *broker, Window *w);

/* A connection is going away: its windows are discarded (with their
 * frames, wherever those are hosted), its claims stop counting against
 * it. */
void contexts_connection_closed(Broker *broker, Connection *c);

/* The top-level window of w's tree (w itself when top-level). */
Window *contexts_top(Window *w);

/* The HTML Standard's "A is familiar with B". */
bool contexts_familiar(const Broker *broker, const Window *a, const Window *b);

/* "script-closable": top-level, and created by window.open() or with one
 * session history entry. */
bool contexts_script_closable(const Window *w);

/* frames[index] and frames[name] of w (NULL: undefined).  frames[name]
 * finds the first frame of that name whose document is same origin with
 * w's (HTML "document-tree child navigable target name property set"). */
Window *contexts_frame(const Window *w, uint32_t index);
Window *contexts_frame_named(const Window *w, const char *name);

#endif
