/* SPDX-License-Identifier: MIT */
/*
 * server.c - the gateway's server process: libwebsockets serves crosspost.js
 * (and --serve DIR), accepts a page's WebSocket after trust.c's checks, and
 * relays its messages to and from that page's worker process.
 *
 * The server never looks inside a page's messages: it bounds them (size,
 * queue per direction) and moves them.  What a page may do with the broker
 * is the worker's business, and the origin the worker registers is the one
 * the server read from the handshake and put on the worker's command line.
 *
 * Flow control, per page and direction (docs/gateway.md "Limits"):
 *   page -> worker: past queue-high waiting for the worker, the page's
 *     WebSocket is no longer read (the browser's bufferedAmount grows);
 *   worker -> page: past queue-high waiting for the browser, the worker's
 *     socket is no longer read; the worker then stops reading the broker,
 *     and the broker holds back the page's senders.
 * Both resume under a quarter of the mark.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <libwebsockets.h>

#include "crosspost.h"
#include "gateway.h"
#include "log.h"

#define PROTOCOL_HTTP "http"
#define PROTOCOL_PIPE "crosspost-worker"
/* How long a stopping server gives its workers before SIGKILL. */
#define STOP_GRACE_MS 2000
/* How often zombies are reaped and a stop request is noticed. */
#define TICK_US (200 * 1000)

typedef struct Page Page;

struct Page {
	unsigned refs;               /* the WebSocket and the worker's socket */
	struct lws *ws;              /* NULL once the WebSocket closed */
	struct lws *pipe;            /* NULL once the worker's socket closed */
	pid_t pid;
	char *origin;
	unsigned id;                 /* for log lines */
	/* A refusal to send, then close (no worker). */
	const char *refusal_name;
	const char *refusal_message;
	struct evbuffer *rx;         /* the page's message being assembled */
	struct evbuffer *to_worker;  /* framed */
	struct evbuffer *to_page;    /* framed, as the worker sent them */
	size_t out_left;             /* bytes left of the message going to the page */
	bool out_started;
	bool ws_paused, pipe_paused;
	lws_sorted_usec_list_t pipe_retry;  /* asks for the worker's socket to be writeable */
	bool close_when_flushed;     /* close the WebSocket once to_page is written */
	uint16_t close_code;
	char close_reason[100];
	Page *prev, *next;
};

/* What the WebSocket's per-session data holds. */
typedef struct Session {
	Page *page;
	int decision;                /* a GatewayRefusal from the handshake */
	char *origin;                /* the allowed origin, until the page takes it */
} Session;

static struct {
	const GatewayConfig *cfg;
	struct lws_context *context;
	struct lws_vhost *vhost;
	Page *pages;
	unsigned n_pages;
	unsigned next_page_id;
	lws_sorted_usec_list_t tick;
	uint8_t *scratch;            /* LWS_PRE + GW_WRITE_CHUNK */
	bool stopping;
} server;

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static size_t queue_low(void)
{
	return server.cfg->limits.queue_high / 4;
}

/* ---- pages ---- */

static Page *page_new(void)
{
	Page *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->rx = evbuffer_new();
	p->to_worker = evbuffer_new();
	p->to_page = evbuffer_new();
	if (!p->rx || !p->to_worker || !p->to_page) {
		evbuffer_free(p->rx);
		evbuffer_free(p->to_worker);
		evbuffer_free(p->to_page);
		free(p);
		return NULL;
	}
	p->pid = -1;
	p->id = ++server.next_page_id;
	p->next = server.pages;
	if (server.pages)
		server.pages->prev = p;
	server.pages = p;
	server.n_pages++;
	return p;
}

static void page_unref(Page *p)
{
	if (--p->refs > 0)
		return;
	if (p->prev)
		p->prev->next = p->next;
	else
		server.pages = p->next;
	if (p->next)
		p->next->prev = p->prev;
	server.n_pages--;
	lws_sul_cancel(&p->pipe_retry);
	evbuffer_free(p->rx);
	evbuffer_free(p->to_worker);
	evbuffer_free(p->to_page);
	free(p->origin);
	free(p);
}

