/* SPDX-License-Identifier: MIT */
/* fixture.c - a private broker per test, raw frames, event inboxes. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "fixture.h"

static const char *broker_binary(void)
{
	const char *path = getenv("CROSSPOSTD");

	return path && *path ? path : "build/crosspostd";
}

static int try_connect(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strncpy(addr.sun_path, path, sizeof(addr.sun_path) - 1);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0)
		return fd;
	if (fd >= 0)
		close(fd);
	return -1;
}

/* Starts crosspostd on b's socket and waits until it accepts. */
static void launch(TestBroker *b, int log_flags)
{
	int fd;

	b->pid = fork();
	ck_assert_int_ge(b->pid, 0);
	if (b->pid == 0) {
		int log = open(b->log_path, O_WRONLY | O_CREAT | log_flags, 0600);

		if (log >= 0)
			dup2(log, STDERR_FILENO);
		execl(broker_binary(), "crosspostd", "--foreground", "--log-level", "debug",
		      "--socket", b->socket_path, (char *)NULL);
		_exit(127);
	}
	/* Readiness, not a guess: poll until the socket accepts (10 s cap). */
	for (int i = 0; i < 1000; i++) {
		int status;

		fd = try_connect(b->socket_path);
		if (fd >= 0) {
			close(fd);
			return;
		}
		ck_assert_msg(waitpid(b->pid, &status, WNOHANG) == 0, "crosspostd exited early (%s)",
			      broker_binary());
		usleep(10000);
	}
	ck_abort_msg("crosspostd did not start listening on %s", b->socket_path);
}

void test_broker_start(TestBroker *b)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(b->dir, sizeof(b->dir), "%s/cpbroker.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(b->dir));
	snprintf(b->socket_path, sizeof(b->socket_path), "%s/broker.sock", b->dir);
	snprintf(b->log_path, sizeof(b->log_path), "%s/broker.log", b->dir);
	launch(b, O_TRUNC);
}

void test_broker_kill(TestBroker *b)
{
	if (b->pid <= 0)
		return;
	kill(b->pid, SIGKILL);
	waitpid(b->pid, NULL, 0);
	b->pid = 0;
}

void test_broker_restart(TestBroker *b)
{
	test_broker_kill(b);
	/* The killed broker's socket file stays; the new one replaces it. */
	launch(b, O_APPEND);
}

int test_broker_stop(TestBroker *b)
{
	char cmd[600];
	int status = -1;

	if (b->pid > 0) {
		kill(b->pid, SIGTERM);
		waitpid(b->pid, &status, 0);
		b->pid = 0;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", b->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", b->dir);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int test_broker_log_count(const TestBroker *b, const char *needle)
{
	FILE *f = fopen(b->log_path, "r");
	char line[2048];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			n++;
	fclose(f);
	return n;
}

long test_broker_rss_kib(const TestBroker *b)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)b->pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

int test_broker_fd_count(const TestBroker *b)
{
	char path[64];
	struct dirent *d;
	DIR *dir;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)b->pid);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((d = readdir(dir)))
		if (d->d_name[0] != '.')
			n++;
	closedir(dir);
	return n;
}

int test_broker_settled_fd_count(const TestBroker *b)
{
	cp_client *c = test_client(b);
	int n;

	ck_assert_int_eq(cp_client_sync(c, 5000), 0);
	ck_assert_int_eq(cp_client_sync(c, 5000), 0);
	n = test_broker_fd_count(b);
	cp_client_free(c);
	return n;
}

int test_run_suite(Suite *suite)
{
	SRunner *runner = srunner_create(suite);
	int failed;

	srunner_run_all(runner, CK_NORMAL);
	failed = srunner_ntests_failed(runner);
	srunner_free(runner);
	return failed ? 1 : 0;
}

int test_raw_connect(const TestBroker *b)
{
	int fd = try_connect(b->socket_path);

	ck_assert_int_ge(fd, 0);
	return fd;
}

static void write_all(int fd, const void *data, size_t length)
{
	const char *p = data;

	while (length > 0) {
		ssize_t n = write(fd, p, length);

		if (n < 0 && errno == EINTR)
			continue;
		ck_assert_int_gt(n, 0);
		p += n;
		length -= (size_t)n;
	}
}

