/* SPDX-License-Identifier: MIT */
/* main.c - crosspostd: options, the socket file (or systemd's), signals, logging, the event loop. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "access.h"
#include "broker.h"
#include "cleanup.h"
#include "config.h"
#include "limits.h"
#include "log.h"
#include "log_target.h"
#include "service.h"
#include "socket_dir.h"
#include "socket_path.h"

/* The Makefile passes the version written in client/crosspost.h, which
 * the broker does not include. */
#ifndef CP_BUILD_VERSION
#error "CP_BUILD_VERSION must be defined (the Makefile derives it from client/crosspost.h)"
#endif

static void usage(FILE *out)
{
	fprintf(out,
		"Usage: crosspostd [OPTIONS]\n"
		"The crosspost broker: routes postMessage between windows of client processes.\n\n"
		"  -s, --socket PATH      listen on PATH (default: $CROSSPOST_SOCKET if set and\n"
		"                         not empty, else $XDG_RUNTIME_DIR/crosspost/broker.sock,\n"
		"                         else /tmp/crosspost-$UID/broker.sock)\n"
		"  -c, --config FILE      limits, the socket's mode and the policy: who may\n"
		"                         connect and register which origins (docs/security.md,\n"
		"                         docs/crosspost.conf.example); SIGHUP reloads it.\n"
		"                         Without it, only this uid may connect\n"
		"      --check-config     read --config and the limits, report, and exit (0 or 2)\n"
		"      --limit KEY=VALUE  set a limit (repeatable; over the config file's)\n"
		"      --print-limits     print the limits in force and exit\n"
		"  -f, --foreground       stay in the foreground (default: detach once listening)\n"
		"  -p, --pidfile FILE     write the broker's pid to FILE once it listens (after\n"
		"                         detaching); removed when the broker stops cleanly\n"
		"  -L, --log-file FILE    append the log to FILE instead of stderr, from the\n"
		"                         moment the broker listens (errors before that still\n"
		"                         go to stderr)\n"
		"      --log-target TARGET\n"
		"                         stderr (default), syslog or journal: where the log\n"
		"                         goes from the moment the broker listens (errors before\n"
		"                         that go to stderr).  syslog: syslog(3), facility\n"
		"                         daemon; journal: the systemd journal, each line with\n"
		"                         its priority.  Not with --log-file\n"
		"  -l, --log-level LEVEL  error, warning, info (default) or debug\n"
		"  -v, --verbose          same as --log-level debug\n"
		"  -V, --version          print the version\n"
		"  -h, --help             show this help\n\n"
		"Logs go to stderr, to --log-file, or to syslog or the journal (--log-target).\n"
		"A detached broker keeps the stderr it was started with: when that is a\n"
		"terminal, log lines are lost once the terminal closes, so redirect it\n"
		"(2>>FILE) or pass --log-file FILE.\n"
		"SIGHUP re-reads --config: the policy applies to new requests, limits that can\n"
		"change live do, others are logged as needing a restart; a file with an error\n"
		"is logged and the configuration in force is kept.\n"
		"SIGINT and SIGTERM stop the broker and remove the socket (and the pidfile):\n"
		"  crosspostd --pidfile /tmp/cp.pid --log-file /tmp/cp.log && kill $(cat /tmp/cp.pid)\n"
		"Under systemd (crosspost.socket and crosspost.service, crosspostd(8)): the\n"
		"broker serves on the one listening socket systemd passes (socket activation;\n"
		"--socket, if given, must name the same path), leaves that socket in place\n"
		"when it stops, and notifies readiness ($NOTIFY_SOCKET): READY=1 once it\n"
		"listens, RELOADING=1 and READY=1 around a SIGHUP reload, STOPPING=1.\n");
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

/* Binds and listens on path, in a folder that is the broker's alone
 * (socket_dir.h), with the config's socket mode and group.  Returns the
 * socket or -1 with the reason logged. */
static int listen_on(const char *path, const BrokerConfig *config)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char problem[1024];
	struct stat st;
	mode_t old_mask;
	int fd, r;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		log_error("socket path too long (at most %zu bytes): %s", sizeof(addr.sun_path) - 1, path);
		return -1;
	}
	strcpy(addr.sun_path, path);
	r = socket_dir_prepare(path, config->socket_mode, problem, sizeof(problem));
	if (r != 0) {
		log_error("%s", problem);
		return -1;
	}
	if (lstat(path, &st) == 0) {
		/* Only a socket is ours to replace: --socket naming a file by
		 * mistake must not delete it. */
		if (!S_ISSOCK(st.st_mode)) {
			log_error("%s exists and is not a socket: not replacing it", path);
			return -1;
		}
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
	/* The umask makes the socket 0600 from the moment it exists; a
	 * shared mode is given once it is checked to be ours. */
	old_mask = umask(0177);
	r = bind(fd, (struct sockaddr *)&addr, sizeof(addr));
	umask(old_mask);
	if (r < 0 || listen(fd, SOMAXCONN) < 0) {
		log_error("cannot listen on %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	r = socket_file_claim(path, config->socket_mode, config->socket_group_set, config->socket_group, problem,
			      sizeof(problem));
	if (r != 0) {
		log_error("%s", problem);
		close(fd);
		if (r < 0)
			unlink(path);    /* ours, with the wrong mode or group */
		return -1;
	}
	return fd;
}

/* Raises the soft limit on descriptors to the hard limit, as dbus-broker's
 * util_bump_nofile() does: every connection costs one, and the soft limit
 * (often 1024) is a guard for programs that use select(), which libevent
 * does not here (epoll). */
static void bump_nofile(void)
{
	struct rlimit rl;
	rlim_t was;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		log_warning("cannot read the descriptor limit (RLIMIT_NOFILE): %s", strerror(errno));
		return;
	}
	was = rl.rlim_cur;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
			log_warning("cannot raise the descriptor limit (RLIMIT_NOFILE) from %llu to %llu: %s",
				    (unsigned long long)was, (unsigned long long)rl.rlim_max, strerror(errno));
			return;
		}
	}
	log_debug("descriptor limit (RLIMIT_NOFILE): %llu (soft limit was %llu)", (unsigned long long)rl.rlim_cur,
		  (unsigned long long)was);
}