/* Closes the page's WebSocket once what the worker sent is written. */
static void page_close_ws(Page *p, uint16_t code, const char *reason)
{
	if (!p->ws || p->close_when_flushed)
		return;
	p->close_when_flushed = true;
	p->close_code = code;
	snprintf(p->close_reason, sizeof(p->close_reason), "%s", reason);
	lws_callback_on_writable(p->ws);
}

static void page_close_pipe(Page *p)
{
	if (p->pipe)
		lws_set_timeout(p->pipe, PENDING_TIMEOUT_KILLED_BY_PARENT, LWS_TO_KILL_ASYNC);
}

/* Starts the worker: `crosspost-gateway --worker ORIGIN ...` with its end of
 * a socketpair as descriptor 3 and no other descriptor of ours. */
static int page_spawn(Page *p)
{
	const GatewayConfig *cfg = server.cfg;
	char msg[32], queue[32], windows[16], ports[16], level[16];
	const char *levels[] = { "error", "warning", "info", "debug" };
	const char *argv[20];
	size_t argc = 0;
	int sv[2];
	pid_t pid;

	snprintf(msg, sizeof(msg), "%zuB", cfg->limits.message_max);
	snprintf(queue, sizeof(queue), "%zuB", cfg->limits.queue_high);
	snprintf(windows, sizeof(windows), "%u", cfg->limits.windows_max);
	snprintf(ports, sizeof(ports), "%u", cfg->limits.ports_max);
	snprintf(level, sizeof(level), "%s", levels[cfg->log_level]);
	argv[argc++] = "crosspost-gateway";
	argv[argc++] = "--worker";
	argv[argc++] = p->origin;
	argv[argc++] = "--max-message-size";
	argv[argc++] = msg;
	argv[argc++] = "--queue-high";
	argv[argc++] = queue;
	argv[argc++] = "--max-windows";
	argv[argc++] = windows;
	argv[argc++] = "--max-ports";
	argv[argc++] = ports;
	argv[argc++] = "--log-level";
	argv[argc++] = level;
	if (cfg->socket_path) {
		argv[argc++] = "--socket";
		argv[argc++] = cfg->socket_path;
	}
	argv[argc] = NULL;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	pid = fork();
	if (pid < 0) {
		int e = errno;

		close(sv[0]);
		close(sv[1]);
		return -e;
	}
	if (pid == 0) {
		/* dup2 clears close-on-exec on descriptor 3; every other
		 * descriptor above stderr is closed, whoever opened it
		 * (libwebsockets' sockets included). */
		if (dup2(sv[1], 3) < 0)
			_exit(127);
		close_range(4, ~0u, 0);
		signal(SIGPIPE, SIG_DFL);
		execv("/proc/self/exe", (char *const *)argv);
		_exit(127);
	}
	close(sv[1]);
	if (fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK) < 0) {
		close(sv[0]);
		kill(pid, SIGTERM);
		return -errno;
	}
	p->pid = pid;
	return sv[0];
}

/* ---- the worker's socket: RAW file descriptor wsi ---- */

/* Stops reading the worker past queue-high of bytes for the page, and
 * reads again under queue-low.  A message not yet whole at the head is
 * always read to its end, or it would wait for itself: so the server holds
 * at most queue-high plus one message (--max-message-size) per page. */
static void pipe_update_flow(Page *p)
{
	size_t held = evbuffer_get_length(p->to_page), len = 0;
	bool whole = p->out_started ? held >= p->out_left :
		     gw_frame_peek(p->to_page, server.cfg->limits.message_max, &len) != 0;

	if (!p->pipe)
		return;
	if (!p->pipe_paused && whole && held >= server.cfg->limits.queue_high) {
		p->pipe_paused = true;
		lws_rx_flow_control(p->pipe, 0);
	} else if (p->pipe_paused && (!whole || held <= queue_low())) {
		p->pipe_paused = false;
		lws_rx_flow_control(p->pipe, 1);
	}
}

static void pipe_read(Page *p)
{
	int fd = lws_get_socket_fd(p->pipe);
	size_t before = evbuffer_get_length(p->to_page);
	/* Bounded per call, so that one busy worker cannot starve others. */
	for (int i = 0; i < 16; i++) {
		int n = evbuffer_read(p->to_page, fd, 65536);

		if (n == 0) {
			log_debug("page %u: the worker closed its socket", p->id);
			page_close_pipe(p);
			break;
		}
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR) {
				log_warning("page %u: reading from the worker: %s", p->id, strerror(errno));
				page_close_pipe(p);
			}
			break;
		}
	}
	/* Frames are checked as they arrive (the length prefix of each): a
	 * worker does not send more than the limit. */
	if (evbuffer_get_length(p->to_page) > before && p->ws)
		lws_callback_on_writable(p->ws);
	pipe_update_flow(p);
}

