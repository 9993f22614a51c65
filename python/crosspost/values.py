# SPDX-License-Identifier: MIT
"""values - Python objects to structured-clone value graphs and back.

A message's data is a graph of cp_value nodes (docs/values.md).  Encoding
builds that graph node by node with the C API, walking the Python objects
with an explicit work list and a memo keyed by identity, so shared
references and cycles keep their shape and depth is not limited by
Python's recursion limit.  Decoding walks a received graph the same way,
with a memo keyed by node, and gives each object node one Python object.

The mapping, both ways (python/README.md has the table with the reasons):

    None <-> null            undefined <-> undefined      bool <-> boolean
    int  -> number within +-(2**53 - 1), else bigint;  number -> int when
            integral within that range (and not -0), else float
    float <-> number (NaN, +-inf, -0.0 kept)          BigInt(int) <-> bigint
    str <-> string (lone surrogates kept: WTF-8)
    bytes, bytearray, memoryview -> ArrayBuffer -> memoryview (no copy)
    array.array -> typed array;  TypedArray <-> typed array or DataView
    datetime (aware) <-> Date (naive: DataCloneError);  Date <-> other Dates
    re.Pattern <-> RegExp (flags i, m, s);  RegExp <-> other RegExps
    list, tuple -> Array -> list (holes: hole);  Array (a list with named
            properties), SparseArray (too many holes for a list) <-> Array
    dict (str keys) <-> Object;  Map <-> Map;  set, frozenset -> Set -> Set
    BaseException -> Error -> JSError and its subclasses (by name)
    BooleanObject, NumberObject, BigIntObject, StringObject <-> wrappers
    MessagePort <-> MessagePort (in data and in the transfer list)
    HostObject <-> host object (posting it is a DataCloneError)
"""
import array as _array
import collections.abc
import ctypes
import datetime as _dt
import math
import re
import struct

from . import errors
from ._lib import lib, byref, c_size_t, c_bool, c_uint32, c_void_p, take_string

# cp_value_type (client/crosspost.h)
T_UNDEFINED, T_NULL, T_BOOLEAN, T_NUMBER, T_BIGINT, T_STRING = 1, 2, 3, 4, 5, 6
T_BOOLEAN_OBJECT, T_NUMBER_OBJECT, T_BIGINT_OBJECT, T_STRING_OBJECT = 7, 8, 9, 10
T_DATE, T_REGEXP, T_ARRAY_BUFFER, T_VIEW, T_MAP, T_SET, T_ARRAY, T_OBJECT = 11, 12, 13, 14, 15, 16, 17, 18
T_ERROR, T_HOST_OBJECT, T_PORT = 19, 20, 21

#: The largest integer a JavaScript number holds unambiguously
#: (Number.MAX_SAFE_INTEGER); Python ints beyond it travel as BigInts.
MAX_SAFE_INTEGER = 2 ** 53 - 1
#: A received Array becomes a list unless it has more holes than this; then
#: a SparseArray (a peer can send length 4294967295 in a few bytes).
LIST_HOLES_MAX = 1 << 16
_ARRAY_LENGTH_MAX = 2 ** 32 - 1

_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


# ---------------------------------------------------------------------------
# Types for what Python has no type of its own for
# ---------------------------------------------------------------------------

class _Singleton:
    """One instance per subclass, false, and pickled as itself."""
    __slots__ = ()
    _instance = None

    def __new__(cls):
        if cls.__dict__.get("_instance") is None:
            cls._instance = object.__new__(cls)
        return cls._instance

    def __bool__(self):
        return False

    def __reduce__(self):
        return (type(self), ())


class Undefined(_Singleton):
    """JavaScript's undefined; crosspost.undefined is the one instance."""
    __slots__ = ()
    _instance = None

    def __repr__(self):
        return "undefined"


class Hole(_Singleton):
    """An array element that does not exist (JavaScript [1, , 3]);
    crosspost.hole is the one instance.  Differs from undefined."""
    __slots__ = ()
    _instance = None

    def __repr__(self):
        return "hole"


undefined = Undefined()
hole = Hole()


class BigInt(int):
    """An int that travels as a JavaScript BigInt whatever its size.
    Received BigInts are BigInt, so they go back as BigInts."""
    __slots__ = ()

    def __repr__(self):
        return f"BigInt({int(self)})"


class Date:
    """A JavaScript Date that datetime cannot hold: an invalid Date
    (ms is NaN; Date.invalid()), or one beyond datetime's years 1-9999.
    ms is TimeClip'ed like new Date(ms)."""
    __slots__ = ("ms",)

    def __init__(self, ms):
        ms = float(ms)
        if not math.isfinite(ms) or abs(ms) > 8.64e15:
            ms = math.nan
        else:
            ms = float(math.trunc(ms)) + 0.0
        self.ms = ms

    @classmethod
    def invalid(cls):
        return cls(math.nan)

    @property
    def valid(self):
        return not math.isnan(self.ms)

    def __eq__(self, other):
        if isinstance(other, Date):
            return self.ms == other.ms or (math.isnan(self.ms) and math.isnan(other.ms))
        return NotImplemented

    __hash__ = None

    def __repr__(self):
        return f"Date({self.ms!r})" if self.valid else "Date(nan)"


