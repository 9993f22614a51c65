#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""iframe_embedder.py - a page that embeds a widget of another origin and
negotiates with it over postMessage (iframe_widget.py is the widget).

On the web:

    const frame = document.querySelector("iframe").contentWindow;
    frame.postMessage({type: "hello", versions: [1, 2, 3]}, "https://widget.example");
    window.addEventListener("message", (event) => {
        if (event.origin !== "https://widget.example" || event.source !== frame) return;
        ...
    });

This process opens a window at https://host.example/ (--url to pretend to
be another page), waits for the window named "widget", and posts to it
with the widget's origin as targetOrigin - never "*": should the frame have
navigated to another origin, the broker drops the message rather than hand
the page's data to whoever is there now.  It accepts answers only from the
widget's origin and window.  Then it asks for a size, and says bye.

Pull style: window.get_event(timeout).

    PYTHONPATH=python python/examples/iframe_embedder.py
    PYTHONPATH=python python/examples/iframe_embedder.py --url https://evil.example/ --timeout 0.5
                                        # not an allowed embedder: no answer, exit 1

Usage: iframe_embedder.py [--url URL] [--timeout SECONDS]
The broker's socket is $CROSSPOST_SOCKET, else the library's default.
Exit status: 0 after the conversation, 1 on an error or when the widget does
not answer within the timeout (default 30 s).
"""
import argparse
import sys
import time

import crosspost

WIDGET_NAME = "widget"
WIDGET_ORIGIN = "https://widget.example"


def die(message):
    print(f"iframe_embedder: {message}", file=sys.stderr, flush=True)
    sys.exit(1)


def ask(window, widget, request, deadline, timeout):
    """Posts request to the widget, and returns its answer (a dict)."""
    window.post_message(widget, request, WIDGET_ORIGIN)
    while True:
        left = deadline - time.monotonic()
        try:
            event = window.get_event(timeout=max(left, 0))
        except crosspost.TimeoutError_:
            die(f"no answer from the widget within {timeout:g} s")
        if event.origin != WIDGET_ORIGIN or event.source != widget:
            print(f"embedder: ignored a message from {event.origin}", flush=True)
            continue
        if isinstance(event.data, dict):
            return event.data


def main():
    parser = argparse.ArgumentParser(description="The page half of iframe_widget.py.")
    parser.add_argument("--url", default="https://host.example/article", help="this page's URL")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the widget")
    args = parser.parse_args()
    deadline = time.monotonic() + args.timeout

    try:
        with crosspost.Client() as client:
            window = client.open(args.url)
            widget = window.wait_for_window(WIDGET_NAME, timeout=args.timeout)
            welcome = ask(window, widget, {"type": "hello", "versions": [1, 2, 3], "theme": "dark"},
                          deadline, args.timeout)
            if welcome.get("type") != "welcome":
                die(f"the widget speaks none of our versions (it speaks {welcome.get('versions')})")
            print(f"embedder: the widget speaks version {welcome['version']}, "
                  f"height {welcome['height']}", flush=True)
            size = ask(window, widget, {"type": "resize", "width": 320}, deadline, args.timeout)
            print(f"embedder: the widget is {size['width']}x{size['height']}", flush=True)
            window.post_message(widget, {"type": "bye"}, WIDGET_ORIGIN)
    except crosspost.Error as e:
        die(f"{e.name}: {e}")


if __name__ == "__main__":
    main()
