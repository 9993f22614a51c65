/* SPDX-License-Identifier: MIT */
/* cmd_list.c - `crosspost list`: the broker's live windows. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "commands.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: crosspost list [--tree] [--json] [--socket PATH]\n"
		"Lists the broker's live windows: id, name, origin, pid of the process that\n"
		"hosts it, and URL; a table by default (columns as wide as their\n"
		"content), a JSON array of {\"id\",\"name\",\"origin\",\"url\",\"pid\",\"parent\",\n"
		"\"opener\",\"pending\"} objects with --json (name, parent and opener are null\n"
		"when there is none).\n"
		"--tree shows the forest of windows: each top-level window with its frames\n"
		"below it, in the order they were inserted, and a window's opener; with\n"
		"--json, nested objects with a \"frames\" array.  A pending window was\n"
		"opened or framed and waits for a process to claim it.\n");
}

static json_t *window_json(const cp_window_info *info)
{
	return json_pack("{s:I,s:o,s:s,s:s,s:i,s:o,s:o,s:b}", "id", (json_int_t)info->id,
			 "name", info->name ? json_string(info->name) : json_null(),
			 "origin", info->origin, "url", info->url, "pid", (int)info->pid,
			 "parent", info->parent_id ? json_integer((json_int_t)info->parent_id) : json_null(),
			 "opener", info->opener_id ? json_integer((json_int_t)info->opener_id) : json_null(),
			 "pending", info->pending);
}

static int print_json(const cp_window_info *infos, size_t n)
{
	json_t *array = json_array();

	for (size_t i = 0; i < n && array; i++) {
		json_t *o = window_json(&infos[i]);

		if (!o || json_array_append_new(array, o) < 0) {
			json_decref(array);
			return -1;
		}
	}
	return cli_put_json(array);
}

static int max_int(int a, int b)
{
	return a > b ? a : b;
}

/* A table whose columns are as wide as their widest cell (in bytes: a
 * name in a wide script may look narrower than it is), so that any name,
 * origin or URL keeps the columns after it aligned.  URL comes last: it
 * needs no padding. */
static void print_table(const cp_window_info *infos, size_t n)
{
	int w_id = (int)strlen("ID"), w_name = (int)strlen("NAME"), w_origin = (int)strlen("ORIGIN");
	int w_pid = (int)strlen("PID");
	char number[24];

	for (size_t i = 0; i < n; i++) {
		w_id = max_int(w_id, snprintf(number, sizeof(number), "%llu", (unsigned long long)infos[i].id));
		w_name = max_int(w_name, infos[i].name ? (int)strlen(infos[i].name) : 1);
		w_origin = max_int(w_origin, (int)strlen(infos[i].origin));
		w_pid = max_int(w_pid, snprintf(number, sizeof(number), "%d", (int)infos[i].pid));
	}
	printf("%-*s  %-*s  %-*s  %-*s  %s\n", w_id, "ID", w_name, "NAME", w_origin, "ORIGIN", w_pid, "PID",
	       "URL");
	for (size_t i = 0; i < n; i++)
		printf("%-*llu  %-*s  %-*s  %-*d  %s\n", w_id, (unsigned long long)infos[i].id, w_name,
		       infos[i].name ? infos[i].name : "-", w_origin, infos[i].origin, w_pid, (int)infos[i].pid,
		       infos[i].url);
}

/* A window whose parent is not listed (it closed between two pages of
 * the listing) is shown as a root. */
static bool is_root(const cp_window_info *infos, size_t n, size_t i)
{
	if (!infos[i].parent_id)
		return true;
	for (size_t k = 0; k < n; k++)
		if (infos[k].id == infos[i].parent_id)
			return false;
	return true;
}

/* The window at i and, below it, its frames (in id order, which is the
 * order they were inserted), with the tree drawn in ASCII.  depth bounds
 * the recursion (the broker bounds it too: max-frame-depth). */
static void print_subtree(const cp_window_info *infos, size_t n, size_t i, const char *prefix, bool last,
			  bool root, unsigned depth)
{
	const cp_window_info *w = &infos[i];
	char child_prefix[512];
	size_t children = 0, seen = 0;

	printf("%s%s%llu %s %s %s", prefix, root ? "" : last ? "`- " : "|- ", (unsigned long long)w->id,
	       w->name ? w->name : "-", w->origin, w->url);
	if (w->pending)
		printf("  (pending)");
	else
		printf("  pid %d", (int)w->pid);
	if (w->opener_id)
		printf("  opener %llu", (unsigned long long)w->opener_id);
	putchar('\n');
	if (depth > 64)
		return;
	snprintf(child_prefix, sizeof(child_prefix), "%s%s", prefix, root ? "" : last ? "   " : "|  ");
	for (size_t k = 0; k < n; k++)
		children += infos[k].parent_id == w->id;
	for (size_t k = 0; k < n; k++) {
		if (infos[k].parent_id != w->id)
			continue;
		seen++;
		print_subtree(infos, n, k, child_prefix, seen == children, false, depth + 1);
	}
}

static void print_tree(const cp_window_info *infos, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (is_root(infos, n, i))
			print_subtree(infos, n, i, "", true, true, 0);
}

static json_t *subtree_json(const cp_window_info *infos, size_t n, size_t i, unsigned depth)
{
	json_t *o = window_json(&infos[i]), *frames = json_array();

	if (!o || !frames || json_object_set_new(o, "frames", frames) < 0) {
		json_decref(o);
		return NULL;
	}
	for (size_t k = 0; k < n && depth <= 64; k++) {
		if (infos[k].parent_id != infos[i].id)
			continue;
		if (json_array_append_new(frames, subtree_json(infos, n, k, depth + 1)) < 0) {
			json_decref(o);
			return NULL;
		}
	}
	return o;
}

static int print_tree_json(const cp_window_info *infos, size_t n)
{
	json_t *array = json_array();

	for (size_t i = 0; i < n && array; i++) {
		if (!is_root(infos, n, i))
			continue;
		if (json_array_append_new(array, subtree_json(infos, n, i, 0)) < 0) {
			json_decref(array);
			return -1;
		}
	}
	return cli_put_json(array);
}

int cmd_list(int argc, char **argv)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "tree", no_argument, NULL, 't' },
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *socket_path = NULL;
	cp_window_info *infos = NULL;
	size_t n = 0;
	bool json = false, tree = false;
	cp_client *client;
	int opt, r, status = 1;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "jts:h", options, NULL)) != -1) {
		switch (opt) {
		case 'j': json = true; break;
		case 't': tree = true; break;
		case 's': socket_path = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "crosspost list: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (cli_check_socket_option("list", socket_path))
		return 2;
	client = cli_connect("list", socket_path);
	if (!client)
		return 1;
	r = cp_client_list_windows(client, &infos, &n);
	if (r < 0) {
		cli_print_error("list", r);
		goto out;
	}
	if (json) {
		if ((tree ? print_tree_json(infos, n) : print_json(infos, n)) < 0) {
			fprintf(stderr, "crosspost list: out of memory\n");
			goto out;
		}
	} else if (tree) {
		print_tree(infos, n);
	} else {
		print_table(infos, n);
	}
	status = 0;
out:
	cp_window_info_free(infos, n);
	cp_client_free(client);
	return status;
}