class RegExp:
    """A JavaScript RegExp that re.Pattern does not stand for: flags beyond
    i, m and s, or a source Python's re does not compile.  compile() tries
    anyway, with the flags that map."""
    __slots__ = ("source", "flags")

    def __init__(self, source, flags=""):
        self.source = str(source)
        self.flags = "".join(sorted(set(flags), key="dgimsuvy".index)) if flags else ""
        if len(self.flags) != len(flags) or any(f not in "dgimsuvy" for f in flags):
            raise errors.SyntaxError_(f"invalid RegExp flags {flags!r}")

    def compile(self):
        return re.compile(self.source, _python_re_flags(self.flags))

    def __eq__(self, other):
        if isinstance(other, RegExp):
            return (self.source, self.flags) == (other.source, other.flags)
        return NotImplemented

    __hash__ = None

    def __repr__(self):
        return f"RegExp({self.source!r}, {self.flags!r})"


_RE_FLAGS = (("i", re.IGNORECASE), ("m", re.MULTILINE), ("s", re.DOTALL))


def _python_re_flags(js_flags):
    value = 0
    for letter, flag in _RE_FLAGS:
        if letter in js_flags:
            value |= flag
    return value


def _same_value_zero_key(value):
    """A hashable key under which JavaScript's SameValueZero matches: NaN is
    NaN, 0 is -0, numbers and bigints differ, objects go by identity."""
    if value is None:
        return ("null",)
    if value is undefined:
        return ("undefined",)
    t = type(value)
    if t is bool:
        return ("boolean", value)
    if isinstance(value, BigInt):
        return ("bigint", int(value))
    if isinstance(value, int) and not isinstance(value, bool):
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            return ("number", float(value))
        return ("bigint", int(value))
    if isinstance(value, float):
        return ("number", "NaN") if math.isnan(value) else ("number", value + 0.0)
    if isinstance(value, str):
        return ("string", _normalize_surrogates(str(value)))
    return ("object", id(value))


class Map(collections.abc.MutableMapping):
    """A JavaScript Map: insertion-ordered, keys of any type, compared as
    JavaScript does (SameValueZero: primitives by value, NaN matching NaN;
    everything else - dicts, lists, Maps... - by identity).  Setting an
    existing key keeps its place.  == ignores order, as dict's does."""

    def __init__(self, items=()):
        self._items = {}
        if isinstance(items, collections.abc.Mapping):
            items = items.items()
        for k, v in items:
            self[k] = v

    def __getitem__(self, key):
        return self._items[_same_value_zero_key(key)][1]

    def __setitem__(self, key, value):
        k = _same_value_zero_key(key)
        old = self._items.get(k)
        self._items[k] = (old[0] if old else key, value)

    def __delitem__(self, key):
        del self._items[_same_value_zero_key(key)]

    def __iter__(self):
        return (k for k, _ in self._items.values())

    def __len__(self):
        return len(self._items)

    def __contains__(self, key):
        return _same_value_zero_key(key) in self._items

    def items(self):
        return [(k, v) for k, v in self._items.values()]

    def values(self):
        return [v for _, v in self._items.values()]

    def __eq__(self, other):
        if not isinstance(other, (Map, dict)):
            return NotImplemented
        if len(self) != len(other):
            return False
        if isinstance(other, dict):
            other = Map(other)
        return all(k in other._items and other._items[k][1] == v for k, (_, v) in self._items.items())

    __hash__ = None

    def __repr__(self):
        return "Map([" + ", ".join(f"({k!r}, {v!r})" for k, v in self._items.values()) + "])"


class Set(collections.abc.MutableSet):
    """A JavaScript Set: insertion-ordered, members of any type, compared
    with SameValueZero as Map's keys are.  == ignores order, and compares
    with set and frozenset too."""

    def __init__(self, members=()):
        self._members = {}
        for m in members:
            self.add(m)

    def add(self, member):
        self._members.setdefault(_same_value_zero_key(member), member)

    def discard(self, member):
        self._members.pop(_same_value_zero_key(member), None)

    def __contains__(self, member):
        return _same_value_zero_key(member) in self._members

    def __iter__(self):
        return iter(list(self._members.values()))

    def __len__(self):
        return len(self._members)

    def __eq__(self, other):
        if isinstance(other, (set, frozenset)):
            other = Set(other)
        if not isinstance(other, Set):
            return NotImplemented
        return len(self) == len(other) and all(k in other._members for k in self._members)

    __hash__ = None

    def __repr__(self):
        return "Set([" + ", ".join(repr(m) for m in self._members.values()) + "])"


class Array(list):
    """A JavaScript Array with named (non-index) properties: a list, plus
    the properties in .properties (a dict with str keys)."""

    def __init__(self, items=(), properties=None):
        super().__init__(items)
        self.properties = dict(properties or {})

    def __eq__(self, other):
        if isinstance(other, Array):
            return list.__eq__(self, other) and self.properties == other.properties
        return list.__eq__(self, other)

    __hash__ = None

    def __repr__(self):
        return f"Array({list.__repr__(self)}, {self.properties!r})"


