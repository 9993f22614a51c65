/* SPDX-License-Identifier: MIT */
/* main.c - crosspostd: options, the socket file, signals, the event loop. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "broker.h"
#include "log.h"
#include "socket_path.h"

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: crosspostd [OPTIONS]\n"
		"The crosspost broker: routes postMessage between windows of client processes.\n\n"
		"  -s, --socket PATH      listen on PATH (default: $CROSSPOST_SOCKET, else\n"
		"                         $XDG_RUNTIME_DIR/crosspost/broker.sock, else\n"
		"                         /tmp/crosspost-$UID/broker.sock)\n"
		"  -f, --foreground       stay in the foreground (default: detach once listening)\n"
		"  -l, --log-level LEVEL  error, warning, info (default) or debug\n"
		"  -v, --verbose          same as --log-level debug\n"
		"  -h, --help             show this help\n\n"
		"Logs go to stderr.  SIGINT and SIGTERM stop the broker and remove the socket.\n");
}

/* Connects to path: true when a live broker answers there. */
static bool socket_is_live(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool live;

	if (fd < 0)
		return false;
	strncpy(addr.sun_path, path, sizeof(addr.sun_path) - 1);
	live = connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0;
	close(fd);
	return live;
}

/* Binds and listens on path with mode 0600.  Returns the socket or -1 with
 * the reason logged. */
static int listen_on(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	mode_t old_mask;
	int fd, r;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		log_error("socket path too long (at most %zu bytes): %s", sizeof(addr.sun_path) - 1, path);
		return -1;
	}
	strcpy(addr.sun_path, path);
	r = socket_path_make_dir(path);
	if (r < 0) {
		log_error("cannot create the folder of %s: %s", path, strerror(-r));
		return -1;
	}
	if (access(path, F_OK) == 0) {
		if (socket_is_live(path)) {
			log_error("a broker is already running on %s", path);
			return -1;
		}
		log_info("replacing stale socket %s", path);
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		log_error("socket: %s", strerror(errno));
		return -1;
	}
	/* The umask makes the socket 0600 from the moment it exists. */
	old_mask = umask(0177);
	r = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
	umask(old_mask);
	if (r < 0 || listen(fd, SOMAXCONN) < 0) {
		log_error("cannot listen on %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void on_signal(evutil_socket_t sig, short what, void *userdata)
{
	(void)what;
	log_info("received %s, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
	event_base_loopbreak(userdata);
}

static int detach(void)
{
	pid_t pid = fork();
	int null_fd;

	if (pid < 0) {
		log_error("fork: %s", strerror(errno));
		return -1;
	}
	if (pid > 0)
		_exit(0);    /* the socket is listening already: clients may connect */
	setsid();
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null_fd >= 0) {
		dup2(null_fd, STDIN_FILENO);
		dup2(null_fd, STDOUT_FILENO);
		close(null_fd);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	struct event *sigint = NULL, *sigterm = NULL;
	struct event_base *base = NULL;
	Broker *broker = NULL;
	char *path = NULL;
	bool foreground = false;
	int opt, fd, status = 1;

	log_set_ident("crosspostd");
	while ((opt = getopt_long(argc, argv, "s:fl:vh", options, NULL)) != -1) {
		switch (opt) {
		case 's':
			free(path);
			path = strdup(optarg);
			break;
		case 'f':
			foreground = true;
			break;
		case 'l': {
			int level = log_level_parse(optarg);

			if (level < 0) {
				fprintf(stderr, "crosspostd: unknown log level '%s' (error, warning, info, debug)\n", optarg);
				return 2;
			}
			log_set_level((enum log_level)level);
			break;
		}
		case 'v':
			log_set_level(LOG_DEBUG);
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "crosspostd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (!path)
		path = socket_path_default();
	if (!path) {
		log_error("out of memory");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	fd = listen_on(path);
	if (fd < 0)
		goto out;
	if (!foreground && detach() < 0)
		goto out_unlink;
	base = event_base_new();
	if (!base || broker_new(&broker, base, fd) < 0) {
		log_error("out of memory");
		goto out_unlink;
	}
	sigint = evsignal_new(base, SIGINT, on_signal, base);
	sigterm = evsignal_new(base, SIGTERM, on_signal, base);
	if (!sigint || !sigterm || evsignal_add(sigint, NULL) < 0 || evsignal_add(sigterm, NULL) < 0) {
		log_error("cannot install signal handlers");
		goto out_unlink;
	}
	log_info("listening on %s (pid %d)", path, (int)getpid());
	event_base_dispatch(base);
	log_info("stopped: %llu messages delivered, %llu dropped for targetOrigin, %llu to closed windows",
		 (unsigned long long)broker->stats.messages_delivered,
		 (unsigned long long)broker->stats.dropped_origin_mismatch,
		 (unsigned long long)broker->stats.dropped_target_closed);
	status = 0;
out_unlink:
	unlink(path);
out:
	if (sigint)
		event_free(sigint);
	if (sigterm)
		event_free(sigterm);
	broker_free(broker);
	if (base)
		event_base_free(base);
	free(path);
	return status;
}
