# SPDX-License-Identifier: MIT
"""client - connections, windows, postMessage, events, MessageChannel and ports.

One Client is one connection to the broker (cp_client).  Like the C API,
a Client and everything obtained from it are used from one thread.

Events reach Python through one C callback per window and per port, set
only while it has a handler (onmessage / onmessageerror) or while
get_event() waits on it.  A window or port with a handler has its events
handed to it during client.dispatch() / client.wait() (or by the asyncio
loop); one without handlers leaves them in the library, in order, until
get_event() or events() takes them, one at a time.  An exception raised by
a handler is re-raised by the call that dispatched it, once the dispatch
is over.
"""
import asyncio
import collections
import ctypes
import math
import time
from dataclasses import dataclass

from . import errors
from . import values
from ._lib import (lib, byref, c_size_t, c_uint64, c_void_p, PP, WindowInfo_, BrokerStats_,
                   EVENT_CALLBACK, POINTER, take_string, libc_free)

CP_WINDOW_PRIVILEGED = 1
CP_EVENT_MESSAGE, CP_EVENT_MESSAGEERROR = 1, 2
_PORT_STATES = {1: "open", 2: "closed", 3: "transferred"}

# Handles the C callbacks may name: address -> Python object.  Window
# handles are freed by close(); port handles live as long as their client.
_live_windows = {}
_live_ports = {}

# A NULL cp_event_callback: ctypes does not take None for a CFUNCTYPE
# argument.
_NO_CALLBACK = EVENT_CALLBACK()


def _ms(timeout):
    """Seconds (None: no limit) to the C API's milliseconds (-1: no limit)."""
    if timeout is None:
        return -1
    if timeout <= 0:
        return 0
    return min(int(math.ceil(timeout * 1000)), 2 ** 31 - 1)


def _text(b):
    return None if b is None else b.decode("utf-8", "surrogateescape")


# ---------------------------------------------------------------------------
# Events
# ---------------------------------------------------------------------------

class MessageEvent:
    """A "message" or "messageerror" event.

    type     "message" or "messageerror" (data that could not be deserialized)
    data     the message's value (None for messageerror)
    origin   the sender's origin, stamped by the broker ("" for port messages)
    source   a WindowRef to the sender window, to answer with
             event.source.post_message(...); None for a port message or a
             privileged sender
    ports    the MessagePorts transferred with the message (a list)
    target   the Window or MessagePort the event arrived at
    """
    __slots__ = ("type", "data", "origin", "source", "ports", "target")

    def __init__(self, type, data, origin, source, ports, target):
        self.type, self.data, self.origin, self.source, self.ports, self.target = \
            type, data, origin, source, ports, target

    def __repr__(self):
        return (f"MessageEvent(type={self.type!r}, data={self.data!r}, origin={self.origin!r}, "
                f"source={self.source!r}, ports={self.ports!r})")