/* What a reload needs: the file, the command line's limits (they override
 * the file's), the socket settings in force (they need a restart), and the
 * broker. */
typedef struct Daemon {
	const char *config_path;
	char **limit_args;
	size_t n_limit_args;
	const BrokerConfig *started_with;
	Broker *broker;
	const char *path;    /* the socket, for STATUS= lines */
} Daemon;

static void on_signal(evutil_socket_t sig, short what, void *userdata)
{
	(void)what;
	log_info("received %s, stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
	service_notify("STOPPING=1\nSTATUS=Stopping (%s)", sig == SIGINT ? "SIGINT" : "SIGTERM");
	event_base_loopbreak(userdata);
}

/* Writes pid and closes pid_fd.  Returns 0, or -1 with the reason logged. */
static int pidfile_write(int pid_fd, const char *pidfile, pid_t pid)
{
	char text[32];
	int n = snprintf(text, sizeof(text), "%d\n", (int)pid);
	bool ok = write(pid_fd, text, (size_t)n) == n;

	if (close(pid_fd) < 0)
		ok = false;
	if (!ok)
		log_error("cannot write the pidfile %s: %s", pidfile, strerror(errno));
	return ok ? 0 : -1;
}

/* Forks into the background.  The parent writes the child's pid to
 * pid_fd (when >= 0) before it exits, so that once `crosspostd` returns,
 * both the socket and the pidfile are there.  path: the socket file to
 * remove if that fails; NULL when it is systemd's. */
static int detach(const char *path, int pid_fd, const char *pidfile)
{
	pid_t pid = fork();
	int null_fd;

	if (pid < 0) {
		log_error("fork: %s", strerror(errno));
		return -1;
	}
	if (pid > 0) {
		if (pid_fd >= 0 && pidfile_write(pid_fd, pidfile, pid) < 0) {
			kill(pid, SIGKILL);
			if (path)
				unlink(path);
			unlink(pidfile);
			_exit(1);
		}
		_exit(0);    /* the socket is listening already: clients may connect */
	}
	if (pid_fd >= 0)
		close(pid_fd);
	setsid();
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null_fd >= 0) {
		dup2(null_fd, STDIN_FILENO);
		dup2(null_fd, STDOUT_FILENO);
		close(null_fd);
	}
	return 0;
}

/* A broker frees and allocates message buffers at a high rate: glibc's
 * default gives the top of the heap back to the kernel (trim) and maps
 * buffers over 128 KiB anew each time, so every large message would fault
 * its pages in again.  Keep freed memory for reuse instead; what the broker
 * holds is bounded by its budgets (docs/security.md), not by the allocator. */
