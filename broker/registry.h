/* SPDX-License-Identifier: MIT */
/*
 * registry.h - the broker's live windows: ids, names, URLs and origins.
 *
 * Ids are assigned in increasing order from 1 and never reused, so "an id
 * that never existed" (NotFoundError) and "a window that has closed"
 * (silently dropped) can be told apart forever.
 */
#ifndef CP_REGISTRY_H
#define CP_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "origin.h"

typedef struct Registry Registry;
struct Claim;

/*
 * A window is a browsing context: a top-level window (registered by its
 * process, or opened by another window's window.open()) or an iframe's
 * (a child of another window).  contexts.h keeps the relations; the
 * registry only stores and finds them.
 */
typedef struct Window {
	uint64_t id;
	char *name;              /* NULL: no name */
	char *url;
	Origin *origin;          /* of its document; replaced on navigation */
	uint64_t generation;     /* counts navigations (session history entries - 1) */
	/* Counts its Window objects: a new one for every new document but
	 * the one the HTML Standard reuses (initial about:blank replaced by a
	 * same-origin document).  Stamped on events (Event.target_document);
	 * 0 while pending. */
	uint64_t document;
	bool privileged;         /* its events carry source = null */
	bool auxiliary;          /* created by window.open(): "is created by web content" */
	bool initial_about_blank;  /* its document is still its initial about:blank */
	bool pending;            /* opened or framed, no process has claimed it yet */
	void *owner;             /* the connection hosting it (borrowed); NULL while pending */
	pid_t pid;               /* the owner's process, for listings */
	uint64_t opener_id;      /* its opener browsing context (maybe closed since); 0: none */
	struct Window *parent;   /* NULL: top-level */
	/* Its frames (its document's child navigables), in creation order. */
	struct Window *first_child, *last_child, *prev_sibling, *next_sibling;
	uint32_t n_children;
	uint32_t depth;          /* 0: top-level; a frame's parent's + 1 */
	uint32_t tree_size;      /* top-level windows: windows in its tree, itself included */
	struct Claim *claim;     /* while pending: the token that claims it */
	struct BroadcastSub *broadcasts;  /* its BroadcastChannels (broadcast.c) */
	/* Counters for `crosspost stats`: its posts the broker accepted and
	 * dropped, the messages queued for it, and their bytes. */
	uint64_t posted, dropped, received, bytes_posted, bytes_received;
	bool report_drops;       /* its dropped posts come back as EVENT_DROPPED */
	/* Registry bookkeeping. */
	struct Window *id_next, *name_next;       /* hash chains */
	struct Window *order_prev, *order_next;   /* by id */
	struct Window *owner_next;                /* owner's windows */
} Window;

/* Expected outcomes of registry_add() and registry_navigate(). */
enum {
	REGISTRY_E_BAD_URL = 1,     /* the URL does not parse: SyntaxError */
	REGISTRY_E_NAME_TAKEN = 2,  /* another live window has the name */
	/* The URL's origin serializes to more than FRAME_URL_MAX bytes (IDNA
	 * can make a host much longer than typed): RangeError, so that every
	 * origin the broker stamps fits an event. */
	REGISTRY_E_ORIGIN_TOO_LONG = 3,
};

int registry_new(Registry **ret);
/* Frees the registry and every window still in it. */
Registry *registry_free(Registry *registry);

/* Adds a window for owner with a fresh id; name may be NULL or "".  Returns
 * 0 with *ret (borrowed: the registry owns it), REGISTRY_E_* with a static
 * reason in *ret_reason, or -ENOMEM. */
int registry_add(Registry *registry, void *owner, pid_t pid, const char *url, const char *name,
		 bool privileged, Window **ret, const char **ret_reason);

/* Adds a pending window (no owner until claimed) for window.open() or an
 * iframe, with a fresh id, at url with origin (taken on success); name may
 * be NULL, and need not be unique (browsing context names are not).
 * Returns 0 with *ret (borrowed), or -ENOMEM (origin not taken). */
int registry_add_pending(Registry *registry, const char *url, const char *name, Origin *origin,
			 Window **ret);

/* Gives window a new document: url and origin (taken on success).  The
 * counters are the caller's (contexts.c).  Returns 0 or -ENOMEM (origin
 * not taken, window unchanged). */
int registry_set_document(Registry *registry, Window *window, const char *url, Origin *origin);

/* Points window at url: new origin, generation + 1.  Returns 0,
 * REGISTRY_E_BAD_URL (window unchanged) or -ENOMEM. */
int registry_navigate(Registry *registry, Window *window, const char *url, const char **ret_reason);

/* Removes and frees window; its id is never handed out again. */
void registry_remove(Registry *registry, Window *window);

Window *registry_find(const Registry *registry, uint64_t id);
Window *registry_find_name(const Registry *registry, const char *name);
/* True when id was ever assigned, live or closed since. */
bool registry_id_assigned(const Registry *registry, uint64_t id);
size_t registry_count(const Registry *registry);
/* Live windows in id order: registry_first(), then window->order_next. */
Window *registry_first(const Registry *registry);
/* The newest live window (then window->order_prev). */
Window *registry_last(const Registry *registry);
/* The first live window whose id is above after_id (0: the first). */
Window *registry_first_after(const Registry *registry, uint64_t after_id);

#endif