class _EventTarget:
    """What windows and ports share: handlers, waiting for events.

    Events stay in the library until the program takes them: the C
    callback of a window or port is set only while it has a handler, or
    while get_event() / get_event_async() waits on it, and then hands over
    one event at a time.  So the library keeps doing what it does with
    events nobody took: checks targetOrigin again when a window navigated,
    drops a closed window's events, and hands a transferred port's waiting
    messages on to its new owner."""

    def _init_target(self, client):
        self.client = client
        self._queue = collections.deque()   # taken from the library, not yet by the program
        self._waiters = []                  # asyncio futures of get_event_async()
        self._pulling = 0                   # get_event() / get_event_async() calls waiting
        self._c_callback = False            # the C callback is set
        self._onmessage = None
        self._onmessageerror = None

    @property
    def onmessage(self):
        """A callable taking the MessageEvent, or None.  While a window or
        port has no handler at all, its events wait for get_event(); once
        it has one, events of a type without a handler are dropped (as a
        browser does)."""
        return self._onmessage

    @onmessage.setter
    def onmessage(self, handler):
        self._onmessage = handler
        self._handlers_changed()

    @property
    def onmessageerror(self):
        """The handler of "messageerror" events (see onmessage)."""
        return self._onmessageerror

    @onmessageerror.setter
    def onmessageerror(self, handler):
        self._onmessageerror = handler
        self._handlers_changed()

    def _has_handlers(self):
        return self._onmessage is not None or self._onmessageerror is not None

    def _handlers_changed(self):
        # An event get_event() took but did not return (a cancelled
        # get_event_async()) goes to the new handler first, at the next
        # dispatch; the library dispatches its own backlog after it.
        if self._queue and self._has_handlers() and self not in self.client._backlogged:
            self.client._backlogged.append(self)
        self._sync_callback()
        self.client._after_call()

    def _sync_callback(self):
        """Sets or clears the C callback as handlers and waiters need."""
        want = self._has_handlers() or self._pulling > 0
        if want != self._c_callback and self._ptr is not None:
            self._set_c_callback(want)
            self._c_callback = want

    def _deliver(self, event):
        """From the C callback (or the backlog): one event."""
        if not self._has_handlers():
            self._queue.append(event)
            for fut in self._waiters:
                if not fut.done():
                    fut.set_result(None)
            # One at a time: the next ones wait in the library until asked for.
            self._set_c_callback(False)
            self._c_callback = False
            return
        handler = self._onmessage if event.type == "message" else self._onmessageerror
        if handler is not None:
            handler(event)

    def _fail_waiters(self, exc):
        for fut in self._waiters:
            if not fut.done():
                fut.set_exception(exc)

    def _before_get(self):
        if self._has_handlers():
            raise errors.InvalidStateError("events go to onmessage/onmessageerror, not to get_event()")

    def get_event(self, timeout=None):
        """The next event, waiting up to timeout seconds (None: no limit)
        and dispatching the client's events meanwhile.  Raises
        crosspost.TimeoutError_ when none came."""
        self._before_get()
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._queue:
            self._check_usable()
            # At least one look, even with no time left: an event already
            # read waits in the library, and timeout=0 takes it.
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            self._pull(lambda: self.client.wait(left))
            if not self._queue and deadline is not None and time.monotonic() >= deadline:
                raise errors.TimeoutError_(f"no event within {timeout} s")
        return self._queue.popleft()

    def _pull(self, call):
        """Runs call() (a wait or a dispatch) with the C callback set, so
        that the library hands this target its next event."""
        self._pulling += 1
        try:
            self._sync_callback()
            call()
        finally:
            self._pulling -= 1
            self._sync_callback()

    async def get_event_async(self, timeout=None):
        """The next event, from an asyncio loop: the client is attached to
        the running loop (client.attach()) if it is not already."""
        self._before_get()
        self.client._ensure_attached()
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._queue:
            self._check_usable()
            if self.client._broken is not None:
                raise self.client._broken
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                # One look without waiting, as get_event(timeout=0).
                self._pull(self.client.dispatch)
                if self._queue:
                    break
                raise errors.TimeoutError_(f"no event within {timeout} s")
            fut = asyncio.get_running_loop().create_future()
            self._waiters.append(fut)
            self._pulling += 1
            try:
                self._sync_callback()
                self.client._after_call()       # events the library kept: dispatch them
                await asyncio.wait_for(fut, left)
            except asyncio.TimeoutError:
                raise errors.TimeoutError_(f"no event within {timeout} s") from None
            finally:
                self._waiters.remove(fut)
                self._pulling -= 1
                self._sync_callback()
        return self._queue.popleft()

    def events(self):
        """An iterator over this target's events, both ways:
        `for ev in w.events()` blocks in client.wait(); `async for ev in
        w.events()` awaits them in an asyncio loop.  Neither ends by itself:
        break out of it."""
        return EventStream(self)


class EventStream:
    """See _EventTarget.events()."""

    def __init__(self, target):
        self.target = target

    def __iter__(self):
        return self

    def __next__(self):
        return self.target.get_event()

    def __aiter__(self):
        return self

    async def __anext__(self):
        return await self.target.get_event_async()


def _make_event(client, ev, target, window):
    etype = lib.cp_event_get_type(ev)
    origin = _text(lib.cp_event_origin(ev)) or ""
    source_id = lib.cp_event_source_id(ev)
    source = None
    if source_id:
        source = WindowRef(client, source_id, _text(lib.cp_event_source_name(ev)), origin, window)
    handles = PP()
    count = lib.cp_event_ports(ev, byref(handles))
    ports = [client._port(handles[i]) for i in range(count)]
    data = None
    if etype == CP_EVENT_MESSAGE:
        root = lib.cp_event_take_data(ev)
        if root:
            data = values.decode(root, owned=True, port_for=client._port)
    return MessageEvent("message" if etype == CP_EVENT_MESSAGE else "messageerror",
                        data, origin, source, ports, target)


