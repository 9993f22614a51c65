/* SPDX-License-Identifier: MIT */
/* value_json_write.c - a value graph as compact tagged JSON, written without recursion. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crosspost.h"
#include "error.h"
#include "value_internal.h"
#include "value_walk.h"

struct out {
	char *data;
	size_t len;
	size_t cap;
	bool failed;
};

static bool out_reserve(struct out *o, size_t n)
{
	if (o->failed)
		return false;
	if (n > SIZE_MAX / 2 - o->len) {
		o->failed = true;
		return false;
	}
	if (o->len + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap : 256;
		char *data;

		while (cap < o->len + n + 1)
			cap *= 2;
		data = realloc(o->data, cap);
		if (!data) {
			o->failed = true;
			return false;
		}
		o->data = data;
		o->cap = cap;
	}
	return true;
}

static void put(struct out *o, const char *s, size_t n)
{
	if (!out_reserve(o, n))
		return;
	memcpy(o->data + o->len, s, n);
	o->len += n;
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void putf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct out *o, const char *fmt, ...)
{
	char buf[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	put(o, buf, n < 0 ? 0 : (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* A JSON string of well-formed UTF-8: escapes only what JSON requires. */
static void put_json_string(struct out *o, const char *s, size_t len)
{
	size_t i, start = 0;

	put(o, "\"", 1);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *esc = NULL;
		char buf[8];

		if (c == '"')
			esc = "\\\"";
		else if (c == '\\')
			esc = "\\\\";
		else if (c == '\n')
			esc = "\\n";
		else if (c == '\r')
			esc = "\\r";
		else if (c == '\t')
			esc = "\\t";
		else if (c < 0x20) {
			snprintf(buf, sizeof(buf), "\\u%04x", c);
			esc = buf;
		}
		if (!esc)
			continue;
		put(o, s + start, i - start);
		puts_(o, esc);
		start = i + 1;
	}
	put(o, s + start, len - start);
	put(o, "\"", 1);
}

/* Text that may hold lone surrogates, which JSON text cannot carry:
 * {"$string":[PART,...]}, runs of well-formed text as strings and each
 * lone surrogate as its code unit, a number. */
static void put_text(struct out *o, const char *s, size_t len, bool ill_formed)
{
	size_t i = 0, run = 0;
	bool first = true;

	if (!ill_formed) {
		put_json_string(o, s, len);
		return;
	}
	puts_(o, "{\"$string\":[");
	while (i < len) {
		uint32_t cp;
		size_t n = wtf8_next(s + i, len - i, &cp);

		if (cp >= 0xd800 && cp <= 0xdfff) {
			if (i > run) {
				puts_(o, first ? "" : ",");
				put_json_string(o, s + run, i - run);
				first = false;
			}
			putf(o, "%s%u", first ? "" : ",", cp);
			first = false;
			run = i + n;
		}
		i += n;
	}
	if (len > run) {
		puts_(o, first ? "" : ",");
		put_json_string(o, s + run, len - run);
	}
	puts_(o, "]}");
}

/* Text whose well-formedness is not recorded in a flag. */
static void put_any_text(struct out *o, const struct value_text *t)
{
	bool well_formed = true;

	wtf8_validate(t->data, t->len, &well_formed);
	put_text(o, t->data, t->len, !well_formed);
}

/* A finite number other than -0, in the shortest form that reads back
 * exactly; integers below 1e21 without exponent, as JavaScript prints them.
 * (Fractions and exponents use C's %g layout, e.g. 1e-6 where JavaScript
 * writes 0.000001: the same number to any JSON reader.) */
