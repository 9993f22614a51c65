/* SPDX-License-Identifier: MIT */
/*
 * table.c - `make bench`: runs every workload over crosspost and its peers
 * (the xp_* programs beside this one, see workload.h), interleaved
 * (A B C D E F, A B C D E F, ...) and repeated, and prints one table of
 * medians, each also as a ratio to the relay (b) and to dbus-broker (c),
 * then the scoreboard of issue 10's targets.
 *
 *   table [BUILD_BENCH_DIR]       BENCH_QUICK=1 in the environment: fewer
 *                                 repetitions and messages
 *
 * Progress goes to stderr, the table to stdout.  Each run is a process
 * group of its own with a time limit; what a run wrote on stderr is kept
 * and shown when it fails.  docs/performance.md explains every row.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_REPS 9
#define RUN_TIMEOUT_S 180

/* The columns, in the order of the brief: crosspost, then (a)..(e). */
enum { COL_CROSSPOST, COL_DIRECT, COL_RELAY, COL_DBUS_BROKER, COL_DBUS_DAEMON, COL_ZMQ, N_COLS };

typedef struct Column {
	const char *title;
	const char *program;      /* in the bench folder */
	const char *transport;
	const char *missing;      /* why the program may not be built */
	char na[600];             /* set when the column cannot run here */
} Column;

static Column columns[N_COLS] = {
	{ "crosspost", "xp_crosspost", "crosspost", "crosspostd or xp_crosspost not built", "" },
	{ "direct (a)", "xp_frames", "direct", "xp_frames not built", "" },
	{ "relay (b)", "xp_frames", "relay", "xp_frames not built", "" },
	{ "dbus-brkr(c)", "xp_sdbus", "dbus-broker", "xp_sdbus not built: libsystemd-dev missing", "" },
	{ "dbus-dmn (d)", "xp_sdbus", "dbus-daemon", "xp_sdbus not built: libsystemd-dev missing", "" },
	{ "zmq (e)", "xp_zmq", "zmq", "xp_zmq not built: libzmq3-dev missing", "" },
};

/* The figures a run reports ("result key=value ..."). */
enum { K_P50, K_P99, K_MSGS, K_MB, K_CPU, K_KIB, K_FAIR, K_CUT, K_SHARE, N_KEYS };
static const char *const key_names[N_KEYS] = {
	"p50_us", "p99_us", "msgs_per_s", "mb_per_s", "server_cpu_us_per_msg", "kib_per_conn", "fairness",
	"cut", "server_cpu_share",
};

typedef struct Cell {
	double v[N_KEYS][MAX_REPS];
	int n[N_KEYS];
	char note[1100];           /* "na" reason, or why a run failed */
	bool na, failed;
} Cell;

/* One workload with its arguments, run for some columns. */
typedef struct Job {
	const char *name;
	char args[96];            /* after "PROGRAM TRANSPORT" */
	unsigned cols;            /* bit per column */
	Cell cell[N_COLS];
} Job;

#define ALL_COLS ((1u << N_COLS) - 1)
#define BROKERED_COLS ((1u << COL_CROSSPOST) | (1u << COL_DBUS_BROKER) | (1u << COL_DBUS_DAEMON) | (1u << COL_ZMQ))

enum {
	J_RTT64, J_RTT64K, J_RTT1M, J_OW64, J_OW64K, J_OW1M,      /* the main matrix */
	J_SCALE2, J_SCALE10K, J_SCALE100,                          /* crosspost at scale */
	J_IDLE, J_FANIN,
	N_JOBS
};

static Job jobs[N_JOBS];
static char bench_dir[PATH_MAX];
static bool quick;
static int reps_main, reps_scale;
static unsigned fanin_senders = 100;

