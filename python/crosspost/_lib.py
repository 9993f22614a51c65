# SPDX-License-Identifier: MIT
"""_lib - loads libcrosspost.so and declares its functions for ctypes.

The library is looked for, in order:
  1. $CROSSPOST_LIBRARY (a path);
  2. when this package is the one of a source tree (python/crosspost/ with
     client/crosspost.h two levels up): that tree's build/libcrosspost.so;
  3. the library `make install` installed with this package (_install.py,
     written at install time, names it);
  4. ctypes.util.find_library("crosspost") (the linker's cache).

Every public function of client/crosspost.h that the package uses is one
line of _FUNCTIONS below: name, result type, argument types, and whether a
negative result is an error to raise.  A function the loaded library does
not have (an older build) becomes a stub that raises NotSupportedError when
called, so new functions can be declared before every library has them.
"""
import ctypes
import ctypes.util
import os

from . import errors

c_int, c_uint, c_bool, c_double = ctypes.c_int, ctypes.c_uint, ctypes.c_bool, ctypes.c_double
c_size_t, c_uint32, c_int32 = ctypes.c_size_t, ctypes.c_uint32, ctypes.c_int32
c_int64, c_uint64 = ctypes.c_int64, ctypes.c_uint64
c_char_p, c_void_p = ctypes.c_char_p, ctypes.c_void_p
POINTER, byref = ctypes.POINTER, ctypes.byref
P = c_void_p                 # every opaque handle: cp_client *, cp_window *, cp_value *, ...
PP = POINTER(c_void_p)       # an output handle (ret)
PSIZE = POINTER(c_size_t)


class WindowInfo_(ctypes.Structure):
    """struct cp_window_info."""
    _fields_ = [("id", c_uint64), ("name", c_char_p), ("url", c_char_p),
                ("origin", c_char_p), ("pid", c_int32), ("parent_id", c_uint64),
                ("opener_id", c_uint64), ("pending", c_bool)]


class BrokerStats_(ctypes.Structure):
    """struct cp_broker_stats (the field order of crosspost.h)."""
    _fields_ = [(name, c_uint64) for name in (
        "connections", "windows", "ports", "bytes_held", "fds_held", "messages_delivered",
        "dropped_origin_mismatch", "dropped_target_closed", "senders_paused",
        "connections_rejected", "quota_rejects", "uptime_ms", "monitors", "monitor_events_lost")]


# void (*)(cp_window *, const cp_event *, void *), and the same for ports.
EVENT_CALLBACK = ctypes.CFUNCTYPE(None, c_void_p, c_void_p, c_void_p)