void test_raw_send(int fd, const Crosspost__Header *header, const void *payload, size_t length)
{
	size_t header_length = crosspost__header__get_packed_size(header);
	uint8_t *buf = malloc(8 + header_length);
	uint32_t lengths[2] = { (uint32_t)header_length, (uint32_t)length };

	ck_assert_ptr_nonnull(buf);
	memcpy(buf, lengths, 8);    /* the tests run on little-endian machines */
	crosspost__header__pack(header, buf + 8);
	write_all(fd, buf, 8 + header_length);
	if (length)
		write_all(fd, payload, length);
	free(buf);
}

static int read_exact(int fd, void *buf, size_t length)
{
	char *p = buf;

	while (length > 0) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, 5000) <= 0)
			return -1;
		n = read(fd, p, length);
		if (n <= 0)
			return -1;
		p += n;
		length -= (size_t)n;
	}
	return 0;
}

Crosspost__Header *test_raw_read(int fd)
{
	uint32_t lengths[2];
	Crosspost__Header *h;
	uint8_t *buf;

	if (read_exact(fd, lengths, 8) < 0)
		return NULL;
	buf = malloc(lengths[0] + lengths[1] + 1);
	ck_assert_ptr_nonnull(buf);
	if (read_exact(fd, buf, lengths[0] + lengths[1]) < 0) {
		free(buf);
		return NULL;
	}
	h = crosspost__header__unpack(NULL, lengths[0], buf);
	free(buf);
	return h;
}

void test_raw_send_part(int fd, const Crosspost__Header *header, const void *payload, size_t length,
			int half)
{
	size_t header_length = crosspost__header__get_packed_size(header), first = length / 10 * 9;
	uint8_t *buf;
	uint32_t lengths[2] = { (uint32_t)header_length, (uint32_t)length };

	if (half == 1) {
		write_all(fd, (const uint8_t *)payload + first, length - first);
		return;
	}
	buf = malloc(8 + header_length);
	ck_assert_ptr_nonnull(buf);
	memcpy(buf, lengths, 8);
	crosspost__header__pack(header, buf + 8);
	write_all(fd, buf, 8 + header_length);
	write_all(fd, payload, first);
	free(buf);
}

void test_raw_send_fds(int fd, const Crosspost__Header *header, const void *payload, size_t length,
		       const int *fds, size_t n_fds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 64)];
		struct cmsghdr align;
	} control;
	size_t header_length = crosspost__header__get_packed_size(header);
	uint8_t *buf = malloc(8 + header_length);
	uint32_t lengths[2] = { (uint32_t)header_length, (uint32_t)length };
	struct iovec iov = { .iov_base = buf, .iov_len = 1 };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cmsg;

	ck_assert_ptr_nonnull(buf);
	ck_assert_uint_le(n_fds, 64);
	memcpy(buf, lengths, 8);
	crosspost__header__pack(header, buf + 8);
	msg.msg_control = control.buf;
	msg.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
	cmsg = CMSG_FIRSTHDR(&msg);
	cmsg->cmsg_level = SOL_SOCKET;
	cmsg->cmsg_type = SCM_RIGHTS;
	cmsg->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
	memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * n_fds);
	/* The descriptors ride on the frame's first byte. */
	ck_assert_int_eq(sendmsg(fd, &msg, 0), 1);
	write_all(fd, buf + 1, 8 + header_length - 1);
	if (length)
		write_all(fd, payload, length);
	free(buf);
}

int test_sealed_memfd(size_t size, unsigned char byte)
{
	int fd = memfd_create("crosspost-test", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	unsigned char chunk[4096];

	ck_assert_int_ge(fd, 0);
	memset(chunk, byte, sizeof(chunk));
	for (size_t done = 0; done < size; done += sizeof(chunk)) {
		size_t n = size - done < sizeof(chunk) ? size - done : sizeof(chunk);
		ck_assert_int_eq(write(fd, chunk, n), (ssize_t)n);
	}
	ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL), 0);
	return fd;
}

int test_own_fd_count(void)
{
	struct dirent *d;
	DIR *dir = opendir("/proc/self/fd");
	int n = 0;

	ck_assert_ptr_nonnull(dir);
	while ((d = readdir(dir)))
		if (d->d_name[0] != '.')
			n++;
	closedir(dir);
	return n - 1;    /* not the directory's own descriptor */
}

