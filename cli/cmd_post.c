/* SPDX-License-Identifier: MIT */
/* cmd_post.c - `crosspost post`: one window posts messages (an argument, a
 * file, or standard input a line at a time) and may wait for replies. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "commands.h"
#include "origin.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: crosspost post URL (--to NAME | --to-id ID) [--target-origin ORIGIN (default: /)]\n"
		"                      [--name NAME] [--string] [--reply-count N [--timeout DURATION]\n"
		"                      [--format FMT]] [--socket PATH] (DATA | -f FILE | -l)\n"
		"Opens a window whose document is at URL and calls\n"
		"target.postMessage(DATA, ORIGIN) from it.  DATA is JSON, with the tagged forms\n"
		"of docs/values.md for other structured-clone types ({\"$bigint\":\"1\"}, ...).\n\n"
		"  --to NAME              the target window, by name\n"
		"  --to-id ID             the target window, by id (see `crosspost list`)\n"
		"  --target-origin ORIGIN \"*\" (any origin), \"/\" (the origin of URL, the\n"
		"                         sender's own) or a URL whose origin the target must\n"
		"                         have.  The default is \"/\", as in the HTML Standard:\n"
		"                         a window of another origin does not get the message\n"
		"  --name NAME            a name for the sending window\n\n"
		"Where the data comes from (one of them; all messages go from one window, in order):\n"
		"  DATA                   the argument: one message\n"
		"  -f, --file FILE        the whole file: one message (\"-\": all of standard input;\n"
		"                         mosquitto_pub's -s, which is --socket here)\n"
		"  -l, --lines            standard input, one message per line, each posted as\n"
		"                         soon as its line is read; empty lines are skipped.  A\n"
		"                         line that is not JSON stops there (exit 1)\n"
		"  --string               the data is a string, not JSON: DATA, the file's bytes\n"
		"                         or each line as it is (UTF-8)\n\n"
		"Replies (so that a script can be one side of a request and response):\n"
		"  --reply-count N        after posting, stay open and print the first N events\n"
		"                         the window receives (from any sender: a reply is posted\n"
		"                         to event.source), as JSON lines like `crosspost listen`\n"
		"  --timeout DURATION     with --reply-count: stop waiting DURATION after the last\n"
		"                         message was posted (250ms, 2s, 1m); default: no limit\n"
		"  --format FMT           with --reply-count: print each reply as FMT, with a\n"
		"                         newline, as `crosspost listen --format` does:\n"
		CLI_FORMAT_HELP "\n"
		"A message whose targetOrigin does not match the target's origin is dropped by\n"
		"the broker without telling the sender, as in a browser.  When the target's\n"
		"current origin already shows that it cannot match (\"/\" or the given ORIGIN),\n"
		"post still posts, and prints a warning on stderr: the target would have to\n"
		"navigate before the message arrives for it to be delivered.\n\n"
		"Exit status: 0 posted (a targetOrigin mismatch is not an error) and, with\n"
		"--reply-count N, N replies printed; 1 SyntaxError, NotFoundError, RangeError,\n"
		"a line that is not JSON, fewer replies than N by the timeout (\"timed out: K of\n"
		"N replies arrived\") or another failure (name and message on stderr); 2 bad usage.\n");
}

/* The serialized origin a target must have for target_origin to match it
 * (sender_origin for "/"), malloc'd; NULL when any origin matches ("*")
 * or target_origin does not parse (the post fails with SyntaxError). */
static char *required_origin(const char *target_origin, const char *sender_origin)
{
	Origin *origin = NULL;
	char *text;

	if (strcmp(target_origin, "*") == 0)
		return NULL;
	if (strcmp(target_origin, "/") == 0)
		return strdup(sender_origin);
	if (origin_from_url(target_origin, strlen(target_origin), NULL, 0, &origin, NULL) < 0)
		return NULL;
	text = strdup(origin_serialization(origin));
	origin_free(origin);
	return text;
}

/* The current origin of window id, from the broker's list (malloc'd), or
 * NULL when it cannot be had: the warning it serves is best effort. */
static char *origin_of_window(cp_client *client, uint64_t id)
{
	cp_window_info *infos = NULL;
	char *origin = NULL;
	size_t n = 0;

	if (cp_client_list_windows(client, &infos, &n) < 0)
		return NULL;
	for (size_t i = 0; i < n && !origin; i++)
		if (infos[i].id == id)
			origin = strdup(infos[i].origin);
	cp_window_info_free(infos, n);
	return origin;
}

/* The broker drops a message silently when targetOrigin does not match the
 * target's origin, as a browser does; a command line user posting with
 * the default "/" to a window of another origin would never know.  So
 * when the target's origin as of now cannot match, say so (the target
 * could still navigate to a matching origin before the message arrives). */
