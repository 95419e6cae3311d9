#!/bin/bash
# The migration benchmark (README "Performance"): a generated Square export of RECORDS records
# (about 2.5 catalog items each) migrated with `--approve-all` into an empty catalog on a fresh
# embedded store, then rolled back; wall time and peak RSS from /usr/bin/time -v, and the
# disk's flush rate (4 KiB rewrite + fdatasync for 2 s in the state directory) before, between
# and after, since it varies with what else runs.
#
#   tests/bench/migration.sh target/release/tillbridge 40000 [WORKDIR]
set -eu
BIN=$(realpath "$1")
N=$2
W=${3:-target/bench}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$W"
EXP=$W/large-$N.json
[ -f "$EXP" ] || python3 "$ROOT/samples/exports/generate_large.py" "$N" > "$EXP"
S=$W/state-$N
rm -rf "$S"
mkdir -p "$S"

flushes() {
  python3 - "$S" <<'EOF'
import os, sys, time
p = os.path.join(sys.argv[1], ".flush-probe")
fd = os.open(p, os.O_WRONLY | os.O_CREAT, 0o600)
n, t0 = 0, time.monotonic()
while time.monotonic() - t0 < 2.0:
    os.pwrite(fd, b"x" * 4096, 0)
    os.fdatasync(fd)
    n += 1
print(f"{n / (time.monotonic() - t0):.0f} flushes/s")
os.close(fd)
os.unlink(p)
EOF
}

measure() {
  grep -E "Elapsed|Maximum resident|User time|System time" "$1" | sed 's/^\s*/  /'
}

echo "$N records, $(date -u +%FT%TZ), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "disk before: $(flushes)"
/usr/bin/time -v "$BIN" migrate --tenant demo-cafe --source-name square --export "$EXP" \
  --approve-all --offline --state "$S" --format json > "$S/migrate.json" 2> "$S/migrate.err"
echo "migrate:"
measure "$S/migrate.err"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); p=d["progress"]; print("  ", d["status"], "created", p["created"], "changed", p["changed"], "of", p["items"])' "$S/migrate.json"
ID=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$S/migrate.json")
echo "store: $(du -sh "$S" | cut -f1); disk between: $(flushes)"
/usr/bin/time -v "$BIN" rollback --migration "$ID" --state "$S" --format json \
  > "$S/rollback.json" 2> "$S/rollback.err"
echo "rollback:"
measure "$S/rollback.err"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); p=d["progress"]; print("  ", d["status"], "removed", p["removed"], "restored", p["restored"])' "$S/rollback.json"
echo "disk after: $(flushes)"
rm -rf "$S"