uint64_t test_raw_register(int fd, const char *url)
{
	Crosspost__Header h = CROSSPOST__HEADER__INIT, *reply = test_raw_hello(fd, 1);
	Crosspost__Register reg = CROSSPOST__REGISTER__INIT;
	uint64_t id;

	ck_assert_ptr_nonnull(reply);
	ck_assert_int_eq(reply->body_case, CROSSPOST__HEADER__BODY_WELCOME);
	crosspost__header__free_unpacked(reply, NULL);
	reg.url = (char *)url;
	h.serial = 2;
	h.body_case = CROSSPOST__HEADER__BODY_REGISTER;
	h.register_ = &reg;
	test_raw_send(fd, &h, NULL, 0);
	reply = test_raw_read(fd);
	ck_assert_ptr_nonnull(reply);
	ck_assert_int_eq(reply->body_case, CROSSPOST__HEADER__BODY_REGISTERED);
	id = reply->registered->window_id;
	crosspost__header__free_unpacked(reply, NULL);
	return id;
}

Crosspost__Header *test_raw_hello(int fd, uint32_t version)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__Hello hello = CROSSPOST__HELLO__INIT;

	hello.version = version;
	header.serial = 1;
	header.body_case = CROSSPOST__HEADER__BODY_HELLO;
	header.hello = &hello;
	test_raw_send(fd, &header, NULL, 0);
	return test_raw_read(fd);
}

int test_raw_wait_closed(int fd)
{
	char buf[4096];

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;

		if (poll(&pfd, 1, 5000) <= 0)
			return 0;
		n = read(fd, buf, sizeof(buf));
		if (n == 0 || (n < 0 && errno == ECONNRESET))
			return 1;
		if (n < 0)
			return 0;
	}
}

cp_client *test_client(const TestBroker *b)
{
	cp_client *c = NULL;
	int r = cp_client_new(b->socket_path, &c);

	ck_assert_msg(r == 0, "cp_client_new: %s: %s", cp_error_name(r), cp_last_error_message());
	return c;
}

cp_value *test_value(const char *json)
{
	cp_value *v = NULL;
	int r = cp_value_from_json(json, strlen(json), NULL, &v);

	ck_assert_msg(r == 0, "cp_value_from_json(%s): %s", json, cp_last_error_message());
	return v;
}

void test_inbox_callback(cp_window *window, const cp_event *ev, void *userdata)
{
	TestInbox *inbox = userdata;
	size_t i = inbox->count;

	(void)window;
	ck_assert_uint_lt(i, sizeof(inbox->json) / sizeof(inbox->json[0]));
	inbox->type[i] = cp_event_get_type(ev);
	inbox->json[i] = cp_event_data(ev) ? cp_value_to_json(cp_event_data(ev)) : NULL;
	inbox->origin[i] = strdup(cp_event_origin(ev));
	inbox->source[i] = cp_event_source_id(ev);
	inbox->count++;
}

