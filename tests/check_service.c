/* SPDX-License-Identifier: MIT */
/*
 * check_service.c - crosspostd under systemd (crosspostd(8), "Socket
 * activation"): started by systemd-socket-activate on the first
 * connection, it serves on the socket it was passed and tells the service
 * manager its state on $NOTIFY_SOCKET - READY=1 once it listens,
 * RELOADING=1 then READY=1 around a SIGHUP reload, STOPPING=1 - checked
 * on a datagram socket this test binds itself (systemd-socket-activate
 * provides none).  A descriptor passed with LISTEN_FDS that is not one
 * listening AF_UNIX stream socket with a file is refused, exit 1.
 * tests/cli/systemd.sh drives the same tool from the shell.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "crosspost.h"
#include "fixture.h"

/* Every wait in this file is bounded by this. */
#define WAIT_MS 10000

static const char *broker_binary(void)
{
	const char *path = getenv("CROSSPOSTD");

	return path && *path ? path : "build/crosspostd";
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_ge(fputs(text, f), 0);
	ck_assert_int_eq(fclose(f), 0);
}

static void make_dir(char *dir, size_t size)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, size, "%s/service.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

/* The test's folder goes when the test passes (a failure keeps it to look at). */
static void remove_dir(const char *dir)
{
	ck_assert_int_eq(nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS), 0);
}

static void set_path(struct sockaddr_un *addr, const char *path)
{
	ck_assert_uint_lt(strlen(path), sizeof(addr->sun_path));
	strcpy(addr->sun_path, path);
}

/* ---- systemd-socket-activate, and a NOTIFY_SOCKET of our own --------- */

typedef struct Activated {
	pid_t pid;            /* systemd-socket-activate, which becomes crosspostd (it execs) */
	int err_fd;           /* its stderr (crosspostd's until it listens) */
	int notify_fd;        /* $NOTIFY_SOCKET, bound here */
	char dir[200];
	char socket_path[300];
	char notify_path[300];
	char config_path[300];
	char log_path[300];
	char said[8192];      /* what came on err_fd */
} Activated;

/* Reads what err_fd has now into a->said. */
static void read_stderr(Activated *a)
{
	size_t n = strlen(a->said);
	ssize_t r;

	while (n + 1 < sizeof(a->said) && (r = read(a->err_fd, a->said + n, sizeof(a->said) - 1 - n)) > 0)
		n += (size_t)r;
	a->said[n] = '\0';
}

/* Starts `systemd-socket-activate -l DIR/broker.sock crosspostd
 * --foreground ...` with NOTIFY_SOCKET=DIR/notify passed on, and returns
 * once it listens (its "Listening on" line): crosspostd is not running
 * yet.  config: the text of DIR/crosspost.conf for --config, or NULL. */
