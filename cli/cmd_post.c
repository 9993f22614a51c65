/* SPDX-License-Identifier: MIT */
/* cmd_post.c - `crosspost post`: one window posts one message. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: crosspost post URL (--to NAME | --to-id ID) [--target-origin ORIGIN]\n"
		"                      [--name NAME] [--socket PATH] DATA\n"
		"Opens a window whose document is at URL and calls\n"
		"target.postMessage(DATA, ORIGIN) from it.  DATA is JSON, with the tagged forms\n"
		"of docs/values.md for other structured-clone types ({\"$bigint\":\"1\"}, ...).\n\n"
		"  --to NAME              the target window, by name\n"
		"  --to-id ID             the target window, by id (see `crosspost list`)\n"
		"  --target-origin ORIGIN \"*\", \"/\" (the sender's own origin; the default,\n"
		"                         as in the HTML Standard) or a URL\n"
		"  --name NAME            a name for the sending window\n\n"
		"Exit status: 0 posted (a targetOrigin mismatch is not an error: the message is\n"
		"dropped without telling the sender, as in a browser); 1 SyntaxError,\n"
		"NotFoundError or another failure (name and message on stderr); 2 bad usage.\n");
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
	const char *to = NULL, *target_origin = "/", *name = NULL, *socket_path = NULL;
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
	if (argc - optind != 2) {
		fprintf(stderr, "crosspost post: expected URL and DATA\n");
		usage(stderr);
		return 2;
	}
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
	if (r == 0 && to)
		r = cp_client_lookup(client, to, &target);
	else
		target = (uint64_t)to_id;
	if (r == 0)
		r = cp_post_message(window, target, data, target_origin);
	/* The broker reports a target that never existed asynchronously. */
	if (r == 0)
		r = cp_client_sync(client, 30000);
	if (r < 0) {
		cli_print_error("post", r);
		goto out;
	}
	status = 0;
out:
	cp_value_free(data);
	cp_client_free(client);
	return status;
}
