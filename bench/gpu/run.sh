#!/usr/bin/env bash
# GPU benchmarks with their anchors, on a machine with an NVIDIA GPU:
#   1. torch.matmul at the GEMM shapes (bench/gpu/torch_matmul.py), the anchor of GpuBench.gemm;
#   2. GpuBench under JMH (GEMM, MLA decode against a device copy) and DeepSeekBench.decodeToken on
#      the GPU and the CPU (BF16 weights, all cores);
#   3. Ratios over both, printing the tables recorded in bench/RESULTS.md.
# Usage: bench/gpu/run.sh [OUT_DIR] [extra JMH arguments]
#   JAVA (default: $JAVA_HOME/bin/java, else java) must be a JDK 25 runtime; PYTHON (default
#   python3) needs torch; JAR (default bench/target/benchmarks.jar) is the JMH jar. Build the jar
#   first: ./mvnw -B -DskipTests package -pl bench -am (gpu/kit.sh carries it, and gpu/verify.sh
#   bench runs this script from the kit).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
jar="${JAR:-$here/../target/benchmarks.jar}"
out="${1:-gpu-bench-out}"
shift || true
java="${JAVA:-${JAVA_HOME:+$JAVA_HOME/bin/java}}"
java="${java:-java}"
python="${PYTHON:-python3}"
[ -f "$jar" ] || { echo "no $jar: build it with ./mvnw -B -DskipTests package -pl bench -am" >&2; exit 2; }
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt" || true
"$python" "$here/torch_matmul.py" "$out/torch_matmul.json"
threads="$(nproc)"
"$java" --add-modules jdk.incubator.vector -jar "$jar" 'GpuBench|DeepSeekBench.decodeToken' \
    -p device=cuda,cpu -p dtype=BF16 -p threads="$threads" -rf json -rff "$out/gpu.json" "$@" | tee "$out/jmh.txt"
"$java" -cp "$jar" dev.panamax.bench.Ratios "$out/gpu.json" "$out/torch_matmul.json" | tee "$out/tables.md"
