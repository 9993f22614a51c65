/* SPDX-License-Identifier: MIT */
/*
 * check_hostile.c - protocol-aware hostile clients against a real broker.
 *
 * Each TCase is one class of attack from the "hostile clients" issue; each
 * test plays the attacker over raw sockets and ends the same way: the
 * broker is alive, a bystander connected before the attack (a window of
 * its own) still posts and receives through the broker, the broker's
 * descriptor count is back at its baseline, and where memory is the point
 * the broker's own accounting (GetStats -> Stats.bytes_held) stays under a
 * stated bound.
 *
 * Written to the target behaviour before the fixes: options the broker
 * does not have yet (--limit KEY=VALUE, --config FILE) are passed all the
 * same, through test_broker_start_args().
 *
 * Synchronisation is by replies (a Sync is answered once everything before
 * it was handled; errors for a post arrive before the next Sync's Ack) or,
 * where a state change has no reply, by polling with a deadline.  Where a
 * writer must find out that the broker stopped reading it, it writes with
 * MSG_DONTWAIT and calls the broker stalled once the socket stayed full for
 * STALL_MS: that only decides when to stop writing, never whether a test
 * passes on speed.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>

#include "fixture.h"

/* SecurityError has no public code yet: the client library will return it
 * for a broker running as another user.  The tests compare the code's name
 * ("SecurityError", from cp_error_name()), so that they hold whatever
 * number it gets; this placeholder is only printed. */
#define CP_ERR_SECURITY_PLACEHOLDER (-13)

#define KIB 1024u
#define MIB (1024u * 1024u)
/* A writer whose socket stayed full this long is taken to be unread. */
#define STALL_MS 500
/* The uid of "nobody", for the attacks from another user. */
#define OTHER_UID 65534

typedef Crosspost__Header Header;

static TestBroker broker;
static uint32_t serial_counter = 1000;
/* Made by main() and removed when the suite ends, whatever the tests left
 * (a failed check exits without teardown): every broker's folder goes in
 * suite_dir ($TMPDIR for the tests), and what another user must reach in
 * reach_dir (under /tmp, mode 0711). */
static char suite_dir[256], reach_dir[256];

static uint32_t next_serial(void) { return ++serial_counter; }

static void setup(void) { memset(&broker, 0, sizeof(broker)); }

static void teardown(void)
{
	if (broker.pid > 0)
		test_broker_stop(&broker);
}

static void start(const char *const *args) { test_broker_start_args(&broker, args, 0); }

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool is_root(const char *test)
{
	if (geteuid() == 0)
		return true;
	printf("SKIP %s: needs root (chown, setuid to uid %d)\n", test, OTHER_UID);
	return false;
}

/* ---- the end of every test ---- */

/* The broker is alive, the bystander is served, descriptors are back. */
static void assert_healthy(TestBystander *by, int fd_baseline)
{
	int status = 0, n;

	ck_assert_msg(waitpid(broker.pid, &status, WNOHANG) == 0, "the broker died (status 0x%x)", status);
	test_bystander_check(by);
	n = test_broker_wait_fd_count(&broker, fd_baseline, 5000);
	ck_assert_msg(n == fd_baseline, "the broker holds %d descriptors; %d before the attack", n, fd_baseline);
}

static uint64_t bytes_held(TestBystander *by)
{
	Header *h = test_bystander_stats(by);
	uint64_t n = h->stats->bytes_held;

	crosspost__header__free_unpacked(h, NULL);
	return n;
}

/* ---- raw frames (asserting: for the test's own, well-behaved steps) ---- */

static void send_frame(int fd, Header *h, const void *payload, size_t len)
{
	ck_assert_msg(test_raw_try_send(fd, h, payload, len, NULL, 0) == 0, "cannot send: connection closed");
}

static Header *request(int fd, Header *h)
{
	h->serial = next_serial();
	return test_raw_request(fd, h, 5000);
}

static Header *try_register(int fd, const char *url, const char *name, bool privileged)
{
	Header h = CROSSPOST__HEADER__INIT;
	Crosspost__Register reg = CROSSPOST__REGISTER__INIT;

	reg.url = (char *)url;
	reg.name = (char *)(name ? name : "");
	reg.privileged = privileged;
	h.body_case = CROSSPOST__HEADER__BODY_REGISTER;
	h.register_ = &reg;
	return request(fd, &h);
}

/* Registers another window on a connection that said Hello already. */
static uint64_t register_window(int fd, const char *url, const char *name)
{
	Header *reply = try_register(fd, url, name, false);
	uint64_t id;

	ck_assert_ptr_nonnull(reply);
	ck_assert_msg(reply->body_case == CROSSPOST__HEADER__BODY_REGISTERED, "register %.60s: %s", url,
		      reply->body_case == CROSSPOST__HEADER__BODY_ERROR ? reply->error->message : "not registered");
	id = reply->registered->window_id;
	crosspost__header__free_unpacked(reply, NULL);
	return id;
}

static void hello(int fd)
{
	Header *reply = test_raw_hello(fd, 1);

	ck_assert_ptr_nonnull(reply);
	ck_assert_int_eq(reply->body_case, CROSSPOST__HEADER__BODY_WELCOME);
	crosspost__header__free_unpacked(reply, NULL);
}

static void create_channel(int fd, uint64_t window, uint64_t *p1, uint64_t *p2)
{
	Header h = CROSSPOST__HEADER__INIT, *reply;
	Crosspost__CreateChannel req = CROSSPOST__CREATE_CHANNEL__INIT;

	req.window_id = window;
	h.body_case = CROSSPOST__HEADER__BODY_CREATE_CHANNEL;
	h.create_channel = &req;
	reply = request(fd, &h);
	ck_assert_ptr_nonnull(reply);
	ck_assert_int_eq(reply->body_case, CROSSPOST__HEADER__BODY_CHANNEL_CREATED);
	*p1 = reply->channel_created->port1_id;
	*p2 = reply->channel_created->port2_id;
	crosspost__header__free_unpacked(reply, NULL);
}

/* Post from -> to with targetOrigin "*"; returns its serial.  Does not
 * assert that the write succeeds (the broker may close an attacker). */
static uint32_t post_fds(int fd, uint64_t from, uint64_t to, const void *payload, size_t len,
			 uint64_t *ports, size_t n_ports, const int *fds, size_t n_fds, uint64_t *sizes,
			 size_t n_sizes)
{
	Header h = CROSSPOST__HEADER__INIT;
	Crosspost__Post p = CROSSPOST__POST__INIT;

	p.sender_window_id = from;
	p.target_window_id = to;
	p.target_origin = (char *)"*";
	p.transfer_ports = ports;
	p.n_transfer_ports = n_ports;
	p.fd_count = (uint32_t)n_fds;
	p.buffer_sizes = sizes;
	p.n_buffer_sizes = n_sizes;
	h.serial = next_serial();
	h.body_case = CROSSPOST__HEADER__BODY_POST;
	h.post = &p;
	test_raw_try_send(fd, &h, payload, len, fds, n_fds);
	return h.serial;
}

static uint32_t post(int fd, uint64_t from, uint64_t to, const char *payload, uint64_t *ports, size_t n_ports)
{
	return post_fds(fd, from, to, payload, strlen(payload), ports, n_ports, NULL, 0, NULL, 0);
}

static uint32_t port_post_fds(int fd, uint64_t port, char tag, uint64_t *ports, size_t n_ports,
			      const int *fds, size_t n_fds, uint64_t *sizes, size_t n_sizes)
{
	Header h = CROSSPOST__HEADER__INIT;
	Crosspost__PortPost p = CROSSPOST__PORT_POST__INIT;

	p.port_id = port;
	p.transfer_ports = ports;
	p.n_transfer_ports = n_ports;
	p.fd_count = (uint32_t)n_fds;
	p.buffer_sizes = sizes;
	p.n_buffer_sizes = n_sizes;
	h.serial = next_serial();
	h.body_case = CROSSPOST__HEADER__BODY_PORT_POST;
	h.port_post = &p;
	test_raw_try_send(fd, &h, &tag, 1, fds, n_fds);
	return h.serial;
}

static uint32_t port_post(int fd, uint64_t port, char tag, uint64_t *ports, size_t n_ports)
{
	return port_post_fds(fd, port, tag, ports, n_ports, NULL, 0, NULL, 0);
}

static void port_return(int fd, uint64_t port, uint64_t *ports, size_t n_ports, char tag)
{
	Header h = CROSSPOST__HEADER__INIT;
	Crosspost__PortReturn r = CROSSPOST__PORT_RETURN__INIT;

	r.port_id = port;
	r.ports = ports;
	r.n_ports = n_ports;
	h.serial = next_serial();
	h.body_case = CROSSPOST__HEADER__BODY_PORT_RETURN;
	h.port_return = &r;
	test_raw_try_send(fd, &h, &tag, 1, NULL, 0);
}

static void port_released(int fd, uint64_t port)
{
	Header h = CROSSPOST__HEADER__INIT;
	Crosspost__PortReleased r = CROSSPOST__PORT_RELEASED__INIT;

	r.port_id = port;
	h.serial = next_serial();
	h.body_case = CROSSPOST__HEADER__BODY_PORT_RELEASED;
	h.port_released = &r;
	test_raw_try_send(fd, &h, NULL, 0, NULL, 0);
}

static void port_close(int fd, uint64_t port)
{
	Header h = CROSSPOST__HEADER__INIT;
	Crosspost__PortClose c = CROSSPOST__PORT_CLOSE__INIT;

	c.port_id = port;
	h.serial = next_serial();
	h.body_case = CROSSPOST__HEADER__BODY_PORT_CLOSE;
	h.port_close = &c;
	test_raw_try_send(fd, &h, NULL, 0, NULL, 0);
}

static bool sync_ok(int fd) { return test_raw_sync(fd, next_serial(), 5000); }

/* The next frame on fd (5 s limit); fails the test naming who waited. */
static void expect_frame(int fd, TestFrame *f, const char *who)
{
	ck_assert_msg(test_raw_recv(fd, 5000, f), "%s: no frame within 5 s, or the connection closed", who);
}

static const char *kind_name(const Header *h)
{
	switch (h->body_case) {
	case CROSSPOST__HEADER__BODY_EVENT: return "event";
	case CROSSPOST__HEADER__BODY_PORT_MOVED: return "port-moved";
	case CROSSPOST__HEADER__BODY_ERROR: return "error";
	case CROSSPOST__HEADER__BODY_ACK: return "ack";
	default: return "other";
	}
}

static void expect_port_event(int fd, uint64_t port, char tag, const char *who)
{
	TestFrame f;

	expect_frame(fd, &f, who);
	ck_assert_msg(f.header->body_case == CROSSPOST__HEADER__BODY_EVENT, "%s: got a %s frame, not the message on port %llu",
		      who, kind_name(f.header), (unsigned long long)port);
	ck_assert_msg(f.header->event->target_port_id == port && f.length == 1 && f.payload[0] == (uint8_t)tag,
		      "%s: got '%c' on port %llu, expected '%c' on port %llu", who, f.length ? f.payload[0] : '?',
		      (unsigned long long)f.header->event->target_port_id, tag, (unsigned long long)port);
	test_frame_clear(&f);
}

/* Sends Sync and reads up to its Ack (errors for a post come before the
 * next Sync's Ack).  Returns the code of the Error answering serial, or -1
 * when none came. */
static int error_before_sync(int fd, uint32_t serial, const char *what)
{
	uint32_t sync_serial = next_serial();
	Header h = CROSSPOST__HEADER__INIT;
	Crosspost__Sync sync = CROSSPOST__SYNC__INIT;
	int seen = -1;

	h.serial = sync_serial;
	h.body_case = CROSSPOST__HEADER__BODY_SYNC;
	h.sync = &sync;
	ck_assert_msg(test_raw_try_send(fd, &h, NULL, 0, NULL, 0) == 0, "%s: connection closed", what);
	for (;;) {
		TestFrame f;
		bool done;

		ck_assert_msg(test_raw_recv(fd, 5000, &f), "%s: the connection closed before the Sync's Ack", what);
		if (f.header->body_case == CROSSPOST__HEADER__BODY_ERROR && f.header->serial == serial)
			seen = (int)f.header->error->code;
		done = f.header->body_case == CROSSPOST__HEADER__BODY_ACK && f.header->serial == sync_serial;
		test_frame_clear(&f);
		if (done)
			return seen;
	}
}

static void expect_error(int fd, uint32_t serial, Crosspost__ErrorCode code, const char *what)
{
	int seen = error_before_sync(fd, serial, what);

	if (seen < 0)
		ck_abort_msg("%s: no error; expected error code %d", what, (int)code);
	ck_assert_msg(seen == (int)code, "%s: error code %d; expected %d", what, seen, (int)code);
}

/* Does the frame name port (as target, among the ports carried, moved)? */
static bool names_port(const Header *h, uint64_t port)
{
	if (h->body_case == CROSSPOST__HEADER__BODY_PORT_MOVED)
		return h->port_moved->port_id == port;
	if (h->body_case != CROSSPOST__HEADER__BODY_EVENT)
		return false;
	if (h->event->target_port_id == port)
		return true;
	for (size_t i = 0; i < h->event->n_ports; i++)
		if (h->event->ports[i] == port)
			return true;
	return false;
}

/* The last Error frame read_until_closed() saw: its code, or -1. */
static int last_error_code = -1;

/* Reads fd until the broker closes it (5 s of silence: not closed).
 * Counts frames naming port a or b in *ret_named (when not NULL). */