static void put_number_literal(struct out *o, double d)
{
	char buf[40];
	int p;
	size_t i;

	if (d == trunc(d) && fabs(d) < 9007199254740992.0) {
		snprintf(buf, sizeof(buf), "%.0f", d);
	} else if (d == trunc(d) && fabs(d) < 1e21) {
		/* Past 2^53 the exact integer has more digits than the double
		 * means: shortest digits, then zeros (123456789012345680000). */
		char digits[24], *e;
		size_t n = 0;
		int exp;

		for (p = 15; p <= 17; p++) {
			snprintf(buf, sizeof(buf), "%.*e", p - 1, d);
			if (strtod(buf, NULL) == d)
				break;
		}
		e = strchr(buf, 'e');
		exp = atoi(e + 1);
		for (i = d < 0; buf + i < e; i++)
			if (buf[i] >= '0' && buf[i] <= '9')
				digits[n++] = buf[i];
		while (n > 1 && digits[n - 1] == '0')
			n--;
		if ((int)n > exp + 1) {
			snprintf(buf, sizeof(buf), "%.0f", d);
		} else {
			i = 0;
			if (d < 0)
				buf[i++] = '-';
			memcpy(buf + i, digits, n);
			i += n;
			while ((int)n++ <= exp)
				buf[i++] = '0';
			buf[i] = 0;
		}
	} else {
		/* The fewest significant digits that read back exactly. */
		for (p = 1; p <= 17; p++) {
			snprintf(buf, sizeof(buf), "%.*g", p, d);
			if (strtod(buf, NULL) == d)
				break;
		}
	}
	/* A locale with a decimal comma must not leak into JSON; exponents
	 * lose C's leading zero, as JavaScript writes them ("1e-7"). */
	for (i = 0; buf[i]; i++) {
		if (buf[i] == ',')
			buf[i] = '.';
		if (buf[i] == 'e' && (buf[i + 1] == '-' || buf[i + 1] == '+') && buf[i + 2] == '0')
			memmove(buf + i + 2, buf + i + 3, strlen(buf + i + 3) + 1);
	}
	puts_(o, buf);
}

static void put_number(struct out *o, double d)
{
	if (isnan(d))
		puts_(o, "{\"$number\":\"NaN\"}");
	else if (isinf(d))
		puts_(o, d > 0 ? "{\"$number\":\"Infinity\"}" : "{\"$number\":\"-Infinity\"}");
	else if (d == 0 && signbit(d))
		puts_(o, "{\"$number\":\"-0\"}");
	else
		put_number_literal(o, d);
}

static void put_bigint(struct out *o, const cp_value *v)
{
	char *text = bigint_to_decimal(v->flags & VALUE_F_NEGATIVE, (const uint8_t *)v->u.text.data,
				       v->u.text.len);

	if (!text) {
		o->failed = true;
		return;
	}
	puts_(o, "{\"$bigint\":\"");
	puts_(o, text);
	puts_(o, "\"}");
	free(text);
}

static void put_base64(struct out *o, const uint8_t *data, size_t len)
{
	size_t n = 4 * ((len + 2) / 3);

	put(o, "\"", 1);
	if (out_reserve(o, n)) {
		base64_encode(data, len, o->data + o->len);
		o->len += n;
	}
	put(o, "\"", 1);
}