void test_inbox_clear(TestInbox *inbox)
{
	for (size_t i = 0; i < inbox->count; i++) {
		free(inbox->json[i]);
		free(inbox->origin[i]);
	}
	inbox->count = 0;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

size_t test_inbox_wait(cp_client *client, TestInbox *inbox, size_t n, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;

	while (inbox->count < n) {
		long long left = deadline - now_ms();
		int r;

		if (left <= 0)
			break;
		r = cp_client_wait(client, (int)left);
		if (r < 0)
			break;
	}
	return inbox->count;
}

/* ---- for tests/check_hostile.c ---- */

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/uio.h>

/* The first bytes of a file, for failure messages. */
static void read_head(const char *path, char *out, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;

	if (f) {
		n = fread(out, 1, size - 1, f);
		fclose(f);
	}
	out[n] = '\0';
}

void test_broker_start_args(TestBroker *b, const char *const *extra_args, int nofile_limit)
{
	const char *tmp = getenv("TMPDIR");
	const char *argv[64];
	pid_t parent = getpid();
	size_t n = 0;
	int fd;

	snprintf(b->dir, sizeof(b->dir), "%s/cpbroker.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(b->dir));
	snprintf(b->socket_path, sizeof(b->socket_path), "%s/broker.sock", b->dir);
	snprintf(b->log_path, sizeof(b->log_path), "%s/broker.log", b->dir);
	argv[n++] = "crosspostd";
	argv[n++] = "--foreground";
	argv[n++] = "--log-level";
	argv[n++] = "debug";
	argv[n++] = "--socket";
	argv[n++] = b->socket_path;
	for (size_t i = 0; extra_args && extra_args[i]; i++) {
		ck_assert_uint_lt(n, 63);
		argv[n++] = extra_args[i];
	}
	argv[n] = NULL;
	b->pid = fork();
	ck_assert_int_ge(b->pid, 0);
	if (b->pid == 0) {
		int log = open(b->log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (log >= 0)
			dup2(log, STDERR_FILENO);
		close_range(3, ~0u, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		if (nofile_limit > 0) {
			struct rlimit rl = { (rlim_t)nofile_limit, (rlim_t)nofile_limit };

			if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
				_exit(126);
		}
		execv(broker_binary(), (char *const *)argv);
		_exit(127);
	}
	for (int i = 0; i < 1000; i++) {
		int status;

		fd = try_connect(b->socket_path);
		if (fd >= 0) {
			close(fd);
			return;
		}
		if (waitpid(b->pid, &status, WNOHANG) == b->pid) {
			char log[512];

			b->pid = 0;
			read_head(b->log_path, log, sizeof(log));
			ck_abort_msg("crosspostd (%s) exited with status %d instead of listening; its log: %s",
				     broker_binary(), WIFEXITED(status) ? WEXITSTATUS(status) : -1, log);
		}
		usleep(10000);
	}
	ck_abort_msg("crosspostd did not start listening on %s", b->socket_path);
}

int test_crosspostd_run(const char *const *args, const char *socket_path, int timeout_ms,
			char *output, size_t output_size)
{
	const char *argv[64];
	long long deadline = now_ms() + timeout_ms;
	size_t n = 0, got = 0;
	int pipe_fds[2], status, result = -1;
	pid_t pid, parent = getpid();

	argv[n++] = "crosspostd";
	argv[n++] = "--foreground";
	argv[n++] = "--log-level";
	argv[n++] = "debug";
	for (size_t i = 0; args && args[i]; i++) {
		ck_assert_uint_lt(n, 63);
		argv[n++] = args[i];
	}
	argv[n] = NULL;
	ck_assert_int_eq(pipe2(pipe_fds, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		dup2(pipe_fds[1], STDOUT_FILENO);
		dup2(pipe_fds[1], STDERR_FILENO);
		close_range(3, ~0u, 0);
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != parent)
			_exit(127);
		execv(broker_binary(), (char *const *)argv);
		_exit(127);
	}
	close(pipe_fds[1]);
	fcntl(pipe_fds[0], F_SETFL, O_NONBLOCK);
	for (;;) {
		struct pollfd pfd = { .fd = pipe_fds[0], .events = POLLIN };
		char buf[512];
		ssize_t r;
		int fd;

		while ((r = read(pipe_fds[0], buf, sizeof(buf))) > 0) {
			size_t take = (size_t)r < output_size - 1 - got ? (size_t)r : output_size - 1 - got;

			memcpy(output + got, buf, take);
			got += take;
		}
		if (waitpid(pid, &status, WNOHANG) == pid) {
			while ((r = read(pipe_fds[0], buf, sizeof(buf))) > 0) {
				size_t take = (size_t)r < output_size - 1 - got ? (size_t)r : output_size - 1 - got;

				memcpy(output + got, buf, take);
				got += take;
			}
			result = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
			pid = 0;
			break;
		}
		if (socket_path && (fd = try_connect(socket_path)) >= 0) {
			close(fd);
			break;      /* it listens: it accepted the folder */
		}
		if (now_ms() > deadline)
			break;
		poll(&pfd, 1, 20);
	}
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	close(pipe_fds[0]);
	output[got] = '\0';
	return result;
}

long test_broker_cpu_ms(const TestBroker *b)
{
	char path[64], line[1024], *p;
	unsigned long utime = 0, stime = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)b->pid);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
	fclose(f);
	p = strrchr(line, ')');
	ck_assert_ptr_nonnull(p);
	/* state ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime stime */
	ck_assert_int_eq(sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime), 2);
	return (long)((utime + stime) * 1000 / (unsigned long)sysconf(_SC_CLK_TCK));
}

int test_broker_log_lines(const TestBroker *b)
{
	FILE *f = fopen(b->log_path, "r");
	int n = 0, c;

	if (!f)
		return -1;
	while ((c = getc(f)) != EOF)
		if (c == '\n')
			n++;
	fclose(f);
	return n;
}

int test_broker_wait_fd_count(const TestBroker *b, int expected, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	int n;

	for (;;) {
		n = test_broker_settled_fd_count(b);
		if (n == expected || now_ms() > deadline)
			return n;
		usleep(20000);
	}
}

int test_raw_try_connect(const TestBroker *b)
{
	return try_connect(b->socket_path);
}

static int try_write_all(int fd, const void *data, size_t length)
{
	const char *p = data;

	while (length > 0) {
		ssize_t n = send(fd, p, length, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };

			if (poll(&pfd, 1, 5000) <= 0)
				return -1;
			continue;
		}
		if (n <= 0)
			return -1;
		p += n;
		length -= (size_t)n;
	}
	return 0;
}

