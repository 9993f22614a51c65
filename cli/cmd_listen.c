/* SPDX-License-Identifier: MIT */
/* cmd_listen.c - `crosspost listen`: a window that prints what it receives. */
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: crosspost listen URL [--name NAME] [--count N] [--timeout DURATION]\n"
		"                        [--origin ORIGIN]... [--format FMT] [--reconnect]\n"
		"                        [--ready-fd FD] [--privileged] [--socket PATH]\n"
		"Opens a window whose document is at URL and prints each event it receives\n"
		"as one JSON line: {\"type\":\"message\",\"data\":...,\"origin\":\"...\",\n"
		"\"source\":{\"id\":N,\"name\":\"...\"}} (source is null for privileged senders).\n\n"
		"  --name NAME        the window's name (how `crosspost post --to` finds it)\n"
		"  --count N          exit 0 after N events (default: run until interrupted)\n"
		"  --timeout DURATION stop listening after DURATION (250ms, 2s, 1m: the unit is\n"
		"                     required).  Without --count that is the normal end (exit\n"
		"                     0); with --count N, exit 1 if fewer than N events came\n"
		"  --origin ORIGIN    print only events whose origin is ORIGIN (a URL: its origin\n"
		"                     is used; \"null\" for opaque origins).  Repeat it to allow\n"
		"                     several.  Other events are not printed and not counted\n"
		"  --format FMT       print each event as FMT, not JSON, with a newline:\n"
		CLI_FORMAT_HELP
		"                     e.g. --format '%%o %%s %%d'\n"
		"  --reconnect        survive a broker restart: connect again (at once, then\n"
		"                     after 10 ms, 20 ms, ... up to 2 s apart, for ever) and\n"
		"                     register the window again with the same URL and name,\n"
		"                     saying so on stderr; its id changes.  Messages in flight\n"
		"                     when the broker went away are lost.  Exit 1 if the\n"
		"                     window cannot be registered again (name taken meanwhile)\n"
		"  --ready-fd FD      once registered, write \"ready\\n\" to FD and close it\n"
		"  --privileged       an extension-like window: its own posts carry source null\n\n"
		"Once the window is registered, a line \"crosspost listen: ready: window ID ORIGIN\"\n"
		"goes to stderr: a message posted after that line is never lost.  With\n"
		"--reconnect, \"crosspost listen: lost the broker (WHY); reconnecting\" and, once\n"
		"registered again, \"crosspost listen: reconnected: window ID ORIGIN\" follow.\n");
}

static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
	(void)sig;
	interrupted = 1;
}

struct listen_state {
	int64_t expected;    /* --count N, or -1: no limit */
	int64_t received;
	int failure;
	char **origins;      /* --origin, serialized; n_origins == 0: any */
	size_t n_origins;
	const char *format;  /* --format, or NULL: JSON */
};

static bool origin_wanted(const struct listen_state *state, const char *origin)
{
	if (state->n_origins == 0)
		return true;
	for (size_t i = 0; i < state->n_origins; i++)
		if (strcmp(state->origins[i], origin) == 0)
			return true;
	return false;
}

static void on_event(cp_window *window, const cp_event *ev, void *userdata)
{
	struct listen_state *state = userdata;
	int r;

	(void)window;
	if (state->expected >= 0 && state->received >= state->expected)
		return;
	if (!origin_wanted(state, cp_event_origin(ev)))
		return;
	r = state->format ? cli_print_event_format(stdout, ev, state->format) : cli_print_event(stdout, ev);
	if (r < 0)
		state->failure = 1;
	state->received++;
}

/* --reconnect: what happens goes to stderr, as the ready line does. */
static void on_reconnect(cp_client *client, cp_reconnect_event event, cp_window *window, int error,
			 void *userdata)
{
	struct listen_state *state = userdata;

	(void)client;
	switch (event) {
	case CP_RECONNECT_LOST:
		fprintf(stderr, "crosspost listen: lost the broker (%s); reconnecting\n", cp_last_error_message());
		break;
	case CP_RECONNECT_WINDOW:
		if (error == 0) {
			fprintf(stderr, "crosspost listen: reconnected: window %llu %s\n",
				(unsigned long long)cp_window_id(window), cp_window_origin(window));
			break;
		}
		fprintf(stderr, "crosspost listen: cannot register the window again: %s: %s\n",
			cp_error_name(error), cp_last_error_message());
		state->failure = 1;
		break;
	case CP_RECONNECT_RESTORED:
		break;
	case CP_RECONNECT_GAVE_UP:
		/* Not with an unbounded reconnection; the next wait says why. */
		state->failure = 1;
		break;
	}
}

