#!/bin/sh
# SPDX-License-Identifier: MIT
# `crosspost run --diagram FILE.svg`: the run drawn as a sequence diagram.
# The SVG must be well-formed XML (python3's xml.etree) with the lifelines,
# arrows and notes of what the scenario did, counted; rsvg-convert must
# render it to a PNG of the SVG's size; hostile names and data must come
# out escaped (no element of theirs, valid UTF-8); several FILEs get one
# diagram each; bad paths are clear errors.
set -eu
. "$(dirname "$0")/../helpers/cli-lib.sh"

# Debian's python3 (a virtualenv's may lack nothing, but is not what the
# packages promise).
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
command -v "$PY" >/dev/null || { fail "python3 is not installed (scripts/install-deps.sh)"; finish; }
command -v rsvg-convert >/dev/null || { fail "rsvg-convert is not installed (librsvg2-bin, scripts/install-deps.sh)"; finish; }

# Prints "CLASS COUNT" for every class attribute word in the SVG, then
# "text: ..." for every text element, after checking it parses as XML and
# is UTF-8.  Exit 1 (with the reason) when it does not.
cat >"$T/svg.py" <<'PY'
import collections, sys, xml.etree.ElementTree as ET
raw = open(sys.argv[1], "rb").read()
try:
    raw.decode("utf-8", "strict")
except UnicodeDecodeError as e:
    sys.exit("not UTF-8: %s" % e)
try:
    root = ET.fromstring(raw)
except ET.ParseError as e:
    sys.exit("not well-formed XML: %s" % e)
NS = "{http://www.w3.org/2000/svg}"
if root.tag != NS + "svg":
    sys.exit("root is %s, not svg" % root.tag)
print("size %s %s" % (root.get("width"), root.get("height")))
counts = collections.Counter()
tags = collections.Counter()
for el in root.iter():
    tags[el.tag.replace(NS, "")] += 1
    for c in (el.get("class") or "").split():
        counts[c] += 1
for c, n in sorted(counts.items()):
    print("class %s %d" % (c, n))
for t, n in sorted(tags.items()):
    print("tag %s %d" % (t, n))
for el in root.iter(NS + "text"):
    print("text: " + "".join(el.itertext()))
for el in root.iter(NS + "title"):
    print("title: " + "".join(el.itertext()).replace("\n", " "))
for g in root.iter(NS + "g"):
    if "failed" in (g.get("class") or "").split():
        print("failed-note-color: " + (g.find(NS + "text").get("fill") or ""))
PY
svg_info() { "$PY" "$T/svg.py" "$1"; }
count() { # INFO CLASS -> the count, 0 when absent
	printf '%s\n' "$1" | sed -n "s/^class $2 //p" | grep . || echo 0
}

# ---- one scenario with each kind of thing on it ----
S=$T/story.scenario
cat >"$S" <<'SCN'
window a https://a.example name=main
window b https://b.example opener=a
frame c https://c.example/ad in=a
a post b {"n": 1} target=https://b.example
b expect message {"n": 1} origin=https://a.example
a post b "secret" target=https://wrong.example
a channel p1 p2
a post b "line" transfer=p2 target=*
b expect message "line" ports=1
b send p2 {"over": "port"}
a expect message {"over": "port"} port=p1
remove c
a post c "late" target=*
b expect message {"n": 2} within=100ms
SCN
capture "$CROSSPOST" run --diagram "$T/story.svg" "$S"
expect_eq "a failed expectation: exit 1, diagram or not" "$RC" "1"
expect_contains "the TAP stream names the diagram" "$OUT" "# diagram: $T/story.svg"
INFO=$(svg_info "$T/story.svg") && pass "the SVG is well-formed XML in UTF-8" || fail "the SVG: $INFO"
expect_eq "a lifeline per window" "$(count "$INFO" window)" "3"
expect_eq "a lifeline per port" "$(count "$INFO" port)" "2"
expect_eq "an arrow per delivered message (two window messages, one port message)" "$(count "$INFO" message)" "3"
expect_eq "one of them between ports" "$(count "$INFO" port-message)" "1"
expect_eq "an arrow that stops per dropped message" "$(count "$INFO" dropped)" "2"
expect_eq "creation arrows: window.open, iframe, two ports" "$(count "$INFO" create)" "4"
expect_eq "the removed frame's lifeline ends" "$(count "$INFO" end)" "1"
expect_eq "a note per passed expectation" "$(count "$INFO" passed)" "3"
expect_eq "a note per failed expectation" "$(count "$INFO" failed)" "1"
expect_contains "the failed one is red" "$INFO" "failed-note-color: #c62828"
expect_contains "it says why" "$INFO" "text: ✗ expect message: nothing arrived"
expect_contains "header: the window's name" "$INFO" 'text: window 1, name "main"'
expect_contains "header: the origin" "$INFO" "text: https://b.example"
expect_contains "header: the opener" "$INFO" "text: opener: a"
expect_contains "header: the parent" "$INFO" "text: frame of: a"
expect_contains "header: the frames" "$INFO" "text: frames: c"
expect_contains "header: a port's peer" "$INFO" "text: peer: p2"
expect_contains "a message's data" "$INFO" 'text: {"n":1}'
expect_contains "the origin the broker stamped" "$INFO" "text: origin https://a.example"
expect_contains "a drop's reason: both origins" "$INFO" \
	"text: targetOrigin 'https://wrong.example' does not match the target's origin 'https://b.example'"
