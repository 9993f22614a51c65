# SPDX-License-Identifier: MIT
"""MessageChannel and MessagePort, transfer lists, and every value type
posted through the broker to another client (the wire codec, not just the
in-process graph)."""
import datetime as dt
import math
import re
import unittest

import support
import crosspost as cp


class Ports(support.BrokerTestCase):
    def test_a_channel_in_one_process(self):
        w = self.client().open("https://a.example/")
        ch = cp.MessageChannel(w)
        p1, p2 = ch
        self.assertEqual((p1.state, p2.state), ("open", "open"))
        self.assertNotEqual(p1.id, p2.id)
        p1.post_message({"over": "the port"})
        ev = p2.get_event(timeout=5)
        self.assertEqual((ev.data, ev.origin, ev.source, ev.target), ({"over": "the port"}, "", None, p2))
        p2.post_message("back")
        self.assertEqual(p1.get_event(timeout=5).data, "back")

    def test_messages_wait_until_the_port_starts(self):
        w = self.client().open("https://a.example/")
        p1, p2 = w.create_channel()
        p1.post_message(1)
        p1.post_message(2)
        received = 0
        while received < 2:                         # received, and kept: the port has not started
            received += w.client.wait(5)
        self.assertEqual(list(p2._queue), [])
        seen = []
        p2.onmessage = lambda ev: seen.append(ev.data)  # starts the port, as in HTML
        while len(seen) < 2:
            w.client.wait(5)
        self.assertEqual(seen, [1, 2])

    def test_close(self):
        w = self.client().open("https://a.example/")
        p1, p2 = w.create_channel()
        p2.start()
        p2.close()
        self.assertEqual(p2.state, "closed")
        p2.close()
        p1.post_message("lost")                     # to a closed port: nothing happens
        p2.post_message("nothing")                  # on a closed port: does nothing
        w.client.sync(5)
        with self.assertRaises(cp.TimeoutError_):
            p1.get_event(timeout=0.1)

    def test_transfer_a_port_to_another_client(self):
        a, b = self.client(), self.client()
        wa = a.open("https://a.example/")
        wb = b.open("https://b.example/")
        p1, p2 = wa.create_channel()
        wa.post_message(wb, {"port": p2, "note": "yours"}, "https://b.example", transfer=[p2])
        self.assertEqual(p2.state, "transferred")
        p2.post_message("dead")  # a transferred port's handle is detached: nothing is sent (HTML)
        p1.post_message("sent while in transit")
        ev = wb.get_event(timeout=5)
        (port,) = ev.ports
        self.assertIs(ev.data["port"], port)
        self.assertEqual(port.id, p2.id)
        self.assertIs(port.client, b)
        a.sync(5)                # the old owner reads the broker's hand-over (one process plays both)
        self.assertEqual(port.get_event(timeout=5).data, "sent while in transit")
        port.post_message("hello from b")
        self.assertEqual(p1.get_event(timeout=5).data, "hello from b")   # and not "dead"

    def test_waiting_messages_go_with_a_transferred_port(self):
        a, b = self.client(), self.client()
        wa = a.open("https://a.example/")
        wb = b.open("https://b.example/")
        p1, p2 = wa.create_channel()
        p1.post_message("first")
        self.assertEqual(p2.get_event(timeout=5).data, "first")   # takes one, not the rest
        p1.post_message("second")
        self.assertEqual(a.wait(5), 1)   # "second" received; it waits for p2 in the library
        wa.post_message(wb, {"port": p2}, "https://b.example", transfer=[p2])
        (port,) = wb.get_event(timeout=5).ports
        a.sync(5)                # the hand-over (one process plays both)
        self.assertEqual(port.get_event(timeout=5).data, "second")

    def test_a_port_transferred_over_a_port(self):
        w = self.client().open("https://a.example/")
        p1, p2 = w.create_channel()
        q1, q2 = w.create_channel()
        p1.post_message("take this", transfer=[q2])
        ev = p2.get_event(timeout=5)
        (moved,) = ev.ports
        self.assertIs(moved, q2)            # back in the same client: the same object
        self.assertEqual(moved.state, "open")
        q1.post_message("through the moved port")
        self.assertEqual(moved.get_event(timeout=5).data, "through the moved port")

    def test_transfer_data_clone_errors_move_nothing(self):
        w = self.client().open("https://a.example/")
        p1, p2 = w.create_channel()
        buf = bytearray(b"keep")
        cases = [
            ({"p": p2}, []),                 # a port in the data must be in the transfer list
            ("x", [p2, p2]),                 # the same port twice
            ("x", [buf, buf]),               # the same buffer twice
            ("x", [{"not": "transferable"}]),
            ("x", [cp.TypedArray("Uint8Array", buf)]),   # a view is not transferable
        ]
        for data, transfer in cases:
            with self.assertRaises(cp.DataCloneError, msg=repr(transfer)):
                w.post_message(w, data, "*", transfer=transfer)
        with self.assertRaises(cp.DataCloneError):
            p1.post_message("x", transfer=[p1])          # the port posted on
        self.assertEqual((p1.state, p2.state, bytes(buf)), ("open", "open", b"keep"))

    def test_transferred_buffers(self):
        a, b = self.client(), self.client()
        wa = a.open("https://a.example/")
        wb = b.open("https://b.example/")
        big = bytearray(b"x" * (1 << 20))
        small = bytearray(b"small")
        view = cp.TypedArray("Uint32Array", big, 4, 2)
        wa.post_message(wb, {"big": big, "view": view, "small": small}, "*", transfer=[big, small])
        self.assertEqual((len(big), len(small)), (0, 0))   # detached
        data = wb.get_event(timeout=5).data
        self.assertEqual(len(data["big"]), 1 << 20)
        self.assertIs(data["view"].buffer, data["big"])
        self.assertEqual(bytes(data["small"]), b"small")
        data["big"][0] = ord("y")                    # the receiver's copy-on-write mapping
        self.assertEqual(bytes(data["big"][:2]), b"yx")
        # bytes cannot be detached: they stay, and the receiver still gets them
        frozen = b"z" * 70000
        wa.post_message(wb, frozen, "*", transfer=[frozen])
        self.assertEqual(bytes(wb.get_event(timeout=5).data), frozen)
        self.assertEqual(len(frozen), 70000)
        # a buffer in the list but not in the data still moves
        only_listed = bytearray(b"listed")
        wa.post_message(wb, "no buffer here", "*", transfer=[only_listed])
        self.assertEqual(len(only_listed), 0)
        self.assertEqual(wb.get_event(timeout=5).data, "no buffer here")


