/* SPDX-License-Identifier: MIT */
/*
 * check_identity.c - who is who (docs/security.md "Policy"): libcrosspost
 * refuses a broker of another uid; crosspostd's policy decides what
 * another uid may do (played by forked children that become uid 65534,
 * so most cases need root and are skipped, saying so, without it); and
 * SIGHUP reloads the policy without dropping connections.
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>

#include "crosspost.h"
#include "fixture.h"
#include "proto/crosspost.pb-c.h"

#define OTHER_UID 65534
#define OTHER_GID 65534

/* Under /tmp, mode 0711: uid 65534 can reach sockets in folders below it
 * (the test's own $TMPDIR is private to root). */
static char suite_dir[64];

static bool is_root(const char *test)
{
	if (geteuid() == 0)
		return true;
	printf("SKIP %s: needs root (to become uid %d in a child)\n", test, OTHER_UID);
	return false;
}

static const char *broker_binary(void)
{
	const char *path = getenv("CROSSPOSTD");

	return path && *path ? path : "build/crosspostd";
}

static void set_path(struct sockaddr_un *addr, const char *path)
{
	size_t n = strlen(path);

	ck_assert_uint_lt(n, sizeof(addr->sun_path));
	memcpy(addr->sun_path, path, n + 1);
}

static int try_connect(const char *path)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	set_path(&addr, path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0)
		return fd;
	if (fd >= 0)
		close(fd);
	return -1;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(fputs(text, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
}

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char *text = calloc(1, 1 << 20);
	size_t n;

	ck_assert_ptr_nonnull(text);
	if (!f)
		return text;
	n = fread(text, 1, (1 << 20) - 1, f);
	text[n] = '\0';
	fclose(f);
	return text;
}

/* ---- a broker in a folder uid 65534 can reach ------------------------ */

typedef struct Broker {
	pid_t pid;
	char dir[128];
	char socket_path[160];
	char log_path[160];
	char config_path[160];
} Broker;

/* Starts crosspostd on a socket in a fresh folder under suite_dir, with
 * config (NULL: no --config) written to dir/crosspost.conf.  A config
 * that shares the socket ([socket] mode) gets a folder of mode 0711, as
 * an admin would make it. */
