/* SPDX-License-Identifier: MIT */
/*
 * document.h - the origin a new document gets, as the HTML Standard
 * determines it: from its URL, or inherited from the document that created
 * it or navigated to it.
 *
 *  - about:blank (with any query or fragment) takes its creator's origin:
 *    the opener's or the parent's for a new window or frame, the
 *    navigation's initiator for a navigation; with no creator (a window
 *    opened with noopener, or registered by its process) a new opaque
 *    origin.  HTML "determining the origin", "matches about:blank".
 *  - about:srcdoc takes the parent's origin in a frame (the iframe
 *    srcdoc document); anywhere else it is an error page: opaque.
 *  - data: URLs, and every URL whose origin the URL Standard makes opaque,
 *    get a new opaque origin.
 *  - javascript: URLs are not documents: navigating to one runs script
 *    in the current document (if the initiator is same origin with it),
 *    which keeps its document; a new window opened at one shows its
 *    initial about:blank.  The caller handles them (DOCUMENT_URL_JAVASCRIPT).
 */
#ifndef CP_DOCUMENT_H
#define CP_DOCUMENT_H

#include <stdbool.h>

#include "origin.h"

typedef enum DocumentUrlKind {
	DOCUMENT_URL_PLAIN,          /* origin from the URL */
	DOCUMENT_URL_ABOUT_BLANK,    /* "matches about:blank" */
	DOCUMENT_URL_ABOUT_SRCDOC,   /* "matches about:srcdoc" */
	DOCUMENT_URL_JAVASCRIPT,     /* scheme "javascript" */
} DocumentUrlKind;

/* Expected outcome of document_origin(). */
enum {
	DOCUMENT_E_BAD_URL = 1,      /* url does not parse: SyntaxError */
};

/* What kind of URL url is (it must parse; see document_origin()). */
DocumentUrlKind document_url_kind(const char *url);

/* The origin of a document at url whose creator (or navigation initiator)
 * has origin creator (NULL: none); in_frame says it is an iframe's
 * document.  For a javascript: URL, the origin of the initial about:blank
 * a new window shows.  Returns 0 with *ret (caller frees) and *ret_kind,
 * DOCUMENT_E_BAD_URL with a static reason, or -ENOMEM. */
int document_origin(const char *url, const Origin *creator, bool in_frame, Origin **ret,
		    DocumentUrlKind *ret_kind, const char **ret_reason);

#endif
