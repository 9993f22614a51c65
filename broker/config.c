/* SPDX-License-Identifier: MIT */
/* config.c - the config file: sections, keys and values, each error reported as FILE:LINE. */
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

/* Keys a section may hold at most (the limits' count, with room). */
#define SECTION_KEYS_MAX 32

typedef enum SectionKind { SECTION_NONE, SECTION_LIMITS, SECTION_SOCKET, SECTION_RULE } SectionKind;

typedef struct Parser {
	const char *path;
	unsigned line;
	BrokerConfig *config;
	SectionKind kind;
	AccessRule *rule;                  /* SECTION_RULE */
	bool seen_limits, seen_socket;
	char *keys[SECTION_KEYS_MAX];      /* given in this section, to refuse a second one */
	size_t n_keys;
	char *error;
	size_t error_size;
} Parser;

static int fail(Parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(Parser *p, const char *fmt, ...)
{
	int n = snprintf(p->error, p->error_size, "%s:%u: ", p->path, p->line);
	va_list ap;

	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < p->error_size)
		vsnprintf(p->error + n, p->error_size - (size_t)n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

/* A uid or gid in decimal; (uint32_t)-1 is not one. */
static bool parse_id(const char *text, uint32_t *ret)
{
	unsigned long long v;
	char *end;

	if (!isdigit((unsigned char)*text))
		return false;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || *end || v >= UINT32_MAX)
		return false;
	*ret = (uint32_t)v;
	return true;
}

static bool lookup_user(const char *name, uint32_t *ret)
{
	struct passwd *pw = getpwnam(name);

	if (pw)
		*ret = pw->pw_uid;
	return pw != NULL;
}

static bool lookup_group(const char *name, uint32_t *ret)
{
	struct group *gr = getgrnam(name);

	if (gr)
		*ret = gr->gr_gid;
	return gr != NULL;
}

static int start_section(Parser *p, char *inner)
{
	char where[512], label[300];
	char *word = inner, *arg;
	AccessSubject subject;
	const AccessRule *twin;
	uint32_t id = 0;

	arg = word + strcspn(word, " \t");
	if (*arg) {
		*arg++ = '\0';
		arg = trim(arg);
	}
	p->n_keys = 0;
	p->rule = NULL;
	if (strcmp(word, "limits") == 0 || strcmp(word, "socket") == 0) {
		bool limits = word[0] == 'l', *seen = limits ? &p->seen_limits : &p->seen_socket;

		if (*arg)
			return fail(p, "[%s] takes no argument", word);
		if (*seen)
			return fail(p, "a second [%s] section: give each key once, in one section", word);
		*seen = true;
		p->kind = limits ? SECTION_LIMITS : SECTION_SOCKET;
		return 0;
	}
	if (strcmp(word, "everyone") == 0) {
		if (*arg)
			return fail(p, "[everyone] takes no argument");
		subject = ACCESS_EVERYONE;
	} else if (strcmp(word, "uid") == 0 || strcmp(word, "gid") == 0) {
		if (!parse_id(arg, &id))
			return fail(p, "[%s N] needs a number, not '%s'", word, arg);
		subject = word[0] == 'u' ? ACCESS_UID : ACCESS_GID;
	} else if (strcmp(word, "user") == 0 || strcmp(word, "group") == 0) {
		subject = word[0] == 'u' ? ACCESS_UID : ACCESS_GID;
		if (!*arg)
			return fail(p, "[%s NAME] needs a name", word);
		if (subject == ACCESS_UID ? !lookup_user(arg, &id) : !lookup_group(arg, &id))
			return fail(p, "no %s named '%s' on this system", word, arg);
	} else {
		return fail(p, "unknown section [%s%s%s] (sections: [limits], [socket], [uid N], [user NAME], "
			    "[gid N], [group NAME], [everyone])", word, *arg ? " " : "", arg);
	}
	snprintf(label, sizeof(label), "[%s%s%s]", word, *arg ? " " : "", arg);
	snprintf(where, sizeof(where), "%s:%u", p->path, p->line);
	twin = access_policy_find(p->config->policy, subject, id);
	if (twin && subject == ACCESS_EVERYONE)
		return fail(p, "a second [everyone] section (the first is at %s)", twin->where);
	if (twin)
		return fail(p, "%s: the section %s at %s already applies to %s %u; one section per %s",
			    label, twin->label, twin->where, subject == ACCESS_GID ? "gid" : "uid", (unsigned)id,
			    subject == ACCESS_GID ? "group" : "user");
	p->rule = access_policy_add(p->config->policy, subject, id, label, where);
	if (!p->rule)
		return -ENOMEM;
	p->kind = SECTION_RULE;
	return 0;
}

static int parse_yes_no(Parser *p, const char *key, const char *value, bool *ret)
{
	if (strcmp(value, "yes") == 0)
		*ret = true;
	else if (strcmp(value, "no") == 0)
		*ret = false;
	else
		return fail(p, "%s takes yes or no, not '%s'", key, value);
	return 0;
}

/* Calls add(rule, item) for each comma-separated item of value. */
static int parse_list(Parser *p, const char *key, char *value,
		      int (*add)(Parser *p, const char *key, const char *item))
{
	char *item = value, *comma;
	int r;

	for (;;) {
		comma = strchr(item, ',');
		if (comma)
			*comma = '\0';
		item = trim(item);
		if (!*item)
			return fail(p, "%s: an empty item in the list", key);
		r = add(p, key, item);
		if (r < 0 || !comma)
			return r;
		item = comma + 1;
	}
}

static int add_origin(Parser *p, const char *key, const char *item)
{
	const char *reason = "?";
	bool navigate = key[0] == 'n';
	int r;

	if (strcmp(item, "none") == 0)
		return fail(p, "%s: none stands alone (it means no origin at all)", key);
	r = access_rule_add_origin(p->rule, navigate, item, &reason);
	if (r == -EINVAL)
		return fail(p, "%s: '%s': %s", key, item, reason);
	return r;
}

static int add_name(Parser *p, const char *key, const char *item)
{
	(void)key;
	return access_rule_add_name(p->rule, item);
}

static int set_rule_key(Parser *p, const char *key, char *value)
{
	AccessRights *r = &p->rule->rights;

	if (strcmp(key, "connect") == 0)
		return parse_yes_no(p, key, value, &r->connect);
	if (strcmp(key, "privileged") == 0)
		return parse_yes_no(p, key, value, &r->privileged);
	if (strcmp(key, "list-all") == 0)
		return parse_yes_no(p, key, value, &r->list_all);
	if (strcmp(key, "monitor") == 0)
		return parse_yes_no(p, key, value, &r->monitor);
	if (strcmp(key, "register") == 0 || strcmp(key, "navigate") == 0) {
		if (strcmp(value, "none") == 0) {
			if (key[0] == 'n')
				r->navigate_set = true;
			return 0;
		}
		return parse_list(p, key, value, add_origin);
	}
	if (strcmp(key, "names") == 0)
		return parse_list(p, key, value, add_name);
	return fail(p, "unknown key '%s' in %s (keys: connect, register, navigate, privileged, names, list-all, "
		    "monitor)", key, p->rule->label);
}

/* [socket] mode and group. */
static int set_socket_key(Parser *p, const char *key, const char *value)
{
	BrokerConfig *c = p->config;
	uint32_t gid;

	if (strcmp(key, "mode") == 0) {
		unsigned long mode;
		char *end;

		if (strlen(value) < 3 || strlen(value) > 4 || strspn(value, "01234567") != strlen(value))
			return fail(p, "mode takes an octal mode such as 0600, 0660 or 0666, not '%s'", value);
		mode = strtoul(value, &end, 8);
		/* Connecting takes write permission; read or execute bits on a
		 * socket mean nothing, and a mode with them is a mistake. */
		if (mode != 0600 && mode != 0660 && mode != 0606 && mode != 0666)
			return fail(p, "mode %s: a socket's mode is 0600 (the broker's uid alone), 0660 (and "
				    "the socket's group), 0606 or 0666 (and everyone)", value);
		c->socket_mode = (mode_t)mode;
		return 0;
	}
	if (strcmp(key, "group") == 0) {
		if (!parse_id(value, &gid) && !lookup_group(value, &gid))
			return fail(p, "group: no group named '%s' on this system", value);
		c->socket_group = (gid_t)gid;
		c->socket_group_set = true;
		return 0;
	}
	return fail(p, "unknown key '%s' in [socket] (keys: mode, group)", key);
}

static int set_key(Parser *p, char *line)
{
	char *eq = strchr(line, '='), *key, *value;
	const char *reason = "?";
	int r;

	if (!eq)
		return fail(p, "expected KEY = VALUE or a [section], not '%s'", line);
	*eq = '\0';
	key = trim(line);
	value = trim(eq + 1);
	if (!*key)
		return fail(p, "a value with no key");
	if (p->kind == SECTION_NONE)
		return fail(p, "%s = ... before any [section]", key);
	if (!*value)
		return fail(p, "%s has no value", key);
	for (size_t i = 0; i < p->n_keys; i++)
		if (strcmp(p->keys[i], key) == 0)
			return fail(p, "%s is given twice in this section", key);
	switch (p->kind) {
	case SECTION_LIMITS:
		r = limits_set(&p->config->limits, key, value, &reason);
		if (r < 0)
			return fail(p, "%s = %s: %s", key, value, reason);
		break;
	case SECTION_SOCKET:
		r = set_socket_key(p, key, value);
		break;
	default:
		r = set_rule_key(p, key, value);
		break;
	}
	if (r < 0)
		return r;
	/* Only known keys get this far, each once: a section holds fewer
	 * than SECTION_KEYS_MAX. */
	if (p->n_keys < SECTION_KEYS_MAX) {
		p->keys[p->n_keys] = strdup(key);
		if (!p->keys[p->n_keys])
			return -ENOMEM;
		p->n_keys++;
	}
	return 0;
}

static void forget_keys(Parser *p)
{
	for (size_t i = 0; i < p->n_keys; i++)
		free(p->keys[i]);
	p->n_keys = 0;
}

static int parse_line(Parser *p, char *raw)
{
	char *line = trim(raw);
	size_t n = strlen(line);

	if (!*line || *line == '#')
		return 0;
	if (*line == '[') {
		if (line[n - 1] != ']')
			return fail(p, "a section header ends with ]");
		line[n - 1] = '\0';
		forget_keys(p);
		return start_section(p, trim(line + 1));
	}
	return set_key(p, line);
}

int config_new_default(BrokerConfig **ret, uid_t broker_uid)
{
	BrokerConfig *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	limits_init(&c->limits);
	c->socket_mode = CONFIG_SOCKET_MODE_DEFAULT;
	if (access_policy_new(&c->policy, broker_uid) < 0) {
		free(c);
		return -ENOMEM;
	}
	*ret = c;
	return 0;
}

BrokerConfig *config_free(BrokerConfig *c)
{
	if (c) {
		access_policy_free(c->policy);
		free(c);
	}
	return NULL;
}

static void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}

