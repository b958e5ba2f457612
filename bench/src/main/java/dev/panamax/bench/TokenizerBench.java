package dev.panamax.bench;

import dev.panamax.moe.text.HfTokenizer;
import dev.panamax.runtime.Parallel;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPInputStream;

/**
 * {@link HfTokenizer} on a 75 KB text (the README of session 36, then a passage in Chinese,
 * Japanese, Russian, French and R1's tags, 60 times) with a 16,662-token byte-level BPE laid out as
 * DeepSeek-V3's (trained on this repository's Java and CUDA sources by Hugging Face's library;
 * {@code bench/tokenizer/README.md}). Against baselines in the same run:
 * <ul>
 *   <li>{@code encode} against {@code encodeReference}: the same ids by the plain merge loop with
 *       no word cache (the specification the fast path is tested against);</li>
 *   <li>{@code decode} against {@code utf8Decode}: decoding the text's UTF-8 bytes alone, the floor
 *       of any decoder;</li>
 *   <li>{@code load} (reading {@code tokenizer.json}, 0.75 MB) against {@code parseJson}: reading
 *       and parsing the same file with the runtime's JSON reader alone;</li>
 *   <li>{@code encodeBatch} (the text's 890 lines, over {@code threads} threads) against
 *       {@code encodeEach} (one {@code encode} a line, on the calling thread).</li>
 * </ul>
 * Hugging Face's own library (Rust) on the same files: {@code bench/tokenizer/hf_encode.mjs}, run
 * by {@code bench/tokenizer/compare.sh} right after this benchmark. Setup checks that the fast and
 * the reference ids agree. Trap avoided: each result's length is returned.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
@State(org.openjdk.jmh.annotations.Scope.Benchmark)
public class TokenizerBench {
    private HfTokenizer tok;
    private Path file;
    private String text;
    private long[] ids;
    private byte[] utf8;

    /** Unpacks the tokenizer and the text from the jar. */
    @Setup(Level.Trial)
    public void setup() throws IOException {
        Path dir = Files.createTempDirectory("panamax-tokenizer-bench");
        file = dir.resolve("tokenizer.json");
        Files.write(file, resource("tokenizer/tokenizer.json.gz"));
        tok = HfTokenizer.load(file);
        text = new String(resource("tokenizer/text.txt.gz"), StandardCharsets.UTF_8);
        utf8 = text.getBytes(StandardCharsets.UTF_8);
        ids = tok.encode(text, false);
        if (!Arrays.equals(ids, tok.encodeReference(text))) throw new IllegalStateException("fast and reference encodings differ");
        if (!tok.decode(ids).equals(text)) throw new IllegalStateException("the text does not decode back");
        file.toFile().deleteOnExit();
        dir.toFile().deleteOnExit();
        System.err.printf("%d characters, %d bytes, %d tokens, vocabulary %d%n", text.length(), utf8.length, ids.length, tok.vocabSize());
    }

    static byte[] resource(String name) {
        try (InputStream in = TokenizerBench.class.getClassLoader().getResourceAsStream(name)) {
            if (in == null) throw new IllegalStateException("missing resource " + name);
            return new GZIPInputStream(in).readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The fast path: added tokens, pre-tokenizer, heap merges with the word cache warm. */
    @Benchmark
    public int encode() {
        return tok.encode(text, false).length;
    }

    /** Baseline: the plain merge loop, no cache. */
    @Benchmark
    public int encodeReference() {
        return tok.encodeReference(text).length;
    }

    /** Ids back to text through the ByteLevel decoder. */
    @Benchmark
    public int decode() {
        return tok.decode(ids).length();
    }

    /** Baseline: UTF-8 decoding of the text's bytes alone. */
    @Benchmark
    public int utf8Decode() {
        return new String(utf8, StandardCharsets.UTF_8).length();
    }

    /** Reads the tokenizer: JSON, vocabulary, merges, added tokens, per-id bytes. */
    @Benchmark
    public int load() {
        return HfTokenizer.load(file).vocabSize();
    }

    /** Baseline: reading and parsing the same file, nothing more. */
    @Benchmark
    public int parseJson() throws IOException {
        return dev.panamax.runtime.io.Json.parseObject(Files.readString(file)).size();
    }

    /** The text's lines and the thread count, for the batch benchmarks. */
    @State(org.openjdk.jmh.annotations.Scope.Benchmark)
    public static class Lines {
        /** Worker threads of the runtime's pool. */
        @Param({"1", "2"})
        public int threads;

        List<String> lines;

        /** Splits the text and sets the pool's size. */
        @Setup(Level.Trial)
        public void setup() {
            Parallel.setThreads(threads);
            lines = new String(resource("tokenizer/text.txt.gz"), StandardCharsets.UTF_8).lines().toList();
        }
    }

    /** The lines as one batch, spread over the threads. */
    @Benchmark
    public int encodeBatch(Lines l) {
        return tok.encodeBatch(l.lines, false).size();
    }

    /** Baseline: the lines one at a time on the calling thread. */
    @Benchmark
    public int encodeEach(Lines l) {
        int n = 0;
        for (String line : l.lines) n += tok.encode(line, false).length;
        return n;
    }
}
