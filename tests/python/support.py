# SPDX-License-Identifier: MIT
"""support - what the Python tests share: the package from this tree, and a
private broker per test class.

tests/run.sh runs each tests/python/test_*.py with the system python3 and
exports CROSSPOST_LIBRARY (BUILD/libcrosspost.so), CROSSPOSTD and CROSSPOST;
run alone, a test uses build/.  The broker is started detached: crosspostd
returns once its socket listens (and has written its pidfile), so a test
never waits for it to come up; stopping it waits until its pidfile is gone.
"""
import os
import signal
import subprocess
import sys
import tempfile
import time
import unittest

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))
BUILD = os.path.join(TOP, "build")
os.environ.setdefault("CROSSPOST_LIBRARY", os.path.join(BUILD, "libcrosspost.so"))
CROSSPOSTD = os.environ.get("CROSSPOSTD", os.path.join(BUILD, "crosspostd"))
CROSSPOST = os.environ.get("CROSSPOST", os.path.join(BUILD, "crosspost"))
PYTHON_DIR = os.path.join(TOP, "python")
if PYTHON_DIR not in sys.path:
    sys.path.insert(0, PYTHON_DIR)

import crosspost  # noqa: E402  (after the path is set)


def child_env(**extra):
    """The environment of a program the tests start: the package on
    PYTHONPATH; C programs (built with ASan or not) without the preload
    that python3 needs to load an ASan build."""
    env = dict(os.environ)
    env["PYTHONPATH"] = PYTHON_DIR + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env.update(extra)
    return env


def c_program_env(**extra):
    env = child_env(**extra)
    env.pop("LD_PRELOAD", None)
    env.pop("ASAN_OPTIONS", None)
    return env


class Broker:
    """A private crosspostd on a socket in its own 0700 folder."""

    def __init__(self, *args):
        self.dir = tempfile.mkdtemp(prefix="crosspost-py.")
        self.socket = os.path.join(self.dir, "broker.sock")
        self.pidfile = os.path.join(self.dir, "broker.pid")
        self.log = os.path.join(self.dir, "broker.log")
        with open(self.log, "ab") as log:       # what it says before --log-file applies
            r = subprocess.run([CROSSPOSTD, "--socket", self.socket, "--pidfile", self.pidfile,
                                "--log-file", self.log, "--log-level", "debug", *args],
                               env=c_program_env(), stdin=subprocess.DEVNULL, stderr=log)
        if r.returncode != 0:
            with open(self.log) as log:
                raise RuntimeError(f"crosspostd exited {r.returncode}: {log.read()}")
        with open(self.pidfile) as f:
            self.pid = int(f.read())

    def stop(self):
        if self.pid is None:
            return
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + 10
        while os.path.exists(self.pidfile) and time.monotonic() < deadline:
            time.sleep(0.01)    # polling for the pidfile to go, not a fixed delay
        self.pid = None
        subprocess.run(["rm", "-rf", self.dir], check=False)


class BrokerTestCase(unittest.TestCase):
    """A broker for the class; self.client() gives clients closed after the test."""

    @classmethod
    def setUpClass(cls):
        cls.broker = Broker()
        os.environ["CROSSPOST_SOCKET"] = cls.broker.socket

    @classmethod
    def tearDownClass(cls):
        os.environ.pop("CROSSPOST_SOCKET", None)
        cls.broker.stop()

    def client(self, **kwargs):
        c = crosspost.Client(self.broker.socket, **kwargs)
        self.addCleanup(c.close)
        return c

    _names = 0

    def name(self, prefix="w"):
        """A window name no other test of the class uses."""
        BrokerTestCase._names += 1
        return f"{prefix}{BrokerTestCase._names}"
