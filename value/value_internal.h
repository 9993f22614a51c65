/* SPDX-License-Identifier: MIT */
/* value_internal.h - the layout of cp_value nodes, shared by the value modules only. */
#ifndef CP_VALUE_INTERNAL_H
#define CP_VALUE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "crosspost.h"

/* Limits (each also documented in docs/values.md). */
#define VALUE_ARRAY_INDEX_MAX 4294967294u   /* ECMA-262: array indices are < 2^32 - 1 */
#define VALUE_TIME_MAX 8.64e15              /* ECMA-262 TimeClip: +-100,000,000 days */
#define VALUE_CONTAINER_MAX (UINT32_MAX - 1) /* children per container; fits the hash index */
#define VALUE_HASH_THRESHOLD 8              /* entries before a container gets a hash index */
/* ArrayBuffers from this size on live in a memfd, so that a transfer seals
 * it in place and copies nothing; smaller ones are malloc'd and copied into
 * a memfd at transfer (a few microseconds), and a received one is read
 * into the heap: a memfd costs a descriptor, and descriptors are few
 * (RLIMIT_NOFILE, often 1024). */
#define VALUE_BUFFER_SHARED_MIN (64u * 1024u)
/* The most bytes of transferred ArrayBuffers a receiver maps for one
 * message (one buffer or all together).  A sender can make a memfd of any
 * size at no cost (ftruncate of a sparse file); past this the message is a
 * messageerror. */
#define VALUE_TRANSFERRED_BUFFER_MAX ((uint64_t)16 << 30)

/* RegExp flag bits, in the canonical order of RegExp.prototype.flags. */
#define VALUE_REGEXP_FLAG_CHARS "dgimsuvy"

enum {
	VALUE_F_MARK = 1u << 0,        /* reached by cp_value_free()'s walk */
	VALUE_F_TRUE = 1u << 1,        /* BOOLEAN, BOOLEAN_OBJECT */
	VALUE_F_NEGATIVE = 1u << 2,    /* BIGINT, BIGINT_OBJECT */
	VALUE_F_ILL_FORMED = 1u << 3,  /* STRING, STRING_OBJECT, REGEXP source: holds a lone surrogate */
	VALUE_F_HAS_MESSAGE = 1u << 4, /* ERROR */
	VALUE_F_HAS_STACK = 1u << 5,   /* ERROR */
	VALUE_F_DETACHED = 1u << 6,    /* ARRAY_BUFFER: transferred away; no bytes, byteLength 0 */
	/* ARRAY_BUFFER: a writable pointer was handed out (data_mut), so the
	 * bytes of a copy-on-write mapping may differ from its sealed memfd. */
	VALUE_F_WRITTEN = 1u << 7,
};

/* Where an ArrayBuffer's bytes live (cp_value.sub of ARRAY_BUFFER;
 * value_buffer.c). */
enum value_buffer_storage {
	VALUE_BUFFER_HEAP = 0,     /* malloc'd (or NULL when empty); fd unused */
	VALUE_BUFFER_SHARED = 1,   /* an unsealed memfd of ours (fd), mapped MAP_SHARED: sealed in place at transfer */
	VALUE_BUFFER_SEALED = 2,   /* a MAP_PRIVATE (copy-on-write) mapping of a sealed memfd; fd kept, or -1 */
	VALUE_BUFFER_POOLED = 3,   /* a buffer_pool.h block (received, large); fd unused */
	VALUE_BUFFER_INLINE = 4,   /* in the node's own allocation (received, small); fd unused */
};

/* A received ArrayBuffer up to this size shares its node's allocation:
 * one malloc a message instead of two. */
#define VALUE_BUFFER_INLINE_MAX 512u

/* Bytes kept in the node's own allocation, NUL-terminated: WTF-8 text, or
 * a bigint's magnitude (little-endian, no trailing zero byte). */
struct value_text {
	char *data;
	size_t len;
};

