/* SPDX-License-Identifier: MIT */
/* scenario_broker.c - a private crosspostd on a socket in a fresh temporary folder, for `crosspost run`. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "crosspost.h"
#include "scenario_broker.h"
#include "scenario_proc.h"

/* How much of the broker's log a failure message quotes. */
#define LOG_TAIL_BYTES 1500

struct scenario_broker {
	pid_t pid;
	char *dir;                  /* the mkdtemp folder; removed at stop */
	char *socket_path;          /* dir/broker.sock */
	/* The broker's stdout and stderr.  Unlinked as soon as it is open,
	 * so that it cannot outlive us. */
	int log_fd;
	bool debug;                 /* --log-level debug (verbose runs) */
	off_t log_read;             /* scenario_broker_read_log() read up to here */
};

char *scenario_broker_find(const char *explicit_path)
{
	const char *env = getenv("CROSSPOSTD");
	char self[PATH_MAX], *slash, *sibling = NULL;
	ssize_t n;

	if (explicit_path)
		return strdup(explicit_path);
	if (env && *env)
		return strdup(env);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = '\0';
		slash = strrchr(self, '/');
		if (slash) {
			*slash = '\0';
			if (asprintf(&sibling, "%s/crosspostd", self) < 0)
				return NULL;
			if (access(sibling, X_OK) == 0)
				return sibling;
			free(sibling);
		}
	}
	return strdup("crosspostd");
}

const char *scenario_broker_socket(const struct scenario_broker *broker)
{
	return broker->socket_path;
}

char *scenario_broker_read_log(struct scenario_broker *b)
{
	struct stat st;
	char *text;
	ssize_t n;
	size_t len;

	if (!b || b->log_fd < 0 || fstat(b->log_fd, &st) < 0 || st.st_size <= b->log_read)
		return NULL;
	len = (size_t)(st.st_size - b->log_read);
	text = malloc(len + 1);
	if (!text)
		return NULL;
	n = pread(b->log_fd, text, len, b->log_read);
	if (n <= 0) {
		free(text);
		return NULL;
	}
	/* Whole lines only: a line being written is read next time. */
	while (n > 0 && text[n - 1] != '\n')
		n--;
	if (n == 0) {
		free(text);
		return NULL;
	}
	text[n] = '\0';
	b->log_read += n;
	return text;
}

/* Appends the last LOG_TAIL_BYTES of the broker's log to buf. */
static void append_log_tail(const struct scenario_broker *b, char *buf, size_t size)
{
	char tail[LOG_TAIL_BYTES + 1];
	size_t used = strlen(buf);
	struct stat stat_buf;
	ssize_t n;

	if (b->log_fd < 0 || fstat(b->log_fd, &stat_buf) < 0 || stat_buf.st_size <= 0)
		return;
	n = pread(b->log_fd, tail, LOG_TAIL_BYTES,
		  stat_buf.st_size > LOG_TAIL_BYTES ? stat_buf.st_size - LOG_TAIL_BYTES : 0);
	if (n <= 0)
		return;
	tail[n] = '\0';
	if (used < size)
		snprintf(buf + used, size - used, "\ncrosspostd said:\n%s", tail);
}

/* Removes the folder and what the broker left in it (its socket when it
 * was killed). */
static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (d) {
		while ((e = readdir(d)) != NULL)
			if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
				unlinkat(dirfd(d), e->d_name, 0);
		closedir(d);
	}
	rmdir(dir);
}

static struct scenario_broker *broker_free(struct scenario_broker *b)
{
	if (!b)
		return NULL;
	if (b->dir)
		remove_dir(b->dir);
	free(b->dir);
	free(b->socket_path);
	if (b->log_fd >= 0)
		close(b->log_fd);
	free(b);
	return NULL;
}
DEFINE_CLEANUP(struct scenario_broker *, broker_free)

/* mkdtemp under $TMPDIR, falling back to /tmp when the socket path would
 * not fit in sockaddr_un. */
static int make_dir(struct scenario_broker *b)
{
	const char *tmp = getenv("TMPDIR");
	const char *bases[] = { tmp && *tmp ? tmp : "/tmp", "/tmp" };

	for (size_t i = 0; i < 2; i++) {
		char *dir = NULL;

		if (asprintf(&dir, "%s/crosspost-run.XXXXXX", bases[i]) < 0)
			return -ENOMEM;
		if (strlen(dir) + strlen("/broker.sock") >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
			free(dir);
			continue;
		}
		if (!mkdtemp(dir)) {
			int r = -errno;

			free(dir);
			return r;
		}
		b->dir = dir;
		if (asprintf(&b->socket_path, "%s/broker.sock", dir) < 0)
			return -ENOMEM;
		return 0;
	}
	return -ENAMETOOLONG;
}

static void exec_broker(const char *program, const struct scenario_broker *b, pid_t parent)
{
	int fd;

	if (proc_die_with_parent(parent, SIGTERM) < 0)
		_exit(127);
	/* stdout carries our TAP: the broker's output never goes there. */
	if (b->log_fd < 0) {
		dup2(STDERR_FILENO, STDOUT_FILENO);
	} else {
		dup2(b->log_fd, STDOUT_FILENO);
		dup2(b->log_fd, STDERR_FILENO);
	}
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd >= 0)
		dup2(fd, STDIN_FILENO);
	if (strchr(program, '/'))
		execl(program, program, "--foreground", "--socket", b->socket_path, "--log-level",
		      b->debug ? "debug" : "info", (char *)NULL);
	else
		execlp(program, program, "--foreground", "--socket", b->socket_path, "--log-level",
		       b->debug ? "debug" : "info", (char *)NULL);
	fprintf(stderr, "cannot run %s: %s\n", program, strerror(errno));
	_exit(127);
}