static bool read_until_closed(int fd, uint64_t a, uint64_t b, int *ret_named)
{
	last_error_code = -1;
	for (;;) {
		TestFrame f;

		if (!test_raw_recv(fd, 5000, &f)) {
			char byte;
			struct pollfd pfd = { .fd = fd, .events = POLLIN };

			/* EOF, or silence: tell them apart. */
			return poll(&pfd, 1, 0) == 1 && recv(fd, &byte, 1, MSG_DONTWAIT) <= 0;
		}
		if (ret_named && (names_port(f.header, a) || names_port(f.header, b)))
			(*ret_named)++;
		if (f.header->body_case == CROSSPOST__HEADER__BODY_ERROR)
			last_error_code = (int)f.header->error->code;
		test_frame_clear(&f);
	}
}

/* For failure messages: what the broker answered instead of closing. */
static const char *instead(void)
{
	static char text[64];

	if (last_error_code < 0)
		return "no error either";
	snprintf(text, sizeof(text), "it answered with error code %d instead", last_error_code);
	return text;
}

/* Waits until every fd is closed by the broker; returns how many were. */
static size_t wait_all_closed(const int *fds, size_t n, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	bool *closed = calloc(n, sizeof(*closed));
	struct pollfd *pfd = calloc(n, sizeof(*pfd));
	size_t n_closed = 0;

	ck_assert(closed && pfd);
	while (n_closed < n && now_ms() < deadline) {
		nfds_t k = 0;
		char buf[4096];

		for (size_t i = 0; i < n; i++)
			if (!closed[i])
				pfd[k++] = (struct pollfd){ .fd = fds[i], .events = POLLIN };
		if (poll(pfd, k, (int)(deadline - now_ms() > 0 ? deadline - now_ms() : 0)) <= 0)
			break;
		for (nfds_t j = 0; j < k; j++) {
			ssize_t r;

			if (!pfd[j].revents)
				continue;
			r = recv(pfd[j].fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
				for (size_t i = 0; i < n; i++)
					if (fds[i] == pfd[j].fd)
						closed[i] = true;
				n_closed++;
			}
		}
	}
	free(closed);
	free(pfd);
	return n_closed;
}

/* ---- windows as listed ---- */

typedef struct Listed {
	uint64_t id;
	char *url;
	int32_t pid;
} Listed;

static void listed_free(Listed *l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(l[i].url);
	free(l);
}

/* Every window, asking page after page (ListWindows.after_id); returns
 * the count, or (size_t)-1 when the connection closed.  Never asserts:
 * children use it too. */
static size_t list_all(int fd, uint32_t *serial, Listed **ret)
{
	size_t n = 0, cap = 64;
	Listed *l = malloc(cap * sizeof(*l));
	uint64_t after = 0;

	for (int page = 0; page < 10000; page++) {
		Header h = CROSSPOST__HEADER__INIT, *reply;
		Crosspost__ListWindows list = CROSSPOST__LIST_WINDOWS__INIT;
		bool more;

		list.after_id = after;
		h.serial = ++*serial;
		h.body_case = CROSSPOST__HEADER__BODY_LIST_WINDOWS;
		h.list_windows = &list;
		reply = test_raw_request(fd, &h, 5000);
		if (!reply || reply->body_case != CROSSPOST__HEADER__BODY_WINDOW_LIST) {
			if (reply)
				crosspost__header__free_unpacked(reply, NULL);
			listed_free(l, n);
			return (size_t)-1;
		}
		for (size_t i = 0; i < reply->window_list->n_windows; i++) {
			const Crosspost__WindowInfo *w = reply->window_list->windows[i];

			if (w->id <= after)
				continue;    /* not a page after `after`: ignore */
			if (n == cap)
				l = realloc(l, (cap *= 2) * sizeof(*l));
			l[n].id = w->id;
			l[n].url = strdup(w->url);
			l[n].pid = w->pid;
			n++;
		}
		more = reply->window_list->more && reply->window_list->n_windows > 0;
		if (n > 0)
			after = l[n - 1].id;
		crosspost__header__free_unpacked(reply, NULL);
		if (!more)
			break;
	}
	*ret = l;
	return n;
}

static const Listed *find_listed(const Listed *l, size_t n, uint64_t id)
{
	for (size_t i = 0; i < n; i++)
		if (l[i].id == id)
			return &l[i];
	return NULL;
}

/* ---- writing without blocking: the broker may stop reading us ---- */

typedef struct Pump Pump;
struct Pump {
	int fd;
	size_t index, count;                    /* frames built / to build */
	void (*build)(Pump *p, size_t index);   /* calls pump_frame() */
	void *ctx;
	uint64_t u1, u2;                        /* for build() */
	size_t unit;                            /* for build(): payload bytes */
	uint8_t *head;
	size_t head_len, head_off;
	const uint8_t *payload;
	size_t payload_len, payload_off;
	uint64_t sent;
	bool active, done, broken;
};

/* The frame being sent: header, then len bytes of payload, with a prefix
 * declaring `declared` payload bytes (0: len). */
static void pump_frame(Pump *p, const Header *h, const void *payload, size_t len, uint32_t declared)
{
	size_t header_len = crosspost__header__get_packed_size(h);
	uint32_t lengths[2] = { (uint32_t)header_len, declared ? declared : (uint32_t)len };

	p->head = malloc(8 + header_len);
	ck_assert_ptr_nonnull(p->head);
	memcpy(p->head, lengths, 8);
	crosspost__header__pack(h, p->head + 8);
	p->head_len = 8 + header_len;
	p->head_off = 0;
	p->payload = payload;
	p->payload_len = len;
	p->payload_off = 0;
	p->active = true;
}

/* Writes what the socket takes now.  True when it wrote something. */
static bool pump_step(Pump *p)
{
	bool progress = false;

	while (!p->done && !p->broken) {
		struct iovec iov[2];
		struct msghdr msg = { .msg_iov = iov };
		ssize_t w;

		if (!p->active) {
			if (p->index == p->count) {
				p->done = true;
				break;
			}
			p->build(p, p->index++);
		}
		if (p->head_off < p->head_len)
			iov[msg.msg_iovlen++] = (struct iovec){ p->head + p->head_off, p->head_len - p->head_off };
		if (p->payload_off < p->payload_len)
			iov[msg.msg_iovlen++] = (struct iovec){ (void *)(p->payload + p->payload_off),
								p->payload_len - p->payload_off };
		if (msg.msg_iovlen == 0) {
			free(p->head);
			p->head = NULL;
			p->active = false;
			continue;
		}
		w = sendmsg(p->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			break;
		if (w < 0) {
			p->broken = true;    /* the broker closed it */
			break;
		}
		progress = true;
		p->sent += (uint64_t)w;
		if ((size_t)w <= p->head_len - p->head_off) {
			p->head_off += (size_t)w;
		} else {
			p->payload_off += (size_t)w - (p->head_len - p->head_off);
			p->head_off = p->head_len;
		}
	}
	return progress;
}

static bool pump_pending(const Pump *p) { return !p->done && !p->broken; }

/* Runs the pumps until each is done or closed, or none of those left
 * could write for STALL_MS (the broker stopped reading them), or
 * deadline_ms passed. */
static void pump_run(Pump **pumps, size_t n, int deadline_ms)
{
	long long deadline = now_ms() + deadline_ms;
	struct pollfd *pfd = calloc(n, sizeof(*pfd));

	ck_assert_ptr_nonnull(pfd);
	while (now_ms() < deadline) {
		bool progress = false;
		nfds_t k = 0;

		for (size_t i = 0; i < n; i++)
			if (pump_pending(pumps[i]) && pump_step(pumps[i]))
				progress = true;
		for (size_t i = 0; i < n; i++)
			if (pump_pending(pumps[i]))
				pfd[k++] = (struct pollfd){ .fd = pumps[i]->fd, .events = POLLOUT };
		if (k == 0)
			break;
		if (!progress && poll(pfd, k, STALL_MS) == 0)
			break;
	}
	free(pfd);
}

static void pump_free(Pump *p)
{
	free(p->head);
	p->head = NULL;
}

/* A payload of n bytes, allocated once per test. */
static uint8_t *filler(size_t n, uint8_t byte)
{
	uint8_t *b = malloc(n);

	ck_assert_ptr_nonnull(b);
	memset(b, byte, n);
	return b;
}

/* ---- children: no check assertions in another process ---- */

/* Lets go of every descriptor but keep1 and keep2 (-1: none) and the
 * standard ones, and dies with the test process.  They are pointed at
 * /dev/null rather than closed: check writes to its own descriptor at
 * every assertion (even those that pass), and must not write into a socket
 * that took its number. */
static void child_init(int keep1, int keep2)
{
	int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	for (int fd = 3; fd < 4096; fd++)
		if (fd != keep1 && fd != keep2 && fd != null_fd && fcntl(fd, F_GETFD) != -1)
			dup2(null_fd, fd);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
}

static bool become_other_user(void)
{
	return setgroups(0, NULL) == 0 && setgid(OTHER_UID) == 0 && setuid(OTHER_UID) == 0;
}

/* Hello, without assertions: the reply's header or NULL. */
static Header *quiet_hello(int fd)
{
	Header h = CROSSPOST__HEADER__INIT;
	Crosspost__Hello hi = CROSSPOST__HELLO__INIT;

	hi.version = 1;
	hi.client_name = (char *)"check_hostile";
	h.serial = 1;
	h.body_case = CROSSPOST__HEADER__BODY_HELLO;
	h.hello = &hi;
	return test_raw_request(fd, &h, 5000);
}

/* Register without assertions: the window id, or 0 with *ret_code the
 * error code (-1: no reply, -2: an unexpected reply). */
static uint64_t quiet_register(int fd, uint32_t serial, const char *url, const char *name, bool privileged,
			       int *ret_code)
{
	Header h = CROSSPOST__HEADER__INIT, *reply;
	Crosspost__Register reg = CROSSPOST__REGISTER__INIT;
	uint64_t id = 0;

	reg.url = (char *)url;
	reg.name = (char *)(name ? name : "");
	reg.privileged = privileged;
	h.serial = serial;
	h.body_case = CROSSPOST__HEADER__BODY_REGISTER;
	h.register_ = &reg;
	reply = test_raw_request(fd, &h, 5000);
	*ret_code = -1;
	if (reply && reply->body_case == CROSSPOST__HEADER__BODY_REGISTERED) {
		id = reply->registered->window_id;
		*ret_code = 0;
	} else if (reply && reply->body_case == CROSSPOST__HEADER__BODY_ERROR) {
		*ret_code = (int)reply->error->code;
	} else if (reply) {
		*ret_code = -2;
	}
	if (reply)
		crosspost__header__free_unpacked(reply, NULL);
	return id;
}

/* What a child reports through a pipe. */
typedef struct ChildReport {
	int failed;          /* 0: every step as expected */
	uint64_t window;
	char message[400];
} ChildReport;

static void child_report(int fd, ChildReport *r)
{
	if (write(fd, r, sizeof(*r)) != (ssize_t)sizeof(*r))
		_exit(3);
}

/* Reads a child's report (10 s limit). */
static void read_report(int fd, ChildReport *r)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	ck_assert_msg(poll(&pfd, 1, 10000) == 1 && read(fd, r, sizeof(*r)) == (ssize_t)sizeof(*r),
		      "the child process did not report");
}

/* ====================================================================== */
/* 1. Port theft: PortReturn's ports, PortReturn/Released for ports not in */
/*    transit from the sender, transfer lists naming others' ports.        */
/* ====================================================================== */

/* Two victims: V1 owns Q, V2 owns R, Q and R entangled. */
typedef struct Victims {
	int v1, v2;
	uint64_t w1, w2, q, r;
} Victims;

static void expect_window_event_with_port(int fd, uint64_t port, const char *who)
{
	TestFrame f;

	expect_frame(fd, &f, who);
	ck_assert_msg(f.header->body_case == CROSSPOST__HEADER__BODY_EVENT && f.header->event->target_port_id == 0 &&
		      f.header->event->n_ports == 1 && f.header->event->ports[0] == port,
		      "%s: expected a window message carrying port %llu, got a %s frame", who,
		      (unsigned long long)port, kind_name(f.header));
	test_frame_clear(&f);
}

static void expect_port_moved(int fd, uint64_t port, const char *who)
{
	TestFrame f;

	expect_frame(fd, &f, who);
	ck_assert_msg(f.header->body_case == CROSSPOST__HEADER__BODY_PORT_MOVED && f.header->port_moved->port_id == port,
		      "%s: expected PortMoved(%llu), got a %s frame", who, (unsigned long long)port, kind_name(f.header));
	test_frame_clear(&f);
}

/* Both directions of the victims' channel work, and each side's next
 * frame is that message: nothing else reached them meanwhile. */
static void victims_check(const Victims *v, char tag)
{
	port_post(v->v2, v->r, tag, NULL, 0);
	expect_port_event(v->v1, v->q, tag, "V1 on Q");
	port_post(v->v1, v->q, (char)(tag + 1), NULL, 0);
	expect_port_event(v->v2, v->r, (char)(tag + 1), "V2 on R");
}

static void victims_open(Victims *v)
{
	v->v1 = test_raw_connect(&broker);
	v->w1 = test_raw_register(v->v1, "https://v1.example/");
	v->v2 = test_raw_connect(&broker);
	v->w2 = test_raw_register(v->v2, "https://v2.example/");
	create_channel(v->v1, v->w1, &v->q, &v->r);
	post(v->v1, v->w1, v->w2, "r", &v->r, 1);
	expect_port_moved(v->v1, v->r, "V1");
	port_released(v->v1, v->r);
	expect_window_event_with_port(v->v2, v->r, "V2");
	victims_check(v, 'a');
}

static void victims_close(Victims *v)
{
	close(v->v1);
	close(v->v2);
}

/* An attacker with two windows; a1 (of channel a1/a2) is in transit from
 * the attacker to its own other window, so it may send PortReturn for it.
 * b1/b2 is a second channel of its own. */
