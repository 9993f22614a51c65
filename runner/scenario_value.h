/* SPDX-License-Identifier: MIT */
/* scenario_value.h - named buffers and ports inside DATA: placeholders, their resolution, and walking received values. */
#ifndef CP_SCENARIO_VALUE_H
#define CP_SCENARIO_VALUE_H

#include <stdbool.h>
#include <stddef.h>

#include "crosspost.h"

/*
 * `{"$buffer":"B"}` and `{"$port":"P"}` in DATA name objects of a scenario,
 * which cp_value_from_json() rightly does not know.  The parser replaces
 * each with a placeholder, a host object whose description starts with
 * SCENARIO_PLACEHOLDER, and cp_value_from_json() reads the result; the
 * window process (or, for expectations, the runner) then copies that value
 * with each placeholder replaced by the object it names.  Descriptions:
 *
 *   PREFIX "buffer:" B                        the buffer B
 *   PREFIX "view:" KIND ":" OFF ":" LEN ":" B  {"$typed":[KIND,{"$buffer":"B"},OFF,LEN]}
 *   PREFIX "port:" P                          the port P (an alias)
 *   PREFIX "port:#" ID                        the port with broker id ID (received data)
 *
 * A view over a named buffer is a placeholder of its own because
 * cp_value_from_json() checks a view's range against its buffer, and the
 * placeholder is not the buffer.
 */
#define SCENARIO_PLACEHOLDER "\001crosspost:"
/* The same prefix as written inside a JSON string. */
#define SCENARIO_PLACEHOLDER_JSON "\\u0001crosspost:"

/* What a resolution asks for: the node a placeholder stands for.  Each
 * callback returns 0 and stores a node in *ret, or a negative CP_ERR_*
 * code (cp_last_error_message() need not be set: the caller says what
 * failed).  The node becomes referenced from the result; see
 * scenario_value_resolve() for who owns it.  A callback is called once per
 * name and resolution: every place naming it gets the same node. */
struct scenario_resolver {
	int (*buffer)(void *userdata, const char *name, cp_value **ret);
	int (*port)(void *userdata, const char *name, cp_value **ret);
	void *userdata;
};

/* A copy of masked (a value read from masked DATA) with the same shape, in
 * which every placeholder is replaced by what resolver gives for it (a view
 * placeholder becomes a new view over the resolved buffer).  No graph owns
 * its nodes once resolved nodes are shared, so keeper (an array the caller
 * owns) receives a reference to the result, to each of its object nodes and
 * to each resolved node: freeing keeper frees them all, once; the result
 * itself is never freed on its own.  Returns 0, or CP_ERR_NO_MEMORY,
 * CP_ERR_TYPE (a view that does not fit its buffer, e.g. a detached one;
 * a MessagePort in masked), or a resolver's error; *ret_what then names
 * the placeholder that failed (static or borrowed from masked, may be
 * NULL).  On failure keeper may hold part of a copy. */
int scenario_value_resolve(const cp_value *masked, const struct scenario_resolver *resolver,
			   cp_value *keeper, cp_value **ret, const char **ret_what);

/* True when value holds a placeholder (a resolution is needed). */
bool scenario_value_has_placeholders(const cp_value *value);

/* The distinct ArrayBuffer nodes reachable from value, in a fixed
 * depth-first order that depends only on the value's shape: two values
 * that cp_value_equal() calls equal list their buffers in corresponding
 * order.  *ret (malloc'd, the caller frees it; NULL when there are none)
 * borrows the nodes.  Errors: -ENOMEM. */
int scenario_value_buffers(const cp_value *value, const cp_value ***ret, size_t *ret_count);

/* Compact tagged JSON as cp_value_to_json() prints it, with every
 * {"$port":ID} (which cp_value_from_json() refuses) turned into the
 * placeholder "port:#ID", so that the runner can read received data and
 * compare it.  Returns a malloc'd string, or NULL when out of memory. */
char *scenario_value_rewrite_ports(const char *json);

#endif
