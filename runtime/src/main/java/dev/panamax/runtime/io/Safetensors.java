package dev.panamax.runtime.io;

import dev.panamax.runtime.Autograd;
import dev.panamax.runtime.Device;
import dev.panamax.runtime.Scope;
import dev.panamax.runtime.Tensor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Writes safetensors files atomically: the data goes to a temporary file in the same folder,
 * is flushed to disk, and is then renamed over the target, so a crash never leaves a
 * half-written file under the target name. Names are written sorted; data is little-endian
 * and contiguous. Read files with {@link SafetensorsFile} or {@link Checkpoint}.
 */
public final class Safetensors {
    private Safetensors() {
    }

    /** Writes {@code tensors} (any layout; written row-major) and string metadata to {@code path}. */
    public static void write(Path path, Map<String, Tensor> tensors, Map<String, String> metadata) {
        Map<String, Tensor> sorted = new TreeMap<>(tensors);
        Map<String, Object> header = new LinkedHashMap<>();
        if (metadata != null && !metadata.isEmpty()) header.put("__metadata__", new TreeMap<>(metadata));
        long at = 0;
        List<Tensor> order = new ArrayList<>();
        for (Map.Entry<String, Tensor> e : sorted.entrySet()) {
            if (e.getKey().equals("__metadata__")) throw new IllegalArgumentException("a tensor cannot be named __metadata__");
            Tensor t = e.getValue();
            Map<String, Object> entry = new LinkedHashMap<>();
            entry.put("dtype", t.dtype().safetensorsName());
            List<Object> shape = new ArrayList<>();
            for (long d : t.dims()) shape.add(d);
            entry.put("shape", shape);
            entry.put("data_offsets", List.of(at, at + t.byteSize()));
            header.put(e.getKey(), entry);
            at += t.byteSize();
            order.add(t);
        }
        byte[] json = Json.write(header).getBytes(StandardCharsets.UTF_8);
        int padded = (json.length + 7) / 8 * 8;
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded).put(json);
        while (head.hasRemaining()) head.put((byte) ' ');
        head.flip();
        Path dir = path.toAbsolutePath().getParent();
        Path tmp = null;
        try {
            Files.createDirectories(dir);
            tmp = Files.createTempFile(dir, "." + path.getFileName() + ".", ".tmp");
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                writeFully(ch, head);
                for (Tensor t : order) {
                    // tensors on a GPU are written through a host copy, freed after each tensor
                    try (Autograd.NoGrad ng = Autograd.noGrad(); Scope staging = Scope.open()) {
                        Tensor c = t.to(Device.CPU).contiguous();
                        long bytes = c.byteSize();
                        long base = c.storageOffset() * c.dtype().byteSize();
                        MemorySegment seg = c.segment();
                        for (long off = 0; off < bytes; off += 1 << 30) {
                            long len = Math.min(1 << 30, bytes - off);
                            writeFully(ch, seg.asSlice(base + off, len).asByteBuffer());
                        }
                    }
                }
                ch.force(true);
            }
            moveAtomically(tmp, path);
            tmp = null;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + path + ": " + e.getMessage(), e);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // best effort: the target itself was never touched
                }
            }
        }
    }

    /** Renames {@code tmp} over {@code target} atomically where the file system allows. */
    public static void moveAtomically(Path tmp, Path target) throws IOException {
        try {
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    /** Writes {@code text} to {@code target} through a temporary file and an atomic rename. */
    public static void writeStringAtomically(Path target, String text) {
        Path dir = target.toAbsolutePath().getParent();
        Path tmp = null;
        try {
            Files.createDirectories(dir);
            tmp = Files.createTempFile(dir, "." + target.getFileName() + ".", ".tmp");
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                writeFully(ch, ByteBuffer.wrap(text.getBytes(StandardCharsets.UTF_8)));
                ch.force(true);
            }
            moveAtomically(tmp, target);
            tmp = null;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + target + ": " + e.getMessage(), e);
        } finally {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // best effort
                }
            }
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) ch.write(b);
    }
}
