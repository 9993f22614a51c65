/* SPDX-License-Identifier: MIT */
/* workload.c - round trip, one-way, fan-in, idle and scale workloads over
 * any Transport (workload.h), and the /proc readings they report. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "workload.h"

/* A fan-in receiver counts in a window that opens FANIN_SETTLE_S after
 * every sender was heard from (or FANIN_RAMP_MAX_S after the first
 * message, if some never is): a hundred senders starting together take
 * seconds to settle on some servers (D-Bus brokers queue without
 * pushing back on senders). */
#define FANIN_SETTLE_S 0.5
#define FANIN_RAMP_MAX_S 10.0

static const char *program = "xp";

void bench_fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", program);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

double bench_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int server_make_dir(BenchServer *s, const char *what)
{
	snprintf(s->dir, sizeof(s->dir), "/tmp/xp.XXXXXX");
	if (!mkdtemp(s->dir)) {
		fprintf(stderr, "%s: mkdtemp: %s\n", what, strerror(errno));
		s->dir[0] = '\0';
		return -1;
	}
	return 0;
}

void server_remove_dir(BenchServer *s)
{
	DIR *d;
	struct dirent *ent;
	char path[512];

	if (!s->dir[0])
		return;
	d = opendir(s->dir);
	if (d) {
		while ((ent = readdir(d))) {
			if (!strcmp(ent->d_name, ".") || !strcmp(ent->d_name, ".."))
				continue;
			snprintf(path, sizeof(path), "%s/%s", s->dir, ent->d_name);
			unlink(path);
		}
		closedir(d);
	}
	rmdir(s->dir);
	s->dir[0] = '\0';
}

