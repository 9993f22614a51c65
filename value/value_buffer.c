/* SPDX-License-Identifier: MIT */
/* value_buffer.c - where an ArrayBuffer's bytes live: malloc'd, or in a memfd that a transfer seals and hands over without copying. */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buffer_pool.h"
#include "crosspost.h"
#include "error.h"
#include "value_internal.h"

/*
 * Five storages (enum value_buffer_storage):
 *
 *  HEAP    malloc'd.  Small buffers, adopted blocks (_take), and large ones
 *          when no descriptor could be had.  A transfer copies the bytes
 *          into a fresh sealed memfd: cheap for small buffers.
 *  POOLED  a block of buffer_pool.h: large received buffers, so that a
 *          stream of them reuses memory already faulted in; or the frame
 *          payload's own block, kept where the bytes lie (offset: where in
 *          it they start), when the sender aligned them.  Otherwise as
 *          HEAP.
 *  SHARED  a memfd of ours, mapped MAP_SHARED and writable.  A transfer
 *          turns the mapping into a private one of the same bytes at the
 *          same address and seals the memfd: no byte is copied.
 *  SEALED  a MAP_PRIVATE (copy-on-write) mapping of a sealed memfd: what a
 *          receiver gets, and what a SHARED buffer becomes once sealed.
 *          The memfd is kept (fd) so that passing the buffer on while it
 *          was never handed out writable (VALUE_F_WRITTEN) sends the same
 *          memfd again; otherwise a transfer copies, as for HEAP.
 *  INLINE  after the node itself, in its allocation: small received
 *          buffers (VALUE_BUFFER_INLINE_MAX), so that a small message costs
 *          one allocation, not two.  Otherwise as HEAP; detaching one
 *          keeps its bytes until the node is freed.
 *
 * A memfd costs a descriptor per buffer, which is why small buffers (and
 * small received ones) stay on the heap: VALUE_BUFFER_SHARED_MIN.  And the
 * buffers of a process keep a quarter of its descriptor limit at most
 * (kept_fd_reserve()): past that, new buffers stay on the heap and
 * received ones keep no memfd, a transfer of them copies once, and the
 * descriptors the application needs for itself are left to it.
 */

/* Every seal a receiver needs before it maps the bytes; F_SEAL_SEAL keeps
 * anyone from loosening them again. */
#define SEALS_REQUIRED (F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK)
#define SEALS_ADDED (SEALS_REQUIRED | F_SEAL_SEAL)

/* Linux 6.3: a memfd that can never be made executable.  Older kernels
 * refuse the flag (EINVAL) and get a plain memfd; kernels with
 * vm.memfd_noexec=2 refuse memfds without it. */
#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif

/* Descriptors kept by buffers (SHARED, and SEALED with an fd), in the
 * whole process: values are not tied to a thread. */
static atomic_size_t kept_fds;

static size_t kept_fds_max(void)
{
	static atomic_size_t max;   /* 0: not known yet */
	size_t m = atomic_load(&max);
	struct rlimit rl;

	if (m)
		return m;
	m = 256;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		m = (size_t)(rl.rlim_cur / 4);
	m = m < 16 ? 16 : m > 65536 ? 65536 : m;
	atomic_store(&max, m);
	return m;
}

static bool kept_fd_reserve(void)
{
	if (atomic_fetch_add(&kept_fds, 1) < kept_fds_max())
		return true;
	atomic_fetch_sub(&kept_fds, 1);
	return false;
}

static void kept_fd_close(int fd)
{
	close(fd);
	atomic_fetch_sub(&kept_fds, 1);
}

static int memfd_new(size_t len)
{
	int fd = memfd_create("crosspost-arraybuffer", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL);

	if (fd < 0 && errno == EINVAL)
		fd = memfd_create("crosspost-arraybuffer", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)len) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

static int write_all(int fd, const uint8_t *data, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pwrite(fd, data + done, len - done, (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (size_t)n;
	}
	return 0;
}

static int read_all(int fd, uint8_t *data, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, data + done, len - done, (off_t)done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		done += (size_t)n;
	}
	return 0;
}

