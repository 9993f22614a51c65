/* SPDX-License-Identifier: MIT */
/* cmd_run.c - `crosspost run FILE...`: parses every scenario, then runs each against a broker, printing TAP. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "runner.h"
#include "crosspost.h"
#include "scenario.h"
#include "scenario_broker.h"
#include "scenario_browser.h"
#include "scenario_compare.h"
#include "scenario_junit.h"
#include "scenario_proc.h"
#include "scenario_run.h"
#include "scenario_tap.h"
#include "scenario_trace.h"

#define TRY_HELP "Try 'crosspost run --help'.\n"

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
	/* SIGALRM is --timeout's: the file stops with a failed point, the
	 * next one runs. */
	interrupted = sig == SIGALRM ? SCENARIO_TIMED_OUT : 1;
}

/* What `crosspost run` was asked, beyond the files. */
struct run_args {
	const char *socket_path;
	const char *broker_program;
	const char *self_exe;
	bool verbose;
	const char *filter;         /* --filter PATTERN, or NULL */
	int64_t timeout_ms;         /* --timeout, 0: none */
	struct scenario_tap *tap;
	struct scenario_junit *junit;
	const char *diagram;        /* --diagram FILE, or NULL */
	size_t file_count;          /* FILEs given (several: one diagram each) */
	/* --browser / --compare: the one Chromium of the run. */
	struct scenario_browser *browser;
	bool compare;
	struct scenario_compare *cmp;   /* --compare: the observations of both runs */
};

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: crosspost run [OPTIONS] FILE...\n"
		"Runs scenario scripts (docs/scenarios.md): one process per window, against\n"
		"a private broker started for each file on a socket in a temporary folder,\n"
		"or against the running broker at --socket PATH.  Prints TAP version 13,\n"
		"ending with the plan and a line \"# P passed, F failed\".\n"
		"\n"
		"  --socket PATH       use the broker already listening at PATH\n"
		"  --broker PATH       the crosspostd to start (default: $CROSSPOSTD, else the\n"
		"                      crosspostd next to this program, else from PATH)\n"
		"  --filter PATTERN    run one block (a \"## NAME\" comment line starts block NAME),\n"
		"                      or the statements up to the first test point whose name\n"
		"                      (FILE:LINE ALIAS VERB) contains PATTERN, reporting it alone\n"
		"  --timeout DURATION  stop a file that runs longer (e.g. 30s): a failed point\n"
		"  --junit FILE        also write the test points as JUnit XML to FILE\n"
		"  --browser chromium  run the files in headless Chromium instead: each window a\n"
		"                      page there, each post a real postMessage (what a browser\n"
		"                      cannot express is skipped, with the reason)\n"
		"  --compare chromium  run each file natively and in Chromium, and print where\n"
		"                      crosspost's observations differ from Chromium's\n"
		"  --known FILE        with --compare: the expected differences (FILE:LINE and a\n"
		"                      docs/differences.md section per line), reported, not failed\n"
		"  --diagram FILE.svg  also draw the run as a sequence diagram (SVG): a lifeline\n"
		"                      per window and port, an arrow per message, dropped ones\n"
		"                      stopping with the reason, failed expectations in red;\n"
		"                      with several FILEs, one per scenario: FILE-1.svg, ...\n"
		"  --verbose           print each statement and event as a TAP comment, the\n"
		"                      private broker's log on stderr, and with a failed\n"
		"                      expectation, why the broker dropped messages for it\n"
		"  --help              this text\n"
		"\n"
		"Exit status: 0 every expectation held, 1 some expectation failed,\n"
		"2 a script error (or bad arguments, or no broker, or nothing --filter matches).\n");
}

/* Catches SIGINT/SIGTERM/SIGHUP without SA_RESTART, so that a wait in
 * poll() returns and the run stops through its normal cleanup. */