void stop_process(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGTERM);
	for (int i = 0; i < 200; i++) {
		if (waitpid(pid, NULL, WNOHANG) != 0)
			return;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

int connect_unix(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(addr.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

int wait_for_socket(const char *path, pid_t pid)
{
	for (int i = 0; i < 1000; i++) {
		int fd = connect_unix(path);

		if (fd >= 0) {
			close(fd);
			return 0;
		}
		if (pid > 0 && waitpid(pid, NULL, WNOHANG) == pid)
			return -1;
		usleep(10000);
	}
	return -1;
}

long proc_rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

double proc_cpu_seconds(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long utime, stime;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: fields start
	 * after the last ')'.  utime and stime are fields 14 and 15. */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
		return -1;
	return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

long proc_fd_count(pid_t pid)
{
	char path[64];
	struct dirent *ent;
	long n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((ent = readdir(d)))
		if (ent->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* In a forked endpoint: die with the xp process. */
static void child_init(void)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGPIPE, SIG_IGN);
}

static void full_write(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			bench_fail("write to a pipe: %s", strerror(errno));
		p += n;
		len -= (size_t)n;
	}
}

/* Reads exactly len bytes; false at end of file. */
static bool full_read(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len) {
		ssize_t n = read(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		p += n;
		len -= (size_t)n;
	}
	return true;
}

static uint8_t *make_payload(size_t size, uint32_t index)
{
	uint8_t *bytes = malloc(size ? size : 1);

	if (!bytes)
		bench_fail("out of memory");
	for (size_t i = 0; i < size; i++)
		bytes[i] = (uint8_t)(i * 31 + 7);
	if (size >= sizeof(index))
		memcpy(bytes, &index, sizeof(index));
	return bytes;
}

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int wait_child(pid_t pid, const char *what)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	fprintf(stderr, "%s: the %s process failed (status %d)\n", program, what, status);
	return -1;
}

/* ---- round trip ---- */

static void trip(const Transport *t, Endpoint *e, size_t size)
{
	const uint8_t *data;
	size_t len;
	int r;

	if (t->call)
		r = t->call(e, &data, &len);
	else if ((r = t->send(e)) == 0)
		r = t->recv(e, &data, &len);
	if (r < 0)
		bench_fail("%s: a round trip failed", t->name);
	if (len != size)
		bench_fail("%s: the answer has %zu bytes, not %zu", t->name, len, size);
}

static int run_rtt(const Transport *t, size_t size, long n)
{
	BenchServer s = { 0 };
	uint8_t *payload = make_payload(size, 0);
	double *samples = calloc((size_t)n, sizeof(double)), cpu0, cpu1;
	long warm = n / 10 < 10 ? 10 : n / 10;
	Endpoint *e;
	pid_t echo;

	if (!samples)
		bench_fail("out of memory");
	if (t->start(&s) < 0)
		return 1;
	echo = fork();
	if (echo == 0) {
		const uint8_t *data;
		size_t len;

		child_init();
		e = t->open(&s, ROLE_RECEIVER, 0);
		if (!e)
			_exit(1);
		while (t->recv(e, &data, &len) == 0 && t->echo(e) == 0)
			;
		_exit(0);
	}
	e = t->open(&s, ROLE_SENDER, 0);
	if (!e || t->prepare(e, payload, size) < 0)
		bench_fail("%s: cannot open the ping endpoint", t->name);
	for (long i = 0; i < warm; i++)
		trip(t, e, size);
	cpu0 = s.pid ? proc_cpu_seconds(s.pid) : -1;
	for (long i = 0; i < n; i++) {
		double t0 = bench_clock();

		trip(t, e, size);
		samples[i] = (bench_clock() - t0) * 1e6;
	}
	cpu1 = s.pid ? proc_cpu_seconds(s.pid) : -1;
	t->close(e);
	kill(echo, SIGKILL);
	waitpid(echo, NULL, 0);
	t->stop(&s);
	qsort(samples, (size_t)n, sizeof(double), compare_double);
	printf("result p50_us=%.2f p99_us=%.2f", samples[n / 2], samples[(n * 99) / 100]);
	if (cpu0 >= 0 && cpu1 >= 0)
		printf(" server_cpu_us_per_msg=%.3f", (cpu1 - cpu0) * 1e6 / (2.0 * (double)n));
	printf("\n");
	free(samples);
	free(payload);
	return 0;
}

/* ---- one-way ---- */

typedef struct OneWayResult {
	double seconds;       /* from the warm-up's last message to the last one */
	double cpu_seconds;   /* the server's, over the same interval; < 0 unknown */
} OneWayResult;

/* One-way on a running server: a receiver and a sender process; the
 * receiver times the last n of warm + n messages. */
static int oneway_on(const Transport *t, BenchServer *s, size_t size, long n, OneWayResult *ret)
{
	int ready[2], done[2], result[2];
	long warm = n / 10 < 1 ? 1 : n / 10;
	pid_t rx, tx;
	char byte;
	int rc = 0;

	if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(done, O_CLOEXEC) < 0 || pipe2(result, O_CLOEXEC) < 0)
		bench_fail("pipe: %s", strerror(errno));
	rx = fork();
	if (rx == 0) {
		OneWayResult out = { 0, -1 };
		double t0 = 0, cpu0 = -1;
		const uint8_t *data;
		Endpoint *e;
		size_t len;

		child_init();
		close(done[1]);
		close(result[0]);
		e = t->open(s, ROLE_RECEIVER, 0);
		if (!e)
			_exit(1);
		full_write(ready[1], "r", 1);
		for (long i = 0; i < warm + n; i++) {
			if (t->recv(e, &data, &len) < 0)
				bench_fail("%s: receiving message %ld failed", t->name, i);
			if (len != size)
				bench_fail("%s: message %ld has %zu bytes, not %zu", t->name, i, len, size);
			if (i == warm - 1) {
				t0 = bench_clock();
				cpu0 = s->pid ? proc_cpu_seconds(s->pid) : -1;
			}
		}
		out.seconds = bench_clock() - t0;
		if (cpu0 >= 0)
			out.cpu_seconds = proc_cpu_seconds(s->pid) - cpu0;
		full_write(result[1], &out, sizeof(out));
		t->close(e);
		_exit(0);
	}
	close(ready[1]);
	if (!full_read(ready[0], &byte, 1)) {
		wait_child(rx, "receiver");
		return -1;
	}
	tx = fork();
	if (tx == 0) {
		uint8_t *payload = make_payload(size, 0);
		Endpoint *e;

		child_init();
		close(done[1]);
		close(result[1]);
		e = t->open(s, ROLE_SENDER, 0);
		if (!e || t->prepare(e, payload, size) < 0)
			_exit(1);
		for (long i = 0; i < warm + n; i++)
			if (t->send(e) < 0)
				bench_fail("%s: sending message %ld failed", t->name, i);
		if (t->flush && t->flush(e) < 0)
			bench_fail("%s: flushing failed", t->name);
		/* Stay connected until the receiver has everything: some
		 * servers drop what a departed sender left unread. */
		while (read(done[0], &byte, 1) > 0)
			;
		t->close(e);
		_exit(0);
	}
	close(result[1]);
	if (!full_read(result[0], ret, sizeof(*ret)))
		rc = -1;
	if (wait_child(rx, "receiver") < 0)
		rc = -1;
	close(done[1]);
	if (wait_child(tx, "sender") < 0)
		rc = -1;
	close(done[0]);
	close(ready[0]);
	close(result[0]);
	return rc;
}

static void print_oneway(const OneWayResult *r, size_t size, long n)
{
	printf("msgs_per_s=%.0f mb_per_s=%.2f", (double)n / r->seconds,
	       (double)n * (double)size / r->seconds / 1e6);
	if (r->cpu_seconds >= 0)
		printf(" server_cpu_us_per_msg=%.3f", r->cpu_seconds * 1e6 / (double)n);
}

static int run_oneway(const Transport *t, size_t size, long n)
{
	BenchServer s = { 0 };
	OneWayResult r;
	int rc;

	if (t->start(&s) < 0)
		return 1;
	rc = oneway_on(t, &s, size, n, &r);
	t->stop(&s);
	if (rc < 0)
		return 1;
	printf("result ");
	print_oneway(&r, size, n);
	printf("\n");
	return 0;
}

/* ---- idle connections, and one-way among them ---- */

/* Opens n idle connections (per windows each) in a child process and
 * returns once the server has accepted them all; *ret_pid is that child. */
static int idle_start(const Transport *t, BenchServer *s, unsigned n, unsigned per, pid_t *ret_pid)
{
	long fd0 = proc_fd_count(s->pid);
	int ready[2], hold[2];
	char byte;
	pid_t pid;

	if (!t->idle_open)
		return -1;
	if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(hold, O_CLOEXEC) < 0)
		bench_fail("pipe: %s", strerror(errno));
	pid = fork();
	if (pid == 0) {
		void *idle;

		child_init();
		close(hold[1]);
		idle = t->idle_open(s, n, per);
		if (!idle)
			_exit(1);
		full_write(ready[1], "r", 1);
		while (read(hold[0], &byte, 1) > 0)
			;
		t->idle_close(idle);
		_exit(0);
	}
	close(ready[1]);
	close(hold[0]);
	if (!full_read(ready[0], &byte, 1)) {
		wait_child(pid, "idle connections");
		return -1;
	}
	close(ready[0]);
	/* Accepted: the server holds one more descriptor per connection. */
	for (int i = 0; i < 1000 && proc_fd_count(s->pid) < fd0 + (long)n; i++)
		usleep(10000);
	/* hold[1] stays open in this process until the run ends: the child
	 * closes its connections when it reads end of file. */
	*ret_pid = pid;
	return 0;
}

