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
		"Usage: crosspost list [--json] [--socket PATH]\n"
		"Lists the broker's live windows: id, name, origin, pid of the process that\n"
		"registered it, and URL; a table by default (columns as wide as their\n"
		"content), a JSON array of {\"id\",\"name\",\"origin\",\"url\",\"pid\"} objects\n"
		"with --json (name is null for a window without one).\n");
}

static int print_json(const cp_window_info *infos, size_t n)
{
	json_t *array = json_array();
	char *text;

	for (size_t i = 0; i < n && array; i++) {
		json_t *o = json_pack("{s:I,s:o,s:s,s:s,s:i}", "id", (json_int_t)infos[i].id,
				      "name", infos[i].name ? json_string(infos[i].name) : json_null(),
				      "origin", infos[i].origin, "url", infos[i].url, "pid", (int)infos[i].pid);

		if (!o || json_array_append_new(array, o) < 0) {
			json_decref(array);
			return -1;
		}
	}
	text = array ? json_dumps(array, JSON_COMPACT) : NULL;
	json_decref(array);
	if (!text)
		return -1;
	puts(text);
	free(text);
	return 0;
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

int cmd_list(int argc, char **argv)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *socket_path = NULL;
	cp_window_info *infos = NULL;
	size_t n = 0;
	bool json = false;
	cp_client *client;
	int opt, r, status = 1;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "js:h", options, NULL)) != -1) {
		switch (opt) {
		case 'j': json = true; break;
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
		if (print_json(infos, n) < 0) {
			fprintf(stderr, "crosspost list: out of memory\n");
			goto out;
		}
	} else {
		print_table(infos, n);
	}
	status = 0;
out:
	cp_window_info_free(infos, n);
	cp_client_free(client);
	return status;
}
