/* SPDX-License-Identifier: MIT */
/* scenario_browser.c - the runner's side of `crosspost run --browser chromium`: one browser host (one Chromium) for the whole run. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "scenario_browser.h"
#include "scenario_proc.h"

/* Chromium's first start with a fresh profile takes a few seconds on a
 * loaded machine; a file's controller page is quicker. */
#define START_MS 60000
#define BEGIN_MS 30000

const char *scenario_browser_find(void)
{
	static char found[4096];
	const char *env = getenv("CROSSPOST_CHROMIUM"), *path = getenv("PATH");

	if (env && *env)
		return access(env, X_OK) == 0 ? env : NULL;
	for (const char *p = path ? path : "/usr/bin:/bin"; p && *p;) {
		const char *end = strchr(p, ':');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		snprintf(found, sizeof(found), "%.*s/chromium", (int)n, p);
		if (n && access(found, X_OK) == 0)
			return found;
		p = end ? end + 1 : NULL;
	}
	return NULL;
}

/* Waits for one answer of the host ("ok" or "error: ..."). */
static int answer(struct scenario_browser *b, int64_t timeout_ms, char *errbuf, size_t errlen)
{
	struct pollfd p = { .fd = b->ctl, .events = POLLIN };
	int64_t deadline = proc_now_ms() + timeout_ms;
	char text[512];
	ssize_t n;

	for (;;) {
		int64_t left = deadline - proc_now_ms();
		int r;

		if (left <= 0) {
			snprintf(errbuf, errlen, "Chromium did not answer in %lld s", (long long)timeout_ms / 1000);
			return -ETIMEDOUT;
		}
		r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r > 0)
			break;
	}
	n = recv(b->ctl, text, sizeof(text) - 1, 0);
	if (n <= 0) {
		snprintf(errbuf, errlen, "the browser host ended (is Chromium working? set CROSSPOST_BROWSER_LOG=1 "
			 "to see its output)");
		return -EIO;
	}
	text[n] = '\0';
	if (strcmp(text, "ok") == 0)
		return 0;
	snprintf(errbuf, errlen, "%s", text);
	return -EIO;
}

int scenario_browser_start(const char *self_exe, const char *program, struct scenario_browser **ret,
			   char *errbuf, size_t errlen)
{
	struct scenario_browser *b = calloc(1, sizeof(*b));
	const char *tmp = getenv("TMPDIR");
	pid_t parent = getpid();
	int sv[2], r;

	if (!b)
		return -ENOMEM;
	b->ctl = -1;
	if (asprintf(&b->profile, "%s/crosspost-chromium-XXXXXX", tmp && *tmp ? tmp : "/tmp") < 0 ||
	    !mkdtemp(b->profile)) {
		snprintf(errbuf, errlen, "cannot make a profile folder: %s", strerror(errno));
		free(b->profile);
		free(b);
		return -errno;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		r = -errno;
		snprintf(errbuf, errlen, "socketpair: %s", strerror(-r));
		scenario_browser_free(b);
		return r;
	}
	fflush(NULL);
	b->pid = fork();
	if (b->pid == 0) {
		char fd_text[16];
		int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);

		proc_die_with_parent(parent, SIGKILL);
		fcntl(sv[1], F_SETFD, 0);
		if (null_fd >= 0)
			dup2(null_fd, STDOUT_FILENO);
		snprintf(fd_text, sizeof(fd_text), "%d", sv[1]);
		execl(self_exe, self_exe, "browser-host", "--fd", fd_text, "--chromium", program, "--profile",
		      b->profile, (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	b->ctl = sv[0];
	if (b->pid < 0) {
		r = -errno;
		b->pid = 0;
		snprintf(errbuf, errlen, "fork: %s", strerror(-r));
		scenario_browser_free(b);
		return r;
	}
	r = answer(b, START_MS, errbuf, errlen);
	if (r < 0) {
		scenario_browser_free(b);
		return r;
	}
	*ret = b;
	return 0;
}

int scenario_browser_begin(struct scenario_browser *b, char *errbuf, size_t errlen)
{
	if (send(b->ctl, "begin", 5, MSG_NOSIGNAL) < 0) {
		snprintf(errbuf, errlen, "the browser host is gone");
		return -EIO;
	}
	return answer(b, BEGIN_MS, errbuf, errlen);
}

int scenario_browser_end(struct scenario_browser *b)
{
	char errbuf[256];

	if (send(b->ctl, "end", 3, MSG_NOSIGNAL) < 0)
		return -EIO;
	return answer(b, BEGIN_MS, errbuf, sizeof(errbuf));
}

int scenario_browser_attach(struct scenario_browser *b, const char *alias)
{
	char text[256], cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { text, 0 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	int sv[2], r;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	iov.iov_len = (size_t)snprintf(text, sizeof(text), "agent %u %s", b->next_agent++, alias);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &sv[1], sizeof(int));
	r = sendmsg(b->ctl, &mh, MSG_NOSIGNAL) < 0 ? -errno : 0;
	close(sv[1]);
	if (r < 0) {
		close(sv[0]);
		return r;
	}
	return sv[0];
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

struct scenario_browser *scenario_browser_free(struct scenario_browser *b)
{
	int status;

	if (!b)
		return NULL;
	if (b->ctl >= 0)
		close(b->ctl);          /* the host closes Chromium and exits */
	if (b->pid > 0)
		proc_stop(b->pid, 0, 5000, &status);
	if (b->profile)
		nftw(b->profile, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(b->profile);
	free(b);
	return NULL;
}
