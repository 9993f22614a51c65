/* SPDX-License-Identifier: MIT */
/* fuzz_value_transfer.c - libFuzzer harness: value_decode_transfer() on untrusted bytes with descriptors and ports, and what a decoded value must satisfy. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "client.h"
#include "crosspost.h"
#include "value_transfer.h"
#include "value_codec.h"
#include "value_internal.h"
#include "value_walk.h"

/*
 * Input: byte 0 picks how many descriptors come with the message (0..7),
 * byte 1 how many ports (0..4), byte 2 rotates the descriptors' order; the
 * rest is the payload.  The descriptors are made once, by the harness:
 * sealed memfds of 0, 100, 65536 and 70000 bytes (the last two mapped,
 * not read), and three that must be refused: a memfd without seals, one
 * sealed against writes only, the read end of a pipe.  The ports are
 * handles made here too (the decoder only stores them).
 *
 * Beyond "no crash, no sanitizer report, no leak, no timeout", every run
 * checks (abort() on violation):
 *  - decoding fails with CP_ERR_DATA (or CP_ERR_NO_MEMORY) and gives
 *    nothing, or gives a value;
 *  - no descriptor is left open by either, and none of the harness's is
 *    closed;
 *  - a decoded value, its ports and (up to FRAME_FDS_MAX of) its buffers in
 *    the transfer list, encodes and seals; that decodes with the sealed
 *    memfds and the same ports to an equal value;
 *  - its clone is equal to it; without ports, its JSON reads back equal.
 */