int test_raw_try_send(int fd, const Crosspost__Header *header, const void *payload, size_t length,
		      const int *fds, size_t n_fds)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 64)];
		struct cmsghdr align;
	} control;
	size_t header_length = crosspost__header__get_packed_size(header);
	uint8_t *buf = malloc(8 + header_length);
	uint32_t lengths[2] = { (uint32_t)header_length, (uint32_t)length };
	struct iovec iov;
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	int r = -1;

	if (!buf || n_fds > 64) {
		free(buf);
		return -1;
	}
	memcpy(buf, lengths, 8);
	crosspost__header__pack(header, buf + 8);
	iov.iov_base = buf;
	iov.iov_len = 1;
	if (n_fds > 0) {
		struct cmsghdr *cmsg;

		msg.msg_control = control.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * n_fds);
		cmsg = CMSG_FIRSTHDR(&msg);
		cmsg->cmsg_level = SOL_SOCKET;
		cmsg->cmsg_type = SCM_RIGHTS;
		cmsg->cmsg_len = CMSG_LEN(sizeof(int) * n_fds);
		memcpy(CMSG_DATA(cmsg), fds, sizeof(int) * n_fds);
	}
	/* The first byte carries the descriptors. */
	for (;;) {
		ssize_t n = sendmsg(fd, &msg, MSG_NOSIGNAL);

		if (n == 1)
			break;
		if (n < 0 && errno == EINTR)
			continue;
		goto out;
	}
	if (try_write_all(fd, buf + 1, 8 + header_length - 1) < 0)
		goto out;
	if (length && try_write_all(fd, payload, length) < 0)
		goto out;
	r = 0;
out:
	free(buf);
	return r;
}

/* Reads exactly length bytes before deadline, keeping descriptors. */
static int recv_exact(int fd, void *buf, size_t length, long long deadline, TestFrame *f)
{
	char *p = buf;

	while (length > 0) {
		union {
			char buf[CMSG_SPACE(sizeof(int) * 64)];
			struct cmsghdr align;
		} control;
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		struct iovec iov = { .iov_base = p, .iov_len = length };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
				      .msg_controllen = sizeof(control.buf) };
		long long left = deadline - now_ms();
		ssize_t n;

		if (left < 0)
			left = 0;
		if (poll(&pfd, 1, (int)left) <= 0)
			return -1;
		n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); n >= 0 && c; c = CMSG_NXTHDR(&msg, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
				int got;

				memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				if (f->n_fds < sizeof(f->fds) / sizeof(f->fds[0]))
					f->fds[f->n_fds++] = got;
				else
					close(got);
			}
		}
		if (n <= 0)
			return -1;
		p += n;
		length -= (size_t)n;
	}
	return 0;
}