expect_contains "a drop's reason: closed target" "$INFO" "text: the target has closed"
expect_contains "a port message's way" "$INFO" "text: to port p1, in a"
expect_contains "the summary line" "$INFO" \
	"text: 3 windows, 2 ports; 3 messages delivered, 2 dropped; test points: 3 passed, 1 failed"
expect_contains "line numbers of the script" "$INFO" "text: 14"

# rsvg-convert renders it at the size the SVG declares.
W=$(printf '%s\n' "$INFO" | sed -n 's/^size \([0-9]*\) .*/\1/p')
H=$(printf '%s\n' "$INFO" | sed -n 's/^size [0-9]* \([0-9]*\)$/\1/p')
if rsvg-convert "$T/story.svg" -o "$T/story.png" 2>"$T/rsvg.err"; then
	pass "rsvg-convert renders it"
else
	fail "rsvg-convert: $(cat "$T/rsvg.err")"
fi
PNG=$("$PY" -c '
import struct, sys
d = open(sys.argv[1], "rb").read()
assert d[:8] == b"\x89PNG\r\n\x1a\n" and d[12:16] == b"IHDR", "not a PNG"
w, h = struct.unpack(">II", d[16:24])
print(w, h, len(d))' "$T/story.png") || PNG="not a PNG"
set -- $PNG
expect_eq "the PNG is the SVG's size" "$1x$2" "${W}x${H}"
[ "${1:-0}" -ge 600 ] && [ "${1:-0}" -le 4000 ] && [ "${2:-0}" -ge 400 ] && [ "${2:-0}" -le 4000 ] &&
	pass "its size is sane for 5 lifelines and 19 rows ($1x$2)" || fail "odd PNG size: $PNG"
# A blank picture compresses to almost nothing; this one has text and lines.
[ "${3:-0}" -ge 20000 ] && pass "the PNG has content (${3} bytes)" || fail "the PNG is nearly empty: $PNG"

# ---- hostile names and data ----
# Names are the script's (UTF-8, which the parser checks, but any
# character); data is JSON, whose output escapes controls and writes lone
# surrogates as $string (invalid UTF-8 is tests/check_diagram.c's).
{
	printf '%s\n' 'window a https://a.example name=</text><script>alert(1)</script>'
	printf '%s\n' "window b https://b.example name=x\"'&amp;<!--"
	printf 'window c https://c.example name=ctl\001x\342\200\256rev\n'
	printf '%s\n' 'a post b "</text><script>alert(2)</script>]]>" target=*'
	printf '%s\n' 'b expect message'
	printf '%s\n' 'a post b {"k": "\u202eevil\u202c \u0001 tab\there", "q": "\"'"'"'&<>", "s": {"$string": ["x", 55296]}} target=*'
	printf '%s\n' 'b expect message'
	printf 'a post b "%s" target=*\n' "$(printf '%0300d' 0 | tr 0 A)Z"
	printf '%s\n' 'b expect message'
} >"$T/hostile.scenario"
capture "$CROSSPOST" run --diagram "$T/hostile.svg" "$T/hostile.scenario"
expect_eq "hostile labels: the run passes" "$RC" "0"
INFO=$(svg_info "$T/hostile.svg") && pass "hostile labels: the SVG is well-formed XML in UTF-8" ||
	fail "hostile labels: $INFO"
expect_eq "hostile labels: no script element" "$(printf '%s\n' "$INFO" | sed -n 's/^tag script //p')" ""
expect_eq "hostile labels: the three messages" "$(count "$INFO" message)" "3"
expect_contains "a name with markup is text (cut in the header, whole in its tooltip)" "$INFO" \
	'title: a | window 1, name "</text><script>alert(1)</script>" | https://a.example'
expect_contains "quotes and entities are text" "$INFO" "name \"x\"'&amp;<!--\""
expect_contains "data with markup is text" "$INFO" 'text: "</text><script>alert(2)</script…'
expect_contains "the tooltip has all of it" "$INFO" 'data "</text><script>alert(2)</script>]]>"'
expect_contains "quotes in data survive" "$INFO" "\\\"'&<>"
expect_contains "a control character and a bidi override in a name become U+FFFD" "$INFO" 'name "ctl�x�rev"'
case "$INFO" in
*"$(printf '\342\200\256')"* | *"$(printf '\342\200\254')"*) fail "a bidi control reached the SVG" ;;
*) pass "bidi controls in data are replaced" ;;
esac
case "$INFO" in
*"$(printf '\001')"*) fail "a control character reached the SVG" ;;
*) pass "control characters are replaced" ;;
esac
expect_contains "a lone surrogate stays tagged JSON" "$INFO" '{"$string":["x",55296]}'
expect_contains "a long label is cut" "$INFO" 'text: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'
long=$(printf '%s\n' "$INFO" | grep '^text: "AAAA' | head -n 1)
case "$long" in
*Z*) fail "a long label is not cut: $long" ;;
*…) pass "the cut label ends with …" ;;
*) fail "the cut label does not end with …: $long" ;;
esac
expect_contains "the tooltip keeps the whole of it" "$INFO" 'AAAAAAAZ"'
rsvg-convert "$T/hostile.svg" -o "$T/hostile.png" 2>"$T/rsvg.err" && pass "rsvg-convert renders the hostile one" ||
	fail "rsvg-convert: $(cat "$T/rsvg.err")"

