/* SPDX-License-Identifier: MIT */
/* cmd_monitor.c - `crosspost monitor`: what the broker routes, as it routes it. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "commands.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: crosspost monitor [--origin ORIGIN] [--window NAME|ID] [--data] [--json]\n"
		"                         [--count N] [--socket PATH]\n"
		"Prints every message the broker routes, as it routes it - delivered, or dropped\n"
		"with the reason (a targetOrigin that does not match, with both origins; a closed\n"
		"target; a target nobody has claimed) - and every window opened, navigated or\n"
		"closed.  One line each; a JSON object per line with --json.  Allowed to the\n"
		"broker's own user and to users its policy lets monitor (monitor = yes).\n\n"
		"  --origin ORIGIN   only what involves a window of this origin\n"
		"  --window NAME|ID  only what involves this window\n"
		"  --data            show each message's data (tagged JSON)\n"
		"  --json            one JSON object per line\n"
		"  --count N         exit 0 after N events\n\n"
		"A monitor that does not keep up loses events instead of slowing anyone; a line\n"
		"says how many were lost.\n");
}

static const char *const kind_names[] = {
	[CP_MONITOR_DELIVERED] = "message",
	[CP_MONITOR_DROPPED] = "dropped",
	[CP_MONITOR_PORT_MESSAGE] = "port-message",
	[CP_MONITOR_BROADCAST] = "broadcast",
	[CP_MONITOR_WINDOW_OPENED] = "opened",
	[CP_MONITOR_WINDOW_CLOSED] = "closed",
	[CP_MONITOR_NAVIGATED] = "navigated",
};

typedef struct MonitorState {
	bool json;
	int64_t remaining;    /* -1: no limit */
	int failure;
} MonitorState;

static volatile sig_atomic_t interrupted;
static void on_interrupt(int sig) { (void)sig; interrupted = 1; }

static const char *kind_name(cp_monitor_kind kind)
{
	return kind >= CP_MONITOR_DELIVERED && kind <= CP_MONITOR_NAVIGATED ? kind_names[kind] : "unknown";
}

/* "window 3 'a' (https://a.example)", or "window 3 (https://a.example)". */
static void print_window(FILE *out, uint64_t id, const char *name, const char *origin)
{
	fprintf(out, "window %llu", (unsigned long long)id);
	if (name && *name)
		fprintf(out, " '%s'", name);
	if (origin && *origin)
		fprintf(out, " (%s)", origin);
}

static int print_json(const cp_monitor_event *ev)
{
	json_t *o = json_pack("{s:s,s:I}", "kind", kind_name(ev->kind), "time_us", (json_int_t)ev->time_us);
	char *data;

	if (!o)
		return -1;
	data = ev->data ? cp_value_to_json(ev->data) : NULL;
	if (ev->from_id)
		json_object_set_new(o, "from", json_pack("{s:I,s:s,s:s}", "id", (json_int_t)ev->from_id, "name",
							  ev->from_name, "origin", ev->from_origin));
	if (ev->to_id)
		json_object_set_new(o, "to", json_pack("{s:I,s:s,s:s}", "id", (json_int_t)ev->to_id, "name",
							ev->to_name, "origin", ev->to_origin));
	if (*ev->target_origin)
		json_object_set_new(o, "targetOrigin", json_string(ev->target_origin));
	if (*ev->reason)
		json_object_set_new(o, "reason", json_string(ev->reason));
	if (*ev->url)
		json_object_set_new(o, "url", json_string(ev->url));
	if (ev->port_id)
		json_object_set_new(o, "port", json_integer((json_int_t)ev->port_id));
	if (ev->kind <= CP_MONITOR_BROADCAST)
		json_object_set_new(o, "size", json_integer((json_int_t)ev->size));
	if (ev->lost)
		json_object_set_new(o, "lost", json_integer((json_int_t)ev->lost));
	if (data)
		json_object_set_new(o, "data", json_loads(data, JSON_DECODE_ANY, NULL));
	free(data);
	return cli_put_json(o);
}