CHECKED, PLAIN = True, False
_FUNCTIONS = [
    # name, result, arguments, negative result raises
    ("cp_version", c_char_p, [], PLAIN),
    ("cp_error_name", c_char_p, [c_int], PLAIN),
    ("cp_last_error_message", c_char_p, [], PLAIN),
    # values: building
    ("cp_value_new_undefined", c_int, [PP], CHECKED),
    ("cp_value_new_null", c_int, [PP], CHECKED),
    ("cp_value_new_boolean", c_int, [c_bool, PP], CHECKED),
    ("cp_value_new_number", c_int, [c_double, PP], CHECKED),
    ("cp_value_new_bigint_bytes", c_int, [c_bool, c_char_p, c_size_t, PP], CHECKED),
    ("cp_value_new_string_len", c_int, [c_char_p, c_size_t, PP], CHECKED),
    ("cp_value_new_wrapper", c_int, [P, PP], CHECKED),
    ("cp_value_new_date", c_int, [c_double, PP], CHECKED),
    ("cp_value_new_regexp", c_int, [c_char_p, c_char_p, PP], CHECKED),
    ("cp_value_new_array_buffer", c_int, [c_void_p, c_size_t, PP], CHECKED),
    ("cp_value_new_view", c_int, [c_int, P, c_size_t, c_size_t, PP], CHECKED),
    ("cp_value_new_array", c_int, [PP], CHECKED),
    ("cp_value_new_object", c_int, [PP], CHECKED),
    ("cp_value_new_map", c_int, [PP], CHECKED),
    ("cp_value_new_set", c_int, [PP], CHECKED),
    ("cp_value_new_error", c_int, [c_char_p, c_char_p, c_char_p, PP], CHECKED),
    ("cp_value_new_host_object", c_int, [c_char_p, PP], CHECKED),
    ("cp_value_new_port", c_int, [P, PP], CHECKED),
    # values: filling (not CHECKED: the encoder frees a new child first)
    ("cp_value_object_set_len", c_int, [P, c_char_p, c_size_t, P], PLAIN),
    ("cp_value_array_push", c_int, [P, P], PLAIN),
    ("cp_value_array_set", c_int, [P, c_uint32, P], PLAIN),
    ("cp_value_array_set_length", c_int, [P, c_uint32], CHECKED),
    ("cp_value_map_set", c_int, [P, P, P], PLAIN),
    ("cp_value_set_add", c_int, [P, P], PLAIN),
    # values: inspecting
    ("cp_value_get_type", c_int, [P], PLAIN),
    ("cp_value_get_boolean", c_bool, [P], PLAIN),
    ("cp_value_get_number", c_double, [P], PLAIN),
    ("cp_value_get_string", c_void_p, [P, PSIZE], PLAIN),
    ("cp_value_bigint_magnitude", c_void_p, [P, POINTER(c_bool), PSIZE], PLAIN),
    ("cp_value_regexp_source", c_void_p, [P, PSIZE], PLAIN),
    ("cp_value_regexp_flags", c_char_p, [P], PLAIN),
    ("cp_value_array_buffer_data_mut", c_void_p, [P, PSIZE], PLAIN),
    ("cp_value_view_kind", c_int, [P], PLAIN),
    ("cp_value_view_buffer", c_void_p, [P], PLAIN),
    ("cp_value_view_byte_offset", c_size_t, [P], PLAIN),
    ("cp_value_view_length", c_size_t, [P], PLAIN),
    ("cp_view_kind_name", c_char_p, [c_int], PLAIN),
    ("cp_value_array_length", c_uint32, [P], PLAIN),
    ("cp_value_array_count", c_size_t, [P], PLAIN),
    ("cp_value_array_element", c_void_p, [P, c_size_t, POINTER(c_uint32)], PLAIN),
    ("cp_value_object_count", c_size_t, [P], PLAIN),
    ("cp_value_object_key", c_void_p, [P, c_size_t, PSIZE], PLAIN),
    ("cp_value_object_value", c_void_p, [P, c_size_t], PLAIN),
    ("cp_value_map_count", c_size_t, [P], PLAIN),
    ("cp_value_map_key", c_void_p, [P, c_size_t], PLAIN),
    ("cp_value_map_value", c_void_p, [P, c_size_t], PLAIN),
    ("cp_value_set_count", c_size_t, [P], PLAIN),
    ("cp_value_set_member", c_void_p, [P, c_size_t], PLAIN),
    ("cp_value_error_name", c_char_p, [P], PLAIN),
    ("cp_value_error_message", c_void_p, [P, PSIZE], PLAIN),
    ("cp_value_error_stack", c_void_p, [P, PSIZE], PLAIN),
    ("cp_value_host_object_description", c_char_p, [P], PLAIN),
    ("cp_value_port", c_void_p, [P], PLAIN),
    # values: whole
    ("cp_value_from_json", c_int, [c_char_p, c_size_t, PSIZE, PP], CHECKED),
    ("cp_value_to_json", c_void_p, [P], PLAIN),
    ("cp_value_equal", c_bool, [P, P], PLAIN),
    ("cp_value_free", c_void_p, [P], PLAIN),
    # connection
    ("cp_client_new", c_int, [c_char_p, PP], CHECKED),
    ("cp_client_free", c_void_p, [P], PLAIN),
    ("cp_client_socket_path", c_char_p, [P], PLAIN),
    ("cp_default_socket_path", c_void_p, [], PLAIN),
    # windows
    ("cp_window_open_with_flags", c_int, [P, c_char_p, c_char_p, c_uint, PP], CHECKED),
    ("cp_window_close", c_int, [P], PLAIN),
    ("cp_window_navigate", c_int, [P, c_char_p], CHECKED),
    ("cp_window_id", c_uint64, [P], PLAIN),
    ("cp_window_name", c_char_p, [P], PLAIN),
    ("cp_window_url", c_char_p, [P], PLAIN),
    ("cp_window_origin", c_char_p, [P], PLAIN),
    ("cp_client_lookup_window", c_int, [P, c_char_p, POINTER(c_uint64), PP], CHECKED),
    ("cp_client_wait_for_window", c_int, [P, c_char_p, c_int, POINTER(c_uint64)], CHECKED),
    ("cp_client_list_windows", c_int, [P, POINTER(POINTER(WindowInfo_)), PSIZE], CHECKED),
    ("cp_window_info_free", None, [POINTER(WindowInfo_), c_size_t], PLAIN),
    ("cp_client_broker_stats", c_int, [P, POINTER(BrokerStats_)], CHECKED),
    # postMessage
    ("cp_post_message", c_int, [P, c_uint64, P, c_char_p], CHECKED),
    ("cp_post_message_with_transfer", c_int, [P, c_uint64, P, c_char_p, PP, c_size_t], CHECKED),
    ("cp_client_set_batching", c_int, [P, c_bool], CHECKED),
    ("cp_client_flush", c_int, [P], CHECKED),
    ("cp_client_sync", c_int, [P, c_int], CHECKED),
    # events
    ("cp_window_set_callback", None, [P, EVENT_CALLBACK, c_void_p], PLAIN),
    ("cp_event_get_type", c_int, [P], PLAIN),
    ("cp_event_take_data", c_void_p, [P], PLAIN),
    ("cp_event_origin", c_char_p, [P], PLAIN),
    ("cp_event_source_id", c_uint64, [P], PLAIN),
    ("cp_event_source_name", c_char_p, [P], PLAIN),
    # MessageChannel, MessagePort
    ("cp_channel_new", c_int, [P, PP, PP], CHECKED),
    ("cp_port_post_message", c_int, [P, P, PP, c_size_t], CHECKED),
    ("cp_port_set_callback", None, [P, EVENT_CALLBACK, c_void_p], PLAIN),
    ("cp_port_close", c_int, [P], CHECKED),
    ("cp_port_id", c_uint64, [P], PLAIN),
    ("cp_port_get_state", c_int, [P], PLAIN),
    ("cp_event_ports", c_size_t, [P, POINTER(PP)], PLAIN),
    # loop integration
    ("cp_client_fd", c_int, [P], PLAIN),
    ("cp_client_dispatch", c_int, [P], CHECKED),
    ("cp_client_has_pending", c_bool, [P], PLAIN),
    ("cp_client_wait", c_int, [P, c_int], CHECKED),
]


