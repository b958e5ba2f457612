#!/usr/bin/env bash
# Verifies Panamax on a machine with an NVIDIA GPU, from the kit that gpu/kit.sh built (no Maven, no
# JDK, no network needed there). Run from the repository root:
#   gpu/verify.sh info    [OUT]  the GPU, and where the CUDA driver, cuBLAS and NVRTC were found
#   gpu/verify.sh tests   [OUT]  info, the bindings against the machine's CUDA headers (those of the
#                                Python wheels included), then every @Tag("gpu") test (kernels against
#                                the CPU, device paths against the host, DeepSeek reference cases and
#                                GRPO steps on CUDA); fails when CUDA is not available, so skipped is
#                                never passed
#   gpu/verify.sh bench   [OUT [JMH args]]  bench/gpu/run.sh: GpuBench and whole-model decode GPU
#                                vs CPU, with torch.matmul as the GEMM anchor, and the tables for
#                                bench/RESULTS.md (OUT/bench/tables.md); JMH args such as -wi 1 -i 3
#                                shorten the runs
#   gpu/verify.sh emulated [OUT] the kit's self-check on any machine: the device-path suites on the
#                                emulated device, and the gpu suites found and skipped
#   gpu/verify.sh simulated [OUT] the bindings against the headers found here, then every
#                                @Tag("gpu") test on the CUDA simulator of gpu/sim (built
#                                here with g++ and cuda.h; no GPU): the real .cu kernels and the
#                                FFM driver/cuBLAS/NVRTC path, run on the CPU
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

jvm_extra=()
junit() { # junit REPORT_NAME LAUNCHER_ARGS...
  local name="$1"
  shift
  "${java[@]}" -Xmx8g "${refs[@]}" ${jvm_extra[@]+"${jvm_extra[@]}"} -jar "$console" execute --disable-banner --details=tree \
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
    junit gpu-tests --include-tag gpu --fail-if-no-tests
    [ "$headers" -eq 0 ] || { echo "gpu/verify.sh: the bindings do not match this machine's CUDA headers (see $out/binding-headers.log)" >&2; exit 1; }
    ;;
  bench)
    info | tee "$out/info.txt"
    shift 2 || shift $#
    JAVA="$kit/jre/bin/java" JAR="$kit/benchmarks.jar" bench/gpu/run.sh "$out/bench" "$@"
    ;;
  emulated)
    junit emulated-tests --fail-if-no-tests \
      --include-classname '.*(DevicePathsMatchHostTest|DeepSeekReferenceOnEmulatedDeviceTest|CudaAvailabilityTest|FacadesWithoutGpuTest)'
    junit gpu-tests-skipped --include-tag gpu
    ;;
  simulated)
    binding_headers
    gpu/sim/build.sh "$out/cudasim" >/dev/null
    jvm_extra=(-Dpanamax.cuda.libpath="$out/cudasim" -Dpanamax.cuda.cache="$out/cudasim/cache")
    "${java[@]}" "${jvm_extra[@]}" -cp "$cp_main" dev.panamax.cli.Main info 2>&1 | grep -v '^WARNING: Using incubator' | tee "$out/simulated-info.txt"
    grep -q '^cuda: available' "$out/simulated-info.txt" || { echo "gpu/verify.sh: the simulator did not load" >&2; exit 3; }
    rm -f "$out/launched.txt"
    PANAMAX_CUDASIM_LAUNCHES="$out/launched.txt" junit simulated-tests --include-tag gpu --fail-if-no-tests
    # every kernel of runtime's .cu files must have run in those tests
    kernels() { grep -ho 'extern "C" __global__ void \(__launch_bounds__([A-Z0-9_]*) \)\{0,1\}[A-Za-z_0-9]*' \
      runtime/src/main/resources/dev/panamax/runtime/gpu/*.cu | awk '{print $NF}' | sort -u; }
    missing=$(kernels | comm -23 - <(sort -u "$out/launched.txt"))
    if [ -n "$missing" ]; then
      echo "gpu/verify.sh: kernels that no gpu test launched: $missing" | tr '\n' ' ' >&2
      echo >&2
      exit 1
    fi
    echo "every kernel of runtime/src/main/resources/dev/panamax/runtime/gpu ran on the simulator"
    ;;
  *)
    sed -n '2,/^set -euo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
