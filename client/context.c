/* SPDX-License-Identifier: MIT */
/* context.c - browsing contexts: references, window.open, iframes, claims,
 * opener/parent/top/frames, closed, and close() by script. */
#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "client.h"
#include "error.h"

extern char **environ;

/* Requests for the broker itself answer quickly; this bounds a hung one. */
#define CONTEXT_REQUEST_TIMEOUT_MS 30000

void context_take_notice(cp_client *c, const Crosspost__Header *h)
{
	if (h->body_case == CROSSPOST__HEADER__BODY_WINDOW_NAVIGATED) {
		const Crosspost__WindowNavigated *nav = h->window_navigated;
		cp_window *w = client_find_window(c, nav->window_id);

		/* Out of memory leaves the window as it was; its events for the
		 * new document will then be dropped as stale, not misdelivered. */
		if (w && !w->closed)
			window_set_document(w, nav->url, nav->origin, nav->generation, nav->document);
	} else if (h->body_case == CROSSPOST__HEADER__BODY_WINDOW_CLOSED) {
		cp_window *w = client_find_window(c, h->window_closed->window_id);

		if (w && !w->closed)
			window_set_closed(w);
	}
}

/* ---- references ------------------------------------------------------- */

int cp_window_ref_new(cp_client *c, uint64_t id, cp_window_ref **ret)
{
	cp_window_ref *ref;

	if (!c || !id || !ret)
		return error_set(CP_ERR_TYPE, "cp_window_ref_new: client, a window id and ret are required");
	ref = calloc(1, sizeof(*ref));
	if (!ref)
		return error_set(CP_ERR_NO_MEMORY, "out of memory");
	ref->client = c;
	ref->id = id;
	*ret = ref;
	return 0;
}

cp_window_ref *cp_window_ref_free(cp_window_ref *ref)
{
	if (ref && !ref->borrowed)
		free(ref);
	return NULL;
}

uint64_t cp_window_ref_id(const cp_window_ref *ref) { return ref ? ref->id : 0; }

cp_window_ref *cp_window_proxy(cp_window *w) { return w ? &w->proxy : NULL; }

/* ---- relations ---------------------------------------------------------- */

/* Asks the broker what ref's WindowProxy says; the Related reply in
 * *ret_reply (caller frees). */
static int ask(const cp_window_ref *ref, Crosspost__RelationKind kind, uint32_t index, const char *name,
	       Frame **ret_reply)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__Relation rel = CROSSPOST__RELATION__INIT;
	Frame *reply = NULL;
	int r;

	if (!ref)
		return error_set(CP_ERR_TYPE, "a window reference is required");
	rel.window_id = ref->id;
	rel.kind = kind;
	rel.index = index;
	rel.name = (char *)(name ? name : "");
	header.body_case = CROSSPOST__HEADER__BODY_RELATION;
	header.relation = &rel;
	r = client_request(ref->client, &header, CONTEXT_REQUEST_TIMEOUT_MS, &reply);
	if (r < 0)
		return r;
	if (reply->header->body_case != CROSSPOST__HEADER__BODY_RELATED) {
		r = client_fail(ref->client, "the broker answered a relation with a %s frame",
				frame_kind_name(reply->header->body_case));
		frame_free(reply);
		return r;
	}
	*ret_reply = reply;
	return 0;
}

static int related_ref(const cp_window_ref *ref, Crosspost__RelationKind kind, uint32_t index, const char *name,
		       cp_window_ref **ret)
{
	Frame *reply = NULL;
	uint64_t id;
	int r;

	if (!ret)
		return error_set(CP_ERR_TYPE, "ret is required");
	r = ask(ref, kind, index, name, &reply);
	if (r < 0)
		return r;
	id = reply->header->related->window_id;
	frame_free(reply);
	if (!id) {
		*ret = NULL;
		return 0;
	}
	return cp_window_ref_new(ref->client, id, ret);
}

int cp_window_opener(const cp_window_ref *ref, cp_window_ref **ret)
{
	return related_ref(ref, CROSSPOST__RELATION_KIND__RELATION_OPENER, 0, NULL, ret);
}

int cp_window_parent(const cp_window_ref *ref, cp_window_ref **ret)
{
	return related_ref(ref, CROSSPOST__RELATION_KIND__RELATION_PARENT, 0, NULL, ret);
}