static void keep_freed_memory(void)
{
	mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
	mallopt(M_TOP_PAD, 16 * 1024 * 1024);
	mallopt(M_MMAP_THRESHOLD, 64 * 1024 * 1024);
}

/* --limit KEY=VALUE. */
static int parse_limit(BrokerLimits *limits, const char *arg)
{
	const char *eq = strchr(arg, '='), *reason = "?";
	char key[64];

	if (!eq || eq == arg || (size_t)(eq - arg) >= sizeof(key)) {
		fprintf(stderr, "crosspostd: --limit needs KEY=VALUE (see --print-limits), not '%s'\n", arg);
		return -1;
	}
	memcpy(key, arg, (size_t)(eq - arg));
	key[eq - arg] = '\0';
	if (limits_set(limits, key, eq + 1, &reason) < 0) {
		fprintf(stderr, "crosspostd: --limit %s: %s\n", arg, reason);
		return -1;
	}
	return 0;
}

/* The file's limits, then the command line's over them; each --limit
 * parsed once already. */
static void apply_limit_args(BrokerLimits *limits, const Daemon *d)
{
	for (size_t i = 0; i < d->n_limit_args; i++)
		parse_limit(limits, d->limit_args[i]);
}

static void restart_needed(const char *key, void *userdata)
{
	const char *path = userdata;

	log_warning("reload: %s: %s changed, restart needed (the broker keeps the value it started with)", path,
		    key);
}

/* SIGHUP: the file again.  Connections stay; the policy applies to the
 * requests that follow.  Anything wrong keeps what is in force.  Returns
 * what to say in STATUS= afterwards. */
static const char *reload(Daemon *d, char *status, size_t status_size)
{
	_cleanup_(config_freep) BrokerConfig *config = NULL;
	char error[1024];
	const char *reason = "?";
	BrokerLimits limits;

	if (!d->config_path) {
		log_info("received SIGHUP: there is no --config file to reload");
		return "nothing to reload (no --config)";
	}
	if (config_load(&config, d->config_path, geteuid(), error, sizeof(error)) < 0) {
		log_error("reload: %s; keeping the configuration in force", error);
		snprintf(status, status_size, "reload failed, configuration in force kept: %s", error);
		return status;
	}
	limits = config->limits;
	apply_limit_args(&limits, d);
	if (limits_check(&limits, &reason) < 0) {
		log_error("reload: %s: the limits do not fit together: %s; keeping the configuration in force",
			  d->config_path, reason);
		snprintf(status, status_size, "reload failed, configuration in force kept: %s: the limits do not "
			 "fit together: %s", d->config_path, reason);
		return status;
	}
	if (config->socket_mode != d->started_with->socket_mode ||
	    config->socket_group_set != d->started_with->socket_group_set ||
	    (config->socket_group_set && config->socket_group != d->started_with->socket_group))
		log_warning("reload: %s: [socket] changed, restart needed (the socket keeps its mode and group)",
			    d->config_path);
	broker_reload_limits(d->broker, &limits, restart_needed, (void *)d->config_path);
	log_info("reloaded %s: %zu policy section%s, in force for new requests", d->config_path,
		 access_policy_count(config->policy), access_policy_count(config->policy) == 1 ? "" : "s");
	snprintf(status, status_size, "reloaded %s", d->config_path);
	broker_set_access(d->broker, steal_pointer(&config->policy));
	return status;
}

/* Tells the service manager that a reload runs, and when it is over. */
static void on_reload(evutil_socket_t sig, short what, void *userdata)
{
	Daemon *d = userdata;
	char status[1200];
	const char *said;

	(void)sig;
	(void)what;
	service_notify_reloading(d->config_path ? d->config_path : "(no --config)");
	said = reload(d, status, sizeof(status));
	service_notify("READY=1\nSTATUS=Listening on %s; %s", d->path, said);
}

/* --log-target syslog|journal: log.h's lines, to log_target.h. */
static void log_to_target(enum log_level level, const char *line, void *userdata)
{
	log_target_write(*(const LogTarget *)userdata, (int)level, line);
}

static void print_line(const char *text, void *userdata)
{
	fprintf(userdata, "%s\n", text);
}

