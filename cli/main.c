/* SPDX-License-Identifier: MIT */
/* main.c - the crosspost command: dispatches to one subcommand. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "crosspost.h"
#include "runner.h"

/* `crosspost version` and `crosspost --version`: the library's version,
 * which is the CLI's (both come from client/crosspost.h). */
static int cmd_version(int argc, char **argv)
{
	(void)argv;
	if (argc > 1) {
		fprintf(stderr, "crosspost version: unexpected argument '%s'\n", argv[1]);
		return 2;
	}
	printf("crosspost %s\n", cp_version());
	return fflush(stdout) == 0 ? 0 : 1;
}

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{ "listen", cmd_listen, "open a window and print the events it receives as JSON lines" },
	{ "post", cmd_post, "open a window and post one message to a named window" },
	{ "list", cmd_list, "list the broker's live windows" },
	{ "monitor", cmd_monitor, "print every message the broker routes (and drops, with why)" },
	{ "stats", cmd_stats, "print the broker's counters, in total and per window" },
	{ "run", cmd_run, "run scenario files against a broker (TAP output)" },
	{ "origin", cmd_origin, "print the origin of a URL, as the URL Standard computes it" },
	{ "gateway", cmd_gateway, "let browser pages join the broker as windows (WebSocket)" },
	{ "version", cmd_version, "print the version (also: crosspost --version)" },
	{ "agent", cmd_agent, NULL },   /* internal: one window of `run` */
	{ "browser-host", cmd_browser_host, NULL },   /* internal: the Chromium of `run --browser` */
};

static void usage(FILE *out)
{
	fprintf(out, "Usage: crosspost COMMAND [OPTIONS] [ARGS]\n"
		     "window.postMessage between processes, through the crosspostd broker.\n\n"
		     "Commands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (commands[i].summary)
			fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\nEvery command takes --socket PATH (default: $CROSSPOST_SOCKET, else\n"
		     "$XDG_RUNTIME_DIR/crosspost/broker.sock, else /tmp/crosspost-$UID/broker.sock;\n"
		     "an empty variable counts as unset, an empty PATH is an error) and --help.\n"
		     "Run `crosspost COMMAND --help` for details.\n");
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0)
		return cmd_version(argc - 1, argv + 1);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "crosspost: unknown command '%s'\n\n", argv[1]);
	usage(stderr);
	return 2;
}
