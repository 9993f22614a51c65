/* SPDX-License-Identifier: MIT */
/* access.c - the registration policy: which section applies to a peer, and what it allows. */
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "access.h"

struct AccessPolicy {
	uid_t broker_uid;
	AccessRule **rules;          /* in file order */
	size_t n_rules;
	bool has_group_rules;        /* read SO_PEERGROUPS only when one may apply */
};

/* The answer for the broker's own uid with no section of its own: it
 * started the broker, and could as well stop it. */
static const AccessRule broker_uid_rule = {
	.subject = ACCESS_UID,
	.label = (char *)"(the broker's own uid)",
	.where = (char *)"",
	.rights = {
		.connect = true,
		.register_ = &(OriginPattern){ .kind = ORIGIN_PATTERN_ANY, .port = -1, .text = (char *)"*" },
		.n_register = 1,
		.privileged = true,
		.list_all = true,
		.monitor = true,
	},
};

static const AccessRule no_rule = {
	.subject = ACCESS_EVERYONE,
	.label = (char *)"",
	.where = (char *)"",
	.rights = { .connect = false },
};

int access_policy_new(AccessPolicy **ret, uid_t broker_uid)
{
	AccessPolicy *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->broker_uid = broker_uid;
	*ret = p;
	return 0;
}

static void patterns_free(OriginPattern *patterns, size_t n)
{
	for (size_t i = 0; i < n; i++)
		origin_pattern_deinit(&patterns[i]);
	free(patterns);
}

static void rule_free(AccessRule *rule)
{
	patterns_free(rule->rights.register_, rule->rights.n_register);
	patterns_free(rule->rights.navigate, rule->rights.n_navigate);
	for (size_t i = 0; i < rule->rights.n_names; i++)
		free(rule->rights.names[i]);
	free(rule->rights.names);
	free(rule->label);
	free(rule->where);
	free(rule);
}

AccessPolicy *access_policy_free(AccessPolicy *p)
{
	if (!p)
		return NULL;
	for (size_t i = 0; i < p->n_rules; i++)
		rule_free(p->rules[i]);
	free(p->rules);
	free(p);
	return NULL;
}

AccessRule *access_policy_add(AccessPolicy *p, AccessSubject subject, uint32_t id, const char *label,
			      const char *where)
{
	AccessRule **rules = realloc(p->rules, (p->n_rules + 1) * sizeof(*rules));
	AccessRule *rule;

	if (!rules)
		return NULL;
	p->rules = rules;
	rule = calloc(1, sizeof(*rule));
	if (!rule)
		return NULL;
	rule->subject = subject;
	rule->id = id;
	rule->label = strdup(label);
	rule->where = strdup(where);
	rule->rights.connect = true;
	if (!rule->label || !rule->where) {
		rule_free(rule);
		return NULL;
	}
	p->rules[p->n_rules++] = rule;
	if (subject == ACCESS_GID)
		p->has_group_rules = true;
	return rule;
}

const AccessRule *access_policy_find(const AccessPolicy *p, AccessSubject subject, uint32_t id)
{
	for (size_t i = 0; i < p->n_rules; i++)
		if (p->rules[i]->subject == subject && (subject == ACCESS_EVERYONE || p->rules[i]->id == id))
			return p->rules[i];
	return NULL;
}

size_t access_policy_count(const AccessPolicy *p)
{
	return p->n_rules;
}

int access_rule_add_origin(AccessRule *rule, bool navigate, const char *text, const char **ret_reason)
{
	OriginPattern **list = navigate ? &rule->rights.navigate : &rule->rights.register_;
	size_t *n = navigate ? &rule->rights.n_navigate : &rule->rights.n_register;
	OriginPattern pattern, *grown;
	int r = origin_pattern_parse(&pattern, text, ret_reason);

	if (r < 0)
		return r;
	grown = realloc(*list, (*n + 1) * sizeof(**list));
	if (!grown) {
		origin_pattern_deinit(&pattern);
		return -ENOMEM;
	}
	grown[(*n)++] = pattern;
	*list = grown;
	if (navigate)
		rule->rights.navigate_set = true;
	return 0;
}

int access_rule_add_name(AccessRule *rule, const char *glob)
{
	char **grown = realloc(rule->rights.names, (rule->rights.n_names + 1) * sizeof(*grown));

	if (!grown)
		return -ENOMEM;
	rule->rights.names = grown;
	grown[rule->rights.n_names] = strdup(glob);
	if (!grown[rule->rights.n_names])
		return -ENOMEM;
	rule->rights.n_names++;
	rule->rights.names_set = true;
	return 0;
}

/* True when the peer is in group gid: its gid, or a supplementary group
 * the kernel recorded when it connected.  groups/n_groups are read on the
 * first call (*n_groups == SIZE_MAX until then). */
static bool peer_in_group(const AccessPeer *peer, gid_t gid, gid_t **groups, size_t *n_groups)
{
	if (peer->gid == gid)
		return true;
	if (*n_groups == SIZE_MAX) {
		socklen_t len = 64 * sizeof(gid_t);

		*n_groups = 0;
		for (int attempt = 0; peer->fd >= 0 && attempt < 2; attempt++) {
			gid_t *buf = malloc(len ? len : 1);

			if (!buf)
				break;
			if (getsockopt(peer->fd, SOL_SOCKET, SO_PEERGROUPS, buf, &len) == 0) {
				*groups = buf;
				*n_groups = len / sizeof(gid_t);
				break;
			}
			free(buf);
			/* ERANGE: len is now the size needed; anything else: no
			 * supplementary groups known (they then match nothing). */
			if (errno != ERANGE)
				break;
		}
	}
	for (size_t i = 0; i < *n_groups; i++)
		if ((*groups)[i] == gid)
			return true;
	return false;
}