static void warn_if_dropped(const char *target_origin, bool is_default, const cp_window *from,
			    uint64_t target, const char *target_label, const char *target_now)
{
	char *required = NULL;
	bool to_self = target == cp_window_id(from), opaque;

	if (!target_now)
		return;
	required = required_origin(target_origin, cp_window_origin(from));
	if (!required)
		return;
	/* An opaque origin is same origin only with itself: "/" of an opaque
	 * sender matches the sender's own window only, and the opaque origin
	 * of a targetOrigin such as "data:," matches nothing. */
	opaque = strcmp(required, "null") == 0;
	if (opaque ? to_self && strcmp(target_origin, "/") == 0 : strcmp(required, target_now) == 0)
		goto out;
	if (strcmp(target_origin, "/") != 0)
		fprintf(stderr, "crosspost post: warning: targetOrigin '%s' does not match window %s's origin %s: "
			"the message will be dropped\n", target_origin, target_label, target_now);
	else if (opaque)
		fprintf(stderr, "crosspost post: warning: the %stargetOrigin \"/\" is this window's own opaque "
			"origin, which window %s does not have: the message will be dropped%s\n",
			is_default ? "default " : "", target_label, is_default ? " (pass --target-origin)" : "");
	else
		fprintf(stderr, "crosspost post: warning: the %stargetOrigin \"/\" is %s, but window %s is %s: "
			"the message will be dropped%s\n", is_default ? "default " : "", required, target_label,
			target_now, is_default ? " (pass --target-origin)" : "");
out:
	free(required);
}

/* What one run of post does, shared by the posting and the replies. */
struct post_run {
	cp_client *client;
	cp_window *window;
	uint64_t target;
	const char *target_origin;
	bool as_string;            /* --string */
	int64_t posted;
	int64_t expected;          /* --reply-count, or 0 */
	int64_t received;
	const char *format;        /* --format, or NULL: JSON */
	int failure;
};

static void on_reply(cp_window *window, const cp_event *ev, void *userdata)
{
	struct post_run *run = userdata;
	int r;

	(void)window;
	/* Events past N (or without --reply-count) are not printed. */
	if (run->received >= run->expected)
		return;
	r = run->format ? cli_print_event_format(stdout, ev, run->format) : cli_print_event(stdout, ev);
	if (r < 0)
		run->failure = 1;
	run->received++;
}

/* The data of one message from text (len bytes): JSON, or the text itself
 * as a string with --string.  Prints why not, naming where (e.g. "DATA",
 * "line 3 of standard input"), and returns -1. */
static int make_value(const struct post_run *run, const char *text, size_t len, const char *where,
		      cp_value **ret)
{
	int r;

	if (run->as_string) {
		r = cp_value_new_string_len(text, len, ret);
		if (r < 0)
			fprintf(stderr, "crosspost post: %s is not UTF-8 text\n", where);
		return r < 0 ? -1 : 0;
	}
	r = cp_value_from_json(text, len, NULL, ret);
	if (r < 0)
		fprintf(stderr, "crosspost post: %s is not valid JSON: %s\n", where, cp_last_error_message());
	return r < 0 ? -1 : 0;
}

/* Posts one message; prints the error and returns -1 on failure. */
static int post_one(struct post_run *run, const cp_value *data)
{
	int r = cp_post_message(run->window, run->target, data, run->target_origin);

	if (r < 0) {
		cli_print_error("post", r);
		return -1;
	}
	run->posted++;
	return 0;
}

/* All of fd, into *ret (malloc'd, NUL-terminated), *ret_len bytes. */
static int read_all(int fd, char **ret, size_t *ret_len)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (cap - len < 2) {
			char *grown = realloc(buf, cap * 2);

			if (!grown) {
				free(buf);
				return -ENOMEM;
			}
			buf = grown;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = errno;

			free(buf);
			return -err;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*ret = buf;
	*ret_len = len;
	return 0;
}

/* -f FILE (or "-"): the whole of it, one message, read before anything
 * connects (a missing file is not the broker's business).  Prints why not
 * and returns -1. */
