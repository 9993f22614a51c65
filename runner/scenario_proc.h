/* SPDX-License-Identifier: MIT */
/* scenario_proc.h - child processes of `crosspost run`: the clock, waiting with a deadline, exit statuses. */
#ifndef CP_SCENARIO_PROC_H
#define CP_SCENARIO_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Milliseconds on the monotonic clock. */
int64_t proc_now_ms(void);

/* Waits up to timeout_ms for pid to exit and reaps it.  Returns 0 with
 * *ret_status (as from waitpid), -ETIMEDOUT when it is still running, or
 * another negative errno. */
int proc_wait(pid_t pid, int64_t timeout_ms, int *ret_status);

/* Sends sig (when not 0), waits up to timeout_ms, then SIGKILLs and reaps:
 * the process is gone when this returns.  Returns 0 with *ret_status, or a
 * negative errno (the process was not ours). */
int proc_stop(pid_t pid, int sig, int64_t timeout_ms, int *ret_status);

/* "exited with status 3", "killed by signal 9 (Killed)"; into buf. */
const char *proc_describe_status(int status, char *buf, size_t size);

/* Arranges, in a freshly forked child, that it gets sig when the parent
 * dies, so that a runner killed with SIGKILL leaves nothing behind.
 * Returns -1 when the parent (parent_pid) is already gone. */
int proc_die_with_parent(pid_t parent_pid, int sig);

#endif
