#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# broker_seeds.py - writes the seed inputs of fuzz/fuzz_broker.c into
# fuzz/corpus/fuzz_broker/ (run from the repository root).  Each seed is a
# short scenario in the harness's input format (see the comment at the top
# of fuzz_broker.c and run_op()); keep this in step with it.
import hashlib
import os

(HELLO, REGISTER, UNREGISTER, NAVIGATE, LOOKUP, LIST, STATS, SYNC, POST, CREATE_CHANNEL,
 PORT_POST, PORT_CLOSE, PORT_RETURN, PORT_RELEASED, RAW_BYTES, RAW_FRAME, RUN, TOGGLE_READ,
 CLOSE, SHUTDOWN, RECONNECT, ADVANCE, DISPATCH, TOGGLE_MODE, KIND_FRAME, OPEN, FRAME,
 REMOVE_FRAME, CLAIM, CLOSE_WINDOW, RELATION, BROADCAST) = range(32)

# Indexes into fuzz_broker.c's context_urls, targets, names, channel_names.
CTX_A, CTX_SRCDOC, CTX_BLANK = 4, 2, 1
TARGET_BLANK, TARGET_A = 1, 5
NOOPENER = 0x80
NAME_A = 2
RELATION_OPENER, RELATION_FRAME, RELATION_LENGTH = 1, 4, 6
BC_OPEN, BC_POST, BC_CLOSE = 0, 1, 2
CHANNEL_X = 1


def bc(kind, name=0):
    """BROADCAST's first byte: b % 3 is the kind, b >> 2 picks the channel name."""
    for b in range(256):
        if b % 3 == kind and (b >> 2) % 4 == name:
            return b
    raise ValueError((name, kind))

# Config byte a: 0x01 small queues, 0x02 small uid budget, 0x04 small messages,
# 0x08 few windows/ports, 0x10 short URLs/names, 0x20 few descriptors,
# 0x40 short timeouts, 0x80 few connections.  Byte b: 0x01 small socket
# buffer, 0x02 client 2 direct under another uid, 0x04/0x08/0x10 clients
# 0/1/2 answer PortMoved, 0x20 clients keep port messages undispatched.


def op(kind, who, *args):
    """who: 0..2 runs the loop after the op; 3 = same client, no run."""
    return bytes([kind | (who << 5)]) + bytes(args)


def win(i):
    """A raw window id (ids are handed out from 1)."""
    return 0x80 | i


def port(i):
    return 0x80 | i


NO_FDS = bytes([0])


def post(who, frm, to, origin_index=0, payload=30, ports=(), fds=NO_FDS, burst=0):
    how = origin_index | ((0x80 | (burst << 4)) if burst else 0)
    return op(POST, who, how, frm, to, len(ports), *ports, payload) + fds


def port_post(who, p, payload=30, ports=(), fds=NO_FDS, burst=0, kind=PORT_POST):
    how = (0x80 | (burst << 4)) if burst else 0
    return op(kind, who, how, p, len(ports), *ports, payload) + fds


def greet_and_register(clients, url=0):
    out = b''
    for i, c in enumerate(clients):
        out += op(HELLO, c, 0) + op(REGISTER, c, url + i)
    return out


