#!/usr/bin/env bash
# Run one fuzz target for a fixed time with the project's limits (see README.md):
#   fuzz/run.sh <target> [seconds [libFuzzer flags...]]   e.g. fuzz/run.sh parse_module 300
# One process (one core), bounded memory (-rss_limit_mb=512, which also makes any
# single allocation over 512 MiB a crash), inputs capped per target.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:?usage: fuzz/run.sh <target> [seconds]}
seconds=${2:-300}
shift $(( $# < 2 ? $# : 2 ))
case $target in
    parse_module) max_len=16384 ;;
    tree_and_delta) max_len=8192 ;;
    cache_decode) max_len=8192 ;;
    chain_build) max_len=2048 ;;
    pack_read) max_len=16384 ;;
    *) echo "unknown target $target" >&2; exit 2 ;;
esac
mkdir -p "fuzz/corpus/$target"
seeds=()
[ -d "fuzz/seeds/$target" ] && seeds+=("fuzz/seeds/$target")
# Past crashes seed the run too: each must stay fixed.
[ -d "fuzz/regressions/$target" ] && seeds+=("fuzz/regressions/$target")
# Only stable Rust is installed: RUSTC_BOOTSTRAP lets cargo-fuzz use -Zsanitizer.
# ASan's quarantine counts towards RSS; keep it small so -rss_limit_mb measures us.
ASAN_OPTIONS=${ASAN_OPTIONS:-quarantine_size_mb=64} RUSTC_BOOTSTRAP=1 \
    cargo fuzz run -O "$target" "fuzz/corpus/$target" "${seeds[@]}" -- \
    -rss_limit_mb=512 -max_len="$max_len" -timeout=10 -max_total_time="$seconds" \
    -print_final_stats=1 "$@"
