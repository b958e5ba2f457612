package dev.panamax.runtime.io;

import dev.panamax.runtime.DType;
import dev.panamax.runtime.Shape;
import dev.panamax.runtime.Tensor;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.math.BigInteger;

/**
 * A safetensors file, memory-mapped read-only. Tensors are zero-copy views on the mapping and
 * stay valid until {@link #close()}. The whole header is validated on open: any malformed input
 * (truncation, absurd header length, invalid UTF-8 or JSON, unknown dtype, bad dims, offsets out
 * of range, overlapping or not matching shape x dtype, duplicate names) is a
 * {@link SafetensorsFormatException} naming the file and tensor, never another exception or an
 * allocation driven by the header's claims.
 */
public final class SafetensorsFile implements AutoCloseable {
    /** Largest header accepted (the reference implementation's limit). */
    public static final long MAX_HEADER_BYTES = 100L << 20;

    private final Path path;
    private final Arena arena;
    private final MemorySegment mapped;
    private final long dataStart;
    private final Map<String, TensorInfo> infos;
    private final Map<String, String> metadata;

    private SafetensorsFile(Path path, Arena arena, MemorySegment mapped, long dataStart,
                            Map<String, TensorInfo> infos, Map<String, String> metadata) {
        this.path = path;
        this.arena = arena;
        this.mapped = mapped;
        this.dataStart = dataStart;
        this.infos = infos;
        this.metadata = metadata;
    }

