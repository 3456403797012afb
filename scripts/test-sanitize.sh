#!/usr/bin/env bash
# npm run test:sanitize: the addon built with AddressSanitizer and UndefinedBehaviorSanitizer
# (CMakeLists.txt, METATASK_SANITIZE=ON) into build-sanitize/ (build/Release is left alone), then
# the native-heavy tests and the binding fuzzer (scripts/fuzz-binding.mjs) on it. Fails on any
# test failure, crash or sanitizer report. Run after `npm run build`.
#
# node itself is not instrumented, so the ASan runtime is preloaded; leak detection is off (node
# and V8 keep memory to the end by design; scripts/test-valgrind.mjs checks the addon's leaks).
# Reports also go to files, so that one from a child process is not missed.
set -euo pipefail
cd "$(dirname "$0")/.."

out=build-sanitize
tests=backend,kernels.parity,network.native,network.parity,network.batchSizes,network.gradcheck,network.vjp,metabatch,binding.robustness,optim,multiTaskLasso,multiTaskNet,meta
for f in dist/test/*reproducib*.test.js; do
  [ -e "$f" ] && tests="$tests,$(basename "$f" .test.js)"
done

# cmake-js takes node's headers from npm's `nodedir` (npm passes it to the scripts it runs; set
# here for runs outside npm), else it would download them.
prefix=$(node -p "require('path').resolve(process.execPath, '..', '..')")
if [ ! -f "$prefix/include/node/node_api.h" ]; then
  echo "sanitize: node's headers are not in $prefix/include/node" >&2
  exit 1
fi
export npm_config_nodedir=${npm_config_nodedir:-$prefix}

echo "sanitize: building the addon with ASan and UBSan into $out/"
start=$SECONDS
node_modules/.bin/cmake-js compile --out "$out" --CDMETATASK_SANITIZE=ON --target metatask --parallel "$(nproc)" --log-level warn
echo "sanitize: built in $((SECONDS - start)) s"

# The build really is instrumented (a cached configure without the option would not be).
addon_file="$out/Release/metatask.node"
symbols=$(nm -D "$addon_file")  # not piped into grep -q: its early exit fails the pipe (pipefail)
for sym in __asan_report_load8 __ubsan_handle_float_cast_overflow_abort; do
  if ! grep -q "$sym" <<<"$symbols"; then
    echo "sanitize: $addon_file has no $sym: not a sanitizer build" >&2
    exit 1
  fi
done

cxx=$(node -p "require('fs').readFileSync('$out/CMakeCache.txt', 'utf8').match(/^CMAKE_CXX_COMPILER:\w+=(.*)$/m)[1]")
runtime=$("$cxx" -print-file-name=libasan.so)
if [ ! -e "$runtime" ]; then
  echo "sanitize: the ASan runtime of $cxx was not found ($runtime)" >&2
  exit 1
fi
reports=$(mktemp -d)
trap 'rm -rf "$reports"' EXIT

export METATASK_ADDON="$PWD/$out/Release/metatask.node"
export METATASK_BACKEND=native METATASK_REQUIRE_NATIVE=1
export LD_PRELOAD="$runtime"
export ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1:abort_on_error=1:log_path=$reports/asan"
export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1:log_path=$reports/ubsan"

status=0
echo "sanitize: native-heavy tests ($tests)"
start=$SECONDS
node scripts/test.mjs --backend native --files "$tests" || status=1
echo "sanitize: tests took $((SECONDS - start)) s"
echo "sanitize: binding fuzzer"
start=$SECONDS
node scripts/fuzz-binding.mjs || status=1
echo "sanitize: fuzzer took $((SECONDS - start)) s"

if compgen -G "$reports/*" >/dev/null; then
  echo "sanitize: FAIL sanitizer reports:"
  for f in "$reports"/*; do
    echo "---- $f"
    head -n 80 "$f"
  done
  status=1
fi
if [ "$status" -ne 0 ]; then
  echo "sanitize: FAILED"
  exit 1
fi
echo "sanitize: no sanitizer report"