static void pipe_retry(lws_sorted_usec_list_t *sul)
{
	Page *p = lws_container_of(sul, Page, pipe_retry);

	if (p->pipe)
		lws_callback_on_writable(p->pipe);
}

static int pipe_write(Page *p)
{
	int fd = lws_get_socket_fd(p->pipe);

	while (evbuffer_get_length(p->to_worker) > 0) {
		int n = evbuffer_write_atmost(p->to_worker, fd, 256 * 1024);

		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			log_warning("page %u: writing to the worker: %s", p->id, strerror(errno));
			return -1;
		}
	}
	/* libwebsockets 4.1 clears a raw file's POLLOUT after its writeable
	 * callback returns, undoing a request made in it: ask from the loop. */
	if (evbuffer_get_length(p->to_worker) > 0)
		lws_sul_schedule(server.context, 0, &p->pipe_retry, pipe_retry, 1);
	if (p->ws_paused && evbuffer_get_length(p->to_worker) <= queue_low() && p->ws) {
		p->ws_paused = false;
		lws_rx_flow_control(p->ws, 1);
	}
	return 0;
}

static int callback_pipe(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
			 size_t len)
{
	Page *p = lws_get_opaque_user_data(wsi);
	int status;

	(void)user;
	(void)in;
	(void)len;
	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		if (p)
			pipe_read(p);
		return 0;
	case LWS_CALLBACK_RAW_WRITEABLE_FILE:
		return p ? pipe_write(p) : 0;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		if (!p)
			return 0;
		lws_set_opaque_user_data(wsi, NULL);
		p->pipe = NULL;
		/* The worker exits once its socket closes; reap it now if it
		 * already has (else the tick does). */
		if (p->pid > 0 && waitpid(p->pid, &status, WNOHANG) == p->pid) {
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
				log_warning("page %u (%s): the worker ended with status %d", p->id,
					    p->origin, WIFEXITED(status) ? WEXITSTATUS(status) :
					    128 + WTERMSIG(status));
			p->pid = -1;
		}
		page_close_ws(p, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, "the gateway's worker for this page ended");
		page_unref(p);
		return 0;
	default:
		return 0;
	}
}

/* ---- the page's WebSocket ---- */

static bool header(struct lws *wsi, enum lws_token_indexes token, char *buf, int size)
{
	int n = lws_hdr_total_length(wsi, token);

	if (n <= 0 || n >= size)
		return false;
	return lws_hdr_copy(wsi, buf, size, token) == n;
}

/* Decides on the handshake; the page learns a refusal from a message (the
 * WebSocket API would only say "failed" for a refused handshake). */
static int ws_filter(struct lws *wsi, Session *s)
{
	char uri[256], origin[CP_URL_MAX + 1], token_arg[GW_TOKEN_MAX + 16];
	const char *token;
	char peer[64];
	int r;

	lws_get_peer_simple(wsi, peer, sizeof(peer));
	if (!header(wsi, WSI_TOKEN_GET_URI, uri, sizeof(uri)) || strcmp(uri, GW_WS_PATH) != 0) {
		log_info("refused a WebSocket from %s: the path is not %s", peer, GW_WS_PATH);
		return -1;
	}
	token = lws_get_urlarg_by_name(wsi, "token=", token_arg, sizeof(token_arg));
	r = gw_check_page(server.cfg, header(wsi, WSI_TOKEN_ORIGIN, origin, sizeof(origin)) ? origin : NULL,
			  token, &s->origin);
	if (r < 0)
		return -1;
	s->decision = r;
	if (r != GW_OK)
		log_info("refused a page from %s (Origin %s): %s", peer,
			 r == GW_REFUSE_NO_ORIGIN ? "absent" : origin, gw_refusal_reason(r));
	return 0;
}