typedef struct Attacker {
	int fd;
	uint64_t w1, w2, a1, a2, b1, b2;
} Attacker;

static void attacker_with_port_in_transit(Attacker *a)
{
	bool moved = false, delivered = false;

	a->fd = test_raw_connect(&broker);
	a->w1 = test_raw_register(a->fd, "https://attacker.example/");
	a->w2 = register_window(a->fd, "https://attacker.example/other", NULL);
	create_channel(a->fd, a->w1, &a->a1, &a->a2);
	create_channel(a->fd, a->w1, &a->b1, &a->b2);
	post(a->fd, a->w1, a->w2, "m", &a->a1, 1);
	while (!moved || !delivered) {
		TestFrame f;

		expect_frame(a->fd, &f, "attacker");
		if (f.header->body_case == CROSSPOST__HEADER__BODY_PORT_MOVED && f.header->port_moved->port_id == a->a1)
			moved = true;
		else if (f.header->body_case == CROSSPOST__HEADER__BODY_EVENT && f.header->event->n_ports == 1 &&
			 f.header->event->ports[0] == a->a1)
			delivered = true;
		test_frame_clear(&f);
	}
}

/* The ids a returned message names, per variant. */
static size_t theft_ports(int variant, const Victims *v, const Attacker *a, uint64_t *ids)
{
	switch (variant) {
	case 0: ids[0] = v->r; return 1;                 /* the victim's port R */
	case 1: ids[0] = v->q; return 1;                 /* the victim's port Q */
	case 2: ids[0] = UINT64_C(1) << 40; return 1;    /* never assigned */
	default: ids[0] = ids[1] = a->b1; return 2;      /* its own, twice */
	}
}

static const char *const theft_names[] = { "R (the other victim's)", "Q (the victim's)", "an id never assigned",
					    "its own port twice" };

START_TEST(returned_message_carrying_ports_not_owned_closes_the_attacker)
{
	TestBystander by;
	Victims v;
	Attacker a;
	uint64_t ids[2];
	size_t n;
	int base, named = 0;
	bool closed;

	start(NULL);
	test_bystander_open(&broker, &by);
	base = test_broker_settled_fd_count(&broker);
	victims_open(&v);
	attacker_with_port_in_transit(&a);
	n = theft_ports(_i, &v, &a, ids);
	port_return(a.fd, a.a1, ids, n, 'x');
	port_released(a.fd, a.a1);
	closed = read_until_closed(a.fd, v.r, v.q, &named);
	ck_assert_msg(named == 0, "PortReturn carrying %s: the attacker got %d frames naming the victims' ports",
		      theft_names[_i], named);
	ck_assert_msg(closed, "PortReturn carrying %s: the attacker's connection stayed open", theft_names[_i]);
	victims_check(&v, 'c');
	close(a.fd);
	victims_close(&v);
	assert_healthy(&by, base);
	test_bystander_close(&by);
}
END_TEST

/* Frames of a connection that stays open: nothing may name port a or b. */
static void expect_nothing_naming(int fd, uint64_t a, uint64_t b, const char *who)
{
	uint32_t s = next_serial();
	Header h = CROSSPOST__HEADER__INIT;
	Crosspost__Sync sync = CROSSPOST__SYNC__INIT;

	h.serial = s;
	h.body_case = CROSSPOST__HEADER__BODY_SYNC;
	h.sync = &sync;
	if (test_raw_try_send(fd, &h, NULL, 0, NULL, 0) < 0)
		return;    /* closed: fine too */
	for (;;) {
		TestFrame f;
		bool done;

		if (!test_raw_recv(fd, 5000, &f))
			return;
		ck_assert_msg(!names_port(f.header, a) && !names_port(f.header, b), "%s got a %s frame naming a victim's port",
			      who, kind_name(f.header));
		done = f.header->body_case == CROSSPOST__HEADER__BODY_ACK && f.header->serial == s;
		test_frame_clear(&f);
		if (done)
			return;
	}
}

START_TEST(port_return_for_a_port_not_in_transit_from_the_sender_changes_nothing)
{
	TestBystander by;
	Victims v;
	int a, base;
	uint64_t aw, a1, a2;

	start(NULL);
	test_bystander_open(&broker, &by);
	base = test_broker_settled_fd_count(&broker);
	victims_open(&v);
	a = test_raw_connect(&broker);
	aw = test_raw_register(a, "https://attacker.example/");
	create_channel(a, aw, &a1, &a2);

	/* R is V2's and not moving; a1 is the attacker's and not moving. */
	port_return(a, v.r, NULL, 0, 'z');
	port_released(a, v.r);
	port_return(a, a1, NULL, 0, 'y');
	port_released(a, a1);
	expect_nothing_naming(a, v.r, v.q, "the attacker");
	victims_check(&v, 'c');    /* V2's next frame on R is V1's, not 'z' */

	/* R in transit from V2 to V1's window: only V2 may hand it over. */
	post(v.v2, v.w2, v.w1, "t", &v.r, 1);
	expect_port_moved(v.v2, v.r, "V2");
	expect_window_event_with_port(v.v1, v.r, "V1");
	port_return(a, v.r, NULL, 0, 'x');
	port_released(a, v.r);
	expect_nothing_naming(a, v.r, v.q, "the attacker");
	port_post(v.v1, v.q, 'k', NULL, 0);      /* held until R lands */
	port_released(v.v2, v.r);
	expect_port_event(v.v1, v.r, 'k', "V1 on R (landed)");
	port_post(v.v1, v.r, 'l', NULL, 0);
	expect_port_event(v.v1, v.q, 'l', "V1 on Q");

	close(a);
	victims_close(&v);
	assert_healthy(&by, base);
	test_bystander_close(&by);
}
END_TEST

START_TEST(transferring_another_connections_port_is_a_data_clone_error)
{
	TestBystander by;
	Victims v;
	int a, base;
	uint64_t aw, a1, a2, never = UINT64_C(1) << 40;
	uint32_t s;

	start(NULL);
	test_bystander_open(&broker, &by);
	base = test_broker_settled_fd_count(&broker);
	victims_open(&v);
	a = test_raw_connect(&broker);
	aw = test_raw_register(a, "https://attacker.example/");
	create_channel(a, aw, &a1, &a2);

	s = post(a, aw, v.w1, "steal", &v.r, 1);
	expect_error(a, s, CROSSPOST__ERROR_CODE__ERROR_DATA_CLONE, "Post transferring R");
	s = post(a, aw, v.w2, "steal", &v.q, 1);
	expect_error(a, s, CROSSPOST__ERROR_CODE__ERROR_DATA_CLONE, "Post transferring Q");
	s = post(a, aw, v.w1, "steal", &never, 1);
	expect_error(a, s, CROSSPOST__ERROR_CODE__ERROR_DATA_CLONE, "Post transferring an id never assigned");
	s = port_post(a, a1, 's', &v.r, 1);
	expect_error(a, s, CROSSPOST__ERROR_CODE__ERROR_DATA_CLONE, "PortPost transferring R");
	s = port_post(a, a1, 's', &v.q, 1);
	expect_error(a, s, CROSSPOST__ERROR_CODE__ERROR_DATA_CLONE, "PortPost transferring Q");
	/* Posting on a port it does not own (docs/protocol.md). */
	s = port_post(a, v.r, 's', NULL, 0);
	expect_error(a, s, CROSSPOST__ERROR_CODE__ERROR_INVALID_STATE, "PortPost on R");
	/* Nothing moved; no window message reached the victims. */
	victims_check(&v, 'c');
	port_post(a, a1, 'o', NULL, 0);
	expect_port_event(a, a2, 'o', "the attacker's own channel");

	close(a);
	victims_close(&v);
	assert_healthy(&by, base);
	test_bystander_close(&by);
}
END_TEST

/* ====================================================================== */
/* 2. One client disconnects another: strings that make another client's  */
/*    frame too big (an event, a window list).                             */
/* ====================================================================== */

/* "http://" + n labels "ä." + "example/": 3 bytes a label in the URL,
 * "xn--4ca." (8 bytes) in the serialized origin. */
static char *idn_url(size_t labels)
{
	char *url = malloc(7 + labels * 3 + 16), *p = url;

	ck_assert_ptr_nonnull(url);
	p += sprintf(p, "http://");
	for (size_t i = 0; i < labels; i++)
		p += sprintf(p, "\xc3\xa4.");
	sprintf(p, "example/");
	return url;
}

START_TEST(huge_idn_origin_and_long_name_do_not_disconnect_the_receiver)
{
	TestBystander by;
	char *url = idn_url(5000), *name = malloc(26001);
	Header *reply;
	int a, base;

	ck_assert_uint_lt(strlen(url), 16 * KIB);
	memset(name, 'n', 26000);
	name[26000] = '\0';
	start(NULL);
	test_bystander_open(&broker, &by);
	base = test_broker_settled_fd_count(&broker);
	a = test_raw_connect(&broker);
	hello(a);
	/* Origin ~40 KB + name 26 KB: an event from this window would not fit
	 * a 64 KiB header. */
	reply = try_register(a, url, name, false);
	ck_assert_ptr_nonnull(reply);
	if (reply->body_case == CROSSPOST__HEADER__BODY_ERROR) {
		ck_assert_msg(reply->error->code == CROSSPOST__ERROR_CODE__ERROR_RANGE, "refused with code %d, not RangeError",
			      (int)reply->error->code);
		ck_assert_msg(sync_ok(a), "the refused client's connection did not stay open");
	} else {
		uint64_t w;

		ck_assert_int_eq(reply->body_case, CROSSPOST__HEADER__BODY_REGISTERED);
		w = reply->registered->window_id;
		post(a, w, by.window, "from a long origin", NULL, 0);
		ck_assert(sync_ok(a));
		/* The bystander is the receiver: it must get the event. */
		test_bystander_check(&by);
		ck_assert_msg(test_bystander_seen_from(&by, w) == 1, "the receiver did not get the event");
	}
	crosspost__header__free_unpacked(reply, NULL);
	close(a);
	assert_healthy(&by, base);
	test_bystander_close(&by);
	free(url);
	free(name);
}
END_TEST

START_TEST(sixty_kilobyte_url_is_a_range_error_and_the_connection_stays_open)
{
	TestBystander by;
	char *url = malloc(60 * 1000 + 32), *name = malloc(2049);
	Header h = CROSSPOST__HEADER__INIT, *reply;
	Crosspost__Navigate nav = CROSSPOST__NAVIGATE__INIT;
	uint64_t w;
	int a, base;

	sprintf(url, "https://a.example/");
	memset(url + strlen(url), 'p', 60 * 1000);
	url[18 + 60 * 1000] = '\0';
	memset(name, 'n', 2048);
	name[2048] = '\0';
	start(NULL);
	test_bystander_open(&broker, &by);
	base = test_broker_settled_fd_count(&broker);
	a = test_raw_connect(&broker);
	hello(a);

	reply = try_register(a, url, NULL, false);
	ck_assert_msg(reply && reply->body_case == CROSSPOST__HEADER__BODY_ERROR &&
		      reply->error->code == CROSSPOST__ERROR_CODE__ERROR_RANGE,
		      "Register with a 60 KB URL: %s", !reply ? "no reply" :
		      reply->body_case == CROSSPOST__HEADER__BODY_REGISTERED ? "registered" : "not a RangeError");
	crosspost__header__free_unpacked(reply, NULL);
	ck_assert_msg(sync_ok(a), "the connection did not stay open after the RangeError");

	reply = try_register(a, "https://a.example/", name, false);
	ck_assert_msg(reply && reply->body_case == CROSSPOST__HEADER__BODY_ERROR &&
		      reply->error->code == CROSSPOST__ERROR_CODE__ERROR_RANGE, "Register with a 2 KiB name: not a RangeError");
	crosspost__header__free_unpacked(reply, NULL);

	w = register_window(a, "https://a.example/", NULL);
	nav.window_id = w;
	nav.url = url;
	h.body_case = CROSSPOST__HEADER__BODY_NAVIGATE;
	h.navigate = &nav;
	reply = request(a, &h);
	ck_assert_msg(reply && reply->body_case == CROSSPOST__HEADER__BODY_ERROR &&
		      reply->error->code == CROSSPOST__ERROR_CODE__ERROR_RANGE, "Navigate to a 60 KB URL: not a RangeError");
	crosspost__header__free_unpacked(reply, NULL);
	ck_assert(sync_ok(a));

	close(a);
	assert_healthy(&by, base);
	test_bystander_close(&by);
	free(url);
	free(name);
}
END_TEST

