#!/usr/bin/env bash
# Verifies Panamax on a machine with an NVIDIA GPU, from the kit that gpu/kit.sh built (no Maven, no
# JDK, no network needed there). Run from the repository root:
#   gpu/verify.sh info    [OUT]  the GPU, and where the CUDA driver, cuBLAS and NVRTC were found
#   gpu/verify.sh tests   [OUT]  info, the bindings against the machine's CUDA headers (those of the
#                                Python wheels included), each MLA decode kernel alone against the
#                                host in its own JVM (OUT/mla-kernels.txt: pass, FAIL or left out), then
#                                every @Tag("gpu") test (kernels against the CPU, device paths against
#                                the host, DeepSeek reference cases and GRPO steps on CUDA) with the MLA
#                                kernels that failed alone excluded (-Dpanamax.cuda.mlaExclude); then
#                                each test that failed again alone in its own JVM (OUT/alone.txt: a
#                                fault leaves the GPU's context dead for the tests after it); fails
#                                when CUDA is not available, so skipped is never passed, and when an
#                                MLA kernel failed alone
#   gpu/verify.sh bench   [OUT [JMH args]]  bench/gpu/run.sh: GpuBench, whole-model decode GPU
#                                vs CPU, the MoE layer, GRPO's loss and token sampling, with torch.matmul as the GEMM anchor, and the tables for
#                                bench/RESULTS.md (OUT/bench/tables.md); JMH args such as -wi 1 -i 3
#                                shorten the runs
#   gpu/verify.sh probe   [OUT]  info, then the kit's mla_load_probe (bench/gpu/mla_load_probe.cu: how fast
#                                kernels that only load MLA cache tiles stream them, per shared layout,
#                                against a device copy) into OUT/mla-load-probe.txt
#   gpu/verify.sh emulated [OUT] the kit's self-check on any machine: the device-path suites on the
#                                emulated device, and the gpu suites found and skipped
#   gpu/verify.sh simulated [OUT] the bindings against the headers found here, then every
#                                @Tag("gpu") test on the CUDA simulator of gpu/sim (built
#                                here with g++ and cuda.h; no GPU): the real .cu kernels and the
#                                FFM driver/cuBLAS/NVRTC path, run on the CPU; beside it, in a JVM of
#                                its own, the MLA decode kernels again under its random schedule
#                                (CUDASIM_SEEDS, default 1), launched with programmatic stream
#                                serialization (panamax.cuda.pdl=on)
#   (MLA_ISOLATE="NAME ..." picks the MLA kernels that tests and simulated run alone, "none" none; simulated runs two by default;
#   MLA_JOBS=N checks N of them at once, each still in its own JVM; MLA_EXCLUDE="NAME,..." excludes more from the suite,
#   and OUT/mla-exclude.txt has all it excluded; SUITE=0 stops tests before the suite, after the kernels alone;
#   each runs under a limit of MLA_ISOLATE_TIMEOUT seconds, 150 by default, so that a kernel that hangs the GPU,
#   e.g. at a named barrier, costs that long and is then excluded like one that fails)
# OUT (default gpu-verify-out) receives the JUnit XML reports, logs and benchmark results.
# KIT (default .gpu-kit) is the kit folder. Typical device call: carry [".gpu-kit"], command
#   gpu/verify.sh tests "$OUT"      then, in a second call,      gpu/verify.sh bench "$OUT"
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-}"
out="${2:-gpu-verify-out}"
kit="${KIT:-.gpu-kit}"
[ -x "$kit/jre/bin/java" ] || { echo "gpu/verify.sh: no kit in $kit: build it with gpu/kit.sh (on a machine with Maven)" >&2; exit 2; }
mkdir -p "$out"
kit="$(cd "$kit" && pwd)"
out="$(cd "$out" && pwd)"
java=("$kit/jre/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xss8m)
cp_main="$(ls "$kit"/lib/*.jar | paste -sd:)"
cp_tests="$(ls "$kit"/tests/*.jar | paste -sd:)"
console="$(ls "$kit"/junit-platform-console-standalone-*.jar | head -n 1)"
refs=(-Dpanamax.reference.deepseek="$kit/reference/deepseek_v3" -Dpanamax.reference.grpo="$kit/reference/grpo")

info() {
  if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader 2>&1 || true
  else
    echo "nvidia-smi: not installed"
  fi
  "${java[@]}" -cp "$cp_main" dev.panamax.cli.Main info 2>&1 | grep -v '^WARNING: Using incubator'
}

# JVM_PROPS: more -D options for every test JVM, e.g. JVM_PROPS=-Dpanamax.cuda.pdl=on (space-separated)
# shellcheck disable=SC2206
jvm_extra=(${JVM_PROPS:-})
limit=()   # e.g. (timeout 300): what the JVM runs under
junit() { # junit REPORT_NAME LAUNCHER_ARGS...
  local name="$1"
  shift
  ${limit[@]+"${limit[@]}"} "${java[@]}" -Xmx8g "${refs[@]}" ${jvm_extra[@]+"${jvm_extra[@]}"} -jar "$console" execute --disable-banner --details=tree \
    --class-path "$cp_main:$cp_tests" ${selector[@]+"${selector[@]}"} \
    --reports-dir="$out/$name" "$@" 2>&1 | grep -v '^WARNING: Using incubator' | tee "$out/$name.log"
  return "${PIPESTATUS[0]}"
}
selector=(--scan-class-path="$cp_tests")

# The bindings' descriptors and constants against this machine's CUDA headers, those of the Python
# wheels (cuBLAS's, NVRTC's) included: a wrong descriptor would corrupt the stack, not fail cleanly.
binding_headers() {
  local include
  include=$("${PYTHON:-python3}" -c 'import os, nvidia
print(os.pathsep.join(os.path.join(p, d, "include") for p in nvidia.__path__ for d in sorted(os.listdir(p))))' 2>/dev/null || true)
  (cd native-bindings && jvm_extra=(-Dpanamax.cuda.include="$include") &&
    selector=(--select-class dev.panamax.cuda.gen.GeneratedBindingsMatchHeadersTest) && junit binding-headers --fail-if-no-tests)
}

# The kernels (extern "C" __global__ functions) of runtime's .cu files, or of the ones named
gpu_dir=runtime/src/main/resources/dev/panamax/runtime/gpu
kernels() {
  [ "$#" -gt 0 ] || set -- "$gpu_dir"/*.cu
  grep -ho 'extern "C" __global__ void \(__launch_bounds__([A-Z0-9_, ]*) \)\{0,1\}[A-Za-z_0-9]*' "$@" | awk '{print $NF}' | sort -u
}
# The tensor-core MLA decode kernels of mla_decode.cu (CudaBackend.MLA_KERNELS), and scalar (the CUDA-core ones)
mla_kernels() {
  kernels "$gpu_dir/mla_decode.cu" | grep -vxE 'mla_decode_(f32|bf16|combine)'
  echo scalar
}
# CudaPathsMatchHostTest's two cases at DeepSeek's shapes: every MLA decode kernel against the host
mla_tests=(--select-method=dev.panamax.runtime.CudaPathsMatchHostTest#latentAttentionDecodeAtDeepSeekShapesOverABf16Cache
           --select-method=dev.panamax.runtime.CudaPathsMatchHostTest#latentAttentionDecodeAtDeepSeekShapesOverAnF32Cache)
# mla_isolated NAME...: each MLA decode kernel checked alone against the host (CudaPathsMatchHostTest's two
# cases at DeepSeek's shapes, -Dpanamax.test.mlaKernels=NAME), each in its own JVM: a kernel that faults on
# a GPU leaves a dead context behind, which would fail every test after it in the same JVM. Appends
# "pass NAME", "FAIL NAME" or "left out NAME" (it does not apply here) to OUT/mla-kernels.txt; the
# failed ones in mla_failed.
mla_failed=()
mla_one() { # mla_one NAME: one kernel checked alone; writes its verdict to OUT/mla-kernels/NAME.verdict
  local k="$1" verdict
  if (jvm_extra+=(-Dpanamax.test.mlaKernels="$k") && limit=(timeout "${MLA_ISOLATE_TIMEOUT:-150}") &&
      selector=("${mla_tests[@]}") &&
      junit "mla-kernels/$k" --fail-if-no-tests >/dev/null); then
    if grep -qE "kernels checked:.* $k( |\$)" "$out/mla-kernels/$k.log"; then verdict="pass"; else verdict="left out"; fi
  else
    verdict="FAIL"
  fi
  echo "$verdict" > "$out/mla-kernels/$k.verdict"
}
mla_isolated() {
  local k known verdict jobs="${MLA_JOBS:-1}" first=1
  known=$(mla_kernels)
  mkdir -p "$out/mla-kernels"
  : > "$out/mla-kernels.txt"
  for k in "$@"; do
    if ! grep -qx "$k" <<< "$known"; then
      echo "gpu/verify.sh: $k is no MLA decode kernel; known:" $known >&2
      return 2
    fi
    rm -f "$out/mla-kernels/$k.verdict"
  done
  # MLA_JOBS > 1 checks that many at once, each in its own JVM (and CUDA context) all the same; the first
  # runs alone, so that NVRTC compiles the kernel files once, into the disk cache the others read
  for k in "$@"; do
    if [ "$jobs" -le 1 ] || [ "$first" -eq 1 ]; then
      mla_one "$k"
      first=0
    else
      while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
      mla_one "$k" &
    fi
  done
  wait
  for k in "$@"; do
    verdict="$(cat "$out/mla-kernels/$k.verdict" 2>/dev/null || echo FAIL)"
    [ "$verdict" != FAIL ] || mla_failed+=("$k")
    echo "$verdict $k" | tee -a "$out/mla-kernels.txt"
  done
}

# failed_tests REPORT_DIR: CLASS#METHOD of each test method (without arguments) that failed or
# erred in the JUnit XML reports of REPORT_DIR
failed_tests() {
  awk '/<testcase / { name = ""; cls = ""
                      if (match($0, /name="[^"]*"/)) name = substr($0, RSTART + 6, RLENGTH - 7)
                      if (match($0, /classname="[^"]*"/)) cls = substr($0, RSTART + 11, RLENGTH - 12) }
       /<(failure|error)[ >]/ { if (name ~ /^[A-Za-z_0-9]+\(\)$/) print cls "#" substr(name, 1, length(name) - 2) }' "$1"/*.xml | sort -u
}
# alone REPORT_NAME: each test that failed in the run REPORT_NAME, run again in its own JVM. A fault
# on a GPU (an illegal address, say) leaves the context dead, so every test after it in the same JVM
# fails too: one that passes alone failed for another's fault, and those that fail alone are the
# ones to look at. Writes "FAIL alone CLASS#METHOD" or "passes alone CLASS#METHOD" to OUT/alone.txt.
alone() {
  local t name
  : > "$out/alone.txt"
  mkdir -p "$out/alone"
  for t in $(failed_tests "$out/$1"); do
    name="${t##*.}"
    if (limit=(timeout "${ALONE_TIMEOUT:-600}") && selector=(--select-method="$t") &&
        junit "alone/${name//#/.}" --fail-if-no-tests >/dev/null); then
      echo "passes alone $t" | tee -a "$out/alone.txt"
    else
      echo "FAIL alone $t" | tee -a "$out/alone.txt"
    fi
  done
}

case "$mode" in
  info)
    info | tee "$out/info.txt"
    ;;
  tests)
    info | tee "$out/info.txt"
    if ! grep -q '^cuda: available' "$out/info.txt"; then
      echo "gpu/verify.sh: CUDA is not available here (see above); the gpu tests would only be skipped" >&2
      exit 3
    fi
    headers=0
    binding_headers || headers=$?
    # shellcheck disable=SC2046
    [ "${MLA_ISOLATE:-}" = none ] || mla_isolated ${MLA_ISOLATE:-$(mla_kernels)}
    exclude=$(printf '%s\n' ${mla_failed[@]+"${mla_failed[@]}"} $(tr , ' ' <<< "${MLA_EXCLUDE:-}") | grep -vx scalar | sort -u | paste -sd, - || true)
    echo "$exclude" > "$out/mla-exclude.txt"
    [ "${SUITE:-1}" = 1 ] || { [ "${#mla_failed[@]}" -eq 0 ] || exit 1; exit "$headers"; }
    [ -z "$exclude" ] || jvm_extra+=(-Dpanamax.cuda.mlaExclude="$exclude")
    suite=0
    junit gpu-tests --include-tag gpu --fail-if-no-tests || suite=$?
    [ "$suite" -eq 0 ] || alone gpu-tests
    [ "$headers" -eq 0 ] || { echo "gpu/verify.sh: the bindings do not match this machine's CUDA headers (see $out/binding-headers.log)" >&2; exit 1; }
    if [ "${#mla_failed[@]}" -gt 0 ]; then
      echo "gpu/verify.sh: MLA decode kernels that failed alone on this GPU: ${mla_failed[*]} (logs in $out/mla-kernels/)." \
        "The suite ran with -Dpanamax.cuda.mlaExclude=$exclude; run the benchmarks with MLA_EXCLUDE=$exclude" >&2
      exit 1
    fi
    exit "$suite"
    ;;
  bench)
    info | tee "$out/info.txt"
    shift 2 || shift $#
    JAVA="$kit/jre/bin/java" JAR="$kit/benchmarks.jar" bench/gpu/run.sh "$out/bench" "$@"
    ;;
  probe)
    info | tee "$out/info.txt"
    [ -x "$kit/mla_load_probe" ] || { echo "gpu/verify.sh: the kit has no mla_load_probe (gpu/kit.sh builds it where nvcc and g++ are)" >&2; exit 2; }
    "$kit/mla_load_probe" | tee "$out/mla-load-probe.txt"
    ;;
  emulated)
    junit emulated-tests --fail-if-no-tests \
      --include-classname '.*(DevicePathsMatchHostTest|DeepSeekReferenceOnEmulatedDeviceTest|CudaAvailabilityTest|FacadesWithoutGpuTest)'
    junit gpu-tests-skipped --include-tag gpu
    ;;
  simulated)
    binding_headers
    gpu/sim/build.sh "$out/cudasim" >/dev/null
    jvm_extra+=(-Dpanamax.cuda.libpath="$out/cudasim" -Dpanamax.cuda.cache="$out/cudasim/cache")
    "${java[@]}" "${jvm_extra[@]}" -cp "$cp_main" dev.panamax.cli.Main info 2>&1 | grep -v '^WARNING: Using incubator' | tee "$out/simulated-info.txt"
    grep -q '^cuda: available' "$out/simulated-info.txt" || { echo "gpu/verify.sh: the simulator did not load" >&2; exit 3; }
    rm -f "$out/launched.txt"
    # the isolation of tests, on one kernel of each cache type by default
    # shellcheck disable=SC2086
    mla_isolated ${MLA_ISOLATE:-mla_decode_tc16r mla_decode_tc16r_f32}
    [ "${#mla_failed[@]}" -eq 0 ] || { echo "gpu/verify.sh: MLA decode kernels that failed alone: ${mla_failed[*]}" >&2; exit 1; }
    grep -q '^pass ' "$out/mla-kernels.txt" || { echo "gpu/verify.sh: no MLA decode kernel was checked alone" >&2; exit 1; }
    # the MLA decode kernels (all of them, both cache types) again under the simulator's random schedule
    # (gpu/sim/README.md, PANAMAX_CUDASIM_SCHEDULE): a hand-off between warps that holds only in the
    # fixed orders fails here; CUDASIM_SEEDS picks the seeds (the same seed runs the same way). They run
    # with programmatic launches (panamax.cuda.pdl=on), so the simulator also checks that every thread
    # of every MLA kernel and merge waits for the kernel before it. They run beside the suite below, in
    # JVMs of their own: the simulator runs a JVM's kernels on one thread, and the machines have two
    # cores or more. (The kernel cache is shared; CudaModules writes it by atomic moves.)
    random_pass() {
      local seed
      for seed in ${CUDASIM_SEEDS:-1}; do
        (export PANAMAX_CUDASIM_SCHEDULE="random:$seed" && jvm_extra+=(-Dpanamax.cuda.pdl=on) &&
          selector=("${mla_tests[@]}") &&
          junit "mla-random-$seed" --fail-if-no-tests >/dev/null) ||
          { echo "gpu/verify.sh: the MLA decode kernels failed under PANAMAX_CUDASIM_SCHEDULE=random:$seed (see $out/mla-random-$seed.log)"; return 1; }
        echo "every MLA decode kernel passed under the random schedule of seed $seed"
      done
    }
    random_pass > "$out/mla-random.txt" 2>&1 &
    random=$!
    kill_tree() { local c; for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do kill_tree "$c"; done; kill "$1" 2>/dev/null || true; }
    trap 'kill_tree "$random"' EXIT   # a failed suite does not leave it, or its JVM, running
    PANAMAX_CUDASIM_LAUNCHES="$out/launched.txt" junit simulated-tests --include-tag gpu --fail-if-no-tests ||
      { alone simulated-tests; echo "gpu/verify.sh: gpu tests failed on the simulator (OUT/alone.txt: each again alone)" >&2; exit 1; }
    # every kernel of runtime's .cu files must have run in those tests
    missing=$(kernels | comm -23 - <(sort -u "$out/launched.txt"))
    if [ -n "$missing" ]; then
      echo "gpu/verify.sh: kernels that no gpu test launched: $missing" | tr '\n' ' ' >&2
      echo >&2
      exit 1
    fi
    echo "every kernel of runtime/src/main/resources/dev/panamax/runtime/gpu ran on the simulator"
    if wait "$random"; then
      cat "$out/mla-random.txt"
    else
      cat "$out/mla-random.txt" >&2
      exit 1
    fi
    trap - EXIT
    ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