/* Puts len bytes (copied from data, or zeros) in a SHARED memfd; -errno
 * when no memfd or mapping could be had (v unchanged). */
static int shared_init(cp_value *v, const void *data, size_t len)
{
	int fd, r;
	void *p;

	if (!kept_fd_reserve())
		return -EMFILE;
	fd = memfd_new(len);
	if (fd < 0) {
		atomic_fetch_sub(&kept_fds, 1);
		return fd;
	}
	/* write() fills the pages in one kernel loop, without a fault per
	 * page; zeros cost nothing: ftruncate() made them. */
	r = data ? write_all(fd, data, len) : 0;
	p = r == 0 ? mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
	if (p == MAP_FAILED) {
		r = r < 0 ? r : -errno;
		kept_fd_close(fd);
		return r;
	}
	/* Where the system allows huge pages for shmem (shmem_enabled
	 * "advise"), a 2 MiB page table entry instead of 512: filling the
	 * buffer faults less, and sealing it unmaps less. */
	if (len >= 2 * 1024 * 1024)
		madvise(p, len, MADV_HUGEPAGE);
	v->sub = VALUE_BUFFER_SHARED;
	v->u.buffer.data = p;
	v->u.buffer.len = len;
	v->u.buffer.fd = fd;
	return 0;
}

static cp_value *buffer_new(const void *data, size_t len, bool may_share)
{
	cp_value *v = value_alloc(CP_VALUE_ARRAY_BUFFER, 0);

	if (!v)
		return NULL;
	if (may_share && len >= VALUE_BUFFER_SHARED_MIN && shared_init(v, data, len) == 0)
		return v;
	/* Small, or no descriptor to spare: the heap (a transfer copies). */
	if (len) {
		v->u.buffer.data = data ? malloc(len) : calloc(1, len);
		if (!v->u.buffer.data) {
			free(v);
			return NULL;
		}
		if (data)
			memcpy(v->u.buffer.data, data, len);
	}
	v->u.buffer.len = len;
	return v;
}

cp_value *value_buffer_new(const void *data, size_t len)
{
	return buffer_new(data, len, true);
}

/* Where an INLINE buffer's bytes start: the node rounded up to 16 bytes,
 * the alignment malloc gives a HEAP buffer. */
#define INLINE_OFFSET ((sizeof(cp_value) + 15u) & ~(size_t)15u)

cp_value *value_buffer_new_received(const void *data, size_t len)
{
	cp_value *v;

	if (len > 0 && len <= VALUE_BUFFER_INLINE_MAX) {
		v = value_alloc(CP_VALUE_ARRAY_BUFFER, INLINE_OFFSET - sizeof(cp_value) + len);
		if (!v)
			return NULL;
		v->sub = VALUE_BUFFER_INLINE;
		v->u.buffer.data = (uint8_t *)v + INLINE_OFFSET;
		v->u.buffer.len = len;
		memcpy(v->u.buffer.data, data, len);
		return v;
	}
	if (len < BUFFER_POOL_MIN)
		return buffer_new(data, len, false);
	v = value_alloc(CP_VALUE_ARRAY_BUFFER, 0);
	if (!v)
		return NULL;
	v->sub = VALUE_BUFFER_POOLED;
	v->u.buffer.data = buffer_pool_get(len);
	if (!v->u.buffer.data) {
		free(v);
		return NULL;
	}
	memcpy(v->u.buffer.data, data, len);
	v->u.buffer.len = len;
	return v;
}

cp_value *value_buffer_adopt_block(void *block, uint8_t *data, size_t len)
{
	cp_value *v = value_alloc(CP_VALUE_ARRAY_BUFFER, 0);

	if (!v)
		return NULL;
	v->sub = VALUE_BUFFER_POOLED;
	v->u.buffer.data = data;
	v->u.buffer.len = len;
	v->u.buffer.offset = (uint32_t)(data - (uint8_t *)block);
	return v;
}

