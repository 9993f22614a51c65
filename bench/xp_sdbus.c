/* SPDX-License-Identifier: MIT */
/*
 * xp_sdbus.c - D-Bus in the workloads of workload.h: sd-bus clients
 * through a private bus, run by one of two brokers:
 *
 *   dbus-broker   /usr/bin/dbus-broker, started the way dbus-broker's own
 *                 test suite does without systemd: we are its controller
 *                 (--controller FD), hand it a listening socket with
 *                 AddListener and an allow-all policy, and keep the
 *                 controller connection open while it runs.  Per-user
 *                 quotas --max-bytes 512 MiB, --max-fds 4096: the values
 *                 docs/security.md gives for dbus-broker's launcher.
 *   dbus-daemon   /usr/bin/dbus-daemon --config-file with a session-like
 *                 configuration (session.conf's limits) listening on a unix
 *                 path in a temporary folder.
 *
 * The receiver takes the well-known name org.crosspost.Bench.Rx; a sender
 * waits for it, resolves its unique name once (as a crosspost sender
 * resolves a window id) and sends method calls to it: without a reply
 * expected for one-way (sd_bus_message_set_expect_reply(m, 0)), with
 * sd_bus_call() for the round trip, which the receiver answers with a
 * method return carrying the same bytes.  Payloads are "ay".
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <systemd/sd-bus.h>

#include "workload.h"

#define DBUS_BROKER "/usr/bin/dbus-broker"
#define DBUS_DAEMON "/usr/bin/dbus-daemon"
#define RX_NAME "org.crosspost.Bench.Rx"
#define OBJ_PATH "/org/crosspost/Bench"
#define IFACE "org.crosspost.Bench"

struct Endpoint {
	sd_bus *bus;
	char *dest;                 /* a sender's: the receiver's unique name */
	const uint8_t *payload;
	size_t len;
	sd_bus_message *pending;    /* received by the filter, not yet handed out */
	sd_bus_message *current;    /* handed out by the last recv */
	sd_bus_message *reply;      /* the last call's answer */
};

static int fail(const char *what, int r)
{
	fprintf(stderr, "sd-bus: %s: %s\n", what, strerror(r < 0 ? -r : r));
	return r < 0 ? r : -r;
}

static sd_bus *bus_connect(const char *address, const char *description)
{
	sd_bus *bus = NULL;
	int r;

	if ((r = sd_bus_new(&bus)) < 0 || (r = sd_bus_set_description(bus, description)) < 0 ||
	    (r = sd_bus_set_address(bus, address)) < 0 || (r = sd_bus_set_bus_client(bus, 1)) < 0 ||
	    (r = sd_bus_start(bus)) < 0) {
		fail("connect", r);
		sd_bus_unref(bus);
		return NULL;
	}
	return bus;
}

/* ---- dbus-broker: we are its controller ---- */

#define POLICY_T_BATCH "bt" "a(btbs)" "a(btssssuutt)" "a(btssssuutt)"
#define POLICY_T "a(u(" POLICY_T_BATCH "))" "a(buu(" POLICY_T_BATCH "))" "a(ss)" "bs"

/* Allow everything for everyone: connect, own, send, receive (the
 * policy dbus-broker's own tests use; the format dbus-broker 33, in
 * Debian 12, accepts: it is not a stable interface). */
