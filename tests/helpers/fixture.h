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

#endif