int cp_window_top(const cp_window_ref *ref, cp_window_ref **ret)
{
	return related_ref(ref, CROSSPOST__RELATION_KIND__RELATION_TOP, 0, NULL, ret);
}

int cp_window_frame(const cp_window_ref *ref, size_t index, cp_window_ref **ret)
{
	if (index > UINT32_MAX) {
		if (!ret)
			return error_set(CP_ERR_TYPE, "ret is required");
		*ret = NULL;    /* no window has that many frames */
		return 0;
	}
	return related_ref(ref, CROSSPOST__RELATION_KIND__RELATION_FRAME, (uint32_t)index, NULL, ret);
}

int cp_window_frame_named(const cp_window_ref *ref, const char *name, cp_window_ref **ret)
{
	int r;

	if (!name)
		return error_set(CP_ERR_TYPE, "cp_window_frame_named: name is required");
	r = client_check_size("frame name", name, CP_NAME_MAX, "CP_NAME_MAX");
	if (r < 0)
		return r;
	return related_ref(ref, CROSSPOST__RELATION_KIND__RELATION_FRAME_NAMED, 0, name, ret);
}

int cp_window_frame_count(const cp_window_ref *ref, size_t *ret)
{
	Frame *reply = NULL;
	int r;

	if (!ret)
		return error_set(CP_ERR_TYPE, "ret is required");
	r = ask(ref, CROSSPOST__RELATION_KIND__RELATION_LENGTH, 0, NULL, &reply);
	if (r < 0)
		return r;
	*ret = reply->header->related->length;
	frame_free(reply);
	return 0;
}

int cp_window_closed(const cp_window_ref *ref, bool *ret_closed)
{
	Frame *reply = NULL;
	int r;

	if (!ret_closed)
		return error_set(CP_ERR_TYPE, "ret_closed is required");
	r = ask(ref, CROSSPOST__RELATION_KIND__RELATION_SELF, 0, NULL, &reply);
	if (r < 0)
		return r;
	*ret_closed = reply->header->related->closed;
	frame_free(reply);
	return 0;
}

/* The acting window must be usable: not closed, in this process. */
static int acting_check(cp_window *w, const char *what)
{
	if (!w)
		return error_set(CP_ERR_TYPE, "%s: a window is required", what);
	if (w->client->pid != getpid())
		return error_set(CP_ERR_INVALID_STATE, "the client was created in another process (fork)");
	if (w->closed)
		return error_set(CP_ERR_INVALID_STATE, "%s: window %llu is closed", what, (unsigned long long)w->id);
	return 0;
}

int cp_window_ref_close(cp_window *by, const cp_window_ref *ref)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__CloseWindow req = CROSSPOST__CLOSE_WINDOW__INIT;
	Frame *reply = NULL;
	bool closing;
	int r;

	r = acting_check(by, "close()");
	if (r < 0)
		return r;
	if (!ref)
		return error_set(CP_ERR_TYPE, "close(): a window reference is required");
	req.by_window_id = by->id;
	req.window_id = ref->id;
	header.body_case = CROSSPOST__HEADER__BODY_CLOSE_WINDOW;
	header.close_window = &req;
	r = client_request(by->client, &header, CONTEXT_REQUEST_TIMEOUT_MS, &reply);
	if (r < 0)
		return r;
	if (reply->header->body_case != CROSSPOST__HEADER__BODY_RELATED) {
		r = client_fail(by->client, "the broker answered close with a %s frame",
				frame_kind_name(reply->header->body_case));
		frame_free(reply);
		return r;
	}
	/* "closed" here means: it is closing because of this call; a window
	 * of this client that closed has been told so already (WindowClosed
	 * came before the answer). */
	closing = reply->header->related->closed;
	frame_free(reply);
	return closing ? 1 : 0;
}

/* ---- opening and framing -------------------------------------------------- */

