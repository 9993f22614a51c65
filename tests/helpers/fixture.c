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

void test_broker_start(TestBroker *b)
{
	const char *tmp = getenv("TMPDIR");
	int fd;

	snprintf(b->dir, sizeof(b->dir), "%s/cpbroker.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(b->dir));
	snprintf(b->socket_path, sizeof(b->socket_path), "%s/broker.sock", b->dir);
	snprintf(b->log_path, sizeof(b->log_path), "%s/broker.log", b->dir);
	b->pid = fork();
	ck_assert_int_ge(b->pid, 0);
	if (b->pid == 0) {
		int log = open(b->log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

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
