/* SPDX-License-Identifier: MIT */
/* cleanup.h - scope-bound cleanup for locals (GCC/Clang cleanup attribute). */
#ifndef CP_CLEANUP_H
#define CP_CLEANUP_H

#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(fn) __attribute__((cleanup(fn)))

/* Defines `static inline void NAMEp(Type **p)` calling `NAME(*p)`. */
#define DEFINE_CLEANUP(Type, fn) \
	static inline void fn##p(Type *p) { if (*p) fn(*p); }

static inline void freep(void *p) { free(*(void **)p); }
static inline void closep(int *fd) { if (*fd >= 0) close(*fd); }

static inline void close_fds(const int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* Hands a pointer over and clears the local so its cleanup does nothing. */
#define steal_pointer(pp) ({ __typeof__(*(pp)) _p = *(pp); *(pp) = NULL; _p; })
#define steal_fd(fdp) ({ int _fd = *(fdp); *(fdp) = -1; _fd; })

#endif
