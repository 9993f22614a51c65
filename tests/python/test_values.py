# SPDX-License-Identifier: MIT
"""Values, in one process: every Python type through a cp_value graph and
back (structured_clone), the tagged JSON libcrosspost writes for it (what
the C tools and scenario files read), and structured equality with the
original (cp_value_equal: types, contents, order and the shape of shared
references and cycles)."""
import array
import datetime as dt
import gc
import math
import re
import sys
import unittest
import weakref

import support  # noqa: F401  (sets the path and the library)
import crosspost as cp
from crosspost import values

UTC = dt.timezone.utc
SKIP = object()


class RoundTrip(unittest.TestCase):
    def check(self, value, json, want=None, want_type=None):
        """value -> tagged JSON `json`; value -> graph -> Python gives `want`
        (default: value), of want_type, structurally equal to value; and the
        JSON read back gives the same."""
        self.assertEqual(cp.to_tagged_json(value), json)
        got = cp.structured_clone(value)
        self.assertTrue(cp.structured_equal(value, got), f"{got!r} is not structurally {value!r}")
        if want_type is not None:
            self.assertIs(type(got), want_type)
        if want is not SKIP:   # (objects as Map keys or Set members compare by identity)
            self.assertEqual(got, value if want is None else want)
        self.assertTrue(cp.structured_equal(cp.from_tagged_json(json), value))
        return got

    def test_null_undefined_booleans(self):
        self.check(None, "null")
        self.assertIs(self.check(cp.undefined, '{"$undefined":null}'), cp.undefined)
        self.assertIs(self.check(True, "true"), True)
        self.assertIs(self.check(False, "false"), False)
        self.assertFalse(cp.undefined)
        self.assertEqual(repr(cp.undefined), "undefined")
        self.assertIs(cp.Undefined(), cp.undefined)

    def test_integers_are_numbers_within_the_safe_range(self):
        for n in (0, 1, -1, 42, cp.MAX_SAFE_INTEGER, -cp.MAX_SAFE_INTEGER):
            self.check(n, str(n), want_type=int)

    def test_integers_beyond_it_are_bigints(self):
        for n in (2 ** 53, -(2 ** 53), 2 ** 64 + 1, -(10 ** 40), 3 ** 200):
            got = self.check(n, '{"$bigint":"%d"}' % n, want_type=cp.BigInt)
            self.assertEqual(int(got), n)

    def test_bigint_stays_a_bigint_whatever_its_size(self):
        for n in (0, 1, -5, 2 ** 70):
            got = self.check(cp.BigInt(n), '{"$bigint":"%d"}' % n, want_type=cp.BigInt)
            self.assertEqual(got, n)
        self.assertEqual(repr(cp.BigInt(3)), "BigInt(3)")

    def test_floats(self):
        self.check(1.5, "1.5", want_type=float)
        self.check(-2.25e-300, "-2.25e-300", want_type=float)
        self.check(math.inf, '{"$number":"Infinity"}', want_type=float)
        self.check(-math.inf, '{"$number":"-Infinity"}', want_type=float)
        nan = cp.structured_clone(math.nan)
        self.assertTrue(math.isnan(nan))
        self.assertEqual(cp.to_tagged_json(math.nan), '{"$number":"NaN"}')
        z = self.check(-0.0, '{"$number":"-0"}', want_type=float)
        self.assertEqual(math.copysign(1, z), -1)
        # an integral float is a number like any other: it comes back an int
        self.assertIs(type(cp.structured_clone(2.0)), int)
        self.assertIs(type(cp.structured_clone(2.0 ** 60)), float)   # beyond the safe range
        self.assertFalse(cp.structured_equal(0.0, -0.0))

    def test_strings_with_lone_surrogates(self):
        self.check("", '""')
        self.check("plain ascii", '"plain ascii"')
        self.check("héllo wörld ✓ 😀", '"héllo wörld ✓ 😀"')
        self.check("nul\x00inside", '"nul\\u0000inside"')
        got = self.check("a\ud800b", '{"$string":["a",55296,"b"]}')
        self.assertEqual(len(got), 3)
        self.check("\udfff", '{"$string":[57343]}')
        self.check("x\udc00\ud800", '{"$string":["x",56320,55296]}')
        # a surrogate pair written as two code points is the character: UTF-16 cannot tell them apart
        got = cp.structured_clone("\ud83d\ude00")
        self.assertEqual(got, "😀")

    def test_array_buffers_are_memoryviews(self):
        got = self.check(b"\x00\x01\xff", '{"$bytes":"AAH/"}', want=b"\x00\x01\xff", want_type=memoryview)
        self.assertEqual(got.format, "B")
        self.assertFalse(got.readonly)
        got[0] = 7                                     # writable, as an ArrayBuffer is
        self.assertEqual(bytes(got), b"\x07\x01\xff")
        self.check(bytearray(b"abc"), '{"$bytes":"YWJj"}', want=b"abc")
        self.check(memoryview(b"abcd")[1:3], '{"$bytes":"YmM="}', want=b"bc")
        self.check(b"", '{"$bytes":""}', want=b"")
        big = bytes(range(256)) * 1024                  # 256 KiB: a memfd-backed buffer
        self.assertEqual(bytes(cp.structured_clone(big)), big)
        # a non-contiguous view is copied
        self.assertEqual(bytes(cp.structured_clone(memoryview(b"abcdef")[::2])), b"ace")

    def test_a_received_buffer_keeps_its_graph_alive(self):
        views = [cp.structured_clone({"a": [b"x" * 100000, 1]})["a"][0] for _ in range(3)]
        gc.collect()
        for v in views:
            self.assertEqual(bytes(v[:3]), b"xxx")
        graph = weakref.ref(views[0].obj._crosspost_graph)
        self.assertIsNotNone(graph().root)
        del views, v
        gc.collect()
        self.assertIsNone(graph(), "the graph is freed with its last memoryview")

    def test_typed_arrays(self):
        ta = cp.TypedArray.of("Int16Array", [1, -2, 300])
        got = self.check(ta, '{"$typed":["Int16Array","AQD+/ywB"]}', want_type=cp.TypedArray)
        self.assertEqual(got.tolist(), [1, -2, 300])
        self.assertEqual(list(got), [1, -2, 300])
        self.assertEqual(got[2], 300)
        self.assertEqual(got.view().format, "h")
        for kind, items in (("Int8Array", [-1, 2]), ("Uint8Array", [255]), ("Uint8ClampedArray", [0, 255]),
                            ("Uint16Array", [65535]), ("Int32Array", [-2 ** 31]), ("Uint32Array", [2 ** 32 - 1]),
                            ("Float16Array", [1.5, -2.0]), ("Float32Array", [0.25]), ("Float64Array", [math.pi]),
                            ("BigInt64Array", [-2 ** 63]), ("BigUint64Array", [2 ** 64 - 1]),
                            ("DataView", [1, 2, 3])):
            got = cp.structured_clone(cp.TypedArray.of(kind, items))
            self.assertEqual((got.kind, got.tolist()), (kind, items))
        self.assertEqual(cp.TypedArray.of("Uint8ClampedArray", [-5, 300]).tolist(), [0, 255])

    def test_views_share_their_buffer(self):
        buf = bytearray(16)
        a = cp.TypedArray("Uint8Array", buf, 4, 8)
        b = cp.TypedArray("Float64Array", buf, 8, 1)
        got = self.check([a, b, buf],
                         '[{"$typed":["Uint8Array",{"$id":1,"$value":{"$bytes":"AAAAAAAAAAAAAAAAAAAAAA=="}},4,8]},'
                         '{"$typed":["Float64Array",{"$ref":1},8,1]},{"$ref":1}]')
        self.assertIs(got[0].buffer, got[2])
        self.assertIs(got[1].buffer, got[2])
        got[2][8:16] = array.array("d", [2.5]).tobytes()
        self.assertEqual(got[1][0], 2.5)               # written through the shared buffer
        self.assertEqual((got[0].byte_offset, got[0].length), (4, 8))

    def test_array_array_posts_as_a_typed_array(self):
        got = cp.structured_clone(array.array("d", [1.5, -2]))
        self.assertEqual((got.kind, got.tolist()), ("Float64Array", [1.5, -2.0]))
        got = cp.structured_clone(array.array("H", [7]))
        self.assertEqual(got.kind, "Uint16Array")
        with self.assertRaises(cp.DataCloneError):
            cp.structured_clone(array.array("u", "x"))

    def test_dates(self):
        d = dt.datetime(2024, 2, 29, 12, 30, 45, 123000, tzinfo=UTC)
        got = self.check(d, '{"$date":1709209845123}', want_type=dt.datetime)
        self.assertEqual(got.tzinfo, UTC)
        # other zones are the same instant; received Dates are in UTC
        paris = dt.timezone(dt.timedelta(hours=1))
        got = self.check(d.astimezone(paris), '{"$date":1709209845123}', want=d)
        # microseconds are truncated to milliseconds (toward zero, as TimeClip)
        self.assertEqual(cp.structured_clone(d.replace(microsecond=123999)), d)
        before = dt.datetime(1969, 12, 31, 23, 59, 59, 999500, tzinfo=UTC)
        self.assertEqual(cp.to_tagged_json(before), '{"$date":0}')
        # invalid, and beyond datetime's years: crosspost.Date
        got = self.check(cp.Date.invalid(), '{"$date":{"$number":"NaN"}}', want_type=cp.Date)
        self.assertFalse(got.valid)
        got = self.check(cp.Date(8.64e15), '{"$date":8640000000000000}', want_type=cp.Date)
        self.assertTrue(got.valid)
        self.assertEqual(cp.Date(8.64e15 + 1), cp.Date.invalid())   # TimeClip
        self.assertEqual(cp.to_tagged_json(cp.Date(1.9)), '{"$date":1}')
        with self.assertRaisesRegex(cp.DataCloneError, "naive datetime"):
            cp.to_tagged_json(dt.datetime(2024, 1, 1))
        with self.assertRaises(cp.DataCloneError):
            cp.to_tagged_json(dt.date(2024, 1, 1))

    def test_regexps(self):
        got = self.check(re.compile(r"a+\d", re.I | re.S), '{"$regexp":["a+\\\\d","is"]}', want_type=re.Pattern)
        self.assertEqual(got.flags & (re.I | re.S | re.M), re.I | re.S)
        self.check(re.compile("^x$", re.M), '{"$regexp":["^x$","m"]}')
        # flags Python's re lacks, or a source it does not compile: RegExp
        got = self.check(cp.RegExp("x", "gy"), '{"$regexp":["x","gy"]}', want_type=cp.RegExp)
        self.assertEqual(got.compile().pattern, "x")
        self.check(cp.RegExp("(?<n>a)\\k<n>", ""), '{"$regexp":["(?<n>a)\\\\k<n>",""]}', want_type=cp.RegExp)
        self.assertEqual(cp.RegExp("a", "yg").flags, "gy")                   # canonical order
        with self.assertRaises(cp.SyntaxError_):
            cp.RegExp("a", "gg")
        with self.assertRaises(cp.SyntaxError_):
            cp.to_tagged_json(cp.RegExp("a", "uv"))
        with self.assertRaises(cp.DataCloneError):
            cp.to_tagged_json(re.compile("a  b", re.X))
        with self.assertRaises(cp.DataCloneError):
            cp.to_tagged_json(re.compile(b"bytes"))

    def test_lists_tuples_and_holes(self):
        self.check([1, "two", None, [3.5]], '[1,"two",null,[3.5]]')
        got = self.check((1, 2), "[1,2]", want=[1, 2], want_type=list)
        got = self.check([cp.hole, 1, cp.hole], '{"$array":[3,[[1,1]],[]]}')
        self.assertIs(got[0], cp.hole)
        self.assertEqual(len(got), 3)
        self.assertFalse(cp.structured_equal([cp.hole], [cp.undefined]))
        self.check([], "[]")

    def test_arrays_with_properties(self):
        got = self.check(cp.Array([1], {"name": "x"}), '{"$array":[1,[[0,1]],[["name","x"]]]}',
                         want_type=cp.Array)
        self.assertEqual(got.properties, {"name": "x"})
        with self.assertRaises(cp.TypeError_):     # "length" is refused by the library
            cp.to_tagged_json(cp.Array([], {"length": 1}))

    def test_sparse_arrays(self):
        got = self.check(cp.SparseArray(2 ** 32 - 1, {0: "a", 10 ** 9: "b"}),
                         '{"$array":[4294967295,[[0,"a"],[1000000000,"b"]],[]]}', want_type=cp.SparseArray)
        self.assertEqual(got[10 ** 9], "b")
        self.assertIs(got[5], cp.hole)
        # a peer's few bytes cannot make this process build a huge list
        got = cp.from_tagged_json('{"$array":[4294967295,[[7,1]],[]]}')
        self.assertIsInstance(got, cp.SparseArray)
        # up to LIST_HOLES_MAX holes it is a list
        got = cp.from_tagged_json('{"$array":[%d,[],[]]}' % cp.LIST_HOLES_MAX)
        self.assertEqual(len(got), cp.LIST_HOLES_MAX)

    def test_dicts_are_objects(self):
        # JavaScript's key order: array indices first, ascending
        got = self.check({"b": 1, "2": 2, "a": 3, "1": 4}, '{"1":4,"2":2,"b":1,"a":3}',
                         want={"1": 4, "2": 2, "b": 1, "a": 3})
        self.assertEqual(list(got), ["1", "2", "b", "a"])
        self.check({"$x": 1}, '{"$object":[["$x",1]]}')
        self.check({"k\ud800": 1}, '{"$object":[[{"$string":["k",55296]},1]]}')
        self.check({"a\x00b": 1}, '{"$object":[["a\\u0000b",1]]}')
        with self.assertRaisesRegex(cp.DataCloneError, "use crosspost.Map"):
            cp.to_tagged_json({1: "x"})

    def test_maps(self):
        key = {"id": 1}
        m = cp.Map([(1, "one"), ("1", "string one"), (cp.BigInt(1), "bigint one"), (key, "object"),
                    (math.nan, "nan"), (None, "null"), (cp.undefined, "undefined")])
        got = self.check(m, '{"$map":[[1,"one"],["1","string one"],[{"$bigint":"1"},"bigint one"],'
                            '[{"id":1},"object"],[{"$number":"NaN"},"nan"],[null,"null"],'
                            '[{"$undefined":null},"undefined"]]}', want=SKIP, want_type=cp.Map)
        self.assertEqual(got[math.nan], "nan")
        self.assertEqual(got[1.0], "one")                # SameValueZero: 1 and 1.0 are one number
        obj_key = [k for k in got if isinstance(k, dict)][0]
        self.assertEqual(got[obj_key], "object")
        self.assertNotIn({"id": 1}, got)                 # objects by identity
        m2 = cp.Map()
        m2[-0.0] = "zero"
        m2[0] = "again"
        self.assertEqual(list(m2.items()), [(-0.0, "again")])
        self.assertEqual(cp.Map({"a": 1}), {"a": 1})

    def test_sets(self):
        got = self.check({3, 1}, "{\"$set\":[%s]}" % ",".join(str(x) for x in {3, 1}), want_type=cp.Set)
        self.assertEqual(got, {1, 3})
        self.check(frozenset(["x"]), '{"$set":["x"]}', want_type=cp.Set)
        member = [1]
        got = self.check(cp.Set([member, member, "a"]), '{"$set":[[1],"a"]}', want=SKIP)
        self.assertEqual(len(got), 2)
        # two NaN objects are one member, as in JavaScript
        self.assertEqual(cp.to_tagged_json({float("nan"), float("nan")}), '{"$set":[{"$number":"NaN"}]}')

    def test_errors(self):
        got = self.check(cp.JSTypeError("bad", "at f (x.js:1:2)"), '{"$error":["TypeError","bad","at f (x.js:1:2)"]}',
                         want_type=cp.JSTypeError)
        self.assertEqual((got.message, got.stack, str(got)), ("bad", "at f (x.js:1:2)", "bad"))
        self.assertIsInstance(got, Exception)
        for cls in (cp.JSError, cp.JSEvalError, cp.JSRangeError, cp.JSReferenceError, cp.JSSyntaxError,
                    cp.JSURIError):
            self.assertIs(type(cp.structured_clone(cls("m"))), cls)
        got = self.check(cp.JSError(), '{"$error":["Error"]}')
        self.assertIsNone(got.message)
        self.check(cp.JSError(""), '{"$error":["Error",""]}')
        # Python exceptions: their JavaScript twin's name, else "Error"; no stack
        self.assertEqual(cp.to_tagged_json(TypeError("t")), '{"$error":["TypeError","t"]}')
        self.assertEqual(cp.to_tagged_json(NameError("n")), '{"$error":["ReferenceError","n"]}')
        self.assertEqual(cp.to_tagged_json(KeyError("k")), '{"$error":["Error","\'k\'"]}')
        self.assertEqual(cp.to_tagged_json(ValueError()), '{"$error":["Error"]}')

    def test_wrapper_objects(self):
        self.check(cp.BooleanObject(True), '{"$wrapper":true}', want_type=cp.BooleanObject)
        self.check(cp.NumberObject(-0.5), '{"$wrapper":-0.5}', want_type=cp.NumberObject)
        self.check(cp.BigIntObject(2 ** 80), '{"$wrapper":{"$bigint":"%d"}}' % 2 ** 80)
        self.check(cp.StringObject("s\ud800"), '{"$wrapper":{"$string":["s",55296]}}')
        w = cp.StringObject("same")
        got = cp.structured_clone([w, w])
        self.assertIs(got[0], got[1])                    # wrappers are objects: shared stays shared

    def test_host_objects_do_not_post_but_clone(self):
        self.check(cp.HostObject("function f() {}"), '{"$host":"function f() {}"}')

    def test_unsupported_types_are_data_clone_errors(self):
        for bad in (lambda: 1, object(), 1j, sys, range(3), Ellipsis):
            with self.assertRaises(cp.DataCloneError, msg=repr(bad)):
                cp.to_tagged_json({"x": [bad]})

    def test_shared_references_keep_their_shape(self):
        shared = {"n": 1}
        got = self.check([shared, shared], '[{"$id":1,"$value":{"n":1}},{"$ref":1}]')
        self.assertIs(got[0], got[1])
        self.assertFalse(cp.structured_equal([shared, shared], [{"n": 1}, {"n": 1}]))
        buf = bytearray(b"z")
        got = cp.structured_clone({"a": buf, "b": buf, "m": cp.Map([(buf, buf)])})
        self.assertIs(got["a"], got["b"])
        self.assertIs(list(got["m"].items())[0][0], got["a"])
        when = dt.datetime(2000, 1, 1, tzinfo=UTC)
        got = cp.structured_clone([when, when])
        self.assertIs(got[0], got[1])

    def test_cycles(self):
        a = []
        a.append(a)
        got = self.check(a, '{"$id":1,"$value":[{"$ref":1}]}', want=None) if False else None
        self.assertEqual(cp.to_tagged_json(a), '{"$id":1,"$value":[{"$ref":1}]}')
        got = cp.structured_clone(a)
        self.assertIs(got[0], got)
        self.assertTrue(cp.structured_equal(a, got))
        d = {"name": "root", "children": []}
        child = {"parent": d}
        d["children"].append(child)
        d["self"] = d
        got = cp.structured_clone(d)
        self.assertIs(got["self"], got)
        self.assertIs(got["children"][0]["parent"], got)
        m = cp.Map()
        m[m] = m
        got = cp.structured_clone(m)
        (k, v), = got.items()
        self.assertIs(k, got)
        self.assertIs(v, got)
        s = cp.Set()
        s.add(s)
        got = cp.structured_clone(s)
        self.assertIs(next(iter(got)), got)
        arr = cp.Array([], {})
        arr.properties["me"] = arr
        got = cp.structured_clone(arr)
        self.assertIs(got.properties["me"], got)
        # a cycle is not its unrolling
        self.assertFalse(cp.structured_equal(a, [[]]))

    def test_deep_graphs_need_no_recursion(self):
        depth = 100000
        root = cur = []
        for _ in range(depth):
            nxt = []
            cur.append(nxt)
            cur = nxt
        got = cp.structured_clone(root)
        n = 0
        while got:
            got = got[0]
            n += 1
        self.assertEqual(n, depth)
        d = {}
        cur = d
        for _ in range(depth):
            cur["x"] = {}
            cur = cur["x"]
        self.assertTrue(cp.structured_equal(d, cp.structured_clone(d)))

    def test_a_failed_encode_frees_what_it_built(self):
        # Every kind of container, then a value that cannot be cloned deep inside
        for bad in ([1, {"a": cp.Map([(1, {2: 3})])}], [cp.Set([1, object()])], {"x": [b"y", lambda: 0]}):
            with self.assertRaises(cp.DataCloneError):
                cp.to_tagged_json(bad)

    def test_everything_at_once_through_the_json_of_the_c_library(self):
        shared = bytearray(b"shared")
        value = {"none": None, "u": cp.undefined, "b": True, "i": 7, "f": 0.1, "big": 2 ** 64,
                 "s": "s\ud800", "buf": shared, "view": cp.TypedArray("Uint8Array", shared, 1, 2),
                 "date": dt.datetime(2001, 2, 3, tzinfo=UTC), "re": re.compile("x", re.I),
                 "list": [1, cp.hole, 3], "map": cp.Map([(shared, "buffer key")]), "set": {"m"},
                 "err": cp.JSURIError("u"), "w": cp.NumberObject(1)}
        value["cycle"] = value
        text = cp.to_tagged_json(value)
        back = cp.from_tagged_json(text)
        self.assertTrue(cp.structured_equal(value, back))
        self.assertEqual(cp.to_tagged_json(back), text)
        self.assertIs(back["cycle"], back)
        self.assertIs(back["view"].buffer, back["buf"])


