/* SPDX-License-Identifier: MIT */
/* scenario_agent.h - the runner's side of one window process (`crosspost agent`): start, command, events, stop. */
#ifndef CP_SCENARIO_AGENT_H
#define CP_SCENARIO_AGENT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "scenario_link.h"

/* How long an agent may take to answer one command (a post includes the
 * broker's confirmation) before the runner gives up on it. */
#define SCENARIO_AGENT_ANSWER_MS 15000
/* How long an agent may take to exit once its link is closed. */
#define SCENARIO_AGENT_EXIT_MS 3000

/* One event an agent's window or one of its ports received, in arrival
 * order. */
struct scenario_event {
	struct scenario_event *next;
	uint64_t seq;               /* the agent's number for it (for "bind") */
	unsigned generation;        /* the agent's broker generation when it
	                             * arrived (ids are per broker) */
	bool messageerror;          /* else a message event */
	char *data_json;            /* tagged JSON text; NULL for messageerror, or
	                             * when too large for the link */
	size_t data_too_large;      /* the JSON's length when it was left out */
	char *origin;
	uint64_t source_id;         /* 0: source is null */
	char *source_name;          /* NULL when the source has no name */
	uint64_t port_id;           /* the port it arrived on; 0: the window */
	uint64_t *ports;            /* event.ports: broker ids, in order */
	size_t port_count;
	char *last_event_id;        /* event.lastEventId */
	uint64_t broadcast_id;      /* the BroadcastChannel it arrived on; 0: none */
};

/* The answer to one command. */
struct scenario_result {
	bool ok;
	char *error;                /* DOMException-style name when !ok */
	char *message;              /* when !ok */
	uint64_t id;                /* "open": the window's id */
	char *origin;               /* "open": the window's origin */
	uint64_t port_ids[2];       /* "channel": the two ports' ids */
	uint64_t byte_length;       /* "detached": the buffer's byteLength */
	bool detached;              /* "detached": whether it is detached */
	char *token;                /* "window-open", "iframe": the claim token, or NULL */
	bool closed;                /* "closed": window.closed; "close-window": it closed */
	uint64_t target;            /* "post", "close-window": the window it went to */
	uint64_t channel_id;        /* "broadcast-open": the channel's id */
	/* In a browser (--browser): the statement cannot be expressed there,
	 * and why; the result is not ok. */
	char *unsupported;
};

struct scenario_agent {
	char *alias;
	pid_t pid;                  /* 0 once reaped */
	int status;                 /* waitpid status once reaped */
	struct scenario_link link;
	bool gone;                  /* its end of the link closed (it exited or
	                             * crashed), or it broke the protocol */
	char *broken;               /* why, when it broke the protocol */
	char *lost;                 /* "NAME: message" when it reported losing the broker */
	struct scenario_event *events, **events_tail;
	/* How many `restart broker`s this agent has reconnected through: the
	 * ids in its events are those of that broker. */
	unsigned generation;
	bool has_result;
	struct scenario_result result;
};

/* Starts `self_exe agent --socket socket_path --fd N --alias alias` with
 * a socketpair to it.  *ret belongs to the caller (scenario_agent_free()).
 * Errors: negative errno. */
int scenario_agent_spawn(const char *self_exe, const char *socket_path, const char *alias,
			 struct scenario_agent **ret);

/* An agent whose link is fd (taken), hosted elsewhere (a page in the
 * browser host: scenario_browser_attach()); pid stays 0.  Errors: -ENOMEM. */
int scenario_agent_adopt(int fd, const char *alias, struct scenario_agent **ret);

/* Kills the agent if it is still running, reaps it and frees everything.
 * Accepts NULL; returns NULL. */
struct scenario_agent *scenario_agent_free(struct scenario_agent *agent);

/* Waits up to timeout_ms for anything from any of the n agents (NULL
 * entries are skipped) and queues what arrived: events, answers, end of
 * file.  Returns 0, or -EINTR when a signal arrived, or another negative
 * errno. */
int scenario_agents_poll(struct scenario_agent *const *agents, size_t n, int64_t timeout_ms);

/* Sends cmd to agent and waits for its answer, queueing everything the
 * other agents send meanwhile.  *ret is filled on success (free it with
 * scenario_result_deinit()).  Errors: -ECHILD (the agent is gone or broke
 * the protocol), -ETIMEDOUT (no answer within SCENARIO_AGENT_ANSWER_MS),
 * -EINTR, other negative errno. */
int scenario_agent_call(struct scenario_agent *const *agents, size_t n, struct scenario_agent *agent,
			json_t *cmd, struct scenario_result *ret);

/* Removes and returns the oldest queued event, or NULL.  The caller frees
 * it with scenario_event_free(). */
struct scenario_event *scenario_agent_pop_event(struct scenario_agent *agent);
/* The same among the events that arrived on port_id (0: on the window or
 * a BroadcastChannel) and BroadcastChannel broadcast_id (0: none). */
struct scenario_event *scenario_agent_pop_event_on(struct scenario_agent *agent, uint64_t port_id,
						  uint64_t broadcast_id);
struct scenario_event *scenario_event_free(struct scenario_event *event);
void scenario_result_deinit(struct scenario_result *result);

/* SIGKILLs the agent and reaps it (fault injection). */
void scenario_agent_kill(struct scenario_agent *agent);

/* Asks the agent to exit by closing the link and reaps it (SIGKILL after
 * SCENARIO_AGENT_EXIT_MS).  Returns 0 when it exited with status 0,
 * else -ECHILD with agent->status telling how it ended. */
int scenario_agent_finish(struct scenario_agent *agent);

#endif
