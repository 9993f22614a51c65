/* SPDX-License-Identifier: MIT */
/* fixture.h - test helpers: a real crosspostd on a private socket, and a raw
 * socket for sending hand-made frames. */
#ifndef CP_TEST_FIXTURE_H
#define CP_TEST_FIXTURE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <check.h>

#include "crosspost.h"
#include "proto/crosspost.pb-c.h"

typedef struct TestBroker {
	pid_t pid;
	char dir[256];
	char socket_path[300];
	char log_path[300];
} TestBroker;

/* Starts $CROSSPOSTD (default build/crosspostd) in the foreground on a socket
 * in a fresh temporary folder, logging at debug level to dir/broker.log, and
 * returns once it accepts connections.  Aborts the test on failure. */
void test_broker_start(TestBroker *broker);
/* SIGKILL and reap (a crash): the folder, the socket file and the log
 * stay.  Does nothing when the broker is not running. */
void test_broker_kill(TestBroker *broker);
/* test_broker_kill() if it runs, then a new broker on the same socket
 * (its log appended to the same file), once it accepts connections. */
void test_broker_restart(TestBroker *broker);
/* SIGTERM, wait, remove the folder.  Returns the broker's exit status. */
int test_broker_stop(TestBroker *broker);
/* How many lines of the broker's log contain needle. */
int test_broker_log_count(const TestBroker *broker, const char *needle);
/* The broker's resident memory in KiB, from /proc. */
long test_broker_rss_kib(const TestBroker *broker);
/* How many descriptors the broker has open. */
int test_broker_fd_count(const TestBroker *broker);
/* The same, measured with one synced client connected, so that every
 * earlier connection's close has been handled by the broker. */
int test_broker_settled_fd_count(const TestBroker *broker);

/* Runs a suite with check and returns the process exit status. */
int test_run_suite(Suite *suite);

/* A connected raw socket (blocking). */
int test_raw_connect(const TestBroker *broker);
/* Sends a frame with the given header and payload bytes. */
void test_raw_send(int fd, const Crosspost__Header *header, const void *payload, size_t length);
/* Sends a frame in two parts: part 0 is the prefix, the header and the
 * first nine tenths of the payload; part 1 the rest. */
void test_raw_send_part(int fd, const Crosspost__Header *header, const void *payload, size_t length,
			int half);
/* The same, with descriptors attached to the frame's first byte. */
void test_raw_send_fds(int fd, const Crosspost__Header *header, const void *payload, size_t length,
		       const int *fds, size_t n_fds);
/* A sealed memfd of size bytes filled with byte, as a transferred buffer. */
int test_sealed_memfd(size_t size, unsigned char byte);
/* How many descriptors this process has open. */
int test_own_fd_count(void);
/* Sends Hello and registers a window at url on a raw connection; returns
 * the window id. */
uint64_t test_raw_register(int fd, const char *url);

/* Sends a Hello with version and reads the answer; returns its header
 * (caller frees with crosspost__header__free_unpacked) or NULL on EOF. */
Crosspost__Header *test_raw_hello(int fd, uint32_t version);
/* Reads one frame's header (payload skipped); NULL at EOF. */
Crosspost__Header *test_raw_read(int fd);
/* True when the peer closed the connection (reads until EOF, 5 s limit). */
int test_raw_wait_closed(int fd);

/* Connects a client to the broker, failing the test on error. */
cp_client *test_client(const TestBroker *broker);
/* A value from tagged JSON text, failing the test on error. */
cp_value *test_value(const char *json);

/* Collects the events a window receives. */
typedef struct TestInbox {
	size_t count;
	char *json[4096];          /* data as tagged JSON; NULL for messageerror */
	char *origin[4096];
	uint64_t source[4096];
	cp_event_type type[4096];
} TestInbox;
void test_inbox_callback(cp_window *window, const cp_event *ev, void *userdata);
void test_inbox_clear(TestInbox *inbox);
/* Waits until inbox holds at least n events (timeout_ms limit); returns count. */
size_t test_inbox_wait(cp_client *client, TestInbox *inbox, size_t n, int timeout_ms);

/* ---- for tests/check_hostile.c: brokers with options, frames with
 * payloads and descriptors, a bystander, and the broker's counters ---- */

