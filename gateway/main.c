/* SPDX-License-Identifier: MIT */
/* main.c - crosspost-gateway's command line: the server, or (hidden) one page's worker. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crosspost.h"
#include "gateway.h"
#include "log.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: crosspost gateway --listen [ADDRESS:]PORT --allow-origin PATTERN [OPTIONS]\n"
		"Lets browser pages join the broker as windows: serves crosspost.js at\n"
		"http://ADDRESS:PORT/crosspost.js and a WebSocket endpoint.  A page's windows get the\n"
		"origin its browser states in the handshake's Origin header (docs/gateway.md).\n\n"
		"  --listen [ADDRESS:]PORT  numeric address (default 127.0.0.1) and port; 0: any free\n"
		"                           port (the ready line says which)\n"
		"  --allow-origin PATTERN   page origins to accept (repeatable, at least one): as the\n"
		"                           broker's policy writes them, e.g. http://localhost:*,\n"
		"                           https://*.example.com, null, * (docs/security.md)\n"
		"  --token TOKEN            require ?token=TOKEN in the WebSocket URL (1-%d characters\n"
		"                           of A-Z a-z 0-9 . _ ~ -)\n"
		"  --token-file FILE        the same, read from the first line of FILE (not in `ps`)\n"
		"  --allow-remote           allow a --listen address that is not loopback (needs a token)\n"
		"  --serve DIR              also serve the files under DIR (test and demo pages)\n"
		"  --socket PATH            the broker's socket (default as for every command)\n"
		"  --max-message-size SIZE  one WebSocket message, one event to a page (default 4MiB)\n"
		"  --max-pages N            pages connected at once (default %u)\n"
		"  --max-windows N          windows per page (default %u)\n"
		"  --max-ports N            MessagePorts per page (default %u)\n"
		"  --queue-high SIZE        held per page and direction before reading stops (8MiB)\n"
		"  --ready-fd FD            once listening, write \"ready URL\\n\" to FD and close it\n"
		"  --log-level LEVEL        error, warning, info (default) or debug\n\n"
		"Once listening, \"crosspost gateway: ready: URL\" goes to stderr, URL being the\n"
		"address of crosspost.js.  SIGINT or SIGTERM stops the gateway and its pages.\n",
		GW_TOKEN_MAX, GW_PAGES_MAX_DEFAULT, GW_WINDOWS_MAX_DEFAULT, GW_PORTS_MAX_DEFAULT);
}

static bool token_valid(const char *token)
{
	size_t n = strlen(token);

	return n > 0 && n <= GW_TOKEN_MAX &&
	       strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-") == n;
}

static char *read_token_file(const char *path)
{
	char line[GW_TOKEN_MAX + 2];
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f) {
		fprintf(stderr, "crosspost gateway: --token-file %s: %s\n", path, strerror(errno));
		return NULL;
	}
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	n = strcspn(line, "\r\n");
	line[n] = '\0';
	return strdup(line);
}

static long parse_count(const char *text, long max)
{
	char *end = NULL;
	long v;

	if (!text || *text < '0' || *text > '9')
		return -1;
	errno = 0;
	v = strtol(text, &end, 10);
	if (errno || *end || v > max)
		return -1;
	return v;
}

static void config_free(GatewayConfig *cfg)
{
	for (size_t i = 0; i < cfg->n_allow; i++)
		origin_pattern_deinit(&cfg->allow[i]);
	free(cfg->allow);
	free(cfg->token);
}

static int add_pattern(GatewayConfig *cfg, const char *text)
{
	OriginPattern *grown = realloc(cfg->allow, (cfg->n_allow + 1) * sizeof(*grown));
	const char *reason = NULL;
	int r;

	if (!grown)
		return -ENOMEM;
	cfg->allow = grown;
	r = origin_pattern_parse(&cfg->allow[cfg->n_allow], text, &reason);
	if (r < 0) {
		if (r == -EINVAL)
			fprintf(stderr, "crosspost gateway: --allow-origin '%s': %s\n", text, reason);
		return r;
	}
	cfg->n_allow++;
	return 0;
}

int main(int argc, char **argv)
{
	enum { OPT_TOKEN_FILE = 256, OPT_ALLOW_REMOTE, OPT_SERVE, OPT_MAX_MESSAGE, OPT_MAX_PAGES,
	       OPT_MAX_WINDOWS, OPT_MAX_PORTS, OPT_QUEUE_HIGH, OPT_READY_FD, OPT_LOG_LEVEL,
	       OPT_WORKER, OPT_VERSION };
	static const struct option options[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "allow-origin", required_argument, NULL, 'o' },
		{ "token", required_argument, NULL, 't' },
		{ "token-file", required_argument, NULL, OPT_TOKEN_FILE },
		{ "allow-remote", no_argument, NULL, OPT_ALLOW_REMOTE },
		{ "serve", required_argument, NULL, OPT_SERVE },
		{ "socket", required_argument, NULL, 's' },
		{ "max-message-size", required_argument, NULL, OPT_MAX_MESSAGE },
		{ "max-pages", required_argument, NULL, OPT_MAX_PAGES },
		{ "max-windows", required_argument, NULL, OPT_MAX_WINDOWS },
		{ "max-ports", required_argument, NULL, OPT_MAX_PORTS },
		{ "queue-high", required_argument, NULL, OPT_QUEUE_HIGH },
		{ "ready-fd", required_argument, NULL, OPT_READY_FD },
		{ "log-level", required_argument, NULL, OPT_LOG_LEVEL },
		{ "worker", required_argument, NULL, OPT_WORKER },   /* internal */
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	GatewayConfig cfg = {
		.limits = { GW_MESSAGE_MAX_DEFAULT, GW_QUEUE_HIGH_DEFAULT, GW_PAGES_MAX_DEFAULT,
			    GW_WINDOWS_MAX_DEFAULT, GW_PORTS_MAX_DEFAULT },
		.ready_fd = -1,
		.log_level = LOG_INFO,
	};
	const char *listen = NULL, *worker_origin = NULL, *reason = NULL;
	int opt, status = 2;
	long n;

	signal(SIGPIPE, SIG_IGN);
	log_set_ident("crosspost gateway");
	while ((opt = getopt_long(argc, argv, "l:o:t:s:h", options, NULL)) != -1) {
		switch (opt) {
		case 'l': listen = optarg; break;
		case 'o':
			if (add_pattern(&cfg, optarg) < 0)
				goto out;
			break;
		case 't':
		case OPT_TOKEN_FILE:
			free(cfg.token);
			cfg.token = opt == 't' ? strdup(optarg) : read_token_file(optarg);
			if (!cfg.token)
				goto out;
			if (!token_valid(cfg.token)) {
				fprintf(stderr, "crosspost gateway: a token is 1 to %d characters of "
					"A-Z a-z 0-9 . _ ~ -\n", GW_TOKEN_MAX);
				goto out;
			}
			break;
		case OPT_ALLOW_REMOTE: cfg.allow_remote = true; break;
		case OPT_SERVE: cfg.serve_dir = optarg; break;
		case 's':
			if (!*optarg) {
				fprintf(stderr, "crosspost gateway: --socket needs a path, not an empty string\n");
				goto out;
			}
			cfg.socket_path = optarg;
			break;
		case OPT_MAX_MESSAGE:
		case OPT_QUEUE_HIGH: {
			size_t v = gw_parse_size(optarg, GW_MESSAGE_MAX_LIMIT);

			if (!v) {
				fprintf(stderr, "crosspost gateway: %s needs a size from 1B to 64MiB "
					"(B, KiB or MiB), not '%s'\n",
					opt == OPT_MAX_MESSAGE ? "--max-message-size" : "--queue-high", optarg);
				goto out;
			}
			if (opt == OPT_MAX_MESSAGE)
				cfg.limits.message_max = v;
			else
				cfg.limits.queue_high = v;
			break;
		}
		case OPT_MAX_PAGES:
		case OPT_MAX_WINDOWS:
		case OPT_MAX_PORTS:
			n = parse_count(optarg, 1 << 20);
			if (n < 1) {
				fprintf(stderr, "crosspost gateway: %s needs a number from 1 to %d, not '%s'\n",
					opt == OPT_MAX_PAGES ? "--max-pages" :
					opt == OPT_MAX_WINDOWS ? "--max-windows" : "--max-ports", 1 << 20, optarg);
				goto out;
			}
			if (opt == OPT_MAX_PAGES)
				cfg.limits.pages_max = (unsigned)n;
			else if (opt == OPT_MAX_WINDOWS)
				cfg.limits.windows_max = (unsigned)n;
			else
				cfg.limits.ports_max = (unsigned)n;
			break;
		case OPT_READY_FD:
			n = parse_count(optarg, INT32_MAX);
			if (n < 0) {
				fprintf(stderr, "crosspost gateway: --ready-fd needs a descriptor number, not '%s'\n",
					optarg);
				goto out;
			}
			cfg.ready_fd = (int)n;
			break;
		case OPT_LOG_LEVEL:
			cfg.log_level = log_level_parse(optarg);
			if (cfg.log_level < 0) {
				fprintf(stderr, "crosspost gateway: --log-level needs error, warning, info or "
					"debug, not '%s'\n", optarg);
				goto out;
			}
			break;
		case OPT_WORKER: worker_origin = optarg; break;
		case OPT_VERSION:
			printf("crosspost-gateway %s\n", cp_version());
			status = fflush(stdout) == 0 ? 0 : 1;
			goto out;
		case 'h':
			usage(stdout);
			status = 0;
			goto out;
		default:
			usage(stderr);
			goto out;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "crosspost gateway: unexpected argument '%s'\n", argv[optind]);
		goto out;
	}
	log_set_level(cfg.log_level);
	if (worker_origin) {
		/* The server's socketpair end is descriptor 3 (server.c). */
		log_set_ident("crosspost gateway worker");
		status = gw_worker_run(&cfg, worker_origin, 3);
		goto out;
	}
	if (!listen) {
		fprintf(stderr, "crosspost gateway: --listen [ADDRESS:]PORT is required, e.g. "
			"--listen 127.0.0.1:8700\n");
		goto out;
	}
	if (gw_parse_listen(&cfg, listen, &reason) < 0) {
		fprintf(stderr, "crosspost gateway: --listen '%s': %s\n", listen, reason);
		goto out;
	}
	if (!cfg.loopback && !cfg.allow_remote) {
		fprintf(stderr, "crosspost gateway: --listen %s is not a loopback address: other machines "
			"could connect and claim any allowed origin; pass --allow-remote (and a --token) "
			"if that is meant\n", cfg.host);
		goto out;
	}
	if (!cfg.loopback && !cfg.token) {
		fprintf(stderr, "crosspost gateway: --allow-remote needs --token or --token-file\n");
		goto out;
	}
	if (cfg.n_allow == 0) {
		fprintf(stderr, "crosspost gateway: give at least one --allow-origin PATTERN: the page "
			"origins to accept (--allow-origin '*' accepts every origin the broker's policy "
			"lets this uid register)\n");
		goto out;
	}
	status = gw_server_run(&cfg);
out:
	config_free(&cfg);
	return status;
}