/* A node without children, or a view written with its bytes inline. */
static void put_leaf(struct out *o, const cp_value *v)
{
	const struct value_error *e;

	switch ((cp_value_type)v->type) {
	case CP_VALUE_UNDEFINED:
		puts_(o, "{\"$undefined\":null}");
		break;
	case CP_VALUE_NULL:
		puts_(o, "null");
		break;
	case CP_VALUE_BOOLEAN:
		puts_(o, (v->flags & VALUE_F_TRUE) ? "true" : "false");
		break;
	case CP_VALUE_NUMBER:
		put_number(o, v->u.number);
		break;
	case CP_VALUE_BIGINT:
		put_bigint(o, v);
		break;
	case CP_VALUE_STRING:
		put_text(o, v->u.text.data, v->u.text.len, v->flags & VALUE_F_ILL_FORMED);
		break;
	case CP_VALUE_BOOLEAN_OBJECT:
		puts_(o, (v->flags & VALUE_F_TRUE) ? "{\"$wrapper\":true}" : "{\"$wrapper\":false}");
		break;
	case CP_VALUE_NUMBER_OBJECT:
		puts_(o, "{\"$wrapper\":");
		put_number(o, v->u.number);
		puts_(o, "}");
		break;
	case CP_VALUE_BIGINT_OBJECT:
		puts_(o, "{\"$wrapper\":");
		put_bigint(o, v);
		puts_(o, "}");
		break;
	case CP_VALUE_STRING_OBJECT:
		puts_(o, "{\"$wrapper\":");
		put_text(o, v->u.text.data, v->u.text.len, v->flags & VALUE_F_ILL_FORMED);
		puts_(o, "}");
		break;
	case CP_VALUE_DATE:
		puts_(o, "{\"$date\":");
		put_number(o, v->u.number);
		puts_(o, "}");
		break;
	case CP_VALUE_REGEXP:
		puts_(o, "{\"$regexp\":[");
		put_text(o, v->u.text.data, v->u.text.len, v->flags & VALUE_F_ILL_FORMED);
		puts_(o, ",\"");
		puts_(o, v->u.text.data + v->u.text.len + 1);
		puts_(o, "\"]}");
		break;
	case CP_VALUE_ARRAY_BUFFER:
		puts_(o, "{\"$bytes\":");
		put_base64(o, v->u.buffer.data, v->u.buffer.len);
		puts_(o, "}");
		break;
	case CP_VALUE_VIEW:
		putf(o, "{\"$typed\":[\"%s\",", cp_view_kind_name(v->sub));
		put_base64(o, v->u.view.buffer->u.buffer.data, v->u.view.buffer->u.buffer.len);
		puts_(o, "]}");
		break;
	case CP_VALUE_ERROR:
		e = v->u.error;
		putf(o, "{\"$error\":[\"%s\"", value_error_name_string(v->sub));
		if (v->flags & (VALUE_F_HAS_MESSAGE | VALUE_F_HAS_STACK)) {
			puts_(o, ",");
			if (v->flags & VALUE_F_HAS_MESSAGE)
				put_any_text(o, &e->message);
			else
				puts_(o, "null");
		}
		if (v->flags & VALUE_F_HAS_STACK) {
			puts_(o, ",");
			put_any_text(o, &e->stack);
		}
		puts_(o, "]}");
		break;
	case CP_VALUE_HOST_OBJECT:
		puts_(o, "{\"$host\":");
		put_text(o, v->u.text.data, v->u.text.len, v->flags & VALUE_F_ILL_FORMED);
		puts_(o, "}");
		break;
	case CP_VALUE_PORT:
		/* For reading by people: cp_value_from_json() cannot make a port. */
		putf(o, "{\"$port\":%llu}", (unsigned long long)cp_port_id(v->u.port));
		break;
	default:
		o->failed = true;
		break;
	}
}

/* How a container is being written. */
enum frame_kind {
	FRAME_ARRAY,      /* [v,...] */
	FRAME_SPARSE,     /* {"$array":[length,[[i,v],...],[[k,v],...]]} */
	FRAME_OBJECT,     /* {"k":v,...} */
	FRAME_PAIRS,      /* {"$map":[[k,v],...]} or {"$object":[[k,v],...]} */
	FRAME_SET,        /* {"$set":[v,...]} */
	FRAME_VIEW,       /* {"$typed":[name,buffer,offset,length]} */
};

struct frame {
	const cp_value *v;
	size_t pos;        /* next child */
	uint8_t kind;
	bool id_wrapped;   /* inside {"$id":N,"$value":...} */
};

struct writer {
	struct out o;
	struct ptrvec nodes;
	struct ptrmap index;
	uint32_t *refs;    /* references to node i, counting one from outside to the root */
	uint32_t *ids;     /* $id given to node i, 0 while none */
	uint32_t next_id;
	struct frame *stack;
	size_t depth;
	size_t cap;
};

static size_t node_of(const struct writer *w, const cp_value *v)
{
	uintptr_t i = 0;

	ptrmap_get(&w->index, v, &i);
	return i;
}