/* Polls until a client can connect and shake hands, the broker exits, or
 * the time is up.  Retrying a connect is how readiness is observed: the
 * broker has no other way to tell. */
static int wait_ready(struct scenario_broker *b, char *errbuf, size_t errlen)
{
	int64_t deadline = proc_now_ms() + SCENARIO_BROKER_READY_MS;
	int delay = 1;

	for (;;) {
		cp_client *client = NULL;
		char how[96];
		int status, r;

		r = cp_client_new(b->socket_path, &client);
		if (r == 0) {
			cp_client_free(client);
			return 0;
		}
		if (r != CP_ERR_NETWORK) {
			snprintf(errbuf, errlen, "the broker at %s refused us: %s: %s", b->socket_path,
				 cp_error_name(r), cp_last_error_message());
			return -EPROTO;
		}
		if (proc_wait(b->pid, 0, &status) == 0) {
			b->pid = 0;
			snprintf(errbuf, errlen, "crosspostd %s before accepting connections",
				 proc_describe_status(status, how, sizeof(how)));
			return -ECHILD;
		}
		if (proc_now_ms() >= deadline) {
			snprintf(errbuf, errlen, "crosspostd did not accept connections on %s within %dms",
				 b->socket_path, SCENARIO_BROKER_READY_MS);
			return -ETIMEDOUT;
		}
		poll(NULL, 0, delay);
		delay = delay * 2 > 50 ? 50 : delay * 2;
	}
}

int scenario_broker_start(const char *program, bool verbose, struct scenario_broker **ret,
			  char *errbuf, size_t errlen)
{
	_cleanup_(broker_freep) struct scenario_broker *b = calloc(1, sizeof(*b));
	pid_t parent = getpid();
	int r, status;

	errbuf[0] = '\0';
	if (!b)
		return -ENOMEM;
	b->log_fd = -1;
	b->debug = verbose;
	r = make_dir(b);
	if (r < 0) {
		snprintf(errbuf, errlen, "cannot create a folder for the broker's socket: %s", strerror(-r));
		return r;
	}
	{
		char *log_path = NULL;

		if (asprintf(&log_path, "%s/broker.log", b->dir) < 0)
			return -ENOMEM;
		b->log_fd = open(log_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		r = b->log_fd < 0 ? -errno : 0;
		unlink(log_path);
		free(log_path);
		if (r < 0) {
			snprintf(errbuf, errlen, "cannot create the broker's log: %s", strerror(-r));
			return r;
		}
	}
	fflush(NULL);
	b->pid = fork();
	if (b->pid < 0) {
		r = -errno;
		snprintf(errbuf, errlen, "fork: %s", strerror(-r));
		return r;
	}
	if (b->pid == 0)
		exec_broker(program, b, parent);
	r = wait_ready(b, errbuf, errlen);
	if (r < 0) {
		if (b->pid > 0)
			proc_stop(b->pid, SIGTERM, SCENARIO_BROKER_STOP_MS, &status);
		append_log_tail(b, errbuf, errlen);
		return r;
	}
	*ret = steal_pointer(&b);
	return 0;
}

int scenario_broker_restart(struct scenario_broker *b, const char *program, char *errbuf, size_t errlen)
{
	pid_t parent = getpid();
	int r, status;

	errbuf[0] = '\0';
	if (b->pid > 0) {
		r = proc_stop(b->pid, SIGKILL, SCENARIO_BROKER_STOP_MS, &status);
		b->pid = 0;
		if (r < 0) {
			snprintf(errbuf, errlen, "killing crosspostd: %s", strerror(-r));
			return r;
		}
	}
	/* A killed broker cannot remove its socket: the new one must find the
	 * path free. */
	if (unlink(b->socket_path) < 0 && errno != ENOENT) {
		r = -errno;
		snprintf(errbuf, errlen, "cannot remove the old socket %s: %s", b->socket_path, strerror(-r));
		return r;
	}
	fflush(NULL);
	b->pid = fork();
	if (b->pid < 0) {
		r = -errno;
		b->pid = 0;
		snprintf(errbuf, errlen, "fork: %s", strerror(-r));
		return r;
	}
	if (b->pid == 0)
		exec_broker(program, b, parent);
	r = wait_ready(b, errbuf, errlen);
	if (r < 0) {
		if (b->pid > 0)
			proc_stop(b->pid, SIGTERM, SCENARIO_BROKER_STOP_MS, &status);
		b->pid = 0;
		append_log_tail(b, errbuf, errlen);
		return r;
	}
	return 0;
}

int scenario_broker_stop(struct scenario_broker *broker, char *errbuf, size_t errlen)
{
	_cleanup_(broker_freep) struct scenario_broker *b = broker;
	char how[96];
	int status = 0, r;

	errbuf[0] = '\0';
	if (!b)
		return 0;
	if (b->pid <= 0) {
		/* A restart that failed left no broker running. */
		snprintf(errbuf, errlen, "crosspostd was not running (a restart failed)");
		return -ECHILD;
	}
	r = proc_stop(b->pid, SIGTERM, SCENARIO_BROKER_STOP_MS, &status);
	if (r < 0) {
		snprintf(errbuf, errlen, "stopping crosspostd: %s", strerror(-r));
		return r;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	snprintf(errbuf, errlen, "crosspostd %s when stopped with SIGTERM",
		 proc_describe_status(status, how, sizeof(how)));
	append_log_tail(b, errbuf, errlen);
	return -ECHILD;
}
