# SPDX-License-Identifier: MIT
"""The programs in python/examples/, run as the README shows them: real
processes against a private broker, their output checked line by line.
Synchronisation is the programs' own: wait_for_window() and exits; the
only timeouts waited for are the refusals under test."""
import os
import subprocess
import sys
import unittest

import support

EXAMPLES = os.path.join(support.PYTHON_DIR, "examples")
PY = sys.executable


def example(name):
    return os.path.join(EXAMPLES, name)


class Examples(support.BrokerTestCase):
    def start(self, *args):
        proc = subprocess.Popen([PY, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=support.child_env(CROSSPOST_SOCKET=self.broker.socket))
        self.addCleanup(lambda: (proc.poll() is None and proc.kill(), proc.wait()))
        return proc

    def run_example(self, *args, timeout=60):
        proc = self.start(*args)
        out, err = proc.communicate(timeout=timeout)
        return proc.returncode, out, err

    def test_every_example_has_its_header(self):
        for name in sorted(os.listdir(EXAMPLES)):
            if name.endswith(".py"):
                with open(example(name)) as f:
                    head = f.read(300)
                self.assertTrue(head.startswith("#!/usr/bin/python3\n# SPDX-License-Identifier: MIT\n"), name)
                self.assertTrue(os.access(example(name), os.X_OK), f"{name} is not executable")

    def test_no_broker(self):
        env = support.child_env(CROSSPOST_SOCKET=os.path.join(self.broker.dir, "none.sock"))
        r = subprocess.run([PY, example("iframe_widget.py")], capture_output=True, text=True, env=env,
                           timeout=60)
        self.assertEqual(r.returncode, 1)
        self.assertIn("iframe_widget: cannot open the widget's window: NetworkError: no broker at", r.stderr)

    def test_iframe_widget_and_embedder(self):
        widget = self.start(example("iframe_widget.py"), "--count", "2")
        rc, out, err = self.run_example(example("iframe_embedder.py"))
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(out, "embedder: the widget speaks version 2, height 240\n"
                              "embedder: the widget is 320x180\n")
        # a page of another origin gets no answer at all
        rc, out, err = self.run_example(example("iframe_embedder.py"), "--url", "https://evil.example/",
                                        "--timeout", "0.3")
        self.assertEqual(rc, 1)
        self.assertEqual(err, "iframe_embedder: no answer from the widget within 0.3 s\n")
        rc, out, err = self.run_example(example("iframe_embedder.py"))
        self.assertEqual(rc, 0, err)
        out, err = widget.communicate(timeout=60)
        self.assertEqual(widget.returncode, 0, err)
        session = ("widget: embedded by https://host.example, speaking version 2, theme dark\n"
                   "widget: resized to 320x180\n"
                   "widget: https://host.example said bye\n")
        self.assertEqual(out, session + "widget: ignored a message from https://evil.example "
                                        "(not an allowed embedder)\n" + session)
        self.assertRegex(err, r'^iframe_widget: ready: window \d+ "widget" at https://widget.example\n$')

    def test_popup_login(self):
        rc, out, err = self.run_example(example("login_app.py"), "--user", "bob")
        self.assertEqual((rc, err), (0, ""))
        self.assertEqual(out, "app: opening the login popup\n"
                              "popup: bob signed in at https://login.example\n"
                              "app: signed in as bob with a token of 43 characters\n"
                              "popup: the app has the token; closing\n"
                              "app: the popup closed (exit 0)\n")

    def test_popup_login_refuses_a_look_alike_origin(self):
        rc, out, err = self.run_example(example("login_app.py"), "--popup-url", "https://login.example.evil/x",
                                        "--timeout", "5")
        self.assertEqual(rc, 1)
        self.assertEqual(out, "app: opening the login popup\n"
                              "popup: alice signed in at https://login.example.evil\n"
                              "app: ignored a message from https://login.example.evil: not https://login.example\n"
                              "app: no login within 5 s\n")

    def test_worker_pool(self):
        rc, out, err = self.run_example(example("pool_coordinator.py"), "--workers", "3", "--tasks", "6")
        self.assertEqual(rc, 0, err)
        self.assertEqual(out, "coordinator: 3 workers connected, each on a port of its own\n"
                              "coordinator: 1000000 = 2 * 2 * 2 * 2 * 2 * 2 * 5 * 5 * 5 * 5 * 5 * 5\n"
                              "coordinator: 1000001 = 101 * 9901\n"
                              "coordinator: 1000002 = 2 * 3 * 166667\n"
                              "coordinator: 1000003 = 1000003\n"
                              "coordinator: 1000004 = 2 * 2 * 53 * 53 * 89\n"
                              "coordinator: 1000005 = 3 * 5 * 163 * 409\n"
                              "coordinator: 6 tasks done by 3 workers\n"
                              "coordinator: every worker has exited\n")
        lines = err.splitlines()
        connected = sorted(line for line in lines if " connected " in line)
        did = sorted(line for line in lines if " did " in line)
        self.assertEqual(len(lines), 6, err)
        for i, line in enumerate(connected):
            self.assertRegex(line, rf"^worker-{i + 1}: connected to https://coordinator.example on port \d+$")
        self.assertEqual(sum(int(line.split()[2]) for line in did), 6)   # "worker-N: did K tasks"

    def test_the_readme_snippet_runs(self):
        import crosspost as cp
        with open(os.path.join(support.TOP, "README.md")) as f:
            readme = f.read()
        start = readme.index("## From Python")
        body = readme[readme.index("```python\n", start) + 10:]
        body = body[:body.index("```")]
        snippet = self.start("-c", body)
        with cp.Client(self.broker.socket) as c:
            inbox = c.open("https://b.example/", "inbox")
            ev = inbox.get_event(timeout=30)
            self.assertEqual((ev.data, ev.origin), ({"hi": [1, 2.5]}, "https://a.example"))
            ev.source.post_message("welcome", ev.origin)
            thanks = inbox.get_event(timeout=30)
            self.assertEqual((thanks.data, thanks.source.name), ("thanks", "a"))
        out, err = snippet.communicate(timeout=60)
        self.assertEqual(snippet.returncode, 0, err)

    def test_a_worker_takes_a_port_only_from_the_coordinator(self):
        import crosspost as cp
        worker = self.start(example("pool_worker.py"), "--name", "lonely", "--timeout", "30")
        with cp.Client(self.broker.socket) as c:
            stranger = c.open("https://stranger.example/")
            ref = stranger.wait_for_window("lonely", timeout=30)
            p1, p2 = stranger.create_channel()
            stranger.post_message(ref, {"type": "connect"}, "*", transfer=[p2])
            c.sync(30)
            coordinator = c.open("https://coordinator.example/")
            q1, q2 = coordinator.create_channel()
            coordinator.post_message(ref, {"type": "connect"}, "https://worker.example", transfer=[q2])
            q1.post_message({"type": "task", "n": 12})
            self.assertEqual(q1.get_event(timeout=30).data, {"n": 12, "factors": [2, 2, 3]})
            q1.post_message({"type": "stop"})
            self.assertEqual(q1.get_event(timeout=30).data, {"type": "bye", "name": "lonely"})
        out, err = worker.communicate(timeout=60)
        self.assertEqual(worker.returncode, 0, err)
        self.assertEqual(err.splitlines()[0], "lonely: ignored a message from https://stranger.example")
        self.assertEqual(err.splitlines()[2], "lonely: did 1 tasks")


if __name__ == "__main__":
    unittest.main()
