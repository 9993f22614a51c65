/* SPDX-License-Identifier: MIT */
/* scenario_agent.c - the runner's side of one window process (`crosspost agent`): start, command, events, stop. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "scenario_agent.h"
#include "scenario_proc.h"

/* At most this many agents are polled at once: far above any script. */
#define POLL_MAX 1024

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

struct scenario_event *scenario_event_free(struct scenario_event *ev)
{
	if (!ev)
		return NULL;
	free(ev->data_json);
	free(ev->origin);
	free(ev->source_name);
	free(ev->ports);
	free(ev->last_event_id);
	free(ev);
	return NULL;
}

void scenario_result_deinit(struct scenario_result *result)
{
	free(result->error);
	free(result->message);
	free(result->origin);
	free(result->token);
	free(result->unsupported);
	*result = (struct scenario_result){ 0 };
}

static void exec_agent(const char *self_exe, const char *socket_path, const char *alias, int fd,
		       pid_t parent)
{
	char fd_text[16];
	int null_fd;

	if (proc_die_with_parent(parent, SIGKILL) < 0)
		_exit(127);
	/* The agent's end must survive exec; every other descriptor of the
	 * runner is close-on-exec. */
	if (fcntl(fd, F_SETFD, 0) < 0)
		_exit(127);
	/* stdout carries the runner's TAP. */
	null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (null_fd >= 0) {
		dup2(null_fd, STDIN_FILENO);
		dup2(null_fd, STDOUT_FILENO);
	}
	snprintf(fd_text, sizeof(fd_text), "%d", fd);
	execl(self_exe, self_exe, "agent", "--socket", socket_path, "--fd", fd_text, "--alias", alias,
	      (char *)NULL);
	fprintf(stderr, "crosspost run: cannot start %s agent: %s\n", self_exe, strerror(errno));
	_exit(127);
}

int scenario_agent_spawn(const char *self_exe, const char *socket_path, const char *alias,
			 struct scenario_agent **ret)
{
	struct scenario_agent *a = calloc(1, sizeof(*a));
	pid_t parent = getpid();
	int sv[2];

	if (!a)
		return -ENOMEM;
	a->link.fd = -1;
	a->events_tail = &a->events;
	a->alias = strdup(alias);
	if (!a->alias) {
		free(a);
		return -ENOMEM;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		int r = -errno;

		scenario_agent_free(a);
		return r;
	}
	fflush(NULL);
	a->pid = fork();
	if (a->pid < 0) {
		int r = -errno;

		a->pid = 0;
		close(sv[0]);
		close(sv[1]);
		scenario_agent_free(a);
		return r;
	}
	if (a->pid == 0)
		exec_agent(self_exe, socket_path, alias, sv[1], parent);
	close(sv[1]);
	scenario_link_init(&a->link, sv[0]);
	*ret = a;
	return 0;
}

int scenario_agent_adopt(int fd, const char *alias, struct scenario_agent **ret)
{
	struct scenario_agent *a = calloc(1, sizeof(*a));

	if (!a || !(a->alias = strdup(alias))) {
		free(a);
		close(fd);
		return -ENOMEM;
	}
	a->events_tail = &a->events;
	scenario_link_init(&a->link, fd);
	*ret = a;
	return 0;
}

struct scenario_agent *scenario_agent_free(struct scenario_agent *a)
{
	int status;

	if (!a)
		return NULL;
	if (a->pid > 0)
		proc_stop(a->pid, SIGKILL, 0, &status);
	scenario_link_deinit(&a->link);
	while (a->events)
		scenario_event_free(scenario_agent_pop_event(a));
	scenario_result_deinit(&a->result);
	free(a->broken);
	free(a->lost);
	free(a->alias);
	free(a);
	return NULL;
}

/* Unlinks the event *link points to. */
static struct scenario_event *unlink_event(struct scenario_agent *a, struct scenario_event **link)
{
	struct scenario_event *ev = *link;

	*link = ev->next;
	if (a->events_tail == &ev->next)
		a->events_tail = link;
	ev->next = NULL;
	return ev;
}

struct scenario_event *scenario_agent_pop_event(struct scenario_agent *a)
{
	return a->events ? unlink_event(a, &a->events) : NULL;
}