static bool object_is_plain(const cp_value *v)
{
	const struct value_container *c = v->u.c;
	size_t n = c ? c->count / 2 : 0, i;

	for (i = 0; i < n; i++) {
		const cp_value *k = c->items[2 * i];

		/* jansson refuses NUL in keys; JSON cannot hold lone surrogates. */
		if ((k->flags & VALUE_F_ILL_FORMED) || memchr(k->u.text.data, 0, k->u.text.len))
			return false;
	}
	/* What the reader would take for a tag. */
	if (n == 1 && c->items[0]->u.text.len > 0 && c->items[0]->u.text.data[0] == '$')
		return false;
	if (n == 2) {
		const char *a = c->items[0]->u.text.data, *b = c->items[2]->u.text.data;

		if ((!strcmp(a, "$id") && !strcmp(b, "$value")) || (!strcmp(a, "$value") && !strcmp(b, "$id")))
			return false;
	}
	return true;
}

static bool array_is_dense(const cp_value *v)
{
	const struct value_container *c = v->u.c;

	return !c || (c->n_elements == c->length && c->count == c->n_elements &&
		      (c->n_elements == 0 || value_element_index(c, c->n_elements - 1) == c->n_elements - 1));
}

static bool view_is_inline(const struct writer *w, const cp_value *v)
{
	const cp_value *b = v->u.view.buffer;

	return w->refs[node_of(w, b)] == 1 && cp_value_view_byte_offset(v) == 0 &&
	       cp_value_view_byte_length(v) == b->u.buffer.len;
}

/* Writes v: completely if it has no children, else its opening, pushing a frame. */
static void emit(struct writer *w, const cp_value *v)
{
	struct out *o = &w->o;
	struct frame *f;
	bool wrapped = false;
	size_t k;

	if (value_is_primitive(v)) {
		put_leaf(o, v);
		return;
	}
	k = node_of(w, v);
	if (w->refs[k] > 1) {
		if (w->ids[k]) {
			putf(o, "{\"$ref\":%u}", w->ids[k]);
			return;
		}
		w->ids[k] = ++w->next_id;
		putf(o, "{\"$id\":%u,\"$value\":", w->ids[k]);
		wrapped = true;
	}
	if (!value_is_container(v) && (v->type != CP_VALUE_VIEW || view_is_inline(w, v))) {
		put_leaf(o, v);
		if (wrapped)
			puts_(o, "}");
		return;
	}
	if (w->depth == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 64;
		struct frame *s = realloc(w->stack, cap * sizeof(*s));

		if (!s) {
			o->failed = true;
			return;
		}
		w->stack = s;
		w->cap = cap;
	}
	f = &w->stack[w->depth++];
	*f = (struct frame){ .v = v, .id_wrapped = wrapped };
	switch ((cp_value_type)v->type) {
	case CP_VALUE_ARRAY:
		if (array_is_dense(v)) {
			f->kind = FRAME_ARRAY;
			puts_(o, "[");
		} else {
			f->kind = FRAME_SPARSE;
			putf(o, "{\"$array\":[%u,[", v->u.c->length);
		}
		break;
	case CP_VALUE_OBJECT:
		f->kind = object_is_plain(v) ? FRAME_OBJECT : FRAME_PAIRS;
		puts_(o, f->kind == FRAME_OBJECT ? "{" : "{\"$object\":[");
		break;
	case CP_VALUE_MAP:
		f->kind = FRAME_PAIRS;
		puts_(o, "{\"$map\":[");
		break;
	case CP_VALUE_SET:
		f->kind = FRAME_SET;
		puts_(o, "{\"$set\":[");
		break;
	default:
		f->kind = FRAME_VIEW;
		putf(o, "{\"$typed\":[\"%s\",", cp_view_kind_name(v->sub));
		break;
	}
}