static void activated_start(Activated *a, const char *config)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	char notify_env[400];
	int err_pipe[2], on = 1;
	int64_t deadline;

	memset(a, 0, sizeof(*a));
	make_dir(a->dir, sizeof(a->dir));
	snprintf(a->socket_path, sizeof(a->socket_path), "%s/broker.sock", a->dir);
	snprintf(a->notify_path, sizeof(a->notify_path), "%s/notify", a->dir);
	snprintf(a->config_path, sizeof(a->config_path), "%s/crosspost.conf", a->dir);
	snprintf(a->log_path, sizeof(a->log_path), "%s/broker.log", a->dir);
	snprintf(notify_env, sizeof(notify_env), "NOTIFY_SOCKET=%s", a->notify_path);
	if (config)
		write_file(a->config_path, config);

	a->notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(a->notify_fd, 0);
	set_path(&addr, a->notify_path);
	ck_assert_int_eq(bind(a->notify_fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	/* The sender's pid comes with each datagram. */
	ck_assert_int_eq(setsockopt(a->notify_fd, SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)), 0);

	ck_assert_int_eq(pipe2(err_pipe, O_CLOEXEC), 0);
	a->pid = fork();
	ck_assert_int_ge(a->pid, 0);
	if (a->pid == 0) {
		const char *argv[16] = { "systemd-socket-activate", "-l", a->socket_path, "-E", notify_env,
					 broker_binary(), "--foreground", "--log-level", "debug", "--log-file",
					 a->log_path };
		size_t n = 11;

		if (config) {
			argv[n++] = "--config";
			argv[n++] = a->config_path;
		}
		/* Nothing outlives a test that fails half way. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(err_pipe[1], STDERR_FILENO);
		execvp(argv[0], (char **)argv);
		fprintf(stderr, "cannot run systemd-socket-activate: %s\n", strerror(errno));
		_exit(127);
	}
	close(err_pipe[1]);
	a->err_fd = err_pipe[0];
	fcntl(a->err_fd, F_SETFL, O_NONBLOCK);
	deadline = now_ms() + WAIT_MS;
	while (!strstr(a->said, "Listening on")) {
		struct pollfd p = { .fd = a->err_fd, .events = POLLIN };
		int left = (int)(deadline - now_ms());

		if (left <= 0 || poll(&p, 1, left) <= 0)
			ck_abort_msg("systemd-socket-activate did not say it listens: [%s]", a->said);
		if (p.revents & POLLHUP && !(p.revents & POLLIN))
			ck_abort_msg("systemd-socket-activate exited: [%s]", a->said);
		read_stderr(a);
	}
}

/* The next notification, within WAIT_MS, into text; returns the pid that
 * sent it. */
static pid_t notify_next(Activated *a, char *text, size_t size)
{
	union {
		struct cmsghdr align;
		char buf[CMSG_SPACE(sizeof(struct ucred))];
	} control;
	struct iovec iov = { .iov_base = text, .iov_len = size - 1 };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof(control.buf),
	};
	struct pollfd p = { .fd = a->notify_fd, .events = POLLIN };
	struct cmsghdr *c;
	pid_t pid = 0;
	ssize_t n;

	if (poll(&p, 1, WAIT_MS) != 1) {
		read_stderr(a);
		ck_abort_msg("no notification within %d ms (stderr: [%s])", WAIT_MS, a->said);
	}
	n = recvmsg(a->notify_fd, &msg, 0);
	ck_assert_int_gt(n, 0);
	text[n] = '\0';
	for (c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
			struct ucred cred;

			memcpy(&cred, CMSG_DATA(c), sizeof(cred));
			pid = cred.pid;
		}
	return pid;
}

/* True when a notification is waiting (none should be, at times). */
static bool notify_pending(const Activated *a)
{
	struct pollfd p = { .fd = a->notify_fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

/* One line of a notification: "KEY=..." present as a whole line. */
static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; (p = strstr(p, line)); p += n)
		if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
			return true;
	return false;
}

static void comm_of(pid_t pid, char *comm, size_t size)
{
	char path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(comm, (int)size, f));
	fclose(f);
	comm[strcspn(comm, "\n")] = '\0';
}

/* Waits for pid to exit within WAIT_MS; returns its wait status. */
static int wait_exit(pid_t pid)
{
	int64_t deadline = now_ms() + WAIT_MS;
	int status = 0;

	for (;;) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			return status;
		ck_assert_int_eq(r, 0);
		if (now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			ck_abort_msg("process %d did not exit within %d ms", (int)pid, WAIT_MS);
		}
		/* A child's exit has no descriptor to poll without pidfd;
		 * this is the bounded wait, not a synchronisation. */
		poll(NULL, 0, 5);
	}
}

