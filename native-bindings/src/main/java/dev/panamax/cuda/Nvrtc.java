package dev.panamax.cuda;

import dev.panamax.cuda.gen.nvrtc_h;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Facade over NVRTC ({@link nvrtc_h}), which compiles CUDA C++ to PTX or cubin at run time. It
 * needs no GPU, only {@code libnvrtc}. Failures throw {@link CudaException} with NVRTC's message
 * and, for a compile error, the compiler's log.
 */
public final class Nvrtc {
    private static final LibraryRef LIBRARY = LibraryRef.find("libnvrtc.so", "13", "12");

    private Nvrtc() {
    }

    /** The result of a compilation: PTX, a cubin when compiled for a real {@code sm_XX}, and the log. */
    public record Compiled(String ptx, byte[] cubin, String log) {
        /** The module image to load: the cubin when there is one, else the PTX. */
        public byte[] image() {
            return cubin != null ? cubin : ptx.getBytes(StandardCharsets.UTF_8);
        }
    }

    /** Whether libnvrtc can be found and called. Never throws. */
    public static boolean available() {
        if (LIBRARY.path().isEmpty()) return false;
        try {
            version();
            return true;
        } catch (Throwable t) {
            return false;
        }
    }

    /** Why NVRTC is not available, or {@code "available"}. */
    public static String unavailableReason() {
        if (LIBRARY.path().isEmpty()) return "no NVRTC library: " + LIBRARY.describe();
        try {
            version();
            return "available";
        } catch (Throwable t) {
            return "NVRTC could not be called: " + t;
        }
    }

    /** {@code nvrtcGetErrorString} of a result. */
    public static String describe(int result) {
        try {
            MemorySegment s = nvrtc_h.nvrtcGetErrorString(result);
            return s.equals(MemorySegment.NULL) ? "nvrtcResult " + result : s.reinterpret(4096).getString(0, StandardCharsets.UTF_8);
        } catch (Throwable t) {
            return "nvrtcResult " + result;
        }
    }

    private static void check(int result, String call) {
        if (result != 0) throw new CudaException(call + " failed: " + describe(result), result);
    }

    /** NVRTC's version as {major, minor}. */
    public static int[] version() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment major = a.allocate(ValueLayout.JAVA_INT), minor = a.allocate(ValueLayout.JAVA_INT);
            check(nvrtc_h.nvrtcVersion(major, minor), "nvrtcVersion");
            return new int[]{major.get(ValueLayout.JAVA_INT, 0), minor.get(ValueLayout.JAVA_INT, 0)};
        }
    }

    /**
     * Compiles {@code source} (named {@code name} in messages) with {@code options}, e.g.
     * {@code --gpu-architecture=sm_90} (PTX and cubin) or {@code compute_90} (PTX only).
     */
    public static Compiled compile(String source, String name, List<String> options) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment prog = a.allocate(ValueLayout.ADDRESS);
            check(nvrtc_h.nvrtcCreateProgram(prog, a.allocateFrom(source), a.allocateFrom(name), 0, MemorySegment.NULL, MemorySegment.NULL),
                    "nvrtcCreateProgram(" + name + ")");
            MemorySegment p = prog.get(ValueLayout.ADDRESS, 0);
            try {
                MemorySegment opts = a.allocate(ValueLayout.ADDRESS, Math.max(1, options.size()));
                for (int i = 0; i < options.size(); i++) opts.setAtIndex(ValueLayout.ADDRESS, i, a.allocateFrom(options.get(i)));
                int rc = nvrtc_h.nvrtcCompileProgram(p, options.size(), opts);
                String log = read(a, p, true);
                if (rc != 0) throw new CudaException("NVRTC could not compile " + name + ": " + describe(rc) + "\n" + log, rc);
                String ptx = new String(bytes(a, p, false), StandardCharsets.UTF_8);
                int nul = ptx.indexOf('\0');
                if (nul >= 0) ptx = ptx.substring(0, nul);
                byte[] cubin = null;
                if (options.stream().anyMatch(o -> o.contains("sm_"))) {
                    MemorySegment size = a.allocate(ValueLayout.JAVA_LONG);
                    check(nvrtc_h.nvrtcGetCUBINSize(p, size), "nvrtcGetCUBINSize(" + name + ")");
                    long n = size.get(ValueLayout.JAVA_LONG, 0);
                    if (n > 0) {
                        MemorySegment buf = a.allocate(n);
                        check(nvrtc_h.nvrtcGetCUBIN(p, buf), "nvrtcGetCUBIN(" + name + ")");
                        cubin = buf.toArray(ValueLayout.JAVA_BYTE);
                    }
                }
                return new Compiled(ptx, cubin, log);
            } finally {
                nvrtc_h.nvrtcDestroyProgram(prog);
            }
        } catch (LinkageError e) {
            throw new CudaException("NVRTC could not be loaded: " + e.getMessage(), e);
        }
    }

    private static String read(Arena a, MemorySegment prog, boolean log) {
        byte[] b = bytes(a, prog, log);
        int n = 0;
        while (n < b.length && b[n] != 0) n++;
        return new String(b, 0, n, StandardCharsets.UTF_8);
    }

    /** The program's log ({@code log}) or PTX, NUL included. */
    private static byte[] bytes(Arena a, MemorySegment prog, boolean log) {
        MemorySegment size = a.allocate(ValueLayout.JAVA_LONG);
        check(log ? nvrtc_h.nvrtcGetProgramLogSize(prog, size) : nvrtc_h.nvrtcGetPTXSize(prog, size), log ? "nvrtcGetProgramLogSize" : "nvrtcGetPTXSize");
        long n = size.get(ValueLayout.JAVA_LONG, 0);
        if (n <= 0) return new byte[0];
        MemorySegment buf = a.allocate(n);
        check(log ? nvrtc_h.nvrtcGetProgramLog(prog, buf) : nvrtc_h.nvrtcGetPTX(prog, buf), log ? "nvrtcGetProgramLog" : "nvrtcGetPTX");
        return buf.toArray(ValueLayout.JAVA_BYTE);
    }
}
