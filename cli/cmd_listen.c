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
		"                        [--ready-fd FD] [--privileged] [--socket PATH]\n"
		"Opens a window whose document is at URL and prints each event it receives\n"
		"as one JSON line: {\"type\":\"message\",\"data\":...,\"origin\":\"...\",\n"
		"\"source\":{\"id\":N,\"name\":\"...\"}} (source is null for privileged senders).\n\n"
		"  --name NAME        the window's name (how `crosspost post --to` finds it)\n"
		"  --count N          exit 0 after N events (default: run until interrupted)\n"
		"  --timeout DURATION stop listening after DURATION (250ms, 2s, 1m: the unit is\n"
		"                     required).  Without --count that is the normal end (exit\n"
		"                     0); with --count N, exit 1 if fewer than N events came\n"
		"  --ready-fd FD      once registered, write \"ready\\n\" to FD and close it\n"
		"  --privileged       an extension-like window: its own posts carry source null\n\n"
		"Once the window is registered, a line \"crosspost listen: ready: window ID ORIGIN\"\n"
		"goes to stderr: a message posted after that line is never lost.\n");
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
};

static void on_event(cp_window *window, const cp_event *ev, void *userdata)
{
	struct listen_state *state = userdata;

	(void)window;
	if (state->expected >= 0 && state->received >= state->expected)
		return;
	if (cli_print_event(stdout, ev) < 0)
		state->failure = 1;
	state->received++;
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
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct listen_state state = { .expected = -1 };
	const char *name = NULL, *socket_path = NULL;
	int64_t timeout_ms = -1, deadline = -1, ready_fd = -1;
	unsigned flags = 0;
	cp_client *client = NULL;
	cp_window *window = NULL;
	int opt, r, status = 1;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "n:c:t:r:ps:h", options, NULL)) != -1) {
		switch (opt) {
		case 'n': name = optarg; break;
		case 's': socket_path = optarg; break;
		case 'p': flags |= CP_WINDOW_PRIVILEGED; break;
		case 'c':
			state.expected = cli_parse_count(optarg, INT32_MAX);
			if (state.expected < 1) {
				fprintf(stderr, "crosspost listen: --count needs a positive number, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 't':
			timeout_ms = cli_parse_duration(optarg);
			if (timeout_ms < 0) {
				cli_print_bad_duration("listen", "--timeout", optarg);
				return 2;
			}
			break;
		case 'r':
			ready_fd = cli_parse_count(optarg, INT32_MAX);
			if (ready_fd < 0) {
				fprintf(stderr, "crosspost listen: --ready-fd needs a file descriptor number, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind > 1) {
		fprintf(stderr, "crosspost listen: unexpected argument '%s' (after the URL)\n", argv[optind + 1]);
		return 2;
	}
	if (argc - optind != 1) {
		fprintf(stderr, "crosspost listen: expected one URL\n");
		usage(stderr);
		return 2;
	}
	if (cli_check_socket_option("listen", socket_path))
		return 2;
	client = cli_connect("listen", socket_path);
	if (!client)
		return 1;
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
out:
	cp_client_free(client);
	return status;
}
