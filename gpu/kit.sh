#!/usr/bin/env bash
# Builds the GPU kit: everything gpu/verify.sh needs on a machine that has an NVIDIA GPU but no
# Maven, no JDK and no network (the lent H100/H200 machines):
#   KIT/jre/                 a jlink'd Java 25 runtime (the modules Panamax, JMH and JUnit use)
#   KIT/lib/*.jar            the module jars (and the cli's, for `info`) and the test dependencies (AssertJ)
#   KIT/tests/*-tests.jar    each module's compiled tests
#   KIT/junit-platform-console-standalone-*.jar
#   KIT/benchmarks.jar       the JMH uber-jar (GpuBench, DeepSeekBench)
#   KIT/reference/           a copy of ../shared/reference (the DeepSeek and GRPO fixtures)
#   KIT/mla_load_probe       bench/gpu/mla_load_probe.cu built for sm_90a, where nvcc and g++ are
#                            installed (a diagnostic: gpu/verify.sh probe)
# Usage: gpu/kit.sh [KIT_DIR]   (default .gpu-kit, which git ignores; about 57 MB)
# Then, on the GPU machine, from the repository root: gpu/verify.sh MODE [OUT_DIR] (see there).
# MVN_OFFLINE=1 builds without touching the network (everything must be in ~/.m2 already).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
. .mvn/find-jdk.sh
kit="${1:-.gpu-kit}"
case "$kit" in /*) ;; *) kit="$root/$kit" ;; esac
mvn=(./mvnw -B -q ${MVN_OFFLINE:+-o})
modules=(native-bindings runtime moe grpo)

"${mvn[@]}" -DskipTests -Dmaven.javadoc.skip=true install
rm -rf "$kit"
mkdir -p "$kit/lib" "$kit/tests"
for m in "${modules[@]}"; do
  cp "$m"/target/panamax-"$m"-[0-9]*.jar "$kit/lib/"
  "$JAVA_HOME/bin/jar" --create --file "$kit/tests/panamax-$m-tests.jar" -C "$m/target/test-classes" .
done
cp cli/target/panamax-cli.jar "$kit/lib/"   # for `info`
# Test dependencies, without JUnit itself (the console launcher carries the platform and Jupiter) and
# without Byte Buddy (AssertJ needs it only for soft assertions and proxies, which no test uses).
"${mvn[@]}" dependency:copy-dependencies -pl "$(IFS=,; echo "${modules[*]}")" -DincludeScope=test \
  -DexcludeGroupIds=dev.panamax,org.junit.jupiter,org.junit.platform,org.opentest4j,org.apiguardian \
  -DexcludeArtifactIds=byte-buddy -DoutputDirectory="$kit/lib"
jupiter="$(sed -n 's:.*<junit.version>\(5\.[0-9.]*\)</junit.version>.*:\1:p' pom.xml | head -n 1)"
[ -n "$jupiter" ] || { echo "gpu/kit.sh: no <junit.version>5.x</junit.version> in pom.xml" >&2; exit 1; }
"${mvn[@]}" -N dependency:copy -Dartifact="org.junit.platform:junit-platform-console-standalone:1.${jupiter#5.}" \
  -DoutputDirectory="$kit"
cp bench/target/benchmarks.jar "$kit/"
if [ -d ../shared/reference ]; then
  cp -r ../shared/reference "$kit/reference"
  chmod -R u+w "$kit/reference"
else
  echo "gpu/kit.sh: warning: ../shared/reference is missing; the reference tests on the GPU will fail" >&2
fi
# The load probe (cudart linked statically: the GPU machine needs only its driver); a source that
# does not compile fails the kit, so CI, which builds it, checks it
nvcc="$(command -v nvcc || { [ -x "${CUDA_HOME:-/usr/local/cuda}/bin/nvcc" ] && echo "${CUDA_HOME:-/usr/local/cuda}/bin/nvcc"; } || true)"
if [ -n "$nvcc" ] && command -v g++ >/dev/null 2>&1; then
  "$nvcc" -O3 -arch=sm_90a -std=c++17 -o "$kit/mla_load_probe" bench/gpu/mla_load_probe.cu
else
  echo "gpu/kit.sh: no nvcc or no g++ here: the kit has no mla_load_probe" >&2
fi
# The runtime: the modules of Panamax, JMH (management) and the JUnit console (XML reports, jar scanning). The
# machines' transfer limit is 64 MiB with the working tree, so libjvm's native symbols go too.
"$JAVA_HOME/bin/jlink" --add-modules java.base,jdk.incubator.vector,java.logging,jdk.unsupported,java.management,jdk.management,java.xml,jdk.zipfs,jdk.httpserver,java.net.http \
  --strip-debug --no-header-files --no-man-pages --compress=zip-9 --output "$kit/jre" 2>/dev/null
if command -v strip >/dev/null 2>&1; then strip --strip-unneeded "$kit/jre/lib/server/libjvm.so"; fi
"$kit/jre/bin/java" -version >/dev/null 2>&1 || { echo "gpu/kit.sh: the jlink'd runtime in $kit/jre does not start" >&2; exit 1; }
echo "gpu/kit.sh: $(du -sh "$kit" | cut -f1) in $kit"
