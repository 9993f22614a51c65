/* SPDX-License-Identifier: MIT */
/*
 * access.h - the broker's registration policy: who may connect, which
 * origins and names its windows may have, who may register privileged
 * windows, and who sees other users' windows in full.  One function per
 * question, each returning a verdict and the section that decided it; the
 * driver asks at Hello, Register, Navigate and ListWindows.  (policy.c is
 * the other policy: a post's targetOrigin.)
 *
 * The rules come from the config file (config.c); docs/security.md
 * "Policy" is the user's reference.  Which section applies to a peer, the
 * first that matches in this order:
 *
 *   1. a [uid N] or [user NAME] section for the peer's uid;
 *   2. for the broker's own uid, the built-in "everything";
 *   3. the first [gid N] or [group NAME] section, in file order, for the
 *      peer's gid or one of its supplementary groups (SO_PEERGROUPS);
 *   4. the [everyone] section;
 *   5. none: the peer may not even connect.
 *
 * A section is the whole answer for its peers: keys it does not set take
 * their defaults below, never values from another section.
 */
#ifndef CP_ACCESS_H
#define CP_ACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "origin.h"
#include "origin_pattern.h"

typedef enum AccessSubject {
	ACCESS_UID,          /* [uid N], [user NAME] */
	ACCESS_GID,          /* [gid N], [group NAME] */
	ACCESS_EVERYONE,     /* [everyone] */
} AccessSubject;

/* What one section allows; the defaults are those of a section that sets
 * nothing but exists. */
typedef struct AccessRights {
	bool connect;                /* connect = yes (default yes) */
	OriginPattern *register_;    /* register = ...: origins of its windows (default none) */
	size_t n_register;
	bool navigate_set;           /* navigate = ... given; otherwise the register list */
	OriginPattern *navigate;
	size_t n_navigate;
	bool privileged;             /* privileged windows (default no) */
	bool names_set;              /* names = GLOB, ... given; otherwise any name */
	char **names;
	size_t n_names;
	bool list_all;               /* others' URLs and pids in ListWindows (default no) */
	bool monitor;                /* reserved for `crosspost monitor` (default no) */
} AccessRights;

typedef struct AccessRule {
	AccessSubject subject;
	uint32_t id;                 /* the uid or gid */
	char *label;                 /* the section as written: "[user alice]" */
	char *where;                 /* "FILE:LINE" of the section header */
	AccessRights rights;
} AccessRule;

typedef struct AccessPolicy AccessPolicy;

/* A policy with no sections, for a broker running as broker_uid: that
 * uid may do everything, others nothing.  Returns 0 or -ENOMEM. */
int access_policy_new(AccessPolicy **ret, uid_t broker_uid);
AccessPolicy *access_policy_free(AccessPolicy *policy);

/* Appends a section with default rights (borrowed: the policy owns it).
 * NULL when out of memory. */
AccessRule *access_policy_add(AccessPolicy *policy, AccessSubject subject, uint32_t id, const char *label,
			      const char *where);
/* The section already given for subject and id (for [everyone], any id),
 * or NULL: a second one could never apply, and is an error in the file. */
const AccessRule *access_policy_find(const AccessPolicy *policy, AccessSubject subject, uint32_t id);
size_t access_policy_count(const AccessPolicy *policy);

/* Adds a pattern to a section's register (navigate = false) or navigate
 * list.  Returns 0, -EINVAL (static reason) or -ENOMEM. */
int access_rule_add_origin(AccessRule *rule, bool navigate, const char *pattern, const char **ret_reason);
/* Adds a glob (fnmatch(3)) to a section's names.  Returns 0 or -ENOMEM. */
int access_rule_add_name(AccessRule *rule, const char *glob);

/* Who is asking: the credentials the kernel gave for a connection.  fd is
 * its socket, read for supplementary groups (SO_PEERGROUPS) only when a
 * group section may decide; -1 for none. */
typedef struct AccessPeer {
	uid_t uid;
	gid_t gid;
	int fd;
} AccessPeer;

/* Expected outcomes: 0 allows, the others refuse (SecurityError). */
typedef enum AccessVerdict {
	ACCESS_ALLOW = 0,
	ACCESS_E_NO_SECTION = 1,    /* no section applies, and it is not the broker's uid */
	ACCESS_E_CONNECT = 2,       /* its section says connect = no */
	ACCESS_E_ORIGIN = 3,        /* the origin is not in its register (navigate) list */
	ACCESS_E_PRIVILEGED = 4,    /* privileged = no */
	ACCESS_E_NAME = 5,          /* the name matches none of its names */
	ACCESS_E_LIST_ALL = 6,      /* list-all = no */
	ACCESS_E_MONITOR = 7,       /* monitor = no */
} AccessVerdict;

/* Which section decided, for messages: the label ("[uid 1000]"; "(the
 * broker's own uid)" for its built-in answer; "" when no section applies)
 * and where it is written ("FILE:LINE"; "" for built-in answers).
 * Borrowed from the policy: valid until it is freed. */
typedef struct AccessDecision {
	const char *section;
	const char *where;
} AccessDecision;

AccessVerdict access_may_connect(const AccessPolicy *policy, const AccessPeer *peer, AccessDecision *ret);
/* A window with origin (the URL's, parsed), privileged or not, named name
 * (NULL or "": no name, always allowed). */
AccessVerdict access_may_register(const AccessPolicy *policy, const AccessPeer *peer, const Origin *origin,
				  bool privileged, const char *name, AccessDecision *ret);
/* One of its windows navigating to a URL of origin. */
AccessVerdict access_may_navigate(const AccessPolicy *policy, const AccessPeer *peer, const Origin *origin,
				  AccessDecision *ret);
/* Other users' windows with their URLs and pids in ListWindows. */
AccessVerdict access_may_list_all(const AccessPolicy *policy, const AccessPeer *peer, AccessDecision *ret);
/* Reserved for `crosspost monitor`. */
AccessVerdict access_may_monitor(const AccessPolicy *policy, const AccessPeer *peer, AccessDecision *ret);

/* What a refusal means, static: completes "... refused: REASON". */
const char *access_verdict_reason(AccessVerdict verdict);

#endif