static int load_file(const struct post_run *run, const char *path, cp_value **ret)
{
	bool is_stdin = strcmp(path, "-") == 0;
	char *text = NULL;
	size_t len = 0;
	int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC), r;

	if (fd < 0) {
		fprintf(stderr, "crosspost post: cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	r = read_all(fd, &text, &len);
	if (!is_stdin)
		close(fd);
	if (r < 0) {
		fprintf(stderr, "crosspost post: cannot read %s: %s\n", is_stdin ? "standard input" : path,
			strerror(-r));
		return -1;
	}
	r = make_value(run, text, len, is_stdin ? "standard input" : "the file", ret);
	free(text);
	return r;
}

/* One line of -l (without its newline, nor a \r before it). */
static int post_line(struct post_run *run, char *line, size_t len, int64_t line_no)
{
	cp_value *data = NULL;
	char where[64];
	int r;

	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (len == 0)
		return 0;               /* empty lines are not messages (mosquitto_pub -l) */
	snprintf(where, sizeof(where), "line %lld of standard input", (long long)line_no);
	if (make_value(run, line, len, where, &data) < 0) {
		fprintf(stderr, "crosspost post: stopped there: %lld message%s posted before it\n",
			(long long)run->posted, run->posted == 1 ? " was" : "s were");
		return -1;
	}
	r = post_one(run, data);
	cp_value_free(data);
	return r;
}

/* -l: each line of standard input is posted as soon as it is read, while
 * replies that arrive meanwhile are printed. */
static int post_lines(struct post_run *run)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	int64_t line_no = 0;
	bool eof = false;
	int r = 0;

	if (!buf) {
		fprintf(stderr, "crosspost post: out of memory\n");
		return -1;
	}
	while (!eof && r == 0) {
		struct pollfd pfd[2] = {
			{ .fd = STDIN_FILENO, .events = POLLIN },
			{ .fd = cp_client_fd(run->client), .events = POLLIN },
		};
		bool pending = cp_client_has_pending(run->client);
		size_t start = 0;

		/* With work pending, a look at standard input without waiting:
		 * neither side starves the other. */
		if (poll(pfd, 2, pending ? 0 : -1) < 0 && errno != EINTR) {
			fprintf(stderr, "crosspost post: poll: %s\n", strerror(errno));
			r = -1;
			break;
		}
		if (pending)
			pfd[1].revents |= POLLIN;
		if (pfd[1].revents) {
			int d = cp_client_dispatch(run->client);

			if (d < 0) {
				cli_print_error("post", d);
				r = -1;
				break;
			}
		}
		if (!(pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		if (cap - len < 4096) {
			char *grown = realloc(buf, cap * 2);

			if (!grown) {
				fprintf(stderr, "crosspost post: out of memory\n");
				r = -1;
				break;
			}
			buf = grown;
			cap *= 2;
		}
		{
			ssize_t n = read(STDIN_FILENO, buf + len, cap - len);

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				fprintf(stderr, "crosspost post: cannot read standard input: %s\n", strerror(errno));
				r = -1;
				break;
			}
			eof = n == 0;
			len += (size_t)n;
		}
		/* Every whole line; at the end, a last line without a newline. */
		for (size_t i = 0; i < len && r == 0; i++) {
			if (buf[i] != '\n')
				continue;
			r = post_line(run, buf + start, i - start, ++line_no);
			start = i + 1;
		}
		if (r == 0 && eof && start < len) {
			r = post_line(run, buf + start, len - start, ++line_no);
			start = len;
		}
		memmove(buf, buf + start, len - start);
		len -= start;
	}
	free(buf);
	return r;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --reply-count: until N replies were printed, or the timeout. */
static int wait_for_replies(struct post_run *run, int64_t timeout_ms)
{
	int64_t deadline = timeout_ms >= 0 ? now_ms() + timeout_ms : -1;

	while (run->received < run->expected && !run->failure) {
		int wait_ms = -1, r;

		if (deadline >= 0) {
			int64_t left = deadline - now_ms();

			if (left <= 0)
				break;
			wait_ms = left > INT32_MAX ? INT32_MAX : (int)left;
		}
		r = cp_client_wait(run->client, wait_ms);
		if (r < 0) {
			cli_print_error("post", r);
			return -1;
		}
	}
	if (run->failure)
		return -1;
	if (run->received < run->expected) {
		fprintf(stderr, "crosspost post: timed out: %lld of %lld repl%s arrived\n", (long long)run->received,
			(long long)run->expected, run->expected == 1 ? "y" : "ies");
		return -1;
	}
	return 0;
}

int cmd_post(int argc, char **argv)
{
	static const struct option options[] = {
		{ "to", required_argument, NULL, 't' },
		{ "to-id", required_argument, NULL, 'i' },
		{ "target-origin", required_argument, NULL, 'o' },
		{ "name", required_argument, NULL, 'n' },
		{ "file", required_argument, NULL, 'f' },
		{ "lines", no_argument, NULL, 'l' },
		{ "string", no_argument, NULL, 'S' },
		{ "reply-count", required_argument, NULL, 'C' },
		{ "timeout", required_argument, NULL, 'W' },
		{ "format", required_argument, NULL, 'F' },
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct post_run run = { 0 };
	const char *to = NULL, *target_origin = NULL, *name = NULL, *socket_path = NULL, *file = NULL;
	char *target_now = NULL, label[32];
	int64_t to_id = -1, timeout_ms = -1;
	bool lines = false, have_count = false;
	cp_value *data = NULL;
	int opt, r, status = 1, n_sources;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "t:i:o:n:f:ls:h", options, NULL)) != -1) {
		switch (opt) {
		case 't': to = optarg; break;
		case 'o': target_origin = optarg; break;
		case 'n': name = optarg; break;
		case 's': socket_path = optarg; break;
		case 'f': file = optarg; break;
		case 'l': lines = true; break;
		case 'S': run.as_string = true; break;
		case 'i':
			to_id = cli_parse_count(optarg, INT64_MAX);
			if (to_id < 0) {
				fprintf(stderr, "crosspost post: --to-id needs a window id, not '%s'\n", optarg);
				return 2;
			}
			break;
		case 'C':
			run.expected = cli_parse_count(optarg, INT32_MAX);
			if (run.expected < 1) {
				fprintf(stderr, "crosspost post: --reply-count needs a positive number, not '%s'\n",
					optarg);
				return 2;
			}
			have_count = true;
			break;
		case 'W':
			timeout_ms = cli_parse_duration(optarg);
			if (timeout_ms < 0) {
				cli_print_bad_duration("post", "--timeout", optarg);
				return 2;
			}
			break;
		case 'F':
			if (cli_check_format("post", optarg))
				return 2;
			run.format = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	n_sources = (file != NULL) + lines + (argc - optind >= 2);
	if (argc - optind > 2 || (argc - optind == 2 && n_sources > 1)) {
		fprintf(stderr, "crosspost post: unexpected argument '%s' (after URL%s)\n",
			argv[optind + (n_sources > 1 ? 1 : 2)], n_sources > 1 ? ", with -f or -l" : " and DATA");
		return 2;
	}
	if (argc - optind < 1 || n_sources == 0) {
		fprintf(stderr, "crosspost post: expected URL and DATA (or -f FILE, or -l)\n");
		usage(stderr);
		return 2;
	}
	if (file && lines) {
		fprintf(stderr, "crosspost post: -f and -l are two sources of data: give one\n");
		return 2;
	}
	if (!have_count && (timeout_ms >= 0 || run.format)) {
		fprintf(stderr, "crosspost post: --%s is for replies: it needs --reply-count\n",
			timeout_ms >= 0 ? "timeout" : "format");
		return 2;
	}
	if (cli_check_socket_option("post", socket_path))
		return 2;
	if (!to == (to_id < 0)) {
		fprintf(stderr, "crosspost post: name the target with exactly one of --to and --to-id\n");
		return 2;
	}
	/* DATA is checked before anything connects: a typo is a usage error. */
	if (!file && !lines) {
		const char *text = argv[optind + 1];

		if (make_value(&run, text, strlen(text), "DATA", &data) < 0)
			return 2;
	} else if (file && load_file(&run, file, &data) < 0) {
		return 1;
	}
	run.target_origin = target_origin ? target_origin : "/";
	run.client = cli_connect("post", socket_path);
	if (!run.client)
		goto out;
	r = cp_window_open(run.client, argv[optind], name, &run.window);
	if (r == 0 && to) {
		r = cp_client_lookup_window(run.client, to, &run.target, &target_now);
	} else if (r == 0) {
		run.target = (uint64_t)to_id;
		target_now = origin_of_window(run.client, run.target);
	}
	if (r < 0) {
		cli_print_error("post", r);
		goto out;
	}
	/* Set before posting: a reply may come before the post returns. */
	cp_window_set_callback(run.window, on_reply, &run);
	r = data ? post_one(&run, data) : post_lines(&run);
	/* Even after a failure, what was posted is synced: a target that
	 * never existed is reported by the broker asynchronously. */
	if (run.posted > 0) {
		int s = cp_client_sync(run.client, 30000);

		if (s < 0) {
			cli_print_error("post", s);
			goto out;
		}
	}
	if (r < 0)
		goto out;
	snprintf(label, sizeof(label), "%llu", (unsigned long long)run.target);
	if (run.posted > 0)
		warn_if_dropped(run.target_origin, !target_origin, run.window, run.target, to ? to : label,
				target_now);
	if (run.expected > 0 && wait_for_replies(&run, timeout_ms) < 0)
		goto out;
	status = 0;
out:
	free(target_now);
	cp_value_free(data);
	cp_client_free(run.client);
	return status;
}
