#!/usr/bin/env bash
# Test of `kiln call URL FUNC`: a plugin downloaded over HTTP from a server on the loopback,
# which serves DIR. Exits 77 (skipped) without python3 to serve it.
#   call_url.sh path/to/kiln DIR
set -u
kiln=$1 dir=$2
command -v python3 >/dev/null 2>&1 || { echo "python3 is not installed"; exit 77; }
tmp=$(mktemp -d)
# A server on the loopback only, for at most 60 s, on a port the system picks.
python3 - "$dir" >"$tmp/port" 2>/dev/null <<'PY' &
import functools, http.server, sys, threading
handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
handler.log_message = lambda *a: None
server = http.server.HTTPServer(("127.0.0.1", 0), handler)
print(server.server_address[1], flush=True)
threading.Timer(60, server.shutdown).start()
server.serve_forever()
PY
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 50); do [ -s "$tmp/port" ] && break; sleep 0.1; done
[ -s "$tmp/port" ] || { echo "the HTTP server did not start"; exit 1; }
base="http://127.0.0.1:$(cat "$tmp/port")"
failed=0

"$kiln" call "$base/echo_plugin.wasm" echo -i "from a URL" >"$tmp/out"
rc=$?
if [ $rc = 0 ] && printf 'from a URL' | cmp -s - "$tmp/out"; then
    echo "ok: a plugin from a URL"
else
    echo "FAILED: exit $rc, output: $(cat "$tmp/out")"
    failed=1
fi

err=$("$kiln" call "$base/missing.wasm" echo 2>&1 >/dev/null; echo "exit $?")
case $err in
*"HTTP status 404"*"exit 1") echo "ok: a URL that is not found" ;;
*) echo "FAILED: a missing URL gave: $err"; failed=1 ;;
esac
exit $failed