/* test_broker_start() with extra arguments after "--socket PATH" (NULL-
 * terminated; NULL for none), and with nofile_limit > 0, RLIMIT_NOFILE set
 * to it in the broker.  The broker gets no descriptor of the test process
 * but its log, and is killed when the test process dies (a failed check
 * exits without teardown).  Aborts the test, quoting the broker's log, when
 * it exits instead of listening. */
void test_broker_start_args(TestBroker *broker, const char *const *extra_args, int nofile_limit);
/* Runs "crosspostd --foreground --log-level debug ARGS..." until it exits,
 * collecting its stdout and stderr in output (NUL-terminated, truncated).
 * Returns its exit status (128 + signal when killed), or -1 when it was
 * still running after timeout_ms or once socket_path (when not NULL)
 * accepted a connection: it is then killed. */
int test_crosspostd_run(const char *const *args, const char *socket_path, int timeout_ms,
			char *output, size_t output_size);
/* The broker's CPU time (user + system) in milliseconds, from /proc. */
long test_broker_cpu_ms(const TestBroker *broker);
/* How many lines the broker's log has. */
int test_broker_log_lines(const TestBroker *broker);
/* Polls test_broker_settled_fd_count() until it equals expected or
 * timeout_ms passed; returns the last count. */
int test_broker_wait_fd_count(const TestBroker *broker, int expected, int timeout_ms);

/* A connected raw socket, or -1 (no assertion: the broker may refuse). */
int test_raw_try_connect(const TestBroker *broker);
/* test_raw_send_fds() that does not assert: 0, or -1 when the socket is
 * closed (EPIPE, ECONNRESET; SIGPIPE is not raised). */
int test_raw_try_send(int fd, const Crosspost__Header *header, const void *payload, size_t length,
		      const int *fds, size_t n_fds);

/* One frame as received, descriptors included. */
typedef struct TestFrame {
	Crosspost__Header *header;
	uint8_t *payload;          /* NUL-terminated copy; length bytes */
	size_t length;
	int fds[64];               /* received with the frame (SCM_RIGHTS) */
	size_t n_fds;
} TestFrame;
/* Reads one whole frame within timeout_ms.  Returns 1, or 0 at end of
 * stream, on timeout, or when the header does not decode (no assertion). */
int test_raw_recv(int fd, int timeout_ms, TestFrame *ret);
/* Frees the header and payload and closes the descriptors. */
void test_frame_clear(TestFrame *frame);
/* Reads frames until the one answering serial (an Error, or any reply
 * with that serial that is not an Event or PortMoved); the others are
 * dropped.  Returns its header (caller frees), NULL at EOF or timeout. */
Crosspost__Header *test_raw_wait_reply(int fd, uint32_t serial, int timeout_ms);
/* Sends request (its serial set by the caller) and waits for the reply. */
Crosspost__Header *test_raw_request(int fd, const Crosspost__Header *request, int timeout_ms);
/* Sends Sync with serial; 1 when its Ack arrives, 0 otherwise. */
int test_raw_sync(int fd, uint32_t serial, int timeout_ms);
/* Sends GetStats with serial; the Stats reply (caller frees), or NULL. */
Crosspost__Header *test_raw_get_stats(int fd, uint32_t serial, int timeout_ms);

/* A well-behaved raw client with one window, connected before an attack:
 * it must go on being served whatever the attacker does. */
typedef struct TestBystander {
	int fd;
	uint64_t window;
	uint32_t serial;
	unsigned rounds;
	size_t n_foreign;              /* events from other windows seen meanwhile */
	uint64_t foreign_source[64];   /* their source window ids (the first 64) */
} TestBystander;
void test_bystander_open(const TestBroker *broker, TestBystander *bystander);
/* Posts a message to its own window through the broker and waits (10 s
 * limit) for it and for a Sync's Ack; fails the test otherwise. */
void test_bystander_check(TestBystander *bystander);
/* Asks for the broker's Stats; fails the test when it gets no Stats reply.
 * The caller frees the returned header (->stats). */
Crosspost__Header *test_bystander_stats(TestBystander *bystander);
/* How many events from window source the bystander has seen. */
size_t test_bystander_seen_from(const TestBystander *bystander, uint64_t source);
void test_bystander_close(TestBystander *bystander);

#endif