static void broker_start(Broker *b, const char *config)
{
	snprintf(b->dir, sizeof(b->dir), "%s/broker.XXXXXX", suite_dir);
	ck_assert_ptr_nonnull(mkdtemp(b->dir));
	snprintf(b->socket_path, sizeof(b->socket_path), "%s/broker.sock", b->dir);
	snprintf(b->log_path, sizeof(b->log_path), "%s/broker.log", b->dir);
	snprintf(b->config_path, sizeof(b->config_path), "%s/crosspost.conf", b->dir);
	if (config) {
		write_file(b->config_path, config);
		if (strstr(config, "[socket]"))
			ck_assert_int_eq(chmod(b->dir, 0711), 0);
	}
	b->pid = fork();
	ck_assert_int_ge(b->pid, 0);
	if (b->pid == 0) {
		int log = open(b->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		if (log >= 0)
			dup2(log, STDERR_FILENO);
		if (config)
			execl(broker_binary(), "crosspostd", "--foreground", "--log-level", "debug", "--socket",
			      b->socket_path, "--config", b->config_path, (char *)NULL);
		else
			execl(broker_binary(), "crosspostd", "--foreground", "--log-level", "debug", "--socket",
			      b->socket_path, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 1000; i++) {
		int status, fd = try_connect(b->socket_path);

		if (fd >= 0) {
			close(fd);
			return;
		}
		if (waitpid(b->pid, &status, WNOHANG) != 0) {
			char *log = read_file(b->log_path);

			ck_abort_msg("crosspostd exited instead of listening; its log:\n%s", log);
		}
		poll(NULL, 0, 10);
	}
	ck_abort_msg("crosspostd did not listen on %s", b->socket_path);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void broker_stop(Broker *b)
{
	int status;

	kill(b->pid, SIGTERM);
	waitpid(b->pid, &status, 0);
	nftw(b->dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* Lines of the broker's log that contain needle. */
static int log_count(const Broker *b, const char *needle)
{
	char *log = read_file(b->log_path), *p = log;
	int n = 0;

	while ((p = strstr(p, needle))) {
		n++;
		p += strlen(needle);
	}
	free(log);
	return n;
}

/* Polls (10 s cap) until the log mentions needle: the broker logs a
 * refusal after it answered, so the client may look first. */
static bool log_wait(const Broker *b, const char *needle)
{
	for (int i = 0; i < 1000; i++) {
		if (log_count(b, needle) > 0)
			return true;
		poll(NULL, 0, 10);
	}
	return false;
}

/* The log mentions needle exactly once, waiting for the first mention. */
static bool logged_once(const Broker *b, const char *needle)
{
	return log_wait(b, needle) && log_count(b, needle) == 1;
}

/* ---- a child as uid 65534 -------------------------------------------- */

/* What a child found; "" when everything went as expected. */
typedef struct Report {
	char text[2048];
} Report;

static void report_fail(Report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report_fail(Report *r, const char *fmt, ...)
{
	size_t used = strlen(r->text);
	va_list ap;

	if (used + 2 >= sizeof(r->text))
		return;
	if (used)
		r->text[used++] = ';', r->text[used++] = ' ';
	va_start(ap, fmt);
	vsnprintf(r->text + used, sizeof(r->text) - used, fmt, ap);
	va_end(ap);
}

typedef void (*ChildSteps)(const Broker *b, Report *r, void *arg);

typedef struct Child {
	pid_t pid;
	int go;          /* a byte here lets it exit (its windows go with it) */
	Report report;
} Child;

/* Runs steps as uid 65534 (supplementary groups: groups, n_groups) and
 * returns once it has reported; it waits for child_release() before
 * exiting, so its windows stay for the parent to look at. */
static void child_start(Child *c, const Broker *b, const gid_t *groups, size_t n_groups, ChildSteps steps,
			void *arg)
{
	int rep[2], go[2];
	ssize_t n;
	size_t got = 0;

	ck_assert_int_eq(pipe(rep), 0);
	ck_assert_int_eq(pipe(go), 0);
	c->pid = fork();
	ck_assert_int_ge(c->pid, 0);
	if (c->pid == 0) {
		Report r = { "" };
		char byte;

		close(rep[0]);
		close(go[1]);
		if (setgroups(n_groups, groups) < 0 || setgid(OTHER_GID) < 0 || setuid(OTHER_UID) < 0)
			report_fail(&r, "cannot become uid %d: %s", OTHER_UID, strerror(errno));
		else
			steps(b, &r, arg);
		if (write(rep[1], r.text, strlen(r.text) + 1) < 0)
			_exit(1);
		close(rep[1]);
		if (read(go[0], &byte, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(rep[1]);
	close(go[0]);
	memset(&c->report, 0, sizeof(c->report));
	while (got < sizeof(c->report.text) - 1 &&
	       (n = read(rep[0], c->report.text + got, sizeof(c->report.text) - 1 - got)) > 0) {
		got += (size_t)n;
		if (memchr(c->report.text, '\0', got))
			break;
	}
	close(rep[0]);
	c->go = go[1];
}

static void child_release(Child *c)
{
	int status;

	ck_assert_int_eq(write(c->go, "g", 1), 1);
	close(c->go);
	ck_assert_int_eq(waitpid(c->pid, &status, 0), c->pid);
}

/* Runs steps as uid 65534 (its own gid only) and checks its report. */
static void as_other_uid(const Broker *b, ChildSteps steps, void *arg)
{
	Child c;

	child_start(&c, b, NULL, 0, steps, arg);
	child_release(&c);
	ck_assert_msg(c.report.text[0] == '\0', "uid %d: %s", OTHER_UID, c.report.text);
}

/* Opens a window; returns the code and, on success, the window. */
static int open_window(cp_client *client, const char *url, const char *name, unsigned flags, cp_window **ret)
{
	cp_window *w = NULL;
	int r = cp_window_open_with_flags(client, url, name, flags, &w);

	if (ret)
		*ret = w;
	return r;
}

/* Expects SecurityError for opening url (name, flags) and that the
 * message names uid 65534. */
static void expect_refused(Report *r, cp_client *client, const char *url, const char *name, unsigned flags,
			   const char *what)
{
	int code = open_window(client, url, name, flags, NULL);

	if (code != CP_ERR_SECURITY)
		report_fail(r, "%s: %s instead of SecurityError", what, code == 0 ? "registered" : cp_error_name(code));
	else if (!strstr(cp_last_error_message(), "uid 65534"))
		report_fail(r, "%s: the message does not name uid 65534: %s", what, cp_last_error_message());
}

static void expect_allowed(Report *r, cp_client *client, const char *url, const char *name, const char *what)
{
	int code = open_window(client, url, name, 0, NULL);

	if (code != 0)
		report_fail(r, "%s: %s (%s)", what, cp_error_name(code), cp_last_error_message());
}

static const cp_window_info *find_info(const cp_window_info *infos, size_t n, uint64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (infos[i].id == id)
			return &infos[i];
	return NULL;
}

/* ==================================================================== */
/* The library checks the broker's uid                                  */
/* ==================================================================== */

/* A fake broker as uid 65534 in a folder it owns: answers each Hello with
 * Welcome, one connection at a time. */
static void fake_broker(const char *path, int ready_fd)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int l;

	if (setgroups(0, NULL) < 0 || setgid(OTHER_GID) < 0 || setuid(OTHER_UID) < 0)
		_exit(2);
	if (strlen(path) >= sizeof(addr.sun_path))
		_exit(5);
	memcpy(addr.sun_path, path, strlen(path) + 1);
	l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&addr, sizeof(addr)) < 0 || chmod(path, 0666) < 0 ||
	    listen(l, 8) < 0)
		_exit(3);
	if (write(ready_fd, "r", 1) != 1)
		_exit(4);
	for (;;) {
		int c = accept(l, NULL, NULL);
		uint32_t lengths[2];
		uint8_t in[4096], out[4096];

		if (c < 0)
			continue;
		while (recv(c, lengths, sizeof(lengths), MSG_WAITALL) == sizeof(lengths)) {
			uint32_t hn = le32toh(lengths[0]), pn = le32toh(lengths[1]);
			Crosspost__Header *h, reply = CROSSPOST__HEADER__INIT;
			Crosspost__Welcome welcome = CROSSPOST__WELCOME__INIT;
			size_t n;

			if (hn > sizeof(in) || pn != 0 || recv(c, in, hn, MSG_WAITALL) != (ssize_t)hn)
				break;
			h = crosspost__header__unpack(NULL, hn, in);
			if (!h)
				break;
			reply.serial = h->serial;
			crosspost__header__free_unpacked(h, NULL);
			welcome.version = 1;
			reply.body_case = CROSSPOST__HEADER__BODY_WELCOME;
			reply.welcome = &welcome;
			n = crosspost__header__get_packed_size(&reply);
			lengths[0] = htole32((uint32_t)n);
			lengths[1] = 0;
			memcpy(out, lengths, sizeof(lengths));
			crosspost__header__pack(&reply, out + sizeof(lengths));
			if (send(c, out, n + sizeof(lengths), MSG_NOSIGNAL) < 0)
				break;
		}
		close(c);
	}
}

START_TEST(library_checks_the_broker_uid)
{
	static const struct {
		const char *env;       /* CROSSPOST_BROKER_UID; NULL: unset */
		bool accepted;
		const char *says;      /* in the error message */
	} cases[] = {
		{ NULL, false, "runs as uid 65534, not as uid 0" },
		{ "65534", true, NULL },
		{ "any", true, NULL },
		{ "0", false, "runs as uid 65534, not uid 0 as CROSSPOST_BROKER_UID says" },
		{ "nobody", false, "CROSSPOST_BROKER_UID must be a uid or 'any'" },
	};
	char dir[128], path[160], byte;
	cp_client *client = NULL;
	int ready[2], status;
	pid_t pid;

	if (!is_root("library_checks_the_broker_uid"))
		return;
	snprintf(dir, sizeof(dir), "%s/fake.XXXXXX", suite_dir);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(chown(dir, OTHER_UID, OTHER_GID), 0);
	snprintf(path, sizeof(path), "%s/broker.sock", dir);
	ck_assert_int_eq(pipe(ready), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(ready[0]);
		fake_broker(path, ready[1]);
		_exit(0);
	}
	close(ready[1]);
	ck_assert_msg(read(ready[0], &byte, 1) == 1, "the fake broker did not start");
	close(ready[0]);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int r;

		if (cases[i].env)
			setenv("CROSSPOST_BROKER_UID", cases[i].env, 1);
		else
			unsetenv("CROSSPOST_BROKER_UID");
		r = cp_client_new(path, &client);
		if (r == 0)
			client = cp_client_free(client);
		if (cases[i].accepted) {
			ck_assert_msg(r == 0, "CROSSPOST_BROKER_UID=%s: %s (%s)", cases[i].env, cp_error_name(r),
				      cp_last_error_message());
		} else {
			ck_assert_msg(r == CP_ERR_SECURITY, "CROSSPOST_BROKER_UID=%s: %s, not SecurityError",
				      cases[i].env ? cases[i].env : "(unset)", r ? cp_error_name(r) : "connected");
			ck_assert_msg(strstr(cp_last_error_message(), cases[i].says), "message [%s] lacks [%s]",
				      cp_last_error_message(), cases[i].says);
		}
	}
	unsetenv("CROSSPOST_BROKER_UID");
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}
END_TEST

/* ==================================================================== */
/* The broker's policy                                                  */
/* ==================================================================== */

/* Shares the socket with everyone; the policy decides the rest. */
#define SHARED "[socket]\nmode = 0666\n"

/* Connecting fails with SecurityError, naming uid 65534; or succeeds when
 * arg is non-NULL. */
static void steps_connect(const Broker *b, Report *r, void *arg)
{
	cp_client *client = NULL;
	int code = cp_client_new(b->socket_path, &client);

	if (arg) {
		if (code != 0)
			report_fail(r, "connect: %s (%s)", cp_error_name(code), cp_last_error_message());
		cp_client_free(client);
		return;
	}
	if (code == 0) {
		report_fail(r, "connected, and the policy has no section for it");
		cp_client_free(client);
	} else if (code != CP_ERR_SECURITY) {
		report_fail(r, "connect: %s (%s), not SecurityError", cp_error_name(code), cp_last_error_message());
	} else if (!strstr(cp_last_error_message(), "uid 65534")) {
		report_fail(r, "the refusal does not name uid 65534: %s", cp_last_error_message());
	}
}

START_TEST(another_uid_is_refused_at_hello_without_a_policy)
{
	static const char *const configs[] = {
		SHARED,                                                  /* no policy sections */
		SHARED "[uid 65534]\nconnect = no\n[everyone]\nregister = *\n",
		SHARED "[gid 1]\nregister = *\n",                        /* a group it is not in */
	};
	Broker b;

	if (!is_root("another_uid_is_refused_at_hello_without_a_policy"))
		return;
	broker_start(&b, configs[_i]);
	as_other_uid(&b, steps_connect, NULL);
	ck_assert_msg(logged_once(&b, "refused uid 65534 at hello"), "the refusal is not logged once");
	/* The broker's own uid still may do everything. */
	{
		cp_client *client = NULL;
		cp_window *w = NULL;

		ck_assert_int_eq(cp_client_new(b.socket_path, &client), 0);
		ck_assert_int_eq(open_window(client, "https://root.example/", "root", CP_WINDOW_PRIVILEGED, &w), 0);
		cp_client_free(client);
	}
	broker_stop(&b);
}
END_TEST

typedef struct Seen {
	uint64_t root_window;
} Seen;

static void steps_restricted(const Broker *b, Report *r, void *arg)
{
	Seen *seen = arg;
	cp_client *client = NULL;
	cp_window *w = NULL;
	cp_window_info *infos = NULL;
	const cp_window_info *root, *own;
	size_t n = 0;
	int code = cp_client_new(b->socket_path, &client);

	if (code != 0) {
		report_fail(r, "connect: %s (%s)", cp_error_name(code), cp_last_error_message());
		return;
	}
	code = open_window(client, "https://a.example.com/page", "app-1", 0, &w);
	if (code != 0) {
		report_fail(r, "https://a.example.com (allowed by https://*.example.com): %s (%s)",
			    cp_error_name(code), cp_last_error_message());
		cp_client_free(client);
		return;
	}
	expect_allowed(r, client, "https://x.y.example.com:443/", NULL, "a subdomain two levels down");
	expect_refused(r, client, "https://bank.example/", NULL, 0, "https://bank.example");
	expect_refused(r, client, "https://example.com/", NULL, 0, "the apex (*.example.com is subdomains only)");
	expect_refused(r, client, "http://a.example.com/", NULL, 0, "another scheme");
	expect_refused(r, client, "https://a.example.com:8443/", NULL, 0, "another port");
	expect_refused(r, client, "https://b.example.com/", NULL, CP_WINDOW_PRIVILEGED, "a privileged window");
	expect_refused(r, client, "https://c.example.com/", "bank-login", 0, "a name outside names = app-*");
	code = cp_window_navigate(w, "https://bank.example/");
	if (code != CP_ERR_SECURITY)
		report_fail(r, "navigate to https://bank.example: %s, not SecurityError",
			    code ? cp_error_name(code) : "navigated");
	if (strcmp(cp_window_origin(w), "https://a.example.com") != 0)
		report_fail(r, "a refused navigation moved the window to %s", cp_window_origin(w));
	code = cp_window_navigate(w, "https://d.example.com/");
	if (code != 0)
		report_fail(r, "navigate to https://d.example.com: %s (%s)", cp_error_name(code),
			    cp_last_error_message());
	code = cp_client_list_windows(client, &infos, &n);
	if (code != 0) {
		report_fail(r, "ListWindows: %s", cp_error_name(code));
		cp_client_free(client);
		return;
	}
	root = find_info(infos, n, seen->root_window);
	own = find_info(infos, n, cp_window_id(w));
	if (!root)
		report_fail(r, "ListWindows does not show root's window at all");
	else if (root->url[0] || root->pid != 0 || strcmp(root->origin, "https://root.example") != 0 ||
		 !root->name || strcmp(root->name, "root-window") != 0)
		report_fail(r, "ListWindows shows root's window as url '%s', pid %d, origin %s, name %s "
			    "(want url '', pid 0, its origin and name)", root->url, (int)root->pid, root->origin,
			    root->name ? root->name : "(none)");
	if (!own || strcmp(own->url, "https://d.example.com/") != 0 || own->pid != getpid())
		report_fail(r, "ListWindows does not show its own window in full");
	cp_window_info_free(infos, n);
	/* The connection survived every refusal. */
	if (cp_client_sync(client, 5000) != 0)
		report_fail(r, "sync after the refusals: %s", cp_last_error_message());
	/* The client stays open on purpose: the parent lists its window
	 * before the child exits. */
}

START_TEST(policy_limits_what_another_uid_may_do)
{
	static const char config[] = SHARED
		"[uid 65534]\n"
		"register = https://*.example.com\n"
		"names = app-*\n"
		"privileged = no\n"
		"list-all = no\n";
	Broker b;
	Child child;
	Seen seen = { 0 };
	cp_client *client = NULL;
	cp_window *root_window = NULL;
	cp_window_info *infos = NULL;
	size_t n = 0;
	const cp_window_info *theirs = NULL;
	bool full = false;

	if (!is_root("policy_limits_what_another_uid_may_do"))
		return;
	broker_start(&b, config);
	ck_assert_int_eq(cp_client_new(b.socket_path, &client), 0);
	ck_assert_int_eq(open_window(client, "https://root.example/inbox?session=secret", "root-window", 0,
				     &root_window), 0);
	seen.root_window = cp_window_id(root_window);
	/* A popup nobody has claimed yet: a window with no connection behind
	 * it, which the restricted lister must be shown without its URL (the
	 * filter once read its connection's uid and crashed the broker). */
	{
		char *token = NULL;

		ck_assert_int_eq(cp_window_open_window(root_window, "https://root.example/popup", "_blank", 0, NULL,
						       &token), 0);
		free(token);
	}
	child_start(&child, &b, NULL, 0, steps_restricted, &seen);
	/* The broker's own uid sees the other uid's windows in full. */
	ck_assert_int_eq(cp_client_list_windows(client, &infos, &n), 0);
	for (size_t i = 0; i < n; i++)
		if (infos[i].name && strcmp(infos[i].name, "app-1") == 0)
			theirs = &infos[i];
	full = theirs && strcmp(theirs->url, "https://d.example.com/") == 0 && theirs->pid == child.pid;
	cp_window_info_free(infos, n);
	child_release(&child);
	ck_assert_msg(child.report.text[0] == '\0', "uid %d: %s", OTHER_UID, child.report.text);
	ck_assert_msg(full, "root does not see uid 65534's window with its url and pid");
	ck_assert_msg(logged_once(&b, "uid 65534): refused to register a window of origin https://bank.example: "),
		      "the refusal of https://bank.example is not logged once with the uid");
	ck_assert_msg(logged_once(&b, "refused to navigate window"), "the refused navigation is not logged");
	cp_client_free(client);
	broker_stop(&b);
}
END_TEST

/* arg: the URL that must be allowed, then the one that must be refused,
 * then "full" or "hidden" for root's window in ListWindows. */
static void steps_sections(const Broker *b, Report *r, void *arg)
{
	const char *const *urls = arg;
	cp_client *client = NULL;
	cp_window_info *infos = NULL;
	size_t n = 0;
	int code = cp_client_new(b->socket_path, &client);

	if (code != 0) {
		report_fail(r, "connect: %s (%s)", cp_error_name(code), cp_last_error_message());
		return;
	}
	expect_allowed(r, client, urls[0], NULL, urls[0]);
	expect_refused(r, client, urls[1], NULL, 0, urls[1]);
	if (cp_client_list_windows(client, &infos, &n) != 0) {
		report_fail(r, "ListWindows: %s", cp_last_error_message());
	} else {
		for (size_t i = 0; i < n; i++) {
			bool full = strcmp(infos[i].url, "https://root.example/") == 0 && infos[i].pid == getppid();

			if (strcmp(infos[i].origin, "https://root.example") == 0 &&
			    full != (strcmp(urls[2], "full") == 0))
				report_fail(r, "root's window is listed with url '%s' pid %d, want it %s", infos[i].url,
					    (int)infos[i].pid, urls[2]);
		}
		cp_window_info_free(infos, n);
	}
	cp_client_free(client);
}

/* Which section applies: uid over the broker's own, then the first group
 * section (primary or supplementary group), then everyone; a section is
 * the whole answer (no falling through to the next for a key). */
START_TEST(the_first_matching_section_decides)
{
	static const struct {
		const char *config;
		gid_t groups[2];
		size_t n_groups;
		const char *urls[3];
	} cases[] = {
		/* A gid section for its primary gid, before [everyone]; nothing
		 * from [everyone] adds to it. */
		{ SHARED "[everyone]\nregister = https://everyone.example\n"
		  "[gid 65534]\nregister = https://group.example\nlist-all = yes\n",
		  { 0 }, 0, { "https://group.example/", "https://everyone.example/", "full" } },
		/* A uid section wins over a group section written first. */
		{ SHARED "[group nogroup]\nregister = https://group.example\n"
		  "[user nobody]\nregister = https://uid.example\n",
		  { 0 }, 0, { "https://uid.example/", "https://group.example/", "hidden" } },
		/* A supplementary group counts (SO_PEERGROUPS): the first group
		 * section in file order that matches decides. */
		{ SHARED "[gid 100]\nregister = https://users.example\nlist-all = yes\n"
		  "[gid 65534]\nregister = https://nogroup.example\n",
		  { 100 }, 1, { "https://users.example/", "https://nogroup.example/", "full" } },
		/* [everyone] for a uid no other section names; null = opaque. */
		{ SHARED "[gid 1]\nregister = *\n[everyone]\nregister = null, https://*.example.org:*\n",
		  { 0 }, 0, { "https://a.example.org:8080/", "https://example.org/", "hidden" } },
		{ SHARED "[everyone]\nregister = null\n",
		  { 0 }, 0, { "file:///tmp/x.html", "https://example.org/", "hidden" } },
		/* navigate = defaults to register, and may differ from it. */
		{ SHARED "[everyone]\nregister = https://a.example\nnavigate = https://b.example\n",
		  { 0 }, 0, { "https://a.example/", "https://b.example/", "hidden" } },
	};
	Broker b;
	Child child;
	cp_client *client = NULL;
	cp_window *w = NULL;

	if (!is_root("the_first_matching_section_decides"))
		return;
	broker_start(&b, cases[_i].config);
	ck_assert_int_eq(cp_client_new(b.socket_path, &client), 0);
	ck_assert_int_eq(open_window(client, "https://root.example/", NULL, 0, &w), 0);
	child_start(&child, &b, cases[_i].groups, cases[_i].n_groups, steps_sections, (void *)cases[_i].urls);
	child_release(&child);
	ck_assert_msg(child.report.text[0] == '\0', "case %d: uid %d: %s", _i, OTHER_UID, child.report.text);
	cp_client_free(client);
	broker_stop(&b);
}
END_TEST

/* ==================================================================== */
/* SIGHUP                                                               */
/* ==================================================================== */

/* Polls (10 s cap) until opening url gives want. */
static int open_until(cp_client *client, const char *url, int want)
{
	int code = -1;

	for (int i = 0; i < 1000; i++) {
		code = open_window(client, url, NULL, 0, NULL);
		if (code == want)
			break;
		poll(NULL, 0, 10);
	}
	return code;
}

/* As the broker's own uid, so it runs without root too: a [uid N] section
 * for it replaces its built-in "everything". */
START_TEST(sighup_reloads_the_policy_for_new_requests)
{
	char config[256];
	Broker b;
	cp_client *client = NULL;
	cp_window *before = NULL;
	cp_window_info *infos = NULL;
	size_t n = 0;

	snprintf(config, sizeof(config), "[uid %u]\nregister = https://before.example\n", (unsigned)geteuid());
	broker_start(&b, config);
	ck_assert_int_eq(cp_client_new(b.socket_path, &client), 0);
	ck_assert_int_eq(open_window(client, "https://before.example/", "kept", 0, &before), 0);
	ck_assert_int_eq(open_window(client, "https://after.example/", NULL, 0, NULL), CP_ERR_SECURITY);

	snprintf(config, sizeof(config), "[uid %u]\nregister = https://after.example\n"
		 "[limits]\nmax-connections = 1000\nmax-url-length = 4KiB\n", (unsigned)geteuid());
	write_file(b.config_path, config);
	ck_assert_int_eq(kill(b.pid, SIGHUP), 0);
	ck_assert_msg(open_until(client, "https://after.example/", 0) == 0,
		      "after SIGHUP, the new rule does not apply: %s", cp_last_error_message());
	ck_assert_int_eq(open_window(client, "https://before.example/", NULL, 0, NULL), CP_ERR_SECURITY);
	/* The connection and the window registered before stay. */
	ck_assert_int_eq(cp_client_list_windows(client, &infos, &n), 0);
	ck_assert_ptr_nonnull(find_info(infos, n, cp_window_id(before)));
	cp_window_info_free(infos, n);
	ck_assert_msg(log_wait(&b, "max-url-length changed, restart needed"),
		      "a limit that cannot change live is not logged as needing a restart");
	ck_assert_msg(log_count(&b, "max-connections changed") == 0, "max-connections applies live");

	/* A file with an error keeps the configuration in force. */
	write_file(b.config_path, "[uid 0]\nregister = https://x.example\nfrobnicate = yes\n");
	ck_assert_int_eq(kill(b.pid, SIGHUP), 0);
	ck_assert_msg(log_wait(&b, "crosspost.conf:3: unknown key 'frobnicate'"),
		      "the reload error is not logged with FILE:LINE");
	ck_assert_msg(logged_once(&b, "keeping the configuration in force"), "the log does not say the old one stays");
	ck_assert_int_eq(open_window(client, "https://after.example/", NULL, 0, NULL), 0);
	ck_assert_int_eq(cp_client_sync(client, 5000), 0);
	cp_client_free(client);
	broker_stop(&b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("identity");
	TCase *tc = tcase_create("identity");
	int status;

	signal(SIGPIPE, SIG_IGN);
	unsetenv("CROSSPOST_BROKER_UID");
	snprintf(suite_dir, sizeof(suite_dir), "/tmp/cpidentity.XXXXXX");
	if (!mkdtemp(suite_dir) || chmod(suite_dir, 0711) < 0) {
		perror("check_identity: cannot make its folder under /tmp");
		return 1;
	}
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, library_checks_the_broker_uid);
	tcase_add_loop_test(tc, another_uid_is_refused_at_hello_without_a_policy, 0, 3);
	tcase_add_test(tc, policy_limits_what_another_uid_may_do);
	tcase_add_loop_test(tc, the_first_matching_section_decides, 0, 6);
	tcase_add_test(tc, sighup_reloads_the_policy_for_new_requests);
	suite_add_tcase(s, tc);
	status = test_run_suite(s);
	nftw(suite_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	return status;
}