/* Children of ARRAY, OBJECT, MAP and SET.  items[] holds, in order:
 *   ARRAY:  n_elements elements (ascending index), then (key, value) pairs
 *   OBJECT: (key, value) pairs, the n_index_keys array-index keys first
 *   MAP:    (key, value) pairs         SET: members
 * Keys of OBJECT and ARRAY pairs are STRING nodes.  "Entries" are the
 * pairs (members for SET) that the hash index covers. */
struct value_container {
	cp_value **items;
	size_t count;
	size_t cap;
	uint32_t *indices;      /* ARRAY: index of each element; NULL while element i is at index i */
	size_t n_elements;      /* ARRAY */
	size_t n_index_keys;    /* OBJECT */
	uint32_t length;        /* ARRAY */
	uint32_t *hash;         /* open-addressed entry numbers + 1, or NULL (then: linear search) */
	size_t hash_cap;        /* power of two */
};

struct value_error {
	struct value_text message;
	struct value_text stack;
};

struct cp_value {
	uint8_t type;            /* cp_value_type */
	uint8_t sub;             /* VIEW: cp_view_kind; REGEXP: flag bits; ERROR: name index;
				  * ARRAY_BUFFER: value_buffer_storage */
	uint16_t flags;          /* VALUE_F_* */
	cp_value *link;          /* scratch list for cp_value_free(); no other use */
	union {
		double number;                 /* NUMBER, NUMBER_OBJECT, DATE */
		struct value_text text;        /* STRING(_OBJECT), BIGINT(_OBJECT), REGEXP source, HOST_OBJECT */
		struct {
			uint8_t *data;
			size_t len;
			int fd;                /* SHARED, SEALED: the memfd (see value_buffer_storage) */
			uint32_t offset;       /* POOLED: data's offset in its block (an adopted payload) */
		} buffer;                      /* ARRAY_BUFFER */
		cp_port *port;                 /* PORT: borrowed from the client */
		struct {
			cp_value *buffer;
			size_t byte_offset;
			size_t length;
		} view;                        /* VIEW */
		struct value_container *c;     /* ARRAY, OBJECT, MAP, SET (NULL while empty) */
		struct value_error *error;     /* ERROR */
	} u;
};

/* ---- value.c: nodes ---- */

static inline bool value_is_primitive(const cp_value *v)
{
	return v->type <= CP_VALUE_STRING;
}

static inline bool value_is_container(const cp_value *v)
{
	return v->type == CP_VALUE_ARRAY || v->type == CP_VALUE_OBJECT ||
	       v->type == CP_VALUE_MAP || v->type == CP_VALUE_SET;
}

/* The children of a node, in the order every walk uses. */
static inline size_t value_child_count(const cp_value *v)
{
	if (value_is_container(v))
		return v->u.c ? v->u.c->count : 0;
	return v->type == CP_VALUE_VIEW ? 1 : 0;
}

static inline cp_value *value_child(const cp_value *v, size_t i)
{
	return v->type == CP_VALUE_VIEW ? v->u.view.buffer : v->u.c->items[i];
}

/* A node with tail extra bytes after it; NULL on allocation failure. */
cp_value *value_alloc(cp_value_type type, size_t tail);
/* A node whose value_text is a copy of data (STRING(_OBJECT), HOST_OBJECT,
 * BIGINT(_OBJECT)); the caller has validated data. */
cp_value *value_new_text(cp_value_type type, const void *data, size_t len, uint16_t flags);
/* A BIGINT(_OBJECT) from a magnitude, normalized (trailing zeros dropped,
 * zero never negative). */
cp_value *value_new_bigint(cp_value_type type, bool negative, const uint8_t *mag, size_t len);
/* A REGEXP from validated WTF-8 source and flag bits. */
cp_value *value_new_regexp(const char *source, size_t len, bool ill_formed, unsigned flag_bits);
/* An ERROR; message/stack NULL for none (validated WTF-8). */
cp_value *value_new_error(unsigned name, const char *message, size_t message_len,
			  const char *stack, size_t stack_len);