class SparseArray:
    """A JavaScript Array with more holes than a list should hold
    (crosspost.LIST_HOLES_MAX): its length, the elements that exist
    ({index: value}) and named properties ({key: value})."""

    def __init__(self, length, elements=None, properties=None):
        if not 0 <= length <= _ARRAY_LENGTH_MAX:
            raise ValueError(f"an array length is between 0 and {_ARRAY_LENGTH_MAX}")
        self.length = length
        self.elements = dict(elements or {})
        self.properties = dict(properties or {})

    def __len__(self):
        return self.length

    def __getitem__(self, index):
        if not 0 <= index < self.length:
            raise IndexError(index)
        return self.elements.get(index, hole)

    def __eq__(self, other):
        if isinstance(other, SparseArray):
            return (self.length, self.elements, self.properties) == \
                (other.length, other.elements, other.properties)
        return NotImplemented

    __hash__ = None

    def __repr__(self):
        return f"SparseArray({self.length}, {self.elements!r}, {self.properties!r})"


# Typed arrays: JavaScript name -> (cp_view_kind, struct format, element size)
_VIEW_KINDS = {
    "Int8Array": (1, "b", 1), "Uint8Array": (2, "B", 1), "Uint8ClampedArray": (3, "B", 1),
    "Int16Array": (4, "h", 2), "Uint16Array": (5, "H", 2), "Int32Array": (6, "i", 4),
    "Uint32Array": (7, "I", 4), "Float16Array": (8, "e", 2), "Float32Array": (9, "f", 4),
    "Float64Array": (10, "d", 8), "BigInt64Array": (11, "q", 8), "BigUint64Array": (12, "Q", 8),
    "DataView": (13, "B", 1),
}
_VIEW_BY_CODE = {code: name for name, (code, _, _) in _VIEW_KINDS.items()}
# array.array typecode -> typed array (by the item size of this platform)
_ARRAY_TYPECODES = {}
for _tc in "bBhHiIlLqQfd":
    _size = _array.array(_tc).itemsize
    _signed = _tc.islower()
    if _tc == "f":
        _ARRAY_TYPECODES[_tc] = "Float32Array"
    elif _tc == "d":
        _ARRAY_TYPECODES[_tc] = "Float64Array"
    else:
        _ARRAY_TYPECODES[_tc] = {1: "Int8Array", 2: "Int16Array", 4: "Int32Array", 8: "BigInt64Array"}[_size] \
            if _signed else {1: "Uint8Array", 2: "Uint16Array", 4: "Uint32Array", 8: "BigUint64Array"}[_size]


class TypedArray:
    """A JavaScript typed array or DataView: a window of `length` elements
    (bytes for a DataView) at `byte_offset` into `buffer`, an ArrayBuffer
    (bytes, bytearray or memoryview; a received one is a memoryview).
    Views of one buffer object share it, in Python and once posted.

    TypedArray.of("Float64Array", [1.5, 2]) makes one over a fresh buffer;
    an array.array posts as the typed array of its typecode.  Elements are
    read with ta[i], list(ta) or ta.tolist(); memoryview(ta) is the elements
    without a copy (Float16Array and DataView: the bytes)."""
    __slots__ = ("kind", "buffer", "byte_offset", "length")

    def __init__(self, kind, buffer, byte_offset=0, length=None):
        if kind not in _VIEW_KINDS:
            raise errors.TypeError_(f"unknown typed array kind {kind!r}")
        size = _VIEW_KINDS[kind][2]
        nbytes = memoryview(buffer).nbytes
        if length is None:
            length = (nbytes - byte_offset) // size
        if byte_offset % size or byte_offset < 0 or length < 0 or byte_offset + length * size > nbytes:
            raise errors.TypeError_(f"a {kind} of {length} elements at byte {byte_offset} "
                                    f"does not fit a buffer of {nbytes} bytes")
        self.kind, self.buffer, self.byte_offset, self.length = kind, buffer, byte_offset, length

    @classmethod
    def of(cls, kind, values):
        """A typed array over a new buffer (a bytearray) holding values."""
        fmt = _VIEW_KINDS[kind][1]
        if kind == "Uint8ClampedArray":
            values = [min(255, max(0, round(v))) for v in values]
        values = list(values)
        return cls(kind, bytearray(struct.pack(f"={len(values)}{fmt}", *values)))

    @property
    def element_size(self):
        return _VIEW_KINDS[self.kind][2]

    @property
    def byte_length(self):
        return self.length * self.element_size

    def _bytes(self):
        return memoryview(self.buffer).cast("B")[self.byte_offset:self.byte_offset + self.byte_length]

    def __buffer_view(self):
        fmt = _VIEW_KINDS[self.kind][1]
        raw = self._bytes()
        return raw if fmt == "e" or self.kind == "DataView" else raw.cast(fmt)

    def view(self):
        """The elements as a memoryview (no copy); bytes for Float16Array and DataView."""
        return self.__buffer_view()

    def tolist(self):
        fmt = _VIEW_KINDS[self.kind][1]
        return list(struct.unpack(f"={self.length}{fmt}", self._bytes()))

    def __len__(self):
        return self.length

    def __iter__(self):
        return iter(self.tolist())

    def __getitem__(self, index):
        return self.tolist()[index]

    def __eq__(self, other):
        if isinstance(other, TypedArray):
            return (self.kind, self.length, self.byte_offset, self.byte_length) == \
                (other.kind, other.length, other.byte_offset, other.byte_length) and \
                self._bytes() == other._bytes()
        return NotImplemented

    __hash__ = None

    def __repr__(self):
        return f"TypedArray({self.kind!r}, {self.tolist()!r})"