@EVENT_CALLBACK
def _on_window_event(handle, ev, userdata):
    window = _live_windows.get(handle)
    if window is None:
        return
    try:
        window._deliver(_make_event(window.client, ev, window, window))
    except BaseException as e:      # re-raised by the call that dispatched
        window.client._errors.append(e)


@EVENT_CALLBACK
def _on_port_event(handle, ev, userdata):
    port = _live_ports.get(handle)
    if port is None:
        return
    try:
        port._deliver(_make_event(port.client, ev, port, None))
    except BaseException as e:
        port.client._errors.append(e)


# ---------------------------------------------------------------------------
# Windows
# ---------------------------------------------------------------------------

def _target_id(target):
    if isinstance(target, (Window, WindowRef)):
        return target.id
    if isinstance(target, int) and not isinstance(target, bool) and target > 0:
        return target
    raise errors.TypeError_(f"a target is a Window, a WindowRef or a window id, not {target!r}")


def _post(client, poster, data, transfer):
    """Encodes data and the transfer list, runs poster(root, nodes), frees."""
    encoder = values._Encoder()
    root = encoder.encode(data)
    try:
        nodes = encoder.transfer_nodes(transfer) if transfer else []
        poster(root, (c_void_p * len(nodes))(*nodes) if nodes else None, len(nodes))
    finally:
        encoder.free(root)
        client._after_call()
    # Transferred bytearrays are detached, as ArrayBuffers are: emptied.
    for obj in transfer:
        if isinstance(obj, MessagePort):
            obj._transferred()
        elif isinstance(obj, bytearray):
            try:
                del obj[:]
            except BufferError:     # exported (a memoryview of it is alive): left as it is
                pass


class Window(_EventTarget):
    """A window this process opened (Client.open()).

    id, name, url, origin   as the broker knows them (url and origin change
                            with navigate())
    client                  its Client
    closed                  True after close()
    """

    def __init__(self, client, handle):
        self._init_target(client)
        self._ptr = handle
        self.id = lib.cp_window_id(handle)
        self.name = _text(lib.cp_window_name(handle))
        _live_windows[handle] = self

    def _set_c_callback(self, on):
        lib.cp_window_set_callback(self._ptr, _on_window_event if on else _NO_CALLBACK, None)

    def _check_usable(self):
        if self._ptr is None:
            raise errors.InvalidStateError(f"window {self.id} is closed")

    def _handle(self):
        self._check_usable()
        return self._ptr

    @property
    def closed(self):
        return self._ptr is None

    @property
    def url(self):
        return _text(lib.cp_window_url(self._handle()))

    @property
    def origin(self):
        return _text(lib.cp_window_origin(self._handle()))

    def post_message(self, target, data, target_origin="/", transfer=()):
        """window.postMessage(data, targetOrigin, transfer), from this window
        to target (a Window, WindowRef or window id).  target_origin: "*",
        "/" (this window's own origin, the default) or a URL whose origin
        the target must have when the message is dispatched, else the
        broker drops it silently, as a browser does.  transfer: MessagePorts
        and ArrayBuffers (bytes, bytearray, memoryview) that move with the
        message; a transferred bytearray is emptied (detached).  Raises
        SyntaxError_ (target_origin), DataCloneError, InvalidStateError,
        NetworkError; a target id that never existed is reported by the
        next client.sync() (NotFoundError)."""
        handle = self._handle()
        target_id = _target_id(target)
        origin = target_origin.encode()

        def poster(root, nodes, n):
            if n:
                lib.cp_post_message_with_transfer(handle, target_id, root, origin, nodes, n)
            else:
                lib.cp_post_message(handle, target_id, root, origin)
        _post(self.client, poster, data, transfer)

    def navigate(self, url):
        """Navigates the window to url: from now on its origin is url's."""
        try:
            lib.cp_window_navigate(self._handle(), url.encode())
        finally:
            self.client._after_call()

    def close(self):
        """Closes the window at the broker; later posts to it are dropped.
        Closing a closed window does nothing."""
        handle, self._ptr = self._ptr, None
        if handle is None:
            return
        _live_windows.pop(handle, None)
        self.client._windows.pop(handle, None)
        self._fail_waiters(errors.InvalidStateError(f"window {self.id} is closed"))
        r = lib.cp_window_close(handle)
        self.client._after_call()
        if r < 0:
            from ._lib import check
            check(r)

    def lookup(self, name):
        """client.lookup(name), as a WindowRef that posts from this window."""
        ref = self.client.lookup(name)
        ref.window = self
        return ref

    def wait_for_window(self, name, timeout=None):
        """client.wait_for_window(name), as a WindowRef that posts from this window."""
        ref = self.client.wait_for_window(name, timeout)
        ref.window = self
        return ref

    async def wait_for_window_async(self, name, timeout=None):
        ref = await self.client.wait_for_window_async(name, timeout)
        ref.window = self
        return ref

    def create_channel(self):
        """new MessageChannel() in this window."""
        return MessageChannel(self)

    def __repr__(self):
        state = "closed" if self._ptr is None else self.origin
        return f"<crosspost.Window {self.id} {self.name!r} {state}>"