cp_value *value_buffer_adopt(void *data, size_t len)
{
	cp_value *v = value_alloc(CP_VALUE_ARRAY_BUFFER, 0);

	if (v) {
		v->u.buffer.data = data;
		v->u.buffer.len = len;
	}
	return v;
}

void value_buffer_release(cp_value *v)
{
	switch ((enum value_buffer_storage)v->sub) {
	case VALUE_BUFFER_HEAP:
		free(v->u.buffer.data);
		break;
	case VALUE_BUFFER_POOLED:
		buffer_pool_put(v->u.buffer.data - v->u.buffer.offset);
		break;
	case VALUE_BUFFER_INLINE:
		break;    /* freed with the node */
	case VALUE_BUFFER_SHARED:
	case VALUE_BUFFER_SEALED:
		if (v->u.buffer.len)
			munmap(v->u.buffer.data, v->u.buffer.len);
		if (v->u.buffer.fd >= 0)
			kept_fd_close(v->u.buffer.fd);
		break;
	}
	v->sub = VALUE_BUFFER_HEAP;
	v->u.buffer.data = NULL;
	v->u.buffer.len = 0;
}

void value_buffer_detach(cp_value *v)
{
	value_buffer_release(v);
	v->flags = (uint16_t)((v->flags & ~VALUE_F_WRITTEN) | VALUE_F_DETACHED);
}

/* A fresh memfd holding a copy of the bytes, sealed: for HEAP buffers,
 * and for mappings whose bytes may differ from their memfd. */
