#!/usr/bin/env bash
# GPU benchmarks with their anchors, on a machine with an NVIDIA GPU:
#   1. torch.matmul at the GEMM shapes (bench/gpu/torch_matmul.py), the anchor of GpuBench.gemm;
#   2. GpuBench under JMH (GEMM, MLA decode against a device copy, batched matmul against one call
#      per item), then its tables (Ratios);
#   3. DeepSeekBench.decodeToken on the GPU and the CPU (BF16 weights, all cores), and decodeTokenGraph
#      (the step as one CUDA graph), then their tables; then GenerateBench: whole-model generation on the
#      GPU with the decode loop pipelined (tokens fed on the GPU, read a step late) against the plain loop;
#   4. DeepSeekBench.moeForward, moeGrouped and moePerExpert on the GPU (one MoE layer, BF16
#      experts, 1 and 64 tokens): MoE.forward (at 1 token the routed experts from the routing left
#      on the device) against the grouped expert products, and those against one product per
#      expert and projection;
#   5. (only when STEPS names "mla", or "mla16" or "mla128" for one half) the MLA decode kernels over a BF16 cache side by side, each
#      against the device copy: the default (auto: wg64s on an H100/H200), tune (the fastest for each shape, timed in the first warm-up
#      call; the JMH log has each shape's choice and every candidate's time, from one launch each), tc16r (a ring of cache tiles in flight),
#      the k-split ks16 and ks16r (with a ring) and the warpgroup (wgmma) wg64, wg64s, wt16 and wt32 at 16 heads; ks32, ks64, wg64, wg64r (with a ring),
#      wg64s (FlashMLA's division of the warpgroups), wt32 and wt64 at 128 (GpuBench's mla parameter). -Dpanamax.cuda.mlaSplits=N (after -jvmArgsAppend) fixes the split count.
#      "mlawt" names a shorter run: auto against the transposed kernels wt16, wt32 and wt64 (positions on the wgmma rows), at 16 and 128 heads.
#   6. (only when STEPS names "mlaf32") the same over an F32 cache, at 16 and 128 heads: the CUDA-core
#      kernel (scalar) against the tensor-core kernels with split BF16 products, tc16_f32, tc16r_f32 (a ring of half tiles) and tc32_f32.
#      "mlawtf32" names a shorter run: auto (tc32_f32) against the warpgroup kernels wt16_f32 and wt32_f32 at 16 and 128 heads.
#   7. (only when STEPS names "mlatune") the survey: tune alone over both caches at 16 and 128 heads, so that
#      every kernel is timed at every shape (one launch each, CUDA events) in one short run; those times and
#      each shape's choice (CudaBackend's log) follow the tables, as after the tune rows of steps 5 and 6.
#   7b. (only when STEPS names "mlamerge") how auto's decode merges its splits, over a BF16 cache at the 12 shapes of the target:
#      mla_decode_combine (merge=kernel, the default) against the decode kernel's own tail (merge=tail); and (only when STEPS
#      names "mlasplits") at batch 64 and 16 heads, auto's two splits against one, for auto and wt16. Each table also
#      gives the times by CUDA events (GpuBench.GpuTime).
#   7c. (only when STEPS names "pdl") programmatic dependent launch (-p pdl=off,on: each kernel scheduled while the one
#      before it finishes): auto's MLA decode over a BF16 cache at batch 64 and 128, 16 heads, 1,024 and 4,096 positions,
#      both merges; and (only when STEPS names "pdldecode") the whole-model decode on the GPU, kernel by kernel and as one
#      graph (BF16 weights and cache). Its table sets each pdl=on row against the same row with pdl=off.
#   8. (only when STEPS names "gemmlt") GpuBench.gemm, batchedMatmul and perItemMatmul three ways, with the torch anchor: cuBLAS (the default),
#      cuBLASLt with its heuristic's first algorithm (lt), and tune (per shape the fastest of cuBLAS and
#      cuBLASLt's first 8 algorithms, timed in the first warm-up call; each choice with every time follows the tables).
#   9. GrpoLossBench: GRPO's loss and its backward over (8, 128, 32000) logits on the GPU, against one
#      device copy of those logits (logitsCopy, the baseline).
#  10. DeviceSamplingBench: the next token of 8 rows of logits drawn on the GPU (temperature alone,
#      greedy argmax, top-k 50 with top-p 0.95, and top-p 0.95 alone), against the read-back of those
#      logits (logitsReadBack, the baseline) and the read-back plus the draw on the host.
#  11. DeviceIndexingBench: gather, scatter-add and a broadcast masked fill of tensors on the GPU (one
#      kernel each), against their old route through the host (throughHost, the baseline).
#  12. (only when STEPS names "batch") BatcherBench on the GPU: four prompts of different lengths through a
#      continuous batch (each decode step all four, each at its own position) against one after another.
# The tables recorded in bench/RESULTS.md collect in OUT_DIR/tables.md.
# Usage: bench/gpu/run.sh [OUT_DIR] [extra JMH arguments]
#   STEPS (default "gpu decode moe loss sample index") picks the steps, so that they can run in separate calls (the
#   lent machines cap one command at 10 minutes); the torch anchor runs with the gpu step.
#   MLA_EXCLUDE (comma-separated MLA decode kernels, e.g. those that gpu/verify.sh tests found failing
#   on this GPU) keeps them from running: every JVM gets -Dpanamax.cuda.mlaExclude (auto and tune pass
#   over them), and steps 5-6 leave them out of the mla parameter.
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
steps=" ${STEPS:-gpu decode moe loss sample index} "
threads="$(nproc)"
: > "$out/tables.md"
ran=()
mla_exclude="${MLA_EXCLUDE:-}"
mla_exclude="${mla_exclude// /}"
[ -z "$mla_exclude" ] || export JDK_JAVA_OPTIONS="${JDK_JAVA_OPTIONS:-} -Dpanamax.cuda.mlaExclude=$mla_exclude"
mla() { # mla LIST: the kernels of the comma-separated LIST that MLA_EXCLUDE does not name
  local k kept=()
  for k in ${1//,/ }; do [[ ",$mla_exclude," == *",$k,"* ]] || kept+=("$k"); done
  (IFS=,; echo "${kept[*]}")
}
# each step is its own JMH run with its own JSON, so that a run cut short still leaves the others' tables
jmh() { # jmh NAME REGEX [JMH args]: runs REGEX into NAME.json and appends its tables
  local name="$1" regex="$2"
  shift 2
  # 2>&1: JMH prints the forks' stderr (where the tuning log lines go) on its own stderr
  "$java" --add-modules jdk.incubator.vector -jar "$jar" "$regex" -rf json -rff "$out/$name.json" "$@" 2>&1 | tee "$out/jmh-$name.txt"
  ran+=("$out/jmh-$name.txt")
}
tuned() { # tuned NAME: the choices of NAME's tune rows, each with every candidate's time, after its tables
  grep -hE 'INFO: panamax.cuda.(mlaKernel|gemm)=tune' "$out/jmh-$1.txt" | sed 's/^INFO: /- /' | tee -a "$out/tables.md" || true
}
torch=()
anchor() { # the torch.matmul anchor of the GEMM table, once
  [ -f "$out/torch_matmul.json" ] || "$python" "$here/torch_matmul.py" "$out/torch_matmul.json" \
    || echo "run.sh: the torch.matmul anchor failed; the GEMM table will lack it" >&2
  [ -f "$out/torch_matmul.json" ] && torch=("$out/torch_matmul.json")
  return 0
}
if [[ "$steps" == *" gpu "* ]]; then
  anchor
  jmh gpu 'GpuBench' "$@"
  "$java" -cp "$jar" dev.panamax.bench.Ratios "$out/gpu.json" "${torch[@]}" | tee -a "$out/tables.md"
fi
if [[ "$steps" == *" gemmlt "* ]]; then
  anchor
  jmh gemmlt 'GpuBench.(gemm|batchedMatmul|perItemMatmul)$' -p gemm=cublas,lt,tune "$@"
  "$java" -cp "$jar" dev.panamax.bench.Ratios "$out/gemmlt.json" "${torch[@]}" | tee -a "$out/tables.md"
  tuned gemmlt
fi
if [[ "$steps" == *" decode "* ]]; then
  jmh decode 'DeepSeekBench.decodeToken(Graph)?$' -p device=cuda,cpu -p dtype=BF16 -p kvCache=F32,BF16 -p threads="$threads" "$@"
  "$java" -cp "$jar" dev.panamax.bench.Ratios "$out/decode.json" | tee -a "$out/tables.md"
  jmh generate 'GenerateBench' "$@"
  "$java" -cp "$jar" dev.panamax.bench.Ratios "$out/generate.json" | tee -a "$out/tables.md"
fi
if [[ "$steps" == *" mla "* || "$steps" == *" mla16 "* ]]; then
  jmh mla16 'GpuBench.(mlaDecode|deviceCopy)' -p cache=BF16 -p heads=16 -p mla="$(mla auto,tune,mla_decode_tc16r,mla_decode_ks16,mla_decode_ks16r,mla_decode_wg64,mla_decode_wg64s,mla_decode_wt16,mla_decode_wt32)" "$@"
  "$java" -cp "$jar" dev.panamax.bench.Ratios "$out/mla16.json" | tee -a "$out/tables.md"
  tuned mla16
fi
if [[ "$steps" == *" mla "* || "$steps" == *" mla128 "* ]]; then
  jmh mla128 'GpuBench.(mlaDecode|deviceCopy)' -p cache=BF16 -p heads=128 -p mla="$(mla auto,tune,mla_decode_ks32,mla_decode_ks64,mla_decode_wg64,mla_decode_wg64r,mla_decode_wg64s,mla_decode_wt32,mla_decode_wt64)" "$@"
  "$java" -cp "$jar" dev.panamax.bench.Ratios "$out/mla128.json" | tee -a "$out/tables.md"
  tuned mla128
fi
if [[ "$steps" == *" mlawt "* ]]; then
  jmh mlawt 'GpuBench.(mlaDecode|deviceCopy)' -p cache=BF16 -p heads=16,128 -p mla="$(mla auto,mla_decode_wt16,mla_decode_wt32,mla_decode_wt64)" "$@"
  "$java" -cp "$jar" dev.panamax.bench.Ratios "$out/mlawt.json" | tee -a "$out/tables.md"
fi
if [[ "$steps" == *" mlaf32 "* ]]; then
  jmh mlaf32 'GpuBench.(mlaDecode|deviceCopy)' -p cache=F32 -p heads=16,128 -p mla="$(mla scalar,mla_decode_tc16_f32,mla_decode_tc16r_f32,mla_decode_tc32_f32)" "$@"
  "$java" -cp "$jar" dev.panamax.bench.Ratios "$out/mlaf32.json" | tee -a "$out/tables.md"
fi
if [[ "$steps" == *" mlawtf32 "* ]]; then
  jmh mlawtf32 'GpuBench.(mlaDecode|deviceCopy)' -p cache=F32 -p heads=16,128 -p mla="$(mla auto,mla_decode_wt16_f32,mla_decode_wt32_f32)" "$@"
  "$java" -cp "$jar" dev.panamax.bench.Ratios "$out/mlawtf32.json" | tee -a "$out/tables.md"
fi
if [[ "$steps" == *" mlatune "* ]]; then
  jmh mlatune 'GpuBench.(mlaDecode|deviceCopy)' -p cache=BF16,F32 -p heads=16,128 -p mla=tune "$@"
  "$java" -cp "$jar" dev.panamax.bench.Ratios "$out/mlatune.json" | tee -a "$out/tables.md"
  tuned mlatune
fi
if [[ "$steps" == *" mlamerge "* ]]; then
  jmh mlamerge 'GpuBench.(mlaDecode|deviceCopy)' -p cache=BF16 -p heads=16,128 -p batch=64,128 -p mla=auto -p merge=kernel,tail "$@"
  "$java" -cp "$jar" dev.panamax.bench.Ratios "$out/mlamerge.json" | tee -a "$out/tables.md"
fi
if [[ "$steps" == *" mlasplits "* ]]; then
  jmh mlasplits 'GpuBench.(mlaDecode|deviceCopy)' -p cache=BF16 -p heads=16 -p batch=64 -p len=1024,4096 -p mla="$(mla auto,mla_decode_wt16)" \
    -p merge=kernel,tail -p splits=auto,1 "$@"
  "$java" -cp "$jar" dev.panamax.bench.Ratios "$out/mlasplits.json" | tee -a "$out/tables.md"
fi
if [[ "$steps" == *" pdl "* ]]; then
  jmh pdl 'GpuBench.(mlaDecode|deviceCopy)' -p cache=BF16 -p heads=16 -p batch=64,128 -p len=1024,4096 -p mla=auto -p merge=kernel,tail -p pdl=off,on "$@"
  "$java" -cp "$jar" dev.panamax.bench.Ratios "$out/pdl.json" | tee -a "$out/tables.md"
fi
if [[ "$steps" == *" pdldecode "* ]]; then
  jmh pdldecode 'DeepSeekBench.decodeToken(Graph)?$' -p device=cuda -p dtype=BF16 -p kvCache=BF16 -p threads="$threads" -p pdl=off,on "$@"
  "$java" -cp "$jar" dev.panamax.bench.Ratios "$out/pdldecode.json" | tee -a "$out/tables.md"
fi
if [[ "$steps" == *" batch "* ]]; then
  jmh batch 'BatcherBench' -p device=cuda -p model=v2lite,tiny "$@"
  "$java" -cp "$jar" dev.panamax.bench.Ratios "$out/batch.json" | tee -a "$out/tables.md"
fi
if [[ "$steps" == *" moe "* ]]; then
  jmh moe 'DeepSeekBench.moe(Forward|Grouped|PerExpert)$' -p device=cuda -p tokens=1,64 "$@"
  "$java" -cp "$jar" dev.panamax.bench.Ratios "$out/moe.json" | tee -a "$out/tables.md"
fi
if [[ "$steps" == *" loss "* ]]; then
  jmh loss 'GrpoLossBench' "$@"
  "$java" -cp "$jar" dev.panamax.bench.Ratios "$out/loss.json" | tee -a "$out/tables.md"
fi
if [[ "$steps" == *" sample "* ]]; then
  jmh sample 'DeviceSamplingBench' "$@"
  "$java" -cp "$jar" dev.panamax.bench.Ratios "$out/sample.json" | tee -a "$out/tables.md"
fi
if [[ "$steps" == *" index "* ]]; then
  jmh index 'DeviceIndexingBench' "$@"
  "$java" -cp "$jar" dev.panamax.bench.Ratios "$out/index.json" | tee -a "$out/tables.md"
fi
[ "${#ran[@]}" -gt 0 ] || { echo "run.sh: STEPS='$STEPS' names none of gpu, decode, batch, moe, loss, sample, index, mla, mla16, mla128, mlawt, mlaf32, mlawtf32, mlatune, mlamerge, mlasplits, pdl, pdldecode, gemmlt" >&2; exit 2; }
# JMH exits 0 when a benchmark throws (unless -foe): report it, after every run has left its tables
if grep -l '<failure>' "${ran[@]}" >&2; then
  echo "run.sh: some benchmarks failed (the <failure> in the files above); their rows are missing from the tables" >&2
  exit 1
fi