int main(int argc, char **argv)
{
	static const struct option options[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "pidfile", required_argument, NULL, 'p' },
		{ "log-file", required_argument, NULL, 'L' },
		{ "log-target", required_argument, NULL, 'T' },
		{ "version", no_argument, NULL, 'V' },
		{ "limit", required_argument, NULL, 'X' },
		{ "print-limits", no_argument, NULL, 'P' },
		{ "config", required_argument, NULL, 'c' },
		{ "check-config", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 }
	};
	BrokerLimits limits;
	bool print_limits = false, check_config = false;
	_cleanup_(config_freep) BrokerConfig *config = NULL;
	_cleanup_(freep) char **limit_args = calloc((size_t)argc, sizeof(char *));
	Daemon daemon = { .limit_args = limit_args };
	char error[1024];
	struct event *sigint = NULL, *sigterm = NULL, *sighup = NULL;
	struct event_base *base = NULL;
	Broker *broker = NULL;
	char *path = NULL;
	const char *socket_arg = NULL, *pidfile = NULL, *log_file = NULL;
	static LogTarget log_target = LOG_TARGET_STDERR;    /* the sink's userdata: lives as long as logging */
	bool foreground = false, inherited = false;
	int opt, fd = -1, pid_fd = -1, log_fd = -1, status = 1, r;

	log_set_ident("crosspostd");
	keep_freed_memory();
	if (!limit_args) {
		fprintf(stderr, "crosspostd: out of memory\n");
		return 1;
	}
	limits_init(&limits);
	while ((opt = getopt_long(argc, argv, "s:fl:vp:L:VhX:Pc:C", options, NULL)) != -1) {
		switch (opt) {
		case 'X':
			/* Checked now, applied over the config file's below. */
			if (parse_limit(&limits, optarg) < 0)
				return 2;
			limit_args[daemon.n_limit_args++] = optarg;
			break;
		case 'P':
			print_limits = true;
			break;
		case 'c':
			if (!*optarg) {
				fprintf(stderr, "crosspostd: --config needs a file name, not an empty string\n");
				return 2;
			}
			daemon.config_path = optarg;
			break;
		case 'C':
			check_config = true;
			break;
		case 's':
			/* An empty path would bind the abstract socket of NUL bytes. */
			if (!*optarg) {
				fprintf(stderr, "crosspostd: --socket needs a path, not an empty string\n");
				return 2;
			}
			socket_arg = optarg;
			break;
		case 'p':
		case 'L':
			if (!*optarg) {
				fprintf(stderr, "crosspostd: --%s needs a file name, not an empty string\n",
					opt == 'p' ? "pidfile" : "log-file");
				return 2;
			}
			if (opt == 'p')
				pidfile = optarg;
			else
				log_file = optarg;
			break;
		case 'V':
			printf("crosspostd %s\n", CP_BUILD_VERSION);
			return fflush(stdout) == 0 ? 0 : 1;
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
		case 'T': {
			int target = log_target_parse(optarg);

			if (target < 0) {
				fprintf(stderr, "crosspostd: unknown log target '%s' (stderr, syslog, journal)\n", optarg);
				return 2;
			}
			log_target = (LogTarget)target;
			break;
		}
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
	if (check_config && !daemon.config_path) {
		fprintf(stderr, "crosspostd: --check-config needs --config FILE\n");
		return 2;
	}
	if (log_file && log_target != LOG_TARGET_STDERR) {
		fprintf(stderr, "crosspostd: --log-file is the log's file: it goes with --log-target stderr only\n");
		return 2;
	}
	/* A config file that does not read is never half used: exit 2, as
	 * for a bad option. */
	if (daemon.config_path ? config_load(&config, daemon.config_path, geteuid(), error, sizeof(error)) < 0 :
	    config_new_default(&config, geteuid()) < 0) {
		fprintf(stderr, "crosspostd: %s\n", daemon.config_path ? error : "out of memory");
		return 2;
	}
	limits = config->limits;
	apply_limit_args(&limits, &daemon);
	{
		const char *reason = "?";

		if (limits_check(&limits, &reason) < 0) {
			fprintf(stderr, "crosspostd: the limits do not fit together: %s\n", reason);
			return 2;
		}
	}
	if (check_config) {
		printf("%s: ok: %zu policy section%s\n", daemon.config_path, access_policy_count(config->policy),
		       access_policy_count(config->policy) == 1 ? "" : "s");
		return fflush(stdout) == 0 ? 0 : 1;
	}
	if (print_limits) {
		limits_print(&limits, print_line, stdout);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	path = socket_arg ? strdup(socket_arg) : socket_path_default();
	if (!path) {
		log_error("out of memory");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	if (log_target_check(log_target, error, sizeof(error)) < 0) {
		log_error("%s", error);
		goto out;
	}
	/* Opened before anything else, so that a bad name is reported on the
	 * terminal; used from the moment the broker listens. */
	if (log_file) {
		log_fd = open(log_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (log_fd < 0) {
			log_error("cannot open the log file %s: %s", log_file, strerror(errno));
			goto out;
		}
	}
	bump_nofile();
	/* Socket activation: systemd made the socket and its folder, and the
	 * broker serves on it; the socket stays when the broker stops. */
	r = service_listen_fd(&fd, error, sizeof(error));
	if (r > 0) {
		char *systemd_path = NULL;

		r = socket_inherited_check(fd, config->socket_mode, config->socket_group_set, config->socket_group,
					   &systemd_path, error, sizeof(error));
		if (r == 0 && socket_arg && strcmp(socket_arg, systemd_path) != 0) {
			snprintf(error, sizeof(error), "systemd passed the socket %s, but --socket names %s", systemd_path,
				 socket_arg);
			r = -1;
		}
		if (r != 0) {
			log_error("%s", error);
			free(systemd_path);
			close(fd);
			goto out;
		}
		free(path);
		path = systemd_path;
		inherited = true;
	} else if (r < 0) {
		log_error("%s", error);
		goto out;
	} else {
		fd = listen_on(path, config);
		if (fd < 0)
			goto out;
	}
	/* Only now: a broker refused because another one runs must not
	 * overwrite that one's pidfile. */
	if (pidfile) {
		pid_fd = open(pidfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (pid_fd < 0) {
			log_error("cannot open the pidfile %s: %s", pidfile, strerror(errno));
			pidfile = NULL;
			goto out_unlink;
		}
	}
	if (log_fd >= 0) {
		dup2(log_fd, STDERR_FILENO);
		close(log_fd);
		log_fd = -1;
	}
	if (log_target != LOG_TARGET_STDERR) {
		log_target_open(log_target, "crosspostd");
		log_set_sink(log_to_target, &log_target);
	}
	if (!foreground && detach(inherited ? NULL : path, pid_fd, pidfile) < 0)
		goto out_unlink;
	if (foreground && pid_fd >= 0) {
		r = pidfile_write(pid_fd, pidfile, getpid());
		pid_fd = -1;
		if (r < 0)
			goto out_unlink;
	}
	pid_fd = -1;    /* written and closed, by the parent when detached */
	base = event_base_new();
	if (!base || broker_new(&broker, base, fd, &limits) < 0) {
		log_error("out of memory");
		goto out_unlink;
	}
	broker_set_access(broker, steal_pointer(&config->policy));
	daemon.broker = broker;
	daemon.started_with = config;
	daemon.path = path;
	sigint = evsignal_new(base, SIGINT, on_signal, base);
	sigterm = evsignal_new(base, SIGTERM, on_signal, base);
	sighup = evsignal_new(base, SIGHUP, on_reload, &daemon);
	if (!sigint || !sigterm || !sighup || evsignal_add(sigint, NULL) < 0 || evsignal_add(sigterm, NULL) < 0 ||
	    evsignal_add(sighup, NULL) < 0) {
		log_error("cannot install signal handlers");
		goto out_unlink;
	}
	if (daemon.config_path)
		log_info("policy and limits from %s: %zu policy section%s", daemon.config_path,
			 access_policy_count(broker->access), access_policy_count(broker->access) == 1 ? "" : "s");
	log_info("listening on %s (pid %d)%s", path, (int)getpid(), inherited ? ", passed by systemd" : "");
	service_notify("READY=1\nSTATUS=Listening on %s", path);
	event_base_dispatch(base);
	log_info("stopped: %llu messages delivered, %llu dropped for targetOrigin, %llu to closed windows",
		 (unsigned long long)broker->stats.messages_delivered,
		 (unsigned long long)broker->stats.dropped_origin_mismatch,
		 (unsigned long long)broker->stats.dropped_target_closed);
	status = 0;
out_unlink:
	if (!inherited)
		unlink(path);
	if (pidfile)
		unlink(pidfile);
out:
	if (pid_fd >= 0)
		close(pid_fd);
	if (log_fd >= 0)
		close(log_fd);
	if (sigint)
		event_free(sigint);
	if (sigterm)
		event_free(sigterm);
	if (sighup)
		event_free(sighup);
	broker_free(broker);
	if (base)
		event_base_free(base);
	free(path);
	return status;
}
