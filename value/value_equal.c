/* SPDX-License-Identifier: MIT */
/* value_equal.c - structured equality: same contents and same graph shape, checked iteratively. */
#include <stdint.h>

#include "crosspost.h"
#include "value_internal.h"
#include "value_walk.h"

/* Two graphs are equal when a bijection between their object nodes maps
 * one root to the other and every node to a node with the same contents
 * and the corresponding children.  Children are ordered, so the bijection
 * is forced: walk both graphs in step from the roots, pairing nodes as
 * they are met, and fail as soon as a node would pair with two different
 * nodes.  Primitives have no identity and compare by content.  An
 * explicit stack replaces recursion. */
bool cp_value_equal(const cp_value *a, const cp_value *b)
{
	struct ptrmap ab = { 0 }, ba = { 0 };
	struct ptrvec stack = { 0 };
	bool equal = false;

	if (!a || !b)
		return a == b;
	if (ptrvec_push(&stack, (void *)a) < 0 || ptrvec_push(&stack, (void *)b) < 0)
		goto out;
	while (stack.count) {
		const cp_value *y = stack.items[--stack.count];
		const cp_value *x = stack.items[--stack.count];
		uintptr_t other;
		size_t i, n;
		int r;

		if (value_is_primitive(x) || value_is_primitive(y)) {
			if (!value_primitive_equal(x, y))
				goto out;
			continue;
		}
		r = ptrmap_put(&ab, x, (uintptr_t)y, &other);
		if (r < 0)
			goto out;
		if (r == 0) {
			if (other != (uintptr_t)y)
				goto out;
			continue;
		}
		/* x is new: y must be new too, or it already pairs with another node. */
		r = ptrmap_put(&ba, y, (uintptr_t)x, NULL);
		if (r <= 0 || !value_shallow_equal(x, y))
			goto out;
		n = value_child_count(x);
		for (i = n; i-- > 0;) {
			if (ptrvec_push(&stack, value_child(x, i)) < 0 ||
			    ptrvec_push(&stack, value_child(y, i)) < 0)
				goto out;
		}
	}
	equal = true;
out:
	/* Out of memory also answers false: documented in docs/values.md. */
	ptrmap_deinit(&ab);
	ptrmap_deinit(&ba);
	ptrvec_deinit(&stack);
	return equal;
}