class _Wrapper:
    __slots__ = ("value",)

    def __eq__(self, other):
        if type(self) is type(other):
            return self.value == other.value or (self.value != self.value and other.value != other.value)
        return NotImplemented

    __hash__ = None

    def __repr__(self):
        return f"{type(self).__name__}({self.value!r})"


class BooleanObject(_Wrapper):
    """new Boolean(value)."""
    __slots__ = ()

    def __init__(self, value):
        self.value = bool(value)


class NumberObject(_Wrapper):
    """new Number(value)."""
    __slots__ = ()

    def __init__(self, value):
        self.value = value


class BigIntObject(_Wrapper):
    """Object(BigInt(value))."""
    __slots__ = ()

    def __init__(self, value):
        self.value = BigInt(value)


class StringObject(_Wrapper):
    """new String(value)."""
    __slots__ = ()

    def __init__(self, value):
        self.value = str(value)


class HostObject:
    """Something structured clone refuses (a function, a DOM node, ...):
    it can be built and printed, but posting it raises DataCloneError."""
    __slots__ = ("description",)

    def __init__(self, description):
        self.description = description

    def __eq__(self, other):
        if isinstance(other, HostObject):
            return self.description == other.description
        return NotImplemented

    __hash__ = None

    def __repr__(self):
        return f"HostObject({self.description!r})"


class JSError(Exception):
    """A JavaScript Error value (name "Error").  Received Errors are
    instances of this class or of the subclass of their name (JSTypeError
    for "TypeError", ...); .message and .stack are None when absent."""
    js_name = "Error"

    def __init__(self, message=None, stack=None):
        super().__init__(*(() if message is None else (message,)))
        self.message = message
        self.stack = stack

    def __eq__(self, other):
        if isinstance(other, JSError):
            return (self.js_name, self.message, self.stack) == (other.js_name, other.message, other.stack)
        return NotImplemented

    __hash__ = Exception.__hash__

    def __repr__(self):
        return f"{type(self).__name__}({self.message!r})"


class JSEvalError(JSError):
    js_name = "EvalError"


class JSRangeError(JSError):
    js_name = "RangeError"


class JSReferenceError(JSError):
    js_name = "ReferenceError"


class JSSyntaxError(JSError):
    js_name = "SyntaxError"


class JSTypeError(JSError):
    js_name = "TypeError"


class JSURIError(JSError):
    js_name = "URIError"


_JS_ERRORS = {cls.js_name: cls for cls in (JSError, JSEvalError, JSRangeError, JSReferenceError,
                                           JSSyntaxError, JSTypeError, JSURIError)}
# Python exceptions that have a JavaScript twin; any other is an "Error".
_PYTHON_ERROR_NAMES = ((TypeError, "TypeError"), (NameError, "ReferenceError"),
                       (SyntaxError, "SyntaxError"))


def _error_name(exc):
    if isinstance(exc, JSError):
        return exc.js_name
    for cls, name in _PYTHON_ERROR_NAMES:
        if isinstance(exc, cls):
            return name
    return "Error"


# ---------------------------------------------------------------------------
# Strings: Python str <-> WTF-8
# ---------------------------------------------------------------------------

def _normalize_surrogates(s):
    """A str whose surrogate pairs (two code points) are joined into one,
    as UTF-16 cannot tell them apart; lone surrogates stay."""
    try:
        s.encode("utf-8")
        return s
    except UnicodeEncodeError:
        return s.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")


def wtf8(s):
    """The WTF-8 of a str: UTF-8, lone surrogates written like code points."""
    try:
        return s.encode("utf-8")
    except UnicodeEncodeError:
        return _normalize_surrogates(s).encode("utf-8", "surrogatepass")


def from_wtf8(b):
    return b.decode("utf-8", "surrogatepass")


def _read_text(func, node):
    n = c_size_t()
    address = func(node, byref(n))
    if not address:
        return None
    return from_wtf8(ctypes.string_at(address, n.value))


# ---------------------------------------------------------------------------
# Encoding: Python -> cp_value graph
# ---------------------------------------------------------------------------

def _new(func, *args):
    ret = c_void_p()
    func(*args, byref(ret))
    return ret.value


def _clone_error(what):
    return errors.DataCloneError(f"{what} could not be cloned")


