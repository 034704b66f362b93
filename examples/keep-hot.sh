#!/usr/bin/env bash
# Keeps a file hot in the page cache with the memmap command, the way an
# administrator would use vmtouch: see, load, pin, then let go.
# Usage: examples/keep-hot.sh [file]   (default: a scratch file of 32 MiB)
set -euo pipefail
cd "$(dirname "$0")/.."
memmap() { node bin/memmap.js "$@"; }

file=${1:-}
scratch=""
if [ -z "$file" ]; then
  scratch=$(mktemp -d)
  file="$scratch/hot.bin"
  head -c $((32 << 20)) /dev/zero > "$file"
  sync "$file"
fi
trap '[ -n "$scratch" ] && rm -rf "$scratch"' EXIT

echo "== evict, then see what is cached"
memmap evict "$file"
memmap stat "$file"
echo "== load it"
memmap touch "$file"
echo "== pin it while a job runs, then let go"
log=$(mktemp)
node bin/memmap.js lock "$file" > "$log" &   # not through the function: $! must be node itself
pid=$!
until grep -q Holding "$log"; do   # locked and listening for the signal
  kill -0 "$pid" 2>/dev/null || { cat "$log"; exit 1; }
  sleep 0.1
done
cat "$log"
echo "(the job would run here)"
kill -TERM "$pid"
wait "$pid"
tail -n 1 "$log"   # "Unlocked 1 file."
rm -f "$log"
memmap stat -v "$file"
