/* SPDX-License-Identifier: MIT */
/* scenario_proc.c - child processes of `crosspost run`: the clock, waiting with a deadline, exit statuses. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "scenario_proc.h"

/* Polling waitpid() with a back-off: short first (most children exit at
 * once), never longer than this between checks. */
#define PROC_POLL_MAX_MS 20

int64_t proc_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int proc_wait(pid_t pid, int64_t timeout_ms, int *ret_status)
{
	int64_t deadline = proc_now_ms() + timeout_ms;
	int delay = 1;

	for (;;) {
		int status;
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid) {
			*ret_status = status;
			return 0;
		}
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r == 0) {
			int64_t left = deadline - proc_now_ms();

			if (left <= 0)
				return -ETIMEDOUT;
			poll(NULL, 0, (int)(left < delay ? left : delay));
			delay = delay * 2 > PROC_POLL_MAX_MS ? PROC_POLL_MAX_MS : delay * 2;
		}
	}
}

int proc_stop(pid_t pid, int sig, int64_t timeout_ms, int *ret_status)
{
	int r;

	if (sig && kill(pid, sig) < 0 && errno != ESRCH)
		return -errno;
	r = proc_wait(pid, sig ? timeout_ms : 0, ret_status);
	if (r != -ETIMEDOUT)
		return r;
	if (kill(pid, SIGKILL) < 0 && errno != ESRCH)
		return -errno;
	for (;;) {
		pid_t w = waitpid(pid, ret_status, 0);

		if (w == pid)
			return 0;
		if (w < 0 && errno != EINTR)
			return -errno;
	}
}

const char *proc_describe_status(int status, char *buf, size_t size)
{
	if (WIFEXITED(status))
		snprintf(buf, size, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, size, "killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(buf, size, "ended with wait status 0x%x", (unsigned)status);
	return buf;
}

int proc_die_with_parent(pid_t parent_pid, int sig)
{
	if (prctl(PR_SET_PDEATHSIG, sig) < 0)
		return -1;
	/* The parent may have died between fork() and prctl(). */
	return getppid() == parent_pid ? 0 : -1;
}
