/* SPDX-License-Identifier: MIT */
/* broker_fixture.c - a private broker, a clock and failure, for benchmarks. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "broker_fixture.h"
#include "crosspost.h"

void bench_broker_start(BenchBroker *b, const char *bench)
{
	const char *bin = getenv("CROSSPOSTD");
	char dir[] = "/tmp/cpbench.XXXXXX";

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(b->socket_path, sizeof(b->socket_path), "%s/broker.sock", dir);
	b->pid = fork();
	if (b->pid == 0) {
		execl(bin && *bin ? bin : "build/crosspostd", "crosspostd", "--foreground",
		      "--log-level", "warning", "--socket", b->socket_path, (char *)NULL);
		_exit(127);
	}
	/* Readiness: poll until the socket accepts (5 s cap). */
	for (int i = 0; i < 500; i++) {
		struct sockaddr_un addr = { .sun_family = AF_UNIX };
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		strcpy(addr.sun_path, b->socket_path);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
			close(fd);
			return;
		}
		if (fd >= 0)
			close(fd);
		usleep(10000);
	}
	fprintf(stderr, "%s: the broker did not start\n", bench);
	exit(1);
}

void bench_broker_stop(BenchBroker *b)
{
	char *slash;

	kill(b->pid, SIGTERM);
	waitpid(b->pid, NULL, 0);
	unlink(b->socket_path);
	slash = strrchr(b->socket_path, '/');
	if (slash) {
		*slash = '\0';
		rmdir(b->socket_path);
	}
}

double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void bench_die(const char *bench, const char *what, int code)
{
	fprintf(stderr, "%s: %s: %s: %s\n", bench, what, cp_error_name(code), cp_last_error_message());
	exit(1);
}
