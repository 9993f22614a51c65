# SPDX-License-Identifier: MIT
"""The client against a real broker: windows, postMessage and its
targetOrigin check, events and their stamped origin and source, lookup,
list, stats, batching, handlers, and errors as Python exceptions."""
import os
import subprocess
import unittest

import support
import crosspost as cp


class Windows(support.BrokerTestCase):
    def test_open_gives_id_name_url_origin(self):
        c = self.client()
        name = self.name()
        w = c.open("https://a.example:8443/path?q#f", name)
        self.assertGreater(w.id, 0)
        self.assertEqual(w.name, name)
        self.assertEqual(w.url, "https://a.example:8443/path?q#f")
        self.assertEqual(w.origin, "https://a.example:8443")
        self.assertIs(w.client, c)
        self.assertFalse(w.closed)
        anonymous = c.open("data:text/plain,x")
        self.assertIsNone(anonymous.name)
        self.assertEqual(anonymous.origin, "null")

    def test_navigate_changes_url_and_origin(self):
        w = self.client().open("https://a.example/", self.name())
        w.navigate("https://b.example/next")
        self.assertEqual((w.url, w.origin), ("https://b.example/next", "https://b.example"))
        with self.assertRaises(cp.SyntaxError_):
            w.navigate("::not a url")
        self.assertEqual(w.origin, "https://b.example")

    def test_close(self):
        c = self.client()
        name = self.name()
        w = c.open("https://a.example/", name)
        c.lookup(name)
        w.close()
        self.assertTrue(w.closed)
        w.close()                                       # closing again does nothing
        with self.assertRaises(cp.NotFoundError):
            c.lookup(name)
        with self.assertRaises(cp.InvalidStateError):
            w.post_message(1, "x")
        with self.assertRaises(cp.InvalidStateError):
            w.url

    def test_lookup_wait_and_list(self):
        c, other = self.client(), self.client()
        name = self.name()
        with self.assertRaises(cp.NotFoundError) as e:
            c.lookup(name)
        self.assertIsInstance(e.exception, LookupError)
        with self.assertRaises(cp.TimeoutError_) as e:
            c.wait_for_window(name, timeout=0.05)
        self.assertIsInstance(e.exception, TimeoutError)
        w = other.open("https://b.example/x", name)
        ref = c.lookup(name)
        self.assertEqual((ref.id, ref.name, ref.origin), (w.id, name, "https://b.example"))
        self.assertEqual(ref, w)
        self.assertEqual(int(ref), w.id)
        self.assertEqual(c.wait_for_window(name, timeout=1).id, w.id)
        self.assertEqual(c.wait_for_window(name).id, w.id)
        w2 = other.open("https://c.example/", name + "-2")
        infos = {i.id: i for i in c.list_windows()}
        self.assertEqual(infos[w.id], cp.WindowInfo(w.id, name, "https://b.example/x", "https://b.example",
                                                    os.getpid(), parent_id=0, opener_id=0, pending=False))
        self.assertEqual(infos[w2.id], cp.WindowInfo(w2.id, name + "-2", "https://c.example/", "https://c.example",
                                                     os.getpid(), parent_id=0, opener_id=0, pending=False))

    def test_names_are_unique(self):
        c = self.client()
        name = self.name()
        c.open("https://a.example/", name)
        with self.assertRaises(cp.ConstraintError) as e:
            c.open("https://b.example/", name)
        self.assertEqual(e.exception.name, "ConstraintError")
        self.assertEqual(e.exception.code, -9)
        self.assertIn(name, str(e.exception))

    def test_bad_arguments(self):
        c = self.client()
        with self.assertRaises(cp.SyntaxError_) as e:
            c.open("no scheme")
        self.assertIsInstance(e.exception, ValueError)
        self.assertIsInstance(e.exception, cp.Error)
        with self.assertRaises(cp.RangeError) as e:
            c.open("https://a.example/", "n" * 2000)
        self.assertIn("1024", str(e.exception))
        w = c.open("https://a.example/")
        with self.assertRaises(cp.TypeError_):
            w.post_message("a name is not a target", 1)
        with self.assertRaises(cp.SyntaxError_):
            w.post_message(w, 1, "https://")

    def test_no_broker_is_a_network_error(self):
        with self.assertRaises(cp.NetworkError) as e:
            cp.Client(os.path.join(self.broker.dir, "nobody.sock"))
        self.assertIsInstance(e.exception, ConnectionError)
        self.assertEqual(e.exception.name, "NetworkError")

    def test_client_properties_and_close(self):
        c = cp.Client(self.broker.socket)
        self.assertEqual(c.socket_path, self.broker.socket)
        self.assertGreaterEqual(c.fd, 0)
        self.assertFalse(c.has_pending)
        w = c.open("https://a.example/")
        c.close()
        self.assertTrue(c.closed)
        c.close()
        self.assertTrue(w.closed)
        with self.assertRaises(cp.InvalidStateError):
            c.open("https://a.example/")
        with cp.Client() as from_env:                   # $CROSSPOST_SOCKET
            self.assertEqual(from_env.socket_path, self.broker.socket)
        self.assertTrue(from_env.closed)
        self.assertTrue(cp.default_socket_path())


