/* SPDX-License-Identifier: MIT */
/* buffers.c - transferred ArrayBuffers must be sealed memfds of the stated size. */
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>

#include "buffers.h"

#define SEALS_REQUIRED (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL)

int buffers_check(const int *fds, size_t n_fds, const uint64_t *sizes, size_t n_sizes, uint32_t max_fds,
		  char *buf, size_t buf_size, const char **ret_reason)
{
	if (n_fds > max_fds) {
		snprintf(buf, buf_size, "%zu transferred buffers in one message; max-fds-per-message is %u",
			 n_fds, max_fds);
		*ret_reason = buf;
		return 1;
	}
	if (n_sizes != n_fds) {
		*ret_reason = "the message states a size for each transferred buffer, and does not here";
		return 1;
	}
	for (size_t i = 0; i < n_fds; i++) {
		struct stat st;
		int seals;

		/* Three syscalls, no mapping: F_GET_SEALS fails (EINVAL) on
		 * anything that is not a memfd or shmem file. */
		if (fstat(fds[i], &st) < 0 || !S_ISREG(st.st_mode)) {
			snprintf(buf, buf_size, "transferred buffer %zu is not a memory file", i);
			*ret_reason = buf;
			return 1;
		}
		seals = fcntl(fds[i], F_GET_SEALS);
		if (seals < 0 || (seals & SEALS_REQUIRED) != SEALS_REQUIRED) {
			snprintf(buf, buf_size, "transferred buffer %zu is not a memfd sealed against "
				 "shrinking, growing, writing and new seals", i);
			*ret_reason = buf;
			return 1;
		}
		if ((uint64_t)st.st_size != sizes[i]) {
			snprintf(buf, buf_size, "transferred buffer %zu holds %lld bytes, not the %llu the "
				 "message states", i, (long long)st.st_size, (unsigned long long)sizes[i]);
			*ret_reason = buf;
			return 1;
		}
	}
	return 0;
}