struct scenario_event *scenario_agent_pop_event_on(struct scenario_agent *a, uint64_t port_id, uint64_t broadcast_id)
{
	for (struct scenario_event **link = &a->events; *link; link = &(*link)->next)
		if ((*link)->port_id == port_id && (*link)->broadcast_id == broadcast_id)
			return unlink_event(a, link);
	return NULL;
}

static void mark_broken(struct scenario_agent *a, const char *why)
{
	a->gone = true;
	if (!a->broken)
		a->broken = strdup(why);
}

static int queue_event(struct scenario_agent *a, json_t *msg)
{
	struct scenario_event *ev = calloc(1, sizeof(*ev));
	const char *type = json_string_value(json_object_get(msg, "type"));
	const char *data = json_string_value(json_object_get(msg, "data"));
	const char *origin = json_string_value(json_object_get(msg, "origin"));
	json_t *source = json_object_get(msg, "source");
	json_t *ports = json_object_get(msg, "ports");
	json_int_t too_large = json_integer_value(json_object_get(msg, "dataTooLarge"));

	if (!ev)
		return -ENOMEM;
	if (!type || !origin || (strcmp(type, "messageerror") != 0 && !data && too_large <= 0) ||
	    (ports && !json_is_array(ports))) {
		free(ev);
		mark_broken(a, "malformed event");
		return 0;
	}
	ev->seq = (uint64_t)json_integer_value(json_object_get(msg, "seq"));
	ev->generation = a->generation;
	ev->messageerror = strcmp(type, "messageerror") == 0;
	ev->data_json = dup_or_null(data);
	ev->data_too_large = too_large > 0 ? (size_t)too_large : 0;
	ev->origin = strdup(origin);
	ev->last_event_id = dup_or_null(json_string_value(json_object_get(msg, "lastEventId")));
	ev->port_id = (uint64_t)json_integer_value(json_object_get(msg, "port"));
	ev->broadcast_id = (uint64_t)json_integer_value(json_object_get(msg, "broadcast"));
	if (json_is_object(source)) {
		ev->source_id = (uint64_t)json_integer_value(json_object_get(source, "id"));
		ev->source_name = dup_or_null(json_string_value(json_object_get(source, "name")));
	}
	if (json_array_size(ports) > 0) {
		ev->ports = calloc(json_array_size(ports), sizeof(*ev->ports));
		if (!ev->ports) {
			scenario_event_free(ev);
			return -ENOMEM;
		}
		for (size_t i = 0; i < json_array_size(ports); i++)
			ev->ports[i] = (uint64_t)json_integer_value(json_array_get(ports, i));
		ev->port_count = json_array_size(ports);
	}
	*a->events_tail = ev;
	a->events_tail = &ev->next;
	return 0;
}

static void store_result(struct scenario_agent *a, json_t *msg)
{
	struct scenario_result *res = &a->result;

	if (a->has_result) {
		mark_broken(a, "an answer nobody asked for");
		return;
	}
	scenario_result_deinit(res);
	res->ok = json_is_true(json_object_get(msg, "ok"));
	res->error = dup_or_null(json_string_value(json_object_get(msg, "error")));
	res->message = dup_or_null(json_string_value(json_object_get(msg, "message")));
	res->id = (uint64_t)json_integer_value(json_object_get(msg, "id"));
	res->origin = dup_or_null(json_string_value(json_object_get(msg, "origin")));
	for (size_t i = 0; i < 2; i++)
		res->port_ids[i] = (uint64_t)json_integer_value(json_array_get(json_object_get(msg, "ports"), i));
	res->byte_length = (uint64_t)json_integer_value(json_object_get(msg, "byteLength"));
	res->detached = json_is_true(json_object_get(msg, "detached"));
	res->token = dup_or_null(json_string_value(json_object_get(msg, "token")));
	res->closed = json_is_true(json_object_get(msg, "closed"));
	res->target = (uint64_t)json_integer_value(json_object_get(msg, "target"));
	res->channel_id = (uint64_t)json_integer_value(json_object_get(msg, "channel"));
	res->unsupported = dup_or_null(json_string_value(json_object_get(msg, "unsupported")));
	if (!res->ok && !res->error)
		res->error = strdup("UnknownError");
	a->has_result = true;
}

