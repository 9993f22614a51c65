/* SPDX-License-Identifier: MIT */
/* cmd_stats.c - `crosspost stats`: the broker's counters, in total and per window. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "cli.h"
#include "commands.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: crosspost stats [--json] [--socket PATH]\n"
		"Prints the broker's counters: uptime, connections, windows, ports, what it holds\n"
		"(bytes, descriptors), messages delivered and dropped by reason, paused senders,\n"
		"protocol violations, refusals for a limit, monitors; then, per live window,\n"
		"messages posted, received and dropped, bytes, bytes queued for it, and whether\n"
		"its process is paused.  Another user's windows show only id, name and origin\n"
		"unless the broker's policy lets this user list everything.\n");
}

static json_t *totals_json(const cp_broker_stats *s)
{
	return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
			 "uptime_ms", (json_int_t)s->uptime_ms, "connections", (json_int_t)s->connections,
			 "windows", (json_int_t)s->windows, "ports", (json_int_t)s->ports,
			 "bytes_held", (json_int_t)s->bytes_held, "fds_held", (json_int_t)s->fds_held,
			 "delivered", (json_int_t)s->messages_delivered,
			 "dropped_origin_mismatch", (json_int_t)s->dropped_origin_mismatch,
			 "dropped_target_closed", (json_int_t)s->dropped_target_closed,
			 "senders_paused", (json_int_t)s->senders_paused,
			 "protocol_violations", (json_int_t)s->connections_rejected,
			 "quota_rejects", (json_int_t)s->quota_rejects, "monitors", (json_int_t)s->monitors,
			 "monitor_events_lost", (json_int_t)s->monitor_events_lost);
}

static int print_json(const cp_broker_stats *s, const cp_window_stats *w, size_t n)
{
	json_t *root = json_object(), *windows = json_array();

	if (!root || !windows)
		return -1;
	json_object_set_new(root, "broker", totals_json(s));
	for (size_t i = 0; i < n; i++)
		json_array_append_new(windows,
				      json_pack("{s:I,s:o,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:b}", "id", (json_int_t)w[i].id,
						"name", w[i].name ? json_string(w[i].name) : json_null(), "origin",
						w[i].origin, "posted", (json_int_t)w[i].posted, "received",
						(json_int_t)w[i].received, "dropped", (json_int_t)w[i].dropped,
						"bytes_posted", (json_int_t)w[i].bytes_posted, "bytes_received",
						(json_int_t)w[i].bytes_received, "queued_bytes",
						(json_int_t)w[i].queued_bytes, "paused", w[i].paused));
	json_object_set_new(root, "windows", windows);
	return cli_put_json(root);
}

static void print_table(const cp_broker_stats *s, const cp_window_stats *w, size_t n)
{
	printf("uptime          %.1f s\n", s->uptime_ms / 1000.0);
	printf("connections     %llu\nwindows         %llu\nports           %llu\n",
	       (unsigned long long)s->connections, (unsigned long long)s->windows, (unsigned long long)s->ports);
	printf("held            %llu bytes, %llu descriptors\n", (unsigned long long)s->bytes_held,
	       (unsigned long long)s->fds_held);
	printf("delivered       %llu\n", (unsigned long long)s->messages_delivered);
	printf("dropped         %llu targetOrigin mismatch, %llu target closed\n",
	       (unsigned long long)s->dropped_origin_mismatch, (unsigned long long)s->dropped_target_closed);
	printf("senders paused  %llu\nviolations      %llu\nlimit refusals  %llu\n",
	       (unsigned long long)s->senders_paused, (unsigned long long)s->connections_rejected,
	       (unsigned long long)s->quota_rejects);
	printf("monitors        %llu (%llu events lost)\n", (unsigned long long)s->monitors,
	       (unsigned long long)s->monitor_events_lost);
	if (n == 0)
		return;
	printf("\n%6s %-16s %-28s %8s %8s %8s %10s %10s %8s %s\n", "ID", "NAME", "ORIGIN", "POSTED", "RECEIVED",
	       "DROPPED", "B-POSTED", "B-RECEIVED", "QUEUED", "PAUSED");
	for (size_t i = 0; i < n; i++)
		printf("%6llu %-16s %-28s %8llu %8llu %8llu %10llu %10llu %8llu %s\n", (unsigned long long)w[i].id,
		       w[i].name ? w[i].name : "-", w[i].origin, (unsigned long long)w[i].posted,
		       (unsigned long long)w[i].received, (unsigned long long)w[i].dropped,
		       (unsigned long long)w[i].bytes_posted, (unsigned long long)w[i].bytes_received,
		       (unsigned long long)w[i].queued_bytes, w[i].paused ? "yes" : "no");
}

int cmd_stats(int argc, char **argv)
{
	static const struct option options[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *socket_path = NULL;
	cp_window_stats *windows = NULL;
	cp_broker_stats totals;
	bool json = false;
	cp_client *client;
	size_t n = 0;
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
		fprintf(stderr, "crosspost stats: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (cli_check_socket_option("stats", socket_path))
		return 2;
	client = cli_connect("stats", socket_path);
	if (!client)
		return 1;
	r = cp_client_broker_stats(client, &totals);
	if (r == 0)
		r = cp_client_window_stats(client, &windows, &n);
	if (r < 0) {
		cli_print_error("stats", r);
		goto out;
	}
	if (json) {
		if (print_json(&totals, windows, n) < 0) {
			fprintf(stderr, "crosspost stats: out of memory\n");
			goto out;
		}
	} else {
		print_table(&totals, windows, n);
	}
	status = 0;
out:
	cp_window_stats_free(windows, n);
	cp_client_free(client);
	return status;
}