/* ECMA-262 TimeClip. */
double value_time_clip(double t);
/* The index of an error name among the standard ones, 0 ("Error") for any other. */
unsigned value_error_name_index(const char *name, size_t len);
const char *value_error_name_string(unsigned index);
#define VALUE_ERROR_NAME_COUNT 7u
/* Parses "dgimsuvy" flags into bits; -1 when invalid. */
int value_regexp_flags_parse(const char *flags, size_t len);
/* Frees the node's own storage, not its children. */
void value_free_shallow(cp_value *v);
/* Equality of what two nodes hold besides their children (structured:
 * NaN equals NaN, 0 and -0 differ); for containers, their counts and, for
 * arrays, length and element indices.  For primitives, full equality. */
bool value_shallow_equal(const cp_value *a, const cp_value *b);
static inline bool value_primitive_equal(const cp_value *a, const cp_value *b)
{
	return value_shallow_equal(a, b);
}
/* A copy of the node without its children: a container copy has the same
 * number of child slots, each to be filled by the caller (and then
 * value_container_finish()); a view's buffer likewise.  NULL on ENOMEM. */
cp_value *value_copy_shallow(const cp_value *v);
/* Content equality of the text of two nodes. */
static inline bool value_text_equal(const cp_value *a, const cp_value *b)
{
	return a->u.text.len == b->u.text.len &&
	       (a->u.text.len == 0 || memcmp(a->u.text.data, b->u.text.data, a->u.text.len) == 0);
}

static inline bool value_buffer_is_detached(const cp_value *v)
{
	return v->flags & VALUE_F_DETACHED;
}

/* ---- value_buffer.c: where an ArrayBuffer's bytes live ---- */

/* A new ARRAY_BUFFER of len bytes copied from data (zeros when NULL): in a
 * memfd from VALUE_BUFFER_SHARED_MIN on when one can be had, else
 * malloc'd.  NULL on allocation failure. */
cp_value *value_buffer_new(const void *data, size_t len);
/* The same, never in a memfd: what a received (copied) buffer gets, since
 * most are read and dropped, and a memfd per message costs six syscalls.
 * Small ones live in the node's own allocation (INLINE); large ones take
 * a pooled block (POOLED), so that message after message lands in pages
 * already faulted in.  Transferring it onward copies it once into a memfd
 * then. */
cp_value *value_buffer_new_received(const void *data, size_t len);
/* A POOLED ArrayBuffer of the len bytes at data, which lie inside block
 * (malloc'd; buffer_pool.h) and stay there: the node takes the block over
 * (freeing the node gives it back).  NULL when out of memory (block is
 * then still the caller's). */
cp_value *value_buffer_adopt_block(void *block, uint8_t *data, size_t len);
/* A new ARRAY_BUFFER that adopts data (malloc'd, len bytes; NULL when
 * empty).  NULL on allocation failure (data is then still the caller's). */
cp_value *value_buffer_adopt(void *data, size_t len);
/* Frees the bytes (unmaps, closes the memfd); the node is left empty. */
void value_buffer_release(cp_value *v);
/* Transferred away: the bytes are released and the buffer is detached. */
void value_buffer_detach(cp_value *v);
/* A sealed memfd holding the buffer's bytes into *ret_fd (the caller's):
 * its own memfd, sealed in place, when it has one, else a fresh one with a
 * copy.  The buffer stays usable, at the same address.  Errors:
 * CP_ERR_NO_MEMORY (no memfd could be made; message recorded). */
int value_buffer_seal(cp_value *v, int *ret_fd);
/* A new ARRAY_BUFFER from a transferred descriptor (borrowed): checked to
 * be a memfd sealed against writes and resizing, of at most limit bytes,
 * then mapped copy-on-write (read into the heap when small).  Errors:
 * CP_ERR_DATA, CP_ERR_NO_MEMORY (recorded). */
int value_buffer_from_fd(int fd, uint64_t limit, cp_value **ret);