seeds = {
    # Two windows post to each other, with a sealed memfd, then ask about
    # the broker.
    'windows': bytes([0x00, 0x00]) + greet_and_register([0, 1])
    + post(0, win(1), win(2), 0, 20, fds=bytes([1, 1]))
    + post(1, win(2), win(1), 3, 200) + post(1, win(2), win(1), 4, 3)
    + op(SYNC, 1) + op(LIST, 0, 0) + op(STATS, 0) + op(LOOKUP, 0, 2)
    + op(NAVIGATE, 1, win(2), 4) + post(0, win(1), win(2), 3, 1) + op(UNREGISTER, 1, win(2))
    + post(0, win(1), win(2), 0, 1) + post(0, win(1), win(9), 0, 1),
    # A channel: one port goes to the other client's window, both sides
    # post, the mover answers PortMoved, a port is closed.
    'channel': bytes([0x00, 0x3c]) + greet_and_register([0, 1])
    + op(CREATE_CHANNEL, 0, win(1)) + port_post(0, port(1), 40)
    + post(0, win(1), win(2), 0, 36, ports=[port(2)])
    + port_post(0, port(1), 37) + port_post(1, port(2), 38, fds=bytes([1, 2]))
    + op(CREATE_CHANNEL, 1, win(2)) + port_post(1, port(2), 32, ports=[port(3)])
    + port_post(0, port(3), 32) + op(PORT_CLOSE, 1, port(4)) + op(PORT_CLOSE, 0, port(1)),
    # An honest hand-over, late: the old owner keeps three messages for the
    # port, is told it moved, and hands them back before releasing it; its
    # peer posts meanwhile.  Then the port moves on again before it lands.
    'handover': bytes([0x00, 0x20]) + greet_and_register([0, 1, 2])
    + op(CREATE_CHANNEL, 0, win(1)) + port_post(0, port(1), 30, burst=2)
    + post(0, win(1), win(2), 0, 30, ports=[port(2)]) + port_post(0, port(1), 31, burst=1)
    + op(PORT_RELEASED, 0, 0) + op(DISPATCH, 1) + port_post(0, port(1), 33)
    + post(1, win(2), win(3), 0, 30, ports=[port(2)]) + post(1, win(2), win(3), 0, 30)
    + port_post(0, port(1), 34) + op(TOGGLE_MODE, 1, 1) + op(KIND_FRAME, 2, 1, 0)
    + op(DISPATCH, 2),
    # A receiver stops reading under ten large messages: parking, a paused
    # sender, then everything flows again.
    'flow': bytes([0x01, 0x01]) + greet_and_register([0, 1, 2])
    + op(TOGGLE_READ, 1) + post(0, win(1), win(2), 0, 0xff, burst=7)
    + post(0, win(1), win(2), 0, 0xff, burst=7) + post(2, win(3), win(2), 0, 0xf0, burst=7)
    + post(0, win(1), win(3), 0, 5) + op(SYNC, 0) + op(TOGGLE_READ, 1) + op(SYNC, 1),
    # Ports held in transit: the old owner keeps a message undispatched and
    # does not answer PortMoved; it hands one message back by hand, the
    # transit timeout lands the port, late answers change nothing; then it
    # answers by itself for the next port.
    'transit': bytes([0x40, 0x20]) + greet_and_register([0, 1, 2])
    + op(CREATE_CHANNEL, 0, win(1)) + op(CREATE_CHANNEL, 0, win(1))
    + port_post(0, port(1), 29) + post(0, win(1), win(2), 0, 23, ports=[port(2)])
    + port_post(0, port(1), 29) + port_post(1, port(2), 24)
    + port_post(0, port(2), 29, kind=PORT_RETURN) + op(ADVANCE, 0, 1)
    + op(PORT_RELEASED, 0, port(2)) + port_post(0, port(2), 29, kind=PORT_RETURN)
    + op(TOGGLE_MODE, 0, 3) + port_post(0, port(3), 22)
    + post(0, win(1), win(3), 0, 23, ports=[port(4)])
    + port_post(2, port(4), 21) + op(DISPATCH, 1) + port_post(1, port(2), 21),
    # Hostile: a frame before Hello, a bad version, raw garbage, a frame the
    # broker sends, descriptors the frame does not declare, a silent
    # connection timed out, reconnecting.
    'hostile': bytes([0xc0, 0x02]) + op(SYNC, 0) + op(HELLO, 1, 0xf5)
    + op(RECONNECT, 0) + op(RECONNECT, 1) + op(HELLO, 0, 1)
    + op(RAW_BYTES, 0, 6, 0, *b'\x02\x00\x00\x00\x00\x00')
    + op(HELLO, 2, 1) + op(REGISTER, 2, 1) + op(RAW_FRAME, 2, 3, 3, 0, 0x81, 2, *b'\xc2\x01\x00')
    + op(KIND_FRAME, 2, 1, 0) + op(RECONNECT, 2) + op(HELLO, 2, 0) + op(KIND_FRAME, 2, 6, 5)
    + op(ADVANCE, 1, 0) + op(RECONNECT, 1) + op(HELLO, 1, 3)
    + post(1, win(1), win(1), 0, 1, fds=bytes([0x81, 1]))
    + op(SHUTDOWN, 1) + op(RECONNECT, 0) + op(HELLO, 0, 0) + op(CLOSE, 0),
    # Another uid at its budget: large frames admitted before they are
    # read, descriptors over the uid's limit, small limits everywhere.
    'budget': bytes([0x3b, 0x23]) + greet_and_register([0, 2])
    + op(REGISTER, 2, 0x10) + op(REGISTER, 2, 0x21) + op(REGISTER, 2, 0x20)
    + op(TOGGLE_READ, 0) + post(2, win(2), win(1), 0, 0xff, burst=7, fds=bytes([2, 2, 1]))
    + post(2, win(2), win(1), 0, 0xff, burst=7) + post(2, win(2), win(1), 0, 0xff, burst=7)
    + op(RAW_FRAME, 2, 3, 0xff, 40, 0, *b'\xaa\x01\x00') + op(CREATE_CHANNEL, 2, win(2))
    + op(CREATE_CHANNEL, 2, win(2)) + op(CREATE_CHANNEL, 2, win(2)) + op(TOGGLE_READ, 0),
    # Browsing contexts: window 1 opens a popup named "a" (window 3) that
    # client 2 claims with its token; window 1 frames an about:srcdoc
    # iframe (window 4) that client 1 claims, and the token is used again
    # and forged; the popup asks for its opener and posts to it; a
    # BroadcastChannel "x" in windows 1 and 3 (same origin, same site);
    # a noopener popup nobody claims (gone at claim-timeout); client 1
    # frames window 4, tries to remove it from window 1 (not its own),
    # client 0 removes it; the popup closes itself; client 0 closes
    # client 2's channel (not its own), its own, posts on it with a
    # descriptor.
    'contexts': bytes([0x40, 0x00]) + greet_and_register([0, 1])
    + op(OPEN, 0, win(1), CTX_A, TARGET_A) + op(HELLO, 2, 0) + op(CLAIM, 2, 0, 0)
    + op(FRAME, 0, win(1), CTX_SRCDOC | (NAME_A << 4)) + op(CLAIM, 1, 1, 0)
    + op(CLAIM, 1, 1, 0) + op(CLAIM, 1, 0xa1, 1)
    + op(RELATION, 2, win(3), RELATION_OPENER) + op(RELATION, 0, win(1), RELATION_LENGTH)
    + op(RELATION, 0, win(1), RELATION_FRAME) + post(2, win(3), win(1), 0, 30)
    + op(BROADCAST, 0, bc(BC_OPEN, CHANNEL_X), win(1)) + op(BROADCAST, 2, bc(BC_OPEN, CHANNEL_X), win(3))
    + op(BROADCAST, 0, bc(BC_POST), 0x80 | 1, 30, 0) + op(BROADCAST, 2, bc(BC_POST), 0x80 | 2, 5, 0)
    + op(OPEN, 0, win(1), CTX_BLANK, TARGET_BLANK | NOOPENER)
    + op(FRAME, 1, win(4), 0) + op(REMOVE_FRAME, 1, win(1), win(4))
    + op(REMOVE_FRAME, 0, win(1), win(4)) + op(CLOSE_WINDOW, 2, win(3), win(3))
    + op(BROADCAST, 0, bc(BC_CLOSE), 0x80 | 2) + op(BROADCAST, 0, bc(BC_CLOSE), 0x80 | 1)
    + op(BROADCAST, 0, bc(BC_POST), 0x80 | 1, 5, 1, 1) + op(ADVANCE, 0, 0),
    # A large frame admitted against a budget that other connections of its
    # uid hold part of (a receiver that does not read): it must wait for
    # them, never for its own bytes already read.
    'reserve': bytes([0x01, 0x01]) + greet_and_register([0, 1]) + op(TOGGLE_READ, 1)
    + post(0, win(1), win(2), 0, 0xff, burst=5)
    + op(HELLO, 2, 0) + op(RAW_FRAME, 2, 3, 0xff, 93, 0, 0xaa, 0x01, 0x00),
}

outdir = 'fuzz/corpus/fuzz_broker'
os.makedirs(outdir, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(outdir, name), 'wb') as f:
        f.write(data)
    print(name, len(data), hashlib.sha1(data).hexdigest()[:8])