START_TEST(a_thousand_windows_are_listed_in_pages)
{
	enum { CONNECTIONS = 10, PER = 100, N = CONNECTIONS * PER };
	TestBystander by;
	uint64_t *ids = calloc(N, sizeof(*ids));
	char **urls = calloc(N, sizeof(*urls));
	int conns[CONNECTIONS], lister, base;
	cp_client *client;
	cp_window_info *infos = NULL;
	size_t n_infos = 0, n_listed, found = 0;
	Listed *listed = NULL;
	uint32_t s = 10;

	start(NULL);
	test_bystander_open(&broker, &by);
	base = test_broker_settled_fd_count(&broker);
	for (int c = 0; c < CONNECTIONS; c++) {
		uint32_t first = 0;

		conns[c] = test_raw_connect(&broker);
		hello(conns[c]);
		/* 100 Registers in a row, then their 100 replies. */
		for (int i = 0; i < PER; i++) {
			Header h = CROSSPOST__HEADER__INIT;
			Crosspost__Register reg = CROSSPOST__REGISTER__INIT;
			int k = c * PER + i;

			urls[k] = malloc(1100);
			snprintf(urls[k], 1100, "https://w%d.example/", k);
			memset(urls[k] + strlen(urls[k]), 'u', 1000);
			urls[k][1000] = '\0';
			reg.url = urls[k];
			reg.name = (char *)"";
			h.serial = next_serial();
			if (!first)
				first = h.serial;
			h.body_case = CROSSPOST__HEADER__BODY_REGISTER;
			h.register_ = &reg;
			send_frame(conns[c], &h, NULL, 0);
		}
		for (int i = 0; i < PER; i++) {
			Header *reply = test_raw_wait_reply(conns[c], first + (uint32_t)i, 5000);

			ck_assert_msg(reply && reply->body_case == CROSSPOST__HEADER__BODY_REGISTERED, "window %d not registered",
				      c * PER + i);
			ids[c * PER + i] = reply->registered->window_id;
			crosspost__header__free_unpacked(reply, NULL);
		}
	}

	lister = test_raw_connect(&broker);
	hello(lister);
	n_listed = list_all(lister, &s, &listed);
	ck_assert_msg(n_listed != (size_t)-1, "the lister's connection was closed while listing %d windows", N);
	for (int k = 0; k < N; k++) {
		const Listed *l = find_listed(listed, n_listed, ids[k]);

		if (l && strcmp(l->url, urls[k]) == 0)
			found++;
	}
	ck_assert_msg(found == N, "ListWindows pages gave %zu of the %d windows", found, N);
	ck_assert_msg(test_raw_sync(lister, ++s, 5000), "the lister's connection did not stay open");

	client = test_client(&broker);
	ck_assert_msg(cp_client_list_windows(client, &infos, &n_infos) == 0, "cp_client_list_windows: %s",
		      cp_last_error_message());
	found = 0;
	for (int k = 0; k < N; k++)
		for (size_t i = 0; i < n_infos; i++)
			if (infos[i].id == ids[k] && strcmp(infos[i].url, urls[k]) == 0)
				found++;
	ck_assert_msg(found == N, "cp_client_list_windows gave %zu of the %d windows", found, N);
	ck_assert_int_eq(cp_client_sync(client, 5000), 0);
	cp_window_info_free(infos, n_infos);
	cp_client_free(client);

	listed_free(listed, n_listed);
	close(lister);
	for (int c = 0; c < CONNECTIONS; c++)
		close(conns[c]);
	for (int k = 0; k < N; k++)
		free(urls[k]);
	free(urls);
	free(ids);
	assert_healthy(&by, base);
	test_bystander_close(&by);
}
END_TEST

/* ====================================================================== */
/* 3. Descriptor pinning: descriptors the frames do not account for.       */
/* ====================================================================== */

/* The most descriptors a frame may carry: the broker's Welcome says, and
 * the issue says 16 when it does not. */
static unsigned fds_limit(int fd)
{
	Header *reply = test_raw_hello(fd, 1);
	unsigned limit = 16;

	ck_assert_ptr_nonnull(reply);
	ck_assert_int_eq(reply->body_case, CROSSPOST__HEADER__BODY_WELCOME);
	if (reply->welcome->limits && reply->welcome->limits->max_fds_per_message)
		limit = reply->welcome->limits->max_fds_per_message;
	crosspost__header__free_unpacked(reply, NULL);
	ck_assert_uint_lt(limit, 64);
	return limit;
}

static void close_all(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
}

/* A Post whose header declares `declared` descriptors, `attached` of them
 * sent with it (buffer_sizes as declared). */
static void post_declaring(int fd, uint64_t w, uint32_t declared, size_t attached)
{
	Header h = CROSSPOST__HEADER__INIT;
	Crosspost__Post p = CROSSPOST__POST__INIT;
	uint64_t *sizes = calloc(declared ? declared : 1, sizeof(*sizes));
	int memfds[64];

	ck_assert_uint_le(attached, 64);
	for (uint32_t i = 0; i < declared; i++)
		sizes[i] = 4096;
	for (size_t i = 0; i < attached; i++)
		memfds[i] = test_sealed_memfd(4096, 4);
	p.sender_window_id = w;
	p.target_window_id = w;
	p.target_origin = (char *)"*";
	p.fd_count = declared;
	p.buffer_sizes = sizes;
	p.n_buffer_sizes = declared;
	h.serial = next_serial();
	h.body_case = CROSSPOST__HEADER__BODY_POST;
	h.post = &p;
	test_raw_try_send(fd, &h, "p", 1, memfds, attached);
	close_all(memfds, attached);
	free(sizes);
}

/* One attack of the variant on a fresh connection (it said Hello and has
 * window w).  Sends and returns. */
static void pin_descriptors(int fd, uint64_t w, int variant)
{
	int memfds[3];
	Header h = CROSSPOST__HEADER__INIT;
	Crosspost__Sync sync = CROSSPOST__SYNC__INIT;
	Crosspost__CreateChannel cc = CROSSPOST__CREATE_CHANNEL__INIT;

	switch (variant) {
	case 0:    /* a Post declaring 1 descriptor, with 3 */
		post_declaring(fd, w, 1, 3);
		break;
	case 1:    /* a Sync with 3 descriptors */
		for (int i = 0; i < 3; i++)
			memfds[i] = test_sealed_memfd(4096, 2);
		h.serial = next_serial();
		h.body_case = CROSSPOST__HEADER__BODY_SYNC;
		h.sync = &sync;
		test_raw_try_send(fd, &h, NULL, 0, memfds, 3);
		close_all(memfds, 3);
		break;
	default:   /* a CreateChannel with 1 */
		memfds[0] = test_sealed_memfd(4096, 3);
		cc.window_id = w;
		h.serial = next_serial();
		h.body_case = CROSSPOST__HEADER__BODY_CREATE_CHANNEL;
		h.create_channel = &cc;
		test_raw_try_send(fd, &h, NULL, 0, memfds, 1);
		close_all(memfds, 1);
		break;
	}
}

static const char *const pin_names[] = { "a Post declaring 1 descriptor with 3 attached", "a Sync with 3 descriptors",
					  "a CreateChannel with 1 descriptor" };

START_TEST(descriptors_a_frame_does_not_declare_close_the_connection)
{
	TestBystander by;
	int a, base;
	uint64_t w;

	start(NULL);
	test_bystander_open(&broker, &by);
	base = test_broker_settled_fd_count(&broker);
	a = test_raw_connect(&broker);
	w = test_raw_register(a, "https://attacker.example/");
	pin_descriptors(a, w, _i);
	ck_assert_msg(read_until_closed(a, 0, 0, NULL), "%s: the connection stayed open; %s", pin_names[_i], instead());
	close(a);
	assert_healthy(&by, base);
	test_bystander_close(&by);
}
END_TEST

START_TEST(declaring_more_descriptors_than_allowed_closes_the_connection)
{
	TestBystander by;
	int a, base;
	unsigned limit;
	uint64_t w;

	start(NULL);
	test_bystander_open(&broker, &by);
	base = test_broker_settled_fd_count(&broker);
	a = test_raw_connect(&broker);
	limit = fds_limit(a);
	w = register_window(a, "https://attacker.example/", NULL);
	if (_i == 0)
		post_declaring(a, w, limit + 1, limit + 1);   /* all of them attached */
	else
		post_declaring(a, w, 1000, 1);                /* far over, one attached */
	ck_assert_msg(read_until_closed(a, 0, 0, NULL),
		      "a Post declaring %u descriptors (the limit is %u): the connection stayed open; %s",
		      _i == 0 ? limit + 1 : 1000, limit, instead());
	close(a);
	assert_healthy(&by, base);
	test_bystander_close(&by);
}
END_TEST

START_TEST(twenty_attackers_pinning_descriptors_are_all_closed)
{
	enum { N = 20 };
	TestBystander by;
	int fds[N], base;
	size_t closed;

	start(NULL);
	test_bystander_open(&broker, &by);
	base = test_broker_settled_fd_count(&broker);
	for (int i = 0; i < N; i++) {
		uint64_t w;

		fds[i] = test_raw_connect(&broker);
		w = test_raw_register(fds[i], "https://attacker.example/");
		pin_descriptors(fds[i], w, i % 3);
	}
	closed = wait_all_closed(fds, N, 5000);
	ck_assert_msg(closed == N, "%zu of %d descriptor-pinning connections were closed", closed, N);
	close_all(fds, N);
	assert_healthy(&by, base);
	test_bystander_close(&by);
}
END_TEST

/* ====================================================================== */
/* 4. Accepting: at the descriptor limit, connections that never greet.    */
/* ====================================================================== */