static bool listen_done(const struct listen_state *state)
{
	return state->failure || (state->expected >= 0 && state->received >= state->expected);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int cmd_listen(int argc, char **argv)
{
	static const struct option options[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "count", required_argument, NULL, 'c' },
		{ "timeout", required_argument, NULL, 't' },
		{ "ready-fd", required_argument, NULL, 'r' },
		{ "privileged", no_argument, NULL, 'p' },
		{ "origin", required_argument, NULL, 'O' },
		{ "format", required_argument, NULL, 'F' },
		{ "reconnect", no_argument, NULL, 'R' },
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct listen_state state = { .expected = -1 };
	const char *name = NULL, *socket_path = NULL;
	int64_t timeout_ms = -1, deadline = -1, ready_fd = -1;
	unsigned flags = 0;
	bool reconnect = false;
	char **origins;
	cp_client *client = NULL;
	cp_window *window = NULL;
	int opt, r, status = 1;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "n:c:t:r:ps:h", options, NULL)) != -1) {
		switch (opt) {
		case 'n': name = optarg; break;
		case 's': socket_path = optarg; break;
		case 'p': flags |= CP_WINDOW_PRIVILEGED; break;
		case 'R': reconnect = true; break;
		case 'F':
			if (cli_check_format("listen", optarg))
				goto usage_error;
			state.format = optarg;
			break;
		case 'O': {
			char *origin = cli_origin_arg(optarg);

			if (!origin) {
				fprintf(stderr, "crosspost listen: --origin needs an origin such as https://a.example "
					"or null, not '%s'\n", optarg);
				goto usage_error;
			}
			origins = realloc(state.origins, (state.n_origins + 1) * sizeof(*origins));
			if (!origins) {
				free(origin);
				fprintf(stderr, "crosspost listen: out of memory\n");
				goto out;
			}
			state.origins = origins;
			state.origins[state.n_origins++] = origin;
			break;
		}
		case 'c':
			state.expected = cli_parse_count(optarg, INT32_MAX);
			if (state.expected < 1) {
				fprintf(stderr, "crosspost listen: --count needs a positive number, not '%s'\n", optarg);
				goto usage_error;
			}
			break;
		case 't':
			timeout_ms = cli_parse_duration(optarg);
			if (timeout_ms < 0) {
				cli_print_bad_duration("listen", "--timeout", optarg);
				goto usage_error;
			}
			break;
		case 'r':
			ready_fd = cli_parse_count(optarg, INT32_MAX);
			if (ready_fd < 0) {
				fprintf(stderr, "crosspost listen: --ready-fd needs a file descriptor number, not '%s'\n", optarg);
				goto usage_error;
			}
			break;
		case 'h':
			usage(stdout);
			status = 0;
			goto out;
		default:
			usage(stderr);
			goto usage_error;
		}
	}
	if (argc - optind > 1) {
		fprintf(stderr, "crosspost listen: unexpected argument '%s' (after the URL)\n", argv[optind + 1]);
		goto usage_error;
	}
	if (argc - optind != 1) {
		fprintf(stderr, "crosspost listen: expected one URL\n");
		usage(stderr);
		goto usage_error;
	}
	if (cli_check_socket_option("listen", socket_path))
		goto usage_error;
	client = cli_connect("listen", socket_path);
	if (!client)
		goto out;
	if (reconnect) {
		cp_client_set_reconnect(client, true);
		cp_client_set_reconnect_callback(client, on_reconnect, &state);
	}
	r = cp_window_open_with_flags(client, argv[optind], name, flags, &window);
	if (r < 0) {
		cli_print_error("listen", r);
		goto out;
	}
	cp_window_set_callback(window, on_event, &state);
	signal(SIGINT, on_interrupt);
	signal(SIGTERM, on_interrupt);
	fprintf(stderr, "crosspost listen: ready: window %llu %s\n",
		(unsigned long long)cp_window_id(window), cp_window_origin(window));
	if (ready_fd >= 0) {
		if (write((int)ready_fd, "ready\n", 6) != 6) {
			fprintf(stderr, "crosspost listen: cannot write to --ready-fd %lld\n", (long long)ready_fd);
			goto out;
		}
		close((int)ready_fd);
	}
	if (timeout_ms >= 0)
		deadline = now_ms() + timeout_ms;
	while (!listen_done(&state) && !interrupted) {
		int wait_ms = -1;

		if (deadline >= 0) {
			wait_ms = (int)(deadline - now_ms());
			if (wait_ms <= 0)
				break;
		}
		/* Wake up now and then to notice signals promptly. */
		if (wait_ms < 0 || wait_ms > 200)
			wait_ms = 200;
		/* 0 when wait_ms passed: the deadline is checked above. */
		r = cp_client_wait(client, wait_ms);
		if (r < 0) {
			cli_print_error("listen", r);
			goto out;
		}
	}
	if (state.failure)
		goto out;
	/* Without --count, the timeout is how listening ends. */
	if (!interrupted && state.expected >= 0 && state.received < state.expected) {
		fprintf(stderr, "crosspost listen: timed out: %lld of %lld event%s arrived\n",
			(long long)state.received, (long long)state.expected, state.expected == 1 ? "" : "s");
		goto out;
	}
	status = 0;
	goto out;
usage_error:
	status = 2;
out:
	cp_client_free(client);
	for (size_t i = 0; i < state.n_origins; i++)
		free(state.origins[i]);
	free(state.origins);
	return status;
}
