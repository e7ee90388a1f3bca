#!/usr/bin/env bash
# Cold-scan regression check: two Tollgate binaries scan one tree with
# secrets and IaC, alternately, N times each, without the result cache;
# prints each run's wall time and peak RSS, then the medians.
#
#   bash bench/compare-cold.sh OLD NEW TREE [N]
#
# OLD may predate --no-result-cache (before issue 16 there was no cache).
# Run it on a quiet machine: nothing else should compile or scan meanwhile.
set -euo pipefail
old=$1 new=$2 tree=$3 n=${4:-3}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
flags() { if "$1" scan --help 2>&1 | grep -q -- --no-result-cache; then echo --no-result-cache; fi; }
oldflags=$(flags "$old") newflags=$(flags "$new")
for i in $(seq "$n"); do
  for v in old new; do
    bin=$old f=$oldflags
    [ "$v" = new ] && bin=$new f=$newflags
    # shellcheck disable=SC2086
    /usr/bin/time -f "%e %M" -o "$out/time-$v.$i" "$bin" scan --scanners secrets,iac $f --fail-on none --sarif "$out/$v.sarif" "$tree" >/dev/null 2>&1 || true
    read -r s kib <"$out/time-$v.$i"
    echo "$v run $i: $s s, $((kib / 1024)) MiB"
  done
done
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mo=$(cat "$out"/time-old.* | awk '{print $1}' | median)
mn=$(cat "$out"/time-new.* | awk '{print $1}' | median)
echo "median: old $mo s, new $mn s, new/old $(awk -v a="$mn" -v b="$mo" 'BEGIN {printf "%.3f", a/b}')"