START_TEST(descriptor_exhaustion_does_not_make_the_broker_spin)
{
	enum { N = 150 };
	TestBystander by;
	int fds[N], base, opened = 0, lines0, lines1;
	long cpu0, cpu1;
	long long until;

	test_broker_start_args(&broker, NULL, 64);
	test_bystander_open(&broker, &by);
	base = test_broker_settled_fd_count(&broker);
	for (int i = 0; i < N; i++) {
		fds[i] = test_raw_try_connect(&broker);
		if (fds[i] >= 0)
			opened++;
	}
	ck_assert_int_gt(opened, 64);
	/* Let the broker take what it can, then watch it for 2 s while the
	 * listening socket stays readable and it has no descriptor left. */
	for (int i = 0; i < 3; i++)
		test_bystander_check(&by);
	cpu0 = test_broker_cpu_ms(&broker);
	lines0 = test_broker_log_lines(&broker);
	until = now_ms() + 2000;
	while (now_ms() < until)
		poll(NULL, 0, (int)(until - now_ms()));
	cpu1 = test_broker_cpu_ms(&broker);
	lines1 = test_broker_log_lines(&broker);
	/* Served meanwhile: the connection it had still works. */
	test_bystander_check(&by);
	for (int i = 0; i < N; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	ck_assert_msg(cpu1 - cpu0 < 500, "the broker used %ld ms of CPU in 2 s with no descriptor left", cpu1 - cpu0);
	ck_assert_msg(lines1 - lines0 < 200, "the broker logged %d lines in 2 s with no descriptor left", lines1 - lines0);
	/* Descriptors are back: a new client connects and opens a window. */
	{
		int fresh = -1;

		for (long long deadline = now_ms() + 5000; fresh < 0 && now_ms() < deadline;)
			if ((fresh = test_raw_try_connect(&broker)) < 0)
				usleep(20000);
		ck_assert_msg(fresh >= 0, "no new connection once the 150 were closed");
		ck_assert_uint_gt(test_raw_register(fresh, "https://fresh.example/"), 0);
		close(fresh);
	}
	assert_healthy(&by, base);
	test_bystander_close(&by);
}
END_TEST

START_TEST(pending_connections_beyond_the_limit_are_not_all_kept)
{
	enum { N = 20, LIMIT = 8 };
	static const char *const args[] = { "--limit", "max-pending-connections=8", NULL };
	TestBystander by;
	int fds[N], base, held;

	start(args);
	test_bystander_open(&broker, &by);
	base = test_broker_settled_fd_count(&broker);
	for (int i = 0; i < N; i++)
		fds[i] = test_raw_connect(&broker);
	/* Round trips: turns of the broker's loop in which it could accept. */
	for (int i = 0; i < 2 * N; i++)
		ck_assert(test_raw_sync(by.fd, ++by.serial, 5000));
	/* base counted one client of test_broker_settled_fd_count(). */
	held = test_broker_fd_count(&broker) - (base - 1);
	ck_assert_msg(held <= LIMIT, "the broker holds %d connections that never said Hello (limit %d)", held, LIMIT);
	test_bystander_check(&by);
	close_all(fds, N);
	assert_healthy(&by, base);
	test_bystander_close(&by);
}
END_TEST

START_TEST(connection_that_never_greets_is_closed_after_the_handshake_timeout)
{
	static const char *const args[] = { "--limit", "handshake-timeout=500ms", NULL };
	TestBystander by;
	uint32_t partial[2] = { 40, 0 };
	int silent, half, base, fds[2];

	start(args);
	test_bystander_open(&broker, &by);
	base = test_broker_settled_fd_count(&broker);
	silent = test_raw_connect(&broker);
	half = test_raw_connect(&broker);
	ck_assert_int_eq(write(half, partial, 8), 8);   /* a Hello that never ends */
	ck_assert_int_eq(write(half, "\x08\x01", 2), 2);
	fds[0] = silent;
	fds[1] = half;
	ck_assert_msg(wait_all_closed(fds, 2, 5000) == 2, "a connection that never finished its Hello was kept open");
	close(silent);
	close(half);
	/* The bystander, greeted long before, is not affected. */
	assert_healthy(&by, base);
	test_bystander_close(&by);
}
END_TEST

/* ====================================================================== */
/* 5. Unbounded memory: what the broker holds for clients that do not     */
/*    read, do not finish, or never hand a port over.                      */
/* ====================================================================== */

static void build_sync(Pump *p, size_t i)
{
	Header h = CROSSPOST__HEADER__INIT;
	Crosspost__Sync sync = CROSSPOST__SYNC__INIT;

	h.serial = (uint32_t)(p->u1 + i);
	h.body_case = CROSSPOST__HEADER__BODY_SYNC;
	h.sync = &sync;
	pump_frame(p, &h, NULL, 0, 0);
}

/* Post from window u1 to window u2, p->unit bytes of ctx. */
static void build_post(Pump *p, size_t i)
{
	Header h = CROSSPOST__HEADER__INIT;
	Crosspost__Post post = CROSSPOST__POST__INIT;

	post.sender_window_id = p->u1;
	post.target_window_id = p->u2;
	post.target_origin = (char *)"*";
	h.serial = (uint32_t)(10 + i);
	h.body_case = CROSSPOST__HEADER__BODY_POST;
	h.post = &post;
	pump_frame(p, &h, p->ctx, p->unit, 0);
}

/* One Post from u1 to itself declaring 127 MiB, of which p->unit bytes
 * are sent. */
static void build_huge_prefix(Pump *p, size_t i)
{
	Header h = CROSSPOST__HEADER__INIT;
	Crosspost__Post post = CROSSPOST__POST__INIT;

	post.sender_window_id = p->u1;
	post.target_window_id = p->u1;
	post.target_origin = (char *)"*";
	h.serial = (uint32_t)(10 + i);
	h.body_case = CROSSPOST__HEADER__BODY_POST;
	h.post = &post;
	pump_frame(p, &h, p->ctx, p->unit, 127 * MIB);
}

/* The victim's frames: PortPosts of p->unit bytes on `port`, then one
 * Post from `window` to the bystander's window. */
typedef struct VictimPlan {
	uint64_t port, window, bystander;
	const uint8_t *payload;
} VictimPlan;

static void build_victim(Pump *p, size_t i)
{
	const VictimPlan *plan = p->ctx;
	Header h = CROSSPOST__HEADER__INIT;
	Crosspost__PortPost pp = CROSSPOST__PORT_POST__INIT;
	Crosspost__Post post = CROSSPOST__POST__INIT;

	h.serial = (uint32_t)(1000 + i);
	if (i + 1 < p->count) {
		pp.port_id = plan->port;
		h.body_case = CROSSPOST__HEADER__BODY_PORT_POST;
		h.port_post = &pp;
		pump_frame(p, &h, plan->payload, p->unit, 0);
		return;
	}
	post.sender_window_id = plan->window;
	post.target_window_id = plan->bystander;
	post.target_origin = (char *)"*";
	h.body_case = CROSSPOST__HEADER__BODY_POST;
	h.post = &post;
	pump_frame(p, &h, "to the bystander", 16, 0);
}

START_TEST(sync_flood_from_a_client_that_never_reads_is_bounded)
{
	/* Its unread answers are what piles up: park-high bounds them
	 * (docs/security.md), queue-high any receiver's queue.  Both low, so
	 * that 200000 Acks (3 MB) pass them. */
	static const char *const args[] = { "--limit", "park-high=1MiB", "--limit", "park-low=256KiB",
					    "--limit", "queue-high=1MiB", "--limit", "queue-low=256KiB", NULL };
	enum { SYNCS = 200000 };
	TestBystander by;
	Pump p = { .count = SYNCS, .build = build_sync, .u1 = 10 }, *pumps[1] = { &p };
	uint64_t held;
	int base;

	start(args);
	test_bystander_open(&broker, &by);
	base = test_broker_settled_fd_count(&broker);
	p.fd = test_raw_connect(&broker);
	hello(p.fd);
	pump_run(pumps, 1, 20000);
	held = bytes_held(&by);
	ck_assert_msg(held < 8 * MIB, "the broker holds %llu bytes for a client that sends Syncs and reads no Ack "
		      "(park-high and queue-high 1 MiB)", (unsigned long long)held);
	ck_assert_msg(!p.done, "the broker read all %d Syncs (%llu bytes) from a client that reads none of its Acks",
		      SYNCS, (unsigned long long)p.sent);
	test_bystander_check(&by);
	close(p.fd);
	pump_free(&p);
	assert_healthy(&by, base);
	test_bystander_close(&by);
}
END_TEST

START_TEST(port_kept_in_transit_neither_grows_memory_nor_blocks_the_victim)
{
	static const char *const args[] = { "--limit", "transit-timeout=1s", NULL };
	/* 100 MiB: more than the 64 MiB bound (the issue's 200 x 256 KiB,
	 * 50 MiB, would fit under it). */
	enum { MESSAGES = 400, SIZE = 256 * KIB };
	const uint64_t bound = 64ull * MIB;
	TestBystander by;
	VictimPlan plan;
	Pump vp = { .count = MESSAGES + 1, .build = build_victim, .unit = SIZE, .ctx = &plan };
	uint64_t vw, aw1, aw2, q, port, held0, held = 0, peak = 0;
	long long deadline;
	int a, base;

	start(args);
	test_bystander_open(&broker, &by);
	base = test_broker_settled_fd_count(&broker);
	held0 = bytes_held(&by);
	vp.fd = test_raw_connect(&broker);
	vw = test_raw_register(vp.fd, "https://victim.example/");
	a = test_raw_connect(&broker);
	aw1 = test_raw_register(a, "https://attacker.example/");
	aw2 = register_window(a, "https://attacker.example/other", NULL);
	/* The attacker gets port P of the victim's channel Q-P... */
	create_channel(vp.fd, vw, &q, &port);
	post(vp.fd, vw, aw1, "p", &port, 1);
	expect_port_moved(vp.fd, port, "victim");
	port_released(vp.fd, port);
	expect_window_event_with_port(a, port, "attacker");
	ck_assert(sync_ok(vp.fd));
	/* ...and moves it to its other window, never answering PortMoved.  It
	 * reads (and drops) whatever it gets: a receiver that does not read is
	 * another attack (senders_to_a_receiver_that_never_reads_are_bounded),
	 * whose flow control would stop the victim whatever becomes of the
	 * port. */
	post(a, aw1, aw2, "keep", &port, 1);
	ck_assert(sync_ok(a));

	/* The victim posts 100 MiB on Q, then a message to the bystander. */
	plan = (VictimPlan){ .port = q, .window = vw, .bystander = by.window, .payload = filler(SIZE, 'q') };
	deadline = now_ms() + 15000;
	while (now_ms() < deadline && (pump_pending(&vp) || test_bystander_seen_from(&by, vw) == 0)) {
		bool progress = pump_pending(&vp) && pump_step(&vp);
		struct pollfd pfd[3] = {
			{ .fd = by.fd, .events = POLLIN },
			{ .fd = a, .events = POLLIN },
			{ .fd = vp.fd, .events = POLLOUT },
		};
		static char sink[64 * 1024];

		while (recv(a, sink, sizeof(sink), MSG_DONTWAIT) > 0)
			;
		held = bytes_held(&by);     /* also reads the bystander's events */
		if (held > peak)
			peak = held;
		ck_assert_msg(held < bound, "the broker holds %llu bytes for a port kept in transit", (unsigned long long)held);
		if (!progress)
			poll(pfd, pump_pending(&vp) ? 3 : 2, 100);
	}
	ck_assert_msg(!vp.broken, "the victim's connection was closed");
	ck_assert_msg(!pump_pending(&vp), "the victim could not send its messages within 15 s (%llu bytes sent)",
		      (unsigned long long)vp.sent);
	ck_assert_msg(test_bystander_seen_from(&by, vw) == 1,
		      "the victim's message to the bystander was not delivered: blocked behind its posts to a port in transit");
	/* transit-timeout: the port stops being in transit, what was held for
	 * it goes. */
	deadline = now_ms() + 8000;
	while ((held = bytes_held(&by)) > held0 + 2 * MIB && now_ms() < deadline) {
		static char sink[64 * 1024];
		struct pollfd pfd = { .fd = a, .events = POLLIN };

		while (recv(a, sink, sizeof(sink), MSG_DONTWAIT) > 0)
			;
		poll(&pfd, 1, 20);
	}
	ck_assert_msg(held <= held0 + 2 * MIB, "%llu bytes still held 8 s after the victim's posts (%llu before; peak %llu)",
		      (unsigned long long)held, (unsigned long long)held0, (unsigned long long)peak);
	close(a);
	close(vp.fd);
	pump_free(&vp);
	free((void *)plan.payload);
	assert_healthy(&by, base);
	test_bystander_close(&by);
}
END_TEST

/* Variant 0: each sends a few MiB of its huge frame, as in the issue;
 * variant 1: each sends up to 32 MiB, 384 MiB in all, over the budget. */
START_TEST(stalled_huge_frames_stay_within_the_per_uid_budget)
{
	static const char *const args[] = { "--limit", "bytes-per-uid=256MiB", NULL };
	enum { N = 12 };
	const uint64_t budget = 256ull * MIB;
	const size_t each = _i == 0 ? 4 * MIB : 32 * MIB;
	TestBystander by;
	Pump pumps[N], *pp[N];
	uint8_t *payload = filler(each, 'h');
	uint64_t held;
	long rss0, rss1;
	int base;

	start(args);
	test_bystander_open(&broker, &by);
	base = test_broker_settled_fd_count(&broker);
	rss0 = test_broker_rss_kib(&broker);
	for (int i = 0; i < N; i++) {
		pumps[i] = (Pump){ .count = 1, .build = build_huge_prefix, .unit = each, .ctx = payload };
		pumps[i].fd = test_raw_connect(&broker);
		pumps[i].u1 = test_raw_register(pumps[i].fd, "https://attacker.example/");
		pp[i] = &pumps[i];
	}
	pump_run(pp, N, 20000);
	/* Small frames still flow. */
	test_bystander_check(&by);
	held = bytes_held(&by);
	rss1 = test_broker_rss_kib(&broker);
	ck_assert_msg(held <= budget, "the broker holds %llu bytes of unfinished frames (budget %llu)",
		      (unsigned long long)held, (unsigned long long)budget);
	ck_assert_msg(rss1 - rss0 < (long)((budget + 64 * MIB) / KIB), "the broker grew by %ld KiB", rss1 - rss0);
	for (int i = 0; i < N; i++) {
		close(pumps[i].fd);
		pump_free(&pumps[i]);
	}
	free(payload);
	assert_healthy(&by, base);
	test_bystander_close(&by);
}
END_TEST

START_TEST(senders_to_a_receiver_that_never_reads_are_bounded)
{
	static const char *const args[] = { "--limit", "queue-high=4MiB", "--limit", "queue-low=1MiB",
					    "--limit", "park-high=4MiB", NULL };
	enum { SENDERS = 8, EACH = 16 };
	/* queue-high + 8 x (park-high + one 1 MiB message) + 4 MiB slack;
	 * the senders try 128 MiB. */
	const uint64_t bound = (4 + SENDERS * (4 + 1) + 4) * (uint64_t)MIB;
	TestBystander by;
	Pump pumps[SENDERS], *pp[SENDERS];
	uint8_t *payload = filler(MIB, 'm');
	uint64_t rw, held;
	int r, base;

	start(args);
	test_bystander_open(&broker, &by);
	base = test_broker_settled_fd_count(&broker);
	r = test_raw_connect(&broker);
	rw = test_raw_register(r, "https://sink.example/");
	for (int i = 0; i < SENDERS; i++) {
		pumps[i] = (Pump){ .count = EACH, .build = build_post, .unit = MIB, .ctx = payload, .u2 = rw };
		pumps[i].fd = test_raw_connect(&broker);
		pumps[i].u1 = test_raw_register(pumps[i].fd, "https://sender.example/");
		pp[i] = &pumps[i];
	}
	pump_run(pp, SENDERS, 20000);
	held = bytes_held(&by);
	ck_assert_msg(held < bound, "the broker holds %llu bytes for one receiver that reads nothing (bound %llu)",
		      (unsigned long long)held, (unsigned long long)bound);
	test_bystander_check(&by);
	for (int i = 0; i < SENDERS; i++) {
		close(pumps[i].fd);
		pump_free(&pumps[i]);
	}
	close(r);
	free(payload);
	assert_healthy(&by, base);
	test_bystander_close(&by);
}
END_TEST

/* ====================================================================== */
/* 6. A sender paused by flow control dies.                                */
/* ====================================================================== */

/* Connects, registers a window named name, and posts 1 MiB messages to
 * window `to` until the broker stops reading (or 1 GiB).  Returns the
 * pump's state; *ret_window gets the window.  No assertions: a child
 * process runs it too. */
static bool pause_a_sender(int *ret_fd, uint64_t to, const char *name, uint64_t *ret_window, uint8_t *payload,
			   char *why, size_t why_size)
{
	Pump p = { .count = 1024, .build = build_post, .unit = MIB, .ctx = payload, .u2 = to }, *pp[1] = { &p };
	Header *reply;
	int code;

	p.fd = test_raw_try_connect(&broker);
	*ret_fd = p.fd;
	if (p.fd < 0) {
		snprintf(why, why_size, "cannot connect: %s", strerror(errno));
		return false;
	}
	reply = quiet_hello(p.fd);
	if (!reply || reply->body_case != CROSSPOST__HEADER__BODY_WELCOME) {
		snprintf(why, why_size, "no Welcome");
		return false;
	}
	crosspost__header__free_unpacked(reply, NULL);
	p.u1 = quiet_register(p.fd, 2, "https://sender.example/", name, false, &code);
	*ret_window = p.u1;
	if (!p.u1) {
		snprintf(why, why_size, "register: code %d", code);
		return false;
	}
	pump_run(pp, 1, 20000);
	pump_free(&p);
	if (!pump_pending(&p)) {
		snprintf(why, why_size, "the sender was never paused: %s after %llu bytes", p.broken ? "closed" : "all sent",
			 (unsigned long long)p.sent);
		return false;
	}
	return true;
}

START_TEST(dead_paused_sender_is_cleaned_up_while_the_receiver_stalls)
{
	static const char *const how[] = { "closed its socket", "was killed" };
	TestBystander by;
	uint8_t *payload = filler(MIB, 's');
	uint64_t rw, sw = 0;
	char why[200] = "";
	int r, s = -1, base, waited = 0;
	bool gone = false, receiver_listed = false;
	Header *reply;

	start(NULL);
	test_bystander_open(&broker, &by);
	r = test_raw_connect(&broker);
	rw = test_raw_register(r, "https://sink.example/");    /* never reads */
	base = test_broker_settled_fd_count(&broker);
	if (_i == 0) {
		ck_assert_msg(pause_a_sender(&s, rw, "paused-sender", &sw, payload, why, sizeof(why)), "%s", why);
		close(s);
	} else {
		int pipe_fds[2], status;
		ChildReport report = { 0 };
		pid_t pid;

		ck_assert_int_eq(pipe(pipe_fds), 0);
		pid = fork();
		ck_assert_int_ge(pid, 0);
		if (pid == 0) {
			child_init(pipe_fds[1], -1);
			report.failed = !pause_a_sender(&s, rw, "paused-sender", &report.window, payload,
							report.message, sizeof(report.message));
			child_report(pipe_fds[1], &report);
			for (;;)
				pause();
		}
		close(pipe_fds[1]);
		read_report(pipe_fds[0], &report);
		close(pipe_fds[0]);
		kill(pid, SIGKILL);
		ck_assert_int_eq(waitpid(pid, &status, 0), pid);
		ck_assert_msg(!report.failed, "%s", report.message);
		sw = report.window;
	}
	/* No reply tells when the broker notices: poll the list. */
	for (long long deadline = now_ms() + 5000; !gone && now_ms() < deadline; waited += 20) {
		Listed *l = NULL;
		size_t n = list_all(by.fd, &by.serial, &l);

		ck_assert_msg(n != (size_t)-1, "the bystander could not list windows");
		gone = !find_listed(l, n, sw);
		receiver_listed = find_listed(l, n, rw) != NULL;
		listed_free(l, n);
		if (!gone)
			usleep(20000);
	}
	ck_assert_msg(gone, "the paused sender %s, and its window %llu is still listed after %d ms", how[_i],
		      (unsigned long long)sw, waited);
	ck_assert_msg(receiver_listed, "the stalled receiver's window went too");
	s = test_raw_connect(&broker);
	hello(s);
	reply = try_register(s, "https://sender.example/", "paused-sender", false);
	ck_assert_msg(reply && reply->body_case == CROSSPOST__HEADER__BODY_REGISTERED,
		      "the dead sender's window name cannot be registered again");
	crosspost__header__free_unpacked(reply, NULL);
	close(s);
	assert_healthy(&by, base);
	close(r);
	free(payload);
	test_bystander_close(&by);
}
END_TEST

/* ====================================================================== */
/* 7. Quotas: ports and windows per connection.                            */
/* ====================================================================== */

static Header *create_channel_reply(int fd, uint64_t w)
{
	Header h = CROSSPOST__HEADER__INIT;
	Crosspost__CreateChannel req = CROSSPOST__CREATE_CHANNEL__INIT;

	req.window_id = w;
	h.body_case = CROSSPOST__HEADER__BODY_CREATE_CHANNEL;
	h.create_channel = &req;
	return request(fd, &h);
}

static void expect_quota(Header *reply, const char *what)
{
	ck_assert_msg(reply && reply->body_case == CROSSPOST__HEADER__BODY_ERROR &&
		      reply->error->code == CROSSPOST__ERROR_CODE__ERROR_QUOTA,
		      "%s: %s", what, !reply ? "no reply" : reply->body_case == CROSSPOST__HEADER__BODY_ERROR ?
		      reply->error->message : "granted");
	crosspost__header__free_unpacked(reply, NULL);
}

START_TEST(port_quota_refuses_the_next_channel_and_closing_frees_room)
{
	static const char *const args[] = { "--limit", "max-ports-per-connection=1000", NULL };
	enum { CHANNELS = 500, BATCH = 100 };
	TestBystander by;
	Header *reply;
	uint64_t w, first[2] = { 0, 0 };
	int a, base;

	start(args);
	test_bystander_open(&broker, &by);
	base = test_broker_settled_fd_count(&broker);
	a = test_raw_connect(&broker);
	reply = test_raw_hello(a, 1);
	ck_assert_ptr_nonnull(reply);
	ck_assert_int_eq(reply->body_case, CROSSPOST__HEADER__BODY_WELCOME);
	ck_assert_msg(reply->welcome->limits && reply->welcome->limits->max_ports == 1000,
		      "Welcome.limits.max_ports is not 1000");
	crosspost__header__free_unpacked(reply, NULL);
	w = register_window(a, "https://a.example/", NULL);
	for (int done = 0; done < CHANNELS; done += BATCH) {
		uint32_t s0 = 0;

		for (int i = 0; i < BATCH; i++) {
			Header h = CROSSPOST__HEADER__INIT;
			Crosspost__CreateChannel req = CROSSPOST__CREATE_CHANNEL__INIT;

			req.window_id = w;
			h.serial = next_serial();
			if (!s0)
				s0 = h.serial;
			h.body_case = CROSSPOST__HEADER__BODY_CREATE_CHANNEL;
			h.create_channel = &req;
			send_frame(a, &h, NULL, 0);
		}
		for (int i = 0; i < BATCH; i++) {
			reply = test_raw_wait_reply(a, s0 + (uint32_t)i, 5000);
			ck_assert_msg(reply && reply->body_case == CROSSPOST__HEADER__BODY_CHANNEL_CREATED,
				      "channel %d of %d refused", done + i + 1, CHANNELS);
			if (!first[0]) {
				first[0] = reply->channel_created->port1_id;
				first[1] = reply->channel_created->port2_id;
			}
			crosspost__header__free_unpacked(reply, NULL);
		}
	}
	expect_quota(create_channel_reply(a, w), "channel 501 (ports 1001 and 1002)");
	ck_assert_msg(sync_ok(a), "the connection did not stay open after QuotaExceeded");
	/* A channel needs two ports: close both of one. */
	port_close(a, first[0]);
	port_close(a, first[1]);
	ck_assert(sync_ok(a));
	reply = create_channel_reply(a, w);
	ck_assert_msg(reply && reply->body_case == CROSSPOST__HEADER__BODY_CHANNEL_CREATED,
		      "closing two ports did not make room for a channel");
	crosspost__header__free_unpacked(reply, NULL);
	expect_quota(create_channel_reply(a, w), "one channel more");
	close(a);
	assert_healthy(&by, base);
	test_bystander_close(&by);
}
END_TEST

START_TEST(window_quota_refuses_the_next_window_and_closing_frees_room)
{
	static const char *const args[] = { "--limit", "max-windows-per-connection=10", NULL };
	TestBystander by;
	Header h = CROSSPOST__HEADER__INIT, *reply;
	Crosspost__Unregister unreg = CROSSPOST__UNREGISTER__INIT;
	uint64_t first = 0;
	int a, base;

	start(args);
	test_bystander_open(&broker, &by);
	base = test_broker_settled_fd_count(&broker);
	a = test_raw_connect(&broker);
	reply = test_raw_hello(a, 1);
	ck_assert_ptr_nonnull(reply);
	ck_assert_msg(reply->body_case == CROSSPOST__HEADER__BODY_WELCOME && reply->welcome->limits &&
		      reply->welcome->limits->max_windows == 10, "Welcome.limits.max_windows is not 10");
	crosspost__header__free_unpacked(reply, NULL);
	for (int i = 0; i < 10; i++) {
		uint64_t w = register_window(a, "https://a.example/", NULL);

		if (!first)
			first = w;
	}
	expect_quota(try_register(a, "https://a.example/", NULL, false), "window 11");
	unreg.window_id = first;
	h.body_case = CROSSPOST__HEADER__BODY_UNREGISTER;
	h.unregister = &unreg;
	reply = request(a, &h);
	ck_assert_msg(reply && reply->body_case == CROSSPOST__HEADER__BODY_ACK, "Unregister refused");
	crosspost__header__free_unpacked(reply, NULL);
	register_window(a, "https://a.example/", NULL);
	close(a);
	assert_healthy(&by, base);
	test_bystander_close(&by);
}
END_TEST

/* ====================================================================== */
/* 8. The socket's folder: squatted, redirected, someone else's; and a    */
/*    broker of another user.                                             */
/* ====================================================================== */

static bool mentions_any(const char *text, const char *const *words)
{
	for (size_t i = 0; words[i]; i++)
		if (strcasestr(text, words[i]))
			return true;
	return false;
}

/* Runs crosspostd on dir/broker.sock; it must exit with status 1 and a
 * message naming the folder (or also_named) and the problem. */
static void expect_folder_refused(const char *dir, const char *also_named, const char *const *problem,
				  const char *what)
{
	char path[400], out[4096];
	const char *args[] = { "--socket", path, NULL };
	int status;

	snprintf(path, sizeof(path), "%s/broker.sock", dir);
	status = test_crosspostd_run(args, path, 5000, out, sizeof(out));
	unlink(path);
	ck_assert_msg(status == 1, "%s: crosspostd %s; its output: %s", what,
		      status == -1 ? "listened on it" : "did not exit with status 1", out);
	ck_assert_msg(strstr(out, dir) || (also_named && strstr(out, also_named)),
		      "%s: the message does not name the folder %s: %s", what, dir, out);
	ck_assert_msg(mentions_any(out, problem), "%s: the message does not say what is wrong: %s", what, out);
}

static void temp_dir(char *buf, size_t size, const char *base, const char *tag)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(buf, size, "%s/cphostile-%s.XXXXXX", base ? base : tmp && *tmp ? tmp : "/tmp", tag);
	ck_assert_ptr_nonnull(mkdtemp(buf));
}

