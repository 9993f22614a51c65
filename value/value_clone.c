/* SPDX-License-Identifier: MIT */
/* value_clone.c - deep copy of a value graph, keeping shared references and cycles. */
#include <stdint.h>
#include <stdlib.h>

#include "crosspost.h"
#include "error.h"
#include "value_internal.h"
#include "value_walk.h"

cp_value *cp_value_clone(const cp_value *root)
{
	struct ptrvec nodes = { 0 };
	struct ptrmap index = { 0 };
	cp_value **copies = NULL, *ret = NULL;
	size_t i, j;

	if (!root)
		return NULL;
	/* Two passes over the reachable nodes: copy each without its children,
	 * then point the copies' child slots at the copies. */
	if (value_collect(root, &nodes, &index) < 0)
		goto out;
	copies = calloc(nodes.count, sizeof(*copies));
	if (!copies)
		goto out;
	for (i = 0; i < nodes.count; i++) {
		copies[i] = value_copy_shallow(nodes.items[i]);
		if (!copies[i])
			goto out;
	}
	for (i = 0; i < nodes.count; i++) {
		const cp_value *v = nodes.items[i];
		cp_value *copy = copies[i];
		size_t n = value_child_count(v);

		for (j = 0; j < n; j++) {
			uintptr_t k = 0;

			ptrmap_get(&index, value_child(v, j), &k);
			if (copy->type == CP_VALUE_VIEW)
				copy->u.view.buffer = copies[k];
			else
				copy->u.c->items[j] = copies[k];
		}
		if (value_is_container(copy) && value_container_finish(copy) < 0)
			goto out;
	}
	ret = copies[0];
out:
	if (!ret && copies) {
		for (i = 0; i < nodes.count && copies[i]; i++)
			value_free_shallow(copies[i]);
	}
	if (!ret)
		error_set(CP_ERR_NO_MEMORY, "out of memory cloning a value");
	free(copies);
	ptrvec_deinit(&nodes);
	ptrmap_deinit(&index);
	return ret;
}