int test_raw_recv(int fd, int timeout_ms, TestFrame *f)
{
	long long deadline = now_ms() + timeout_ms;
	uint32_t lengths[2];
	uint8_t *buf;
	size_t total;

	memset(f, 0, sizeof(*f));
	if (recv_exact(fd, lengths, 8, deadline, f) < 0)
		goto fail;
	if (lengths[0] > (16u << 20) || lengths[1] > (256u << 20))
		goto fail;    /* no broker sends that: do not allocate it */
	total = (size_t)lengths[0] + lengths[1];
	buf = malloc(total + 1);
	ck_assert_ptr_nonnull(buf);
	if (recv_exact(fd, buf, total, deadline, f) < 0) {
		free(buf);
		goto fail;
	}
	f->header = crosspost__header__unpack(NULL, lengths[0], buf);
	if (!f->header) {
		free(buf);
		goto fail;
	}
	f->length = lengths[1];
	f->payload = malloc(f->length + 1);
	ck_assert_ptr_nonnull(f->payload);
	memcpy(f->payload, buf + lengths[0], f->length);
	f->payload[f->length] = '\0';
	free(buf);
	return 1;
fail:
	test_frame_clear(f);
	return 0;
}

void test_frame_clear(TestFrame *f)
{
	if (f->header)
		crosspost__header__free_unpacked(f->header, NULL);
	free(f->payload);
	for (size_t i = 0; i < f->n_fds; i++)
		close(f->fds[i]);
	memset(f, 0, sizeof(*f));
}

Crosspost__Header *test_raw_wait_reply(int fd, uint32_t serial, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;

	for (;;) {
		long long left = deadline - now_ms();
		Crosspost__Header *h;
		TestFrame f;

		if (left <= 0 || !test_raw_recv(fd, (int)left, &f))
			return NULL;
		if (f.header->serial == serial && f.header->body_case != CROSSPOST__HEADER__BODY_EVENT &&
		    f.header->body_case != CROSSPOST__HEADER__BODY_PORT_MOVED) {
			h = f.header;
			f.header = NULL;
			test_frame_clear(&f);
			return h;
		}
		test_frame_clear(&f);
	}
}

Crosspost__Header *test_raw_request(int fd, const Crosspost__Header *request, int timeout_ms)
{
	if (test_raw_try_send(fd, request, NULL, 0, NULL, 0) < 0)
		return NULL;
	return test_raw_wait_reply(fd, request->serial, timeout_ms);
}

int test_raw_sync(int fd, uint32_t serial, int timeout_ms)
{
	Crosspost__Header h = CROSSPOST__HEADER__INIT, *reply;
	Crosspost__Sync sync = CROSSPOST__SYNC__INIT;
	int ok;

	h.serial = serial;
	h.body_case = CROSSPOST__HEADER__BODY_SYNC;
	h.sync = &sync;
	reply = test_raw_request(fd, &h, timeout_ms);
	ok = reply && reply->body_case == CROSSPOST__HEADER__BODY_ACK;
	if (reply)
		crosspost__header__free_unpacked(reply, NULL);
	return ok;
}

Crosspost__Header *test_raw_get_stats(int fd, uint32_t serial, int timeout_ms)
{
	Crosspost__Header h = CROSSPOST__HEADER__INIT, *reply;
	Crosspost__GetStats get = CROSSPOST__GET_STATS__INIT;

	h.serial = serial;
	h.body_case = CROSSPOST__HEADER__BODY_GET_STATS;
	h.get_stats = &get;
	reply = test_raw_request(fd, &h, timeout_ms);
	if (reply && reply->body_case != CROSSPOST__HEADER__BODY_STATS) {
		crosspost__header__free_unpacked(reply, NULL);
		reply = NULL;
	}
	return reply;
}

void test_bystander_open(const TestBroker *b, TestBystander *by)
{
	memset(by, 0, sizeof(*by));
	by->fd = test_raw_connect(b);
	by->window = test_raw_register(by->fd, "https://bystander.example/");
	by->serial = 100;
}

static void bystander_note(TestBystander *by, const Crosspost__Header *h)
{
	if (by->n_foreign < sizeof(by->foreign_source) / sizeof(by->foreign_source[0]))
		by->foreign_source[by->n_foreign] = h->event->source_window_id;
	by->n_foreign++;
}