static int ws_established(struct lws *wsi, Session *s)
{
	Page *p;
	int fd;
	lws_sock_file_fd_type u;
	lws_adopt_desc_t desc = { 0 };

	p = page_new();
	if (!p)
		return -1;
	p->ws = wsi;
	p->refs = 1;
	s->page = p;
	p->origin = s->origin;
	s->origin = NULL;
	if (s->decision != GW_OK) {
		p->refusal_name = "SecurityError";
		p->refusal_message = gw_refusal_reason(s->decision);
	} else if (server.n_pages > server.cfg->limits.pages_max) {
		p->refusal_name = "QuotaExceededError";
		p->refusal_message = "the gateway serves no more pages at once (--max-pages)";
		log_info("refused a page of %s: %u pages are connected (--max-pages)", p->origin,
			 server.n_pages - 1);
	}
	if (p->refusal_name) {
		lws_callback_on_writable(wsi);
		return 0;
	}
	fd = page_spawn(p);
	if (fd < 0) {
		log_error("page %u: cannot start a worker: %s", p->id, strerror(-fd));
		return -1;
	}
	u.filefd = (lws_filefd_type)(intptr_t)fd;
	desc.vh = server.vhost;
	desc.type = LWS_ADOPT_RAW_FILE_DESC;
	desc.fd = u;
	desc.vh_prot_name = PROTOCOL_PIPE;
	desc.opaque = p;
	p->pipe = lws_adopt_descriptor_vhost_via_info(&desc);
	if (!p->pipe) {
		close(fd);
		log_error("page %u: cannot watch the worker's socket", p->id);
		return -1;
	}
	p->refs++;
	log_info("page %u: a page of %s connected (worker %d)", p->id, p->origin, (int)p->pid);
	return 0;
}

static int ws_receive(struct lws *wsi, Page *p, const void *in, size_t len)
{
	const size_t max = server.cfg->limits.message_max;

	if (!p || p->refusal_name || !p->pipe)
		return 0;    /* refused or ending: what it sends is dropped */
	if (lws_frame_is_binary(wsi)) {
		lws_close_reason(wsi, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE,
				 (unsigned char *)"text messages only", 18);
		return -1;
	}
	if (evbuffer_get_length(p->rx) + len > max) {
		char reason[96];
		int n = snprintf(reason, sizeof(reason), "a message is at most %zu bytes (--max-message-size)", max);

		log_info("page %u (%s): closed: a message over %zu bytes", p->id, p->origin, max);
		lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, (unsigned char *)reason, (size_t)n);
		return -1;
	}
	if (evbuffer_add(p->rx, in, len) < 0)
		return -1;
	if (!lws_is_final_fragment(wsi))
		return 0;
	if (gw_frame_append_buffer(p->to_worker, p->rx) < 0)
		return -1;
	lws_callback_on_writable(p->pipe);
	if (!p->ws_paused && evbuffer_get_length(p->to_worker) >= server.cfg->limits.queue_high) {
		p->ws_paused = true;
		lws_rx_flow_control(wsi, 0);
	}
	return 0;
}

static int ws_write_refusal(struct lws *wsi, Page *p)
{
	char *text = (char *)server.scratch + LWS_PRE;
	int n = snprintf(text, GW_WRITE_CHUNK, "{\"ev\":\"refused\",\"error\":{\"name\":\"%s\",\"message\":\"%s\"}}",
			 p->refusal_name, p->refusal_message);

	if (lws_write(wsi, (unsigned char *)text, (size_t)n, LWS_WRITE_TEXT) < n)
		return -1;
	lws_close_reason(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, (unsigned char *)p->refusal_name,
			 strlen(p->refusal_name));
	return -1;
}