START_TEST(world_writable_socket_folder_is_refused)
{
	static const char *const problem[] = { "writable", "permission", "mode", "0777", "777", "0700",
					       "accessible", "others", NULL };
	char dir[300];

	temp_dir(dir, sizeof(dir), NULL, "open");
	ck_assert_int_eq(chmod(dir, 0777), 0);
	expect_folder_refused(dir, NULL, problem, "a folder of mode 0777");
	rmdir(dir);
}
END_TEST

START_TEST(symlinked_socket_folder_is_refused)
{
	static const char *const problem[] = { "symlink", "symbolic", "link", NULL };
	char real[300], link[320];

	temp_dir(real, sizeof(real), NULL, "real");
	ck_assert_int_eq(chmod(real, 0700), 0);
	snprintf(link, sizeof(link), "%s-link", real);
	ck_assert_int_eq(symlink(real, link), 0);
	expect_folder_refused(link, real, problem, "a symlink to a 0700 folder");
	{
		char sock[400];

		snprintf(sock, sizeof(sock), "%s/broker.sock", real);
		unlink(sock);
	}
	unlink(link);
	rmdir(real);
}
END_TEST

START_TEST(socket_folder_owned_by_another_user_is_refused)
{
	static const char *const problem[] = { "owner", "owned", "uid", "user", NULL };
	char dir[300];

	if (!is_root("socket_folder_owned_by_another_user_is_refused"))
		return;
	temp_dir(dir, sizeof(dir), NULL, "theirs");
	ck_assert_int_eq(chmod(dir, 0700), 0);
	ck_assert_int_eq(chown(dir, OTHER_UID, OTHER_UID), 0);
	expect_folder_refused(dir, NULL, problem, "a folder owned by uid 65534");
	rmdir(dir);
}
END_TEST

/* A fake broker as another user: answers Hello with Welcome, Sync with
 * Ack, and any other request with an Ack, one connection at a time. */
static void squatter_main(const char *path, int ready_fd)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int l;

	if (!become_other_user())
		_exit(2);
	if (strlen(path) >= sizeof(addr.sun_path))
		_exit(5);
	memcpy(addr.sun_path, path, strlen(path) + 1);
	l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (l < 0 || bind(l, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(l, 8) < 0)
		_exit(3);
	if (write(ready_fd, "r", 1) != 1)
		_exit(4);
	for (;;) {
		int c = accept(l, NULL, NULL);
		TestFrame f;

		if (c < 0)
			continue;
		while (test_raw_recv(c, 10000, &f)) {
			Header h = CROSSPOST__HEADER__INIT;
			Crosspost__Welcome welcome = CROSSPOST__WELCOME__INIT;
			Crosspost__Ack ack = CROSSPOST__ACK__INIT;

			h.serial = f.header->serial;
			if (f.header->body_case == CROSSPOST__HEADER__BODY_HELLO) {
				welcome.version = 1;
				h.body_case = CROSSPOST__HEADER__BODY_WELCOME;
				h.welcome = &welcome;
			} else {
				h.body_case = CROSSPOST__HEADER__BODY_ACK;
				h.ack = &ack;
			}
			test_frame_clear(&f);
			if (test_raw_try_send(c, &h, NULL, 0, NULL, 0) < 0)
				break;
		}
		close(c);
	}
}

START_TEST(client_refuses_a_broker_of_another_user)
{
	char dir[300], path[400], byte = 0;
	int ready[2], r, status;
	struct pollfd pfd;
	cp_client *c = NULL;
	pid_t pid;

	if (!is_root("client_refuses_a_broker_of_another_user"))
		return;
	/* The other user must reach it. */
	temp_dir(dir, sizeof(dir), reach_dir, "squat");
	ck_assert_int_eq(chmod(dir, 0700), 0);
	ck_assert_int_eq(chown(dir, OTHER_UID, OTHER_UID), 0);
	snprintf(path, sizeof(path), "%s/broker.sock", dir);
	ck_assert_int_eq(pipe(ready), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		child_init(ready[1], -1);
		squatter_main(path, ready[1]);
		_exit(0);
	}
	close(ready[1]);
	pfd = (struct pollfd){ .fd = ready[0], .events = POLLIN };
	ck_assert_msg(poll(&pfd, 1, 5000) == 1 && read(ready[0], &byte, 1) == 1, "the fake broker did not start");
	close(ready[0]);
	r = cp_client_new(path, &c);
	if (r == 0)
		cp_client_free(c);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	unlink(path);
	rmdir(dir);
	ck_assert_msg(r < 0 && strcmp(cp_error_name(r), "SecurityError") == 0,
		      "cp_client_new on a broker of uid %d: %d (%s), expected SecurityError (CP_ERR_SECURITY, "
		      "placeholder %d)", OTHER_UID, r, r ? cp_error_name(r) : "connected", CP_ERR_SECURITY_PLACEHOLDER);
}
END_TEST