class WindowRef:
    """A reference to a window (any process's), that can be posted to:
    event.source, client.lookup(), client.wait_for_window().

    id       the broker's window id
    name     its name, or None
    origin   its origin when the reference was made (event.origin for a
             source; lookup's answer), or None when not known
    window   the Window of this process that post_message() posts from:
             the window the event arrived at, or the one whose lookup made
             it; None for client.lookup(), then pass from_window
    """
    __slots__ = ("client", "id", "name", "origin", "window")

    def __init__(self, client, id, name=None, origin=None, window=None):
        self.client, self.id, self.name, self.origin, self.window = client, id, name, origin, window

    def post_message(self, data, target_origin="/", transfer=(), from_window=None):
        """target.postMessage(data, targetOrigin, transfer), from from_window
        or else self.window.  `event.source.post_message(reply, event.origin)`
        answers the sender only while it is still at the origin that asked."""
        sender = from_window or self.window
        if sender is None:
            raise errors.TypeError_("no window to post from: pass from_window, or use Window.lookup()")
        sender.post_message(self, data, target_origin, transfer)

    def __eq__(self, other):
        if isinstance(other, (WindowRef, Window)):
            return self.id == other.id
        return NotImplemented

    def __hash__(self):
        return hash(self.id)

    def __int__(self):
        return self.id

    def __repr__(self):
        return f"WindowRef({self.id}, {self.name!r}, {self.origin!r})"


@dataclass(frozen=True)
class WindowInfo:
    """One live window as client.list_windows() lists it (url "" and pid 0
    for another uid's windows unless the policy lets this uid see them).
    parent_id: the window it is an iframe of (0: top-level); opener_id:
    the window that opened it (0: none); pending: opened or framed by a
    C or CLI client and not claimed by a process yet (pid 0)."""
    id: int
    name: str
    url: str
    origin: str
    pid: int
    parent_id: int = 0
    opener_id: int = 0
    pending: bool = False


@dataclass(frozen=True)
class BrokerStats:
    """The broker's counters (cp_broker_stats; docs/security.md)."""
    connections: int
    windows: int
    ports: int
    bytes_held: int
    fds_held: int
    messages_delivered: int
    dropped_origin_mismatch: int
    dropped_target_closed: int
    senders_paused: int
    connections_rejected: int
    quota_rejects: int
    uptime_ms: int
    monitors: int
    monitor_events_lost: int


# ---------------------------------------------------------------------------
# MessageChannel and MessagePort
# ---------------------------------------------------------------------------