class Messaging(support.BrokerTestCase):
    def pair(self):
        a, b = self.client(), self.client()
        wa = a.open("https://a.example/", self.name("a"))
        wb = b.open("https://b.example/page", self.name("b"))
        return wa, wb

    def test_post_and_receive(self):
        wa, wb = self.pair()
        target = wa.wait_for_window(wb.name, timeout=5)
        wa.post_message(target, {"hello": [1, 2.5, "three"]}, "https://b.example")
        ev = wb.get_event(timeout=5)
        self.assertEqual(ev.type, "message")
        self.assertEqual(ev.data, {"hello": [1, 2.5, "three"]})
        self.assertEqual(ev.origin, "https://a.example")
        self.assertEqual((ev.source.id, ev.source.name, ev.source.origin), (wa.id, wa.name, "https://a.example"))
        self.assertIs(ev.source.window, wb)
        self.assertIs(ev.target, wb)
        self.assertEqual(ev.ports, [])
        # the source is a reference to post back to, from the window it arrived at
        ev.source.post_message({"re": "hello"}, ev.origin)
        back = wa.get_event(timeout=5)
        self.assertEqual((back.data, back.origin, back.source.id), ({"re": "hello"}, "https://b.example", wb.id))

    def test_target_origin(self):
        wa, wb = self.pair()
        for target_origin, delivered in (("*", True), ("https://b.example", True), ("https://b.example/other", True),
                                         ("https://c.example", False), ("/", False), ("http://b.example", False)):
            wa.post_message(wb, target_origin, target_origin)
        got = [wb.get_event(timeout=5).data for _ in range(3)]
        self.assertEqual(got, ["*", "https://b.example", "https://b.example/other"])
        wa.client.sync(5)
        with self.assertRaises(cp.TimeoutError_):
            wb.get_event(timeout=0.1)
        stats = wa.client.broker_stats()
        self.assertGreaterEqual(stats.dropped_origin_mismatch, 3)
        self.assertGreaterEqual(stats.messages_delivered, 3)
        self.assertGreaterEqual(stats.windows, 2)
        self.assertGreaterEqual(stats.connections, 2)
        self.assertEqual((stats.monitors, stats.monitor_events_lost), (0, 0))
        self.assertIsInstance(stats, cp.BrokerStats)

    def test_target_by_id_and_unknown_id(self):
        wa, wb = self.pair()
        wa.post_message(wb.id, "by id", "*")
        self.assertEqual(wb.get_event(timeout=5).data, "by id")
        wa.post_message(2 ** 60, "nobody", "*")
        with self.assertRaises(cp.NotFoundError):
            wa.client.sync(5)

    def test_a_lookup_reference_posts_from_its_window(self):
        wa, wb = self.pair()
        ref = wa.lookup(wb.name)
        ref.post_message("via ref", ref.origin)
        self.assertEqual(wb.get_event(timeout=5).data, "via ref")
        unbound = wa.client.lookup(wb.name)
        with self.assertRaises(cp.TypeError_):
            unbound.post_message("x")
        unbound.post_message("from", "*", from_window=wa)
        self.assertEqual(wb.get_event(timeout=5).source.id, wa.id)

    def test_privileged_senders_have_no_source(self):
        a, b = self.client(), self.client()
        ext = a.open("chrome-extension://abc/", privileged=True)
        wb = b.open("https://b.example/")
        ext.post_message(wb, "from an extension", "*")
        ev = wb.get_event(timeout=5)
        self.assertIsNone(ev.source)
        self.assertEqual(ev.origin, "null")     # a non-special scheme: opaque

    def test_order_is_kept(self):
        wa, wb = self.pair()
        for i in range(500):
            wa.post_message(wb, i, "*")
        self.assertEqual([wb.get_event(timeout=5).data for _ in range(500)], list(range(500)))

    def test_events_iterator(self):
        wa, wb = self.pair()
        for i in range(3):
            wa.post_message(wb, i, "*")
        got = []
        for ev in wb.events():
            got.append(ev.data)
            if len(got) == 3:
                break
        self.assertEqual(got, [0, 1, 2])

    def test_handlers_and_their_exceptions(self):
        wa, wb = self.pair()
        seen = []
        wb.onmessage = lambda ev: seen.append(ev.data)
        wa.post_message(wb, "one", "*")
        wa.post_message(wb, "two", "*")
        while len(seen) < 2:
            wb.client.wait(5)
        self.assertEqual(seen, ["one", "two"])
        with self.assertRaises(cp.InvalidStateError):
            wb.get_event(timeout=0)

        def boom(ev):
            raise KeyError(ev.data)
        wb.onmessage = boom
        wa.post_message(wb, "bad", "*")
        with self.assertRaises(KeyError):
            while True:
                wb.client.wait(5)
        # a handler cannot dispatch (the library's callbacks do not nest)
        def nested(ev):
            wb.client.wait(0)
        wb.onmessage = nested
        wa.post_message(wb, "nested", "*")
        with self.assertRaises(cp.InvalidStateError):
            while True:
                wb.client.wait(5)
        # without handlers events queue again
        wb.onmessage = None
        wa.post_message(wb, "queued", "*")
        self.assertEqual(wb.get_event(timeout=5).data, "queued")

    def test_events_queued_before_a_handler_go_to_it(self):
        wa, wb = self.pair()
        wa.post_message(wb, "early", "*")
        wa.post_message(wb, "early too", "*")
        wa.client.sync(5)
        while wb.client.wait(5) < 2:                     # both read, waiting in the library: no handler yet
            pass
        seen = []
        wb.onmessage = lambda ev: seen.append(ev.data)
        self.assertEqual(seen, [])                       # not from inside the setter
        self.assertTrue(wb.client.has_pending)
        self.assertEqual(wb.client.wait(5), 2)           # the next dispatch, in order
        self.assertEqual(seen, ["early", "early too"])

    def test_a_waiting_message_is_checked_against_the_navigated_origin(self):
        wa, wb = self.pair()
        wa.post_message(wb, "for b.example only", "https://b.example")
        wa.client.sync(5)
        self.assertEqual(wb.client.wait(5), 1)           # received; no handler: it waits in the library
        wb.navigate("https://c.example/")
        wa.post_message(wb, "for anyone", "*")
        self.assertEqual(wb.get_event(timeout=5).data, "for anyone")

    def test_batching_and_flush(self):
        a, b = self.client(batching=True), self.client()
        self.assertTrue(a.batching)
        wa = a.open("https://a.example/")
        wb = b.open("https://b.example/")
        for i in range(100):
            wa.post_message(wb, i, "*")
        self.assertTrue(a.has_pending)
        a.flush()
        self.assertFalse(a.has_pending)
        self.assertEqual([wb.get_event(timeout=5).data for _ in range(100)], list(range(100)))
        a.batching = False
        self.assertFalse(a.batching)
        wa.post_message(wb, "unbatched", "*")
        self.assertFalse(a.has_pending)
        self.assertEqual(wb.get_event(timeout=5).data, "unbatched")

    def test_dispatch_and_fd(self):
        import select
        wa, wb = self.pair()
        wa.post_message(wb, "polled", "*")
        r, _, _ = select.select([wb.client.fd], [], [], 5)
        self.assertEqual(r, [wb.client.fd])
        # Read everything there is; without a handler the event is not
        # dispatched (0) but waits in the library for get_event().
        while select.select([wb.client.fd], [], [], 0)[0]:
            self.assertEqual(wb.client.dispatch(), 0)
        self.assertEqual(wb.get_event(timeout=0).data, "polled")
        with self.assertRaises(cp.TimeoutError_):
            wb.get_event(timeout=0)

    def test_a_data_clone_error_sends_nothing(self):
        wa, wb = self.pair()
        with self.assertRaises(cp.DataCloneError):
            wa.post_message(wb, {"f": print}, "*")
        with self.assertRaises(cp.DataCloneError) as e:
            wa.post_message(wb, [cp.HostObject("function f() {}")], "*")
        self.assertIn("function f() {}", str(e.exception))
        wa.post_message(wb, "after", "*")
        self.assertEqual(wb.get_event(timeout=5).data, "after")

    def test_a_broken_connection_is_a_network_error(self):
        broker = support.Broker()
        try:
            c = cp.Client(broker.socket)
            w = c.open("https://a.example/")
        finally:
            broker.stop()
        with self.assertRaises(cp.NetworkError):
            while True:
                c.wait(5)
        with self.assertRaises(cp.NetworkError):
            w.post_message(w, "x", "*")
            c.sync(1)
        c.close()


