/* SPDX-License-Identifier: MIT */
/* bench_value.c - value codec throughput (MB/s of payload) for a large nested document and a 64 MiB
 * ArrayBuffer, and how many times the buffer's bytes are copied per encode and per decode. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "crosspost.h"
#include "value_codec.h"

#define BUFFER_SIZE (64u << 20)
#define PAGE 4096.0

static volatile uint8_t sink;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long minor_faults(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

/* The system's shared memory in bytes (/proc/meminfo "Shmem"): a buffer
 * decoded into a memfd is copied by write(), in the kernel, which page
 * faults do not see; the shmem it allocates does. */
static double shmem_bytes(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	long kib = 0;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Shmem: %ld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return (double)kib * 1024;
}

static void check(int r, const char *what)
{
	if (r < 0) {
		fprintf(stderr, "bench_value: %s: %s: %s\n", what, cp_error_name(r), cp_last_error_message());
		exit(1);
	}
}

static cp_value *number(double d)
{
	cp_value *v;

	check(cp_value_new_number(d, &v), "number");
	return v;
}

static cp_value *string(const char *s)
{
	cp_value *v;

	check(cp_value_new_string(s, &v), "string");
	return v;
}

static void set(cp_value *o, const char *key, cp_value *v)
{
	check(cp_value_object_set(o, key, v), "set");
}

/* A JSON-like document: 40,000 user records of about 30 nodes each,
 * grouped by 100 (three levels of nesting, keys repeated throughout). */
static cp_value *document(void)
{
	cp_value *root, *groups, *group = NULL, *rec, *addr, *tags, *hist, *h;
	char text[64];
	int i, j;

	check(cp_value_new_object(&root), "object");
	check(cp_value_new_array(&groups), "array");
	set(root, "version", number(3));
	set(root, "groups", groups);
	for (i = 0; i < 40000; i++) {
		if (i % 100 == 0) {
			check(cp_value_new_array(&group), "array");
			check(cp_value_array_push(groups, group), "push");
		}
		check(cp_value_new_object(&rec), "object");
		set(rec, "id", number(i));
		snprintf(text, sizeof(text), "user-%d@example.com", i);
		set(rec, "email", string(text));
		set(rec, "score", number(i * 1.37));
		check(cp_value_new_boolean(i % 3 == 0, &h), "boolean");
		set(rec, "active", h);
		check(cp_value_new_object(&addr), "object");
		set(addr, "street", string("1600 Example Avenue"));
		set(addr, "city", string(i % 2 ? "Springfield" : "Shelbyville"));
		set(addr, "zip", number(10000 + i % 90000));
		set(rec, "address", addr);
		check(cp_value_new_array(&tags), "array");
		check(cp_value_array_push(tags, string("alpha")), "push");
		check(cp_value_array_push(tags, string("beta")), "push");
		set(rec, "tags", tags);
		check(cp_value_new_array(&hist), "array");
		for (j = 0; j < 4; j++) {
			check(cp_value_new_object(&h), "object");
			set(h, "t", number(1700000000000.0 + i * 1000 + j));
			set(h, "v", number(j * 0.5));
			check(cp_value_array_push(hist, h), "push");
		}
		set(rec, "history", hist);
		check(cp_value_array_push(group, rec), "push");
	}
	return root;
}

/* Runs encode and decode of v for at least min_s seconds each; reports
 * MB/s of payload and, with copies, page faults per payload as copies. */
static void measure(const char *name, const cp_value *v, double min_s, bool copies)
{
	uint8_t *bytes = NULL;
	size_t len = 0;
	double t0, enc_s, dec_s, enc_faults = 0, dec_faults = 0, dec_shmem = 0, shmem0;
	long f0;
	int n_enc = 0, n_dec = 0;
	cp_value *out;

	t0 = now_s();
	do {
		free(bytes);
		f0 = minor_faults();
		check(value_encode(v, &bytes, &len), "encode");
		enc_faults += (double)(minor_faults() - f0);
		n_enc++;
	} while (now_s() - t0 < min_s);
	enc_s = (now_s() - t0) / n_enc;
	t0 = now_s();
	do {
		f0 = minor_faults();
		shmem0 = copies ? shmem_bytes() : 0;
		check(value_decode(bytes, len, &out), "decode");
		dec_faults += (double)(minor_faults() - f0);
		dec_shmem += copies ? shmem_bytes() - shmem0 : 0;
		cp_value_free(out);
		n_dec++;
	} while (now_s() - t0 < min_s);
	dec_s = (now_s() - t0) / n_dec;
	/* Time per operation too: MB/s depends on how compact the payload is. */
	printf("%-34s payload %8.2f MB   encode %8.1f MB/s (%7.1f ms)   decode %8.1f MB/s (%7.1f ms)\n", name,
	       len / 1e6, len / 1e6 / enc_s, enc_s * 1e3, len / 1e6 / dec_s, dec_s * 1e3);
	if (copies)
		/* Each fresh copy of the bytes lands in newly mapped pages (glibc
		 * maps blocks this large), so page faults count the copies; and
		 * the decoder writes a buffer this large into a memfd, whose
		 * pages show as shmem. */
		printf("%-34s copies of the buffer's bytes: encode %.2f, decode %.2f\n", "",
		       enc_faults / n_enc * PAGE / BUFFER_SIZE,
		       (dec_faults * PAGE + dec_shmem) / n_dec / BUFFER_SIZE);
	free(bytes);
}

int main(void)
{
	cp_value *doc, *buf;
	uint8_t *data, *copy;
	double t0, s;
	int i, n = 0;

	doc = document();
	measure("nested document (1.2M nodes)", doc, 2.0, false);
	cp_value_free(doc);

	data = malloc(BUFFER_SIZE);
	if (!data)
		return 1;
	for (i = 0; i < (int)BUFFER_SIZE; i++)
		data[i] = (uint8_t)(i * 2654435761u >> 24);
	check(cp_value_new_array_buffer_take(data, BUFFER_SIZE, &buf), "array buffer");
	measure("64 MiB ArrayBuffer", buf, 2.0, true);

	/* For scale: one memcpy of the same bytes into fresh memory. */
	t0 = now_s();
	do {
		copy = malloc(BUFFER_SIZE);
		if (!copy)
			return 1;
		memcpy(copy, data, BUFFER_SIZE);
		/* Read it back, or the compiler drops the copy. */
		sink += copy[(size_t)n * 4099 % BUFFER_SIZE];
		free(copy);
		n++;
	} while (now_s() - t0 < 1.0);
	s = (now_s() - t0) / n;
	printf("%-34s %8.1f MB/s (reference: one copy into fresh memory)\n", "memcpy 64 MiB", BUFFER_SIZE / 1e6 / s);
	cp_value_free(buf);
	return 0;
}