static int append_policy(sd_bus_message *m)
{
	int r = 0;

	r = r < 0 ? r : sd_bus_message_open_container(m, 'v', "(" POLICY_T ")");
	r = r < 0 ? r : sd_bus_message_open_container(m, 'r', POLICY_T);
	r = r < 0 ? r : sd_bus_message_open_container(m, 'a', "(u(" POLICY_T_BATCH "))");
	r = r < 0 ? r : sd_bus_message_open_container(m, 'r', "u(" POLICY_T_BATCH ")");
	r = r < 0 ? r : sd_bus_message_append(m, "u", (uint32_t)-1);
	r = r < 0 ? r : sd_bus_message_open_container(m, 'r', POLICY_T_BATCH);
	r = r < 0 ? r : sd_bus_message_append(m, POLICY_T_BATCH,
					       true, UINT64_C(1),
					       1, true, UINT64_C(1), true, "",
					       1, true, UINT64_C(1), "", "", "", "", 0, 0, UINT64_C(0), UINT64_MAX,
					       1, true, UINT64_C(1), "", "", "", "", 0, 0, UINT64_C(0), UINT64_MAX);
	r = r < 0 ? r : sd_bus_message_close_container(m);
	r = r < 0 ? r : sd_bus_message_close_container(m);
	r = r < 0 ? r : sd_bus_message_close_container(m);
	r = r < 0 ? r : sd_bus_message_open_container(m, 'a', "(buu(" POLICY_T_BATCH "))");
	r = r < 0 ? r : sd_bus_message_close_container(m);
	r = r < 0 ? r : sd_bus_message_open_container(m, 'a', "(ss)");
	r = r < 0 ? r : sd_bus_message_close_container(m);
	r = r < 0 ? r : sd_bus_message_append(m, "bs", false, "session");
	r = r < 0 ? r : sd_bus_message_close_container(m);
	r = r < 0 ? r : sd_bus_message_close_container(m);
	return r;
}

/* The controller process: starts dbus-broker, gives it the listener,
 * writes the broker's pid to report_fd, and serves the controller
 * connection until the broker exits or we are told to stop. */
static void controller_main(int listen_fd, int report_fd)
{
	sd_bus_message *m = NULL;
	sd_bus_error error = SD_BUS_ERROR_NULL;
	sd_bus *bus = NULL;
	int pair[2], r;
	char fd_arg[16];
	pid_t broker;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
		_exit(1);
	broker = fork();
	if (broker == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* Keep the controller socket across exec. */
		fcntl(pair[1], F_SETFD, 0);
		snprintf(fd_arg, sizeof(fd_arg), "%d", pair[1]);
		execl(DBUS_BROKER, "dbus-broker", "--controller", fd_arg,
		      "--machine-id", "0123456789abcdef0123456789abcdef",
		      "--max-bytes", "536870912", "--max-fds", "4096", (char *)NULL);
		_exit(127);
	}
	close(pair[1]);
	if ((r = sd_bus_new(&bus)) < 0 || (r = sd_bus_set_fd(bus, pair[0], pair[0])) < 0 ||
	    (r = sd_bus_start(bus)) < 0 ||
	    (r = sd_bus_message_new_method_call(bus, &m, NULL, "/org/bus1/DBus/Broker", "org.bus1.DBus.Broker",
						"AddListener")) < 0 ||
	    (r = sd_bus_message_append(m, "oh", "/org/bus1/DBus/Listener/0", listen_fd)) < 0 ||
	    (r = append_policy(m)) < 0 || (r = sd_bus_call(bus, m, 10 * 1000000, &error, NULL)) < 0) {
		fprintf(stderr, "dbus-broker: AddListener: %s %s\n", error.name ? error.name : strerror(-r),
			error.message ? error.message : "");
		kill(broker, SIGKILL);
		_exit(1);
	}
	sd_bus_message_unref(m);
	close(listen_fd);
	if (write(report_fd, &broker, sizeof(broker)) != sizeof(broker))
		_exit(1);
	close(report_fd);
	for (;;) {
		r = sd_bus_process(bus, NULL);
		if (r < 0)
			break;
		if (r == 0 && sd_bus_wait(bus, UINT64_MAX) < 0)
			break;
	}
	kill(broker, SIGTERM);
	waitpid(broker, NULL, 0);
	_exit(0);
}

static int broker_probe(char *why, size_t why_len)
{
	if (access(DBUS_BROKER, X_OK) < 0) {
		snprintf(why, why_len, "%s is not installed (Debian package dbus-broker)", DBUS_BROKER);
		return -1;
	}
	return 0;
}

static int broker_start(BenchServer *s)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	int lfd, report[2];
	char path[200];

	if (server_make_dir(s, "dbus-broker") < 0)
		return -1;
	snprintf(path, sizeof(path), "%s/bus", s->dir);
	snprintf(s->address, sizeof(s->address), "unix:path=%s", path);
	strcpy(addr.sun_path, path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(lfd, 4096) < 0 ||
	    pipe2(report, O_CLOEXEC) < 0) {
		perror("dbus-broker: listen");
		return -1;
	}
	s->helper_pid = fork();
	if (s->helper_pid == 0) {
		close(report[0]);
		controller_main(lfd, report[1]);
	}
	close(lfd);
	close(report[1]);
	if (read(report[0], &s->pid, sizeof(s->pid)) != sizeof(s->pid)) {
		fprintf(stderr, "dbus-broker: did not start\n");
		close(report[0]);
		stop_process(s->helper_pid);
		return -1;
	}
	close(report[0]);
	return 0;
}