def library_path():
    """Where libcrosspost is loaded from (see the module's docstring)."""
    env = os.environ.get("CROSSPOST_LIBRARY")
    if env:
        return env
    top = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir)
    in_tree = os.path.join(top, "build", "libcrosspost.so")
    if os.path.exists(os.path.join(top, "client", "crosspost.h")) and os.path.exists(in_tree):
        return os.path.normpath(in_tree)
    try:
        from . import _install  # written by `make install`
        if os.path.exists(_install.LIBRARY):
            return _install.LIBRARY
    except ImportError:
        pass
    found = ctypes.util.find_library("crosspost")
    if found:
        return found
    raise ImportError("crosspost: libcrosspost.so not found: set CROSSPOST_LIBRARY to its path, "
                      "build the tree (make), or install it (make install)")


def _raise_for(code):
    name = cdll.cp_error_name(code).decode()
    message = (cdll.cp_last_error_message() or b"").decode("utf-8", "replace")
    raise errors.from_name(name, message, code)


def _errcheck(result, func, args):
    if result < 0:
        _raise_for(result)
    return result


def _missing(name):
    def stub(*args):
        raise errors.NotSupportedError(f"{name}: not in this libcrosspost ({path})")
    return stub


path = library_path()
try:
    cdll = ctypes.CDLL(path)
except OSError as e:
    raise ImportError(f"crosspost: cannot load {path}: {e}") from None
# The process's own free(), for the few results the library malloc's
# (dlopen(NULL): the same allocator the library uses, ASan's when preloaded).
libc_free = ctypes.CDLL(None).free
libc_free.argtypes, libc_free.restype = [c_void_p], None


class _Functions:
    """The declared functions, as attributes: lib.cp_window_id(...)."""


lib = _Functions()
for _name, _res, _args, _checked in _FUNCTIONS:
    try:
        _f = getattr(cdll, _name)
    except AttributeError:
        setattr(lib, _name, _missing(_name))
        continue
    _f.restype, _f.argtypes = _res, _args
    if _checked:
        _f.errcheck = _errcheck
    setattr(lib, _name, _f)

VERSION = cdll.cp_version().decode()


def check(result):
    """Raises the error of a negative CP_ERR_* result; returns it otherwise."""
    if result < 0:
        _raise_for(result)
    return result


def take_string(address):
    """The text of a malloc'd NUL-terminated result, freed."""
    if not address:
        raise MemoryError("libcrosspost: out of memory")
    try:
        return ctypes.string_at(address)
    finally:
        libc_free(address)