/* Text between a container's children: before child j, and after it. */
static void put_before(struct out *o, const struct frame *f, size_t j)
{
	size_t n_el = f->v->type == CP_VALUE_ARRAY && f->v->u.c ? f->v->u.c->n_elements : 0;

	switch (f->kind) {
	case FRAME_ARRAY:
	case FRAME_SET:
		puts_(o, j ? "," : "");
		break;
	case FRAME_OBJECT:
		puts_(o, j && j % 2 == 0 ? "," : "");
		break;
	case FRAME_PAIRS:
		puts_(o, j % 2 ? "," : j ? ",[" : "[");
		break;
	case FRAME_SPARSE:
		if (j < n_el) {
			putf(o, "%s[%u,", j ? "," : "", value_element_index(f->v->u.c, j));
		} else {
			if (j == n_el)
				puts_(o, "],[");
			puts_(o, (j - n_el) % 2 ? "," : j > n_el ? ",[" : "[");
		}
		break;
	default:
		break;
	}
}

static void put_after(struct out *o, const struct frame *f, size_t j)
{
	size_t n_el = f->v->type == CP_VALUE_ARRAY && f->v->u.c ? f->v->u.c->n_elements : 0;

	switch (f->kind) {
	case FRAME_OBJECT:
		puts_(o, j % 2 ? "" : ":");
		break;
	case FRAME_PAIRS:
		puts_(o, j % 2 ? "]" : "");
		break;
	case FRAME_SPARSE:
		puts_(o, j < n_el || (j - n_el) % 2 ? "]" : "");
		break;
	default:
		break;
	}
}

static void put_close(struct out *o, const struct frame *f)
{
	const cp_value *v = f->v;

	switch (f->kind) {
	case FRAME_ARRAY:
		puts_(o, "]");
		break;
	case FRAME_OBJECT:
		puts_(o, "}");
		break;
	case FRAME_PAIRS:
	case FRAME_SET:
		puts_(o, "]}");
		break;
	case FRAME_SPARSE:
		/* Without named properties the "],[" before them is still due. */
		puts_(o, v->u.c->count == v->u.c->n_elements ? "],[]]}" : "]]}");
		break;
	case FRAME_VIEW:
		putf(o, ",%zu,%zu]}", cp_value_view_byte_offset(v), cp_value_view_length(v));
		break;
	}
	if (f->id_wrapped)
		puts_(o, "}");
}

char *cp_value_to_json(const cp_value *root)
{
	struct writer w = { 0 };
	size_t i, j;

	if (!root)
		return NULL;
	/* Which objects are referenced more than once: they get an $id where
	 * first written and a $ref everywhere after. */
	if (value_collect(root, &w.nodes, &w.index) < 0)
		goto out;
	w.refs = calloc(w.nodes.count, sizeof(*w.refs));
	w.ids = calloc(w.nodes.count, sizeof(*w.ids));
	if (!w.refs || !w.ids)
		goto out;
	w.refs[0] = 1;
	for (i = 0; i < w.nodes.count; i++) {
		const cp_value *v = w.nodes.items[i];

		for (j = 0; j < value_child_count(v); j++)
			w.refs[node_of(&w, value_child(v, j))]++;
	}

	emit(&w, root);
	while (w.depth > 0 && !w.o.failed) {
		struct frame *f = &w.stack[w.depth - 1];
		size_t pos = f->pos;

		if (pos > 0)
			put_after(&w.o, f, pos - 1);
		if (pos < value_child_count(f->v)) {
			f->pos++;
			put_before(&w.o, f, pos);
			/* May push a frame: f is not used after this. */
			emit(&w, value_child(f->v, pos));
			continue;
		}
		put_close(&w.o, f);
		w.depth--;
	}
	if (!w.o.failed && out_reserve(&w.o, 0))
		w.o.data[w.o.len] = 0;
out:
	if (w.o.failed || !w.refs || !w.ids) {
		free(w.o.data);
		w.o.data = NULL;
		error_set(CP_ERR_NO_MEMORY, "out of memory writing JSON");
	}
	free(w.refs);
	free(w.ids);
	free(w.stack);
	ptrvec_deinit(&w.nodes);
	ptrmap_deinit(&w.index);
	return w.o.data;
}