class CommandLine(support.BrokerTestCase):
    """Python windows and the C tools agree on the data (tagged JSON)."""

    def test_crosspost_post_to_a_python_window(self):
        c = self.client()
        name = self.name()
        w = c.open("https://py.example/", name)
        subprocess.run([support.CROSSPOST, "post", "https://cli.example/", "--to", name, "--target-origin",
                        "https://py.example", '{"n":[1,{"$bigint":"123456789012345678901234567890"}],'
                        '"d":{"$date":0},"s":{"$set":["x"]},"b":{"$bytes":"AAE="},"c":{"$id":1,"$value":[{"$ref":1}]}}'],
                       check=True, env=support.c_program_env())
        ev = w.get_event(timeout=5)
        self.assertEqual(ev.origin, "https://cli.example")
        d = ev.data
        self.assertEqual(d["n"], [1, 123456789012345678901234567890])
        self.assertIsInstance(d["n"][1], cp.BigInt)
        self.assertEqual(d["d"].isoformat(), "1970-01-01T00:00:00+00:00")
        self.assertEqual(d["s"], {"x"})
        self.assertEqual(bytes(d["b"]), b"\x00\x01")
        self.assertIs(d["c"][0], d["c"])

    def test_data_that_does_not_deserialize_is_a_messageerror(self):
        c = self.client()
        name = self.name()
        w = c.open("https://py.example/", name)
        script = os.path.join(self.broker.dir, "corrupt.scenario")
        with open(script, "w") as f:
            f.write(f"window x https://x.example/\n"
                    f"x post-corrupt name:{name} kind=garbage target=*\n"
                    f"x post name:{name} \"after\" target=*\n"
                    f"x post-corrupt name:{name} kind=truncated target=*\n"
                    f"x post name:{name} \"last\" target=*\n")
        r = subprocess.run([support.CROSSPOST, "run", "--socket", self.broker.socket, script],
                           capture_output=True, text=True, env=support.c_program_env(), timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        ev = w.get_event(timeout=5)
        self.assertEqual((ev.type, ev.data, ev.origin, ev.source.name), ("messageerror", None, "https://x.example", None))
        self.assertEqual(w.get_event(timeout=5).data, "after")
        errors, messages = [], []
        w.onmessageerror = errors.append
        w.onmessage = lambda ev: messages.append(ev.data)
        while len(messages) < 1:
            c.wait(5)
        self.assertEqual(([e.type for e in errors], messages), (["messageerror"], ["last"]))

    def test_a_python_post_to_crosspost_listen(self):
        name = self.name()
        listen = subprocess.Popen([support.CROSSPOST, "listen", "https://cli.example/", "--name", name,
                                   "--count", "1", "--timeout", "10s"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=support.c_program_env(),
                                  text=True)
        try:
            c = self.client()
            w = c.open("https://py.example/")
            cycle = [1]
            cycle.append(cycle)
            w.post_message(w.wait_for_window(name, timeout=10),
                           {"x": cp.undefined, "big": 2 ** 64, "cycle": cycle, "s": "\ud800"}, "https://cli.example")
            out, err = listen.communicate(timeout=20)
        finally:
            listen.kill()
            listen.wait()
        self.assertEqual(listen.returncode, 0, err)
        self.assertEqual(out.strip(), '{"type":"message","data":{"x":{"$undefined":null},'
                         '"big":{"$bigint":"18446744073709551616"},"cycle":{"$id":1,"$value":[1,{"$ref":1}]},'
                         '"s":{"$string":[55296]}},"origin":"https://py.example","source":{"id":%d,"name":null}}' % w.id)


if __name__ == "__main__":
    unittest.main()
