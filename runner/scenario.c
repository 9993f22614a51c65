/* SPDX-License-Identifier: MIT */
/* scenario.c - parses scenario scripts into statements, checking every alias before anything runs. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "cleanup.h"
#include "scenario.h"
#include "scenario_value.h"

/* A script is read whole; this bounds what a typo in a path can cost. */
#define SCENARIO_FILE_MAX (16u * 1024u * 1024u)
/* ports=N beyond this is surely a typo. */
#define SCENARIO_PORTS_MAX 1000u

/* ---------------------------------------------------------------------- */
/* Aliases: windows, ports and buffers share one namespace                */
/* ---------------------------------------------------------------------- */

enum symbol_kind { SYMBOL_WINDOW, SYMBOL_PORT, SYMBOL_BUFFER, SYMBOL_BROADCAST };

struct symbol {
	char *alias;
	enum symbol_kind kind;
	unsigned line;              /* where it was declared */
	uint64_t size;              /* buffers: SIZE */
	/* windows only */
	bool frame;                 /* made by `frame`, or `window ... parent=` */
	unsigned killed_line;       /* 0 while alive */
	/* The window's latest statement (its window statement at first),
	 * which `expect error` refers to. */
	enum scenario_verb last_verb;
	unsigned last_line;
};

struct parser {
	const char *file;
	struct scenario_error *err;
	struct symbol *symbols;
	size_t symbol_count, symbol_cap;
	struct scenario *out;
	size_t statement_cap;
	int block;                  /* the current `## NAME` block; -1 before any */
	/* the current line */
	const char *text;
	size_t len, pos;
	unsigned line;
};

/* Words that would make a statement ambiguous if they were aliases: the
 * statement keywords that start a line, and the special TARGET / source=
 * values. */
static const char *const reserved_words[] = {
	"window", "sleep", "kill", "restart", "opener", "parent", "source", "null",
};

static int parse_error(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int parse_error(struct parser *p, const char *fmt, ...)
{
	va_list ap;

	p->err->line = p->line;
	va_start(ap, fmt);
	vsnprintf(p->err->message, sizeof(p->err->message), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static struct symbol *symbol_find(struct parser *p, const char *alias)
{
	for (size_t i = 0; i < p->symbol_count; i++)
		if (strcmp(p->symbols[i].alias, alias) == 0)
			return &p->symbols[i];
	return NULL;
}

static bool alias_is_valid(const char *s)
{
	if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || *s == '_'))
		return false;
	for (s++; *s; s++)
		if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '-'))
			return false;
	return true;
}

/* Declares a new alias.  The symbol pointer is valid until the next
 * declaration. */
static int symbol_declare(struct parser *p, const char *alias, enum symbol_kind kind,
			  struct symbol **ret)
{
	struct symbol *old;

	if (!alias_is_valid(alias))
		return parse_error(p, "'%s' is not a valid alias ([A-Za-z_][A-Za-z0-9_-]*)", alias);
	for (size_t i = 0; i < sizeof(reserved_words) / sizeof(reserved_words[0]); i++)
		if (strcmp(alias, reserved_words[i]) == 0)
			return parse_error(p, "'%s' is a reserved word and cannot be an alias", alias);
	old = symbol_find(p, alias);
	if (old)
		return parse_error(p, "alias '%s' is already used (line %u)", alias, old->line);
	if (p->symbol_count == p->symbol_cap) {
		size_t cap = p->symbol_cap ? 2 * p->symbol_cap : 16;
		struct symbol *v = realloc(p->symbols, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		p->symbols = v;
		p->symbol_cap = cap;
	}
	old = &p->symbols[p->symbol_count];
	*old = (struct symbol){ .kind = kind, .line = p->line };
	old->alias = strdup(alias);
	if (!old->alias)
		return -ENOMEM;
	p->symbol_count++;
	if (ret)
		*ret = old;
	return 0;
}

static const char *kind_name(enum symbol_kind kind)
{
	switch (kind) {
	case SYMBOL_WINDOW: return "a window";
	case SYMBOL_PORT: return "a port";
	case SYMBOL_BUFFER: return "a buffer";
	case SYMBOL_BROADCAST: return "a BroadcastChannel";
	}
	return "?";
}

/* Finds an alias that must already be declared as `kind`. */
static int symbol_use(struct parser *p, const char *alias, enum symbol_kind kind,
		      struct symbol **ret)
{
	struct symbol *s = symbol_find(p, alias);

