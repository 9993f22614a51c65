/* SPDX-License-Identifier: MIT */
/* scenario_link.h - JSON lines over the socketpair between `crosspost run` and its window agents. */
#ifndef CP_SCENARIO_LINK_H
#define CP_SCENARIO_LINK_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/*
 * The messages (one JSON object per line), runner -> agent:
 *   {"cmd":"open","url":U,"name":N|null,"privileged":B}
 *   {"cmd":"post","target":ID,"data":TAGGED_JSON_TEXT,"targetOrigin":T[,TRANSFER][,NAMED]}
 *   {"cmd":"post","targetName":NAME,"data":...,"targetOrigin":T}  (looked up first)
 *   either post with "corrupt":KIND (post-corrupt): DATA is encoded, then
 *     corrupted as KIND says (scenario_corrupt.h), and those bytes are posted
 *   {"cmd":"navigate","url":U}
 *   {"cmd":"close"}
 *   {"cmd":"channel"}                         -> result "ports":[ID1,ID2]
 *   {"cmd":"buffer","name":B,"size":N,"fill":BYTE}
 *   {"cmd":"send","port":ID,"data":...[,TRANSFER][,NAMED]}
 *   {"cmd":"port-close","port":ID}
 *   {"cmd":"onmessage","port":ID}             port.onmessage = ...: report its events (starts it)
 *   {"cmd":"port-listen","port":ID}           addEventListener: report its events once started
 *   {"cmd":"port-start","port":ID}            port.start()
 *   {"cmd":"claim","token":T}                 host the window a claim token names
 *                                             -> result "id","origin"
 *   {"cmd":"window-open","url":U,"target":T,"noopener":B}
 *   {"cmd":"iframe","url":U,"target":NAME}    -> result "id" (0: null), "token" (null:
 *                                             an existing window was chosen)
 *   {"cmd":"remove","frame":ID}               remove this window's iframe
 *   {"cmd":"closed","id":ID}                  -> result "closed": window.closed
 *   {"cmd":"close-window",TARGET}             TARGET.close() -> result "closed","target"
 *   {"cmd":"hold"}, {"cmd":"release"}         stop / resume dispatching events
 *   a post's or close-window's TARGET: "target":ID, "targetName":NAME, or
 *     "relation":"opener"|"parent"|"top"|"frame" (with "index":N or "name":NAME),
 *     read through the window's WindowProxy; a post answers "target":ID
 *   {"cmd":"send",...,"corrupt":KIND}         send-corrupt
 *   {"cmd":"buffer","name":B,"bytes":BASE64}  a buffer holding those bytes
 *   {"cmd":"broadcast-open","name":N}         new BroadcastChannel(N) -> result "channel":ID
 *   {"cmd":"broadcast-post","channel":ID,"data":...}
 *   {"cmd":"broadcast-close","channel":ID}
 *   {"cmd":"bind","event":SEQ,"buffers":[[B,RANK],...]}
 *                                             names the RANK-th ArrayBuffer (in
 *                                             scenario_value_buffers() order) of
 *                                             event SEQ's data B
 *   {"cmd":"detached","name":B}               -> result "byteLength":N,"detached":BOOL
 *   {"cmd":"reconnect"}                       `restart broker`: connect again and
 *                                             register the window again (same URL,
 *                                             name, flags) -> result "id","origin"
 *                                             (none when no window is open)
 *   where TRANSFER is "transfer":[{"port":ID}|{"buffer":B}|{"window":ALIAS},...]
 *   and NAMED is "named":true,"portIds":{P:ID,...}: DATA holds placeholders
 *   (scenario_value.h) for buffers B (by name) and ports P (ids given).
 *   A port not yet in the agent's process is waited for (the event that
 *   brings it is on its way).
 * agent -> runner, in the order things happened:
 *   {"kind":"result","ok":true[,"id":ID,"origin":O]}       answers one command (id: open)
 *   {"kind":"result","ok":false,"error":NAME,"message":M}   its DOMException-style failure
 *   {"kind":"event","seq":N,"type":"message"|"messageerror","data":TAGGED_JSON_TEXT|null,
 *    "origin":O,"source":{"id":ID,"name":N|null}|null,"ports":[ID,...],"lastEventId":S[,"port":ID][,"broadcast":ID]
 *    [,"dataTooLarge":LEN]}                   port: it arrived on that port (else on
 *                                             the window); dataTooLarge: data left out
 *   {"kind":"lost","error":NAME,"message":M}               the broker connection ended
 * DATA travels as the text of tagged JSON, not as a nested JSON value, so
 * that values JSON parsers normalise (-0, huge integers) arrive unchanged.
 * The runner closing its end tells the agent to close its window and exit.
 */

/* In runner -> agent commands, a port ID carries above this bit the broker
 * generation (`restart broker`s before it was made): ids start afresh at
 * each broker, and a dead port of an earlier one keeps its handle. */
#define SCENARIO_PORT_GEN_SHIFT 40

/* One line may carry a whole message's DATA; beyond this the peer is
 * considered broken rather than the buffer grown without limit. */
#define SCENARIO_LINK_LINE_MAX (64u * 1024u * 1024u)

/* One end of the link: a connected stream socket plus the bytes read from
 * it that do not yet form a complete line. */
struct scenario_link {
	int fd;
	char *buf;
	size_t len, cap;
};

/* Takes ownership of fd (a blocking stream socket). */
void scenario_link_init(struct scenario_link *link, int fd);

/* Closes the socket (the peer sees end of file) and frees the buffer.
 * Safe to call twice. */
void scenario_link_deinit(struct scenario_link *link);

/* Writes msg as one compact JSON line, blocking until all of it is sent.
 * msg stays the caller's.  Errors: -EPIPE / -ECONNRESET (peer gone),
 * -ENOMEM, other negative errno. */
int scenario_link_send(struct scenario_link *link, const json_t *msg);

/* Reads what is available without blocking.  Returns the number of bytes
 * read (> 0), 0 at end of file, -EAGAIN when nothing was there, -EMSGSIZE
 * when a line exceeds SCENARIO_LINK_LINE_MAX, other negative errno. */
int scenario_link_fill(struct scenario_link *link);

/* Pops the next complete line.  Returns 1 with *ret (a JSON object the
 * caller decrefs), 0 when no complete line is buffered, -EBADMSG when the
 * line is not a JSON object. */
int scenario_link_next(struct scenario_link *link, json_t **ret);

#endif
