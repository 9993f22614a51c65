#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""pool_coordinator.py - a pool of worker processes, each on a MessagePort
of its own (pool_worker.py is the worker), driven from asyncio.

On the web a page hands each worker one end of a MessageChannel and keeps
the other, so each worker has a private line:

    const {port1, port2} = new MessageChannel();
    workerWindow.postMessage({type: "connect"}, "https://worker.example", [port2]);
    port1.onmessage = (event) => { ... };

This process opens the window "coordinator" at https://coordinator.example/,
starts N worker processes (asyncio subprocesses), waits for each one's
window (worker-1, worker-2, ...), and transfers port2 of a new channel to
each, with the workers' origin as targetOrigin.  Then one coroutine per
worker feeds it tasks from a shared queue over its port (a worker gets the
next task when it answers the last), so faster workers do more.  The task
is factoring an integer.  When the queue is empty each worker is told to
stop; the coordinator prints the factorizations in task order and waits for
the workers to exit.

asyncio style: `await port.get_event_async()` and
`await window.wait_for_window_async()`; the client is driven by the loop
(loop.add_reader on its fd).

    crosspostd --foreground &
    PYTHONPATH=python python/examples/pool_coordinator.py --workers 3 --tasks 12

Usage: pool_coordinator.py [--workers N] [--tasks M] [--timeout SECONDS]
The broker's socket is $CROSSPOST_SOCKET, else the library's default.
Exit status: 0 when every task was done and every worker exited 0, 1 on an
error or a timeout (default 30 s).
"""
import argparse
import asyncio
import os
import sys

import crosspost

COORDINATOR_URL = "https://coordinator.example/"
COORDINATOR_ORIGIN = "https://coordinator.example"
WORKER_ORIGIN = "https://worker.example"
WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pool_worker.py")
FIRST_TASK = 1000000


def say(line):
    print(f"coordinator: {line}", flush=True)


async def drive(port, tasks, results, timeout):
    """Feeds one worker until the queue is empty, then tells it to stop."""
    done = 0
    while not tasks.empty():
        n = tasks.get_nowait()
        port.post_message({"type": "task", "n": n})
        event = await port.get_event_async(timeout=timeout)
        results[n] = event.data["factors"]
        done += 1
    port.post_message({"type": "stop"})
    bye = await port.get_event_async(timeout=timeout)
    port.close()
    return bye.data["name"], done


async def run(args):
    client = crosspost.Client()
    window = client.open(COORDINATOR_URL, "coordinator")
    names = [f"worker-{i}" for i in range(1, args.workers + 1)]
    # The workers inherit stdout: their lines are theirs to print.
    procs = [await asyncio.create_subprocess_exec(sys.executable, WORKER, "--name", name,
                                                  "--coordinator-origin", COORDINATOR_ORIGIN,
                                                  "--timeout", str(args.timeout))
             for name in names]
    try:
        ports = []
        for name in names:
            ref = await window.wait_for_window_async(name, timeout=args.timeout)
            channel = window.create_channel()
            # The port travels in the transfer list; after this it is the worker's.
            window.post_message(ref, {"type": "connect", "name": name}, WORKER_ORIGIN,
                                transfer=[channel.port2])
            ports.append(channel.port1)
        say(f"{len(ports)} workers connected, each on a port of its own")

        tasks = asyncio.Queue()
        for n in range(FIRST_TASK, FIRST_TASK + args.tasks):
            tasks.put_nowait(n)
        results = {}
        counts = await asyncio.gather(*(drive(port, tasks, results, args.timeout) for port in ports))
        for n in sorted(results):
            say(f"{n} = {' * '.join(str(f) for f in results[n])}")
        say(f"{sum(done for _, done in counts)} tasks done by {len(counts)} workers")
        statuses = [await asyncio.wait_for(proc.wait(), args.timeout) for proc in procs]
        if any(statuses):
            say(f"a worker failed: exit statuses {statuses}")
            return 1
        say("every worker has exited")
        return 0
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        client.close()


def main():
    parser = argparse.ArgumentParser(description="Factor integers on a pool of worker processes.")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--tasks", type=int, default=12)
    parser.add_argument("--timeout", type=float, default=30.0)
    args = parser.parse_args()
    if args.workers < 1 or args.tasks < 0:
        parser.error("--workers must be at least 1, --tasks not negative")
    try:
        sys.exit(asyncio.run(run(args)))
    except crosspost.TimeoutError_ as e:
        sys.exit(f"pool_coordinator: a worker did not answer in time: {e}")
    except crosspost.Error as e:
        sys.exit(f"pool_coordinator: {e.name}: {e}")


if __name__ == "__main__":
    main()
