/* SPDX-License-Identifier: MIT */
/* cmd_run.c - `crosspost run FILE...`: parses every scenario, then runs each against a broker, printing TAP. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "runner.h"
#include "crosspost.h"
#include "scenario.h"
#include "scenario_broker.h"
#include "scenario_run.h"
#include "scenario_tap.h"

#define TRY_HELP "Try 'crosspost run --help'.\n"

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: crosspost run [--socket PATH] [--broker PATH] [--verbose] FILE...\n"
		"Runs scenario scripts (docs/scenarios.md): one process per window, against\n"
		"a private broker started for each file on a socket in a temporary folder,\n"
		"or against the running broker at --socket PATH.  Prints TAP version 13.\n"
		"\n"
		"  --socket PATH   use the broker already listening at PATH\n"
		"  --broker PATH   the crosspostd to start (default: $CROSSPOSTD, else the\n"
		"                  crosspostd next to this program, else from PATH)\n"
		"  --verbose       print each statement and event as a TAP comment, and\n"
		"                  the private broker's log on stderr\n"
		"  --help          this text\n"
		"\n"
		"Exit status: 0 every expectation held, 1 some expectation failed,\n"
		"2 a script error (or bad arguments, or no broker).\n");
}

/* Catches SIGINT/SIGTERM/SIGHUP without SA_RESTART, so that a wait in
 * poll() returns and the run stops through its normal cleanup. */
static void install_signal_handlers(void)
{
	struct sigaction sa = { .sa_handler = on_signal };
	const int signals[] = { SIGINT, SIGTERM, SIGHUP };

	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
		sigaction(signals[i], &sa, NULL);
}

/* Parses every file before anything starts; prints every file's first
 * problem.  Returns the number of files that failed. */
static size_t load_all(char **files, size_t n, bool external_broker, struct scenario **out)
{
	size_t bad = 0;

	for (size_t i = 0; i < n; i++) {
		struct scenario_error err;
		char msg[600];
		int r = scenario_load(files[i], &err, &out[i]);

		if (r == 0)
			r = scenario_check_supported(out[i], external_broker, msg, sizeof(msg));
		else if (err.line)
			snprintf(msg, sizeof(msg), "%s:%u: %s", files[i], err.line, err.message);
		else
			snprintf(msg, sizeof(msg), "%s: %s", files[i], err.message);
		if (r < 0) {
			fprintf(stderr, "crosspost run: %s\n", msg);
			bad++;
		}
	}
	return bad;
}

/* Runs one file against the broker at socket_path, or a private one. */
static enum scenario_outcome run_file(const struct scenario *s, const char *socket_path,
				      const char *broker_program, const char *self_exe, bool verbose,
				      struct scenario_tap *tap)
{
	struct scenario_broker *broker = NULL;
	struct scenario_run_options opt = {
		.self_exe = self_exe, .socket_path = socket_path, .verbose = verbose, .tap = tap,
		.interrupted = &interrupted,
	};
	enum scenario_outcome outcome;
	char err[2048];

	tap_comment(tap, "%s", s->file);
	if (!socket_path) {
		if (scenario_broker_start(broker_program, verbose, &broker, err, sizeof(err)) < 0) {
			fprintf(stderr, "crosspost run: %s: cannot start a broker: %s\n", s->file, err);
			return SCENARIO_SCRIPT_ERROR;
		}
		opt.socket_path = scenario_broker_socket(broker);
		opt.broker = broker;
		opt.broker_program = broker_program;
	}
	outcome = scenario_run(s, &opt);
	if (broker && scenario_broker_stop(broker, err, sizeof(err)) < 0) {
		/* The broker is part of what is tested: a crash or a sanitizer
		 * report at exit fails the run. */
		fprintf(stderr, "crosspost run: %s: %s\n", s->file, err);
		tap_point(tap, false, "crosspostd exits cleanly", NULL);
		if (outcome < SCENARIO_FAILED)
			outcome = SCENARIO_FAILED;
	}
	return outcome;
}

/* The running broker at --socket must answer before anything starts. */
static int check_broker(const char *socket_path)
{
	cp_client *client = NULL;
	int r = cp_client_new(socket_path, &client);

	/* The library's message names the path already. */
	if (r < 0) {
		fprintf(stderr, "crosspost run: %s: %s\n", cp_error_name(r), cp_last_error_message());
		return -1;
	}
	cp_client_free(client);
	return 0;
}

int cmd_run(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "broker", required_argument, NULL, 'b' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *socket_path = NULL, *broker_arg = NULL;
	struct scenario **scripts = NULL;
	enum scenario_outcome outcome = SCENARIO_PASSED;
	char self_exe[PATH_MAX], *broker_program = NULL;
	struct scenario_tap tap;
	bool verbose = false;
	size_t nfiles = 0;
	ssize_t n;
	int opt, status = 2;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+:", longopts, NULL)) != -1) {
		switch (opt) {
		case 's': socket_path = optarg; break;
		case 'b': broker_arg = optarg; break;
		case 'v': verbose = true; break;
		case 'h': usage(stdout); return 0;
		case ':':
			fprintf(stderr, "crosspost run: %s needs a value\n%s", argv[optind - 1], TRY_HELP);
			return 2;
		default:
			fprintf(stderr, "crosspost run: unknown option '%s'\n%s", argv[optind - 1], TRY_HELP);
			return 2;
		}
	}
	/* An empty path would be an abstract socket of NUL bytes. */
	if (socket_path && !*socket_path) {
		fprintf(stderr, "crosspost run: --socket needs a path, not an empty string\n%s", TRY_HELP);
		return 2;
	}
	nfiles = (size_t)(argc - optind);
	if (nfiles == 0) {
		fprintf(stderr, "crosspost run: no scenario FILE given\n%s", TRY_HELP);
		return 2;
	}
	n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	if (n <= 0) {
		fprintf(stderr, "crosspost run: cannot find this program (/proc/self/exe): %s\n", strerror(errno));
		return 2;
	}
	self_exe[n] = '\0';
	scripts = calloc(nfiles, sizeof(*scripts));
	broker_program = scenario_broker_find(broker_arg);
	if (!scripts || !broker_program) {
		fprintf(stderr, "crosspost run: out of memory\n");
		goto out;
	}
	/* Syntax errors are reported before any process starts. */
	if (load_all(argv + optind, nfiles, socket_path != NULL, scripts) > 0)
		goto out;
	if (socket_path && check_broker(socket_path) < 0)
		goto out;
	install_signal_handlers();
	setvbuf(stdout, NULL, _IOLBF, 0);
	tap_init(&tap, stdout);
	for (size_t i = 0; i < nfiles && !interrupted; i++) {
		enum scenario_outcome o = run_file(scripts[i], socket_path, broker_program, self_exe, verbose, &tap);

		if (o > outcome)
			outcome = o;
	}
	if (interrupted && outcome < SCENARIO_SCRIPT_ERROR)
		outcome = SCENARIO_SCRIPT_ERROR;
	tap_plan(&tap);
	status = (int)outcome;
out:
	for (size_t i = 0; scripts && i < nfiles; i++)
		scenario_free(scripts[i]);
	free(scripts);
	free(broker_program);
	return status;
}