# ---- several FILEs: one diagram each, numbered ----
cat >"$T/one.scenario" <<'SCN'
window a https://a.example
a post a "self" target=*
a expect message "self"
SCN
capture "$CROSSPOST" run --diagram "$T/many.svg" "$T/one.scenario" "$S"
expect_eq "two FILEs: the second fails, exit 1" "$RC" "1"
[ -s "$T/many-1.svg" ] && [ -s "$T/many-2.svg" ] && pass "two FILEs: many-1.svg and many-2.svg" ||
	fail "two FILEs: $(ls "$T")"
[ ! -e "$T/many.svg" ] && pass "two FILEs: no many.svg" || fail "two FILEs: many.svg was written too"
INFO=$(svg_info "$T/many-1.svg") || fail "many-1.svg: $INFO"
expect_eq "the first diagram is the first FILE's (one window)" "$(count "$INFO" window)" "1"
expect_eq "a message to itself is an arrow" "$(count "$INFO" message)" "1"

# ---- against a running broker (--socket): only the script's windows ----
start_broker
listen_bg "$T/bystander.out" https://other.example --name bystander --count 1
capture "$CROSSPOST" run --socket "$CROSSPOST_SOCKET" --diagram "$T/ext.svg" "$T/one.scenario"
expect_eq "--socket --diagram: exit 0" "$RC" "0"
INFO=$(svg_info "$T/ext.svg") || fail "ext.svg: $INFO"
expect_eq "--socket: a lifeline for the script's window only" "$(count "$INFO" window)" "1"

# ---- the README's picture is what the runner draws today ----
capture "$CROSSPOST" run --diagram "$T/demo.svg" examples/demo.scenario
expect_eq "the demo scenario passes" "$RC" "0"
if cmp -s "$T/demo.svg" docs/images/demo.svg; then
	pass "docs/images/demo.svg is current"
else
	fail "docs/images/demo.svg is not what the runner draws now: run" \
		"'build/crosspost run --diagram docs/images/demo.svg examples/demo.scenario' and commit it"
fi
INFO=$(svg_info docs/images/demo.svg) || fail "docs/images/demo.svg: $INFO"
expect_eq "the demo: three windows" "$(count "$INFO" window)" "3"
expect_eq "the demo: one dropped message" "$(count "$INFO" dropped)" "1"

# ---- mistakes ----
capture "$CROSSPOST" run --diagram "" "$T/one.scenario"
expect_eq "--diagram '': exit 2" "$RC" "2"
expect_contains "--diagram '': says so" "$ERR" "--diagram needs a FILE"
capture "$CROSSPOST" run --diagram "$T/no/such/dir/x.svg" "$T/one.scenario"
expect_eq "--diagram into a missing folder: exit 2" "$RC" "2"
expect_contains "--diagram into a missing folder: says so" "$ERR" "cannot write the diagram $T/no/such/dir/x.svg"
finish