#define CHECK(cond)                                                                          \
	do {                                                                                 \
		if (!(cond)) {                                                               \
			fprintf(stderr, "fuzz_value_transfer: check failed: %s (line %d): %s\n", \
				#cond, __LINE__, cp_last_error_message());                   \
			abort();                                                             \
		}                                                                            \
	} while (0)

#define N_FDS 7
#define N_PORTS 4
/* Descriptors looked at for leaks: the harness's own are below this. */
#define FD_SCAN 256

static int pool_fds[N_FDS];
static cp_port *pool_ports[N_PORTS];

static int sealed_memfd(size_t len, int seals)
{
	int fd = memfd_create("fuzz", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	CHECK(fd >= 0);
	CHECK(ftruncate(fd, (off_t)len) == 0);
	if (len) {
		uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

		CHECK(p != MAP_FAILED);
		for (size_t i = 0; i < len; i++)
			p[i] = (uint8_t)(i * 13);
		munmap(p, len);
	}
	if (seals)
		CHECK(fcntl(fd, F_ADD_SEALS, seals) == 0);
	return fd;
}

static void pool_init(void)
{
	const int all = F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL;
	int pipe_fds[2];

	if (pool_ports[0])
		return;
	CHECK(pipe(pipe_fds) == 0);
	pool_fds[0] = sealed_memfd(0, all);
	pool_fds[1] = sealed_memfd(100, all);
	pool_fds[2] = sealed_memfd(70000, all);
	pool_fds[3] = sealed_memfd(10, 0);
	pool_fds[4] = sealed_memfd(100, F_SEAL_WRITE);
	pool_fds[5] = pipe_fds[0];
	pool_fds[6] = sealed_memfd(65536, all);
	for (int i = 0; i < N_PORTS; i++) {
		pool_ports[i] = calloc(1, sizeof(*pool_ports[i]));
		CHECK(pool_ports[i]);
		pool_ports[i]->id = 1000 + (uint64_t)i;
		pool_ports[i]->state = CP_PORT_OPEN;
	}
}

static uint64_t open_fds(void)
{
	uint64_t bits[FD_SCAN / 64] = { 0 }, h = 0;

	for (int fd = 0; fd < FD_SCAN; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			bits[fd / 64] |= 1ull << (fd % 64);
	for (int i = 0; i < FD_SCAN / 64; i++)
		h = h * 0x9e3779b97f4a7c15ull + bits[i];
	return h;
}

/* The transfer list that moves everything v holds that can move: its
 * ports (one node each) and up to FRAME_FDS_MAX of its buffers. */
static size_t transfer_list(const cp_value *v, cp_value ***ret, bool *ret_has_ports)
{
	struct ptrvec nodes = { 0 };
	struct ptrmap index = { 0 }, ports = { 0 };
	size_t n = 0, n_buffers = 0;
	cp_value **list;

	CHECK(value_collect(v, &nodes, &index) == 0);
	list = calloc(nodes.count + 1, sizeof(*list));
	CHECK(list);
	*ret_has_ports = false;
	for (size_t i = 0; i < nodes.count; i++) {
		cp_value *node = nodes.items[i];

		if (cp_value_get_type(node) == CP_VALUE_PORT) {
			*ret_has_ports = true;
			if (ptrmap_put(&ports, cp_value_port(node), 1, NULL) == 1)
				list[n++] = node;
		} else if (cp_value_get_type(node) == CP_VALUE_ARRAY_BUFFER && n_buffers < FRAME_FDS_MAX) {
			list[n++] = node;
			n_buffers++;
		}
	}
	ptrvec_deinit(&nodes);
	ptrmap_deinit(&index);
	ptrmap_deinit(&ports);
	*ret = list;
	return n;
}

static void check_transfer_roundtrip(cp_value *v)
{
	cp_value **list, *w = NULL;
	bool has_ports;
	size_t n = transfer_list(v, &list, &has_ports), len = 0;
	int fds[FRAME_FDS_MAX];
	ValueTransfer moved;
	uint8_t *bytes = NULL;
	int r;

	CHECK(value_encode_transfer(v, list, n, &bytes, &len, &moved) == 0);
	r = value_transfer_seal(&moved, fds);
	CHECK(r == 0 || r == CP_ERR_NO_MEMORY);
	if (r == 0) {
		CHECK(value_decode_transfer(bytes, len, fds, moved.n_buffers, moved.ports, moved.n_ports, &w) == 0);
		CHECK(cp_value_equal(v, w));
		CHECK(cp_value_equal(w, v));
		for (size_t i = 0; i < moved.n_buffers; i++)
			close(fds[i]);
	}
	/* Not sent: everything stays the sender's. */
	value_transfer_finish(&moved, false);
	for (size_t i = 0; i < n; i++)
		CHECK(!cp_value_array_buffer_is_detached(list[i]));
	cp_value_free(w);
	free(bytes);
	free(list);
	if (!has_ports) {
		char *text = cp_value_to_json(v), *text2;
		cp_value *j = NULL;

		CHECK(text);
		r = cp_value_from_json(text, strlen(text), NULL, &j);
		if (r == 0) {
			CHECK(cp_value_equal(v, j));
			text2 = cp_value_to_json(j);
			CHECK(text2 && strcmp(text, text2) == 0);
			free(text2);
		} else {
			CHECK(r == CP_ERR_SYNTAX && strstr(cp_last_error_message(), "depth"));
		}
		free(text);
		cp_value_free(j);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fds[N_FDS];
	size_t n_fds, n_ports;
	cp_value *v = NULL, *c;
	uint64_t before;
	int r;

	pool_init();
	if (size < 3)
		return 0;
	n_fds = data[0] % (N_FDS + 1);
	n_ports = data[1] % (N_PORTS + 1);
	for (size_t i = 0; i < N_FDS; i++)
		fds[i] = pool_fds[(i + data[2]) % N_FDS];
	before = open_fds();
	r = value_decode_transfer(data + 3, size - 3, fds, n_fds, pool_ports, n_ports, &v);
	if (r < 0) {
		CHECK(r == CP_ERR_DATA || r == CP_ERR_NO_MEMORY);
		CHECK(v == NULL);
		CHECK(open_fds() == before);
		return 0;
	}
	check_transfer_roundtrip(v);
	c = cp_value_clone(v);
	CHECK(c && cp_value_equal(c, v));
	cp_value_free(c);
	cp_value_free(v);
	CHECK(open_fds() == before);
	return 0;
}
