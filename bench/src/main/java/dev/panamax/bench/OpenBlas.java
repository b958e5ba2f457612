package dev.panamax.bench;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * OpenBLAS's {@code cblas_sgemm} and {@code cblas_sgemv} through FFM: the outside baseline of
 * the matmul benchmarks. Present when {@code libopenblas} is installed
 * ({@code apt-get install libopenblas0-pthread}); {@link #available()} says so.
 */
public final class OpenBlas {
    static final int ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112;
    private static final MethodHandle SGEMM, SGEMV, SET_THREADS;
    private static final String WHY;

    static {
        MethodHandle g = null, v = null, t = null;
        String why = null;
        Path lib = null;
        for (String p : List.of("/usr/lib/x86_64-linux-gnu/libopenblas.so.0", "/usr/lib/aarch64-linux-gnu/libopenblas.so.0",
                "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0", "/usr/lib64/libopenblas.so.0", "/usr/local/lib/libopenblas.so.0")) {
            if (Files.exists(Path.of(p))) {
                lib = Path.of(p);
                break;
            }
        }
        if (lib == null) {
            why = "libopenblas.so.0 not found (apt-get install libopenblas0-pthread)";
        } else {
            try {
                SymbolLookup l = SymbolLookup.libraryLookup(lib, Arena.global());
                Linker linker = Linker.nativeLinker();
                g = linker.downcallHandle(l.findOrThrow("cblas_sgemm"), FunctionDescriptor.ofVoid(JAVA_INT, JAVA_INT, JAVA_INT,
                        JAVA_INT, JAVA_INT, JAVA_INT, JAVA_FLOAT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_FLOAT, ADDRESS, JAVA_INT));
                v = linker.downcallHandle(l.findOrThrow("cblas_sgemv"), FunctionDescriptor.ofVoid(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                        JAVA_FLOAT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_FLOAT, ADDRESS, JAVA_INT));
                t = linker.downcallHandle(l.findOrThrow("openblas_set_num_threads"), FunctionDescriptor.ofVoid(JAVA_INT));
            } catch (RuntimeException e) {
                why = "OpenBLAS could not be loaded from " + lib + ": " + e.getMessage();
                g = v = t = null;
            }
        }
        SGEMM = g;
        SGEMV = v;
        SET_THREADS = t;
        WHY = why;
    }

    private OpenBlas() {
    }

    /** Whether OpenBLAS was found. */
    public static boolean available() {
        return SGEMM != null;
    }

    /** Throws with the reason when OpenBLAS is absent (JMH then reports the benchmark as skipped with that message). */
    public static void require() {
        if (!available()) throw new IllegalStateException("OpenBLAS baseline skipped: " + WHY);
    }

    /** Sets OpenBLAS's thread count. */
    public static void setThreads(int n) {
        try {
            SET_THREADS.invokeExact(n);
        } catch (Throwable e) {
            throw new IllegalStateException(e);
        }
    }

    /** Row-major C (m,n) = A (m,k) . B (k,n), B optionally stored transposed. */
    public static void sgemm(int m, int n, int k, MemorySegment a, MemorySegment b, boolean transB, MemorySegment c) {
        try {
            SGEMM.invokeExact(ROW_MAJOR, NO_TRANS, transB ? TRANS : NO_TRANS, m, n, k, 1f, a, k, b, transB ? k : n, 0f, c, n);
        } catch (Throwable e) {
            throw new IllegalStateException(e);
        }
    }

    /** y (rows) = W (rows, cols) . x (cols), W row-major. */
    public static void sgemv(int rows, int cols, MemorySegment w, MemorySegment x, MemorySegment y) {
        try {
            SGEMV.invokeExact(ROW_MAJOR, NO_TRANS, rows, cols, 1f, w, cols, x, 1, 0f, y, 1);
        } catch (Throwable e) {
            throw new IllegalStateException(e);
        }
    }
}