/* Takes an Opened reply: the reference and the token, as asked. */
static int take_opened(cp_client *c, Frame *reply, bool give_ref, cp_window_ref **ret_ref, char **ret_claim_token)
{
	const Crosspost__Opened *opened;
	cp_window_ref *ref = NULL;
	char *token = NULL;
	int r;

	if (reply->header->body_case != CROSSPOST__HEADER__BODY_OPENED) {
		r = client_fail(c, "the broker answered open with a %s frame", frame_kind_name(reply->header->body_case));
		frame_free(reply);
		return r;
	}
	opened = reply->header->opened;
	if (give_ref && ret_ref) {
		r = cp_window_ref_new(c, opened->window_id, &ref);
		if (r < 0) {
			frame_free(reply);
			return r;
		}
	}
	if (ret_claim_token && opened->created && *opened->claim_token) {
		token = strdup(opened->claim_token);
		if (!token) {
			cp_window_ref_free(ref);
			frame_free(reply);
			return error_set(CP_ERR_NO_MEMORY, "out of memory");
		}
	}
	explicit_bzero(opened->claim_token, strlen(opened->claim_token));
	frame_free(reply);
	if (ret_ref)
		*ret_ref = ref;
	if (ret_claim_token)
		*ret_claim_token = token;
	return 0;
}

int cp_window_open_window(cp_window *opener, const char *url, const char *target, unsigned flags,
			  cp_window_ref **ret_ref, char **ret_claim_token)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__OpenWindow req = CROSSPOST__OPEN_WINDOW__INIT;
	Frame *reply = NULL;
	int r;

	r = acting_check(opener, "cp_window_open_window");
	if (r < 0)
		return r;
	if (flags & ~(unsigned)CP_OPEN_NOOPENER)
		return error_set(CP_ERR_TYPE, "cp_window_open_window: unknown flags 0x%x", flags);
	url = url ? url : "";
	target = target ? target : "";
	if ((r = client_check_size("URL", url, CP_URL_MAX, "CP_URL_MAX")) < 0 ||
	    (r = client_check_size("target name", target, CP_NAME_MAX, "CP_NAME_MAX")) < 0)
		return r;
	req.opener_window_id = opener->id;
	req.url = (char *)url;
	req.target = (char *)target;
	req.noopener = flags & CP_OPEN_NOOPENER;
	header.body_case = CROSSPOST__HEADER__BODY_OPEN_WINDOW;
	header.open_window = &req;
	r = client_request(opener->client, &header, CONTEXT_REQUEST_TIMEOUT_MS, &reply);
	if (r < 0)
		return r;
	/* window.open() with noopener returns null. */
	return take_opened(opener->client, reply, !(flags & CP_OPEN_NOOPENER), ret_ref, ret_claim_token);
}

int cp_iframe_new(cp_window *parent, const char *url, const char *name, cp_window_ref **ret_ref,
		  char **ret_claim_token)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__CreateFrame req = CROSSPOST__CREATE_FRAME__INIT;
	Frame *reply = NULL;
	int r;

	r = acting_check(parent, "cp_iframe_new");
	if (r < 0)
		return r;
	url = url ? url : "";
	name = name ? name : "";
	if ((r = client_check_size("URL", url, CP_URL_MAX, "CP_URL_MAX")) < 0 ||
	    (r = client_check_size("frame name", name, CP_NAME_MAX, "CP_NAME_MAX")) < 0)
		return r;
	req.parent_window_id = parent->id;
	req.url = (char *)url;
	req.name = (char *)name;
	header.body_case = CROSSPOST__HEADER__BODY_CREATE_FRAME;
	header.create_frame = &req;
	r = client_request(parent->client, &header, CONTEXT_REQUEST_TIMEOUT_MS, &reply);
	if (r < 0)
		return r;
	return take_opened(parent->client, reply, true, ret_ref, ret_claim_token);
}

int cp_iframe_remove(cp_window *parent, const cp_window_ref *frame)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__RemoveFrame req = CROSSPOST__REMOVE_FRAME__INIT;
	Frame *reply = NULL;
	int r;

	r = acting_check(parent, "cp_iframe_remove");
	if (r < 0)
		return r;
	if (!frame)
		return error_set(CP_ERR_TYPE, "cp_iframe_remove: a frame reference is required");
	req.parent_window_id = parent->id;
	req.frame_window_id = frame->id;
	header.body_case = CROSSPOST__HEADER__BODY_REMOVE_FRAME;
	header.remove_frame = &req;
	r = client_request(parent->client, &header, CONTEXT_REQUEST_TIMEOUT_MS, &reply);
	frame_free(reply);
	return r;
}

/* ---- hosting -------------------------------------------------------------- */

