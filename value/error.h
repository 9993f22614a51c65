/* SPDX-License-Identifier: MIT */
/* error.h - records the message of a failed libcrosspost call (internal). */
#ifndef CP_ERROR_H
#define CP_ERROR_H

/* Records a printf-style message as this thread's last error and returns
 * code unchanged, so that callers can write `return error_set(CP_ERR_X, ...)`. */
int error_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Maps a negative errno from an internal module to a CP_ERR_* code. */
int error_from_errno(int negative_errno);

#endif