	if (!s) {
		if (kind == SYMBOL_WINDOW)
			return parse_error(p, "unknown window '%s' (declare it with a window statement first)", alias);
		return parse_error(p, "unknown %s '%s'", kind == SYMBOL_PORT ? "port" :
				   kind == SYMBOL_BROADCAST ? "BroadcastChannel" : "buffer", alias);
	}
	if (s->kind != kind)
		return parse_error(p, "'%s' is %s (line %u), not %s", alias, kind_name(s->kind), s->line,
			    kind_name(kind));
	*ret = s;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Tokens                                                                  */
/* ---------------------------------------------------------------------- */

static bool is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

static void skip_blanks(struct parser *p)
{
	while (p->pos < p->len && is_blank(p->text[p->pos]))
		p->pos++;
}

/* True at the end of the statement: end of line or a comment. */
static bool at_end(struct parser *p)
{
	skip_blanks(p);
	return p->pos >= p->len || p->text[p->pos] == '#';
}

static bool ends_token(const struct parser *p, size_t i)
{
	return i >= p->len || is_blank(p->text[i]) || p->text[i] == '#';
}

static size_t word_end(const struct parser *p, size_t from)
{
	while (!ends_token(p, from))
		from++;
	return from;
}

/* The next bare word (no quoting): keywords, aliases, durations. */
static int next_word(struct parser *p, const char *what, char **ret)
{
	size_t end;
	char *w;

	if (at_end(p))
		return parse_error(p, "expected %s", what);
	end = word_end(p, p->pos);
	w = strndup(p->text + p->pos, end - p->pos);
	if (!w)
		return -ENOMEM;
	p->pos = end;
	*ret = w;
	return 0;
}

/* Decodes the JSON string starting at text[*pos] (a '"'), leaving *pos just
 * past it.  jansson does the unescaping; finding the closing quote first
 * lets it see exactly one value. */
static int decode_json_string(struct parser *p, size_t *pos, const char *what, char **ret)
{
	size_t i = *pos + 1;
	json_error_t jerr;
	json_t *j;
	char *s;

	while (i < p->len && p->text[i] != '"')
		i += p->text[i] == '\\' ? 2 : 1;
	if (i >= p->len)
		return parse_error(p, "unterminated string in %s", what);
	i++;
	j = json_loadb(p->text + *pos, i - *pos, JSON_DECODE_ANY, &jerr);
	if (!j)
		return parse_error(p, "bad string in %s: %s", what, jerr.text);
	s = strdup(json_string_value(j));
	json_decref(j);
	if (!s)
		return -ENOMEM;
	if (!ends_token(p, i)) {
		free(s);
		return parse_error(p, "expected a space after the string in %s", what);
	}
	*pos = i;
	*ret = s;
	return 0;
}

/* A positional text token (URL, NAME): a bare word, or a JSON string when
 * it needs spaces or a '#'. */
static int next_text(struct parser *p, const char *what, char **ret)
{
	if (at_end(p))
		return parse_error(p, "expected %s", what);
	if (p->text[p->pos] == '"')
		return decode_json_string(p, &p->pos, what, ret);
	return next_word(p, what, ret);
}

/* True when the next token can only be a DATA value (it starts like JSON). */
static bool next_is_data(struct parser *p)
{
	size_t end;
	char ch;

	if (at_end(p))
		return false;
	ch = p->text[p->pos];
	if (strchr("{[\"-0123456789", ch))
		return true;
	end = word_end(p, p->pos);
	return (end - p->pos == 4 && (memcmp(p->text + p->pos, "true", 4) == 0 ||
				      memcmp(p->text + p->pos, "null", 4) == 0)) ||
	       (end - p->pos == 5 && memcmp(p->text + p->pos, "false", 5) == 0);
}

/* ---------------------------------------------------------------------- */
/* DATA, with named buffers and ports                                      */
/* ---------------------------------------------------------------------- */

/* What a reference to a scenario object in DATA is. */
enum ref_kind {
	REF_BUFFER,                 /* {"$buffer":"B"} */
	REF_PORT,                   /* {"$port":"P"} (addition) */
	REF_VIEW,                   /* {"$typed":[KIND,{"$buffer":"B"},OFFSET,LENGTH]} */
};

/* One reference found in DATA: where it is, and what it names. */
struct ref {
	enum ref_kind kind;
	size_t start, end;          /* the text of the whole object */
	char *name;
	char view_kind[32];         /* REF_VIEW */
	unsigned long long offset, length;
};

struct refs {
	struct ref *v;
	size_t count;
};

static void refs_deinit(struct refs *refs)
{
	for (size_t i = 0; i < refs->count; i++)
		free(refs->v[i].name);
	free(refs->v);
}

/* A small cursor over one line of JSON, for the fixed shapes above. */
struct cursor {
	const char *text;
	size_t len, i;
};

static void cursor_blanks(struct cursor *c)
{
	while (c->i < c->len && is_blank(c->text[c->i]))
		c->i++;
}

static bool cursor_char(struct cursor *c, char ch)
{
	cursor_blanks(c);
	if (c->i >= c->len || c->text[c->i] != ch)
		return false;
	c->i++;
	return true;
}

/* A string without escapes (an alias, a tag, a view kind): its contents. */
static bool cursor_string(struct cursor *c, const char **ret, size_t *ret_len)
{
	size_t start;

	if (!cursor_char(c, '"'))
		return false;
	start = c->i;
	while (c->i < c->len && c->text[c->i] != '"' && c->text[c->i] != '\\')
		c->i++;
	if (c->i >= c->len || c->text[c->i] != '"')
		return false;
	*ret = c->text + start;
	*ret_len = c->i - start;
	c->i++;
	return true;
}

static bool cursor_tag(struct cursor *c, const char *tag)
{
	const char *s;
	size_t n;

	return cursor_string(c, &s, &n) && n == strlen(tag) && memcmp(s, tag, n) == 0;
}

/* A non-negative integer written plainly (no sign, fraction or exponent). */
static bool cursor_integer(struct cursor *c, unsigned long long *ret)
{
	unsigned long long n = 0;
	size_t start;

	cursor_blanks(c);
	start = c->i;
	while (c->i < c->len && c->text[c->i] >= '0' && c->text[c->i] <= '9') {
		if (n > (ULLONG_MAX - 9) / 10)
			return false;
		n = n * 10 + (unsigned long long)(c->text[c->i++] - '0');
	}
	if (c->i == start || (c->i < c->len && strchr(".eE", c->text[c->i])))
		return false;
	*ret = n;
	return true;
}

/* `{ "$buffer" : "B" }` or `{ "$port" : "P" }` at c (a '{'): 1 when it
 * is one (ref->name is set), 0 when not, -ENOMEM. */
static int match_named(struct cursor *c, struct ref *ref)
{
	const char *tag, *name;
	size_t tag_len, name_len;

	if (!cursor_char(c, '{') || !cursor_string(c, &tag, &tag_len))
		return 0;
	if (tag_len == 7 && memcmp(tag, "$buffer", 7) == 0)
		ref->kind = REF_BUFFER;
	else if (tag_len == 5 && memcmp(tag, "$port", 5) == 0)
		ref->kind = REF_PORT;
	else
		return 0;
	if (!cursor_char(c, ':') || !cursor_string(c, &name, &name_len) || !cursor_char(c, '}') || !name_len)
		return 0;
	ref->name = strndup(name, name_len);
	return ref->name ? 1 : -ENOMEM;
}

/* `{"$typed":[KIND,{"$buffer":"B"},OFFSET,LENGTH]}` at c (a '{'); returns
 * as match_named(). */
static int match_view(struct cursor *c, struct ref *ref)
{
	const char *kind;
	size_t kind_len;
	int r;

	if (!cursor_char(c, '{') || !cursor_tag(c, "$typed") || !cursor_char(c, ':') ||
	    !cursor_char(c, '[') || !cursor_string(c, &kind, &kind_len) ||
	    kind_len >= sizeof(ref->view_kind) || !cursor_char(c, ','))
		return 0;
	cursor_blanks(c);
	r = match_named(c, ref);
	if (r <= 0)
		return r;
	if (ref->kind != REF_BUFFER || !cursor_char(c, ',') || !cursor_integer(c, &ref->offset) ||
	    !cursor_char(c, ',') || !cursor_integer(c, &ref->length) || !cursor_char(c, ']') ||
	    !cursor_char(c, '}')) {
		free(ref->name);
		ref->name = NULL;
		return 0;
	}
	ref->kind = REF_VIEW;
	memcpy(ref->view_kind, kind, kind_len);
	ref->view_kind[kind_len] = '\0';
	return 1;
}

/* Finds the references in text (one line from the DATA token on), and
 * replaces each in place by an empty ArrayBuffer padded with blanks to the
 * same length: what remains is ordinary tagged JSON whose offsets (in
 * cp_value_from_json()'s error messages) still fit the line. */
static int find_refs(char *text, size_t len, struct refs *refs)
{
	static const char placeholder[] = "{\"$bytes\":\"\"";
	bool in_string = false;
	int r;

	for (size_t i = 0; i < len; i++) {
		struct cursor c = { .text = text, .len = len, .i = i };
		struct ref ref = { .start = i };
		struct ref *v;

		if (in_string) {
			if (text[i] == '\\')
				i++;
			else if (text[i] == '"')
				in_string = false;
			continue;
		}
		if (text[i] == '"') {
			in_string = true;
			continue;
		}
		if (text[i] != '{')
			continue;
		r = match_view(&c, &ref);
		if (r == 0) {
			c.i = i;
			r = match_named(&c, &ref);
		}
		if (r < 0)
			return r;
		if (r == 0)
			continue;
		ref.end = c.i;
		v = realloc(refs->v, (refs->count + 1) * sizeof(*v));
		if (!v) {
			free(ref.name);
			return -ENOMEM;
		}
		refs->v = v;
		v[refs->count++] = ref;
		/* The shortest reference, {"$port":"P"}, is as long as the
		 * placeholder with its closing brace. */
		memcpy(text + i, placeholder, sizeof(placeholder) - 1);
		memset(text + i + sizeof(placeholder) - 1, ' ', ref.end - i - sizeof(placeholder));
		text[ref.end - 1] = '}';
		i = ref.end - 1;
	}
	return 0;
}

/* Adds name to a list of distinct names. */
static int note_name(char ***list, size_t *count, const char *name)
{
	char **v;

	for (size_t i = 0; i < *count; i++)
		if (strcmp((*list)[i], name) == 0)
			return 0;
	v = realloc(*list, (*count + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	*list = v;
	v[*count] = strdup(name);
	if (!v[*count])
		return -ENOMEM;
	(*count)++;
	return 0;
}

/* Checks one reference against the aliases (and a view against its
 * buffer's size) and notes what it names in st. */
static int check_ref(struct parser *p, struct scenario_statement *st, const struct ref *ref)
{
	struct symbol *sym;
	cp_view_kind kind = 0;
	size_t size;
	int r;

	r = symbol_use(p, ref->name, ref->kind == REF_PORT ? SYMBOL_PORT : SYMBOL_BUFFER, &sym);
	if (r < 0)
		return r;
	if (ref->kind == REF_PORT)
		return note_name(&st->port_refs, &st->port_ref_count, ref->name);
	if (ref->kind == REF_VIEW) {
		for (cp_view_kind k = CP_VIEW_INT8; k <= CP_VIEW_DATA_VIEW; k++)
			if (cp_view_kind_name(k) && strcmp(cp_view_kind_name(k), ref->view_kind) == 0)
				kind = k;
		if (!kind)
			return parse_error(p, "bad DATA: '%s' is not a typed array or DataView", ref->view_kind);
		size = cp_view_kind_element_size(kind);
		if (ref->offset % size != 0)
			return parse_error(p, "bad DATA: a %s's byte offset must be a multiple of %zu, not %llu",
				    ref->view_kind, size, ref->offset);
		if (ref->offset > sym->size || ref->length > (sym->size - ref->offset) / size)
			return parse_error(p, "bad DATA: %s at byte %llu with %llu elements does not fit "
				    "buffer '%s' of %llu bytes (line %u)", ref->view_kind, ref->offset,
				    ref->length, ref->name, (unsigned long long)sym->size, sym->line);
	}
	return note_name(&st->buffer_refs, &st->buffer_ref_count, ref->name);
}

/* The DATA text (text[0..len)) with each reference replaced by its
 * placeholder (scenario_value.h). */
static char *masked_text(const char *text, size_t len, const struct refs *refs)
{
	char *out = NULL;
	size_t out_len = 0, at = 0;
	FILE *f = open_memstream(&out, &out_len);

	if (!f)
		return NULL;
	for (size_t i = 0; i < refs->count && refs->v[i].end <= len; i++) {
		const struct ref *ref = &refs->v[i];

		fwrite(text + at, 1, ref->start - at, f);
		fputs("{\"$host\":\"" SCENARIO_PLACEHOLDER_JSON, f);
		switch (ref->kind) {
		case REF_BUFFER: fprintf(f, "buffer:%s", ref->name); break;
		case REF_PORT: fprintf(f, "port:%s", ref->name); break;
		case REF_VIEW:
			fprintf(f, "view:%s:%llu:%llu:%s", ref->view_kind, ref->offset, ref->length, ref->name);
			break;
		}
		fputs("\"}", f);
		at = ref->end;
	}
	fwrite(text + at, 1, len - at, f);
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

/* One DATA token: a tagged JSON value that ends where the value ends, so
 * it may contain spaces and '#' inside strings. */
static int next_data(struct parser *p, struct scenario_statement *st)
{
	_cleanup_(refs_deinit) struct refs refs = { 0 };
	_cleanup_(freep) char *copy = NULL;
	size_t end = 0, len;
	cp_value *value = NULL;
	bool named = false;
	int r;

	if (at_end(p))
		return parse_error(p, "expected DATA (a JSON value)");
	copy = strndup(p->text + p->pos, p->len - p->pos);
	if (!copy)
		return -ENOMEM;
	if (strstr(copy, SCENARIO_PLACEHOLDER_JSON))
		return parse_error(p, "bad DATA: \"" SCENARIO_PLACEHOLDER_JSON "...\" is reserved for the runner");
	r = find_refs(copy, p->len - p->pos, &refs);
	if (r < 0)
		return r;
	r = cp_value_from_json(copy, p->len - p->pos, &end, &value);
	if (r == CP_ERR_NO_MEMORY)
		return -ENOMEM;
	if (r < 0)
		return parse_error(p, "bad DATA: %s", cp_last_error_message());
	if (!ends_token(p, p->pos + end)) {
		cp_value_free(value);
		return parse_error(p, "DATA must be followed by a space, not '%c'", p->text[p->pos + end]);
	}
	for (size_t i = 0; i < refs.count && refs.v[i].start < end; i++) {
		r = check_ref(p, st, &refs.v[i]);
		if (r < 0) {
			cp_value_free(value);
			return r;
		}
		named = true;
	}
	len = end;
	while (len > 0 && is_blank(p->text[p->pos + len - 1]))
		len--;
	st->data_json = strndup(p->text + p->pos, len);
	st->data_masked = named ? masked_text(p->text + p->pos, len, &refs) : strdup(st->data_json ? st->data_json : "");
	if (!st->data_json || !st->data_masked) {
		cp_value_free(value);
		return -ENOMEM;
	}
	if (named) {
		/* The same value with placeholders where the references are. */
		cp_value_free(value);
		value = NULL;
		r = cp_value_from_json(st->data_masked, strlen(st->data_masked), NULL, &value);
		if (r == CP_ERR_NO_MEMORY)
			return -ENOMEM;
		if (r < 0)
			return parse_error(p, "bad DATA: %s", cp_last_error_message());
		st->data_named = true;
	}
	st->data = value;
	p->pos += end;
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Durations and sizes                                                     */
/* ---------------------------------------------------------------------- */

int scenario_parse_duration(const char *text, int64_t *ret_ms)
{
	uint64_t whole = 0, frac = 0, frac_scale = 1, ms;
	const char *s = text;

	if (!text || *s < '0' || *s > '9')
		return -EINVAL;
	for (; *s >= '0' && *s <= '9'; s++) {
		whole = whole * 10 + (uint64_t)(*s - '0');
		if (whole > SCENARIO_DURATION_MAX_MS)
			return -EINVAL;
	}
	if (*s == '.') {
		s++;
		if (*s < '0' || *s > '9')
			return -EINVAL;
		for (; *s >= '0' && *s <= '9'; s++) {
			/* Digits past a microsecond change nothing; skip them. */
			if (frac_scale < 1000000) {
				frac = frac * 10 + (uint64_t)(*s - '0');
				frac_scale *= 10;
			}
		}
	}
	if (strcmp(s, "ms") == 0)
		ms = whole + frac / frac_scale;
	else if (strcmp(s, "s") == 0)
		ms = whole * 1000 + frac * 1000 / frac_scale;
	else
		return -EINVAL;
	if (ms > SCENARIO_DURATION_MAX_MS)
		return -EINVAL;
	*ret_ms = (int64_t)ms;
	return 0;
}

int scenario_parse_size(const char *text, uint64_t *ret)
{
	static const struct { const char *suffix; uint64_t scale; } units[] = {
		{ "", 1 }, { "KiB", 1ULL << 10 }, { "MiB", 1ULL << 20 }, { "GiB", 1ULL << 30 },
	};
	uint64_t n = 0;
	const char *s = text;

	if (!text || *s < '0' || *s > '9')
		return -EINVAL;
	for (; *s >= '0' && *s <= '9'; s++) {
		n = n * 10 + (uint64_t)(*s - '0');
		if (n > SCENARIO_SIZE_MAX)
			return -EINVAL;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(s, units[i].suffix) != 0)
			continue;
		if (n > SCENARIO_SIZE_MAX / units[i].scale)
			return -EINVAL;
		*ret = n * units[i].scale;
		return 0;
	}
	return -EINVAL;
}

/* ---------------------------------------------------------------------- */
/* Options                                                                 */
/* ---------------------------------------------------------------------- */

enum option_id {
	OPT_NAME, OPT_OPENER, OPT_PARENT, OPT_PRIVILEGED, OPT_TARGET, OPT_TRANSFER,
	OPT_ORIGIN, OPT_SOURCE, OPT_PORTS, OPT_PORT, OPT_WITHIN, OPT_FILL, OPT_KIND,
	OPT_BY, OPT_IN, OPT_NOOPENER, OPT_BYTES, OPT_LAST_EVENT_ID, OPT_CHANNEL,
};

static const struct {
	const char *key;
	bool flag;                  /* written without "=value" */
} options[] = {
	[OPT_NAME] = { "name", false },
	[OPT_OPENER] = { "opener", false },
	[OPT_PARENT] = { "parent", false },
	[OPT_PRIVILEGED] = { "privileged", true },
	[OPT_TARGET] = { "target", false },
	[OPT_TRANSFER] = { "transfer", false },
	[OPT_ORIGIN] = { "origin", false },
	[OPT_SOURCE] = { "source", false },
	[OPT_PORTS] = { "ports", false },
	[OPT_PORT] = { "port", false },
	[OPT_WITHIN] = { "within", false },
	[OPT_FILL] = { "fill", false },
	[OPT_KIND] = { "kind", false },
	[OPT_BY] = { "by", false },
	[OPT_IN] = { "in", false },
	[OPT_NOOPENER] = { "noopener", true },
	[OPT_BYTES] = { "bytes", false },
	[OPT_LAST_EVENT_ID] = { "last-event-id", false },
	[OPT_CHANNEL] = { "channel", false },
};

#define OPTION_COUNT (sizeof(options) / sizeof(options[0]))
#define BIT(o) (1u << (o))

/* Which options each verb takes. */
static unsigned verb_options(enum scenario_verb verb)
{
	switch (verb) {
	case SCENARIO_WINDOW:
		return BIT(OPT_NAME) | BIT(OPT_OPENER) | BIT(OPT_PARENT) | BIT(OPT_PRIVILEGED);
	case SCENARIO_POST:
		return BIT(OPT_TARGET) | BIT(OPT_TRANSFER);
	case SCENARIO_POST_CORRUPT:
		return BIT(OPT_TARGET) | BIT(OPT_KIND);
	case SCENARIO_SEND:
		return BIT(OPT_TRANSFER);
	case SCENARIO_SEND_CORRUPT:
		return BIT(OPT_KIND);
	case SCENARIO_EXPECT_MESSAGE:
		return BIT(OPT_ORIGIN) | BIT(OPT_SOURCE) | BIT(OPT_PORTS) | BIT(OPT_PORT) | BIT(OPT_WITHIN) |
		       BIT(OPT_LAST_EVENT_ID) | BIT(OPT_CHANNEL);
	case SCENARIO_EXPECT_MESSAGEERROR:
		return BIT(OPT_ORIGIN) | BIT(OPT_SOURCE) | BIT(OPT_PORT) | BIT(OPT_WITHIN) | BIT(OPT_CHANNEL);
	case SCENARIO_EXPECT_NOTHING:
		return BIT(OPT_PORT) | BIT(OPT_WITHIN) | BIT(OPT_CHANNEL);
	case SCENARIO_EXPECT_CLOSED:
	case SCENARIO_EXPECT_OPEN:
		return BIT(OPT_WITHIN);
	case SCENARIO_BUFFER:
		return BIT(OPT_FILL) | BIT(OPT_BYTES);
	case SCENARIO_OPEN:
		return BIT(OPT_BY) | BIT(OPT_NAME) | BIT(OPT_NOOPENER);
	case SCENARIO_FRAME:
		return BIT(OPT_IN) | BIT(OPT_NAME);
	default:
		return 0;
	}
}

static void list_options(unsigned allowed, char *buf, size_t size)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < OPTION_COUNT && used < size; i++)
		if (allowed & BIT(i))
			used += (size_t)snprintf(buf + used, size - used, "%s%s%s", used ? ", " : "",
						 options[i].key, options[i].flag ? "" : "=");
}

/* transfer=A,B,...: ports and buffers, in order.  A window alias and the
 * same alias twice are accepted on purpose: the library refuses them with
 * DataCloneError, which scripts test. */
static int parse_transfer(struct parser *p, struct scenario_statement *st, const char *value)
{
	const char *s = value;

	for (;;) {
		const char *comma = strchr(s, ',');
		size_t n = comma ? (size_t)(comma - s) : strlen(s);
		_cleanup_(freep) char *alias = strndup(s, n);
		char **v;

		if (!alias)
			return -ENOMEM;
		if (!*alias)
			return parse_error(p, "transfer=: an empty name in '%s'", value);
		if (!symbol_find(p, alias))
			return parse_error(p, "transfer=: unknown alias '%s' (declare it with channel or buffer first)",
				    alias);
		v = realloc(st->transfer, (st->transfer_count + 1) * sizeof(*v));
		if (!v)
			return -ENOMEM;
		st->transfer = v;
		st->transfer[st->transfer_count++] = steal_pointer(&alias);
		if (!comma)
			return 0;
		s = comma + 1;
	}
}

/* ports=P1,P2: the ports event.ports must hold, in this order. */
static int parse_ports_list(struct parser *p, struct scenario_statement *st, const char *value)
{
	const char *s = value;
	struct symbol *sym;
	size_t n = 0;
	int r;

	for (const char *c = value; *c; c++)
		n += *c == ',';
	st->ports_list = calloc(n + 2, sizeof(*st->ports_list));
	if (!st->ports_list)
		return -ENOMEM;
	for (size_t i = 0;; i++) {
		const char *comma = strchr(s, ',');
		size_t len = comma ? (size_t)(comma - s) : strlen(s);
		char *alias = strndup(s, len);

		if (!alias)
			return -ENOMEM;
		st->ports_list[i] = alias;
		if (!*alias)
			return parse_error(p, "ports=: an empty name in '%s'", value);
		r = symbol_use(p, alias, SYMBOL_PORT, &sym);
		if (r < 0)
			return r;
		if (!comma) {
			st->ports_given = true;
			st->ports = (unsigned)(i + 1);
			return 0;
		}
		s = comma + 1;
	}
}

/* bytes=BASE64: the buffer's contents (its size is their count). */
static int parse_bytes(struct parser *p, struct scenario_statement *st, const char *value)
{
	char *json = NULL;
	cp_value *v = NULL;
	size_t len = 0;
	int r;

	if (asprintf(&json, "{\"$bytes\":\"%s\"}", value) < 0)
		return -ENOMEM;
	r = strpbrk(value, "\"\\") ? CP_ERR_SYNTAX : cp_value_from_json(json, strlen(json), NULL, &v);
	free(json);
	if (r == CP_ERR_NO_MEMORY)
		return -ENOMEM;
	if (r < 0)
		return parse_error(p, "bytes= must be base64, not '%s'", value);
	cp_value_array_buffer_data(v, &len);
	cp_value_free(v);
	st->bytes = strdup(value);
	if (!st->bytes)
		return -ENOMEM;
	st->size = len;
	return 0;
}

/* Stores one option's value; takes ownership of value. */
static int apply_option(struct parser *p, struct scenario_statement *st, enum option_id id,
			char *value)
{
	_cleanup_(freep) char *v = value;
	struct symbol *sym;
	int r;

	switch (id) {
	case OPT_NAME:
		if (!*v)
			return parse_error(p, "name= must not be empty");
		st->name = steal_pointer(&v);
		return 0;
	case OPT_OPENER:
	case OPT_PARENT:
	case OPT_BY:
	case OPT_IN:
		r = symbol_use(p, v, SYMBOL_WINDOW, &sym);
		if (r < 0)
			return r;
		if (sym->killed_line)
			return parse_error(p, "%s=%s: '%s' was killed at line %u", options[id].key, v, v, sym->killed_line);
		if (id == OPT_OPENER || id == OPT_BY)
			st->opener = steal_pointer(&v);
		else
			st->parent = steal_pointer(&v);
		return 0;
	case OPT_NOOPENER:
		st->noopener = true;
		return 0;
	case OPT_BYTES:
		return parse_bytes(p, st, v);
	case OPT_LAST_EVENT_ID:
		st->last_event_id = steal_pointer(&v);
		return 0;
	case OPT_CHANNEL:
		r = symbol_use(p, v, SYMBOL_BROADCAST, &sym);
		if (r < 0)
			return r;
		st->channel = steal_pointer(&v);
		return 0;
	case OPT_PRIVILEGED:
		st->privileged = true;
		return 0;
	case OPT_TARGET:
		/* Deliberately not checked here: an invalid targetOrigin is
		 * something scripts test (expect error SyntaxError). */
		free(st->target_origin);
		st->target_origin = steal_pointer(&v);
		return 0;
	case OPT_TRANSFER:
		return parse_transfer(p, st, v);
	case OPT_ORIGIN:
		st->origin = steal_pointer(&v);
		return 0;
	case OPT_SOURCE:
		if (strcmp(v, "null") == 0) {
			st->source_null = true;
			return 0;
		}
		r = symbol_use(p, v, SYMBOL_WINDOW, &sym);
		if (r < 0)
			return r;
		st->source = steal_pointer(&v);
		return 0;
	case OPT_PORTS: {
		char *end = NULL;
		unsigned long n;

		if (*v < '0' || *v > '9')
			return parse_ports_list(p, st, v);
		errno = 0;
		n = strtoul(v, &end, 10);
		if (*end || errno || n > SCENARIO_PORTS_MAX)
			return parse_error(p, "ports= must be a count from 0 to %u, or ports P1,P2,..., not '%s'",
				    SCENARIO_PORTS_MAX, v);
		st->ports_given = true;
		st->ports = (unsigned)n;
		return 0;
	}
	case OPT_PORT:
		r = symbol_use(p, v, SYMBOL_PORT, &sym);
		if (r < 0)
			return r;
		st->port = steal_pointer(&v);
		return 0;
	case OPT_WITHIN:
		if (scenario_parse_duration(v, &st->within_ms) < 0)
			return parse_error(p, "within= must be a duration like 250ms or 2s (at most 3600s), not '%s'", v);
		return 0;
	case OPT_FILL: {
		char *end = NULL;
		unsigned long n;

		errno = 0;
		n = strtoul(v, &end, 0);
		if (*v < '0' || *v > '9' || *end || errno || n > 255)
			return parse_error(p, "fill= must be a byte from 0 to 255 (or 0x00 to 0xff), not '%s'", v);
		st->fill = (unsigned)n;
		return 0;
	}
	case OPT_KIND:
		if (scenario_corruption_parse(v, &st->corruption) < 0)
			return parse_error(p, "kind= must be one of %s, not '%s'", SCENARIO_CORRUPTION_NAMES, v);
		return 0;
	}
	return parse_error(p, "internal: unhandled option");
}

/* Reads every remaining token as an option of st's verb, in any order. */
static int parse_options(struct parser *p, struct scenario_statement *st)
{
	unsigned allowed = verb_options(st->verb), seen = 0;
	char list[160];

	while (!at_end(p)) {
		size_t start = p->pos, key_end = start, end;
		size_t i;
		char *value = NULL;
		int r;

		while (key_end < p->len && ((p->text[key_end] >= 'a' && p->text[key_end] <= 'z') ||
					    (p->text[key_end] >= 'A' && p->text[key_end] <= 'Z') ||
					    (key_end > start && p->text[key_end] == '-')))
			key_end++;
		for (i = 0; i < OPTION_COUNT; i++)
			if (strlen(options[i].key) == key_end - start &&
			    memcmp(options[i].key, p->text + start, key_end - start) == 0)
				break;
		end = word_end(p, start);
		if (i < OPTION_COUNT && options[i].flag && key_end != end)
			return parse_error(p, "%s takes no value", options[i].key);
		if (i == OPTION_COUNT || (!options[i].flag && (key_end >= p->len || p->text[key_end] != '='))) {
			if (p->text[start] == '"' || next_is_data(p))
				return parse_error(p, "unexpected '%.*s' (%s takes no further value here)",
					    (int)(end - start), p->text + start, scenario_verb_name(st->verb));
			if (key_end < p->len && p->text[key_end] == '=' && key_end > start)
				return parse_error(p, "unknown option '%.*s'", (int)(key_end - start), p->text + start);
			return parse_error(p, "unexpected '%.*s'", (int)(end - start), p->text + start);
		}
		if (!(allowed & BIT(i))) {
			list_options(allowed, list, sizeof(list));
			if (allowed)
				return parse_error(p, "'%s' takes no option %s (it takes: %s)",
					    scenario_verb_name(st->verb), options[i].key, list);
			return parse_error(p, "'%s' takes no options", scenario_verb_name(st->verb));
		}
		if (seen & BIT(i))
			return parse_error(p, "option %s given twice", options[i].key);
		seen |= BIT(i);
		if (options[i].flag) {
			p->pos = end;
		} else {
			p->pos = key_end + 1;
			if (p->pos < p->len && p->text[p->pos] == '"') {
				r = decode_json_string(p, &p->pos, options[i].key, &value);
				if (r < 0)
					return r;
			} else {
				end = word_end(p, p->pos);
				if (end == p->pos)
					return parse_error(p, "option %s= needs a value", options[i].key);
				value = strndup(p->text + p->pos, end - p->pos);
				if (!value)
					return -ENOMEM;
				p->pos = end;
			}
		}
		r = apply_option(p, st, (enum option_id)i, value);
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---------------------------------------------------------------------- */
/* Statements                                                              */
/* ---------------------------------------------------------------------- */

const char *scenario_verb_name(enum scenario_verb verb)
{
	switch (verb) {
	case SCENARIO_WINDOW: return "window";
	case SCENARIO_POST: return "post";
	case SCENARIO_REPLY: return "reply";
	case SCENARIO_EXPECT_MESSAGE: return "expect message";
	case SCENARIO_EXPECT_MESSAGEERROR: return "expect messageerror";
	case SCENARIO_EXPECT_NOTHING: return "expect nothing";
	case SCENARIO_EXPECT_ERROR: return "expect error";
	case SCENARIO_EXPECT_DETACHED: return "expect detached";
	case SCENARIO_NAVIGATE: return "navigate";
	case SCENARIO_CLOSE: return "close";
	case SCENARIO_SLEEP: return "sleep";
	case SCENARIO_KILL: return "kill";
	case SCENARIO_RESTART_BROKER: return "restart broker";
	case SCENARIO_CHANNEL: return "channel";
	case SCENARIO_BUFFER: return "buffer";
	case SCENARIO_SEND: return "send";
	case SCENARIO_CLOSE_PORT: return "close PORT";
	case SCENARIO_POST_CORRUPT: return "post-corrupt";
	case SCENARIO_OPEN: return "open";
	case SCENARIO_FRAME: return "frame";
	case SCENARIO_REMOVE: return "remove";
	case SCENARIO_EXPECT_CLOSED: return "expect closed";
	case SCENARIO_EXPECT_OPEN: return "expect open";
	case SCENARIO_HOLD: return "hold";
	case SCENARIO_RELEASE: return "release";
	case SCENARIO_START_PORT: return "start";
	case SCENARIO_LISTEN_PORT: return "listen";
	case SCENARIO_SEND_CORRUPT: return "send-corrupt";
	case SCENARIO_CLOSE_WINDOW: return "close WINDOW";
	case SCENARIO_BROADCAST_OPEN: return "broadcast-channel";
	case SCENARIO_BROADCAST_POST: return "broadcast";
	case SCENARIO_CLOSE_BROADCAST: return "close CHANNEL";
	}
	return "?";
}

/* Statements that can fail synchronously, and so be followed by `expect error`. */
static bool verb_can_fail(enum scenario_verb verb)
{
	switch (verb) {
	case SCENARIO_WINDOW: case SCENARIO_POST: case SCENARIO_REPLY: case SCENARIO_NAVIGATE:
	case SCENARIO_CLOSE: case SCENARIO_CHANNEL: case SCENARIO_BUFFER: case SCENARIO_SEND:
	case SCENARIO_CLOSE_PORT: case SCENARIO_POST_CORRUPT: case SCENARIO_OPEN: case SCENARIO_FRAME:
	case SCENARIO_REMOVE: case SCENARIO_START_PORT: case SCENARIO_LISTEN_PORT:
	case SCENARIO_SEND_CORRUPT: case SCENARIO_CLOSE_WINDOW: case SCENARIO_BROADCAST_OPEN:
	case SCENARIO_BROADCAST_POST: case SCENARIO_CLOSE_BROADCAST:
		return true;
	default:
		return false;
	}
}

static void statement_clear(struct scenario_statement *st)
{
	free(st->text);
	free(st->actor);
	free(st->url);
	free(st->name);
	free(st->opener);
	free(st->parent);
	free(st->target_alias);
	free(st->target_name);
	free(st->target_origin);
	free(st->data_json);
	free(st->data_masked);
	cp_value_free(st->data);
	free(st->origin);
	free(st->source);
	free(st->port);
	free(st->error_name);
	for (size_t i = 0; i < st->transfer_count; i++)
		free(st->transfer[i]);
	free(st->transfer);
	for (size_t i = 0; i < st->buffer_ref_count; i++)
		free(st->buffer_refs[i]);
	free(st->buffer_refs);
	for (size_t i = 0; i < st->port_ref_count; i++)
		free(st->port_refs[i]);
	free(st->port_refs);
	free(st->port1);
	free(st->port2);
	free(st->buffer);
	free(st->bytes);
	free(st->last_event_id);
	free(st->channel);
	free(st->channel_name);
	for (size_t i = 0; st->ports_list && st->ports_list[i]; i++)
		free(st->ports_list[i]);
	free(st->ports_list);
	*st = (struct scenario_statement){ 0 };
}

static int parse_window(struct parser *p, struct scenario_statement *st)
{
	struct symbol *sym;
	int r;

	st->verb = SCENARIO_WINDOW;
	r = next_word(p, "the new window's ALIAS", &st->actor);
	if (r < 0)
		return r;
	r = next_text(p, "the window's URL", &st->url);
	if (r < 0)
		return r;
	r = parse_options(p, st);
	if (r < 0)
		return r;
	r = symbol_declare(p, st->actor, SYMBOL_WINDOW, &sym);
	if (r < 0)
		return r;
	sym->frame = st->parent != NULL;
	return 0;
}

/* open ALIAS URL by=OPENER [name=NAME] [noopener]
 * frame ALIAS URL in=PARENT [name=NAME] */
static int parse_open_or_frame(struct parser *p, struct scenario_statement *st, bool frame)
{
	struct symbol *sym;
	int r;

	st->verb = frame ? SCENARIO_FRAME : SCENARIO_OPEN;
	r = next_word(p, frame ? "the frame's ALIAS" : "the new window's ALIAS", &st->actor);
	if (r < 0)
		return r;
	r = next_text(p, "a URL", &st->url);
	if (r < 0)
		return r;
	r = parse_options(p, st);
	if (r < 0)
		return r;
	if (frame && !st->parent)
		return parse_error(p, "frame needs in=PARENT: the window whose document gets the iframe");
	if (!frame && !st->opener)
		return parse_error(p, "open needs by=OPENER: the window whose script calls window.open()");
	r = symbol_declare(p, st->actor, SYMBOL_WINDOW, &sym);
	if (r < 0)
		return r;
	sym->frame = frame;
	return 0;
}

/* remove ALIAS (a frame), hold ALIAS, release ALIAS */
static int parse_window_keyword(struct parser *p, struct scenario_statement *st, enum scenario_verb verb)
{
	struct symbol *sym;
	int r;

	st->verb = verb;
	r = next_word(p, "a window ALIAS", &st->actor);
	if (r < 0)
		return r;
	r = symbol_use(p, st->actor, SYMBOL_WINDOW, &sym);
	if (r < 0)
		return r;
	if (verb == SCENARIO_REMOVE && !sym->frame)
		return parse_error(p, "'%s' is not a frame (declared with frame, or window ... parent=): only an "
			    "iframe can be removed", st->actor);
	if (verb != SCENARIO_REMOVE && sym->killed_line)
		return parse_error(p, "'%s' was killed at line %u", st->actor, sym->killed_line);
	return parse_options(p, st);
}

static int parse_sleep(struct parser *p, struct scenario_statement *st)
{
	_cleanup_(freep) char *w = NULL;
	int r;

	st->verb = SCENARIO_SLEEP;
	r = next_word(p, "a DURATION (250ms, 2s)", &w);
	if (r < 0)
		return r;
	if (scenario_parse_duration(w, &st->duration_ms) < 0)
		return parse_error(p, "'%s' is not a duration like 250ms or 2s (at most 3600s)", w);
	return parse_options(p, st);
}

static int parse_kill(struct parser *p, struct scenario_statement *st)
{
	struct symbol *sym;
	int r;

	st->verb = SCENARIO_KILL;
	r = next_word(p, "the ALIAS of the window to kill", &st->actor);
	if (r < 0)
		return r;
	r = symbol_use(p, st->actor, SYMBOL_WINDOW, &sym);
	if (r < 0)
		return r;
	if (sym->killed_line)
		return parse_error(p, "'%s' was already killed at line %u", st->actor, sym->killed_line);
	sym->killed_line = p->line;
	return parse_options(p, st);
}

static int parse_restart(struct parser *p, struct scenario_statement *st)
{
	_cleanup_(freep) char *w = NULL;
	int r;

	st->verb = SCENARIO_RESTART_BROKER;
	r = next_word(p, "'broker' after 'restart'", &w);
	if (r < 0)
		return r;
	if (strcmp(w, "broker") != 0)
		return parse_error(p, "expected 'restart broker', not 'restart %s'", w);
	return parse_options(p, st);
}

/* A TARGET: a window alias, opener, parent, top, source, frames[N],
 * frames[NAME], name:NAME or name:"NAME". */
static int parse_target(struct parser *p, struct scenario_statement *st)
{
	_cleanup_(freep) char *target = NULL;
	struct symbol *sym;
	size_t len;
	int r;

	if (!at_end(p) && p->len - p->pos > 5 && memcmp(p->text + p->pos, "name:\"", 6) == 0) {
		/* name:"a name with spaces" */
		size_t pos = p->pos + 5;

		r = decode_json_string(p, &pos, "name:", &st->target_name);
		if (r < 0)
			return r;
		if (!st->target_name[0])
			return parse_error(p, "name: needs a window name after the colon");
		p->pos = pos;
		st->target_kind = SCENARIO_TARGET_NAME;
		return 0;
	}
	r = next_word(p, "a TARGET (window alias, opener, parent, top, source, frames[N], frames[NAME] or "
		      "name:NAME)", &target);
	if (r < 0)
		return r;
	len = strlen(target);
	/* A declared alias wins over a relation's word: scripts written before
	 * `top` was a TARGET may call a window "top". */
	if (symbol_find(p, target)) {
		r = symbol_use(p, target, SYMBOL_WINDOW, &sym);
		if (r < 0)
			return r;
		st->target_kind = SCENARIO_TARGET_WINDOW;
		st->target_alias = steal_pointer(&target);
	} else if (strcmp(target, "opener") == 0) {
		st->target_kind = SCENARIO_TARGET_OPENER;
	} else if (strcmp(target, "parent") == 0) {
		st->target_kind = SCENARIO_TARGET_PARENT;
	} else if (strcmp(target, "top") == 0) {
		st->target_kind = SCENARIO_TARGET_TOP;
	} else if (strcmp(target, "source") == 0) {
		st->target_kind = SCENARIO_TARGET_SOURCE;
	} else if (strncmp(target, "frames[", 7) == 0 && len > 8 && target[len - 1] == ']') {
		char *inside = strndup(target + 7, len - 8), *end = NULL;
		unsigned long n;

		if (!inside)
			return -ENOMEM;
		errno = 0;
		n = strtoul(inside, &end, 10);
		if (inside[0] >= '0' && inside[0] <= '9' && !*end && !errno && n <= UINT32_MAX) {
			st->target_kind = SCENARIO_TARGET_FRAME_INDEX;
			st->target_index = (uint32_t)n;
			free(inside);
		} else if (inside[0] >= '0' && inside[0] <= '9') {
			free(inside);
			return parse_error(p, "frames[N]: '%s' is not an index", target);
		} else {
			st->target_kind = SCENARIO_TARGET_FRAME_NAME;
			st->target_name = inside;
		}
	} else if (strncmp(target, "name:", 5) == 0) {
		if (!target[5])
			return parse_error(p, "name: needs a window name after the colon");
		st->target_kind = SCENARIO_TARGET_NAME;
		st->target_name = strdup(target + 5);
		if (!st->target_name)
			return -ENOMEM;
	} else {
		return symbol_use(p, target, SYMBOL_WINDOW, &sym);
	}
	return 0;
}

/* post and post-corrupt: TARGET DATA [options]; DATA is optional for
 * post-corrupt (st->verb is set by the caller). */
static int parse_post(struct parser *p, struct scenario_statement *st)
{
	int r;

	r = parse_target(p, st);
	if (r < 0)
		return r;
	if (st->verb == SCENARIO_POST_CORRUPT && !next_is_data(p)) {
		st->data_json = strdup(SCENARIO_CORRUPT_DEFAULT_DATA);
		if (!st->data_json)
			return -ENOMEM;
	} else {
		r = next_data(p, st);
		if (r < 0)
			return r;
	}
	r = parse_options(p, st);
	if (r < 0)
		return r;
	if (!st->target_origin) {
		st->target_origin = strdup("/");
		if (!st->target_origin)
			return -ENOMEM;
	}
	return 0;
}

static int parse_expect(struct parser *p, struct scenario_statement *st, const struct symbol *actor)
{
	_cleanup_(freep) char *what = NULL;
	int r;

	r = next_word(p, "message, messageerror, nothing, detached, closed, open or error after 'expect'", &what);
	if (r < 0)
		return r;
	if (strcmp(what, "message") == 0) {
		st->verb = SCENARIO_EXPECT_MESSAGE;
		st->within_ms = SCENARIO_WITHIN_MESSAGE_MS;
		if (next_is_data(p)) {
			r = next_data(p, st);
			if (r < 0)
				return r;
		}
	} else if (strcmp(what, "messageerror") == 0) {
		st->verb = SCENARIO_EXPECT_MESSAGEERROR;
		st->within_ms = SCENARIO_WITHIN_MESSAGE_MS;
	} else if (strcmp(what, "nothing") == 0) {
		st->verb = SCENARIO_EXPECT_NOTHING;
		st->within_ms = SCENARIO_WITHIN_NOTHING_MS;
	} else if (strcmp(what, "detached") == 0) {
		struct symbol *sym;

		st->verb = SCENARIO_EXPECT_DETACHED;
		r = next_word(p, "a BUFFER after 'expect detached'", &st->buffer);
		if (r < 0)
			return r;
		r = symbol_use(p, st->buffer, SYMBOL_BUFFER, &sym);
		if (r < 0)
			return r;
	} else if (strcmp(what, "closed") == 0 || strcmp(what, "open") == 0) {
		/* (below) */
		struct symbol *sym;

		st->verb = what[0] == 'c' ? SCENARIO_EXPECT_CLOSED : SCENARIO_EXPECT_OPEN;
		st->within_ms = SCENARIO_WITHIN_MESSAGE_MS;
		r = next_word(p, "a window ALIAS", &st->target_alias);
		if (r < 0)
			return r;
		r = symbol_use(p, st->target_alias, SYMBOL_WINDOW, &sym);
		if (r < 0)
			return r;
	} else if (strcmp(what, "error") == 0) {
		st->verb = SCENARIO_EXPECT_ERROR;
		r = next_word(p, "an error NAME (SyntaxError, NotFoundError, ...)", &st->error_name);
		if (r < 0)
			return r;
		if (!alias_is_valid(st->error_name))
			return parse_error(p, "'%s' is not an error name", st->error_name);
		if (!verb_can_fail(actor->last_verb))
			return parse_error(p, "'expect error' refers to '%s %s' (line %u), which cannot fail",
				    actor->alias, scenario_verb_name(actor->last_verb), actor->last_line);
	} else {
		return parse_error(p, "expected message, messageerror, nothing, detached, closed, open or error after "
			    "'expect', not '%s'", what);
	}
	r = parse_options(p, st);
	if (r == 0 && st->port && st->channel)
		return parse_error(p, "port= and channel= do not go together: an event arrives on one of them");
	return r;
}

/* close (the window's host closes it), close PORT, close TARGET (a
 * script's TARGET.close()). */
static int parse_close(struct parser *p, struct scenario_statement *st)
{
	struct symbol *sym;
	size_t end;
	int r;

	st->verb = SCENARIO_CLOSE;
	if (at_end(p))
		return 0;
	end = word_end(p, p->pos);
	sym = NULL;
	for (size_t i = 0; i < p->symbol_count; i++)
		if (strlen(p->symbols[i].alias) == end - p->pos &&
		    memcmp(p->symbols[i].alias, p->text + p->pos, end - p->pos) == 0)
			sym = &p->symbols[i];
	if (sym && sym->kind == SYMBOL_PORT) {
		st->verb = SCENARIO_CLOSE_PORT;
		r = next_word(p, "a PORT", &st->port);
		if (r < 0)
			return r;
		return parse_options(p, st);
	}
	if (sym && sym->kind == SYMBOL_BROADCAST) {
		st->verb = SCENARIO_CLOSE_BROADCAST;
		r = next_word(p, "a BroadcastChannel", &st->channel);
		if (r < 0)
			return r;
		return parse_options(p, st);
	}
	if (sym && sym->kind == SYMBOL_BUFFER)
		return parse_error(p, "'%.*s' is a buffer: close takes a port, a BroadcastChannel or a window",
			    (int)(end - p->pos), p->text + p->pos);
	if (!sym) {
		static const char *const words[] = { "opener", "parent", "top", "source" };
		bool relation = end - p->pos > 7 && memcmp(p->text + p->pos, "frames[", 7) == 0;

		for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
			relation |= strlen(words[i]) == end - p->pos && memcmp(words[i], p->text + p->pos, end - p->pos) == 0;
		if (!relation)
			return parse_error(p, "unknown port or window '%.*s'", (int)(end - p->pos), p->text + p->pos);
	}
	st->verb = SCENARIO_CLOSE_WINDOW;
	r = parse_target(p, st);
	if (r < 0)
		return r;
	if (st->target_kind == SCENARIO_TARGET_NAME)
		return parse_error(p, "close takes a window reference, not name:NAME");
	return parse_options(p, st);
}

/* broadcast-channel B NAME: new BroadcastChannel(NAME) named B here. */
static int parse_broadcast_open(struct parser *p, struct scenario_statement *st)
{
	int r;

	st->verb = SCENARIO_BROADCAST_OPEN;
	r = next_word(p, "the channel's alias", &st->channel);
	if (r < 0)
		return r;
	r = next_text(p, "the channel's NAME", &st->channel_name);
	if (r < 0)
		return r;
	r = parse_options(p, st);
	if (r < 0)
		return r;
	return symbol_declare(p, st->channel, SYMBOL_BROADCAST, NULL);
}

/* broadcast B DATA: B.postMessage(DATA). */
static int parse_broadcast_post(struct parser *p, struct scenario_statement *st)
{
	struct symbol *sym;
	int r;

	st->verb = SCENARIO_BROADCAST_POST;
	r = next_word(p, "a BroadcastChannel", &st->channel);
	if (r < 0)
		return r;
	r = symbol_use(p, st->channel, SYMBOL_BROADCAST, &sym);
	if (r < 0)
		return r;
	r = next_data(p, st);
	if (r < 0)
		return r;
	if (st->data_named)
		return parse_error(p, "broadcast: DATA cannot name buffers or ports (BroadcastChannel copies, "
			    "it does not transfer)");
	return parse_options(p, st);
}

/* start PORT, listen PORT */
static int parse_port_verb(struct parser *p, struct scenario_statement *st, enum scenario_verb verb)
{
	struct symbol *sym;
	int r;

	st->verb = verb;
	r = next_word(p, "a PORT", &st->port);
	if (r < 0)
		return r;
	r = symbol_use(p, st->port, SYMBOL_PORT, &sym);
	if (r < 0)
		return r;
	return parse_options(p, st);
}

/* send-corrupt PORT [DATA] [kind=KIND] */
static int parse_send_corrupt(struct parser *p, struct scenario_statement *st)
{
	struct symbol *sym;
	int r;

	st->verb = SCENARIO_SEND_CORRUPT;
	r = next_word(p, "a PORT", &st->port);
	if (r < 0)
		return r;
	r = symbol_use(p, st->port, SYMBOL_PORT, &sym);
	if (r < 0)
		return r;
	if (next_is_data(p)) {
		r = next_data(p, st);
		if (r < 0)
			return r;
		if (st->data_named)
			return parse_error(p, "send-corrupt: DATA cannot name buffers or ports (nothing is transferred)");
	} else {
		st->data_json = strdup(SCENARIO_CORRUPT_DEFAULT_DATA);
		if (!st->data_json)
			return -ENOMEM;
	}
	return parse_options(p, st);
}

static int parse_channel(struct parser *p, struct scenario_statement *st)
{
	int r;

	st->verb = SCENARIO_CHANNEL;
	r = next_word(p, "the first port's alias", &st->port1);
	if (r < 0)
		return r;
	r = next_word(p, "the second port's alias", &st->port2);
	if (r < 0)
		return r;
	r = parse_options(p, st);
	if (r < 0)
		return r;
	r = symbol_declare(p, st->port1, SYMBOL_PORT, NULL);
	if (r < 0)
		return r;
	return symbol_declare(p, st->port2, SYMBOL_PORT, NULL);
}

static int parse_buffer(struct parser *p, struct scenario_statement *st)
{
	_cleanup_(freep) char *size = NULL;
	struct symbol *sym;
	int r;

	st->verb = SCENARIO_BUFFER;
	r = next_word(p, "the buffer's alias", &st->buffer);
	if (r < 0)
		return r;
	/* SIZE, unless bytes= gives the contents (and so the size). */
	if (!at_end(p) && strncmp(p->text + p->pos, "bytes=", 6) != 0) {
		r = next_word(p, "a SIZE (4096, 64KiB, 8MiB)", &size);
		if (r < 0)
			return r;
		if (scenario_parse_size(size, &st->size) < 0)
			return parse_error(p, "'%s' is not a size like 4096, 64KiB or 8MiB (at most 1GiB)", size);
	}
	r = parse_options(p, st);
	if (r < 0)
		return r;
	if (!size && !st->bytes)
		return parse_error(p, "buffer needs a SIZE, or bytes=BASE64");
	if (size && st->bytes)
		return parse_error(p, "buffer takes a SIZE or bytes=, not both");
	if (st->bytes && st->fill)
		return parse_error(p, "fill= and bytes= do not go together");
	r = symbol_declare(p, st->buffer, SYMBOL_BUFFER, &sym);
	if (r < 0)
		return r;
	sym->size = st->size;
	return 0;
}

static int parse_send(struct parser *p, struct scenario_statement *st)
{
	struct symbol *sym;
	int r;

	st->verb = SCENARIO_SEND;
	r = next_word(p, "a PORT", &st->port);
	if (r < 0)
		return r;
	r = symbol_use(p, st->port, SYMBOL_PORT, &sym);
	if (r < 0)
		return r;
	r = next_data(p, st);
	if (r < 0)
		return r;
	return parse_options(p, st);
}

/* ALIAS VERB ...: a statement by an existing window. */
static int parse_window_verb(struct parser *p, struct scenario_statement *st)
{
	_cleanup_(freep) char *verb = NULL;
	struct symbol *actor;
	int r;

	if (!symbol_find(p, st->actor))
		return parse_error(p, "'%s' is neither a statement (window, sleep, kill, restart broker) "
			    "nor a declared window", st->actor);
	r = symbol_use(p, st->actor, SYMBOL_WINDOW, &actor);
	if (r < 0)
		return r;
	if (actor->killed_line)
		return parse_error(p, "'%s' was killed at line %u", st->actor, actor->killed_line);
	r = next_word(p, "a verb (post, reply, expect, navigate, close, ...)", &verb);
	if (r < 0)
		return r;
	if (strcmp(verb, "post") == 0 || strcmp(verb, "post-corrupt") == 0) {
		st->verb = strcmp(verb, "post") == 0 ? SCENARIO_POST : SCENARIO_POST_CORRUPT;
		r = parse_post(p, st);
	} else if (strcmp(verb, "reply") == 0) {
		st->verb = SCENARIO_REPLY;
		r = next_data(p, st);
		if (r >= 0)
			r = parse_options(p, st);
	} else if (strcmp(verb, "expect") == 0) {
		r = parse_expect(p, st, actor);
	} else if (strcmp(verb, "navigate") == 0) {
		st->verb = SCENARIO_NAVIGATE;
		r = next_text(p, "a URL", &st->url);
		if (r >= 0)
			r = parse_options(p, st);
	} else if (strcmp(verb, "close") == 0) {
		r = parse_close(p, st);
	} else if (strcmp(verb, "channel") == 0) {
		r = parse_channel(p, st);
	} else if (strcmp(verb, "buffer") == 0) {
		r = parse_buffer(p, st);
	} else if (strcmp(verb, "send") == 0) {
		r = parse_send(p, st);
	} else if (strcmp(verb, "send-corrupt") == 0) {
		r = parse_send_corrupt(p, st);
	} else if (strcmp(verb, "start") == 0) {
		r = parse_port_verb(p, st, SCENARIO_START_PORT);
	} else if (strcmp(verb, "listen") == 0) {
		r = parse_port_verb(p, st, SCENARIO_LISTEN_PORT);
	} else if (strcmp(verb, "broadcast-channel") == 0) {
		r = parse_broadcast_open(p, st);
	} else if (strcmp(verb, "broadcast") == 0) {
		r = parse_broadcast_post(p, st);
	} else {
		return parse_error(p, "unknown verb '%s' (expected post, reply, expect, navigate, close, "
			    "channel, buffer, send, start, listen, broadcast-channel, broadcast, post-corrupt or send-corrupt)", verb);
	}
	return r;
}

/* Records st as its window's latest statement (for `expect error`). */
static void note_last_statement(struct parser *p, const struct scenario_statement *st)
{
	struct symbol *sym;

	if (!st->actor || st->verb == SCENARIO_KILL || st->verb == SCENARIO_HOLD || st->verb == SCENARIO_RELEASE)
		return;
	sym = symbol_find(p, st->actor);
	if (!sym)
		return;
	sym->last_verb = st->verb;
	sym->last_line = st->line;
}

static int append_statement(struct parser *p, struct scenario_statement *st)
{
	struct scenario *s = p->out;

	if (s->count == p->statement_cap) {
		size_t cap = p->statement_cap ? 2 * p->statement_cap : 32;
		struct scenario_statement *v = realloc(s->statements, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		s->statements = v;
		p->statement_cap = cap;
	}
	s->statements[s->count++] = *st;
	*st = (struct scenario_statement){ 0 };
	return 0;
}

/* word is the statement keyword kw, unless the script declared an alias
 * of that name (scripts older than the keyword keep their aliases). */
static bool is_keyword(struct parser *p, const char *word, const char *kw)
{
	return strcmp(word, kw) == 0 && !symbol_find(p, kw);
}

/* "## NAME": a named block starts here (--filter NAME runs it alone). */
static int note_block(struct parser *p)
{
	size_t start = p->pos, end = p->len;
	struct scenario *s = p->out;
	char **v;

	while (start < p->len && is_blank(p->text[start]))
		start++;
	if (p->len - start < 3 || memcmp(p->text + start, "##", 2) != 0 || !is_blank(p->text[start + 2]))
		return 0;
	start += 3;
	while (start < end && is_blank(p->text[start]))
		start++;
	while (end > start && is_blank(p->text[end - 1]))
		end--;
	if (start == end)
		return 0;
	for (size_t i = 0; i < s->block_count; i++)
		if (strlen(s->blocks[i]) == end - start && memcmp(s->blocks[i], p->text + start, end - start) == 0)
			return parse_error(p, "block '%s' is named twice", s->blocks[i]);
	v = realloc(s->blocks, (s->block_count + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	s->blocks = v;
	v[s->block_count] = strndup(p->text + start, end - start);
	if (!v[s->block_count])
		return -ENOMEM;
	p->block = (int)s->block_count++;
	return 0;
}

static int parse_line(struct parser *p)
{
	struct scenario_statement st = { .line = p->line, .block = p->block };
	size_t start;
	int r;

	if (at_end(p))
		return note_block(p);
	start = p->pos;
	r = next_word(p, "a statement", &st.actor);
	if (r < 0)
		goto out;
	/* The keyword was read into st.actor; statements without an actor
	 * move it out of the way. */
	if (strcmp(st.actor, "window") == 0) {
		free(steal_pointer(&st.actor));
		r = parse_window(p, &st);
	} else if (strcmp(st.actor, "sleep") == 0) {
		free(steal_pointer(&st.actor));
		r = parse_sleep(p, &st);
	} else if (strcmp(st.actor, "kill") == 0) {
		free(steal_pointer(&st.actor));
		r = parse_kill(p, &st);
	} else if (strcmp(st.actor, "restart") == 0) {
		free(steal_pointer(&st.actor));
		r = parse_restart(p, &st);
	} else if (is_keyword(p, st.actor, "open") || is_keyword(p, st.actor, "frame")) {
		bool frame = st.actor[0] == 'f';

		free(steal_pointer(&st.actor));
		r = parse_open_or_frame(p, &st, frame);
	} else if (is_keyword(p, st.actor, "remove")) {
		free(steal_pointer(&st.actor));
		r = parse_window_keyword(p, &st, SCENARIO_REMOVE);
	} else if (is_keyword(p, st.actor, "hold")) {
		free(steal_pointer(&st.actor));
		r = parse_window_keyword(p, &st, SCENARIO_HOLD);
	} else if (is_keyword(p, st.actor, "release")) {
		free(steal_pointer(&st.actor));
		r = parse_window_keyword(p, &st, SCENARIO_RELEASE);
	} else {
		r = parse_window_verb(p, &st);
	}
	if (r < 0)
		goto out;
	/* Every parse function ends with parse_options(), which stops only at
	 * the end of the line or at a comment. */
	while (p->pos > 0 && is_blank(p->text[p->pos - 1]))
		p->pos--;
	st.text = strndup(p->text + start, p->pos - start);
	if (!st.text) {
		r = -ENOMEM;
		goto out;
	}
	note_last_statement(p, &st);
	r = append_statement(p, &st);
out:
	statement_clear(&st);
	return r;
}

/* Length of the valid UTF-8 prefix of s[0..len). */
static size_t utf8_valid_prefix(const unsigned char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = s[i];
		size_t n;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) { n = 1; cp = c & 0x1f; }
		else if ((c & 0xf0) == 0xe0) { n = 2; cp = c & 0x0f; }
		else if ((c & 0xf8) == 0xf0) { n = 3; cp = c & 0x07; }
		else return i;
		if (i + n >= len)
			return i;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return i;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		/* Overlong forms, surrogates and values past U+10FFFF. */
		if ((n == 1 && cp < 0x80) || (n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
			return i;
		i += n + 1;
	}
	return i;
}

static void parser_deinit(struct parser *p)
{
	for (size_t i = 0; i < p->symbol_count; i++)
		free(p->symbols[i].alias);
	free(p->symbols);
	p->symbols = NULL;
	p->out = scenario_free(p->out);
}

int scenario_parse(const char *file, const char *text, size_t len,
		   struct scenario_error *err, struct scenario **ret)
{
	struct parser p = { .file = file, .err = err, .block = -1 };
	size_t start = 0;
	int r = -ENOMEM;

	*err = (struct scenario_error){ 0 };
	p.out = calloc(1, sizeof(*p.out));
	if (!p.out || !(p.out->file = strdup(file)))
		goto out;
	while (start < len) {
		const char *nl = memchr(text + start, '\n', len - start);
		size_t end = nl ? (size_t)(nl - text) : len;

		p.line++;
		p.text = text + start;
		p.len = end - start;
		p.pos = 0;
		if (p.len > 0 && p.text[p.len - 1] == '\r')
			p.len--;
		if (memchr(p.text, '\0', p.len)) {
			r = parse_error(&p, "NUL byte in the script");
			goto out;
		}
		if (utf8_valid_prefix((const unsigned char *)p.text, p.len) != p.len) {
			r = parse_error(&p, "not valid UTF-8 (column %zu)",
				 utf8_valid_prefix((const unsigned char *)p.text, p.len) + 1);
			goto out;
		}
		r = parse_line(&p);
		if (r < 0)
			goto out;
		start = end + 1;
	}
	*ret = steal_pointer(&p.out);
	r = 0;
out:
	if (r == -ENOMEM && !err->message[0])
		snprintf(err->message, sizeof(err->message), "out of memory");
	parser_deinit(&p);
	return r;
}

int scenario_load(const char *path, struct scenario_error *err, struct scenario **ret)
{
	_cleanup_(closep) int fd = -1;
	_cleanup_(freep) char *buf = NULL;
	size_t len = 0, cap = 0;
	int r;

	*err = (struct scenario_error){ 0 };
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		goto fail_errno;
	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *v;

			if (cap >= SCENARIO_FILE_MAX) {
				snprintf(err->message, sizeof(err->message), "larger than %u bytes",
					 SCENARIO_FILE_MAX);
				return -EFBIG;
			}
			cap = cap ? 2 * cap : 4096;
			v = realloc(buf, cap);
			if (!v)
				return -ENOMEM;
			buf = v;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail_errno;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	return scenario_parse(path, buf ? buf : "", len, err, ret);

fail_errno:
	r = -errno;
	snprintf(err->message, sizeof(err->message), "%s", strerror(-r));
	return r;
}

struct scenario *scenario_free(struct scenario *scenario)
{
	if (!scenario)
		return NULL;
	for (size_t i = 0; i < scenario->count; i++)
		statement_clear(&scenario->statements[i]);
	free(scenario->statements);
	for (size_t i = 0; i < scenario->block_count; i++)
		free(scenario->blocks[i]);
	free(scenario->blocks);
	free(scenario->file);
	free(scenario);
	return NULL;
}
