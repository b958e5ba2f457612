package dev.panamax.runtime.io;

import dev.panamax.runtime.DType;
import dev.panamax.runtime.Scope;
import dev.panamax.runtime.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** safetensors reading, writing and every kind of bad input. */
@org.junit.jupiter.api.extension.ExtendWith(dev.panamax.runtime.ScopePerTest.class)
class SafetensorsTest {
    @TempDir
    Path dir;
    /** Builds a file by hand: header JSON (padded to 8) then the data bytes. */
    static byte[] file(String headerJson, byte[] data) {
        byte[] h = headerJson.getBytes(StandardCharsets.UTF_8);
        int padded = (h.length + 7) / 8 * 8;
        ByteBuffer b = ByteBuffer.allocate(8 + padded + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(padded).put(h);
        for (int i = h.length; i < padded; i++) b.put((byte) ' ');
        b.put(data);
        return b.array();
    }

    private Path write(String name, byte[] bytes) throws IOException {
        Path p = dir.resolve(name);
        Files.write(p, bytes);
        return p;
    }

    private static byte[] floats(float... v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float f : v) b.putFloat(f);
        return b.array();
    }

    @Test
    void readsHandBuiltFileZeroCopy() throws IOException {
        Path p = write("a.safetensors", file(
                "{\"__metadata__\":{\"format\":\"pt\"},\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                floats(1, 2, 3, 4)));
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertThat(f.names()).containsExactly("b", "a");
            assertThat(f.metadata()).containsEntry("format", "pt");
            assertThat(f.tensor("a").toFloatArray()).containsExactly(1, 2);
            assertThat(f.tensor("b").toFloatArray()).containsExactly(3, 4);
            long before = Scope.offHeapBytes();
            Tensor t = f.tensor("b");
            assertThat(Scope.offHeapBytes()).isEqualTo(before); // a view, no copy
            assertThat(t.segment().isMapped()).isTrue();
        }
    }

    @Test
    void writeThenReadRoundTripsEveryDtypeAtomically() throws IOException {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("f32", Tensor.randn(DType.F32, 1, 1, 3, 5));
        m.put("f64", Tensor.randn(DType.F64, 2, 1, 4));
        m.put("bf16", Tensor.randn(DType.F32, 3, 1, 7).to(DType.BF16));
        m.put("f16", Tensor.randn(DType.F32, 4, 1, 2, 2).to(DType.F16));
        m.put("i64", Tensor.ofLongs(new long[]{-1, Long.MAX_VALUE}));
        m.put("i32", Tensor.ofInts(new int[]{7, -7, 0}));
        m.put("u8", Tensor.ofInts(new int[]{0, 255}).to(DType.U8));
        m.put("i8", Tensor.ofInts(new int[]{-128, 127}).to(DType.I8));
        m.put("transposed", Tensor.arange(DType.F32, 6).view(2, 3).t());
        m.put("empty", Tensor.zeros(DType.F32, 0, 4));
        Path p = dir.resolve("rt.safetensors");
        Files.writeString(p, "old content that must be replaced whole");
        Safetensors.write(p, m, Map.of("step", "3"));
        try (Stream s = new Stream(dir)) {
            assertThat(s.leftovers()).isEmpty();
        }
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertThat(f.names()).isSorted();
            assertThat(f.metadata()).containsEntry("step", "3");
            for (Map.Entry<String, Tensor> e : m.entrySet()) {
                Tensor got = f.tensor(e.getKey());
                assertThat(got.dtype()).isEqualTo(e.getValue().dtype());
                assertThat(got.dims()).containsExactly(e.getValue().dims());
                assertThat(got.toDoubleArray()).as(e.getKey()).containsExactly(e.getValue().toDoubleArray());
            }
            assertThat(f.tensor("i64").toLongArray()).containsExactly(-1, Long.MAX_VALUE);
        }
    }

    /** Lists temporary files left in a folder. */
    record Stream(Path dir) implements AutoCloseable {
        List<Path> leftovers() throws IOException {
            try (var s = Files.list(dir)) {
                return s.filter(p -> p.getFileName().toString().endsWith(".tmp")).toList();
            }
        }

        @Override
        public void close() {
        }
    }

    private void assertBad(String name, byte[] bytes, String... fragments) throws IOException {
        Path p = write(name, bytes);
        assertThatThrownBy(() -> SafetensorsFile.open(p).close())
                .isInstanceOf(SafetensorsFormatException.class)
                .hasMessageContaining(p.toString())
                .satisfies(e -> {
                    for (String f : fragments) assertThat(e.getMessage()).contains(f);
                });
    }

    private static final String A = "{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";

    @Test
    void truncatedFiles() throws IOException {
        assertBad("short.safetensors", new byte[]{1, 2, 3}, "truncated");
        byte[] ok = file(A, floats(1, 2));
        assertBad("cut-header.safetensors", Arrays.copyOf(ok, 20), "truncated");
        assertBad("cut-data.safetensors", Arrays.copyOf(ok, ok.length - 1), "\"x\"", "beyond the data section");
    }