static int seal_copy(const cp_value *v, int *ret_fd)
{
	int fd = memfd_new(0), r;

	if (fd < 0)
		return fd;
	r = write_all(fd, v->u.buffer.data, v->u.buffer.len);
	if (r == 0 && fcntl(fd, F_ADD_SEALS, SEALS_ADDED) < 0)
		r = -errno;
	if (r < 0) {
		close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

/* Puts back the writable shared mapping at the buffer's address after
 * sealing failed (the mapping there is a private one of the same,
 * unwritten, bytes).  False when even that failed: the bytes are out of
 * reach (the address space is exhausted); the buffer is then detached
 * rather than left pointing at nothing. */
static bool unseal_restore(cp_value *v)
{
	void *p = mmap(v->u.buffer.data, v->u.buffer.len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		       v->u.buffer.fd, 0);

	if (p != MAP_FAILED)
		return true;
	value_buffer_detach(v);
	return false;
}

/* SHARED to SEALED in place.  F_SEAL_WRITE is refused while a writable
 * shared mapping exists, so ours becomes a private mapping first: mmap
 * with MAP_FIXED replaces it atomically, at the same address, with the
 * same bytes, so pointers handed out stay valid.  Returns 0, or -errno
 * with the buffer as it was (SHARED), or -ENOMEM when it had to be
 * detached (unseal_restore()). */
static int seal_in_place(cp_value *v)
{
	void *p;
	int e;

	if (v->u.buffer.len == 0)
		return -EINVAL;   /* never SHARED: memfds are for large buffers */
	p = mmap(v->u.buffer.data, v->u.buffer.len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED,
		 v->u.buffer.fd, 0);
	if (p == MAP_FAILED) {
		/* Linux may have unmapped the old range before failing. */
		e = errno;
		return unseal_restore(v) ? -e : -ENOMEM;
	}
	if (fcntl(v->u.buffer.fd, F_ADD_SEALS, SEALS_ADDED) < 0) {
		/* Another writable mapping of it exists (a forked child's). */
		e = errno;
		return unseal_restore(v) ? -e : -ENOMEM;
	}
	v->sub = VALUE_BUFFER_SEALED;
	return 0;
}

int value_buffer_seal(cp_value *v, int *ret_fd)
{
	bool sealed_now = false;
	int fd, r;

	if (v->sub == VALUE_BUFFER_SHARED) {
		r = seal_in_place(v);
		if (r < 0 && (v->flags & VALUE_F_DETACHED))
			return error_set(CP_ERR_NO_MEMORY, "cannot map an ArrayBuffer's memfd again");
		/* When it could not be sealed, a copy will do. */
		sealed_now = r == 0;
	}
	/* A memfd sealed just now holds exactly the mapping's bytes; one sealed
	 * earlier does unless a writable pointer was handed out since. */
	if (v->sub == VALUE_BUFFER_SEALED && v->u.buffer.fd >= 0 &&
	    (sealed_now || !(v->flags & VALUE_F_WRITTEN))) {
		fd = fcntl(v->u.buffer.fd, F_DUPFD_CLOEXEC, 0);
		if (fd < 0)
			return error_set(CP_ERR_NO_MEMORY, "cannot duplicate an ArrayBuffer's memfd: %s",
					 strerror(errno));
		*ret_fd = fd;
		return 0;
	}
	r = seal_copy(v, ret_fd);
	if (r < 0)
		return error_set(CP_ERR_NO_MEMORY, "cannot put a %zu-byte ArrayBuffer in a sealed memfd: %s",
				 v->u.buffer.len, strerror(-r));
	return 0;
}

int value_buffer_from_fd(int fd, uint64_t limit, cp_value **ret)
{
	struct stat st;
	cp_value *v;
	size_t len;
	void *p;
	int seals, r;

	/* Only a sealed memfd is safe to map: nobody can change its bytes under
	 * the receiver (F_SEAL_WRITE, and no writable shared mapping is left
	 * when it is set), and nobody can shrink it, which would turn reads of
	 * the mapping into SIGBUS.  F_GET_SEALS fails on other kinds of file. */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return error_set(CP_ERR_DATA, "a transferred ArrayBuffer is not a memfd");
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0)
		return error_set(CP_ERR_DATA, "a transferred ArrayBuffer is not a memfd (it cannot be sealed)");
	if ((seals & SEALS_REQUIRED) != SEALS_REQUIRED)
		return error_set(CP_ERR_DATA, "a transferred ArrayBuffer's memfd is not sealed against writing and resizing");
	if ((uint64_t)st.st_size > limit || (uint64_t)st.st_size > SIZE_MAX / 2)
		return error_set(CP_ERR_DATA, "a transferred ArrayBuffer of %lld bytes is over the size limit "
				 "(%llu bytes for one message's buffers)", (long long)st.st_size,
				 (unsigned long long)VALUE_TRANSFERRED_BUFFER_MAX);
	len = (size_t)st.st_size;
	if (len < VALUE_BUFFER_SHARED_MIN) {
		/* Small: one cheap copy, and no mapping or descriptor to keep. */
		v = value_buffer_new(NULL, len);
		if (!v)
			return error_set(CP_ERR_NO_MEMORY, "out of memory for a %zu-byte ArrayBuffer", len);
		r = read_all(fd, v->u.buffer.data, len);
		if (r < 0) {
			value_free_shallow(v);
			return error_set(CP_ERR_DATA, "cannot read a transferred ArrayBuffer: %s", strerror(-r));
		}
		*ret = v;
		return 0;
	}
	v = value_alloc(CP_VALUE_ARRAY_BUFFER, 0);
	if (!v)
		return error_set(CP_ERR_NO_MEMORY, "out of memory");
	/* Copy-on-write: no byte is copied, and what the receiver writes stays
	 * its own. */
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED) {
		free(v);
		return error_set(CP_ERR_NO_MEMORY, "cannot map a %zu-byte transferred ArrayBuffer: %s", len,
				 strerror(errno));
	}
	v->sub = VALUE_BUFFER_SEALED;
	v->u.buffer.data = p;
	v->u.buffer.len = len;
	/* Kept to pass the buffer on without a copy; without a spare
	 * descriptor, a later transfer copies instead. */
	v->u.buffer.fd = -1;
	if (kept_fd_reserve()) {
		v->u.buffer.fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
		if (v->u.buffer.fd < 0)
			atomic_fetch_sub(&kept_fds, 1);
	}
	*ret = v;
	return 0;
}
