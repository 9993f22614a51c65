# SPDX-License-Identifier: MIT
"""crosspost - window.postMessage between OS processes, from Python.

A binding of libcrosspost (client/crosspost.h) with the standard library's
ctypes.  python/README.md is the guide; in short:

    import crosspost
    with crosspost.Client() as client:                 # $CROSSPOST_SOCKET, else the default
        w = client.open("https://a.example/", name="a")
        inbox = w.wait_for_window("inbox", timeout=5)
        w.post_message(inbox, {"hi": [1, 2.5, None]}, "https://b.example")
        event = w.get_event(timeout=5)                  # a MessageEvent
        event.source.post_message("thanks", event.origin)

Errors are crosspost.Error subclasses named like DOMExceptions
(crosspost.errors); values map to Python types as crosspost.values says.
"""
from ._lib import VERSION as library_version, path as library_path
from .errors import (Error, SyntaxError_, NotFoundError, DataCloneError, InvalidStateError, TypeError_,
                     NetworkError, TimeoutError_, NotSupportedError, ConstraintError, QuotaExceededError,
                     DataError, RangeError, SecurityError)
from .values import (undefined, hole, Undefined, Hole, BigInt, Date, RegExp, Map, Set, Array, SparseArray,
                     TypedArray, BooleanObject, NumberObject, BigIntObject, StringObject, HostObject,
                     JSError, JSEvalError, JSRangeError, JSReferenceError, JSSyntaxError, JSTypeError,
                     JSURIError, MAX_SAFE_INTEGER, LIST_HOLES_MAX, structured_clone, structured_equal,
                     to_tagged_json, from_tagged_json)
from .client import (Client, Window, WindowRef, WindowInfo, BrokerStats, MessageEvent, MessageChannel,
                     MessagePort, EventStream, default_socket_path)

__version__ = library_version   # the package is versioned with the library it binds

__all__ = [
    "library_version", "library_path", "Client", "Window", "WindowRef", "WindowInfo", "BrokerStats",
    "MessageEvent", "MessageChannel", "MessagePort", "EventStream", "default_socket_path",
    "Error", "SyntaxError_", "NotFoundError", "DataCloneError", "InvalidStateError", "TypeError_",
    "NetworkError", "TimeoutError_", "NotSupportedError", "ConstraintError", "QuotaExceededError",
    "DataError", "RangeError", "SecurityError",
    "undefined", "hole", "Undefined", "Hole", "BigInt", "Date", "RegExp", "Map", "Set", "Array",
    "SparseArray", "TypedArray", "BooleanObject", "NumberObject", "BigIntObject", "StringObject",
    "HostObject", "JSError", "JSEvalError", "JSRangeError", "JSReferenceError", "JSSyntaxError",
    "JSTypeError", "JSURIError", "MAX_SAFE_INTEGER", "LIST_HOLES_MAX", "structured_clone",
    "structured_equal", "to_tagged_json", "from_tagged_json",
]
