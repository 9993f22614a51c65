#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""pool_worker.py - one worker of pool_coordinator.py's pool.

It opens a window named NAME at https://worker.example/ and waits for the
coordinator to hand it a MessagePort: the one message it accepts on its
window comes from the coordinator's origin and carries exactly one port
(event.ports).  From then on it talks on that port only - port messages
need no targetOrigin and have no origin: holding the other end is what
makes the coordinator the coordinator.  Tasks {"type": "task", "n": N}
are answered with N's prime factors; {"type": "stop"} with a bye, and the
worker exits.

Handler style: port.onmessage, and client.wait() to dispatch.

Usage: pool_worker.py --name NAME [--coordinator-origin ORIGIN] [--timeout SECONDS]
Started by pool_coordinator.py; the broker's socket is $CROSSPOST_SOCKET,
else the library's default.  Exit status: 0 after stop, 1 on an error or
when nothing came for the timeout (default 30 s).
"""
import argparse
import sys

import crosspost

WORKER_URL = "https://worker.example/"


def factors(n):
    out, d = [], 2
    while d * d <= n:
        while n % d == 0:
            out.append(d)
            n //= d
        d += 1
    if n > 1:
        out.append(n)
    return out


def main():
    parser = argparse.ArgumentParser(description="A worker of pool_coordinator.py.")
    parser.add_argument("--name", required=True)
    parser.add_argument("--coordinator-origin", default="https://coordinator.example",
                        help="the only origin that may hand this worker a port")
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()
    name = args.name

    def log(line):
        # One write per line: the pool's workers share the coordinator's stderr.
        sys.stderr.write(f"{name}: {line}\n")

    state = {"port": None, "done": 0, "stopped": False}

    def on_task(event):
        data = event.data
        if data.get("type") == "task":
            event.target.post_message({"n": data["n"], "factors": factors(data["n"])})
            state["done"] += 1
        elif data.get("type") == "stop":
            event.target.post_message({"type": "bye", "name": name})
            state["stopped"] = True

    try:
        with crosspost.Client() as client:
            window = client.open(WORKER_URL, name)
            while state["port"] is None:
                event = window.get_event(timeout=args.timeout)
                if event.origin != args.coordinator_origin or len(event.ports) != 1:
                    log(f"ignored a message from {event.origin or 'a port'}")
                    continue
                state["port"] = event.ports[0]
                log(f"connected to {event.origin} on port {state['port'].id}")
            state["port"].onmessage = on_task          # starts the port
            while not state["stopped"]:
                if client.wait(args.timeout) == 0:
                    log(f"nothing came for {args.timeout:g} s")
                    return 1
            client.flush()
            log(f"did {state['done']} tasks")
            return 0
    except crosspost.Error as e:
        log(f"{e.name}: {e}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
