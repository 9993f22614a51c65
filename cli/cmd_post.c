/* SPDX-License-Identifier: MIT */
/* cmd_post.c - `crosspost post`: one window posts one message. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "origin.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: crosspost post URL (--to NAME | --to-id ID) [--target-origin ORIGIN (default: /)]\n"
		"                      [--name NAME] [--socket PATH] DATA\n"
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
		"A message whose targetOrigin does not match the target's origin is dropped by\n"
		"the broker without telling the sender, as in a browser.  When the target's\n"
		"current origin already shows that it cannot match (\"/\" or the given ORIGIN),\n"
		"post still posts, and prints a warning on stderr: the target would have to\n"
		"navigate before the message arrives for it to be delivered.\n\n"
		"Exit status: 0 posted (a targetOrigin mismatch is not an error); 1 SyntaxError,\n"
		"NotFoundError, RangeError or another failure (name and message on stderr);\n"
		"2 bad usage.\n");
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

int cmd_post(int argc, char **argv)
{
	static const struct option options[] = {
		{ "to", required_argument, NULL, 't' },
		{ "to-id", required_argument, NULL, 'i' },
		{ "target-origin", required_argument, NULL, 'o' },
		{ "name", required_argument, NULL, 'n' },
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *to = NULL, *target_origin = NULL, *name = NULL, *socket_path = NULL;
	char *target_now = NULL, label[32];
	int64_t to_id = -1;
	cp_client *client = NULL;
	cp_window *window = NULL;
	cp_value *data = NULL;
	uint64_t target;
	const char *text;
	int opt, r, status = 1;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "t:i:o:n:s:h", options, NULL)) != -1) {
		switch (opt) {
		case 't': to = optarg; break;
		case 'o': target_origin = optarg; break;
		case 'n': name = optarg; break;
		case 's': socket_path = optarg; break;
		case 'i':
			to_id = cli_parse_count(optarg, INT64_MAX);
			if (to_id < 0) {
				fprintf(stderr, "crosspost post: --to-id needs a window id, not '%s'\n", optarg);
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
	if (argc - optind > 2) {
		fprintf(stderr, "crosspost post: unexpected argument '%s' (after URL and DATA)\n", argv[optind + 2]);
		return 2;
	}
	if (argc - optind != 2) {
		fprintf(stderr, "crosspost post: expected URL and DATA\n");
		usage(stderr);
		return 2;
	}
	if (cli_check_socket_option("post", socket_path))
		return 2;
	if (!to == (to_id < 0)) {
		fprintf(stderr, "crosspost post: name the target with exactly one of --to and --to-id\n");
		return 2;
	}
	text = argv[optind + 1];
	r = cp_value_from_json(text, strlen(text), NULL, &data);
	if (r < 0) {
		fprintf(stderr, "crosspost post: DATA is not valid JSON: %s\n", cp_last_error_message());
		return 2;
	}
	client = cli_connect("post", socket_path);
	if (!client)
		goto out;
	r = cp_window_open(client, argv[optind], name, &window);
	if (r == 0 && to) {
		r = cp_client_lookup_window(client, to, &target, &target_now);
	} else if (r == 0) {
		target = (uint64_t)to_id;
		target_now = origin_of_window(client, target);
	}
	if (r == 0)
		r = cp_post_message(window, target, data, target_origin ? target_origin : "/");
	/* The broker reports a target that never existed asynchronously. */
	if (r == 0)
		r = cp_client_sync(client, 30000);
	if (r < 0) {
		cli_print_error("post", r);
		goto out;
	}
	snprintf(label, sizeof(label), "%llu", (unsigned long long)target);
	warn_if_dropped(target_origin ? target_origin : "/", !target_origin, window, target,
			to ? to : label, target_now);
	status = 0;
out:
	free(target_now);
	cp_value_free(data);
	cp_client_free(client);
	return status;
}