/* ---- value_container.c: containers ---- */

/* The container of v, created when absent; NULL on allocation failure. */
struct value_container *value_container_get(cp_value *v);
/* Makes room for extra more items. */
int value_container_reserve(struct value_container *c, size_t extra);
/* Appends items without any check; the caller has reserved room.  Call
 * value_container_finish() when done. */
static inline void value_container_push(struct value_container *c, cp_value *item)
{
	c->items[c->count++] = item;
}
/* Checks a container filled with value_container_push(): keys are strings,
 * in JavaScript order, no duplicates; builds the hash index.  Errors:
 * CP_ERR_TYPE (key type or order), CP_ERR_CONSTRAINT (duplicate),
 * CP_ERR_NO_MEMORY. */
int value_container_finish(cp_value *v);
/* Inserting, with the checks of the public API; key/member ownership as there. */
int value_object_add(cp_value *v, cp_value *key, cp_value *value);
int value_map_add(cp_value *v, cp_value *key, cp_value *value);
int value_set_add(cp_value *v, cp_value *member);
int value_array_add_element(cp_value *v, uint32_t index, cp_value *value);
/* Whether text is an array index ("0".."4294967294", no leading zeros). */
bool value_is_array_index(const char *text, size_t len, uint32_t *ret_index);
/* The index of an element (ARRAY) or of an entry; SIZE_MAX when absent. */
size_t value_array_find(const cp_value *v, uint32_t index);
size_t value_entry_find_text(const cp_value *v, const char *key, size_t len);
size_t value_entry_find_value(const cp_value *v, const cp_value *key);
/* The index of element i of an array. */
static inline uint32_t value_element_index(const struct value_container *c, size_t i)
{
	return c->indices ? c->indices[i] : (uint32_t)i;
}
void value_container_free(struct value_container *c);
/* A container with c's layout (counts, indices, length) and unset items. */
struct value_container *value_container_copy_shape(const struct value_container *c);

/* ---- value_text.c: WTF-8, UTF-16 and bigint text ---- */

/* Validates WTF-8 (strict: no overlongs, nothing past U+10FFFF, no
 * surrogate pair written as two 3-byte sequences).  Returns 0 or -EINVAL;
 * *ret_well_formed tells whether it held no lone surrogate. */
int wtf8_validate(const void *data, size_t len, bool *ret_well_formed);
size_t wtf8_utf16_length(const char *s, size_t len);
/* Writes the UTF-16 units of valid WTF-8 s to out (wtf8_utf16_length() units). */
void wtf8_to_utf16(const char *s, size_t len, uint16_t *out);
/* Decodes one code point (a lone surrogate is returned as itself) from
 * valid WTF-8; returns the number of bytes used. */
size_t wtf8_next(const char *s, size_t len, uint32_t *ret_cp);
/* UTF-16 to WTF-8: *ret malloc'd, NUL-terminated. */
int utf16_to_wtf8(const uint16_t *units, size_t count, char **ret, size_t *ret_len,
		  bool *ret_well_formed);
/* Decimal text (optional '-', digits) to sign and magnitude (malloc'd,
 * *ret_len bytes, normalized).  Errors: -EINVAL, -ENOMEM. */
int bigint_from_decimal(const char *s, size_t len, bool *ret_negative, uint8_t **ret_mag,
			size_t *ret_len);
/* Decimal text of a magnitude, malloc'd, NUL-terminated; NULL on ENOMEM. */
char *bigint_to_decimal(bool negative, const uint8_t *mag, size_t len);
/* Base64 (RFC 4648, standard alphabet): encoding writes 4 * ((n + 2) / 3)
 * characters, padded; decoding takes padded or unpadded text, nothing else,
 * into *ret (malloc'd).  Errors: -EINVAL, -ENOMEM. */
void base64_encode(const uint8_t *in, size_t n, char *out);
int base64_decode(const char *in, size_t len, uint8_t **ret, size_t *ret_len);

#endif