/* ====================================================================== */
/* 9. Policy: what another user may do.                                    */
/* ====================================================================== */

typedef void (*ChildSteps)(int fd, ChildReport *r, void *arg);

/* Starts a child as uid 65534 that connects to the broker, runs steps and
 * reports, then waits for a byte on *ret_go before exiting. */
static pid_t spawn_other_user(ChildSteps steps, void *arg, ChildReport *report, int *ret_go)
{
	int rep[2], go[2];
	pid_t pid;

	ck_assert_int_eq(pipe(rep), 0);
	ck_assert_int_eq(pipe(go), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		ChildReport r = { 0 };
		char byte;
		int fd;

		child_init(rep[1], go[0]);
		if (!become_other_user()) {
			r.failed = 1;
			snprintf(r.message, sizeof(r.message), "cannot become uid %d: %s", OTHER_UID, strerror(errno));
		} else if ((fd = test_raw_try_connect(&broker)) < 0) {
			r.failed = 1;
			snprintf(r.message, sizeof(r.message), "uid %d cannot connect to %s: %s", OTHER_UID,
				 broker.socket_path, strerror(errno));
		} else {
			steps(fd, &r, arg);
		}
		child_report(rep[1], &r);
		if (read(go[0], &byte, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(rep[1]);
	close(go[0]);
	read_report(rep[0], report);
	close(rep[0]);
	*ret_go = go[1];
	return pid;
}

static void release_child(pid_t pid, int go)
{
	int status;

	ck_assert_int_eq(write(go, "g", 1), 1);
	close(go);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
}

/* The broker in a folder another user can reach: /tmp, the folder 0711,
 * the socket 0666. */
static void start_reachable(const char *const *args)
{
	setenv("TMPDIR", reach_dir, 1);
	start(args);
	ck_assert_int_eq(chmod(broker.dir, 0711), 0);
	ck_assert_int_eq(chmod(broker.socket_path, 0666), 0);
}

#define FAIL_STEP(r, ...) do { (r)->failed = 1; snprintf((r)->message, sizeof((r)->message), __VA_ARGS__); return; } while (0)

static void steps_without_config(int fd, ChildReport *r, void *arg)
{
	Header *reply = quiet_hello(fd);
	int code;

	(void)arg;
	if (!reply)
		FAIL_STEP(r, "Hello from uid %d: no answer", OTHER_UID);
	if (reply->body_case == CROSSPOST__HEADER__BODY_ERROR) {
		code = (int)reply->error->code;
		crosspost__header__free_unpacked(reply, NULL);
		if (code != CROSSPOST__ERROR_CODE__ERROR_SECURITY)
			FAIL_STEP(r, "Hello from uid %d refused with code %d, not SecurityError", OTHER_UID, code);
		snprintf(r->message, sizeof(r->message), "refused at Hello");
		return;
	}
	crosspost__header__free_unpacked(reply, NULL);
	r->window = quiet_register(fd, 2, "https://other-user.example.com/", NULL, false, &code);
	if (code != CROSSPOST__ERROR_CODE__ERROR_SECURITY)
		FAIL_STEP(r, "Register from uid %d with no --config: %s %d", OTHER_UID,
			  code == 0 ? "registered window" : "code", code == 0 ? (int)r->window : code);
	snprintf(r->message, sizeof(r->message), "refused at Register");
}

START_TEST(another_user_is_refused_without_a_config)
{
	TestBystander by;
	ChildReport report;
	Listed *l = NULL;
	size_t n, theirs = 0;
	pid_t pid;
	int go, base;

	if (!is_root("another_user_is_refused_without_a_config"))
		return;
	start_reachable(NULL);
	test_bystander_open(&broker, &by);
	base = test_broker_settled_fd_count(&broker);
	pid = spawn_other_user(steps_without_config, NULL, &report, &go);
	n = list_all(by.fd, &by.serial, &l);
	for (size_t i = 0; n != (size_t)-1 && i < n; i++)
		if (strcmp(l[i].url, "https://other-user.example.com/") == 0)
			theirs++;
	if (n != (size_t)-1)
		listed_free(l, n);
	release_child(pid, go);
	ck_assert_msg(!report.failed, "%s", report.message);
	ck_assert_msg(n != (size_t)-1, "the bystander could not list windows");
	ck_assert_msg(theirs == 0, "a window of uid %d is registered", OTHER_UID);
	assert_healthy(&by, base);
	test_bystander_close(&by);
}
END_TEST

static void steps_with_config(int fd, ChildReport *r, void *arg)
{
	const uint64_t *root_window = arg;
	Header h = CROSSPOST__HEADER__INIT, *reply = quiet_hello(fd);
	Crosspost__Navigate nav = CROSSPOST__NAVIGATE__INIT;
	uint32_t s = 10;
	Listed *l = NULL;
	const Listed *root;
	size_t n;
	int code;

	if (!reply || reply->body_case != CROSSPOST__HEADER__BODY_WELCOME)
		FAIL_STEP(r, "Hello from uid %d with a [uid %d] section: no Welcome", OTHER_UID, OTHER_UID);
	crosspost__header__free_unpacked(reply, NULL);
	r->window = quiet_register(fd, ++s, "https://a.example.com/", NULL, false, &code);
	if (!r->window)
		FAIL_STEP(r, "register https://a.example.com/ (allowed by https://*.example.com): code %d", code);
	quiet_register(fd, ++s, "https://bank.example/", NULL, false, &code);
	if (code != CROSSPOST__ERROR_CODE__ERROR_SECURITY)
		FAIL_STEP(r, "register https://bank.example/: %s %d", code == 0 ? "registered, code" : "code", code);
	quiet_register(fd, ++s, "https://b.example.com/", NULL, true, &code);
	if (code != CROSSPOST__ERROR_CODE__ERROR_SECURITY)
		FAIL_STEP(r, "register a privileged window (privileged = no): %s %d",
			  code == 0 ? "registered, code" : "code", code);
	nav.window_id = r->window;
	nav.url = (char *)"https://bank.example/";
	h.serial = ++s;
	h.body_case = CROSSPOST__HEADER__BODY_NAVIGATE;
	h.navigate = &nav;
	reply = test_raw_request(fd, &h, 5000);
	code = !reply ? -1 : reply->body_case == CROSSPOST__HEADER__BODY_ERROR ? (int)reply->error->code : 0;
	if (reply)
		crosspost__header__free_unpacked(reply, NULL);
	if (code != CROSSPOST__ERROR_CODE__ERROR_SECURITY)
		FAIL_STEP(r, "navigate to https://bank.example/: %s %d", code == 0 ? "navigated, code" : "code", code);
	n = list_all(fd, &s, &l);
	if (n == (size_t)-1)
		FAIL_STEP(r, "ListWindows: the connection closed");
	root = find_listed(l, n, *root_window);
	if (!root) {
		listed_free(l, n);
		FAIL_STEP(r, "ListWindows (list-all = no) does not show the root window %llu at all",
			  (unsigned long long)*root_window);
	}
	if (root->url[0] || root->pid != 0) {
		snprintf(r->message, sizeof(r->message), "ListWindows (list-all = no) shows the root window's url '%s' and pid %d",
			 root->url, (int)root->pid);
		r->failed = 1;
	}
	listed_free(l, n);
}

START_TEST(config_limits_what_another_user_may_do)
{
	static const char config[] = "[uid 65534]\n"
				     "register = https://*.example.com\n"
				     "privileged = no\n"
				     "list-all = no\n";
	char config_path[300];
	const char *args[] = { "--config", config_path, NULL };
	TestBystander by;
	ChildReport report;
	Listed *l = NULL;
	const Listed *theirs = NULL;
	char theirs_url[200] = "";
	int32_t theirs_pid = -1;
	size_t n;
	pid_t pid;
	int fd, go, base;

	if (!is_root("config_limits_what_another_user_may_do"))
		return;
	snprintf(config_path, sizeof(config_path), "%s/policy.XXXXXX", suite_dir);
	fd = mkstemp(config_path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, config, sizeof(config) - 1), (ssize_t)(sizeof(config) - 1));
	close(fd);
	start_reachable(args);
	test_bystander_open(&broker, &by);
	base = test_broker_settled_fd_count(&broker);
	pid = spawn_other_user(steps_with_config, &by.window, &report, &go);
	/* The broker's own user sees everything. */
	n = list_all(by.fd, &by.serial, &l);
	if (n != (size_t)-1 && report.window && (theirs = find_listed(l, n, report.window))) {
		snprintf(theirs_url, sizeof(theirs_url), "%s", theirs->url);
		theirs_pid = theirs->pid;
	}
	if (n != (size_t)-1)
		listed_free(l, n);
	release_child(pid, go);
	unlink(config_path);
	ck_assert_msg(!report.failed, "uid %d: %s", OTHER_UID, report.message);
	ck_assert_msg(n != (size_t)-1, "the bystander could not list windows");
	ck_assert_msg(strcmp(theirs_url, "https://a.example.com/") == 0 && theirs_pid == pid,
		      "root lists uid %d's window with url '%s' and pid %d (expected its url and pid %d)", OTHER_UID,
		      theirs_url, (int)theirs_pid, (int)pid);
	assert_healthy(&by, base);
	test_bystander_close(&by);
}
END_TEST

/* ====================================================================== */
/* 10. Descriptors as buffers: only a sealed memfd of the stated size.     */
/* ====================================================================== */

enum { BUFFER_SIZE = 8192 };

static int memfd_of(size_t size, unsigned flags)
{
	int fd = memfd_create("crosspost-hostile", MFD_CLOEXEC | flags);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)size), 0);
	return fd;
}

static int bad_descriptor(int kind, const char **what)
{
	int pair[2], fd;

	switch (kind) {
	case 0:
		*what = "a pipe";
		ck_assert_int_eq(pipe(pair), 0);
		close(pair[1]);
		return pair[0];
	case 1:
		*what = "a socket";
		ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
		close(pair[1]);
		return pair[0];
	case 2:
		*what = "a directory";
		fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		ck_assert_int_ge(fd, 0);
		return fd;
	case 3:
		*what = "an unsealed memfd";
		return memfd_of(BUFFER_SIZE, MFD_ALLOW_SEALING);
	case 4:
		*what = "a memfd sealed only with F_SEAL_SHRINK";
		fd = memfd_of(BUFFER_SIZE, MFD_ALLOW_SEALING);
		ck_assert_int_eq(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK), 0);
		return fd;
	case 5:
		*what = "a sealed memfd bigger than buffer_sizes says";
		return test_sealed_memfd(BUFFER_SIZE + 4096, 7);
	case 6:
		*what = "a sealed memfd smaller than buffer_sizes says";
		return test_sealed_memfd(BUFFER_SIZE - 4096, 7);
	default:
		*what = "a memfd that cannot be sealed (no MFD_ALLOW_SEALING)";
		return memfd_of(BUFFER_SIZE, 0);
	}
}

/* The target's next frame is an event with this payload. */
static void expect_event_payload(int fd, const char *payload, const char *who)
{
	TestFrame f;

	expect_frame(fd, &f, who);
	ck_assert_msg(f.header->body_case == CROSSPOST__HEADER__BODY_EVENT, "%s: got a %s frame", who, kind_name(f.header));
	ck_assert_msg(f.length == strlen(payload) && memcmp(f.payload, payload, f.length) == 0,
		      "%s: got the message '%s', expected '%s'", who, (char *)f.payload, payload);
	test_frame_clear(&f);
}

START_TEST(descriptor_that_is_not_a_sealed_buffer_of_the_stated_size_is_a_data_clone_error)
{
	TestBystander by;
	uint64_t aw, tw, size = BUFFER_SIZE;
	const char *what = "?";
	char message[120];
	int a, t, bad, base;
	uint32_t s;

	start(NULL);
	test_bystander_open(&broker, &by);
	base = test_broker_settled_fd_count(&broker);
	a = test_raw_connect(&broker);
	aw = test_raw_register(a, "https://a.example/");
	t = test_raw_connect(&broker);
	tw = test_raw_register(t, "https://t.example/");
	bad = bad_descriptor(_i, &what);
	s = post_fds(a, aw, tw, "bad", 3, NULL, 0, &bad, 1, &size, 1);
	close(bad);
	snprintf(message, sizeof(message), "a Post transferring %s", what);
	expect_error(a, s, CROSSPOST__ERROR_CODE__ERROR_DATA_CLONE, message);
	post(a, aw, tw, "good", NULL, 0);
	snprintf(message, sizeof(message), "the target, after a Post transferring %s", what);
	expect_event_payload(t, "good", message);
	close(a);
	close(t);
	assert_healthy(&by, base);
	test_bystander_close(&by);
}
END_TEST

