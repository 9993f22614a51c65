/* SPDX-License-Identifier: MIT */
/*
 * workload.h - the workloads of `make bench` (docs/performance.md), written
 * once over a small transport interface, so that crosspost and every peer
 * (a direct socketpair, the epoll relay, dbus-broker, dbus-daemon, a ZeroMQ
 * proxy) run exactly the same code around their own client API.
 *
 * Each xp_*.c program lists its transports and calls workload_main():
 *
 *   xp_NAME TRANSPORT probe                   "ok" or "na REASON"
 *   xp_NAME TRANSPORT rtt SIZE N              round trip: p50/p99 in us
 *   xp_NAME TRANSPORT oneway SIZE N           pipelined one-way: msgs/s, MB/s,
 *                                             server CPU per message
 *   xp_NAME TRANSPORT fanin SENDERS SIZE SECONDS
 *                                             SENDERS processes to one receiver:
 *                                             msgs/s, min/mean per-sender share
 *   xp_NAME TRANSPORT idle CONNS PER          server RSS per idle connection
 *   xp_NAME TRANSPORT scale CONNS PER SIZE N  oneway while CONNS connections
 *                                             holding PER windows each are open
 *
 * and prints one line, "result key=value ...", or "na REASON" when the
 * transport cannot run here (exit 0 both), or an error on stderr (exit 1).
 */
#ifndef CP_BENCH_WORKLOAD_H
#define CP_BENCH_WORKLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The server a transport runs (broker, relay, daemon, proxy), started by
 * the xp_* process before it forks the endpoints, which inherit it. */
typedef struct BenchServer {
	pid_t pid;              /* whose CPU time and RSS count as the server's; 0: none */
	pid_t helper_pid;       /* another process to stop with it (dbus-broker's controller) */
	char dir[64];           /* a private temporary folder, removed by stop */
	char address[256];      /* transport-specific: a socket path, a D-Bus address */
	int fds[2];             /* the direct transport's socketpair */
	unsigned idle_hint;     /* idle connections the run will open (limits to raise) */
} BenchServer;

typedef struct Endpoint Endpoint;

enum {
	ROLE_RECEIVER = 0,      /* the one receiver ("rx"), or the echo of a round trip */
	ROLE_SENDER = 1,        /* a sender, or the ping of a round trip */
};

typedef struct Transport {
	const char *name;
	/* How many senders may talk to one receiver (1: point-to-point only). */
	unsigned max_senders;
	/* 0 when usable on this machine; else a reason in why (printed "na"). */
	int (*probe)(char *why, size_t why_len);
	/* Starts the server: 0, or -1 with the reason on stderr. */
	int (*start)(BenchServer *s);
	void (*stop)(BenchServer *s);
	/* In the process that will use it: one connection.  A receiver makes
	 * itself reachable as "rx"; a sender (index: its number among senders)
	 * waits until "rx" is reachable.  NULL on failure, reason on stderr. */
	Endpoint *(*open)(BenchServer *s, int role, unsigned index);
	/* Sets the bytes every later send carries (copied, or referenced once). */
	int (*prepare)(Endpoint *e, const uint8_t *bytes, size_t len);
	/* Sends the prepared bytes to "rx" (or to the echo), as one message. */
	int (*send)(Endpoint *e);
	/* Optional: writes what send() queued, before the sender waits
	 * outside the transport (a batching client queues its sends). */
	int (*flush)(Endpoint *e);
	/* Blocks for the next message; its bytes stay valid until the next
	 * recv, echo or close. */
	int (*recv)(Endpoint *e, const uint8_t **ret, size_t *ret_len);
	/* Sends the last received message back to its sender. */
	int (*echo)(Endpoint *e);
	/* Optional: sends the prepared bytes and waits for the answer (how
	 * the transport's users do a call); NULL: send, then recv. */
	int (*call)(Endpoint *e, const uint8_t **ret, size_t *ret_len);
	/* Returns once everything sent has been handed to the server, then
	 * disconnects. */
	void (*close)(Endpoint *e);
	/* Optional: n connections with per windows each, doing nothing. */
	void *(*idle_open)(BenchServer *s, unsigned n, unsigned per);
	void (*idle_close)(void *idle);
} Transport;

/* Runs argv (see above) against one of the n transports. */
int workload_main(int argc, char **argv, const Transport *const *transports, size_t n);

/* -- helpers for transports ------------------------------------------- */

/* Monotonic seconds. */
double bench_clock(void);
/* A fresh /tmp/xp.XXXXXX folder in s->dir; -1 with a message on failure. */
int server_make_dir(BenchServer *s, const char *what);
/* Removes s->dir and what is in it (one level). */
void server_remove_dir(BenchServer *s);
/* SIGTERM to pid, then SIGKILL after 2 s; reaps it. */
void stop_process(pid_t pid);
/* Waits until connect() to the unix socket path succeeds (10 s cap);
 * when pid > 0, fails early if that process exited.  0 or -1. */
int wait_for_socket(const char *path, pid_t pid);
/* Connects to the unix stream socket path: the fd, or -1 (errno). */
int connect_unix(const char *path);
/* pid's VmRSS in KiB (/proc/PID/status); -1 when unknown. */
long proc_rss_kib(pid_t pid);
/* utime + stime of pid, all threads, in seconds; -1 when unknown. */
double proc_cpu_seconds(pid_t pid);
/* Open descriptors of pid; -1 when unknown. */
long proc_fd_count(pid_t pid);
/* Prints "PROGRAM: message" to stderr and exits 1. */
void bench_fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

#endif