/* The section that applies to peer (the order in access.h). */
static const AccessRule *rule_for(const AccessPolicy *p, const AccessPeer *peer)
{
	const AccessRule *found = NULL;
	gid_t *groups = NULL;
	size_t n_groups = SIZE_MAX;

	for (size_t i = 0; i < p->n_rules; i++)
		if (p->rules[i]->subject == ACCESS_UID && p->rules[i]->id == peer->uid)
			return p->rules[i];
	if (peer->uid == p->broker_uid)
		return &broker_uid_rule;
	for (size_t i = 0; i < p->n_rules && !found && p->has_group_rules; i++)
		if (p->rules[i]->subject == ACCESS_GID && peer_in_group(peer, p->rules[i]->id, &groups, &n_groups))
			found = p->rules[i];
	free(groups);
	if (!found)
		found = access_policy_find(p, ACCESS_EVERYONE, 0);
	return found ? found : &no_rule;
}

/* The section for peer, or a refusal when it may not even connect: every
 * other question is asked of connected peers, but a reload may have
 * changed their section since. */
static AccessVerdict decide(const AccessPolicy *p, const AccessPeer *peer, AccessDecision *ret,
			    const AccessRule **ret_rule)
{
	const AccessRule *rule = rule_for(p, peer);

	ret->section = rule->label;
	ret->where = rule->where;
	*ret_rule = rule;
	if (rule == &no_rule)
		return ACCESS_E_NO_SECTION;
	if (!rule->rights.connect)
		return ACCESS_E_CONNECT;
	return ACCESS_ALLOW;
}

static bool origin_listed(const OriginPattern *patterns, size_t n, const Origin *origin)
{
	for (size_t i = 0; i < n; i++)
		if (origin_pattern_matches(&patterns[i], origin))
			return true;
	return false;
}

AccessVerdict access_may_connect(const AccessPolicy *p, const AccessPeer *peer, AccessDecision *ret)
{
	const AccessRule *rule;

	return decide(p, peer, ret, &rule);
}

AccessVerdict access_may_register(const AccessPolicy *p, const AccessPeer *peer, const Origin *origin,
				  bool privileged, const char *name, AccessDecision *ret)
{
	const AccessRule *rule;
	AccessVerdict v = decide(p, peer, ret, &rule);
	bool named = false;

	if (v != ACCESS_ALLOW)
		return v;
	if (!origin_listed(rule->rights.register_, rule->rights.n_register, origin))
		return ACCESS_E_ORIGIN;
	if (privileged && !rule->rights.privileged)
		return ACCESS_E_PRIVILEGED;
	if (!name || !*name || !rule->rights.names_set)
		return ACCESS_ALLOW;
	for (size_t i = 0; i < rule->rights.n_names && !named; i++)
		named = fnmatch(rule->rights.names[i], name, 0) == 0;
	return named ? ACCESS_ALLOW : ACCESS_E_NAME;
}

AccessVerdict access_may_navigate(const AccessPolicy *p, const AccessPeer *peer, const Origin *origin,
				  AccessDecision *ret)
{
	const AccessRule *rule;
	AccessVerdict v = decide(p, peer, ret, &rule);
	const AccessRights *r;

	if (v != ACCESS_ALLOW)
		return v;
	r = &rule->rights;
	if (r->navigate_set ? origin_listed(r->navigate, r->n_navigate, origin) :
	    origin_listed(r->register_, r->n_register, origin))
		return ACCESS_ALLOW;
	return ACCESS_E_ORIGIN;
}

AccessVerdict access_may_list_all(const AccessPolicy *p, const AccessPeer *peer, AccessDecision *ret)
{
	const AccessRule *rule;
	AccessVerdict v = decide(p, peer, ret, &rule);

	if (v != ACCESS_ALLOW)
		return v;
	return rule->rights.list_all ? ACCESS_ALLOW : ACCESS_E_LIST_ALL;
}

AccessVerdict access_may_monitor(const AccessPolicy *p, const AccessPeer *peer, AccessDecision *ret)
{
	const AccessRule *rule;
	AccessVerdict v = decide(p, peer, ret, &rule);

	if (v != ACCESS_ALLOW)
		return v;
	return rule->rights.monitor ? ACCESS_ALLOW : ACCESS_E_MONITOR;
}

const char *access_verdict_reason(AccessVerdict verdict)
{
	switch (verdict) {
	case ACCESS_ALLOW: return "allowed";
	case ACCESS_E_NO_SECTION: return "no section of the broker's policy applies to this uid (without one, only the broker's own uid may connect)";
	case ACCESS_E_CONNECT: return "the policy says connect = no";
	case ACCESS_E_ORIGIN: return "the origin is not one the policy allows";
	case ACCESS_E_PRIVILEGED: return "the policy says privileged = no";
	case ACCESS_E_NAME: return "the name matches none of the policy's names";
	case ACCESS_E_LIST_ALL: return "the policy says list-all = no";
	case ACCESS_E_MONITOR: return "the policy says monitor = no";
	}
	return "refused";
}
