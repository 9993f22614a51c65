#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""login_popup.py - the login popup that login_app.py opens.

On the web the popup, once the user has signed in, hands the token to
window.opener - and only to the app's origin:

    window.opener.postMessage({type: "login", user, token, state}, "https://app.example");

A token posted with targetOrigin "*" would go to whatever page the opener
shows by then.  Here the popup finds its opener by the name login_app.py
passed it (--opener; window.opener itself comes with the browsing-context
API), posts the token with https://app.example as targetOrigin, and closes
once the app has answered - checking that the answer comes from the app's
origin too.

Usage: login_popup.py --opener NAME --state NONCE [--user NAME] [--url URL]
                      [--timeout SECONDS]
Started by login_app.py; the broker's socket is $CROSSPOST_SOCKET, else the
library's default.  Exit status: 0 once the app answered, 1 on an error or
a timeout (default 30 s).
"""
import argparse
import secrets
import sys
import time

import crosspost

APP_ORIGIN = "https://app.example"


def say(line):
    print(f"popup: {line}", flush=True)


def main():
    parser = argparse.ArgumentParser(description="The popup half of login_app.py.")
    parser.add_argument("--opener", required=True, help="the name of the window that opened this one")
    parser.add_argument("--state", required=True, help="the opener's nonce, returned with the token")
    parser.add_argument("--user", default="alice")
    parser.add_argument("--url", default="https://login.example/authorize")
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()
    deadline = time.monotonic() + args.timeout

    try:
        with crosspost.Client() as client:
            window = client.open(args.url)
            try:
                opener = window.wait_for_window(args.opener, timeout=args.timeout)
            except crosspost.TimeoutError_:
                say(f"no window named {args.opener!r} within {args.timeout:g} s")
                return 1
            say(f"{args.user} signed in at {window.origin}")
            token = secrets.token_urlsafe(32)
            opener.post_message({"type": "login", "user": args.user, "token": token, "state": args.state},
                                APP_ORIGIN)
            while True:
                event = window.get_event(timeout=max(deadline - time.monotonic(), 0))
                if event.origin == APP_ORIGIN and isinstance(event.data, dict) \
                        and event.data.get("type") == "done":
                    say("the app has the token; closing")
                    window.close()
                    return 0
    except crosspost.TimeoutError_:
        say(f"no answer from the app within {args.timeout:g} s")
        return 1
    except crosspost.Error as e:
        say(f"{e.name}: {e}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