class ValuesOnTheWire(support.BrokerTestCase):
    """Each value posted from one client to another comes back equal."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.a = cp.Client(cls.broker.socket)
        cls.b = cp.Client(cls.broker.socket)
        cls.wa = cls.a.open("https://a.example/")
        cls.wb = cls.b.open("https://b.example/")

    @classmethod
    def tearDownClass(cls):
        cls.a.close()
        cls.b.close()
        super().tearDownClass()

    def post(self, value):
        self.wa.post_message(self.wb, value, "https://b.example")
        ev = self.wb.get_event(timeout=5)
        self.assertEqual(ev.type, "message")
        self.assertTrue(cp.structured_equal(ev.data, value), f"{ev.data!r} is not {value!r}")
        return ev.data

    def test_every_type(self):
        utc = dt.timezone.utc
        for value in (None, cp.undefined, True, 0, -7, cp.MAX_SAFE_INTEGER, 2 ** 53, -(2 ** 100), cp.BigInt(5),
                      0.5, math.inf, -0.0, "", "ü\ud800", b"\x00" * 3, bytearray(70000),
                      cp.TypedArray.of("Float32Array", [1.5]), dt.datetime(1999, 12, 31, 23, 59, 59, tzinfo=utc),
                      cp.Date.invalid(), re.compile("a.b", re.S), cp.RegExp("x", "g"), [1, cp.hole],
                      cp.Array([1], {"p": 2}), cp.SparseArray(10 ** 6, {1: 1}), {"k": "v"},
                      cp.Map([(1, 2)]), {1, "1"}, cp.JSSyntaxError("s", "stack"), cp.BooleanObject(True),
                      cp.NumberObject(math.nan), cp.BigIntObject(-1), cp.StringObject("")):
            with self.subTest(value=repr(value)[:40]):
                self.post(value)

    def test_nan_and_negative_zero(self):
        got = self.post([math.nan, -0.0, 0.0])
        self.assertTrue(math.isnan(got[0]))
        self.assertEqual(math.copysign(1, got[1]), -1)
        self.assertIs(type(got[2]), int)

    def test_shared_references_and_cycles(self):
        shared = {"s": 1}
        root = {"a": shared, "b": [shared], "m": cp.Map()}
        root["m"][root] = root["b"]
        root["self"] = root
        got = self.post(root)
        self.assertIs(got["a"], got["b"][0])
        self.assertIs(got["self"], got)
        (k, v), = got["m"].items()
        self.assertIs(k, got)
        self.assertIs(v, got["b"])

    def test_big_graph(self):
        value = [{"i": i, "s": str(i), "l": [i, i + 0.5]} for i in range(20000)]
        got = self.post(value)
        self.assertEqual(got[19999], {"i": 19999, "s": "19999", "l": [19999, 19999.5]})


if __name__ == "__main__":
    unittest.main()