    /**
     * Maps and validates a file.
     *
     * @throws SafetensorsFormatException if the file is malformed or cannot be read
     */
    public static SafetensorsFile open(Path path) {
        Arena arena = Arena.ofShared();
        try {
            MemorySegment seg;
            try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
                long size = ch.size();
                seg = size == 0 ? MemorySegment.NULL.reinterpret(0) : ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            } catch (IOException e) {
                throw new SafetensorsFormatException(path, null, "cannot be read: " + e.getMessage(), e);
            }
            SafetensorsFile f = parse(path, arena, seg);
            arena = null;
            return f;
        } finally {
            if (arena != null) arena.close();
        }
    }

    private static SafetensorsFile parse(Path path, Arena arena, MemorySegment seg) {
        long size = seg.byteSize();
        if (size < 8) throw new SafetensorsFormatException(path, "truncated: " + size + " bytes, fewer than the 8-byte header length");
        long n = seg.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
        if (n < 0 || n > MAX_HEADER_BYTES) {
            throw new SafetensorsFormatException(path, "header length " + Long.toUnsignedString(n) + " is absurd (limit " + MAX_HEADER_BYTES + " bytes)");
        }
        if (n > size - 8) throw new SafetensorsFormatException(path, "truncated: header length " + n + " goes beyond the file size " + size);
        ByteBuffer hb = seg.asSlice(8, n).asByteBuffer();
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(hb).toString();
        } catch (CharacterCodingException e) {
            throw new SafetensorsFormatException(path, null, "header is not valid UTF-8", e);
        }
        Map<String, Object> root;
        try {
            root = Json.parseObject(text);
        } catch (Json.DuplicateKeyException e) {
            throw new SafetensorsFormatException(path, e.key(), "duplicate tensor name", e);
        } catch (Json.JsonException e) {
            throw new SafetensorsFormatException(path, null, "header is not valid JSON: " + e.getMessage(), e);
        }
        long dataStart = 8 + n;
        long dataSize = size - dataStart;
        Map<String, TensorInfo> infos = new LinkedHashMap<>();
        Map<String, String> meta = new LinkedHashMap<>();
        for (Map.Entry<String, Object> e : root.entrySet()) {
            String name = e.getKey();
            if (name.equals("__metadata__")) {
                if (!(e.getValue() instanceof Map<?, ?> m)) throw new SafetensorsFormatException(path, "__metadata__ must be an object of strings");
                for (Map.Entry<?, ?> me : m.entrySet()) {
                    if (!(me.getValue() instanceof String sv)) throw new SafetensorsFormatException(path, "__metadata__ value for \"" + me.getKey() + "\" is not a string");
                    meta.put((String) me.getKey(), sv);
                }
                continue;
            }
            infos.put(name, entry(path, name, e.getValue(), dataSize));
        }
        checkOverlaps(path, infos);
        return new SafetensorsFile(path, arena, seg, dataStart, Collections.unmodifiableMap(infos), Collections.unmodifiableMap(meta));
    }

    private static long nonNegativeLong(Path path, String name, Object v, String what) {
        if (v instanceof Long l && l >= 0) return l;
        if (v instanceof BigInteger) throw new SafetensorsFormatException(path, name, what + " " + v + " overflows", null);
        throw new SafetensorsFormatException(path, name, what + " must be a non-negative integer, got " + v, null);
    }

    private static TensorInfo entry(Path path, String name, Object v, long dataSize) {
        if (!(v instanceof Map<?, ?> m)) throw new SafetensorsFormatException(path, name, "entry is not an object", null);
        if (!(m.get("dtype") instanceof String ds)) throw new SafetensorsFormatException(path, name, "missing or non-string \"dtype\"", null);
        DType dt;
        try {
            dt = DType.fromSafetensors(ds);
        } catch (IllegalArgumentException ex) {
            throw new SafetensorsFormatException(path, name, ex.getMessage(), null);
        }
        if (!(m.get("shape") instanceof List<?> sl)) throw new SafetensorsFormatException(path, name, "missing or non-list \"shape\"", null);
        if (sl.size() > 64) throw new SafetensorsFormatException(path, name, "rank " + sl.size() + " is absurd", null);
        long[] shape = new long[sl.size()];
        long numel = 1;
        for (int i = 0; i < shape.length; i++) {
            shape[i] = nonNegativeLong(path, name, sl.get(i), "dim " + i);
            try {
                numel = Math.multiplyExact(numel, shape[i]);
            } catch (ArithmeticException ex) {
                throw new SafetensorsFormatException(path, name, "shape " + sl + " overflows", null);
            }
        }
        if (!(m.get("data_offsets") instanceof List<?> ol) || ol.size() != 2) {
            throw new SafetensorsFormatException(path, name, "\"data_offsets\" must be [begin, end]", null);
        }
        long begin = nonNegativeLong(path, name, ol.get(0), "data offset begin");
        long end = nonNegativeLong(path, name, ol.get(1), "data offset end");
        if (begin > end) throw new SafetensorsFormatException(path, name, "data offsets [" + begin + ", " + end + "] are reversed", null);
        if (end > dataSize) {
            throw new SafetensorsFormatException(path, name, "data offsets [" + begin + ", " + end + "] go beyond the data section of " + dataSize + " bytes (truncated file?)", null);
        }
        long want;
        try {
            want = Math.multiplyExact(numel, (long) dt.byteSize());
        } catch (ArithmeticException ex) {
            throw new SafetensorsFormatException(path, name, "shape x dtype size overflows", null);
        }
        if (end - begin != want) {
            throw new SafetensorsFormatException(path, name, "data offsets [" + begin + ", " + end + "] hold " + (end - begin) + " bytes but shape " + sl + " of " + ds + " needs " + want, null);
        }
        return new TensorInfo(name, dt, shape, begin, end);
    }

    private static void checkOverlaps(Path path, Map<String, TensorInfo> infos) {
        List<TensorInfo> byStart = new ArrayList<>(infos.values());
        byStart.removeIf(t -> t.byteSize() == 0);
        byStart.sort(Comparator.comparingLong(TensorInfo::begin));
        for (int i = 1; i < byStart.size(); i++) {
            TensorInfo a = byStart.get(i - 1), b = byStart.get(i);
            if (b.begin() < a.end()) {
                throw new SafetensorsFormatException(path, b.name(), "data overlaps tensor \"" + a.name() + "\"", null);
            }
        }
    }

    /** The file. */
    public Path path() {
        return path;
    }

    /** Tensor names in header order. */
    public List<String> names() {
        return List.copyOf(infos.keySet());
    }

    /** Header entries by name, in header order. */
    public Map<String, TensorInfo> infos() {
        return infos;
    }

    /** The {@code __metadata__} strings. */
    public Map<String, String> metadata() {
        return metadata;
    }

    /** Whether the file holds a tensor of that name. */
    public boolean contains(String name) {
        return infos.containsKey(name);
    }

    /** Header entry of a tensor, or throws naming it and the file. */
    public TensorInfo info(String name) {
        TensorInfo i = infos.get(name);
        if (i == null) throw new SafetensorsFormatException(path, name, "no such tensor", null);
        return i;
    }

    /** A zero-copy view of a tensor; valid until this file is closed. */
    public Tensor tensor(String name) {
        TensorInfo i = info(name);
        MemorySegment s = i.byteSize() == 0 ? MemorySegment.NULL.reinterpret(0) : mapped.asSlice(dataStart + i.begin(), i.byteSize());
        return Tensor.wrap(s, i.dtype(), Shape.of(i.shape()), 0);
    }

    /** Bytes mapped (the file size). */
    public long mappedBytes() {
        return mapped.byteSize();
    }

    /** Unmaps the file; tensors from it must not be used afterwards. */
    @Override
    public void close() {
        if (arena.scope().isAlive()) arena.close();
    }
}