static void broker_stop(BenchServer *s)
{
	/* The broker is the controller's child: stopping the controller
	 * stops it (and reaps it). */
	kill(s->pid, SIGTERM);
	stop_process(s->helper_pid);
	server_remove_dir(s);
}

/* ---- dbus-daemon ---- */

static const char daemon_config[] =
	"<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\"\n"
	" \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n"
	"<busconfig>\n"
	"  <type>session</type>\n"
	"  <listen>unix:path=%s/bus</listen>\n"
	"  <auth>EXTERNAL</auth>\n"
	"  <policy context=\"default\">\n"
	"    <allow send_destination=\"*\" eavesdrop=\"true\"/>\n"
	"    <allow eavesdrop=\"true\"/>\n"
	"    <allow own=\"*\"/>\n"
	"  </policy>\n"
	/* session.conf's limits, as Debian 12 ships them */
	"  <limit name=\"max_incoming_bytes\">1000000000</limit>\n"
	"  <limit name=\"max_incoming_unix_fds\">250000000</limit>\n"
	"  <limit name=\"max_outgoing_bytes\">1000000000</limit>\n"
	"  <limit name=\"max_outgoing_unix_fds\">250000000</limit>\n"
	"  <limit name=\"max_message_size\">1000000000</limit>\n"
	"  <limit name=\"service_start_timeout\">120000</limit>\n"
	"  <limit name=\"auth_timeout\">240000</limit>\n"
	"  <limit name=\"pending_fd_timeout\">150000</limit>\n"
	"  <limit name=\"max_completed_connections\">100000</limit>\n"
	"  <limit name=\"max_incomplete_connections\">10000</limit>\n"
	"  <limit name=\"max_connections_per_user\">100000</limit>\n"
	"  <limit name=\"max_pending_service_starts\">10000</limit>\n"
	"  <limit name=\"max_names_per_connection\">50000</limit>\n"
	"  <limit name=\"max_match_rules_per_connection\">50000</limit>\n"
	"  <limit name=\"max_replies_per_connection\">50000</limit>\n"
	"</busconfig>\n";

static int daemon_probe(char *why, size_t why_len)
{
	if (access(DBUS_DAEMON, X_OK) < 0) {
		snprintf(why, why_len, "%s is not installed (Debian package dbus)", DBUS_DAEMON);
		return -1;
	}
	return 0;
}

static int daemon_start(BenchServer *s)
{
	char config[200], arg_config[256], arg_print[32], line[200];
	int address[2];
	ssize_t n;
	FILE *f;

	if (server_make_dir(s, "dbus-daemon") < 0)
		return -1;
	snprintf(config, sizeof(config), "%s/bus.conf", s->dir);
	f = fopen(config, "we");
	if (!f || fprintf(f, daemon_config, s->dir) < 0 || fclose(f) != 0) {
		perror("dbus-daemon: config");
		return -1;
	}
	if (pipe(address) < 0)
		return -1;
	s->pid = fork();
	if (s->pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(address[0]);
		snprintf(arg_config, sizeof(arg_config), "--config-file=%s", config);
		snprintf(arg_print, sizeof(arg_print), "--print-address=%d", address[1]);
		execl(DBUS_DAEMON, "dbus-daemon", "--nofork", arg_config, arg_print, (char *)NULL);
		_exit(127);
	}
	close(address[1]);
	n = read(address[0], line, sizeof(line) - 1);
	close(address[0]);
	if (n <= 0) {
		fprintf(stderr, "dbus-daemon: did not start\n");
		stop_process(s->pid);
		return -1;
	}
	line[n] = '\0';
	line[strcspn(line, "\n")] = '\0';
	snprintf(s->address, sizeof(s->address), "%s", line);
	return 0;
}

static void daemon_stop(BenchServer *s)
{
	stop_process(s->pid);
	server_remove_dir(s);
}