static int handle_line(struct scenario_agent *a, json_t *msg)
{
	const char *kind = json_string_value(json_object_get(msg, "kind"));

	if (!kind) {
		mark_broken(a, "a line without \"kind\"");
	} else if (strcmp(kind, "event") == 0) {
		return queue_event(a, msg);
	} else if (strcmp(kind, "result") == 0) {
		store_result(a, msg);
	} else if (strcmp(kind, "lost") == 0) {
		free(a->lost);
		if (asprintf(&a->lost, "%s: %s", json_string_value(json_object_get(msg, "error")),
			     json_string_value(json_object_get(msg, "message"))) < 0)
			a->lost = NULL;
	} else {
		mark_broken(a, "a line of an unknown kind");
	}
	return 0;
}

/* Reads everything the agent has sent so far. */
static int drain(struct scenario_agent *a)
{
	for (;;) {
		json_t *msg = NULL;
		int r = scenario_link_fill(&a->link);

		if (r == -EAGAIN)
			return 0;
		if (r == 0) {
			a->gone = true;
			return 0;
		}
		if (r < 0) {
			mark_broken(a, strerror(-r));
			return 0;
		}
		while ((r = scenario_link_next(&a->link, &msg)) == 1) {
			r = handle_line(a, msg);
			json_decref(msg);
			if (r < 0)
				return r;
		}
		if (r < 0) {
			mark_broken(a, "a line that is not a JSON object");
			return 0;
		}
	}
}

int scenario_agents_poll(struct scenario_agent *const *agents, size_t n, int64_t timeout_ms)
{
	struct pollfd fds[POLL_MAX];
	size_t count = 0;
	int r;

	for (size_t i = 0; i < n && count < POLL_MAX; i++)
		if (agents[i] && !agents[i]->gone && agents[i]->link.fd >= 0)
			fds[count++] = (struct pollfd){ .fd = agents[i]->link.fd, .events = POLLIN };
	r = poll(fds, count, timeout_ms > INT32_MAX ? INT32_MAX : (int)timeout_ms);
	if (r < 0)
		return -errno;
	for (size_t i = 0, k = 0; i < n && k < count; i++) {
		if (!agents[i] || agents[i]->gone || agents[i]->link.fd != fds[k].fd)
			continue;
		if (fds[k++].revents) {
			r = drain(agents[i]);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

int scenario_agent_call(struct scenario_agent *const *agents, size_t n, struct scenario_agent *a,
			json_t *cmd, struct scenario_result *ret)
{
	int64_t deadline = proc_now_ms() + SCENARIO_AGENT_ANSWER_MS;
	int r;

	if (a->gone)
		return -ECHILD;
	r = scenario_link_send(&a->link, cmd);
	if (r < 0) {
		a->gone = true;
		return -ECHILD;
	}
	while (!a->has_result) {
		int64_t left = deadline - proc_now_ms();

		if (a->gone)
			return -ECHILD;
		if (left <= 0)
			return -ETIMEDOUT;
		r = scenario_agents_poll(agents, n, left);
		if (r < 0)
			return r;
	}
	*ret = a->result;
	a->result = (struct scenario_result){ 0 };
	a->has_result = false;
	return 0;
}

void scenario_agent_kill(struct scenario_agent *a)
{
	int status;

	if (a->pid > 0 && proc_stop(a->pid, SIGKILL, 0, &status) == 0) {
		a->status = status;
		a->pid = 0;
	}
	scenario_link_deinit(&a->link);
	a->gone = true;
}

int scenario_agent_finish(struct scenario_agent *a)
{
	int status = 0;

	/* End of file on its link is the agent's signal to close its window
	 * and exit. */
	scenario_link_deinit(&a->link);
	a->gone = true;
	if (a->pid > 0) {
		if (proc_wait(a->pid, SCENARIO_AGENT_EXIT_MS, &status) < 0)
			proc_stop(a->pid, SIGKILL, 0, &status);
		a->status = status;
		a->pid = 0;
	}
	return WIFEXITED(a->status) && WEXITSTATUS(a->status) == 0 ? 0 : -ECHILD;
}
