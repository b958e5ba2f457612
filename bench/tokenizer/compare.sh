#!/usr/bin/env bash
# TokenizerBench, then Hugging Face's library on the same tokenizer and text, one after the other
# on the same machine. Needs the benchmarks jar (./mvnw -pl bench -am package -DskipTests), a JDK 25
# and Node.js with `npm install tokenizers@0.23.2` in NPM_DIR (default /tmp/tok).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
npm_dir=${NPM_DIR:-/tmp/tok}
java=${JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}/bin/java
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
gzip -dc "$root/bench/src/main/resources/tokenizer/tokenizer.json.gz" > "$work/tokenizer.json"
gzip -dc "$root/bench/src/main/resources/tokenizer/text.txt.gz" > "$work/text.txt"
"$java" --add-modules jdk.incubator.vector -cp "$root/bench/target/benchmarks.jar" dev.panamax.bench.TokenizerIds "$work/tokenizer.json" "$work/text.txt" > "$work/ids.txt"
"$java" --add-modules jdk.incubator.vector -jar "$root/bench/target/benchmarks.jar" TokenizerBench "$@"
cp "$here/hf_encode.mjs" "$npm_dir/"
(cd "$npm_dir" && node hf_encode.mjs "$work/tokenizer.json" "$work/text.txt" "$work/ids.txt")