/* ---- endpoints ---- */

/* Takes every method call of our interface; the one message a recv hands
 * out waits in pending. */
static int on_message(sd_bus_message *m, void *userdata, sd_bus_error *error)
{
	Endpoint *e = userdata;

	if (!sd_bus_message_is_method_call(m, IFACE, NULL))
		return 0;
	e->pending = sd_bus_message_ref(m);
	return 1;
}

static Endpoint *sd_open(BenchServer *s, int role, unsigned index)
{
	Endpoint *e = calloc(1, sizeof(*e));
	char description[32];
	int r;

	if (!e)
		return NULL;
	snprintf(description, sizeof(description), role == ROLE_RECEIVER ? "rx" : "tx%u", index);
	e->bus = bus_connect(s->address, description);
	if (!e->bus)
		return NULL;
	if (role == ROLE_RECEIVER) {
		if ((r = sd_bus_add_filter(e->bus, NULL, on_message, e)) < 0 ||
		    (r = sd_bus_request_name(e->bus, RX_NAME, 0)) < 0) {
			fail("request name", r);
			return NULL;
		}
		return e;
	}
	for (int tries = 0; tries < 10000; tries++) {
		sd_bus_error error = SD_BUS_ERROR_NULL;
		sd_bus_message *reply = NULL;
		const char *owner;

		r = sd_bus_call_method(e->bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
				       "org.freedesktop.DBus", "GetNameOwner", &error, &reply, "s", RX_NAME);
		sd_bus_error_free(&error);
		if (r >= 0 && sd_bus_message_read(reply, "s", &owner) >= 0) {
			e->dest = strdup(owner);
			sd_bus_message_unref(reply);
			return e;
		}
		sd_bus_message_unref(reply);
		usleep(1000);
	}
	fprintf(stderr, "sd-bus: %s never appeared\n", RX_NAME);
	return NULL;
}

static int sd_prepare(Endpoint *e, const uint8_t *bytes, size_t len)
{
	e->payload = bytes;
	e->len = len;
	return 0;
}

static int new_call(Endpoint *e, sd_bus_message **ret)
{
	int r = sd_bus_message_new_method_call(e->bus, ret, e->dest, OBJ_PATH, IFACE, "Post");

	if (r >= 0)
		r = sd_bus_message_append_array(*ret, 'y', e->payload, e->len);
	return r;
}

static int sd_send(Endpoint *e)
{
	sd_bus_message *m = NULL;
	uint64_t queued = 0;
	int r = new_call(e, &m);

	if (r >= 0)
		r = sd_bus_message_set_expect_reply(m, 0);
	if (r >= 0)
		r = sd_bus_send(e->bus, m, NULL);
	sd_bus_message_unref(m);
	/* sd_bus_send() writes at once while nothing waits; what the
	 * socket did not take is queued in the library, unbounded: wait
	 * for it, as crosspost's post does.  Not with sd_bus_flush(): it
	 * polls for input too without reading it, and spins once anything
	 * arrived (NameAcquired does); sd_bus_process() reads input and
	 * writes the queue, as an sd-bus event loop would. */
	while (r >= 0 && sd_bus_get_n_queued_write(e->bus, &queued) >= 0 && queued) {
		r = sd_bus_process(e->bus, NULL);
		if (r == 0)
			r = sd_bus_wait(e->bus, UINT64_MAX);
	}
	return r < 0 ? fail("send", r) : 0;
}

static int read_bytes(sd_bus_message *m, const uint8_t **ret, size_t *ret_len)
{
	const void *p = NULL;
	size_t n = 0;
	int r = sd_bus_message_read_array(m, 'y', &p, &n);

	if (r < 0)
		return fail("read", r);
	*ret = p;
	*ret_len = n;
	return 0;
}

static int sd_recv(Endpoint *e, const uint8_t **ret, size_t *ret_len)
{
	e->current = sd_bus_message_unref(e->current);
	while (!e->pending) {
		int r = sd_bus_process(e->bus, NULL);

		if (r < 0)
			return fail("process", r);
		if (r == 0 && (r = sd_bus_wait(e->bus, UINT64_MAX)) < 0)
			return fail("wait", r);
	}
	e->current = e->pending;
	e->pending = NULL;
	return read_bytes(e->current, ret, ret_len);
}