/* Writes one chunk of the message at the head of to_page. */
static int ws_writeable(struct lws *wsi, Page *p)
{
	const size_t max = server.cfg->limits.message_max;
	size_t chunk;
	int flags;

	if (p->refusal_name)
		return ws_write_refusal(wsi, p);
	if (!p->out_started) {
		size_t len = 0;
		int r = gw_frame_peek(p->to_page, max, &len);

		if (r < 0) {
			log_error("page %u: the worker sent a message over %zu bytes", p->id, max);
			page_close_pipe(p);
			lws_close_reason(wsi, LWS_CLOSE_STATUS_UNEXPECTED_CONDITION, NULL, 0);
			return -1;
		}
		if (r == 0) {
			if (p->close_when_flushed && (evbuffer_get_length(p->to_page) == 0 || !p->pipe)) {
				lws_close_reason(wsi, p->close_code, (unsigned char *)p->close_reason,
						 strlen(p->close_reason));
				return -1;
			}
			pipe_update_flow(p);
			return 0;
		}
		evbuffer_drain(p->to_page, 4);
		p->out_left = len;
		p->out_started = true;
		flags = lws_write_ws_flags(LWS_WRITE_TEXT, 1, 0);
	} else {
		flags = lws_write_ws_flags(LWS_WRITE_TEXT, 0, 0);
	}
	chunk = p->out_left < GW_WRITE_CHUNK ? p->out_left : GW_WRITE_CHUNK;
	if (evbuffer_remove(p->to_page, server.scratch + LWS_PRE, chunk) != (int)chunk)
		return -1;
	p->out_left -= chunk;
	if (p->out_left == 0) {
		flags &= ~LWS_WRITE_NO_FIN;
		p->out_started = false;
	}
	if (lws_write(wsi, server.scratch + LWS_PRE, chunk, (enum lws_write_protocol)flags) < (int)chunk)
		return -1;
	if (p->out_started || evbuffer_get_length(p->to_page) > 0 || p->close_when_flushed)
		lws_callback_on_writable(wsi);
	pipe_update_flow(p);
	return 0;
}

static int callback_ws(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
		       size_t len)
{
	Session *s = user;
	Page *p = s ? s->page : NULL;

	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return ws_filter(wsi, s);
	case LWS_CALLBACK_ESTABLISHED:
		return ws_established(wsi, s);
	case LWS_CALLBACK_RECEIVE:
		return ws_receive(wsi, p, in, len);
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return p ? ws_writeable(wsi, p) : 0;
	case LWS_CALLBACK_CLOSED:
	case LWS_CALLBACK_WSI_DESTROY:
		if (s) {
			free(s->origin);
			s->origin = NULL;
		}
		if (!p)
			return 0;
		s->page = NULL;
		p->ws = NULL;
		log_debug("page %u: the WebSocket closed", p->id);
		page_close_pipe(p);
		page_unref(p);
		return 0;
	default:
		return 0;
	}
}

/* ---- HTTP: crosspost.js ---- */

static bool is_script_path(struct lws *wsi)
{
	char uri[sizeof(GW_JS_PATH) + 1];

	return header(wsi, WSI_TOKEN_GET_URI, uri, sizeof(uri)) && strcmp(uri, GW_JS_PATH) == 0;
}

static int callback_http(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
			 size_t len)
{
	uint8_t buf[LWS_PRE + 1024], *start = &buf[LWS_PRE], *p = start, *end = &buf[sizeof(buf) - 1];

	(void)user;
	(void)in;
	switch (reason) {
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		/* A WebSocket without our subprotocol lands here: refused. */
		return -1;
	case LWS_CALLBACK_HTTP:
		/* A path no mount matched comes here too (this is the vhost's
		 * first protocol): only the script's own path gets it. */
		if (!is_script_path(wsi)) {
			if (lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL))
				return -1;
			return lws_http_transaction_completed(wsi) ? -1 : 0;
		}
		if (lws_add_http_common_headers(wsi, HTTP_STATUS_OK, "text/javascript; charset=utf-8",
						(lws_filepos_t)gw_crosspost_js_len, &p, end) ||
		    lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
						(const unsigned char *)"no-store", 8, &p, end) ||
		    lws_add_http_header_by_name(wsi, (const unsigned char *)"access-control-allow-origin:",
						(const unsigned char *)"*", 1, &p, end) ||
		    lws_finalize_write_http_header(wsi, start, &p, end))
			return 1;
		lws_callback_on_writable(wsi);
		return 0;
	case LWS_CALLBACK_HTTP_WRITEABLE: {
		/* Small enough for one write; libwebsockets keeps what the
		 * socket does not take and sends it before anything else. */
		uint8_t *body = malloc(LWS_PRE + gw_crosspost_js_len);
		int n;

		if (!body)
			return -1;
		memcpy(body + LWS_PRE, gw_crosspost_js, gw_crosspost_js_len);
		n = lws_write(wsi, body + LWS_PRE, gw_crosspost_js_len, LWS_WRITE_HTTP_FINAL);
		free(body);
		if (n < (int)gw_crosspost_js_len)
			return -1;
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	}
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

