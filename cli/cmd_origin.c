/* SPDX-License-Identifier: MIT */
/* cmd_origin.c - `crosspost origin`: the origin of a URL, as the URL Standard computes it. */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "commands.h"
#include "origin.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: crosspost origin [--base BASE] [--unicode] [--] INPUT\n"
		"Parses INPUT (against BASE, if given) with the URL Standard's parser and prints\n"
		"the origin of the resulting URL: scheme://host[:port] for http, https, ws, wss\n"
		"and ftp URLs (and blob: URLs holding an http(s) URL), \"null\" for every other\n"
		"URL, file: included.  The broker computes window origins and targetOrigin the\n"
		"same way, so an INPUT that fails here is a SyntaxError as a targetOrigin.\n"
		"\n"
		"  --base BASE   resolve INPUT against the URL BASE\n"
		"  --unicode     show internationalized hosts in Unicode (display only: the\n"
		"                broker compares origins in their ASCII form)\n"
		"  --help        show this help\n"
		"\n"
		"Exit status: 0 with the origin on stdout; 1 when INPUT does not parse, with\n"
		"\"failure\" on stdout and the reason on stderr; 2 on bad usage.  --socket PATH\n"
		"is accepted like every command's, and unused: no broker is involved.\n");
}

int cmd_origin(int argc, char **argv)
{
	static const struct option options[] = {
		{ "base", required_argument, NULL, 'b' },
		{ "unicode", no_argument, NULL, 'u' },
		{ "socket", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	const char *base = NULL, *reason = NULL, *input;
	bool unicode = false;
	Origin *origin = NULL;
	char *display = NULL;
	int opt, r, status = 1;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "b:us:h", options, NULL)) != -1) {
		switch (opt) {
		case 'b':
			base = optarg;
			break;
		case 'u':
			unicode = true;
			break;
		case 's':
			/* Unused, but an empty path is as wrong here as anywhere. */
			if (cli_check_socket_option("origin", optarg))
				return 2;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (argc - optind != 1) {
		fprintf(stderr, "crosspost origin: expected exactly one INPUT, got %d\n\n",
			argc - optind);
		usage(stderr);
		return 2;
	}
	input = argv[optind];

	r = origin_from_url(input, strlen(input), base, base ? strlen(base) : 0, &origin, &reason);
	if (r == -EINVAL) {
		printf("failure\n");
		fprintf(stderr, "crosspost origin: %s\n", reason ? reason : "not a valid URL");
		goto out;
	}
	if (r < 0) {
		fprintf(stderr, "crosspost origin: %s\n", strerror(-r));
		goto out;
	}
	if (unicode) {
		display = origin_unicode_serialization(origin);
		if (!display) {
			fprintf(stderr, "crosspost origin: %s\n", strerror(ENOMEM));
			goto out;
		}
	}
	printf("%s\n", display ? display : origin_serialization(origin));
	status = fflush(stdout) == 0 ? 0 : 1;
out:
	free(display);
	origin_free(origin);
	return status;
}
