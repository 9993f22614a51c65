/* SPDX-License-Identifier: MIT */
/* scenario_broker.h - a private crosspostd on a socket in a fresh temporary folder, for `crosspost run`. */
#ifndef CP_SCENARIO_BROKER_H
#define CP_SCENARIO_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* How long a starting broker may take to accept connections. */
#define SCENARIO_BROKER_READY_MS 5000
/* How long a stopping broker may take to exit after SIGTERM before SIGKILL. */
#define SCENARIO_BROKER_STOP_MS 3000

struct scenario_broker;

/* Picks the crosspostd to run: `explicit_path` when non-NULL, else
 * $CROSSPOSTD, else `crosspostd` next to this executable when it exists,
 * else "crosspostd" (looked up in PATH when started).  malloc'd; NULL when
 * out of memory. */
char *scenario_broker_find(const char *explicit_path);

/* Creates a fresh folder under $TMPDIR (or /tmp), starts `program
 * --foreground --socket FOLDER/broker.sock` and waits until the broker
 * accepts connections (at most SCENARIO_BROKER_READY_MS).  The broker's
 * output goes to a log in the folder (unlinked at once); verbose runs it
 * at --log-level debug, so that the log says why it dropped a message
 * (scenario_broker_read_log()).  On
 * success *ret belongs to the caller (scenario_broker_stop()).  On failure
 * nothing is left running or on disk, and errbuf says why (with the tail of
 * the broker's log when it said anything).  Errors: negative errno. */
int scenario_broker_start(const char *program, bool verbose, struct scenario_broker **ret,
			  char *errbuf, size_t errlen);

/* The socket the broker listens on (borrowed). */
const char *scenario_broker_socket(const struct scenario_broker *broker);

/* What the broker logged since the previous call (whole lines only),
 * malloc'd; NULL when nothing new, or when out of memory. */
char *scenario_broker_read_log(struct scenario_broker *broker);

/* `restart broker`: SIGKILLs the broker and reaps it, removes the socket it
 * left behind, starts `program` again on the same socket (same folder, same
 * log) and waits until it accepts connections, as scenario_broker_start()
 * does.  On failure no broker is running (scenario_broker_stop() still
 * removes the folder) and errbuf says why.  Errors: negative errno. */
int scenario_broker_restart(struct scenario_broker *broker, const char *program, char *errbuf,
			    size_t errlen);

/* Stops the broker (SIGTERM; SIGKILL after SCENARIO_BROKER_STOP_MS), waits
 * for it and removes its folder, and frees broker.  Returns 0 when the
 * broker exited cleanly (status 0), or -ECHILD with errbuf describing how
 * it ended (and its log's tail).  Accepts NULL (returns 0). */
int scenario_broker_stop(struct scenario_broker *broker, char *errbuf, size_t errlen);

#endif