static void job_set(int id, const char *name, unsigned cols, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void job_set(int id, const char *name, unsigned cols, const char *fmt, ...)
{
	va_list ap;

	jobs[id].name = name;
	jobs[id].cols = cols;
	va_start(ap, fmt);
	vsnprintf(jobs[id].args, sizeof(jobs[id].args), fmt, ap);
	va_end(ap);
}

static void jobs_init(void)
{
	long d = quick ? 5 : 1;   /* quick: a fifth of the messages */

	job_set(J_RTT64, "rtt 64 B", ALL_COLS, "rtt 64 %ld", 5000 / d);
	job_set(J_RTT64K, "rtt 64 KiB", ALL_COLS, "rtt 65536 %ld", 1000 / d);
	job_set(J_RTT1M, "rtt 1 MiB", ALL_COLS, "rtt 1048576 %ld", 200 / d);
	/* 500,000: at two million a second, 100,000 were 50 ms, too short
	 * to be a rate on a shared machine (docs/performance.md). */
	job_set(J_OW64, "one-way 64 B", ALL_COLS, "oneway 64 %ld", 500000 / d);
	/* 10,000: 4,000 were 0.1-0.2 s for crosspost and the relay, and the
	 * row moved by a third from run to run. */
	job_set(J_OW64K, "one-way 64 KiB", ALL_COLS, "oneway 65536 %ld", 10000 / d);
	job_set(J_OW1M, "one-way 1 MiB", ALL_COLS, "oneway 1048576 %ld", 300 / d);
	/* 2,000,000 (about a second) and 5 rounds: the ratios of 3 rounds of
	 * 500,000 moved by a quarter from run to run (docs/performance.md). */
	job_set(J_SCALE2, "scale: 2 windows", 1u << COL_CROSSPOST, "scale 0 0 64 %ld", 2000000 / d);
	job_set(J_SCALE10K, "scale: 10,000 conns x 1 window", 1u << COL_CROSSPOST, "scale 10000 1 64 %ld",
		2000000 / d);
	job_set(J_SCALE100, "scale: 100 conns x 100 windows", 1u << COL_CROSSPOST, "scale 100 100 64 %ld",
		2000000 / d);
	job_set(J_IDLE, "idle: 1,000 clients", BROKERED_COLS, "idle 1000 1");
	job_set(J_FANIN, "fan-in", ALL_COLS, "fanin %u 64 %d", fanin_senders, quick ? 1 : 2);
}

/* ---- running one xp program ---- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The first line of the file, for a failure's note. */
static void first_line(const char *path, char *out, size_t n)
{
	FILE *f = fopen(path, "re");
	char line[512];

	out[0] = '\0';
	if (!f)
		return;
	/* The last non-empty line says most about why it stopped. */
	while (fgets(line, sizeof(line), f))
		if (line[0] != '\n')
			snprintf(out, n, "%s", line);
	fclose(f);
	out[strcspn(out, "\n")] = '\0';
}

/* Runs PROGRAM TRANSPORT ARGS; its stdout's "result"/"na" line goes to
 * out.  0 when it exited 0 within the time limit. */
static int run_xp(const Column *col, const char *args, char *out, size_t out_len, char *err, size_t err_len)
{
	char program[PATH_MAX + 64], errpath[] = "/tmp/xp-stderr.XXXXXX", buf[4096];
	char *argv[16], argbuf[128];
	int argc = 0, pipefd[2], errfd, status = 0;
	size_t got = 0;
	double deadline = now_s() + RUN_TIMEOUT_S;
	bool timed_out = false;
	pid_t pid;

	snprintf(program, sizeof(program), "%s/%s", bench_dir, col->program);
	snprintf(argbuf, sizeof(argbuf), "%s", args);
	argv[argc++] = program;
	argv[argc++] = (char *)col->transport;
	for (char *tok = strtok(argbuf, " "); tok && argc < 15; tok = strtok(NULL, " "))
		argv[argc++] = tok;
	argv[argc] = NULL;
	errfd = mkstemp(errpath);
	if (errfd < 0 || pipe2(pipefd, O_CLOEXEC) < 0) {
		snprintf(err, err_len, "cannot run: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		dup2(pipefd[1], STDOUT_FILENO);
		dup2(errfd, STDERR_FILENO);
		execv(program, argv);
		fprintf(stderr, "cannot run %s: %s\n", program, strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid);
	close(pipefd[1]);
	close(errfd);
	for (;;) {
		struct pollfd p = { .fd = pipefd[0], .events = POLLIN };
		int left = (int)((deadline - now_s()) * 1000);
		ssize_t n;

		if (left <= 0) {
			timed_out = true;
			break;
		}
		if (poll(&p, 1, left) <= 0)
			continue;
		n = read(pipefd[0], buf + got, sizeof(buf) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got == sizeof(buf) - 1)
			break;
	}
	close(pipefd[0]);
	/* The whole group: servers and endpoints the run may have left. */
	if (timed_out)
		kill(-pid, SIGKILL);
	waitpid(pid, &status, 0);
	kill(-pid, SIGKILL);
	buf[got] = '\0';
	out[0] = '\0';
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n"))
		if (!strncmp(line, "result ", 7) || !strncmp(line, "na ", 3) || !strcmp(line, "ok"))
			snprintf(out, out_len, "%s", line);
	first_line(errpath, err, err_len);
	unlink(errpath);
	if (timed_out) {
		snprintf(err, err_len, "no result within %d s", RUN_TIMEOUT_S);
		return -1;
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !out[0]) {
		if (!err[0])
			snprintf(err, err_len, "exited with status %d", status);
		return -1;
	}
	return 0;
}

static void record(Job *job, int c)
{
	Cell *cell = &job->cell[c];
	char out[1024], err[512];

	if (columns[c].na[0]) {
		cell->na = true;
		snprintf(cell->note, sizeof(cell->note), "%s", columns[c].na);
		return;
	}
	if (cell->na)
		return;
	if (run_xp(&columns[c], job->args, out, sizeof(out), err, sizeof(err)) < 0) {
		cell->failed = true;
		snprintf(cell->note, sizeof(cell->note), "%s", err);
		fprintf(stderr, "\n  %s %s: failed: %s\n", columns[c].transport, job->args, err);
		return;
	}
	if (!strncmp(out, "na ", 3)) {
		cell->na = true;
		snprintf(cell->note, sizeof(cell->note), "%s", out + 3);
		return;
	}
	for (int k = 0; k < N_KEYS; k++) {
		char pattern[64];
		const char *at;

		snprintf(pattern, sizeof(pattern), " %s=", key_names[k]);
		at = strstr(out, pattern);
		if (at && cell->n[k] < MAX_REPS)
			cell->v[k][cell->n[k]++] = atof(at + strlen(pattern));
	}
}

static void run_jobs(const int *ids, size_t n_ids, int reps, const char *what)
{
	for (int rep = 0; rep < reps; rep++) {
		double t0 = now_s();

		fprintf(stderr, "bench: %s, round %d/%d ", what, rep + 1, reps);
		for (size_t j = 0; j < n_ids; j++)
			for (int c = 0; c < N_COLS; c++)
				if (jobs[ids[j]].cols & (1u << c)) {
					record(&jobs[ids[j]], c);
					fputc('.', stderr);
				}
		fprintf(stderr, " %.0f s\n", now_s() - t0);
	}
}

/* ---- the table ---- */

static int compare_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The median of a cell's figure; NAN when it has none. */
static double median(int job, int c, int k)
{
	const Cell *cell = &jobs[job].cell[c];
	double v[MAX_REPS];
	int n = cell->n[k];

	if (!n)
		return NAN;
	memcpy(v, cell->v[k], sizeof(double) * (size_t)n);
	qsort(v, (size_t)n, sizeof(double), compare_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void format_value(double v, char *out, size_t n)
{
	if (isnan(v))
		snprintf(out, n, "-");
	else if (fabs(v) >= 100000)
		snprintf(out, n, "%.0f", v);
	else if (fabs(v) >= 100)
		snprintf(out, n, "%.0f", v);
	else if (fabs(v) >= 10)
		snprintf(out, n, "%.1f", v);
	else
		snprintf(out, n, "%.2f", v);
}

#define LABEL_W 36
#define COL_W 13

static void print_rule(void)
{
	for (int i = 0; i < LABEL_W + COL_W * N_COLS; i++)
		putchar('-');
	putchar('\n');
}

static const char *cell_mark(int job, int c)
{
	const Cell *cell = &jobs[job].cell[c];

	if (!(jobs[job].cols & (1u << c)))
		return "";
	if (cell->na)
		return "n/a";
	if (cell->failed)
		return "fail";
	return "-";
}

/* One row of figures (scale: multiplies each), then its ratios to the
 * relay and to dbus-broker when those have the figure. */
static void print_metric(const char *label, int job, int k, double scale, bool ratios)
{
	double v[N_COLS];
	char text[32];

	printf("%-*s", LABEL_W, label);
	for (int c = 0; c < N_COLS; c++) {
		v[c] = median(job, c, k) * scale;
		if (isnan(v[c]))
			printf("%*s", COL_W, cell_mark(job, c));
		else {
			format_value(v[c], text, sizeof(text));
			printf("%*s", COL_W, text);
		}
	}
	printf("\n");
	if (!ratios)
		return;
	for (int ref = COL_RELAY; ref <= COL_DBUS_BROKER; ref += COL_DBUS_BROKER - COL_RELAY) {
		if (isnan(v[ref]) || v[ref] == 0)
			continue;
		printf("%-*s", LABEL_W, ref == COL_RELAY ? "    / relay (b)" : "    / dbus-broker (c)");
		for (int c = 0; c < N_COLS; c++) {
			if (isnan(v[c])) {
				printf("%*s", COL_W, "");
				continue;
			}
			snprintf(text, sizeof(text), "%.2fx", v[c] / v[ref]);
			printf("%*s", COL_W, text);
		}
		printf("\n");
	}
}

/* The median of crosspost's per-round ratios job / base_job: runs of
 * the same round ran back to back, so a ratio within a round cancels the
 * load of the machine at that time, which the ratio of two medians does
 * not.  NAN when no round has both. */
static double round_ratio(int job, int base_job, int k)
{
	const Cell *a = &jobs[job].cell[COL_CROSSPOST], *b = &jobs[base_job].cell[COL_CROSSPOST];
	int n = a->n[k] < b->n[k] ? a->n[k] : b->n[k], m = 0;
	double r[MAX_REPS];

	for (int i = 0; i < n; i++)
		if (b->v[k][i] > 0)
			r[m++] = a->v[k][i] / b->v[k][i];
	if (!m)
		return NAN;
	qsort(r, (size_t)m, sizeof(double), compare_double);
	return m % 2 ? r[m / 2] : (r[m / 2 - 1] + r[m / 2]) / 2;
}

/* A row of one figure of crosspost against another of its own. */
static void print_ratio_row(const char *label, int job, int k, int base_job)
{
	double v = round_ratio(job, base_job, k);
	char text[32] = "-";

	if (!isnan(v))
		snprintf(text, sizeof(text), "%.2fx", v);
	printf("%-*s%*s   (median of the rounds' ratios)\n", LABEL_W, label, COL_W, text);
}

static void print_table(double elapsed)
{
	static const int main_jobs[] = { J_RTT64, J_RTT64K, J_RTT1M };
	static const int oneway_jobs[] = { J_OW64, J_OW64K, J_OW1M };
	static const char *const sizes[] = { "64 B", "64 KiB", "1 MiB" };
	char label[96];

	printf("\ncrosspost benchmark (issue 10): medians of %d rounds (scale, idle, fan-in: %d)%s; %.0f s\n",
	       reps_main, reps_scale, quick ? ", QUICK mode" : "", elapsed);
	print_rule();
	printf("%-*s", LABEL_W, "");
	for (int c = 0; c < N_COLS; c++)
		printf("%*s", COL_W, columns[c].title);
	printf("\n");
	print_rule();
	for (int i = 0; i < 3; i++) {
		snprintf(label, sizeof(label), "rtt %s p50 (us)", sizes[i]);
		print_metric(label, main_jobs[i], K_P50, 1, true);
		snprintf(label, sizeof(label), "rtt %s p99 (us)", sizes[i]);
		print_metric(label, main_jobs[i], K_P99, 1, true);
	}
	print_rule();
	for (int i = 0; i < 3; i++) {
		snprintf(label, sizeof(label), "one-way %s (msgs/s)", sizes[i]);
		print_metric(label, oneway_jobs[i], K_MSGS, 1, true);
		snprintf(label, sizeof(label), "one-way %s (MB/s)", sizes[i]);
		print_metric(label, oneway_jobs[i], K_MB, 1, false);
		snprintf(label, sizeof(label), "one-way %s server CPU (us/msg)", sizes[i]);
		print_metric(label, oneway_jobs[i], K_CPU, 1, true);
	}
	print_rule();
	print_metric("1-way 64 B, 2 windows (msgs/s)", J_SCALE2, K_MSGS, 1, false);
	print_metric("1-way 64 B, 10k conns x 1 window", J_SCALE10K, K_MSGS, 1, false);
	print_ratio_row("    / 2 windows", J_SCALE10K, K_MSGS, J_SCALE2);
	print_metric("1-way 64 B, 100 conns x 100 windows", J_SCALE100, K_MSGS, 1, false);
	print_ratio_row("    / 2 windows", J_SCALE100, K_MSGS, J_SCALE2);
	print_metric("KiB per idle conn (10k conns)", J_SCALE10K, K_KIB, 1, false);
	print_metric("KiB per idle window (100x100)", J_SCALE100, K_KIB, 0.01, false);
	print_metric("KiB per idle conn (1,000 clients)", J_IDLE, K_KIB, 1, true);
	snprintf(label, sizeof(label), "fan-in %u->1 64 B (msgs/s)", fanin_senders);
	print_metric(label, J_FANIN, K_MSGS, 1, true);
	print_metric("fan-in fairness (min/mean)", J_FANIN, K_FAIR, 1, false);
	print_metric("fan-in senders cut off", J_FANIN, K_CUT, 1, false);
	print_metric("fan-in server CPU (cores)", J_FANIN, K_SHARE, 1, false);
	print_rule();
}

/* ---- the scoreboard ---- */

static void score(const char *target, double measured, double bound, bool at_least, const char *unit)
{
	const char *verdict = isnan(measured) ? "unknown" : (at_least ? measured >= bound : measured <= bound)
							    ? "met" : "NOT met";
	char m[32];

	format_value(measured, m, sizeof(m));
	printf("  %-52s %9s%-5s %s\n", target, m, unit, verdict);
}

static double ratio(int job_a, int col_a, int job_b, int col_b, int k)
{
	return median(job_a, col_a, k) / median(job_b, col_b, k);
}

static void print_scoreboard(void)
{
	printf("scoreboard: issue 10's targets, crosspost today\n");
	score("one-way 64 B >= 2x the ZeroMQ proxy", ratio(J_OW64, COL_CROSSPOST, J_OW64, COL_ZMQ, K_MSGS), 2, true, "x");
	score("one-way 64 B >= 20x dbus-broker", ratio(J_OW64, COL_CROSSPOST, J_OW64, COL_DBUS_BROKER, K_MSGS), 20,
	      true, "x");
	score("one-way 64 KiB >= 0.9x the relay", ratio(J_OW64K, COL_CROSSPOST, J_OW64K, COL_RELAY, K_MSGS), 0.9,
	      true, "x");
	score("one-way 1 MiB within 2x of the relay (>= 0.5x)",
	      ratio(J_OW1M, COL_CROSSPOST, J_OW1M, COL_RELAY, K_MSGS), 0.5, true, "x");
	score("rtt 64 B p50 <= 1.15x the relay", ratio(J_RTT64, COL_CROSSPOST, J_RTT64, COL_RELAY, K_P50), 1.15,
	      false, "x");
	score("rtt 64 KiB p50 <= 1.15x the relay", ratio(J_RTT64K, COL_CROSSPOST, J_RTT64K, COL_RELAY, K_P50), 1.15,
	      false, "x");
	score("10,000 conns x 1 window: >= 0.9x the 2-window rate", round_ratio(J_SCALE10K, J_SCALE2, K_MSGS), 0.9,
	      true, "x");
	score("100 conns x 100 windows: >= 0.9x the 2-window rate", round_ratio(J_SCALE100, J_SCALE2, K_MSGS), 0.9,
	      true, "x");
	score("<= 2 KiB broker memory per idle connection (10k)", median(J_SCALE10K, COL_CROSSPOST, K_KIB), 2, false,
	      " KiB");
}

static void print_notes(void)
{
	bool any = false;

	for (int c = 0; c < N_COLS; c++)
		if (columns[c].na[0]) {
			if (!any)
				printf("notes:\n");
			any = true;
			printf("  %s: n/a: %s\n", columns[c].transport, columns[c].na);
		}
	for (int j = 0; j < N_JOBS; j++)
		for (int c = 0; c < N_COLS; c++) {
			const Cell *cell = &jobs[j].cell[c];

			if (columns[c].na[0] || !(cell->na || cell->failed))
				continue;
			if (!any)
				printf("notes:\n");
			any = true;
			printf("  %s, %s: %s: %s\n", columns[c].transport, jobs[j].name, cell->failed ? "failed" : "n/a",
			       cell->note);
		}
}

/* ---- main ---- */

static void probe_columns(void)
{
	for (int c = 0; c < N_COLS; c++) {
		char program[PATH_MAX + 64], out[512], err[512];

		snprintf(program, sizeof(program), "%s/%s", bench_dir, columns[c].program);
		if (access(program, X_OK) < 0) {
			snprintf(columns[c].na, sizeof(columns[c].na), "%s", columns[c].missing);
			continue;
		}
		if (run_xp(&columns[c], "probe", out, sizeof(out), err, sizeof(err)) < 0)
			snprintf(columns[c].na, sizeof(columns[c].na), "probe failed: %s", err);
		else if (!strncmp(out, "na ", 3))
			snprintf(columns[c].na, sizeof(columns[c].na), "%s", out + 3);
	}
}

static void print_machine(void)
{
	struct utsname u;
	char line[256], model[200] = "?";
	FILE *f = fopen("/proc/cpuinfo", "re");

	if (f) {
		while (fgets(line, sizeof(line), f))
			if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
				snprintf(model, sizeof(model), "%s", strchr(line, ':') + 2);
				model[strcspn(model, "\n")] = '\0';
				break;
			}
		fclose(f);
	}
	uname(&u);
	printf("machine: %ld cores, %s, Linux %s\n", sysconf(_SC_NPROCESSORS_ONLN), model, u.release);
}

int main(int argc, char **argv)
{
	static const int main_ids[] = { J_RTT64, J_RTT64K, J_RTT1M, J_OW64, J_OW64K, J_OW1M };
	static const int scale_ids[] = { J_SCALE2, J_SCALE10K, J_SCALE100, J_IDLE, J_FANIN };
	const char *q = getenv("BENCH_QUICK");
	struct rlimit rl;
	double t0 = now_s();

	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);
	quick = q && *q && strcmp(q, "0");
	reps_main = quick ? 2 : 5;
	reps_scale = quick ? 1 : 5;
	if (argc > 1) {
		snprintf(bench_dir, sizeof(bench_dir), "%s", argv[1]);
	} else {
		ssize_t n = readlink("/proc/self/exe", bench_dir, sizeof(bench_dir) - 1);

		bench_dir[n > 0 ? n : 0] = '\0';
		if (strrchr(bench_dir, '/'))
			*strrchr(bench_dir, '/') = '\0';
	}
	/* 10,000 connections in one process, and as many in the broker,
	 * which inherits the limit.  Raising the hard limit needs
	 * CAP_SYS_RESOURCE; the soft one can always go up to it. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		struct rlimit want = { 65536, 65536 };

		if (rl.rlim_max >= 65536 || setrlimit(RLIMIT_NOFILE, &want) < 0) {
			rl.rlim_cur = rl.rlim_max;
			setrlimit(RLIMIT_NOFILE, &rl);
		}
		getrlimit(RLIMIT_NOFILE, &rl);
		if (rl.rlim_cur < 10100)
			fprintf(stderr, "bench: RLIMIT_NOFILE is %llu: the 10,000-connection rows will fail\n",
				(unsigned long long)rl.rlim_cur);
	}
	jobs_init();
	probe_columns();
	run_jobs(main_ids, sizeof(main_ids) / sizeof(main_ids[0]), reps_main, "round trip and one-way");
	run_jobs(scale_ids, sizeof(scale_ids) / sizeof(scale_ids[0]), reps_scale, "scale, idle and fan-in");
	print_machine();
	print_table(now_s() - t0);
	print_scoreboard();
	print_notes();
	return 0;
}