int config_load(BrokerConfig **ret, const char *path, uid_t broker_uid, char *error, size_t error_size)
{
	_cleanup_(config_freep) BrokerConfig *c = NULL;
	_cleanup_(fclosep) FILE *f = NULL;
	_cleanup_(freep) char *line = NULL;
	Parser p = { .path = path, .error = error, .error_size = error_size };
	size_t cap = 0;
	ssize_t n;
	int r = 0;

	f = fopen(path, "re");
	if (!f) {
		r = -errno;
		snprintf(error, error_size, "cannot read the config file %s: %s", path, strerror(errno));
		return r;
	}
	r = config_new_default(&c, broker_uid);
	if (r < 0) {
		snprintf(error, error_size, "out of memory reading %s", path);
		return r;
	}
	p.config = c;
	while (r == 0 && (n = getline(&line, &cap, f)) >= 0) {
		p.line++;
		if (memchr(line, '\0', (size_t)n))
			r = fail(&p, "a NUL byte: this is not a text file");
		else
			r = parse_line(&p, line);
	}
	forget_keys(&p);
	if (r == 0 && ferror(f)) {
		r = -EIO;
		snprintf(error, error_size, "cannot read the config file %s: %s", path, strerror(EIO));
	}
	if (r == -ENOMEM)
		snprintf(error, error_size, "out of memory reading %s", path);
	if (r < 0)
		return r;
	*ret = steal_pointer(&c);
	return 0;
}