static void idle_stop(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static int run_idle(const Transport *t, unsigned n, unsigned per, size_t size, long count)
{
	BenchServer s = { .idle_hint = n * per };
	long rss0, rss1;
	OneWayResult r;
	pid_t idle = 0;
	int rc = 0;

	if (!t->idle_open) {
		printf("na %s cannot hold idle connections in this benchmark\n", t->name);
		return 0;
	}
	if (t->start(&s) < 0)
		return 1;
	if (!s.pid) {
		t->stop(&s);
		printf("na %s has no server\n", t->name);
		return 0;
	}
	usleep(100000);
	rss0 = proc_rss_kib(s.pid);
	if (n && idle_start(t, &s, n, per, &idle) < 0) {
		t->stop(&s);
		return 1;
	}
	usleep(300000);
	rss1 = proc_rss_kib(s.pid);
	if (count > 0)
		rc = oneway_on(t, &s, size, count, &r);
	if (idle)
		idle_stop(idle);
	t->stop(&s);
	if (rc < 0)
		return 1;
	printf("result connections=%u windows=%u rss0_kib=%ld rss1_kib=%ld", n, n * per, rss0, rss1);
	if (n)
		printf(" kib_per_conn=%.3f", (double)(rss1 - rss0) / (double)n);
	if (count > 0) {
		printf(" ");
		print_oneway(&r, size, count);
	}
	printf("\n");
	return 0;
}

/* ---- fan-in ---- */

static int run_fanin(const Transport *t, unsigned senders, size_t size, double seconds)
{
	BenchServer s = { .idle_hint = senders + 1 };
	int ready[2], go[2], result[2];
	pid_t rx, *tx;
	unsigned cut = 0;
	char byte;
	int rc = 0;
	struct {
		double total, min, mean, cpu;
		unsigned seen;
	} out;

	if (senders > t->max_senders) {
		printf("na %s is point-to-point: one sender per receiver\n", t->name);
		return 0;
	}
	if (size < sizeof(uint32_t))
		bench_fail("fanin needs at least 4 bytes a message");
	tx = calloc(senders, sizeof(*tx));
	if (!tx)
		bench_fail("out of memory");
	/* The server first: a server process that does not exec must not
	 * hold the pipes' ends (go's end of file starts the senders). */
	if (t->start(&s) < 0)
		return 1;
	if (pipe2(ready, O_CLOEXEC) < 0 || pipe2(go, O_CLOEXEC) < 0 || pipe2(result, O_CLOEXEC) < 0)
		bench_fail("pipe: %s", strerror(errno));
	rx = fork();
	if (rx == 0) {
		uint64_t *counts = calloc(senders, sizeof(*counts));
		double first = 0, start = 0, end = 0, now, cpu0 = -1;
		unsigned heard = 0;
		const uint8_t *data;
		uint64_t total = 0;
		uint32_t index;
		Endpoint *e;
		size_t len;

		child_init();
		close(go[1]);
		close(result[0]);
		e = t->open(&s, ROLE_RECEIVER, 0);
		if (!e || !counts)
			_exit(1);
		full_write(ready[1], "r", 1);
		for (;;) {
			if (t->recv(e, &data, &len) < 0)
				bench_fail("%s: fan-in receive failed", t->name);
			now = bench_clock();
			memcpy(&index, data, sizeof(index));
			if (len != size || index >= senders)
				bench_fail("%s: a fan-in message of %zu bytes from sender %u", t->name, len, index);
			if (!start) {
				/* Ramping up: counts[] marks who was heard from. */
				if (!first)
					first = now;
				if (!counts[index]++)
					heard++;
				if (heard == senders || now - first >= FANIN_RAMP_MAX_S) {
					start = now + FANIN_SETTLE_S;
					end = start + seconds;
				}
				continue;
			}
			if (now < start)
				continue;
			if (now >= end)
				break;
			if (cpu0 < 0) {
				memset(counts, 0, senders * sizeof(*counts));
				cpu0 = s.pid ? proc_cpu_seconds(s.pid) : 0;
			}
			counts[index]++;
			total++;
		}
		out.cpu = cpu0 >= 0 && s.pid ? proc_cpu_seconds(s.pid) - cpu0 : -1;
		out.total = (double)total;
		out.min = (double)counts[0];
		out.seen = 0;
		for (unsigned i = 0; i < senders; i++) {
			if (counts[i] < out.min)
				out.min = (double)counts[i];
			out.seen += counts[i] > 0;
		}
		out.mean = (double)total / senders;
		full_write(result[1], &out, sizeof(out));
		_exit(0);
	}
	if (!full_read(ready[0], &byte, 1))
		rc = -1;
	for (unsigned i = 0; i < senders && rc == 0; i++) {
		tx[i] = fork();
		if (tx[i] == 0) {
			uint8_t *payload = make_payload(size, i);
			Endpoint *e;

			child_init();
			close(go[1]);
			close(result[1]);
			e = t->open(&s, ROLE_SENDER, i);
			if (!e || t->prepare(e, payload, size) < 0)
				_exit(1);
			full_write(ready[1], "s", 1);
			while (read(go[0], &byte, 1) > 0)
				;
			while (t->send(e) == 0)
				;
			_exit(0);
		}
		if (!full_read(ready[0], &byte, 1))
			rc = -1;
	}
	/* Every sender is connected and waiting: end of file on go starts them all. */
	close(go[1]);
	close(result[1]);
	if (rc == 0 && !full_read(result[0], &out, sizeof(out)))
		rc = -1;
	if (wait_child(rx, "fan-in receiver") < 0)
		rc = -1;
	/* A sender that is gone already had a send fail: a server that
	 * disconnects flooding senders (dbus-broker's quotas do) cut it off. */
	for (unsigned i = 0; i < senders; i++)
		if (tx[i] > 0) {
			if (waitpid(tx[i], NULL, WNOHANG) == tx[i]) {
				cut++;
				continue;
			}
			kill(tx[i], SIGKILL);
			waitpid(tx[i], NULL, 0);
		}
	t->stop(&s);
	free(tx);
	if (rc < 0)
		return 1;
	printf("result senders=%u msgs_per_s=%.0f fairness=%.3f min=%.0f mean=%.1f seen=%u cut=%u", senders,
	       out.total / seconds, out.mean > 0 ? out.min / out.mean : 0, out.min, out.mean, out.seen, cut);
	if (out.cpu >= 0)
		printf(" server_cpu_share=%.2f", out.cpu / seconds);
	printf("\n");
	return 0;
}

/* ---- main ---- */

/* Room for 10,000 connections in one process, and for the servers, which
 * inherit the limit: as root the hard limit may be raised too. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_max < 65536) {
		struct rlimit want = { 65536, 65536 };

		if (setrlimit(RLIMIT_NOFILE, &want) == 0)
			return;
	}
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
}

static long arg_long(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*end || v < 0)
		bench_fail("not a count: '%s'", s);
	return v;
}

int workload_main(int argc, char **argv, const Transport *const *transports, size_t n)
{
	const Transport *t = NULL;
	const char *w;
	char why[256] = "";

	program = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	raise_fd_limit();
	if (argc < 3)
		bench_fail("usage: %s TRANSPORT probe|rtt|oneway|fanin|idle|scale ARGS (see workload.h)", program);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(transports[i]->name, argv[1]))
			t = transports[i];
	if (!t)
		bench_fail("no transport '%s' here", argv[1]);
	if (t->probe(why, sizeof(why)) < 0) {
		printf("na %s\n", why);
		return 0;
	}
	w = argv[2];
	if (!strcmp(w, "probe")) {
		printf("ok\n");
		return 0;
	}
	if (!strcmp(w, "rtt") && argc == 5)
		return run_rtt(t, (size_t)arg_long(argv[3]), arg_long(argv[4]));
	if (!strcmp(w, "oneway") && argc == 5)
		return run_oneway(t, (size_t)arg_long(argv[3]), arg_long(argv[4]));
	if (!strcmp(w, "fanin") && argc == 6)
		return run_fanin(t, (unsigned)arg_long(argv[3]), (size_t)arg_long(argv[4]), atof(argv[5]));
	if (!strcmp(w, "idle") && argc == 5)
		return run_idle(t, (unsigned)arg_long(argv[3]), (unsigned)arg_long(argv[4]), 0, 0);
	if (!strcmp(w, "scale") && argc == 7)
		return run_idle(t, (unsigned)arg_long(argv[3]), (unsigned)arg_long(argv[4]),
				(size_t)arg_long(argv[5]), arg_long(argv[6]));
	bench_fail("bad arguments for '%s' (see bench/workload.h)", w);
}