def _datetime_ms(value):
    if value.tzinfo is None or value.utcoffset() is None:
        raise errors.DataCloneError(
            "a naive datetime could not be cloned: a Date is an instant, so give it a time zone "
            "(datetime.now(timezone.utc), dt.replace(tzinfo=timezone.utc) or dt.astimezone())")
    us = (value - _EPOCH) // _dt.timedelta(microseconds=1)
    return float(us // 1000 if us >= 0 else -(-us // 1000))   # truncated, as TimeClip does


def _regexp_flags(pattern):
    if isinstance(pattern.pattern, bytes):
        raise errors.DataCloneError("a bytes pattern could not be cloned: a RegExp's source is text")
    flags = pattern.flags
    if flags & re.VERBOSE:
        raise errors.DataCloneError("a re.VERBOSE pattern could not be cloned: RegExp has no such flag")
    return "".join(letter for letter, flag in _RE_FLAGS if flags & flag)


class _Encoder:
    """Builds one graph.  encode() returns the root node (the caller's);
    nodes() the nodes of transfer-list objects."""

    def __init__(self):
        self.memo = {}      # id(obj) -> (obj, node): objects keep their identity
        self.unfilled = []      # (obj, node) of containers created but not filled
        self.extra = []     # standalone nodes (transfer-list objects not in the data)

    def free(self, root):
        lib.cp_value_free(root)
        for node in self.extra:
            lib.cp_value_free(node)
        self.extra = []

    def encode(self, obj):
        root, _ = self._child(obj)
        try:
            while self.unfilled:
                self._fill(*self.unfilled.pop())
        except BaseException:
            lib.cp_value_free(root)
            raise
        return root

    def transfer_nodes(self, transfer):
        """The nodes of a transfer list: those of the data, or new ones."""
        from .client import MessagePort
        nodes = []
        for obj in transfer:
            entry = self.memo.get(id(obj))
            if entry is not None:
                nodes.append(entry[1])
            elif isinstance(obj, (MessagePort, bytes, bytearray, memoryview)):
                node, _ = self._child(obj)
                self.extra.append(node)
                nodes.append(node)
            else:
                raise errors.DataCloneError(
                    f"{type(obj).__name__} could not be transferred: only MessagePorts and "
                    "ArrayBuffers (bytes, bytearray, memoryview) can be")
        return nodes

    # -- one node ---------------------------------------------------------

    def _child(self, obj):
        """The node of obj, and whether it is new (then ours until inserted)."""
        entry = self.memo.get(id(obj))
        if entry is not None:
            return entry[1], False
        node = self._primitive(obj)
        if node is not None:
            return node, True
        node = self._object(obj)
        self.memo[id(obj)] = (obj, node)
        return node, True

    def _primitive(self, obj):
        if obj is None:
            return _new(lib.cp_value_new_null)
        if obj is undefined:
            return _new(lib.cp_value_new_undefined)
        if obj is True or obj is False:
            return _new(lib.cp_value_new_boolean, obj)
        if isinstance(obj, str):
            b = wtf8(obj)
            return _new(lib.cp_value_new_string_len, b, len(b))
        if isinstance(obj, int):
            if isinstance(obj, BigInt) or not -MAX_SAFE_INTEGER <= obj <= MAX_SAFE_INTEGER:
                return self._bigint(int(obj))
            if isinstance(obj, bool):
                return _new(lib.cp_value_new_boolean, obj)
            return _new(lib.cp_value_new_number, float(obj))
        if isinstance(obj, float):
            return _new(lib.cp_value_new_number, obj)
        return None

    @staticmethod
    def _bigint(value):
        magnitude = abs(value)
        b = magnitude.to_bytes((magnitude.bit_length() + 7) // 8, "little")
        return _new(lib.cp_value_new_bigint_bytes, value < 0, b, len(b))

    def _object(self, obj):
        from .client import MessagePort
        if isinstance(obj, (dict, Map, Set, set, frozenset)):
            return self._container(obj, lib.cp_value_new_map if isinstance(obj, Map) else
                                   lib.cp_value_new_object if isinstance(obj, dict) else lib.cp_value_new_set)
        if isinstance(obj, (list, tuple, SparseArray)):
            return self._container(obj, lib.cp_value_new_array)
        if isinstance(obj, (bytes, bytearray, memoryview)):
            return self._array_buffer(obj)
        if isinstance(obj, TypedArray):
            buffer, new = self._child(obj.buffer)
            if lib.cp_value_get_type(buffer) != T_ARRAY_BUFFER:
                raise errors.DataCloneError(f"the buffer of a {obj.kind} is not an ArrayBuffer")
            return self._view(obj.kind, buffer, new, obj.byte_offset, obj.length)
        if isinstance(obj, _array.array):
            kind = _ARRAY_TYPECODES.get(obj.typecode)
            if kind is None:
                raise _clone_error(f"an array.array of typecode {obj.typecode!r}")
            buffer = self._array_buffer(obj)
            return self._view(kind, buffer, True, 0, len(obj))
        if isinstance(obj, _dt.datetime):
            return _new(lib.cp_value_new_date, _datetime_ms(obj))
        if isinstance(obj, Date):
            return _new(lib.cp_value_new_date, obj.ms)
        if isinstance(obj, re.Pattern):
            flags = _regexp_flags(obj)
            return _new(lib.cp_value_new_regexp, wtf8(obj.pattern), flags.encode())
        if isinstance(obj, RegExp):
            return _new(lib.cp_value_new_regexp, wtf8(obj.source), obj.flags.encode())
        if isinstance(obj, BaseException):
            message = obj.message if isinstance(obj, JSError) else (str(obj) if obj.args else None)
            stack = obj.stack if isinstance(obj, JSError) else None
            return _new(lib.cp_value_new_error, _error_name(obj).encode(),
                        None if message is None else wtf8(message),
                        None if stack is None else wtf8(stack))
        if isinstance(obj, _Wrapper):
            primitive = self._primitive(BigInt(obj.value) if isinstance(obj, BigIntObject) else obj.value)
            if primitive is None:
                raise _clone_error(f"{type(obj).__name__} of a {type(obj.value).__name__}")
            try:
                return _new(lib.cp_value_new_wrapper, primitive)
            finally:
                lib.cp_value_free(primitive)
        if isinstance(obj, MessagePort):
            return _new(lib.cp_value_new_port, obj._handle())
        if isinstance(obj, HostObject):
            return _new(lib.cp_value_new_host_object, wtf8(obj.description))
        if isinstance(obj, _dt.date):
            raise _clone_error("a date without a time (datetime.date)")
        raise _clone_error(f"a {type(obj).__module__}.{type(obj).__qualname__} object"
                           if type(obj).__module__ != "builtins" else f"a {type(obj).__name__} object")

    def _container(self, obj, new):
        node = _new(new)
        self.unfilled.append((obj, node))
        return node

    @staticmethod
    def _array_buffer(obj):
        if isinstance(obj, bytes):
            return _new(lib.cp_value_new_array_buffer, obj, len(obj))
        view = memoryview(obj)
        if not view.c_contiguous:
            data = view.tobytes()
            return _new(lib.cp_value_new_array_buffer, data, len(data))
        view = view.cast("B") if view.format != "B" or view.ndim != 1 else view
        if view.nbytes == 0:
            return _new(lib.cp_value_new_array_buffer, None, 0)
        if view.readonly:
            data = bytes(view)
            return _new(lib.cp_value_new_array_buffer, data, len(data))
        block = (ctypes.c_char * view.nbytes).from_buffer(view)
        return _new(lib.cp_value_new_array_buffer, ctypes.addressof(block), view.nbytes)

    @staticmethod
    def _view(kind, buffer, buffer_is_new, offset, length):
        ret = c_void_p()
        try:
            lib.cp_value_new_view(_VIEW_KINDS[kind][0], buffer, offset, length, byref(ret))
        except errors.Error:
            if buffer_is_new:
                lib.cp_value_free(buffer)
            raise
        return ret.value

    # -- filling a container ----------------------------------------------

    def _fill(self, obj, node):
        if isinstance(obj, dict):
            for key, value in obj.items():
                if not isinstance(key, str):
                    raise errors.DataCloneError(
                        f"a dict key of type {type(key).__name__} could not be cloned: Object keys "
                        "are strings (use crosspost.Map for other keys)")
                self._set_property(node, key, value)
        elif isinstance(obj, Map):
            for key, value in obj.items():
                k, k_new = self._child(key)
                try:
                    v, v_new = self._child(value)
                except BaseException:
                    self._free_new(k, k_new, key)
                    raise
                r = lib.cp_value_map_set(node, k, v)
                if r < 0:
                    self._free_new(k, k_new, key)
                    self._free_new(v, v_new, value)
                    errors_raise(r)
        elif isinstance(obj, (Set, set, frozenset)):
            for member in obj:
                m, m_new = self._child(member)
                r = lib.cp_value_set_add(node, m)
                if r < 0:
                    self._free_new(m, m_new, member)
                    if r == errors.CODES["ConstraintError"]:
                        continue    # equal under SameValueZero (two NaNs): one member, as in JavaScript
                    errors_raise(r)
        elif isinstance(obj, SparseArray):
            for index in sorted(obj.elements):
                if not 0 <= index < obj.length:
                    raise errors.DataCloneError(f"a SparseArray index {index} is not below its length")
                self._array_set(node, index, obj.elements[index])
            if obj.length:
                lib.cp_value_array_set_length(node, obj.length)
            self._properties(node, obj.properties)
        else:   # list, tuple, Array
            length = len(obj)
            if length > _ARRAY_LENGTH_MAX:
                raise errors.DataCloneError("a list longer than 2**32 - 1 could not be cloned")
            holes = False
            for index, item in enumerate(obj):
                if item is hole:
                    holes = True
                    continue
                if holes:
                    self._array_set(node, index, item)
                else:
                    c, new = self._child(item)
                    r = lib.cp_value_array_push(node, c)
                    if r < 0:
                        self._free_new(c, new, item)
                        errors_raise(r)
            if holes and length:
                lib.cp_value_array_set_length(node, length)
            if isinstance(obj, Array):
                self._properties(node, obj.properties)

    def _properties(self, node, properties):
        for key, value in properties.items():
            if not isinstance(key, str):
                raise errors.DataCloneError("an Array's property names are strings")
            self._set_property(node, key, value)

    def _set_property(self, node, key, value):
        c, new = self._child(value)
        k = wtf8(key)
        r = lib.cp_value_object_set_len(node, k, len(k), c)
        if r < 0:
            self._free_new(c, new, value)
            if r == errors.CODES["ConstraintError"]:
                raise errors.DataCloneError(f"the key {key!r} is set twice (a surrogate pair written "
                                            "as two code points is the same key as the character)")
            errors_raise(r)

    def _array_set(self, node, index, item):
        c, new = self._child(item)
        r = lib.cp_value_array_set(node, index, c)
        if r < 0:
            self._free_new(c, new, item)
            errors_raise(r)

    def _free_new(self, node, new, obj):
        """Frees a node whose insertion failed, if it was made for it."""
        if not new:
            return
        # A new object node is in the memo (and maybe queued to be filled):
        # it is dropped from both, since the whole encode is failing.
        self.memo.pop(id(obj), None)
        self.unfilled = [(o, n) for o, n in self.unfilled if n != node]
        lib.cp_value_free(node)


def errors_raise(code):
    from ._lib import check
    check(code)


def encode(obj):
    """The cp_value graph of obj (a node address): the caller frees it
    with lib.cp_value_free()."""
    return _Encoder().encode(obj)


# ---------------------------------------------------------------------------
# Decoding: cp_value graph -> Python
# ---------------------------------------------------------------------------

class Graph:
    """Owns a decoded graph's root while memoryviews point into its
    ArrayBuffers: the graph is freed when the last of them goes."""
    __slots__ = ("root", "__weakref__")

    def __init__(self, root):
        self.root = root

    def free(self):
        root, self.root = self.root, None
        if root:
            lib.cp_value_free(root)

    def __del__(self):
        try:
            self.free()
        except Exception:   # interpreter shutdown
            pass


def _number(d):
    if d.is_integer() and -MAX_SAFE_INTEGER <= d <= MAX_SAFE_INTEGER and (d != 0 or math.copysign(1, d) > 0):
        return int(d)
    return d


class _Decoder:
    def __init__(self, graph=None, port_for=None):
        self.graph = graph           # set: ArrayBuffers are memoryviews into it
        self.graph_used = False
        self.port_for = port_for     # handle address -> MessagePort
        self.memo = {}
        self.unfilled = []

    def decode(self, root):
        obj = self._value(root)
        while self.unfilled:
            self._fill(*self.unfilled.pop())
        return obj

    def _value(self, node):
        t = lib.cp_value_get_type(node)
        if t == T_NULL:
            return None
        if t == T_UNDEFINED:
            return undefined
        if t == T_BOOLEAN:
            return lib.cp_value_get_boolean(node)
        if t == T_NUMBER:
            return _number(lib.cp_value_get_number(node))
        if t == T_STRING:
            return _read_text(lib.cp_value_get_string, node)
        if t == T_BIGINT:
            return self._bigint(node)
        obj = self.memo.get(node)
        if obj is None:
            obj = self._object(t, node)
            self.memo[node] = obj
        return obj

    @staticmethod
    def _bigint(node):
        negative, n = c_bool(), c_size_t()
        address = lib.cp_value_bigint_magnitude(node, byref(negative), byref(n))
        magnitude = int.from_bytes(ctypes.string_at(address, n.value), "little") if n.value else 0
        return BigInt(-magnitude if negative.value else magnitude)

    def _object(self, t, node):
        if t in (T_OBJECT, T_MAP, T_SET, T_ARRAY):
            if t == T_ARRAY:
                length = lib.cp_value_array_length(node)
                count = lib.cp_value_array_count(node)
                if length - count > LIST_HOLES_MAX:
                    obj = SparseArray(length)
                elif lib.cp_value_object_count(node):
                    obj = Array()
                else:
                    obj = []
            else:
                obj = {T_OBJECT: dict, T_MAP: Map, T_SET: Set}[t]()
            self.unfilled.append((node, obj))
            return obj
        if t == T_ARRAY_BUFFER:
            return self._array_buffer(node)
        if t == T_VIEW:
            buffer = self._value(lib.cp_value_view_buffer(node))
            kind = _VIEW_BY_CODE.get(lib.cp_value_view_kind(node))
            if kind is None:
                raise errors.DataError("a view of an unknown kind")
            return TypedArray(kind, buffer, lib.cp_value_view_byte_offset(node), lib.cp_value_view_length(node))
        if t == T_DATE:
            ms = lib.cp_value_get_number(node)
            if math.isnan(ms):
                return Date(ms)
            try:
                return _EPOCH + _dt.timedelta(milliseconds=ms)
            except OverflowError:
                return Date(ms)
        if t == T_REGEXP:
            source = _read_text(lib.cp_value_regexp_source, node)
            flags = lib.cp_value_regexp_flags(node).decode()
            if set(flags) <= set("ims"):
                try:
                    return re.compile(source, _python_re_flags(flags))
                except (re.error, RecursionError, OverflowError):
                    pass
            return RegExp(source, flags)
        if t == T_ERROR:
            cls = _JS_ERRORS.get(lib.cp_value_error_name(node).decode(), JSError)
            return cls(_read_text(lib.cp_value_error_message, node), _read_text(lib.cp_value_error_stack, node))
        if t == T_BOOLEAN_OBJECT:
            return BooleanObject(lib.cp_value_get_boolean(node))
        if t == T_NUMBER_OBJECT:
            return NumberObject(_number(lib.cp_value_get_number(node)))
        if t == T_BIGINT_OBJECT:
            return BigIntObject(self._bigint(node))
        if t == T_STRING_OBJECT:
            return StringObject(_read_text(lib.cp_value_get_string, node))
        if t == T_PORT:
            handle = lib.cp_value_port(node)
            port = self.port_for(handle) if self.port_for else None
            if port is None:
                raise errors.DataError("a MessagePort of no client of this process")
            return port
        if t == T_HOST_OBJECT:
            return HostObject(lib.cp_value_host_object_description(node).decode("utf-8", "surrogatepass"))
        raise errors.DataError(f"a value of unknown type {t}")

    def _array_buffer(self, node):
        n = c_size_t()
        address = lib.cp_value_array_buffer_data_mut(node, byref(n))
        if not n.value:
            return memoryview(bytearray())
        if self.graph is None:
            return memoryview(bytearray(ctypes.string_at(address, n.value)))
        block = (ctypes.c_ubyte * n.value).from_address(address)
        block._crosspost_graph = self.graph     # the graph lives as long as the block
        self.graph_used = True
        return memoryview(block).cast("B")

    def _fill(self, node, obj):
        if isinstance(obj, (dict, Array, SparseArray)):
            target = obj if isinstance(obj, dict) else obj.properties
            key_len = c_size_t()
            for i in range(lib.cp_value_object_count(node)):
                address = lib.cp_value_object_key(node, i, byref(key_len))
                key = from_wtf8(ctypes.string_at(address, key_len.value))
                target[key] = self._value(lib.cp_value_object_value(node, i))
        if isinstance(obj, Map):
            for i in range(lib.cp_value_map_count(node)):
                obj[self._value(lib.cp_value_map_key(node, i))] = self._value(lib.cp_value_map_value(node, i))
        elif isinstance(obj, Set):
            for i in range(lib.cp_value_set_count(node)):
                obj.add(self._value(lib.cp_value_set_member(node, i)))
        elif isinstance(obj, SparseArray):
            index = c_uint32()
            for i in range(lib.cp_value_array_count(node)):
                element = lib.cp_value_array_element(node, i, byref(index))
                obj.elements[index.value] = self._value(element)
        elif isinstance(obj, list):
            length = lib.cp_value_array_length(node)
            count = lib.cp_value_array_count(node)
            index = c_uint32()
            if count == length:
                obj.extend(self._value(lib.cp_value_array_element(node, i, None)) for i in range(count))
            else:
                obj.extend([hole] * length)
                for i in range(count):
                    element = lib.cp_value_array_element(node, i, byref(index))
                    obj[index.value] = self._value(element)


def decode(root, *, owned=False, port_for=None):
    """The Python value of a graph.  With owned=True the graph is the
    callee's: freed now, or when the last memoryview of its ArrayBuffers
    goes; otherwise ArrayBuffers are copied into bytearrays' memoryviews."""
    if not owned:
        return _Decoder(port_for=port_for or _port_for).decode(root)
    graph = Graph(root)
    decoder = _Decoder(graph, port_for=port_for or _port_for)
    try:
        return decoder.decode(root)
    finally:
        if not decoder.graph_used:
            graph.free()


def _port_for(handle):
    from .client import _live_ports
    return _live_ports.get(handle)


# ---------------------------------------------------------------------------
# Whole values
# ---------------------------------------------------------------------------

def structured_clone(obj):
    """structuredClone(obj): a deep copy through a cp_value graph, with the
    types the mapping gives (so a tuple comes back a list, bytes a
    memoryview...).  Raises DataCloneError as posting would, but for
    MessagePorts, which are kept (there is no transfer list here)."""
    return decode(encode(obj), owned=True)


def to_tagged_json(obj):
    """obj as the tagged JSON of docs/values.md (what `crosspost post` and
    scenario files take): compact and deterministic."""
    root = encode(obj)
    try:
        return from_wtf8(take_string(lib.cp_value_to_json(root)))
    finally:
        lib.cp_value_free(root)


def from_tagged_json(text):
    """The Python value of tagged JSON text (docs/values.md)."""
    b = wtf8(text)
    ret = c_void_p()
    lib.cp_value_from_json(b, len(b), None, byref(ret))
    return decode(ret.value, owned=True)


def structured_equal(a, b):
    """Structured equality as the scenario format defines it (cp_value_equal):
    same types and contents, order significant, NaN equal to NaN, 0 and -0
    different, and the same shape of shared references and cycles."""
    ra = encode(a)
    try:
        rb = encode(b)
        try:
            return bool(lib.cp_value_equal(ra, rb))
        finally:
            lib.cp_value_free(rb)
    finally:
        lib.cp_value_free(ra)