START_TEST(sealed_memfd_of_the_stated_size_is_delivered)
{
	TestBystander by;
	uint64_t aw, tw, size = BUFFER_SIZE;
	int a, t, buf, base, seals;
	struct stat st;
	unsigned char byte = 0;
	TestFrame f;
	uint32_t s;

	start(NULL);
	test_bystander_open(&broker, &by);
	base = test_broker_settled_fd_count(&broker);
	a = test_raw_connect(&broker);
	aw = test_raw_register(a, "https://a.example/");
	t = test_raw_connect(&broker);
	tw = test_raw_register(t, "https://t.example/");
	buf = test_sealed_memfd(BUFFER_SIZE, 0x5a);
	s = post_fds(a, aw, tw, "buf", 3, NULL, 0, &buf, 1, &size, 1);
	close(buf);
	ck_assert_int_eq(error_before_sync(a, s, "a Post transferring a sealed memfd of the stated size"), -1);
	expect_frame(t, &f, "the target");
	ck_assert_msg(f.header->body_case == CROSSPOST__HEADER__BODY_EVENT, "the target got a %s frame", kind_name(f.header));
	ck_assert_uint_eq(f.header->event->fd_count, 1);
	ck_assert_uint_eq(f.n_fds, 1);
	ck_assert_msg(f.header->event->n_buffer_sizes == 1 && f.header->event->buffer_sizes[0] == BUFFER_SIZE,
		      "the event does not carry buffer_sizes [%d]", BUFFER_SIZE);
	ck_assert_int_eq(fstat(f.fds[0], &st), 0);
	ck_assert_int_eq(st.st_size, BUFFER_SIZE);
	ck_assert_int_eq(pread(f.fds[0], &byte, 1, BUFFER_SIZE - 1), 1);
	ck_assert_int_eq(byte, 0x5a);
	seals = fcntl(f.fds[0], F_GET_SEALS);
	ck_assert_int_eq(seals & (F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK), F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK);
	test_frame_clear(&f);
	close(a);
	close(t);
	assert_healthy(&by, base);
	test_bystander_close(&by);
}
END_TEST

START_TEST(port_message_with_an_unsealed_memfd_is_a_data_clone_error)
{
	TestBystander by;
	uint64_t aw, p1, p2, size = BUFFER_SIZE;
	int a, bad, base;
	uint32_t s;

	start(NULL);
	test_bystander_open(&broker, &by);
	base = test_broker_settled_fd_count(&broker);
	a = test_raw_connect(&broker);
	aw = test_raw_register(a, "https://a.example/");
	create_channel(a, aw, &p1, &p2);
	bad = memfd_of(BUFFER_SIZE, MFD_ALLOW_SEALING);
	s = port_post_fds(a, p1, 'b', NULL, 0, &bad, 1, &size, 1);
	close(bad);
	expect_error(a, s, CROSSPOST__ERROR_CODE__ERROR_DATA_CLONE, "a PortPost transferring an unsealed memfd");
	port_post(a, p1, 'g', NULL, 0);
	expect_port_event(a, p2, 'g', "the peer port");
	close(a);
	assert_healthy(&by, base);
	test_bystander_close(&by);
}
END_TEST

/* ====================================================================== */
/* Garbage: bytes that are not the protocol, and frames only the broker   */
/* may send.                                                              */
/* ====================================================================== */

/* The broker may close the connection at any byte of garbage: a failed
 * write is not a failure. */
static void write_raw(int fd, const void *data, size_t n)
{
	if (send(fd, data, n, MSG_NOSIGNAL) < 0 && errno != EPIPE && errno != ECONNRESET)
		ck_abort_msg("cannot write %zu bytes: %s", n, strerror(errno));
}

/* A broker-only frame, as a client would never send it. */
static void send_broker_frame(int fd, Crosspost__Header__BodyCase kind)
{
	Header h = CROSSPOST__HEADER__INIT;
	Crosspost__Event ev = CROSSPOST__EVENT__INIT;
	Crosspost__Welcome welcome = CROSSPOST__WELCOME__INIT;
	Crosspost__Stats stats = CROSSPOST__STATS__INIT;
	Crosspost__PortMoved moved = CROSSPOST__PORT_MOVED__INIT;

	h.serial = next_serial();
	h.body_case = kind;
	ev.target_window_id = 1;
	ev.origin = (char *)"https://forged.example";
	ev.source_name = (char *)"";
	ev.target_origin = (char *)"*";
	welcome.version = 1;
	moved.port_id = 1;
	if (kind == CROSSPOST__HEADER__BODY_EVENT)
		h.event = &ev;
	else if (kind == CROSSPOST__HEADER__BODY_WELCOME)
		h.welcome = &welcome;
	else if (kind == CROSSPOST__HEADER__BODY_STATS)
		h.stats = &stats;
	else
		h.port_moved = &moved;
	test_raw_try_send(fd, &h, NULL, 0, NULL, 0);
}

static const char *const garbage_names[] = {
	"4 KiB of random bytes", "a frame cut short, then end of stream", "header length 2^32-1",
	"payload length 2^32-1", "an unknown oneof field (99)", "an Event", "a Welcome", "a Stats", "a PortMoved",
	"a header whose Register field runs past its end",
};

static void send_garbage(int fd, int variant)
{
	switch (variant) {
	case 0: {
		uint8_t bytes[4096];
		uint32_t x = 0x12345678u;

		for (size_t i = 0; i < sizeof(bytes); i++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			bytes[i] = (uint8_t)x;
		}
		write_raw(fd, bytes, sizeof(bytes));
		break;
	}
	case 1: {
		uint32_t lengths[2] = { 100, 0 };

		hello(fd);
		write_raw(fd, lengths, 8);
		write_raw(fd, "\x08\x05\x9a\x01\x00\x00\x00\x00\x00\x00", 10);
		shutdown(fd, SHUT_WR);
		break;
	}
	case 2: {
		uint32_t lengths[2] = { 0xffffffffu, 0 };

		/* After Hello: before it, the handshake timeout would close it
		 * too, and the outcome would depend on timing. */
		hello(fd);
		write_raw(fd, lengths, 8);
		break;
	}
	case 3: {
		uint32_t lengths[2] = { 2, 0xffffffffu };

		hello(fd);
		write_raw(fd, lengths, 8);
		write_raw(fd, "\xb2\x01", 2);    /* field 22 (sync), length follows */
		break;
	}
	case 4: {
		static const unsigned char unknown[] = { 0x08, 0x05, 0x9a, 0x06, 0x00 };
		uint32_t lengths[2] = { sizeof(unknown), 0 };

		hello(fd);
		write_raw(fd, lengths, 8);
		write_raw(fd, unknown, sizeof(unknown));
		break;
	}
	case 5:
		hello(fd);
		send_broker_frame(fd, CROSSPOST__HEADER__BODY_EVENT);
		break;
	case 6:
		hello(fd);
		send_broker_frame(fd, CROSSPOST__HEADER__BODY_WELCOME);
		break;
	case 7:
		hello(fd);
		send_broker_frame(fd, CROSSPOST__HEADER__BODY_STATS);
		break;
	case 8:
		hello(fd);
		send_broker_frame(fd, CROSSPOST__HEADER__BODY_PORT_MOVED);
		break;
	default: {
		/* serial 5, field 12 (register) claiming 50 bytes, 2 present */
		static const unsigned char cut[] = { 0x08, 0x05, 0x62, 0x32, 0x0a, 0x00 };
		uint32_t lengths[2] = { sizeof(cut), 0 };

		hello(fd);
		write_raw(fd, lengths, 8);
		write_raw(fd, cut, sizeof(cut));
		break;
	}
	}
}

START_TEST(garbage_closes_only_that_connection)
{
	TestBystander by;
	int a, base;

	start(NULL);
	test_bystander_open(&broker, &by);
	base = test_broker_settled_fd_count(&broker);
	a = test_raw_connect(&broker);
	send_garbage(a, _i);
	ck_assert_msg(read_until_closed(a, 0, 0, NULL), "%s: the connection stayed open; %s", garbage_names[_i],
		      instead());
	close(a);
	assert_healthy(&by, base);
	test_bystander_close(&by);
}
END_TEST

START_TEST(huge_declared_lengths_cost_the_broker_no_memory)
{
	enum { N = 8 };
	static const uint32_t prefixes[3][2] = {
		{ 0xffffffffu, 0 }, { 16, 0xffffffffu }, { 0xffffffffu, 0xffffffffu },
	};
	TestBystander by;
	int fds[N], closing[N], n_closing = 0, base;
	long rss0, rss1;

	start(NULL);
	test_bystander_open(&broker, &by);
	base = test_broker_settled_fd_count(&broker);
	test_bystander_check(&by);
	rss0 = test_broker_rss_kib(&broker);
	for (int i = 0; i < N; i++) {
		fds[i] = test_raw_connect(&broker);
		hello(fds[i]);
		if (i % 4 < 3) {
			/* 4 to 8 GiB declared: over the limits. */
			write_raw(fds[i], prefixes[i % 4], 8);
			closing[n_closing++] = fds[i];
		} else {
			/* Within the limits: a Post header declaring 127 MiB,
			 * and nothing of it. */
			Header h = CROSSPOST__HEADER__INIT;
			Crosspost__Post p = CROSSPOST__POST__INIT;
			uint8_t buf[64];
			size_t len;
			uint32_t lengths[2];

			p.sender_window_id = by.window;   /* not its own: but never complete */
			p.target_window_id = by.window;
			p.target_origin = (char *)"*";
			h.serial = 5;
			h.body_case = CROSSPOST__HEADER__BODY_POST;
			h.post = &p;
			len = crosspost__header__pack(&h, buf);
			lengths[0] = (uint32_t)len;
			lengths[1] = 127 * MIB;
			write_raw(fds[i], lengths, 8);
			write_raw(fds[i], buf, len);
		}
	}
	ck_assert_msg(wait_all_closed(closing, (size_t)n_closing, 5000) == (size_t)n_closing,
		      "a connection declaring a frame of 4 GiB or more stayed open");
	test_bystander_check(&by);
	test_bystander_check(&by);
	rss1 = test_broker_rss_kib(&broker);
	ck_assert_msg(rss1 - rss0 < 1024, "the broker grew by %ld KiB for frames it was only told about", rss1 - rss0);
	close_all(fds, N);
	assert_healthy(&by, base);
	test_bystander_close(&by);
}
END_TEST

/* ====================================================================== */

static TCase *new_case(Suite *s, const char *name)
{
	TCase *tc = tcase_create(name);

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	suite_add_tcase(s, tc);
	return tc;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void make_suite_dirs(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(suite_dir, sizeof(suite_dir), "%s/cphostile.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	snprintf(reach_dir, sizeof(reach_dir), "/tmp/cphostile-reach.XXXXXX");
	if (!mkdtemp(suite_dir) || !mkdtemp(reach_dir) || chmod(reach_dir, 0711) < 0) {
		perror("check_hostile: cannot make its temporary folders");
		exit(1);
	}
	setenv("TMPDIR", suite_dir, 1);
}

int main(void)
{
	Suite *s = suite_create("hostile");
	TCase *tc;
	int status;

	signal(SIGPIPE, SIG_IGN);
	make_suite_dirs();

	tc = new_case(s, "port_theft");
	tcase_add_loop_test(tc, returned_message_carrying_ports_not_owned_closes_the_attacker, 0, 4);
	tcase_add_test(tc, port_return_for_a_port_not_in_transit_from_the_sender_changes_nothing);
	tcase_add_test(tc, transferring_another_connections_port_is_a_data_clone_error);

	tc = new_case(s, "disconnect_another");
	tcase_add_test(tc, huge_idn_origin_and_long_name_do_not_disconnect_the_receiver);
	tcase_add_test(tc, sixty_kilobyte_url_is_a_range_error_and_the_connection_stays_open);
	tcase_add_test(tc, a_thousand_windows_are_listed_in_pages);

	tc = new_case(s, "descriptor_pinning");
	tcase_add_loop_test(tc, descriptors_a_frame_does_not_declare_close_the_connection, 0, 3);
	tcase_add_loop_test(tc, declaring_more_descriptors_than_allowed_closes_the_connection, 0, 2);
	tcase_add_test(tc, twenty_attackers_pinning_descriptors_are_all_closed);

	tc = new_case(s, "accept");
	tcase_add_test(tc, descriptor_exhaustion_does_not_make_the_broker_spin);
	tcase_add_test(tc, pending_connections_beyond_the_limit_are_not_all_kept);
	tcase_add_test(tc, connection_that_never_greets_is_closed_after_the_handshake_timeout);

	tc = new_case(s, "memory");
	tcase_add_test(tc, sync_flood_from_a_client_that_never_reads_is_bounded);
	tcase_add_test(tc, port_kept_in_transit_neither_grows_memory_nor_blocks_the_victim);
	tcase_add_loop_test(tc, stalled_huge_frames_stay_within_the_per_uid_budget, 0, 2);
	tcase_add_test(tc, senders_to_a_receiver_that_never_reads_are_bounded);

	tc = new_case(s, "dead_paused_sender");
	tcase_add_loop_test(tc, dead_paused_sender_is_cleaned_up_while_the_receiver_stalls, 0, 2);

	tc = new_case(s, "quota");
	tcase_add_test(tc, port_quota_refuses_the_next_channel_and_closing_frees_room);
	tcase_add_test(tc, window_quota_refuses_the_next_window_and_closing_frees_room);

	tc = new_case(s, "socket_folder");
	tcase_add_test(tc, world_writable_socket_folder_is_refused);
	tcase_add_test(tc, symlinked_socket_folder_is_refused);
	tcase_add_test(tc, socket_folder_owned_by_another_user_is_refused);
	tcase_add_test(tc, client_refuses_a_broker_of_another_user);

	tc = new_case(s, "policy");
	tcase_add_test(tc, another_user_is_refused_without_a_config);
	tcase_add_test(tc, config_limits_what_another_user_may_do);

	tc = new_case(s, "buffers");
	tcase_add_loop_test(tc, descriptor_that_is_not_a_sealed_buffer_of_the_stated_size_is_a_data_clone_error, 0, 8);
	tcase_add_test(tc, sealed_memfd_of_the_stated_size_is_delivered);
	tcase_add_test(tc, port_message_with_an_unsealed_memfd_is_a_data_clone_error);

	tc = new_case(s, "garbage");
	tcase_add_loop_test(tc, garbage_closes_only_that_connection, 0, 10);
	tcase_add_test(tc, huge_declared_lengths_cost_the_broker_no_memory);

	status = test_run_suite(s);
	nftw(suite_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	nftw(reach_dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
	return status;
}