    @Test
    void absurdHeaderLength() throws IOException {
        byte[] b = file(A, floats(1, 2));
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, Long.MAX_VALUE - 5);
        assertBad("huge.safetensors", b, "absurd");
        ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 1L << 40);
        assertBad("huge2.safetensors", b, "absurd");
    }

    @Test
    void invalidUtf8AndJson() throws IOException {
        byte[] b = file(A, floats(1, 2));
        b[10] = (byte) 0xC3; // a lead byte followed by ASCII
        b[11] = (byte) 'x';
        assertBad("utf8.safetensors", b, "UTF-8");
        assertBad("json.safetensors", file("{\"x\":{\"dtype\":\"F32\",", new byte[0]), "not valid JSON");
        assertBad("notobject.safetensors", file("[1,2]", new byte[0]), "not valid JSON");
        assertBad("deep.safetensors", file("[".repeat(5000), new byte[0]), "not valid JSON");
    }

    @Test
    void unknownDtype() throws IOException {
        assertBad("dtype.safetensors", file(A.replace("F32", "F8_E8M0"), floats(1, 2)), "\"x\"", "F8_E8M0");
    }

    @Test
    void negativeOrOverflowingDims() throws IOException {
        assertBad("neg.safetensors", file(A.replace("[2]", "[-2]"), floats(1, 2)), "\"x\"", "non-negative");
        assertBad("big.safetensors", file(A.replace("[2]", "[4294967296,4294967296,4294967296]"), floats(1, 2)), "\"x\"", "overflows");
        assertBad("huge-int.safetensors", file(A.replace("[2]", "[99999999999999999999999]"), floats(1, 2)), "\"x\"", "overflows");
        assertBad("frac.safetensors", file(A.replace("[2]", "[2.5]"), floats(1, 2)), "\"x\"");
    }

    @Test
    void badDataOffsets() throws IOException {
        assertBad("range.safetensors", file(A.replace("[0,8]", "[0,800]"), floats(1, 2)), "\"x\"", "beyond");
        assertBad("size.safetensors", file(A.replace("[0,8]", "[0,4]"), floats(1, 2)), "\"x\"", "needs 8");
        assertBad("reversed.safetensors", file(A.replace("[0,8]", "[8,0]"), floats(1, 2)), "\"x\"", "reversed");
        assertBad("overlap.safetensors", file("{\"x\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"y\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}", floats(1, 2, 3)), "overlaps");
        assertBad("offsets-missing.safetensors", file(A.replace(",\"data_offsets\":[0,8]", ""), floats(1, 2)), "\"x\"", "data_offsets");
    }

    @Test
    void duplicateNames() throws IOException {
        assertBad("dup.safetensors", file("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", floats(1, 2)), "\"x\"", "duplicate");
    }

    /**
     * Thousands of random byte mutations of a valid file: each either reads (every tensor
     * viewable and readable) or fails with SafetensorsFormatException; never anything else.
     */
    @Test
    void randomMutationsGiveAValidReadOrAFormatException() throws IOException {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("model.embed.weight", Tensor.randn(DType.F32, 1, 1, 4, 3));
        m.put("model.norm.weight", Tensor.randn(DType.F32, 2, 1, 3).to(DType.BF16));
        m.put("ids", Tensor.ofLongs(new long[]{1, 2, 3}));
        Path good = dir.resolve("good.safetensors");
        Safetensors.write(good, m, Map.of("k", "v"));
        byte[] base = Files.readAllBytes(good);
        SplittableRandom r = new SplittableRandom(1234);
        Path p = dir.resolve("mut.safetensors");
        int valid = 0, rejected = 0;
        for (int it = 0; it < 3000; it++) {
            byte[] b = base.clone();
            int kind = r.nextInt(4);
            int edits = 1 + r.nextInt(4);
            for (int e = 0; e < edits; e++) {
                int at = kind == 0 ? r.nextInt(8) : r.nextInt(Math.min(b.length, kind == 1 ? b.length : 8 + 200));
                b[at] = switch (r.nextInt(4)) {
                    case 0 -> (byte) r.nextInt(256);
                    case 1 -> (byte) "0123456789[]{},:\"-e.".charAt(r.nextInt(20));
                    case 2 -> (byte) (b[at] ^ (1 << r.nextInt(8)));
                    default -> (byte) 0xFF;
                };
            }
            if (kind == 3) b = Arrays.copyOf(b, r.nextInt(b.length + 1));
            Files.write(p, b);
            try (SafetensorsFile f = SafetensorsFile.open(p)) {
                for (String n : f.names()) {
                    Tensor t = f.tensor(n);
                    if (t.numel() < 1_000_000) t.toDoubleArray();
                }
                valid++;
            } catch (SafetensorsFormatException e) {
                assertThat(e.getMessage()).contains(p.toString());
                rejected++;
            }
        }
        assertThat(valid).isPositive();
        assertThat(rejected).isPositive();
    }
}