class Mapping(unittest.TestCase):
    """The helper types behave as documented."""

    def test_map_is_ordered_and_keeps_the_first_key(self):
        m = cp.Map()
        m["b"] = 1
        m["a"] = 2
        m["b"] = 3
        self.assertEqual(list(m), ["b", "a"])
        self.assertEqual(m.items(), [("b", 3), ("a", 2)])
        del m["b"]
        self.assertEqual(len(m), 1)
        self.assertNotEqual(cp.Map([(1, 2)]), cp.Map([(1, 3)]))

    def test_set_equality(self):
        self.assertEqual(cp.Set([1, 2]), cp.Set([2, 1]))
        self.assertEqual(cp.Set([1, 2]), frozenset([1, 2]))
        self.assertNotEqual(cp.Set([1]), cp.Set([cp.BigInt(1)]))

    def test_same_value_zero_keys(self):
        k = values._same_value_zero_key
        self.assertEqual(k(0.0), k(-0.0))
        self.assertEqual(k(float("nan")), k(float("nan")))
        self.assertNotEqual(k(1), k(cp.BigInt(1)))
        self.assertNotEqual(k(1), k(True))
        self.assertEqual(k(2 ** 60), k(cp.BigInt(2 ** 60)))   # beyond the safe range an int is a bigint


if __name__ == "__main__":
    unittest.main()
