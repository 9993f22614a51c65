#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""login_app.py - a popup login flow: the app opens a login popup of
another origin, and takes the token it posts back only from that origin.

On the web:

    const state = crypto.randomUUID();
    window.open(`https://login.example/authorize?state=${state}`, "login");
    window.addEventListener("message", (event) => {
        if (event.origin !== "https://login.example") return;   // anyone can post to us
        if (event.data.state !== state) return;                  // not the login we started
        signIn(event.data.token);
        event.source.postMessage({type: "done"}, event.origin);
    });

This process opens the window "app" at https://app.example/ and starts the
popup, login_popup.py, as its own process, passing the window's name and a
fresh `state` nonce (as window.open() would pass them in the URL).  Every
message is checked: its origin must be https://login.example, and its
state the nonce - a message from any other origin is ignored, however
convincing its data.  The app answers the popup through event.source and
waits for it to close.  --popup-url starts the popup at another URL, to
see a look-alike origin ignored.

    crosspostd --foreground &
    PYTHONPATH=python python/examples/login_app.py --user alice
    PYTHONPATH=python python/examples/login_app.py --popup-url https://login.example.evil/ --timeout 1
                                        # ignored: exit 1

Usage: login_app.py [--user NAME] [--popup-url URL] [--timeout SECONDS]
The broker's socket is $CROSSPOST_SOCKET, else the library's default.
Exit status: 0 once signed in and the popup closed, 1 on an error or when
no valid login came within the timeout (default 30 s).
"""
import argparse
import os
import secrets
import subprocess
import sys
import time

import crosspost

APP_URL = "https://app.example/"
APP_NAME = "app"
LOGIN_ORIGIN = "https://login.example"
POPUP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "login_popup.py")


def say(line):
    print(f"app: {line}", flush=True)


def main():
    parser = argparse.ArgumentParser(description="The opener half of login_popup.py.")
    parser.add_argument("--user", default="alice", help="who signs in in the popup")
    parser.add_argument("--popup-url", default=LOGIN_ORIGIN + "/authorize", help="the popup's URL")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for a login")
    args = parser.parse_args()
    state = secrets.token_hex(16)
    deadline = time.monotonic() + args.timeout

    try:
        client = crosspost.Client()
        window = client.open(APP_URL, APP_NAME)
    except crosspost.Error as e:
        sys.exit(f"login_app: cannot open the app's window: {e.name}: {e}")
    # window.open(url): the popup is a process of its own.
    say("opening the login popup")
    popup = subprocess.Popen([sys.executable, POPUP, "--opener", APP_NAME, "--state", state,
                              "--user", args.user, "--url", args.popup_url, "--timeout", str(args.timeout)])
    user = None
    try:
        while user is None:
            try:
                event = window.get_event(timeout=max(deadline - time.monotonic(), 0))
            except crosspost.TimeoutError_:
                say(f"no login within {args.timeout:g} s")
                return 1
            data = event.data if isinstance(event.data, dict) else {}
            if event.origin != LOGIN_ORIGIN:
                say(f"ignored a message from {event.origin}: not {LOGIN_ORIGIN}")
                continue
            if data.get("type") != "login" or data.get("state") != state or event.source is None:
                say(f"ignored a message from {event.origin}: not the login this app started")
                continue
            user = data.get("user")
            say(f"signed in as {user} with a token of {len(data.get('token', ''))} characters")
            event.source.post_message({"type": "done"}, event.origin)
        client.flush()
        popup.wait(timeout=max(deadline - time.monotonic(), 1))
        say(f"the popup closed (exit {popup.returncode})")
        return 0 if popup.returncode == 0 else 1
    except crosspost.Error as e:
        say(f"{e.name}: {e}")
        return 1
    finally:
        if popup.poll() is None:
            popup.terminate()
            popup.wait()
        client.close()


if __name__ == "__main__":
    sys.exit(main())
