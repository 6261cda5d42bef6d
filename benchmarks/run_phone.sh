#!/usr/bin/env bash
# Every figure of issue 27 (phone libraries at full speed) in one command, on this machine.
#
#   benchmarks/run_phone.sh                 # print everything; a log in /tmp
#   benchmarks/run_phone.sh --write-docs    # also fill the bench and bench-formats blocks of
#                                           # docs/performance.md
#   REPEATS=1 FORMAT_COUNT=3 benchmarks/run_phone.sh   # a quick check that it all runs
#
# 1. bench_classify.py, corpora a (the 1,000 validation JPEGs), b (100 12 MP JPEGs), phone and
#    single: whole `catsort classify` processes against the Keras baseline in the same run,
#    interleaved (median and the ratio, paired per repeat), the machine's ceiling measured in
#    every repeat and catsort's share of it, catsort's CPU time a photo, start-up.
# 2. bench_formats.py: CPU ms a photo of each format and size, catsort's decode against the full
#    decode; HEIC with and without a thumbnail against a 12 MP JPEG.
# 3. heic_parity.py: the validation photos saved as HEIC with thumbnails, labelled against
#    their JPEG.
#
# About 12 minutes on two idle cores with REPEATS=3, once the generated corpora exist (the first
# run makes them, about 15 minutes more; they are kept in /tmp/catsort-bench). Needs the train
# extra (the baseline runs Keras) and ../shared. Run it on an otherwise idle machine: each part
# says how busy the CPU was when it started. Exits 1 if any part missed a target.
set -u
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-.venv/bin/python}
REPEATS=${REPEATS:-3}
FORMAT_COUNT=${FORMAT_COUNT:-10}
LOG=${LOG:-/tmp/catsort-phone-bench-$(date -u +%Y%m%d-%H%M).log}
write=()
case "${1:-}" in
  --write-docs) write=(--markdown docs/performance.md) ;;
  "") ;;
  *) echo "usage: $0 [--write-docs]" >&2; exit 2 ;;
esac

exec > >(tee "$LOG") 2>&1
status=0
started=$(date +%s)
echo "== issue 27 benchmarks, $(date -u '+%Y-%m-%d %H:%M UTC'), repeats $REPEATS, $(nproc) cores, load: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "== 1/3 catsort classify against the Keras baseline; the ceiling (bench_classify.py)"
"$PYTHON" benchmarks/bench_classify.py --corpus a,b,phone,single --variant none \
  --repeats "$REPEATS" "${write[@]}" || status=1
echo
echo "== 2/3 cost per format (bench_formats.py)"
"$PYTHON" benchmarks/bench_formats.py --count "$FORMAT_COUNT" --repeats "$REPEATS" \
  "${write[@]}" || status=1
echo
echo "== 3/3 HEIC parity (heic_parity.py)"
"$PYTHON" benchmarks/heic_parity.py || status=1
echo
echo "== done in $(( ($(date +%s) - started) / 60 )) min, load at the end: $(cut -d' ' -f1-3 /proc/loadavg); log: $LOG"
exit $status