int cp_window_claim(cp_client *c, const char *token, cp_window **ret)
{
	return cp_window_claim_with_flags(c, token, 0, ret);
}

int cp_window_claim_with_flags(cp_client *c, const char *token, unsigned flags, cp_window **ret)
{
	Crosspost__Header header = CROSSPOST__HEADER__INIT;
	Crosspost__Claim req = CROSSPOST__CLAIM__INIT;
	const Crosspost__Claimed *claimed;
	Frame *reply = NULL;
	cp_window *w = NULL;
	int r;

	if (!c || !ret)
		return error_set(CP_ERR_TYPE, "cp_window_claim: client and ret are required");
	if (flags & ~(unsigned)CP_WINDOW_PRIVILEGED)
		return error_set(CP_ERR_TYPE, "cp_window_claim: unknown flags 0x%x", flags);
	if (!token) {
		token = getenv(CP_CLAIM_ENV);
		if (!token || !*token)
			return error_set(CP_ERR_NOT_FOUND, "no claim token: $" CP_CLAIM_ENV " is not set");
	}
	if (strlen(token) > 256)
		return error_set(CP_ERR_NOT_FOUND, "that is not a claim token (too long)");
	req.token = (char *)token;
	req.privileged = flags & CP_WINDOW_PRIVILEGED;
	header.body_case = CROSSPOST__HEADER__BODY_CLAIM;
	header.claim = &req;
	r = client_request(c, &header, CONTEXT_REQUEST_TIMEOUT_MS, &reply);
	if (r < 0)
		return r;
	if (reply->header->body_case != CROSSPOST__HEADER__BODY_CLAIMED) {
		r = client_fail(c, "the broker answered claim with a %s frame", frame_kind_name(reply->header->body_case));
		frame_free(reply);
		return r;
	}
	claimed = reply->header->claimed;
	r = window_new(c, claimed->window_id, claimed->url, claimed->name, claimed->origin, claimed->document,
		       claimed->generation, flags & CP_WINDOW_PRIVILEGED, &w);
	frame_free(reply);
	if (r < 0)
		return r;
	*ret = w;
	return 0;
}

int cp_window_spawn(cp_client *c, const char *token, char *const argv[], int *ret_pid)
{
	size_t n = 0, k = 0;
	char **env = NULL, *claim_var = NULL, *socket_var = NULL;
	pid_t pid;
	int r;

	if (!c || !token || !*token || !argv || !argv[0])
		return error_set(CP_ERR_TYPE, "cp_window_spawn: client, a claim token and argv are required");
	for (char **e = environ; e && *e; e++)
		n++;
	env = calloc(n + 3, sizeof(*env));
	if (!env || asprintf(&claim_var, "%s=%s", CP_CLAIM_ENV, token) < 0 ||
	    asprintf(&socket_var, "CROSSPOST_SOCKET=%s", cp_client_socket_path(c)) < 0) {
		free(env);
		return error_set(CP_ERR_NO_MEMORY, "out of memory");
	}
	/* Ours replace any inherited values. */
	for (char **e = environ; e && *e; e++)
		if (strncmp(*e, CP_CLAIM_ENV "=", strlen(CP_CLAIM_ENV) + 1) != 0 &&
		    strncmp(*e, "CROSSPOST_SOCKET=", 17) != 0)
			env[k++] = *e;
	env[k++] = claim_var;
	env[k++] = socket_var;
	env[k] = NULL;
	r = strchr(argv[0], '/') ? posix_spawn(&pid, argv[0], NULL, NULL, argv, env)
				 : posix_spawnp(&pid, argv[0], NULL, NULL, argv, env);
	explicit_bzero(claim_var, strlen(claim_var));
	free(claim_var);
	free(socket_var);
	free(env);
	if (r == ENOENT || r == EACCES)
		return error_set(CP_ERR_NOT_FOUND, "cannot start %s: %s", argv[0], strerror(r));
	if (r == ENOMEM)
		return error_set(CP_ERR_NO_MEMORY, "cannot start %s: %s", argv[0], strerror(r));
	if (r != 0)
		return error_set(CP_ERR_INVALID_STATE, "cannot start %s: %s", argv[0], strerror(r));
	if (ret_pid)
		*ret_pid = (int)pid;
	return 0;
}