static void print_line(const cp_monitor_event *ev)
{
	char *data = ev->data ? cp_value_to_json(ev->data) : NULL;

	if (ev->lost)
		printf("(%llu events lost: this monitor did not keep up)\n", (unsigned long long)ev->lost);
	printf("%10.6f %-12s ", ev->time_us / 1e6, kind_name(ev->kind));
	switch (ev->kind) {
	case CP_MONITOR_DELIVERED:
	case CP_MONITOR_DROPPED:
	case CP_MONITOR_BROADCAST:
		print_window(stdout, ev->from_id, ev->from_name, ev->from_origin);
		fputs(" -> ", stdout);
		print_window(stdout, ev->to_id, ev->to_name, ev->to_origin);
		if (*ev->target_origin)
			printf(" targetOrigin %s", ev->target_origin);
		printf(", %llu B", (unsigned long long)ev->size);
		if (ev->kind == CP_MONITOR_DROPPED)
			printf(": %s", ev->reason);
		break;
	case CP_MONITOR_PORT_MESSAGE:
		printf("port %llu -> ", (unsigned long long)ev->port_id);
		print_window(stdout, ev->to_id, ev->to_name, ev->to_origin);
		printf(", %llu B", (unsigned long long)ev->size);
		break;
	default:
		print_window(stdout, ev->from_id, ev->from_name, ev->from_origin);
		if (*ev->url)
			printf(" %s", ev->url);
		if (*ev->reason)
			printf(": %s", ev->reason);
		break;
	}
	if (data)
		printf(" data=%s", data);
	putchar('\n');
	free(data);
}

static void on_event(cp_client *client, const cp_monitor_event *ev, void *userdata)
{
	MonitorState *state = userdata;

	(void)client;
	if (state->remaining == 0)
		return;
	if (state->json) {
		if (print_json(ev) < 0)
			state->failure = 1;
	} else {
		print_line(ev);
	}
	fflush(stdout);
	if (state->remaining > 0)
		state->remaining--;
}

int cmd_monitor(int argc, char **argv)
{
	static const struct option options[] = {
		{ "origin", required_argument, NULL, 'o' },
		{ "window", required_argument, NULL, 'w' },
		{ "data", no_argument, NULL, 'd' },
		{ "json", no_argument, NULL, 'j' },
		{ "count", required_argument, NULL, 'c' },
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	MonitorState state = { .remaining = -1 };
	const char *socket_path = NULL, *origin = NULL, *window = NULL;
	bool with_data = false;
	uint64_t window_id = 0;
	cp_client *client;
	int opt, r, status = 1;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "o:w:djc:s:h", options, NULL)) != -1) {
		switch (opt) {
		case 'o': origin = optarg; break;
		case 'w': window = optarg; break;
		case 'd': with_data = true; break;
		case 'j': state.json = true; break;
		case 's': socket_path = optarg; break;
		case 'c':
			state.remaining = cli_parse_count(optarg, INT32_MAX);
			if (state.remaining < 1) {
				fprintf(stderr, "crosspost monitor: --count needs a positive number, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "crosspost monitor: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (cli_check_socket_option("monitor", socket_path))
		return 2;
	client = cli_connect("monitor", socket_path);
	if (!client)
		return 1;
	if (window) {
		int64_t id = cli_parse_count(window, INT64_MAX);

		r = id > 0 ? 0 : cp_client_lookup(client, window, &window_id);
		if (id > 0)
			window_id = (uint64_t)id;
		if (r < 0) {
			cli_print_error("monitor", r);
			goto out;
		}
	}
	r = cp_client_monitor(client, origin, window_id, with_data, on_event, &state);
	if (r < 0) {
		cli_print_error("monitor", r);
		goto out;
	}
	signal(SIGINT, on_interrupt);
	signal(SIGTERM, on_interrupt);
	fprintf(stderr, "crosspost monitor: watching %s\n", cp_client_socket_path(client));
	while (state.remaining != 0 && !interrupted && !state.failure) {
		/* Wake up now and then to notice signals promptly. */
		r = cp_client_wait(client, 200);
		if (r < 0) {
			cli_print_error("monitor", r);
			goto out;
		}
	}
	status = state.failure;
out:
	cp_client_free(client);
	return status;
}
