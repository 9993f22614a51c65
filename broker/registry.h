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

typedef struct Window {
	uint64_t id;
	char *name;              /* NULL: no name */
	char *url;
	Origin *origin;          /* of url; replaced on navigation */
	uint64_t generation;     /* counts navigations */
	bool privileged;         /* its events carry source = null */
	void *owner;             /* the connection that registered it (borrowed) */
	pid_t pid;               /* the owner's process, for listings */
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
/* The first live window whose id is above after_id (0: the first). */
Window *registry_first_after(const Registry *registry, uint64_t after_id);

#endif
