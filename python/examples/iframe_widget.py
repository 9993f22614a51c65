#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""iframe_widget.py - the widget half of an embedded widget negotiating with
the page that embeds it (iframe_embedder.py is the other half).

On the web, a widget served from its own origin runs in an <iframe> of
someone else's page, and the two talk only through postMessage:

    window.addEventListener("message", (event) => {
        if (!ALLOWED_EMBEDDERS.has(event.origin)) return;     // not a page we serve
        event.source.postMessage(answer(event.data), event.origin);
    });

This process opens the window "widget" at https://widget.example/ and
answers only pages whose origin is on its allow-list (https://host.example):
anything else is ignored - not even refused, which would tell a stranger
that something is listening.  Each answer goes back to event.source with
event.origin as its targetOrigin, so it reaches the page that asked only
while that page is still at the origin that asked.

The protocol (data is plain dicts):
    embedder -> {"type": "hello", "versions": [1, 2, 3], "theme": "dark"}
    widget   -> {"type": "welcome", "version": 2, "theme": "dark", "height": 240}
                (the highest version both speak), or {"type": "unsupported", ...}
    embedder -> {"type": "resize", "width": 320}
    widget   -> {"type": "size", "width": 320, "height": 180}
    embedder -> {"type": "bye"}

Handlers style: window.onmessage, and client.wait() to dispatch.

    crosspostd --foreground &
    PYTHONPATH=python python/examples/iframe_widget.py --count 1 &
    PYTHONPATH=python python/examples/iframe_embedder.py

Usage: iframe_widget.py [--count N]   (serves N embedders, until each says
                                       bye; without it, until killed)
The broker's socket is $CROSSPOST_SOCKET, else the library's default.
Exit status: 0 after N sessions, 1 on an error, 2 on bad usage.
"""
import argparse
import sys

import crosspost

WIDGET_URL = "https://widget.example/embed"
WIDGET_NAME = "widget"
# Serialized origins, compared exactly: "https://host.example" is neither
# "https://host.example:8443" nor "http://host.example".
ALLOWED_EMBEDDERS = {"https://host.example"}
VERSIONS = {1, 2}
ASPECT = 9 / 16


def say(line):
    print(f"widget: {line}", flush=True)


def main():
    parser = argparse.ArgumentParser(description="The widget half of iframe_embedder.py.")
    parser.add_argument("--count", type=int, default=0, help="serve N sessions, then exit (default: forever)")
    args = parser.parse_args()
    if args.count < 0:
        parser.error("--count must not be negative")

    sessions = {}          # source window id -> the negotiated version
    done = 0

    try:
        client = crosspost.Client()
        window = client.open(WIDGET_URL, WIDGET_NAME)
    except crosspost.Error as e:
        sys.exit(f"iframe_widget: cannot open the widget's window: {e.name}: {e}")

    def on_message(event):
        nonlocal done
        # 1. Who is asking?  event.origin is stamped by the broker.
        if event.origin not in ALLOWED_EMBEDDERS:
            say(f"ignored a message from {event.origin} (not an allowed embedder)")
            return
        # 2. A privileged sender has no window to answer to.
        if event.source is None:
            return
        data = event.data if isinstance(event.data, dict) else {}
        kind = data.get("type")
        if kind == "hello":
            offered = {v for v in data.get("versions", []) if isinstance(v, int)}
            common = offered & VERSIONS
            if not common:
                reply = {"type": "unsupported", "versions": sorted(VERSIONS)}
                say(f"{event.origin} offers versions {sorted(offered)}: none we speak")
            else:
                version = max(common)
                sessions[event.source.id] = version
                reply = {"type": "welcome", "version": version, "theme": data.get("theme", "light"),
                         "height": 240}
                say(f"embedded by {event.origin}, speaking version {version}, theme {reply['theme']}")
        elif kind == "resize" and event.source.id in sessions and isinstance(data.get("width"), int):
            width = data["width"]
            reply = {"type": "size", "width": width, "height": round(width * ASPECT)}
            say(f"resized to {width}x{reply['height']}")
        elif kind == "bye" and event.source.id in sessions:
            del sessions[event.source.id]
            done += 1
            say(f"{event.origin} said bye")
            return
        else:
            say(f"ignored a malformed message from {event.origin}")
            return
        # 3. event.source.postMessage(reply, event.origin)
        event.source.post_message(reply, event.origin)

    window.onmessage = on_message
    print(f"iframe_widget: ready: window {window.id} \"{WIDGET_NAME}\" at {window.origin}",
          file=sys.stderr, flush=True)
    try:
        while args.count == 0 or done < args.count:
            client.wait()            # no time limit: returns when events came
    except crosspost.Error as e:
        sys.exit(f"iframe_widget: waiting for embedders: {e.name}: {e}")
    client.close()


if __name__ == "__main__":
    main()