/* Connects, opens a window and lists it: the broker serves. */
static void expect_served(const Activated *a)
{
	cp_client *client = NULL;
	cp_window *window = NULL;
	cp_window_info *infos = NULL;
	size_t n = 0;

	ck_assert_int_eq(cp_client_new(a->socket_path, &client), 0);
	ck_assert_int_eq(cp_window_open(client, "https://a.example/", "a", &window), 0);
	ck_assert_int_eq(cp_client_list_windows(client, &infos, &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(infos[0].origin, "https://a.example");
	cp_window_info_free(infos, n);
	cp_client_free(client);
}

START_TEST(first_connection_starts_the_broker_which_says_ready_and_stopping)
{
	Activated a;
	char text[4096], comm[64], status_line[512];
	cp_client *client = NULL;
	struct stat st;
	int status;

	activated_start(&a, NULL);
	comm_of(a.pid, comm, sizeof(comm));
	ck_assert_msg(strcmp(comm, "crosspostd") != 0, "crosspostd runs before any connection");
	ck_assert_msg(!notify_pending(&a), "a notification before crosspostd started");

	/* The first connection starts crosspostd, which answers it. */
	ck_assert_int_eq(cp_client_new(a.socket_path, &client), 0);
	ck_assert_int_eq(notify_next(&a, text, sizeof(text)), a.pid);
	ck_assert_msg(has_line(text, "READY=1"), "not READY=1: [%s]", text);
	snprintf(status_line, sizeof(status_line), "STATUS=Listening on %s", a.socket_path);
	ck_assert_msg(has_line(text, status_line), "[%s] lacks [%s]", text, status_line);
	comm_of(a.pid, comm, sizeof(comm));
	ck_assert_str_eq(comm, "crosspostd");
	cp_client_free(client);
	expect_served(&a);
	/* systemd-socket-activate made the socket with the umask's mode;
	 * crosspostd gives it its own, 0600, as to a socket it makes. */
	ck_assert_int_eq(stat(a.socket_path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);

	ck_assert_int_eq(kill(a.pid, SIGTERM), 0);
	ck_assert_int_eq(notify_next(&a, text, sizeof(text)), a.pid);
	ck_assert_msg(has_line(text, "STOPPING=1"), "not STOPPING=1: [%s]", text);
	status = wait_exit(a.pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "crosspostd exited with status %#x", status);
	/* The socket is systemd's: it stays for the next activation. */
	ck_assert_int_eq(lstat(a.socket_path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	close(a.notify_fd);
	close(a.err_fd);
	remove_dir(a.dir);
}
END_TEST

START_TEST(sighup_says_reloading_then_ready_and_the_outcome)
{
	Activated a;
	char text[4096], want[1024];
	cp_client *client = NULL;
	cp_window *window = NULL;
	uint64_t id;
	int status;

	activated_start(&a, "[limits]\nhandshake-timeout = 2s\n");
	ck_assert_int_eq(cp_client_new(a.socket_path, &client), 0);
	ck_assert_int_eq(cp_window_open(client, "https://a.example/", "kept", &window), 0);
	ck_assert_int_eq(notify_next(&a, text, sizeof(text)), a.pid);
	ck_assert_msg(has_line(text, "READY=1"), "not READY=1: [%s]", text);

	/* A good file. */
	ck_assert_int_eq(kill(a.pid, SIGHUP), 0);
	ck_assert_int_eq(notify_next(&a, text, sizeof(text)), a.pid);
	ck_assert_msg(has_line(text, "RELOADING=1"), "not RELOADING=1: [%s]", text);
	ck_assert_msg(strstr(text, "\nMONOTONIC_USEC="), "RELOADING=1 without MONOTONIC_USEC=: [%s]", text);
	snprintf(want, sizeof(want), "STATUS=Reloading %s", a.config_path);
	ck_assert_msg(has_line(text, want), "[%s] lacks [%s]", text, want);
	ck_assert_int_eq(notify_next(&a, text, sizeof(text)), a.pid);
	ck_assert_msg(has_line(text, "READY=1"), "not READY=1 after the reload: [%s]", text);
	snprintf(want, sizeof(want), "STATUS=Listening on %s; reloaded %s", a.socket_path, a.config_path);
	ck_assert_msg(has_line(text, want), "[%s] lacks [%s]", text, want);

	/* A bad file: ready again, with the configuration in force. */
	write_file(a.config_path, "[limits]\nno-such-limit = 1\n");
	ck_assert_int_eq(kill(a.pid, SIGHUP), 0);
	ck_assert_int_eq(notify_next(&a, text, sizeof(text)), a.pid);
	ck_assert_msg(has_line(text, "RELOADING=1"), "not RELOADING=1: [%s]", text);
	ck_assert_int_eq(notify_next(&a, text, sizeof(text)), a.pid);
	ck_assert_msg(has_line(text, "READY=1"), "not READY=1 after a failed reload: [%s]", text);
	ck_assert_msg(strstr(text, "reload failed, configuration in force kept: ") &&
		      strstr(text, "crosspost.conf:2"), "the failure is not in STATUS=: [%s]", text);

	/* The connection and its window lived through both. */
	ck_assert_int_eq(cp_client_lookup(client, "kept", &id), 0);
	ck_assert_uint_eq(id, cp_window_id(window));
	cp_client_free(client);

	ck_assert_int_eq(kill(a.pid, SIGTERM), 0);
	ck_assert_int_eq(notify_next(&a, text, sizeof(text)), a.pid);
	ck_assert_msg(has_line(text, "STOPPING=1"), "not STOPPING=1: [%s]", text);
	status = wait_exit(a.pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "crosspostd exited with status %#x", status);
	close(a.notify_fd);
	close(a.err_fd);
	remove_dir(a.dir);
}
END_TEST

/* ---- LISTEN_FDS by hand: what crosspostd refuses --------------------- */

/* Runs crosspostd with fd as descriptor 3 (and 4 when fd2 >= 0), as
 * systemd passes sockets, and returns its exit status; its stderr goes to
 * err (NUL-terminated). */
static int run_with_fds(int fd, int fd2, const char *socket_arg, char *err, size_t err_size)
{
	int err_pipe[2], status;
	size_t n = 0;
	ssize_t r;
	pid_t pid;

	ck_assert_int_eq(pipe2(err_pipe, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char pid_text[32];
		const char *argv[] = { broker_binary(), "--foreground", socket_arg ? "--socket" : NULL, socket_arg, NULL };

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(err_pipe[1], STDERR_FILENO);
		/* 3 and 4 are what systemd passes: out of the way first (fd
		 * may be 4), then in place, without close-on-exec. */
		dup2(fd, 20);
		if (fd2 >= 0)
			dup2(fd2, 21);
		dup2(20, 3);
		fcntl(3, F_SETFD, 0);
		if (fd2 >= 0) {
			dup2(21, 4);
			fcntl(4, F_SETFD, 0);
		}
		snprintf(pid_text, sizeof(pid_text), "%d", (int)getpid());
		setenv("LISTEN_PID", pid_text, 1);
		setenv("LISTEN_FDS", fd2 >= 0 ? "2" : "1", 1);
		execv(argv[0], (char **)argv);
		_exit(127);
	}
	close(err_pipe[1]);
	/* Bounded: crosspostd refuses at once, or serves until killed. */
	{
		int64_t deadline = now_ms() + WAIT_MS;

		for (;;) {
			struct pollfd p = { .fd = err_pipe[0], .events = POLLIN };
			int left = (int)(deadline - now_ms());

			if (left <= 0 || poll(&p, 1, left) <= 0) {
				kill(pid, SIGKILL);
				break;
			}
			r = read(err_pipe[0], err + n, err_size - 1 - n);
			if (r <= 0)
				break;
			n += (size_t)r;
		}
	}
	err[n] = '\0';
	close(err_pipe[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return status;
}

static int unix_socket(int type, const char *path, bool do_listen)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
	socklen_t len = sizeof(addr);

	ck_assert_int_ge(fd, 0);
	if (path && path[0] == '@') {
		/* An abstract name: a NUL byte, then the name. */
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
		memcpy(addr.sun_path + 1, path + 1, strlen(path) - 1);
	} else if (path) {
		set_path(&addr, path);
	}
	if (path)
		ck_assert_int_eq(bind(fd, (struct sockaddr *)&addr, len), 0);
	if (do_listen)
		ck_assert_int_eq(listen(fd, 8), 0);
	return fd;
}

static void expect_refused(const char *what, int fd, int fd2, const char *socket_arg, const char *needle)
{
	char err[4096];
	int status = run_with_fds(fd, fd2, socket_arg, err, sizeof(err));

	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 1, "%s: status %#x, stderr [%s]", what, status,
		      err);
	ck_assert_msg(strstr(err, needle), "%s: stderr [%s] lacks [%s]", what, err, needle);
	close(fd);
	if (fd2 >= 0)
		close(fd2);
}

START_TEST(a_passed_descriptor_that_is_not_one_listening_unix_stream_socket_is_refused)
{
	char dir[200], path[300], file[300], abstract[64];
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int pair[2], tcp, fd;

	make_dir(dir, sizeof(dir));
	snprintf(file, sizeof(file), "%s/file", dir);
	write_file(file, "not a socket\n");
	fd = open(file, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	expect_refused("a file", fd, -1, NULL, "descriptor 3 that systemd passed is not a socket");

	tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(tcp, 0);
	ck_assert_int_eq(bind(tcp, (struct sockaddr *)&in, sizeof(in)), 0);
	ck_assert_int_eq(listen(tcp, 8), 0);
	expect_refused("TCP", tcp, -1, NULL, "is not an AF_UNIX socket");

	snprintf(path, sizeof(path), "%s/dgram.sock", dir);
	expect_refused("a datagram socket", unix_socket(SOCK_DGRAM, path, false), -1, NULL,
		       "is not a stream socket");
	snprintf(path, sizeof(path), "%s/seqpacket.sock", dir);
	expect_refused("a seqpacket socket", unix_socket(SOCK_SEQPACKET, path, true), -1, NULL,
		       "is not a stream socket");
	snprintf(path, sizeof(path), "%s/bound.sock", dir);
	expect_refused("a socket that does not listen", unix_socket(SOCK_STREAM, path, false), -1, NULL,
		       "is not listening");
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
	close(pair[1]);
	expect_refused("a connection (Accept=yes)", pair[0], -1, NULL, "Accept=yes");
	snprintf(abstract, sizeof(abstract), "@crosspost-check-service-%d", (int)getpid());
	expect_refused("an abstract socket", unix_socket(SOCK_STREAM, abstract, true), -1, NULL,
		       "an abstract socket");

	snprintf(path, sizeof(path), "%s/one.sock", dir);
	snprintf(file, sizeof(file), "%s/two.sock", dir);
	expect_refused("two sockets", unix_socket(SOCK_STREAM, path, true), unix_socket(SOCK_STREAM, file, true),
		       NULL, "systemd passed 2 sockets; crosspostd listens on exactly one");

	snprintf(path, sizeof(path), "%s/passed.sock", dir);
	snprintf(file, sizeof(file), "%s/other.sock", dir);
	expect_refused("--socket naming another path", unix_socket(SOCK_STREAM, path, true), -1, file,
		       "but --socket names");
	remove_dir(dir);
}
END_TEST

START_TEST(a_passed_socket_is_served_and_left_in_place)
{
	char dir[200], path[300];
	cp_client *client = NULL;
	struct stat st;
	int fd, status;
	pid_t pid;

	make_dir(dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s/passed.sock", dir);
	fd = unix_socket(SOCK_STREAM, path, true);
	ck_assert_int_eq(chmod(path, 0666), 0);
	/* --socket naming the same path is fine. */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char pid_text[32];

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (fd != 3)
			dup2(fd, 3);
		fcntl(3, F_SETFD, 0);
		snprintf(pid_text, sizeof(pid_text), "%d", (int)getpid());
		setenv("LISTEN_PID", pid_text, 1);
		setenv("LISTEN_FDS", "1", 1);
		execl(broker_binary(), broker_binary(), "--foreground", "--log-level", "warning", "--socket", path,
		      (char *)NULL);
		_exit(127);
	}
	close(fd);
	/* The socket listens already: the connection waits in its backlog
	 * until crosspostd accepts it. */
	ck_assert_int_eq(cp_client_new(path, &client), 0);
	cp_client_free(client);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0600);
	ck_assert_int_eq(kill(pid, SIGTERM), 0);
	status = wait_exit(pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %#x", status);
	/* The socket is the one who passed it: crosspostd leaves it. */
	ck_assert_int_eq(lstat(path, &st), 0);
	ck_assert(S_ISSOCK(st.st_mode));
	remove_dir(dir);
}
END_TEST

static Suite *service_suite(void)
{
	Suite *s = suite_create("service");
	TCase *tc = tcase_create("systemd");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, first_connection_starts_the_broker_which_says_ready_and_stopping);
	tcase_add_test(tc, sighup_says_reloading_then_ready_and_the_outcome);
	tcase_add_test(tc, a_passed_descriptor_that_is_not_one_listening_unix_stream_socket_is_refused);
	tcase_add_test(tc, a_passed_socket_is_served_and_left_in_place);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return test_run_suite(service_suite());
}
