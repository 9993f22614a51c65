/* SPDX-License-Identifier: MIT */
/* scenario_link.c - JSON lines over the socketpair between `crosspost run` and its window agents. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "scenario_link.h"

#define READ_CHUNK 65536

void scenario_link_init(struct scenario_link *link, int fd)
{
	*link = (struct scenario_link){ .fd = fd };
}

void scenario_link_deinit(struct scenario_link *link)
{
	if (link->fd >= 0)
		close(link->fd);
	free(link->buf);
	*link = (struct scenario_link){ .fd = -1 };
}

int scenario_link_send(struct scenario_link *link, const json_t *msg)
{
	char *text = json_dumps(msg, JSON_COMPACT), *line;
	size_t len, off = 0;
	int r = 0;

	if (!text)
		return -ENOMEM;
	/* Compact JSON never contains a raw newline, so one line is one message. */
	len = strlen(text);
	line = realloc(text, len + 1 + 1);
	if (!line) {
		free(text);
		return -ENOMEM;
	}
	line[len++] = '\n';
	while (off < len) {
		ssize_t w = send(link->fd, line + off, len - off, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			r = -errno;
			break;
		}
		off += (size_t)w;
	}
	free(line);
	return r;
}

int scenario_link_fill(struct scenario_link *link)
{
	ssize_t n;

	if (link->cap - link->len < READ_CHUNK) {
		size_t cap = link->cap ? link->cap : READ_CHUNK;
		char *v;

		while (cap - link->len < READ_CHUNK)
			cap *= 2;
		if (cap > SCENARIO_LINK_LINE_MAX + READ_CHUNK)
			return -EMSGSIZE;
		v = realloc(link->buf, cap);
		if (!v)
			return -ENOMEM;
		link->buf = v;
		link->cap = cap;
	}
	do
		n = recv(link->fd, link->buf + link->len, link->cap - link->len, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	link->len += (size_t)n;
	return (int)n;
}

int scenario_link_next(struct scenario_link *link, json_t **ret)
{
	char *nl = link->len ? memchr(link->buf, '\n', link->len) : NULL;
	size_t line_len;
	json_t *msg;

	if (!nl)
		return link->len > SCENARIO_LINK_LINE_MAX ? -EMSGSIZE : 0;
	line_len = (size_t)(nl - link->buf);
	msg = json_loadb(link->buf, line_len, 0, NULL);
	memmove(link->buf, nl + 1, link->len - line_len - 1);
	link->len -= line_len + 1;
	if (!msg || !json_is_object(msg)) {
		json_decref(msg);
		return -EBADMSG;
	}
	*ret = msg;
	return 1;
}
