/* SPDX-License-Identifier: MIT */
/* broker_fixture.h - what every benchmark needs: a private crosspostd, a
 * clock, and a way to give up. */
#ifndef CP_BENCH_BROKER_FIXTURE_H
#define CP_BENCH_BROKER_FIXTURE_H

#include <sys/types.h>

typedef struct BenchBroker {
	pid_t pid;
	char socket_path[256];
} BenchBroker;

/* Starts $CROSSPOSTD (default build/crosspostd) on a socket in a fresh
 * temporary folder and returns once it accepts connections; exits the
 * benchmark (naming `bench`) if it does not. */
void bench_broker_start(BenchBroker *broker, const char *bench);
/* SIGTERM, wait, remove the socket and its folder. */
void bench_broker_stop(BenchBroker *broker);

/* Monotonic seconds. */
double bench_now(void);

/* Prints "BENCH: WHAT: NAME: message" for a failed libcrosspost call and exits 1. */
void bench_die(const char *bench, const char *what, int code) __attribute__((noreturn));

#endif