class MessagePort(_EventTarget):
    """One end of a MessageChannel.  Its messages wait until it is given a
    handler (onmessage; as in HTML, that starts the port) or read with
    get_event()/events().  state: "open", "closed" or "transferred"
    (posted away: the object is dead here)."""

    def __init__(self, client, handle):
        self._init_target(client)
        self._ptr = handle
        self.id = lib.cp_port_id(handle)

    def _handle(self):
        if self._ptr is None:
            raise errors.InvalidStateError(f"port {self.id}: its client is closed")
        return self._ptr

    def _check_usable(self):
        if self.state == "transferred":
            raise errors.InvalidStateError(f"port {self.id} was transferred")

    def _transferred(self):
        # The library cleared the callback: should the port come back, it
        # is a new MessagePort, not started, without the old handlers.
        self._c_callback = False
        self._onmessage = self._onmessageerror = None
        self._fail_waiters(errors.InvalidStateError(f"port {self.id} was transferred"))

    def _set_c_callback(self, on):
        lib.cp_port_set_callback(self._ptr, _on_port_event if on else _NO_CALLBACK, None)

    @property
    def state(self):
        if self._ptr is None:
            return "closed"
        return _PORT_STATES.get(lib.cp_port_get_state(self._ptr), "closed")

    def start(self):
        """port.start(), for symmetry with HTML: here a port delivers its
        messages to its handlers once it has one (setting onmessage starts
        it, as in HTML), or to get_event(); until then they wait."""
        self._handle()

    def post_message(self, data, transfer=()):
        """port.postMessage(data, transfer): to the entangled port, wherever
        it lives.  Posting on a closed port, or on one transferred away,
        does nothing (the ports in transfer are still taken, and close).
        Raises DataCloneError, NetworkError."""
        handle = self._handle()

        def poster(root, nodes, n):
            lib.cp_port_post_message(handle, root, nodes, n)
        _post(self.client, poster, data, transfer)

    def close(self):
        """port.close(): the peer's messages are no longer delivered."""
        try:
            lib.cp_port_close(self._handle())
        finally:
            self._fail_waiters(errors.InvalidStateError(f"port {self.id} is closed"))
            self.client._after_call()

    def __repr__(self):
        return f"<crosspost.MessagePort {self.id} {self.state}>"


class MessageChannel:
    """new MessageChannel() in a window: port1 and port2, entangled, both
    this process's until one is transferred."""

    def __init__(self, window):
        client = window.client
        p1, p2 = c_void_p(), c_void_p()
        try:
            lib.cp_channel_new(window._handle(), byref(p1), byref(p2))
        finally:
            client._after_call()
        self.port1 = client._port(p1.value)
        self.port2 = client._port(p2.value)

    def __iter__(self):
        return iter((self.port1, self.port2))


# ---------------------------------------------------------------------------
# The client
# ---------------------------------------------------------------------------