static void install_signal_handlers(void)
{
	struct sigaction sa = { .sa_handler = on_signal };
	const int signals[] = { SIGINT, SIGTERM, SIGHUP, SIGALRM };

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

/* The name of the test point a statement makes (scenario_run.c's
 * point(): "FILE:LINE ALIAS VERB", "... expect error NAME"); NULL for a
 * statement that makes none. */
static char *point_name(const struct scenario *s, const struct scenario_statement *st)
{
	char *name = NULL;
	int r;

	switch (st->verb) {
	case SCENARIO_EXPECT_MESSAGE: case SCENARIO_EXPECT_MESSAGEERROR: case SCENARIO_EXPECT_NOTHING:
	case SCENARIO_EXPECT_DETACHED: case SCENARIO_EXPECT_CLOSED: case SCENARIO_EXPECT_OPEN:
		r = asprintf(&name, "%s:%u %s %s", s->file, st->line, st->actor, scenario_verb_name(st->verb));
		break;
	case SCENARIO_EXPECT_ERROR:
		r = asprintf(&name, "%s:%u %s expect error %s", s->file, st->line, st->actor, st->error_name);
		break;
	default:
		return NULL;
	}
	return r < 0 ? NULL : name;
}

/* --filter PATTERN for one file: a block named PATTERN (*ret_block), or
 * the first test point whose name contains it (*ret_line).  false when
 * nothing in the file matches. */
static bool select_filter(const struct scenario *s, const char *filter, int *ret_block, unsigned *ret_line)
{
	*ret_block = -1;
	*ret_line = 0;
	if (!filter)
		return true;
	for (size_t i = 0; i < s->block_count; i++)
		if (strcmp(s->blocks[i], filter) == 0) {
			*ret_block = (int)i;
			return true;
		}
	for (size_t i = 0; i < s->count; i++) {
		char *name = point_name(s, &s->statements[i]);
		bool match = name && strstr(name, filter);

		free(name);
		if (match) {
			*ret_line = s->statements[i].line;
			return true;
		}
	}
	return false;
}

/* --timeout: SIGALRM after ms (0: none, or disarm). */
static void arm_timeout(int64_t ms)
{
	struct itimerval it = { 0 };

	it.it_value.tv_sec = (time_t)(ms / 1000);
	it.it_value.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	setitimer(ITIMER_REAL, &it, NULL);
}

/* Where --diagram PATH draws the index-th (from 1) of count files: PATH
 * itself for one file, else PATH with "-INDEX" before its ".svg" (or at
 * its end).  NULL when out of memory. */
static char *diagram_path(const char *path, size_t index, size_t count)
{
	size_t len = strlen(path), stem = len;
	char *out = NULL;

	if (count == 1)
		return strdup(path);
	if (len > 4 && strcasecmp(path + len - 4, ".svg") == 0)
		stem = len - 4;
	if (asprintf(&out, "%.*s-%zu%s", (int)stem, path, index, path + stem) < 0)
		return NULL;
	return out;
}

/* --diagram: the run of s, drawn into its file; the outcome gets worse
 * when it cannot be written. */
static enum scenario_outcome write_diagram(const struct scenario *s, const struct run_args *args, size_t index,
					   const struct scenario_trace *trace, enum scenario_outcome outcome)
{
	char *path = diagram_path(args->diagram, index, args->file_count);
	int r = path ? scenario_trace_write(trace, path) : -ENOMEM;

	if (r < 0) {
		fprintf(stderr, "crosspost run: %s: cannot write the diagram %s: %s\n", s->file,
			path ? path : args->diagram, strerror(-r));
		outcome = SCENARIO_SCRIPT_ERROR;
	} else {
		tap_comment(args->tap, "diagram: %s", path);
	}
	free(path);
	return outcome;
}

/* Runs one file (the index-th, from 1) in the browser (in_browser) or
 * against the broker at socket_path, or a private one; tap gets its
 * points. */
static enum scenario_outcome run_file_in(const struct scenario *s, const struct run_args *args, size_t index,
					 bool in_browser, struct scenario_tap *tap)
{
	struct scenario_broker *broker = NULL;
	struct scenario_run_options opt = {
		.self_exe = args->self_exe, .socket_path = args->socket_path, .verbose = args->verbose,
		.tap = tap, .interrupted = &interrupted, .timeout_ms = args->timeout_ms,
	};
	enum scenario_outcome outcome;
	struct scenario_trace *trace = NULL;
	int64_t started = proc_now_ms();
	char err[2048];

	if (!select_filter(s, args->filter, &opt.only_block, &opt.select_line)) {
		tap_comment(args->tap, "%s: nothing matches --filter %s", s->file, args->filter);
		return SCENARIO_PASSED;
	}
	tap_comment(tap, "%s%s", s->file, in_browser ? " (in Chromium)" : "");
	if (args->junit && tap == args->tap)
		junit_begin_file(args->junit, s->file);
	if (args->diagram && scenario_trace_new(s->file, &trace) < 0) {
		fprintf(stderr, "crosspost run: out of memory\n");
		outcome = SCENARIO_SCRIPT_ERROR;
		goto out;
	}
	opt.trace = trace;
	if (args->timeout_ms)
		arm_timeout(args->timeout_ms);
	if (args->cmp)
		scenario_compare_options(args->cmp, in_browser, &opt);
	if (in_browser) {
		opt.browser = args->browser;
		if (scenario_browser_begin(args->browser, err, sizeof(err)) < 0) {
			fprintf(stderr, "crosspost run: %s: Chromium: %s\n", s->file, err);
			outcome = SCENARIO_SCRIPT_ERROR;
			goto out;
		}
		outcome = scenario_run(s, &opt);
		if (scenario_browser_end(args->browser) < 0 && outcome < SCENARIO_SCRIPT_ERROR) {
			fprintf(stderr, "crosspost run: %s: Chromium did not close the file's pages\n", s->file);
			outcome = SCENARIO_SCRIPT_ERROR;
		}
		goto out;
	}
	if (!args->socket_path) {
		if (scenario_broker_start(args->broker_program, args->verbose, &broker, err, sizeof(err)) < 0) {
			fprintf(stderr, "crosspost run: %s: cannot start a broker: %s\n", s->file, err);
			outcome = SCENARIO_SCRIPT_ERROR;
			goto out;
		}
		opt.socket_path = scenario_broker_socket(broker);
		opt.broker = broker;
		opt.broker_program = args->broker_program;
	}
	outcome = scenario_run(s, &opt);
	/* A run that failed is drawn too: that is when the picture helps. */
	if (trace)
		outcome = write_diagram(s, args, index, trace, outcome);
	if (broker && scenario_broker_stop(broker, err, sizeof(err)) < 0) {
		/* The broker is part of what is tested: a crash or a sanitizer
		 * report at exit fails the run. */
		fprintf(stderr, "crosspost run: %s: %s\n", s->file, err);
		tap_point(tap, false, "crosspostd exits cleanly", NULL);
		if (outcome < SCENARIO_FAILED)
			outcome = SCENARIO_FAILED;
	}
out:
	scenario_trace_free(trace);
	if (args->timeout_ms)
		arm_timeout(0);
	/* A timeout ends this file only. */
	if (interrupted == SCENARIO_TIMED_OUT)
		interrupted = 0;
	if (args->junit && tap == args->tap)
		junit_end_file(args->junit, proc_now_ms() - started, outcome == SCENARIO_SCRIPT_ERROR);
	return outcome;
}

/* One file as asked: natively, in the browser, or both, compared. */
static enum scenario_outcome run_file(const struct scenario *s, const struct run_args *args, size_t index)
{
	enum scenario_outcome native, browser;
	struct scenario_tap quiet;
	FILE *null_out, *native_obs;
	pid_t child;
	int status = 0;

	if (!args->compare)
		return run_file_in(s, args, index, args->browser != NULL, args->tap);
	/* --compare: both runs' own points are not printed; their
	 * observations are, side by side.  The native run goes on in a child
	 * process while this one drives Chromium: they share nothing. */
	null_out = fopen("/dev/null", "w");
	native_obs = tmpfile();
	if (!null_out || !native_obs) {
		if (null_out)
			fclose(null_out);
		if (native_obs)
			fclose(native_obs);
		return SCENARIO_SCRIPT_ERROR;
	}
	tap_init(&quiet, null_out);
	scenario_compare_begin(args->cmp, s->file);
	fflush(NULL);
	child = fork();
	if (child == 0) {
		struct run_args mine = *args;

		mine.browser = NULL;
		mine.junit = NULL;
		native = run_file_in(s, &mine, index, false, &quiet);
		scenario_compare_write_native(args->cmp, native_obs);
		_exit((int)native);
	}
	browser = child < 0 || interrupted ? SCENARIO_SCRIPT_ERROR : run_file_in(s, args, index, true, &quiet);
	native = SCENARIO_SCRIPT_ERROR;
	while (child > 0 && waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	if (child > 0 && WIFEXITED(status))
		native = (enum scenario_outcome)WEXITSTATUS(status);
	rewind(native_obs);
	scenario_compare_read_native(args->cmp, native_obs);
	fclose(native_obs);
	fclose(null_out);
	if (native == SCENARIO_SCRIPT_ERROR || browser == SCENARIO_SCRIPT_ERROR)
		return SCENARIO_SCRIPT_ERROR;
	return scenario_compare_report(args->cmp, args->tap) ? SCENARIO_FAILED : SCENARIO_PASSED;
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
		{ "filter", required_argument, NULL, 'f' },
		{ "timeout", required_argument, NULL, 't' },
		{ "junit", required_argument, NULL, 'j' },
		{ "diagram", required_argument, NULL, 'd' },
		{ "browser", required_argument, NULL, 'B' },
		{ "compare", required_argument, NULL, 'C' },
		{ "known", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *socket_path = NULL, *broker_arg = NULL, *junit_path = NULL, *known_path = NULL;
	const char *browser_name = NULL, *chromium = NULL;
	char err[512];
	struct scenario **scripts = NULL;
	enum scenario_outcome outcome = SCENARIO_PASSED;
	char self_exe[PATH_MAX], *broker_program = NULL;
	struct scenario_junit *junit = NULL;
	struct scenario_tap tap;
	struct run_args args = { 0 };
	size_t nfiles = 0, matched = 0;
	ssize_t n;
	int opt, status = 2, r;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+:", longopts, NULL)) != -1) {
		switch (opt) {
		case 's': socket_path = optarg; break;
		case 'b': broker_arg = optarg; break;
		case 'v': args.verbose = true; break;
		case 'f':
			if (!*optarg) {
				fprintf(stderr, "crosspost run: --filter needs a PATTERN\n%s", TRY_HELP);
				return 2;
			}
			args.filter = optarg;
			break;
		case 't':
			if (scenario_parse_duration(optarg, &args.timeout_ms) < 0 || args.timeout_ms == 0) {
				fprintf(stderr, "crosspost run: --timeout needs a duration like 30s or 500ms (at most "
					"3600s), not '%s'\n%s", optarg, TRY_HELP);
				return 2;
			}
			break;
		case 'j': junit_path = optarg; break;
		case 'd':
			if (!*optarg) {
				fprintf(stderr, "crosspost run: --diagram needs a FILE to write\n%s", TRY_HELP);
				return 2;
			}
			args.diagram = optarg;
			break;
		case 'B':
		case 'C':
			if (strcmp(optarg, "chromium") != 0) {
				fprintf(stderr, "crosspost run: %s: the only browser is 'chromium', not '%s'\n%s",
					opt == 'B' ? "--browser" : "--compare", optarg, TRY_HELP);
				return 2;
			}
			if (browser_name) {
				fprintf(stderr, "crosspost run: --browser and --compare go alone\n%s", TRY_HELP);
				return 2;
			}
			browser_name = optarg;
			args.compare = opt == 'C';
			break;
		case 'k': known_path = optarg; break;
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
	if (known_path && !args.compare) {
		fprintf(stderr, "crosspost run: --known goes with --compare\n%s", TRY_HELP);
		return 2;
	}
	if (browser_name && (socket_path || args.diagram)) {
		fprintf(stderr, "crosspost run: --browser and --compare run without a shared broker: not with %s\n%s",
			socket_path ? "--socket" : "--diagram", TRY_HELP);
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
	/* A --filter that selects nothing anywhere is a mistake, said before
	 * anything starts. */
	for (size_t i = 0; args.filter && i < nfiles; i++) {
		int block;
		unsigned line;

		matched += select_filter(scripts[i], args.filter, &block, &line);
	}
	if (args.filter && matched == 0) {
		fprintf(stderr, "crosspost run: --filter %s: no block of that name, and no test point whose name "
			"contains it, in any FILE\n", args.filter);
		goto out;
	}
	if (junit_path && junit_new(&junit) < 0) {
		fprintf(stderr, "crosspost run: out of memory\n");
		goto out;
	}
	if (socket_path && check_broker(socket_path) < 0)
		goto out;
	if (args.compare && scenario_compare_new(known_path, &args.cmp, err, sizeof(err)) < 0) {
		fprintf(stderr, "crosspost run: --known %s: %s\n", known_path, err);
		goto out;
	}
	if (browser_name) {
		chromium = scenario_browser_find();
		if (!chromium) {
			fprintf(stderr, "crosspost run: --%s chromium: no Chromium (install the Debian package "
				"'chromium', e.g. with scripts/install-browser-deps.sh, or set CROSSPOST_CHROMIUM)\n",
				args.compare ? "compare" : "browser");
			goto out;
		}
		if (scenario_browser_start(self_exe, chromium, &args.browser, err, sizeof(err)) < 0) {
			fprintf(stderr, "crosspost run: cannot start Chromium (%s): %s\n", chromium, err);
			goto out;
		}
	}
	install_signal_handlers();
	setvbuf(stdout, NULL, _IOLBF, 0);
	tap_init(&tap, stdout);
	if (junit) {
		tap.on_point = junit_point;
		tap.on_point_data = junit;
	}
	args.socket_path = socket_path;
	args.broker_program = broker_program;
	args.self_exe = self_exe;
	args.tap = &tap;
	args.junit = junit;
	args.file_count = nfiles;
	for (size_t i = 0; i < nfiles && !interrupted; i++) {
		enum scenario_outcome o = run_file(scripts[i], &args, i + 1);

		if (o > outcome)
			outcome = o;
	}
	if (interrupted && outcome < SCENARIO_SCRIPT_ERROR)
		outcome = SCENARIO_SCRIPT_ERROR;
	if (args.cmp)
		scenario_compare_summary(args.cmp, &tap);
	tap_plan(&tap);
	status = (int)outcome;
	if (junit && (r = junit_write(junit, junit_path)) < 0) {
		fprintf(stderr, "crosspost run: cannot write %s: %s\n", junit_path, strerror(-r));
		if (status < 2)
			status = 2;
	}
out:
	scenario_browser_free(args.browser);
	scenario_compare_free(args.cmp);
	junit_free(junit);
	for (size_t i = 0; scripts && i < nfiles; i++)
		scenario_free(scripts[i]);
	free(scripts);
	free(broker_program);
	return status;
}
