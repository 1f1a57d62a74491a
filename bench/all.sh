#!/usr/bin/env bash
# Every benchmark at a size that takes under five minutes in all (SQLite; 2 cores), then one table of
# ratios to their baselines measured in the same run, and the figures that have no baseline.
#
#     bash bench/all.sh            # the table at the end; each bench's own output in $LOG_DIR
#
# Targets are issue 16's. A ratio is a median of the bench's rounds where it has rounds. The
# realistic database of bench/pages.py is built on the first run (~10 s) and kept in ~/.cache.
set -uo pipefail
cd "$(dirname "$0")/.."
LOG_DIR=${LOG_DIR:-$(mktemp -d -t mechmooc-bench-XXXX)}
mkdir -p "$LOG_DIR"
rows=()
began=$SECONDS

run() {  # run NAME COMMAND...: the bench's output into $LOG_DIR/NAME.log
  local name=$1
  shift
  local start=$SECONDS
  if ! "$@" >"$LOG_DIR/$name.log" 2>&1; then
    echo "bench $name failed; see $LOG_DIR/$name.log" >&2
  fi
  echo "$name: $((SECONDS - start)) s" >&2
}

value() {  # value NAME REGEX [LABEL]: in the last line matching REGEX, the number after LABEL (or the last number)
  local line
  line=$(grep -E "$2" "$LOG_DIR/$1.log" 2>/dev/null | tail -n 1)
  if [ -n "${3:-}" ]; then
    sed -nE "s/.*$3 ([0-9]+(\.[0-9]+)?).*/\1/p" <<<"$line"
  else
    grep -oE '[0-9]+(\.[0-9]+)?' <<<"$line" | tail -n 1
  fi
}

row() { rows+=("$(printf '| %-44s | %-10s | %-12s |' "$1" "${2:-n/a}" "$3")"); }

run fanout python3 bench/federation_fanout.py --followers 10000 --inboxes 200 --announcements 20
row "fan-out POSTs/s / signing ceiling (wall)" "$(value fanout 'signing-bound ceiling')" ">= 0.5"
row "fan-out, same in CPU time" "$(value fanout 'ratio in CPU time')" ">= 0.5"

run fanout2 python3 bench/federation_fanout.py --followers 10000 --inboxes 200 --announcements 20 --workers 2
row "fan-out, two delivery workers (wall)" "$(value fanout2 'signing-bound ceiling')" ">= 0.5"

run inbox python3 bench/federation_inbox.py --activities 600 --repeat 3
row "inbox / durable minimum (wall)" "$(value inbox 'ratio to the baseline')" ">= 0.5"
row "inbox / durable minimum (CPU time)" "$(value inbox '^ratio in CPU time')" ">= 0.5"

run latency python3 bench/inbox_latency.py --pairs 10 --stream 60 --rate 40
row "inbox received -> handled p99, pairs (ms)" "$(value latency '^pairs' p99)" "no tick wait"
row "inbox received -> handled p99, stream (ms)" "$(value latency '^stream' p99)" "no tick wait"

run maillat python3 bench/mail_latency.py --pairs 4 --stream 30 --rate 20
row "confirmation mail due -> sent p99, pairs (ms)" "$(value maillat '^confirmations, pairs' p99)" "no tick wait"
row "confirmation mail due -> sent p99, stream (ms)" "$(value maillat '^confirmations, stream' p99)" "no tick wait"
row "unit mail due -> sent p99, pairs (ms)" "$(value maillat '^units, pairs' p99)" "no tick wait"
row "unit mail due -> sent p99, stream (ms)" "$(value maillat '^units, stream' p99)" "no tick wait"

run pages python3 bench/pages.py --requests 300 --repeat 3
for page in home catalogue course run profile; do
  row "page $page / hello-world (requests/s)" "$(value pages "^$page \\(" 'hello-world')" ">= 0.3"
done
# The same pages rendered every time (the page cache off): what a miss or a logged-in visitor costs.
run pages_rendered python3 bench/pages.py --requests 100 --repeat 3 --cache-seconds 0
for page in home catalogue course run profile; do
  row "page $page rendered, cache off / hello-world" "$(value pages_rendered "^$page \\(" 'hello-world')" "(no target)"
done

run enroll python3 bench/enroll.py --learners 20000
row "20,000 enroll + group / plain insert (x)" "$(value enroll 'ratio to plain insert' 'insert:')" "<= 1.5"
row "the same / Core executemany (x)" "$(value enroll 'ratio to the Core executemany' 'executemany:')" "(stricter)"
run enroll_later python3 bench/enroll.py --learners 20000 --group-later
row "20,000 enroll, group later / plain insert (x)" "$(value enroll_later 'ratio to plain insert' 'insert:')" "<= 1.5"

run mail python3 bench/mail.py --learners 2000 --repeat 1
row "mail at the due instant / plain blast" "$(value mail '^median ratio at the due instant' 'rounds:')" ">= 0.8"
row "mail end to end / plain blast" "$(value mail '^median ratio end to end,? of' 'rounds:')" ">= 0.6"
row "mail end to end, both jobs at once / blast" "$(value mail '^median ratio end to end, both' 'rounds:')" ">= 0.6"

run startup python3 bench/startup.py --repeat 3 --top 5
row "serve ready (s, median of 3)" "$(value startup 'median' 'median')" "< 3"

run memory python3 bench/web_memory.py --requests 10000
row "web process RSS after 10,000 requests (MB)" "$(value memory 'web process RSS' 'after 10000')" "< 150"

echo
echo "bench/all.sh: $((SECONDS - began)) s; each bench's output in $LOG_DIR"
echo
printf '| %-44s | %-10s | %-12s |\n' "figure" "value" "target"
printf '| %-44s | %-10s | %-12s |\n' "---" "---" "---"
printf '%s\n' "${rows[@]}"