void test_bystander_check(TestBystander *by)
{
	Crosspost__Header post_h = CROSSPOST__HEADER__INIT, sync_h = CROSSPOST__HEADER__INIT;
	Crosspost__Post post = CROSSPOST__POST__INIT;
	Crosspost__Sync sync = CROSSPOST__SYNC__INIT;
	long long deadline = now_ms() + 10000;
	bool own = false, acked = false;
	char payload[32];
	int len;

	len = snprintf(payload, sizeof(payload), "bystander-%u", ++by->rounds);
	post.sender_window_id = by->window;
	post.target_window_id = by->window;
	post.target_origin = (char *)"*";
	post_h.serial = ++by->serial;
	post_h.body_case = CROSSPOST__HEADER__BODY_POST;
	post_h.post = &post;
	sync_h.serial = ++by->serial;
	sync_h.body_case = CROSSPOST__HEADER__BODY_SYNC;
	sync_h.sync = &sync;
	ck_assert_msg(test_raw_try_send(by->fd, &post_h, payload, (size_t)len, NULL, 0) == 0 &&
		      test_raw_try_send(by->fd, &sync_h, NULL, 0, NULL, 0) == 0,
		      "bystander: cannot send: the broker closed its connection");
	while (!acked) {
		long long left = deadline - now_ms();
		const Crosspost__Header *h;
		TestFrame f;
		int got = left > 0 && test_raw_recv(by->fd, (int)left, &f);

		ck_assert_msg(got, "bystander: no answer to its own message (%s)",
			      now_ms() < deadline ? "the broker closed its connection" : "nothing within 10 s");
		h = f.header;
		if (h->body_case == CROSSPOST__HEADER__BODY_EVENT && h->event->target_window_id == by->window &&
		    h->event->source_window_id == by->window && f.length == (size_t)len &&
		    memcmp(f.payload, payload, f.length) == 0)
			own = true;
		else if (h->body_case == CROSSPOST__HEADER__BODY_EVENT)
			bystander_note(by, h);
		else if (h->body_case == CROSSPOST__HEADER__BODY_ERROR)
			ck_abort_msg("bystander: error %d for serial %u: %s", (int)h->error->code, h->serial,
				     h->error->message);
		else if (h->body_case == CROSSPOST__HEADER__BODY_ACK && h->serial == sync_h.serial)
			acked = true;
		test_frame_clear(&f);
	}
	ck_assert_msg(own, "bystander: its own message did not come back before the Ack");
}

Crosspost__Header *test_bystander_stats(TestBystander *by)
{
	Crosspost__Header h = CROSSPOST__HEADER__INIT;
	Crosspost__GetStats get = CROSSPOST__GET_STATS__INIT;
	long long deadline = now_ms() + 10000;

	h.serial = ++by->serial;
	h.body_case = CROSSPOST__HEADER__BODY_GET_STATS;
	h.get_stats = &get;
	ck_assert_msg(test_raw_try_send(by->fd, &h, NULL, 0, NULL, 0) == 0,
		      "bystander: cannot send GetStats: the broker closed its connection");
	for (;;) {
		long long left = deadline - now_ms();
		Crosspost__Header *reply;
		TestFrame f;
		int got = left > 0 && test_raw_recv(by->fd, (int)left, &f);

		ck_assert_msg(got, "bystander: no Stats reply to GetStats (%s)",
			      now_ms() < deadline ? "the broker closed its connection" : "nothing within 10 s");
		if (f.header->body_case == CROSSPOST__HEADER__BODY_EVENT) {
			bystander_note(by, f.header);
		} else if (f.header->serial == h.serial) {
			ck_assert_msg(f.header->body_case == CROSSPOST__HEADER__BODY_STATS,
				      "bystander: GetStats answered with a %s frame",
				      f.header->body_case == CROSSPOST__HEADER__BODY_ERROR ? "error" : "non-Stats");
			reply = f.header;
			f.header = NULL;
			test_frame_clear(&f);
			return reply;
		}
		test_frame_clear(&f);
	}
}

size_t test_bystander_seen_from(const TestBystander *by, uint64_t source)
{
	size_t n = 0, kept = by->n_foreign < 64 ? by->n_foreign : 64;

	for (size_t i = 0; i < kept; i++)
		if (by->foreign_source[i] == source)
			n++;
	return n;
}

void test_bystander_close(TestBystander *by)
{
	if (by->fd >= 0)
		close(by->fd);
	by->fd = -1;
}