/* ---- the loop ---- */

static void reap(void)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (Page *p = server.pages; p; p = p->next)
			if (p->pid == pid)
				p->pid = -1;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			log_warning("worker %d ended with status %d", (int)pid,
				    WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	}
}

static void on_tick(lws_sorted_usec_list_t *sul)
{
	reap();
	if (stop_requested)
		server.stopping = true;
	lws_sul_schedule(server.context, 0, sul, on_tick, TICK_US);
}

static void on_lws_log(int level, const char *line)
{
	size_t n = strlen(line);

	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	log_print(level == LLL_ERR ? LOG_ERROR : level == LLL_WARN ? LOG_WARNING : LOG_DEBUG,
		  "libwebsockets: %.*s", (int)n, line);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Workers end once their socket closes (lws_context_destroy closes them
 * all); one blocked in the library gets STOP_GRACE_MS, then SIGKILL. */
static void stop_workers(pid_t *pids, size_t n)
{
	int64_t deadline = now_ms() + STOP_GRACE_MS;
	size_t left = n;

	while (left > 0 && now_ms() < deadline) {
		left = 0;
		for (size_t i = 0; i < n; i++) {
			if (pids[i] <= 0)
				continue;
			if (waitpid(pids[i], NULL, WNOHANG) != 0)
				pids[i] = -1;
			else
				left++;
		}
		if (left)
			usleep(10 * 1000);
	}
	for (size_t i = 0; i < n; i++) {
		if (pids[i] > 0) {
			kill(pids[i], SIGKILL);
			waitpid(pids[i], NULL, 0);
		}
	}
}

/* The listening socket's address must be the one asked for: a library
 * that bound every interface instead would let other machines in.  Finds
 * the process's listening TCP sockets on port and compares. */
static int verify_listening(const GatewayConfig *cfg, int port)
{
	unsigned char want[16];
	bool v6 = strchr(cfg->host, ':') != NULL, found = false;
	int r = inet_pton(v6 ? AF_INET6 : AF_INET, cfg->host, want);

	for (int fd = 3; r == 1 && fd < 1024; fd++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int listening = 0;
		socklen_t optlen = sizeof(listening);
		const void *addr;
		int got_port;

		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &optlen) < 0 || !listening ||
		    getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
			continue;
		if (ss.ss_family == AF_INET) {
			addr = &((struct sockaddr_in *)&ss)->sin_addr;
			got_port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			addr = &((struct sockaddr_in6 *)&ss)->sin6_addr;
			got_port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		} else {
			continue;
		}
		if (got_port != port)
			continue;
		if ((ss.ss_family == AF_INET6) != v6 || memcmp(addr, want, v6 ? 16 : 4) != 0) {
			char text[INET6_ADDRSTRLEN];

			inet_ntop(ss.ss_family, addr, text, sizeof(text));
			fprintf(stderr, "crosspost gateway: asked to listen on %s, but the socket listens on %s: "
				"refusing to run\n", cfg->host, text);
			return -1;
		}
		found = true;
	}
	if (!found) {
		fprintf(stderr, "crosspost gateway: cannot find the listening socket of port %d\n", port);
		return -1;
	}
	return 0;
}