static int sd_echo(Endpoint *e)
{
	sd_bus_message *reply = NULL;
	const void *p;
	size_t n;
	int r;

	if ((r = sd_bus_message_rewind(e->current, 1)) < 0 ||
	    (r = sd_bus_message_read_array(e->current, 'y', &p, &n)) < 0 ||
	    (r = sd_bus_message_new_method_return(e->current, &reply)) < 0 ||
	    (r = sd_bus_message_append_array(reply, 'y', p, n)) < 0 || (r = sd_bus_send(e->bus, reply, NULL)) < 0) {
		sd_bus_message_unref(reply);
		return fail("echo", r);
	}
	sd_bus_message_unref(reply);
	return 0;
}

static int sd_call(Endpoint *e, const uint8_t **ret, size_t *ret_len)
{
	sd_bus_error error = SD_BUS_ERROR_NULL;
	sd_bus_message *m = NULL;
	int r;

	e->reply = sd_bus_message_unref(e->reply);
	r = new_call(e, &m);
	if (r >= 0)
		r = sd_bus_call(e->bus, m, 30 * 1000000, &error, &e->reply);
	sd_bus_message_unref(m);
	if (r < 0) {
		fprintf(stderr, "sd-bus: call: %s\n", error.message ? error.message : strerror(-r));
		sd_bus_error_free(&error);
		return r;
	}
	return read_bytes(e->reply, ret, ret_len);
}

static void sd_close(Endpoint *e)
{
	if (!e)
		return;
	sd_bus_flush(e->bus);
	sd_bus_message_unref(e->pending);
	sd_bus_message_unref(e->current);
	sd_bus_message_unref(e->reply);
	sd_bus_flush_close_unref(e->bus);
	free(e->dest);
	free(e);
}

typedef struct Idle {
	sd_bus **buses;
	unsigned n;
} Idle;

static void sd_idle_close(void *idle)
{
	Idle *i = idle;

	for (unsigned k = 0; k < i->n; k++)
		sd_bus_flush_close_unref(i->buses[k]);
	free(i->buses);
	free(i);
}

/* n connected clients, each past Hello (a GetId call proves it). */
static void *sd_idle_open(BenchServer *s, unsigned n, unsigned per)
{
	Idle *idle = calloc(1, sizeof(*idle));

	if (per != 1) {
		fprintf(stderr, "sd-bus: a connection is one peer: per must be 1\n");
		return NULL;
	}
	if (!idle || !(idle->buses = calloc(n, sizeof(*idle->buses))))
		bench_fail("out of memory");
	for (unsigned k = 0; k < n; k++) {
		sd_bus_error error = SD_BUS_ERROR_NULL;
		int r;

		idle->buses[k] = bus_connect(s->address, "idle");
		if (!idle->buses[k]) {
			sd_idle_close(idle);
			return NULL;
		}
		idle->n++;
		r = sd_bus_call_method(idle->buses[k], "org.freedesktop.DBus", "/org/freedesktop/DBus",
				       "org.freedesktop.DBus", "GetId", &error, NULL, NULL);
		sd_bus_error_free(&error);
		if (r < 0) {
			fail("idle GetId", r);
			sd_idle_close(idle);
			return NULL;
		}
	}
	return idle;
}

#define SDBUS_ENDPOINT_OPS                                                              \
	.max_senders = 100000, .open = sd_open, .prepare = sd_prepare, .send = sd_send, \
	.recv = sd_recv, .echo = sd_echo, .call = sd_call, .close = sd_close,           \
	.idle_open = sd_idle_open, .idle_close = sd_idle_close

static const Transport broker_transport = {
	.name = "dbus-broker",
	.probe = broker_probe,
	.start = broker_start,
	.stop = broker_stop,
	SDBUS_ENDPOINT_OPS,
};

static const Transport daemon_transport = {
	.name = "dbus-daemon",
	.probe = daemon_probe,
	.start = daemon_start,
	.stop = daemon_stop,
	SDBUS_ENDPOINT_OPS,
};

int main(int argc, char **argv)
{
	static const Transport *const transports[] = { &broker_transport, &daemon_transport };

	return workload_main(argc, argv, transports, sizeof(transports) / sizeof(transports[0]));
}