class Client:
    """A connection to the broker (cp_client_new).

    socket: the broker's socket path; None for $CROSSPOST_SOCKET, else
    $XDG_RUNTIME_DIR/crosspost/broker.sock, else /tmp/crosspost-$UID/broker.sock.
    batching=True turns batching on (see the batching property).
    Use it as a context manager, or call close().  Raises NetworkError (no
    broker there), SecurityError, NotSupportedError."""

    def __init__(self, socket=None, *, batching=False):
        ret = c_void_p()
        lib.cp_client_new(None if socket is None else str(socket).encode(), byref(ret))
        self._ptr = ret.value
        self._windows = {}       # handle -> Window
        self._ports = {}         # handle -> MessagePort
        self._errors = []        # exceptions raised by handlers during a dispatch
        self._backlogged = []    # windows and ports with queued events and a new handler
        self._dispatching = False
        self._loop = None
        self._kick_scheduled = False
        self._writer = False
        self._broken = None
        if batching:
            self.batching = True

    # -- lifetime ---------------------------------------------------------

    def _handle(self):
        if self._ptr is None:
            raise errors.InvalidStateError("the client is closed")
        return self._ptr

    @property
    def closed(self):
        return self._ptr is None

    def close(self):
        """Disconnects (writing what batching queued) and frees every
        window and port handle: their objects become unusable."""
        if self._ptr is None:
            return
        self.detach()
        handle, self._ptr = self._ptr, None
        closed = errors.InvalidStateError("the client is closed")
        for window in list(self._windows.values()):
            _live_windows.pop(window._ptr, None)
            window._ptr = None
            window._fail_waiters(closed)
        for port_handle, port in self._ports.items():
            _live_ports.pop(port_handle, None)
            port._ptr = None
            port._fail_waiters(closed)
        self._windows.clear()
        self._ports.clear()
        lib.cp_client_free(handle)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    @property
    def socket_path(self):
        return _text(lib.cp_client_socket_path(self._handle()))

    @property
    def fd(self):
        """The connection's descriptor, to watch for readability (then call
        dispatch()).  Do not read from or write to it."""
        return lib.cp_client_fd(self._handle())

    # -- windows ----------------------------------------------------------

    def open(self, url, name=None, *, privileged=False):
        """Registers a window whose document is at url, named name (unique
        among live windows; None for none).  privileged: events it sends
        carry a null source.  Returns once the broker has confirmed.
        Raises SyntaxError_ (url), ConstraintError (name taken), RangeError,
        SecurityError, NetworkError."""
        ret = c_void_p()
        try:
            lib.cp_window_open_with_flags(self._handle(), url.encode(),
                                          None if name is None else name.encode(),
                                          CP_WINDOW_PRIVILEGED if privileged else 0, byref(ret))
        finally:
            self._after_call()
        window = Window(self, ret.value)
        self._windows[ret.value] = window
        return window

    def lookup(self, name):
        """The live window named name, as a WindowRef with its current
        origin.  Raises NotFoundError."""
        wid, origin = c_uint64(), c_void_p()
        try:
            lib.cp_client_lookup_window(self._handle(), name.encode(), byref(wid), byref(origin))
        finally:
            self._after_call()
        return WindowRef(self, wid.value, name, _text(take_string(origin.value)))

    def wait_for_window(self, name, timeout=None):
        """Waits until a live window is named name (timeout in seconds, None:
        no limit), and returns a WindowRef to it.  Events arriving meanwhile
        are kept, not dispatched.  Raises TimeoutError_.  Blocks: from
        asyncio, await wait_for_window_async()."""
        wid = c_uint64()
        try:
            lib.cp_client_wait_for_window(self._handle(), name.encode(), _ms(timeout), byref(wid))
        finally:
            self._after_call()
        return WindowRef(self, wid.value, name)

    async def wait_for_window_async(self, name, timeout=None):
        """wait_for_window() for asyncio: looks the name up, pausing 1 ms,
        2, 4... up to 50 ms between lookups (as the C call does) without
        blocking the loop."""
        deadline = None if timeout is None else time.monotonic() + timeout
        pause = 0.001
        while True:
            try:
                return self.lookup(name)
            except errors.NotFoundError:
                pass
            if deadline is not None and time.monotonic() >= deadline:
                raise errors.TimeoutError_(f"no window named {name!r} within {timeout} s")
            await asyncio.sleep(pause if deadline is None else max(0, min(pause, deadline - time.monotonic())))
            pause = min(pause * 2, 0.05)

    def list_windows(self):
        """Every live window, ordered by id: a list of WindowInfo."""
        infos, count = POINTER(WindowInfo_)(), c_size_t()
        try:
            lib.cp_client_list_windows(self._handle(), byref(infos), byref(count))
        finally:
            self._after_call()
        try:
            return [WindowInfo(i.id, _text(i.name), _text(i.url), _text(i.origin), i.pid, i.parent_id,
                               i.opener_id, bool(i.pending))
                    for i in (infos[k] for k in range(count.value))]
        finally:
            lib.cp_window_info_free(infos, count.value)

    def broker_stats(self):
        """The broker's counters, a BrokerStats."""
        stats = BrokerStats_()
        try:
            lib.cp_client_broker_stats(self._handle(), byref(stats))
        finally:
            self._after_call()
        return BrokerStats(*(getattr(stats, f) for f, _ in BrokerStats_._fields_))

    # -- sending ----------------------------------------------------------

    @property
    def batching(self):
        """Batching mode: posts are queued in the client and written many
        per write - by flush(), by any call that waits, dispatches or asks
        the broker something, by the asyncio loop's next turn when attached,
        when 64 KiB are queued, and by close().  So a batching program that
        blocks outside the library (time.sleep, a subprocess) flushes first."""
        return getattr(self, "_batching", False)

    @batching.setter
    def batching(self, on):
        lib.cp_client_set_batching(self._handle(), bool(on))
        self._batching = bool(on)
        self._after_call()

    def flush(self):
        """Writes what batching queued."""
        try:
            lib.cp_client_flush(self._handle())
        finally:
            self._after_call()

    def sync(self, timeout=None):
        """Waits until the broker has handled every request sent so far;
        raises the error of the first post that failed at the broker since
        the last sync (NotFoundError: a target id that never existed)."""
        try:
            lib.cp_client_sync(self._handle(), _ms(timeout))
        finally:
            self._after_call()

    # -- receiving --------------------------------------------------------

    def dispatch(self):
        """Reads what the broker sent, without blocking, and runs handlers;
        returns how many events were dispatched.  Raises NetworkError once
        the connection is lost (after the events that came before it)."""
        handle = self._enter_dispatch()
        try:
            n = self._drain_backlog()
            return n + lib.cp_client_dispatch(handle)
        finally:
            self._dispatching = False
            self._raise_handler_errors()

    def wait(self, timeout=None):
        """Dispatches, blocking until at least one event arrived or timeout
        seconds passed (None: no limit).  Returns the number of events
        received (0: the time ran out)."""
        handle = self._enter_dispatch()
        try:
            n = self._drain_backlog()
            return n + lib.cp_client_wait(handle, 0 if n else _ms(timeout))
        finally:
            self._dispatching = False
            self._raise_handler_errors()

    def _enter_dispatch(self):
        handle = self._handle()
        if self._dispatching:
            raise errors.InvalidStateError("dispatch(), wait() and get_event() cannot be called "
                                           "from an event handler")
        self._dispatching = True
        return handle

    @property
    def has_pending(self):
        """True when dispatch() has work without the fd being readable."""
        return bool(self._backlogged) or bool(lib.cp_client_has_pending(self._handle()))

    def _drain_backlog(self):
        n = 0
        while self._backlogged:
            target = self._backlogged.pop(0)
            while target._queue and (target._onmessage is not None or target._onmessageerror is not None):
                try:
                    target._deliver(target._queue.popleft())
                except BaseException as e:
                    self._errors.append(e)
                n += 1
        return n

    def _raise_handler_errors(self):
        if self._errors:
            first, self._errors = self._errors[0], []
            raise first

    def _port(self, handle):
        """The MessagePort object of a port handle of this client."""
        port = self._ports.get(handle)
        if port is None:
            port = MessagePort(self, handle)
            self._ports[handle] = port
            _live_ports[handle] = port
        return port

    # -- asyncio ----------------------------------------------------------

    def attach(self, loop=None):
        """Lets an asyncio loop (the running one by default) drive the
        client: loop.add_reader(client.fd) calls dispatch(), so handlers run
        and get_event_async()/events() wake from the loop.  Undone by
        detach() or close()."""
        if self._loop is not None and self._loop.is_closed():
            self._loop, self._kick_scheduled, self._writer = None, False, False
        if self._loop is not None:
            return
        loop = loop or asyncio.get_running_loop()
        loop.add_reader(self.fd, self._on_ready)
        self._loop = loop
        self._after_call()

    def detach(self):
        """Stops the asyncio loop driving the client."""
        loop, self._loop = self._loop, None
        self._kick_scheduled = False
        if loop is None or loop.is_closed():
            self._writer = False
            return
        fd = lib.cp_client_fd(self._ptr)
        loop.remove_reader(fd)
        if self._writer:
            loop.remove_writer(fd)
            self._writer = False

    def _ensure_attached(self):
        self._handle()
        if self._loop is not None and self._loop.is_closed():
            self._loop = None           # that loop ended (asyncio.run() returned)
        if self._loop is None:
            self.attach()
        elif self._loop is not asyncio.get_running_loop():
            raise errors.InvalidStateError("the client is attached to another asyncio loop")

    def _after_call(self):
        """After any call into the library: events it buffered (a blocking
        call reads what arrives) or output it left wait for a dispatch that
        the fd alone would not trigger."""
        if self._loop is not None and self._loop.is_closed():
            self._loop, self._kick_scheduled, self._writer = None, False, False
        if self._loop is not None and not self._kick_scheduled and self._ptr is not None \
                and (self._backlogged or lib.cp_client_has_pending(self._ptr)):
            self._kick_scheduled = True
            self._loop.call_soon(self._on_ready)

    def _on_ready(self):
        self._kick_scheduled = False
        if self._ptr is None or self._loop is None:
            return
        try:
            self.dispatch()
        except errors.NetworkError as e:
            self._lost(e)
            return
        except Exception as e:   # a handler's: the loop's exception handler reports it
            self._loop.call_exception_handler({"message": "crosspost: an event handler raised",
                                               "exception": e})
        pending = lib.cp_client_has_pending(self._ptr)
        # Output the socket could not take yet: wait until it is writable.
        if pending and not self._writer:
            self._loop.add_writer(lib.cp_client_fd(self._ptr), self._on_ready)
            self._writer = True
        elif not pending and self._writer:
            self._loop.remove_writer(lib.cp_client_fd(self._ptr))
            self._writer = False

    def _lost(self, exc):
        self._broken = exc
        self.detach()
        for target in list(self._windows.values()) + list(self._ports.values()):
            target._fail_waiters(exc)

    def __repr__(self):
        return f"<crosspost.Client {self.socket_path if self._ptr else 'closed'}>"


def default_socket_path():
    """The socket path Client() uses without one."""
    return _text(take_string(lib.cp_default_socket_path()))