int gw_server_run(const GatewayConfig *cfg)
{
	static const struct lws_protocols protocols[] = {
		{ PROTOCOL_HTTP, callback_http, 0, 0, 0, NULL, 0 },
		{ GW_SUBPROTOCOL, callback_ws, sizeof(Session), 64 * 1024, 0, NULL, 0 },
		{ PROTOCOL_PIPE, callback_pipe, 0, 0, 0, NULL, 0 },
		{ NULL, NULL, 0, 0, 0, NULL, 0 }
	};
	struct lws_http_mount js_mount = {
		.mountpoint = GW_JS_PATH,
		.mountpoint_len = sizeof(GW_JS_PATH) - 1,
		.origin = PROTOCOL_HTTP,
		.origin_protocol = LWSMPRO_CALLBACK,
	};
	/* Beside libwebsockets' own list (html, js, css, json, txt, images...). */
	static const struct lws_protocol_vhost_options mime_wasm = { NULL, NULL, ".wasm", "application/wasm" };
	static const struct lws_protocol_vhost_options mime_mjs = { &mime_wasm, NULL, ".mjs", "text/javascript" };
	static const struct lws_protocol_vhost_options mime_tsv = { &mime_mjs, NULL, ".tsv",
								     "text/tab-separated-values" };
	struct lws_http_mount files_mount = {
		.extra_mimetypes = &mime_tsv,
		.mount_next = &js_mount,
		.mountpoint = "/",
		.mountpoint_len = 1,
		.origin = cfg->serve_dir,
		.def = "index.html",
		.origin_protocol = LWSMPRO_FILE,
	};
	struct lws_context_creation_info info = { 0 };
	pid_t *pids = NULL;
	size_t n_pids = 0;
	char url[128];
	int status = 1;

	server.cfg = cfg;
	server.scratch = malloc(LWS_PRE + GW_WRITE_CHUNK);
	if (!server.scratch)
		return 1;
	lws_set_log_level(LLL_ERR | LLL_WARN | (cfg->log_level >= LOG_DEBUG ? LLL_NOTICE : 0), on_lws_log);
	info.port = cfg->port;
	info.iface = cfg->host;
	info.protocols = protocols;
	info.mounts = cfg->serve_dir ? &files_mount : &js_mount;
	info.vhost_name = "crosspost-gateway";
	info.server_string = "crosspost-gateway";
	info.options = LWS_SERVER_OPTION_VALIDATE_UTF8 | LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND |
		       LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
	/* libwebsockets 4.1 with IPv6 on reads an IPv4 iface into the wrong
	 * field of a sockaddr_in6 and listens on every interface; for an
	 * IPv4 address it must bind an IPv4 socket.  verify_listening()
	 * checks the result either way. */
	if (!strchr(cfg->host, ':'))
		info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
	/* Each page: its WebSocket and its worker's socket; plus the pages'
	 * HTTP requests. */
	info.fd_limit_per_thread = 4 * cfg->limits.pages_max + 256;
	info.timeout_secs = 10;
	info.max_http_header_data = (unsigned short)(CP_URL_MAX + 1024);

	signal(SIGINT, on_stop_signal);
	signal(SIGTERM, on_stop_signal);
	server.context = lws_create_context(&info);
	if (!server.context) {
		fprintf(stderr, "crosspost gateway: cannot listen on %s:%d (see the lines above)\n", cfg->host,
			cfg->port);
		goto out;
	}
	server.vhost = lws_get_vhost_by_name(server.context, "crosspost-gateway");
	if (!server.vhost) {
		fprintf(stderr, "crosspost gateway: no vhost\n");
		goto out;
	}
	if (verify_listening(cfg, lws_get_vhost_listen_port(server.vhost)) < 0)
		goto out;
	snprintf(url, sizeof(url), strchr(cfg->host, ':') ? "http://[%s]:%d" : "http://%s:%d", cfg->host,
		 lws_get_vhost_listen_port(server.vhost));
	fprintf(stderr, "crosspost gateway: ready: %s%s\n", url, GW_JS_PATH);
	if (cfg->ready_fd >= 0) {
		char line[160];
		int n = snprintf(line, sizeof(line), "ready %s/\n", url);

		if (write(cfg->ready_fd, line, (size_t)n) != n) {
			fprintf(stderr, "crosspost gateway: cannot write to --ready-fd %d\n", cfg->ready_fd);
			goto out;
		}
		close(cfg->ready_fd);
	}
	lws_sul_schedule(server.context, 0, &server.tick, on_tick, TICK_US);
	while (!server.stopping && !stop_requested)
		if (lws_service(server.context, 0) < 0)
			break;
	log_info("stopping: %u page%s connected", server.n_pages, server.n_pages == 1 ? "" : "s");
	status = 0;
out:
	/* Which workers to wait for, taken before the pages go away. */
	pids = calloc(server.n_pages + 1, sizeof(*pids));
	for (Page *p = server.pages; pids && p; p = p->next)
		if (p->pid > 0)
			pids[n_pids++] = p->pid;
	if (server.context) {
		lws_sul_cancel(&server.tick);
		lws_context_destroy(server.context);
	}
	stop_workers(pids, n_pids);
	free(pids);
	free(server.scratch);
	return status;
}
