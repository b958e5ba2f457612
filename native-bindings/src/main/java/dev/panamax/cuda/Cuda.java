package dev.panamax.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Path;
import java.util.Optional;

/**
 * Facade over the CUDA driver API. {@link #available()} never throws: it is false, with a reason
 * from {@link #unavailableReason()}, when no driver library, no device or no permission to call
 * native code is present.
 */
public final class Cuda {
    private static final Status STATUS = probe();

    private Cuda() {
    }

    private record Status(boolean ok, String reason, int devices) {
    }

    /** Whether a CUDA driver and at least one device can be used. Never throws. */
    public static boolean available() {
        return STATUS.ok;
    }

    /** Why CUDA is not available, or {@code "available"}. */
    public static String unavailableReason() {
        return STATUS.ok ? "available" : STATUS.reason;
    }

    /** Number of CUDA devices (0 when unavailable). */
    public static int deviceCount() {
        return STATUS.devices;
    }

    private static Status probe() {
        try {
            Optional<Path> lib = NativeLibraries.find("libcuda.so", "1");
            if (lib.isEmpty()) return new Status(false, "no CUDA driver library (libcuda.so.1) was found in " + NativeLibraries.searchFolders(), 0);
            SymbolLookup lookup = SymbolLookup.libraryLookup(lib.get(), Arena.global());
            Linker linker = Linker.nativeLinker();
            MethodHandle init = linker.downcallHandle(lookup.findOrThrow("cuInit"), FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
            MethodHandle count = linker.downcallHandle(lookup.findOrThrow("cuDeviceGetCount"), FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
            int rc = (int) init.invokeExact(0);
            if (rc != 0) return new Status(false, "cuInit failed with CUresult " + rc + " (" + lib.get() + ")", 0);
            try (Arena a = Arena.ofConfined()) {
                MemorySegment n = a.allocate(ValueLayout.JAVA_INT);
                rc = (int) count.invokeExact(n);
                if (rc != 0) return new Status(false, "cuDeviceGetCount failed with CUresult " + rc, 0);
                int devices = n.get(ValueLayout.JAVA_INT, 0);
                if (devices == 0) return new Status(false, "the CUDA driver reports no devices", 0);
                return new Status(true, "available", devices);
            }
        } catch (Throwable t) {
            return new Status(false, "CUDA could not be loaded: " + t, 0);
        }
    }
}
