# SPDX-License-Identifier: MIT
# crosspost post as a shell tool: data from a file (-f), all of standard
# input (-f -) or a line at a time (-l), --string, and replies
# (--reply-count, --timeout, --format), so that a script can be either side
# of a request and response.
set -eu
. "$(dirname "$0")/../helpers/cli-lib.sh"

start_broker

# -l: one message per line, in order, all from one window; empty lines skipped.
listen_bg "$T/l.out" https://b.example --name lines --count 3 --timeout 20s --format '%i %d'
capture sh -c 'printf "1\n\n{\"two\":2}\n\"three\"" | "$0" post https://a.example --to lines --target-origin "*" -l' "$CROSSPOST"
expect_eq "post -l exits 0" "$RC:$ERR" "0:"
wait "$LISTEN_PID" && rc=0 || rc=$?
expect_eq "three lines arrive" "$rc:$(cut -d' ' -f2- "$T/l.out" | paste -sd'|')" '0:1|{"two":2}|"three"'
expect_eq "from one window" "$(cut -d' ' -f1 "$T/l.out" | sort -u | wc -l)" "1"

# -l --string: each line as a string; a \r before the newline is dropped.
listen_bg "$T/s.out" https://b.example --name strings --count 2 --timeout 20s --format '%d'
capture sh -c 'printf "hello world\r\nnot {json\n" | "$0" post https://a.example --to strings --target-origin "*" -l --string' \
	"$CROSSPOST"
expect_eq "post -l --string exits 0" "$RC" "0"
wait "$LISTEN_PID" || true
expect_eq "lines as strings" "$(paste -sd'|' "$T/s.out")" '"hello world"|"not {json"'

# -l stops at a line that is not JSON, saying what was posted before it.
listen_bg "$T/bad.out" https://b.example --name badline --count 1 --timeout 20s --format '%d'
capture sh -c 'printf "\"first\"\n{oops\n\"never\"\n" | "$0" post https://a.example --to badline --target-origin "*" -l' \
	"$CROSSPOST"
expect_eq "a bad line exits 1" "$RC" "1"
expect_contains "the bad line is named" "$ERR" "crosspost post: line 2 of standard input is not valid JSON"
expect_contains "what was posted is said" "$ERR" "stopped there: 1 message was posted before it"
wait "$LISTEN_PID" || true
expect_eq "the line before it was posted" "$(cat "$T/bad.out")" '"first"'

# -f FILE: the whole file is one message; -f -: all of standard input.
printf '{\n  "pretty": [1,\n    2]\n}\n' >"$T/data.json"
printf 'two\nlines\n' >"$T/data.txt"
listen_bg "$T/f.out" https://b.example --name files --count 3 --timeout 20s --format '%d'
capture "$CROSSPOST" post https://a.example --to files --target-origin '*' -f "$T/data.json"
expect_eq "post -f FILE exits 0" "$RC:$ERR" "0:"
capture sh -c '"$0" post https://a.example --to files --target-origin "*" -f - <"$1"' "$CROSSPOST" "$T/data.json"
expect_eq "post -f - exits 0" "$RC:$ERR" "0:"
capture "$CROSSPOST" post https://a.example --to files --target-origin '*' --file "$T/data.txt" --string
expect_eq "post --file --string exits 0" "$RC:$ERR" "0:"
wait "$LISTEN_PID" || true
expect_eq "a file is one message" "$(sed -n 1p "$T/f.out")" '{"pretty":[1,2]}'
expect_eq "standard input is one message" "$(sed -n 2p "$T/f.out")" '{"pretty":[1,2]}'
expect_eq "--string keeps the file's bytes" "$(sed -n 3p "$T/f.out")" '"two\nlines\n"'
capture "$CROSSPOST" post https://a.example --to nobody -f "$T/no-such-file"
expect_eq "a missing file exits 1, naming it" "$RC:$ERR" \
	"1:crosspost post: cannot open $T/no-such-file: No such file or directory"
echo '{"x":' >"$T/broken.json"
capture "$CROSSPOST" post https://a.example --to nobody -f "$T/broken.json"
expect_contains "a file that is not JSON" "$RC:$ERR" "1:crosspost post: the file is not valid JSON"

# One source of data only; reply options need --reply-count.
capture "$CROSSPOST" post https://a.example --to x -l '"also DATA"'
expect_eq "DATA with -l exits 2" "$RC" "2"
capture "$CROSSPOST" post https://a.example --to x -l -f "$T/data.json"
expect_eq "-f with -l exits 2" "$RC" "2"
expect_contains "-f with -l explained" "$ERR" "-f and -l are two sources of data: give one"
capture "$CROSSPOST" post https://a.example --to x --timeout 1s 1
expect_eq "--timeout without --reply-count exits 2" "$RC:$ERR" \
	"2:crosspost post: --timeout is for replies: it needs --reply-count"
capture "$CROSSPOST" post https://a.example --to x --format '%d' 1
expect_eq "--format without --reply-count exits 2" "$RC" "2"
capture "$CROSSPOST" post https://a.example --to x --reply-count 1 --format '%q' 1
expect_eq "an unknown --format directive exits 2" "$RC" "2"
expect_contains "the directive is named" "$ERR" "unknown directive '%q'"
capture "$CROSSPOST" post https://a.example --to x --reply-count none 1
expect_eq "a bad --reply-count exits 2" "$RC" "2"

# Request and response in shell: an echo server is a listener piped into
# post, answering event.source with targetOrigin event.origin.
rm -f "$T/ready"; mkfifo "$T/ready"
("$CROSSPOST" listen https://echo.example --name echo --count 3 --timeout 20s --format '%i %o %d' \
	--ready-fd 3 3>"$T/ready" 2>"$T/echo.err" |
	while read -r id origin data; do
		"$CROSSPOST" post https://echo.example --to-id "$id" --target-origin "$origin" "$data"
	done) &
ECHO_PID=$!
BG_PIDS="$BG_PIDS $ECHO_PID"
read -r _ <"$T/ready" || true
capture "$CROSSPOST" post https://a.example --to echo --target-origin https://echo.example --reply-count 1 \
	--timeout 20s '{"ping":1}'
expect_eq "post --reply-count 1 exits 0" "$RC" "0"
expect_contains "the reply is printed as a JSON line" "$OUT" \
	'{"type":"message","data":{"ping":1},"origin":"https://echo.example","source":{"id":'
capture sh -c 'printf "\"one\"\n\"two\"\n" | "$0" post https://a.example --to echo \
	--target-origin https://echo.example -l --reply-count 2 --timeout 20s --format "%o said %D"' "$CROSSPOST"
expect_eq "post -l --reply-count 2 --format exits 0" "$RC" "0"
expect_eq "replies in --format" "$(printf '%s\n' "$OUT" | paste -sd'|')" \
	"https://echo.example said one|https://echo.example said two"
wait "$ECHO_PID" || true

# --timeout: fewer replies than asked for is a failure, said so.
listen_bg "$T/mute.out" https://b.example --name mute --count 1 --timeout 20s
capture "$CROSSPOST" post https://a.example --to mute --target-origin '*' --reply-count 1 --timeout 200ms '"anyone?"'
expect_eq "no reply by the timeout exits 1" "$RC" "1"
expect_eq "the timeout is explained" "$ERR" "crosspost post: timed out: 0 of 1 reply arrived"
wait "$LISTEN_PID" || true
finish
