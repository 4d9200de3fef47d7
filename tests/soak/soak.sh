#!/bin/bash
# Soak: an hour (by default) of mixed traffic against one cairnd with a
# reload every minute and a worker SIGKILLed every ten minutes, sampling
# the RSS and the descriptors of the master and of each worker; then
# checks that they stayed flat, that no request failed but those the
# killed workers held, that the database holds exactly the acknowledged
# writes, and plots the series.
#
#   tests/soak/soak.sh [BUILDDIR]      (default: $CAIRN_BUILDDIR, else .)
#
# Traffic (SOAK_CLIENTS keep-alive client threads): static files (plain
# and gzip), a template page, REST
# reads, POSTs and If-Match PUTs against a private MariaDB, Basic-
# authenticated requests and refused ones, /metrics scrapes.
#
# Environment:
#   SOAK_SECONDS       3600   how long
#   SOAK_RELOAD_EVERY  60     seconds between two SIGHUPs
#   SOAK_KILL_EVERY    600    seconds between two worker SIGKILLs
#   SOAK_SAMPLE_EVERY  5      seconds between two samples
#   SOAK_WARMUP        20 % of the run (at least 30 s), not checked
#   SOAK_TOLERANCE     5      percent RSS and descriptors may move
#   SOAK_CLIENTS       4      client threads
#   SOAK_OUT           soak-YYYYmmdd-HHMMSS   where the results go:
#                      samples.csv (t, role, pid, rss_kb, fds: one line
#                      per process and sample), series.csv (per sample:
#                      the master and the median worker), soak.png,
#                      summary.txt, cairnd's error log
#
# Needs MariaDB (mariadb-server, mariadb-client), htpasswd (apache2-
# utils) and, for the plot, gnuplot (apt-get install gnuplot-nox).  Not
# part of `make check`.  Exits 1 when a check fails.

set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
builddir=${1:-${CAIRN_BUILDDIR:-.}}
builddir=$(cd "$builddir" && pwd)
srcdir=$(cd "$here/../.." && pwd)

bench=soak.sh
. "$here/../bench/lib.sh"

[ -x "$builddir/core/cairnd" ] || die "$builddir/core/cairnd not found: build cairn first, or pass its build directory"
for m in static log auth metrics mysql rest compress template; do
    [ -f "$builddir/modules/.libs/mod_$m.so" ] || die "mod_$m.so is not built in $builddir/modules/.libs"
done
command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || die "mariadbd not found: apt-get install mariadb-server mariadb-client"
command -v htpasswd >/dev/null || die "htpasswd not found: apt-get install apache2-utils"
plot=yes
if ! command -v gnuplot >/dev/null; then
    echo "$bench: gnuplot not found: no plot (apt-get install gnuplot-nox)" >&2
    plot=no
fi

export SOAK_OUT=${SOAK_OUT:-$PWD/soak-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$SOAK_OUT"
SOAK_OUT=$(cd "$SOAK_OUT" && pwd)

export CAIRND=$builddir/core/cairnd
export CAIRN_MODULEDIR=$builddir/modules/.libs
export CAIRN_TESTMODULEDIR=$builddir/tests/modules/.libs
export CAIRN_SRCDIR=$srcdir
export CAIRN_BUILDDIR=$builddir
export PYTHONDONTWRITEBYTECODE=1

status=0
python3 "$here/soak.py" || status=$?

if [ "$plot" = yes ] && [ -s "$SOAK_OUT/series.csv" ]; then
    gnuplot <<EOF || echo "$bench: gnuplot failed" >&2
set terminal png size 1200,800
set output "$SOAK_OUT/soak.png"
set datafile separator ","
set key autotitle columnhead
set multiplot layout 2,1 title "cairn soak: \
${SOAK_SECONDS:-3600} s, reload every ${SOAK_RELOAD_EVERY:-60} s, \
worker kill every ${SOAK_KILL_EVERY:-600} s"
set xlabel "seconds"
set yrange [0:*]
set offsets 0, 0, graph 0.1, 0
set ylabel "RSS (KiB)"
plot "$SOAK_OUT/series.csv" using 1:2 with lines title "master", \
     "" using 1:3 with lines title "worker (median)"
set ylabel "descriptors"
plot "$SOAK_OUT/series.csv" using 1:4 with lines title "master", \
     "" using 1:5 with lines title "worker (median)"
unset multiplot
EOF
    [ -f "$SOAK_OUT/soak.png" ] && echo "plot: $SOAK_OUT/soak.png"
fi

exit "$status"
