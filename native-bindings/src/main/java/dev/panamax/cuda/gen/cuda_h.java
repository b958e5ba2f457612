// Written by hand in the layout jextract 22 generates for cuda.h (see native-bindings/jextract/).
// Regenerate with native-bindings/jextract/regenerate.sh; do not edit one function without the others.

package dev.panamax.cuda.gen;

import java.lang.foreign.AddressLayout;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Arrays;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * Raw FFM bindings to the functions of {@code cuda.h} that Panamax uses (the CUDA driver API, {@code libcuda.so.1}), one static method
 * per C function with the C name, as jextract generates them. Each function is resolved on its
 * first call; a missing library or symbol throws {@link UnsatisfiedLinkError} naming it. Use the
 * checked facades in {@code dev.panamax.cuda} rather than these.
 */
@SuppressWarnings({"unused", "checkstyle:MethodName"})
public class cuda_h {

    cuda_h() {
        // Should not be called directly
    }

    static final Arena LIBRARY_ARENA = Arena.ofAuto();
    static final boolean TRACE_DOWNCALLS = Boolean.getBoolean("jextract.trace.downcalls");

    static void traceDowncall(String name, Object... args) {
        String traceArgs = Arrays.stream(args).map(Object::toString).collect(java.util.stream.Collectors.joining(", "));
        System.out.printf("%s(%s)\n", name, traceArgs);
    }

    static MemorySegment findOrThrow(String symbol) {
        return SYMBOL_LOOKUP.find(symbol)
            .orElseThrow(() -> new UnsatisfiedLinkError("unresolved symbol: " + symbol + " (" + LIBRARY.describe() + ")"));
    }

    /** Where the library was found, or why not (jextract hard-codes {@code -l}; Panamax searches). */
    static final dev.panamax.cuda.LibraryRef LIBRARY = dev.panamax.cuda.LibraryRef.find("libcuda.so", "1");

    static final SymbolLookup SYMBOL_LOOKUP = LIBRARY.lookup(LIBRARY_ARENA);

    public static final ValueLayout.OfBoolean C_BOOL = ValueLayout.JAVA_BOOLEAN;
    public static final ValueLayout.OfByte C_CHAR = ValueLayout.JAVA_BYTE;
    public static final ValueLayout.OfShort C_SHORT = ValueLayout.JAVA_SHORT;
    public static final ValueLayout.OfInt C_INT = ValueLayout.JAVA_INT;
    public static final ValueLayout.OfLong C_LONG_LONG = ValueLayout.JAVA_LONG;
    public static final ValueLayout.OfFloat C_FLOAT = ValueLayout.JAVA_FLOAT;
    public static final ValueLayout.OfDouble C_DOUBLE = ValueLayout.JAVA_DOUBLE;
    public static final AddressLayout C_POINTER = ValueLayout.ADDRESS
            .withTargetLayout(MemoryLayout.sequenceLayout(java.lang.Long.MAX_VALUE, JAVA_BYTE));
    public static final ValueLayout.OfLong C_LONG = ValueLayout.JAVA_LONG;

    private static final int CUDA_SUCCESS = (int)0L;

    /**
     * {@snippet lang=c :
     * enum <anonymous>.CUDA_SUCCESS = 0
     * }
     */
    public static int CUDA_SUCCESS() {
        return CUDA_SUCCESS;
    }

    private static final int CUDA_ERROR_OUT_OF_MEMORY = (int)2L;

    /**
     * {@snippet lang=c :
     * enum <anonymous>.CUDA_ERROR_OUT_OF_MEMORY = 2
     * }
     */
    public static int CUDA_ERROR_OUT_OF_MEMORY() {
        return CUDA_ERROR_OUT_OF_MEMORY;
    }

    private static final int CUDA_ERROR_NO_DEVICE = (int)100L;

    /**
     * {@snippet lang=c :
     * enum <anonymous>.CUDA_ERROR_NO_DEVICE = 100
     * }
     */
    public static int CUDA_ERROR_NO_DEVICE() {
        return CUDA_ERROR_NO_DEVICE;
    }

    private static final int CU_STREAM_NON_BLOCKING = (int)1L;

    /**
     * {@snippet lang=c :
     * enum <anonymous>.CU_STREAM_NON_BLOCKING = 1
     * }
     */
    public static int CU_STREAM_NON_BLOCKING() {
        return CU_STREAM_NON_BLOCKING;
    }

    private static final int CU_STREAM_CAPTURE_MODE_RELAXED = (int)2L;

    /**
     * {@snippet lang=c :
     * enum <anonymous>.CU_STREAM_CAPTURE_MODE_RELAXED = 2
     * }
     */
    public static int CU_STREAM_CAPTURE_MODE_RELAXED() {
        return CU_STREAM_CAPTURE_MODE_RELAXED;
    }

    private static final int CU_STREAM_CAPTURE_STATUS_NONE = (int)0L;

    /**
     * {@snippet lang=c :
     * enum <anonymous>.CU_STREAM_CAPTURE_STATUS_NONE = 0
     * }
     */
    public static int CU_STREAM_CAPTURE_STATUS_NONE() {
        return CU_STREAM_CAPTURE_STATUS_NONE;
    }

    private static final int CU_STREAM_CAPTURE_STATUS_ACTIVE = (int)1L;

    /**
     * {@snippet lang=c :
     * enum <anonymous>.CU_STREAM_CAPTURE_STATUS_ACTIVE = 1
     * }
     */
    public static int CU_STREAM_CAPTURE_STATUS_ACTIVE() {
        return CU_STREAM_CAPTURE_STATUS_ACTIVE;
    }

    private static final int CUDA_ERROR_STREAM_CAPTURE_INVALIDATED = (int)901L;

    /**
     * {@snippet lang=c :
     * enum <anonymous>.CUDA_ERROR_STREAM_CAPTURE_INVALIDATED = 901
     * }
     */
    public static int CUDA_ERROR_STREAM_CAPTURE_INVALIDATED() {
        return CUDA_ERROR_STREAM_CAPTURE_INVALIDATED;
    }

    private static final int CU_EVENT_DEFAULT = (int)0L;

    /**
     * {@snippet lang=c :
     * enum <anonymous>.CU_EVENT_DEFAULT = 0
     * }
     */
    public static int CU_EVENT_DEFAULT() {
        return CU_EVENT_DEFAULT;
    }

    private static final int CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK = (int)1L;

    /**
     * {@snippet lang=c :
     * enum <anonymous>.CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 1
     * }
     */
    public static int CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK() {
        return CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK;
    }

    private static final int CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = (int)16L;

    /**
     * {@snippet lang=c :
     * enum <anonymous>.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16
     * }
     */
    public static int CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT() {
        return CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT;
    }

    private static final int CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE = (int)36L;

    /**
     * {@snippet lang=c :
     * enum <anonymous>.CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE = 36
     * }
     */
    public static int CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE() {
        return CU_DEVICE_ATTRIBUTE_MEMORY_CLOCK_RATE;
    }

    private static final int CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH = (int)37L;

    /**
     * {@snippet lang=c :
     * enum <anonymous>.CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH = 37
     * }
     */
    public static int CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH() {
        return CU_DEVICE_ATTRIBUTE_GLOBAL_MEMORY_BUS_WIDTH;
    }

    private static final int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = (int)75L;

    /**
     * {@snippet lang=c :
     * enum <anonymous>.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75
     * }
     */
    public static int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR() {
        return CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR;
    }

    private static final int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = (int)76L;

    /**
     * {@snippet lang=c :
     * enum <anonymous>.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76
     * }
     */
    public static int CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR() {
        return CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR;
    }

    private static final int CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = (int)97L;

    /**
     * {@snippet lang=c :
     * enum <anonymous>.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97
     * }
     */
    public static int CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN() {
        return CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN;
    }

    private static final int CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = (int)8L;

    /**
     * {@snippet lang=c :
     * enum <anonymous>.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8
     * }
     */
    public static int CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES() {
        return CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES;
    }

    private static final int CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION = (int)6L;

    /**
     * {@snippet lang=c :
     * enum CUlaunchAttributeID_enum.CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION = 6
     * }
     */
    public static int CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION() {
        return CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION;
    }

    private static class cuInit {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_INT
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuInit");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuInit}. */
    public static FunctionDescriptor cuInit$descriptor() {
        return cuInit.DESC;
    }

    /** Downcall method handle for {@code cuInit}. */
    public static MethodHandle cuInit$handle() {
        return cuInit.HANDLE;
    }

    /** Address of {@code cuInit}. */
    public static MemorySegment cuInit$address() {
        return cuInit.ADDR;
    }

    /** {@code cuInit}. */
    public static int cuInit(int Flags) {
        var mh$ = cuInit.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuInit", Flags);
            }
            return (int)mh$.invokeExact(Flags);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuDriverGetVersion {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_POINTER
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuDriverGetVersion");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuDriverGetVersion}. */
    public static FunctionDescriptor cuDriverGetVersion$descriptor() {
        return cuDriverGetVersion.DESC;
    }

    /** Downcall method handle for {@code cuDriverGetVersion}. */
    public static MethodHandle cuDriverGetVersion$handle() {
        return cuDriverGetVersion.HANDLE;
    }

    /** Address of {@code cuDriverGetVersion}. */
    public static MemorySegment cuDriverGetVersion$address() {
        return cuDriverGetVersion.ADDR;
    }

    /** {@code cuDriverGetVersion}. */
    public static int cuDriverGetVersion(MemorySegment driverVersion) {
        var mh$ = cuDriverGetVersion.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuDriverGetVersion", driverVersion);
            }
            return (int)mh$.invokeExact(driverVersion);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuGetErrorString {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_INT,
            cuda_h.C_POINTER
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuGetErrorString");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuGetErrorString}. */
    public static FunctionDescriptor cuGetErrorString$descriptor() {
        return cuGetErrorString.DESC;
    }

    /** Downcall method handle for {@code cuGetErrorString}. */
    public static MethodHandle cuGetErrorString$handle() {
        return cuGetErrorString.HANDLE;
    }

    /** Address of {@code cuGetErrorString}. */
    public static MemorySegment cuGetErrorString$address() {
        return cuGetErrorString.ADDR;
    }

    /** {@code cuGetErrorString}. */
    public static int cuGetErrorString(int error, MemorySegment pStr) {
        var mh$ = cuGetErrorString.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuGetErrorString", error, pStr);
            }
            return (int)mh$.invokeExact(error, pStr);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuGetErrorName {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_INT,
            cuda_h.C_POINTER
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuGetErrorName");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuGetErrorName}. */
    public static FunctionDescriptor cuGetErrorName$descriptor() {
        return cuGetErrorName.DESC;
    }

    /** Downcall method handle for {@code cuGetErrorName}. */
    public static MethodHandle cuGetErrorName$handle() {
        return cuGetErrorName.HANDLE;
    }

    /** Address of {@code cuGetErrorName}. */
    public static MemorySegment cuGetErrorName$address() {
        return cuGetErrorName.ADDR;
    }

    /** {@code cuGetErrorName}. */
    public static int cuGetErrorName(int error, MemorySegment pStr) {
        var mh$ = cuGetErrorName.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuGetErrorName", error, pStr);
            }
            return (int)mh$.invokeExact(error, pStr);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuDeviceGetCount {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_POINTER
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuDeviceGetCount");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuDeviceGetCount}. */
    public static FunctionDescriptor cuDeviceGetCount$descriptor() {
        return cuDeviceGetCount.DESC;
    }

    /** Downcall method handle for {@code cuDeviceGetCount}. */
    public static MethodHandle cuDeviceGetCount$handle() {
        return cuDeviceGetCount.HANDLE;
    }

    /** Address of {@code cuDeviceGetCount}. */
    public static MemorySegment cuDeviceGetCount$address() {
        return cuDeviceGetCount.ADDR;
    }

    /** {@code cuDeviceGetCount}. */
    public static int cuDeviceGetCount(MemorySegment count) {
        var mh$ = cuDeviceGetCount.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuDeviceGetCount", count);
            }
            return (int)mh$.invokeExact(count);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuDeviceGet {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_POINTER,
            cuda_h.C_INT
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuDeviceGet");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuDeviceGet}. */
    public static FunctionDescriptor cuDeviceGet$descriptor() {
        return cuDeviceGet.DESC;
    }

    /** Downcall method handle for {@code cuDeviceGet}. */
    public static MethodHandle cuDeviceGet$handle() {
        return cuDeviceGet.HANDLE;
    }

    /** Address of {@code cuDeviceGet}. */
    public static MemorySegment cuDeviceGet$address() {
        return cuDeviceGet.ADDR;
    }

    /** {@code cuDeviceGet}. */
    public static int cuDeviceGet(MemorySegment device, int ordinal) {
        var mh$ = cuDeviceGet.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuDeviceGet", device, ordinal);
            }
            return (int)mh$.invokeExact(device, ordinal);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuDeviceGetName {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_POINTER,
            cuda_h.C_INT,
            cuda_h.C_INT
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuDeviceGetName");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuDeviceGetName}. */
    public static FunctionDescriptor cuDeviceGetName$descriptor() {
        return cuDeviceGetName.DESC;
    }

    /** Downcall method handle for {@code cuDeviceGetName}. */
    public static MethodHandle cuDeviceGetName$handle() {
        return cuDeviceGetName.HANDLE;
    }

    /** Address of {@code cuDeviceGetName}. */
    public static MemorySegment cuDeviceGetName$address() {
        return cuDeviceGetName.ADDR;
    }

    /** {@code cuDeviceGetName}. */
    public static int cuDeviceGetName(MemorySegment name, int len, int dev) {
        var mh$ = cuDeviceGetName.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuDeviceGetName", name, len, dev);
            }
            return (int)mh$.invokeExact(name, len, dev);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuDeviceGetAttribute {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_POINTER,
            cuda_h.C_INT,
            cuda_h.C_INT
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuDeviceGetAttribute");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuDeviceGetAttribute}. */
    public static FunctionDescriptor cuDeviceGetAttribute$descriptor() {
        return cuDeviceGetAttribute.DESC;
    }

    /** Downcall method handle for {@code cuDeviceGetAttribute}. */
    public static MethodHandle cuDeviceGetAttribute$handle() {
        return cuDeviceGetAttribute.HANDLE;
    }

    /** Address of {@code cuDeviceGetAttribute}. */
    public static MemorySegment cuDeviceGetAttribute$address() {
        return cuDeviceGetAttribute.ADDR;
    }

    /** {@code cuDeviceGetAttribute}. */
    public static int cuDeviceGetAttribute(MemorySegment pi, int attrib, int dev) {
        var mh$ = cuDeviceGetAttribute.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuDeviceGetAttribute", pi, attrib, dev);
            }
            return (int)mh$.invokeExact(pi, attrib, dev);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuDeviceTotalMem_v2 {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_POINTER,
            cuda_h.C_INT
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuDeviceTotalMem_v2");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuDeviceTotalMem_v2}. */
    public static FunctionDescriptor cuDeviceTotalMem_v2$descriptor() {
        return cuDeviceTotalMem_v2.DESC;
    }

    /** Downcall method handle for {@code cuDeviceTotalMem_v2}. */
    public static MethodHandle cuDeviceTotalMem_v2$handle() {
        return cuDeviceTotalMem_v2.HANDLE;
    }

    /** Address of {@code cuDeviceTotalMem_v2}. */
    public static MemorySegment cuDeviceTotalMem_v2$address() {
        return cuDeviceTotalMem_v2.ADDR;
    }

    /** {@code cuDeviceTotalMem_v2}. */
    public static int cuDeviceTotalMem_v2(MemorySegment bytes, int dev) {
        var mh$ = cuDeviceTotalMem_v2.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuDeviceTotalMem_v2", bytes, dev);
            }
            return (int)mh$.invokeExact(bytes, dev);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuDevicePrimaryCtxRetain {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_POINTER,
            cuda_h.C_INT
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuDevicePrimaryCtxRetain");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuDevicePrimaryCtxRetain}. */
    public static FunctionDescriptor cuDevicePrimaryCtxRetain$descriptor() {
        return cuDevicePrimaryCtxRetain.DESC;
    }

    /** Downcall method handle for {@code cuDevicePrimaryCtxRetain}. */
    public static MethodHandle cuDevicePrimaryCtxRetain$handle() {
        return cuDevicePrimaryCtxRetain.HANDLE;
    }

    /** Address of {@code cuDevicePrimaryCtxRetain}. */
    public static MemorySegment cuDevicePrimaryCtxRetain$address() {
        return cuDevicePrimaryCtxRetain.ADDR;
    }

    /** {@code cuDevicePrimaryCtxRetain}. */
    public static int cuDevicePrimaryCtxRetain(MemorySegment pctx, int dev) {
        var mh$ = cuDevicePrimaryCtxRetain.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuDevicePrimaryCtxRetain", pctx, dev);
            }
            return (int)mh$.invokeExact(pctx, dev);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuDevicePrimaryCtxRelease_v2 {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_INT
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuDevicePrimaryCtxRelease_v2");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuDevicePrimaryCtxRelease_v2}. */
    public static FunctionDescriptor cuDevicePrimaryCtxRelease_v2$descriptor() {
        return cuDevicePrimaryCtxRelease_v2.DESC;
    }

    /** Downcall method handle for {@code cuDevicePrimaryCtxRelease_v2}. */
    public static MethodHandle cuDevicePrimaryCtxRelease_v2$handle() {
        return cuDevicePrimaryCtxRelease_v2.HANDLE;
    }

    /** Address of {@code cuDevicePrimaryCtxRelease_v2}. */
    public static MemorySegment cuDevicePrimaryCtxRelease_v2$address() {
        return cuDevicePrimaryCtxRelease_v2.ADDR;
    }

    /** {@code cuDevicePrimaryCtxRelease_v2}. */
    public static int cuDevicePrimaryCtxRelease_v2(int dev) {
        var mh$ = cuDevicePrimaryCtxRelease_v2.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuDevicePrimaryCtxRelease_v2", dev);
            }
            return (int)mh$.invokeExact(dev);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuCtxSetCurrent {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_POINTER
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuCtxSetCurrent");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuCtxSetCurrent}. */
    public static FunctionDescriptor cuCtxSetCurrent$descriptor() {
        return cuCtxSetCurrent.DESC;
    }

    /** Downcall method handle for {@code cuCtxSetCurrent}. */
    public static MethodHandle cuCtxSetCurrent$handle() {
        return cuCtxSetCurrent.HANDLE;
    }

    /** Address of {@code cuCtxSetCurrent}. */
    public static MemorySegment cuCtxSetCurrent$address() {
        return cuCtxSetCurrent.ADDR;
    }

    /** {@code cuCtxSetCurrent}. */
    public static int cuCtxSetCurrent(MemorySegment ctx) {
        var mh$ = cuCtxSetCurrent.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuCtxSetCurrent", ctx);
            }
            return (int)mh$.invokeExact(ctx);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuCtxGetCurrent {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_POINTER
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuCtxGetCurrent");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuCtxGetCurrent}. */
    public static FunctionDescriptor cuCtxGetCurrent$descriptor() {
        return cuCtxGetCurrent.DESC;
    }

    /** Downcall method handle for {@code cuCtxGetCurrent}. */
    public static MethodHandle cuCtxGetCurrent$handle() {
        return cuCtxGetCurrent.HANDLE;
    }

    /** Address of {@code cuCtxGetCurrent}. */
    public static MemorySegment cuCtxGetCurrent$address() {
        return cuCtxGetCurrent.ADDR;
    }

    /** {@code cuCtxGetCurrent}. */
    public static int cuCtxGetCurrent(MemorySegment pctx) {
        var mh$ = cuCtxGetCurrent.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuCtxGetCurrent", pctx);
            }
            return (int)mh$.invokeExact(pctx);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuCtxSynchronize {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuCtxSynchronize");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuCtxSynchronize}. */
    public static FunctionDescriptor cuCtxSynchronize$descriptor() {
        return cuCtxSynchronize.DESC;
    }

    /** Downcall method handle for {@code cuCtxSynchronize}. */
    public static MethodHandle cuCtxSynchronize$handle() {
        return cuCtxSynchronize.HANDLE;
    }

    /** Address of {@code cuCtxSynchronize}. */
    public static MemorySegment cuCtxSynchronize$address() {
        return cuCtxSynchronize.ADDR;
    }

    /** {@code cuCtxSynchronize}. */
    public static int cuCtxSynchronize() {
        var mh$ = cuCtxSynchronize.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuCtxSynchronize");
            }
            return (int)mh$.invokeExact();
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuMemGetInfo_v2 {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_POINTER,
            cuda_h.C_POINTER
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuMemGetInfo_v2");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuMemGetInfo_v2}. */
    public static FunctionDescriptor cuMemGetInfo_v2$descriptor() {
        return cuMemGetInfo_v2.DESC;
    }

    /** Downcall method handle for {@code cuMemGetInfo_v2}. */
    public static MethodHandle cuMemGetInfo_v2$handle() {
        return cuMemGetInfo_v2.HANDLE;
    }

    /** Address of {@code cuMemGetInfo_v2}. */
    public static MemorySegment cuMemGetInfo_v2$address() {
        return cuMemGetInfo_v2.ADDR;
    }

    /** {@code cuMemGetInfo_v2}. */
    public static int cuMemGetInfo_v2(MemorySegment free, MemorySegment total) {
        var mh$ = cuMemGetInfo_v2.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuMemGetInfo_v2", free, total);
            }
            return (int)mh$.invokeExact(free, total);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuMemAlloc_v2 {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_POINTER,
            cuda_h.C_LONG
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuMemAlloc_v2");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuMemAlloc_v2}. */
    public static FunctionDescriptor cuMemAlloc_v2$descriptor() {
        return cuMemAlloc_v2.DESC;
    }

    /** Downcall method handle for {@code cuMemAlloc_v2}. */
    public static MethodHandle cuMemAlloc_v2$handle() {
        return cuMemAlloc_v2.HANDLE;
    }

    /** Address of {@code cuMemAlloc_v2}. */
    public static MemorySegment cuMemAlloc_v2$address() {
        return cuMemAlloc_v2.ADDR;
    }

    /** {@code cuMemAlloc_v2}. */
    public static int cuMemAlloc_v2(MemorySegment dptr, long bytesize) {
        var mh$ = cuMemAlloc_v2.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuMemAlloc_v2", dptr, bytesize);
            }
            return (int)mh$.invokeExact(dptr, bytesize);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuMemFree_v2 {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_LONG_LONG
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuMemFree_v2");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuMemFree_v2}. */
    public static FunctionDescriptor cuMemFree_v2$descriptor() {
        return cuMemFree_v2.DESC;
    }

    /** Downcall method handle for {@code cuMemFree_v2}. */
    public static MethodHandle cuMemFree_v2$handle() {
        return cuMemFree_v2.HANDLE;
    }

    /** Address of {@code cuMemFree_v2}. */
    public static MemorySegment cuMemFree_v2$address() {
        return cuMemFree_v2.ADDR;
    }

    /** {@code cuMemFree_v2}. */
    public static int cuMemFree_v2(long dptr) {
        var mh$ = cuMemFree_v2.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuMemFree_v2", dptr);
            }
            return (int)mh$.invokeExact(dptr);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuMemAllocHost_v2 {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_POINTER,
            cuda_h.C_LONG
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuMemAllocHost_v2");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuMemAllocHost_v2}. */
    public static FunctionDescriptor cuMemAllocHost_v2$descriptor() {
        return cuMemAllocHost_v2.DESC;
    }

    /** Downcall method handle for {@code cuMemAllocHost_v2}. */
    public static MethodHandle cuMemAllocHost_v2$handle() {
        return cuMemAllocHost_v2.HANDLE;
    }

    /** Address of {@code cuMemAllocHost_v2}. */
    public static MemorySegment cuMemAllocHost_v2$address() {
        return cuMemAllocHost_v2.ADDR;
    }

    /** {@code cuMemAllocHost_v2}. */
    public static int cuMemAllocHost_v2(MemorySegment pp, long bytesize) {
        var mh$ = cuMemAllocHost_v2.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuMemAllocHost_v2", pp, bytesize);
            }
            return (int)mh$.invokeExact(pp, bytesize);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuMemFreeHost {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_POINTER
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuMemFreeHost");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuMemFreeHost}. */
    public static FunctionDescriptor cuMemFreeHost$descriptor() {
        return cuMemFreeHost.DESC;
    }

    /** Downcall method handle for {@code cuMemFreeHost}. */
    public static MethodHandle cuMemFreeHost$handle() {
        return cuMemFreeHost.HANDLE;
    }

    /** Address of {@code cuMemFreeHost}. */
    public static MemorySegment cuMemFreeHost$address() {
        return cuMemFreeHost.ADDR;
    }

    /** {@code cuMemFreeHost}. */
    public static int cuMemFreeHost(MemorySegment p) {
        var mh$ = cuMemFreeHost.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuMemFreeHost", p);
            }
            return (int)mh$.invokeExact(p);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuMemsetD8_v2 {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_LONG_LONG,
            cuda_h.C_CHAR,
            cuda_h.C_LONG
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuMemsetD8_v2");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuMemsetD8_v2}. */
    public static FunctionDescriptor cuMemsetD8_v2$descriptor() {
        return cuMemsetD8_v2.DESC;
    }

    /** Downcall method handle for {@code cuMemsetD8_v2}. */
    public static MethodHandle cuMemsetD8_v2$handle() {
        return cuMemsetD8_v2.HANDLE;
    }

    /** Address of {@code cuMemsetD8_v2}. */
    public static MemorySegment cuMemsetD8_v2$address() {
        return cuMemsetD8_v2.ADDR;
    }

    /** {@code cuMemsetD8_v2}. */
    public static int cuMemsetD8_v2(long dstDevice, byte uc, long N) {
        var mh$ = cuMemsetD8_v2.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuMemsetD8_v2", dstDevice, uc, N);
            }
            return (int)mh$.invokeExact(dstDevice, uc, N);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuMemsetD32_v2 {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_LONG_LONG,
            cuda_h.C_INT,
            cuda_h.C_LONG
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuMemsetD32_v2");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuMemsetD32_v2}. */
    public static FunctionDescriptor cuMemsetD32_v2$descriptor() {
        return cuMemsetD32_v2.DESC;
    }

    /** Downcall method handle for {@code cuMemsetD32_v2}. */
    public static MethodHandle cuMemsetD32_v2$handle() {
        return cuMemsetD32_v2.HANDLE;
    }

    /** Address of {@code cuMemsetD32_v2}. */
    public static MemorySegment cuMemsetD32_v2$address() {
        return cuMemsetD32_v2.ADDR;
    }

    /** {@code cuMemsetD32_v2}. */
    public static int cuMemsetD32_v2(long dstDevice, int ui, long N) {
        var mh$ = cuMemsetD32_v2.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuMemsetD32_v2", dstDevice, ui, N);
            }
            return (int)mh$.invokeExact(dstDevice, ui, N);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuMemsetD8Async {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_LONG_LONG,
            cuda_h.C_CHAR,
            cuda_h.C_LONG,
            cuda_h.C_POINTER
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuMemsetD8Async");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuMemsetD8Async}. */
    public static FunctionDescriptor cuMemsetD8Async$descriptor() {
        return cuMemsetD8Async.DESC;
    }

    /** Downcall method handle for {@code cuMemsetD8Async}. */
    public static MethodHandle cuMemsetD8Async$handle() {
        return cuMemsetD8Async.HANDLE;
    }

    /** Address of {@code cuMemsetD8Async}. */
    public static MemorySegment cuMemsetD8Async$address() {
        return cuMemsetD8Async.ADDR;
    }

    /** {@code cuMemsetD8Async}. */
    public static int cuMemsetD8Async(long dstDevice, byte uc, long N, MemorySegment hStream) {
        var mh$ = cuMemsetD8Async.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuMemsetD8Async", dstDevice, uc, N, hStream);
            }
            return (int)mh$.invokeExact(dstDevice, uc, N, hStream);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuMemsetD32Async {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_LONG_LONG,
            cuda_h.C_INT,
            cuda_h.C_LONG,
            cuda_h.C_POINTER
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuMemsetD32Async");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuMemsetD32Async}. */
    public static FunctionDescriptor cuMemsetD32Async$descriptor() {
        return cuMemsetD32Async.DESC;
    }

    /** Downcall method handle for {@code cuMemsetD32Async}. */
    public static MethodHandle cuMemsetD32Async$handle() {
        return cuMemsetD32Async.HANDLE;
    }

    /** Address of {@code cuMemsetD32Async}. */
    public static MemorySegment cuMemsetD32Async$address() {
        return cuMemsetD32Async.ADDR;
    }

    /** {@code cuMemsetD32Async}. */
    public static int cuMemsetD32Async(long dstDevice, int ui, long N, MemorySegment hStream) {
        var mh$ = cuMemsetD32Async.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuMemsetD32Async", dstDevice, ui, N, hStream);
            }
            return (int)mh$.invokeExact(dstDevice, ui, N, hStream);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuMemcpyHtoD_v2 {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_LONG_LONG,
            cuda_h.C_POINTER,
            cuda_h.C_LONG
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuMemcpyHtoD_v2");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuMemcpyHtoD_v2}. */
    public static FunctionDescriptor cuMemcpyHtoD_v2$descriptor() {
        return cuMemcpyHtoD_v2.DESC;
    }

    /** Downcall method handle for {@code cuMemcpyHtoD_v2}. */
    public static MethodHandle cuMemcpyHtoD_v2$handle() {
        return cuMemcpyHtoD_v2.HANDLE;
    }

    /** Address of {@code cuMemcpyHtoD_v2}. */
    public static MemorySegment cuMemcpyHtoD_v2$address() {
        return cuMemcpyHtoD_v2.ADDR;
    }

    /** {@code cuMemcpyHtoD_v2}. */
    public static int cuMemcpyHtoD_v2(long dstDevice, MemorySegment srcHost, long ByteCount) {
        var mh$ = cuMemcpyHtoD_v2.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuMemcpyHtoD_v2", dstDevice, srcHost, ByteCount);
            }
            return (int)mh$.invokeExact(dstDevice, srcHost, ByteCount);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuMemcpyDtoH_v2 {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_POINTER,
            cuda_h.C_LONG_LONG,
            cuda_h.C_LONG
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuMemcpyDtoH_v2");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuMemcpyDtoH_v2}. */
    public static FunctionDescriptor cuMemcpyDtoH_v2$descriptor() {
        return cuMemcpyDtoH_v2.DESC;
    }

    /** Downcall method handle for {@code cuMemcpyDtoH_v2}. */
    public static MethodHandle cuMemcpyDtoH_v2$handle() {
        return cuMemcpyDtoH_v2.HANDLE;
    }

    /** Address of {@code cuMemcpyDtoH_v2}. */
    public static MemorySegment cuMemcpyDtoH_v2$address() {
        return cuMemcpyDtoH_v2.ADDR;
    }

    /** {@code cuMemcpyDtoH_v2}. */
    public static int cuMemcpyDtoH_v2(MemorySegment dstHost, long srcDevice, long ByteCount) {
        var mh$ = cuMemcpyDtoH_v2.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuMemcpyDtoH_v2", dstHost, srcDevice, ByteCount);
            }
            return (int)mh$.invokeExact(dstHost, srcDevice, ByteCount);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuMemcpyDtoD_v2 {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_LONG_LONG,
            cuda_h.C_LONG_LONG,
            cuda_h.C_LONG
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuMemcpyDtoD_v2");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuMemcpyDtoD_v2}. */
    public static FunctionDescriptor cuMemcpyDtoD_v2$descriptor() {
        return cuMemcpyDtoD_v2.DESC;
    }

    /** Downcall method handle for {@code cuMemcpyDtoD_v2}. */
    public static MethodHandle cuMemcpyDtoD_v2$handle() {
        return cuMemcpyDtoD_v2.HANDLE;
    }

    /** Address of {@code cuMemcpyDtoD_v2}. */
    public static MemorySegment cuMemcpyDtoD_v2$address() {
        return cuMemcpyDtoD_v2.ADDR;
    }

    /** {@code cuMemcpyDtoD_v2}. */
    public static int cuMemcpyDtoD_v2(long dstDevice, long srcDevice, long ByteCount) {
        var mh$ = cuMemcpyDtoD_v2.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuMemcpyDtoD_v2", dstDevice, srcDevice, ByteCount);
            }
            return (int)mh$.invokeExact(dstDevice, srcDevice, ByteCount);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuMemcpyHtoDAsync_v2 {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_LONG_LONG,
            cuda_h.C_POINTER,
            cuda_h.C_LONG,
            cuda_h.C_POINTER
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuMemcpyHtoDAsync_v2");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuMemcpyHtoDAsync_v2}. */
    public static FunctionDescriptor cuMemcpyHtoDAsync_v2$descriptor() {
        return cuMemcpyHtoDAsync_v2.DESC;
    }

    /** Downcall method handle for {@code cuMemcpyHtoDAsync_v2}. */
    public static MethodHandle cuMemcpyHtoDAsync_v2$handle() {
        return cuMemcpyHtoDAsync_v2.HANDLE;
    }

    /** Address of {@code cuMemcpyHtoDAsync_v2}. */
    public static MemorySegment cuMemcpyHtoDAsync_v2$address() {
        return cuMemcpyHtoDAsync_v2.ADDR;
    }

    /** {@code cuMemcpyHtoDAsync_v2}. */
    public static int cuMemcpyHtoDAsync_v2(long dstDevice, MemorySegment srcHost, long ByteCount, MemorySegment hStream) {
        var mh$ = cuMemcpyHtoDAsync_v2.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuMemcpyHtoDAsync_v2", dstDevice, srcHost, ByteCount, hStream);
            }
            return (int)mh$.invokeExact(dstDevice, srcHost, ByteCount, hStream);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuMemcpyDtoHAsync_v2 {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_POINTER,
            cuda_h.C_LONG_LONG,
            cuda_h.C_LONG,
            cuda_h.C_POINTER
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuMemcpyDtoHAsync_v2");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuMemcpyDtoHAsync_v2}. */
    public static FunctionDescriptor cuMemcpyDtoHAsync_v2$descriptor() {
        return cuMemcpyDtoHAsync_v2.DESC;
    }

    /** Downcall method handle for {@code cuMemcpyDtoHAsync_v2}. */
    public static MethodHandle cuMemcpyDtoHAsync_v2$handle() {
        return cuMemcpyDtoHAsync_v2.HANDLE;
    }

    /** Address of {@code cuMemcpyDtoHAsync_v2}. */
    public static MemorySegment cuMemcpyDtoHAsync_v2$address() {
        return cuMemcpyDtoHAsync_v2.ADDR;
    }

    /** {@code cuMemcpyDtoHAsync_v2}. */
    public static int cuMemcpyDtoHAsync_v2(MemorySegment dstHost, long srcDevice, long ByteCount, MemorySegment hStream) {
        var mh$ = cuMemcpyDtoHAsync_v2.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuMemcpyDtoHAsync_v2", dstHost, srcDevice, ByteCount, hStream);
            }
            return (int)mh$.invokeExact(dstHost, srcDevice, ByteCount, hStream);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuMemcpyDtoDAsync_v2 {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_LONG_LONG,
            cuda_h.C_LONG_LONG,
            cuda_h.C_LONG,
            cuda_h.C_POINTER
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuMemcpyDtoDAsync_v2");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuMemcpyDtoDAsync_v2}. */
    public static FunctionDescriptor cuMemcpyDtoDAsync_v2$descriptor() {
        return cuMemcpyDtoDAsync_v2.DESC;
    }

    /** Downcall method handle for {@code cuMemcpyDtoDAsync_v2}. */
    public static MethodHandle cuMemcpyDtoDAsync_v2$handle() {
        return cuMemcpyDtoDAsync_v2.HANDLE;
    }

    /** Address of {@code cuMemcpyDtoDAsync_v2}. */
    public static MemorySegment cuMemcpyDtoDAsync_v2$address() {
        return cuMemcpyDtoDAsync_v2.ADDR;
    }

    /** {@code cuMemcpyDtoDAsync_v2}. */
    public static int cuMemcpyDtoDAsync_v2(long dstDevice, long srcDevice, long ByteCount, MemorySegment hStream) {
        var mh$ = cuMemcpyDtoDAsync_v2.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuMemcpyDtoDAsync_v2", dstDevice, srcDevice, ByteCount, hStream);
            }
            return (int)mh$.invokeExact(dstDevice, srcDevice, ByteCount, hStream);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuStreamCreate {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_POINTER,
            cuda_h.C_INT
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuStreamCreate");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuStreamCreate}. */
    public static FunctionDescriptor cuStreamCreate$descriptor() {
        return cuStreamCreate.DESC;
    }

    /** Downcall method handle for {@code cuStreamCreate}. */
    public static MethodHandle cuStreamCreate$handle() {
        return cuStreamCreate.HANDLE;
    }

    /** Address of {@code cuStreamCreate}. */
    public static MemorySegment cuStreamCreate$address() {
        return cuStreamCreate.ADDR;
    }

    /** {@code cuStreamCreate}. */
    public static int cuStreamCreate(MemorySegment phStream, int Flags) {
        var mh$ = cuStreamCreate.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuStreamCreate", phStream, Flags);
            }
            return (int)mh$.invokeExact(phStream, Flags);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuStreamDestroy_v2 {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_POINTER
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuStreamDestroy_v2");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuStreamDestroy_v2}. */
    public static FunctionDescriptor cuStreamDestroy_v2$descriptor() {
        return cuStreamDestroy_v2.DESC;
    }

    /** Downcall method handle for {@code cuStreamDestroy_v2}. */
    public static MethodHandle cuStreamDestroy_v2$handle() {
        return cuStreamDestroy_v2.HANDLE;
    }

    /** Address of {@code cuStreamDestroy_v2}. */
    public static MemorySegment cuStreamDestroy_v2$address() {
        return cuStreamDestroy_v2.ADDR;
    }

    /** {@code cuStreamDestroy_v2}. */
    public static int cuStreamDestroy_v2(MemorySegment hStream) {
        var mh$ = cuStreamDestroy_v2.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuStreamDestroy_v2", hStream);
            }
            return (int)mh$.invokeExact(hStream);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuStreamSynchronize {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_POINTER
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuStreamSynchronize");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuStreamSynchronize}. */
    public static FunctionDescriptor cuStreamSynchronize$descriptor() {
        return cuStreamSynchronize.DESC;
    }

    /** Downcall method handle for {@code cuStreamSynchronize}. */
    public static MethodHandle cuStreamSynchronize$handle() {
        return cuStreamSynchronize.HANDLE;
    }

    /** Address of {@code cuStreamSynchronize}. */
    public static MemorySegment cuStreamSynchronize$address() {
        return cuStreamSynchronize.ADDR;
    }

    /** {@code cuStreamSynchronize}. */
    public static int cuStreamSynchronize(MemorySegment hStream) {
        var mh$ = cuStreamSynchronize.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuStreamSynchronize", hStream);
            }
            return (int)mh$.invokeExact(hStream);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuStreamBeginCapture_v2 {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_POINTER,
            cuda_h.C_INT
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuStreamBeginCapture_v2");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuStreamBeginCapture_v2}. */
    public static FunctionDescriptor cuStreamBeginCapture_v2$descriptor() {
        return cuStreamBeginCapture_v2.DESC;
    }

    /** Downcall method handle for {@code cuStreamBeginCapture_v2}. */
    public static MethodHandle cuStreamBeginCapture_v2$handle() {
        return cuStreamBeginCapture_v2.HANDLE;
    }

    /** Address of {@code cuStreamBeginCapture_v2}. */
    public static MemorySegment cuStreamBeginCapture_v2$address() {
        return cuStreamBeginCapture_v2.ADDR;
    }

    /** {@code cuStreamBeginCapture_v2}. */
    public static int cuStreamBeginCapture_v2(MemorySegment hStream, int mode) {
        var mh$ = cuStreamBeginCapture_v2.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuStreamBeginCapture_v2", hStream, mode);
            }
            return (int)mh$.invokeExact(hStream, mode);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuStreamEndCapture {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_POINTER,
            cuda_h.C_POINTER
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuStreamEndCapture");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuStreamEndCapture}. */
    public static FunctionDescriptor cuStreamEndCapture$descriptor() {
        return cuStreamEndCapture.DESC;
    }

    /** Downcall method handle for {@code cuStreamEndCapture}. */
    public static MethodHandle cuStreamEndCapture$handle() {
        return cuStreamEndCapture.HANDLE;
    }

    /** Address of {@code cuStreamEndCapture}. */
    public static MemorySegment cuStreamEndCapture$address() {
        return cuStreamEndCapture.ADDR;
    }

    /** {@code cuStreamEndCapture}. */
    public static int cuStreamEndCapture(MemorySegment hStream, MemorySegment phGraph) {
        var mh$ = cuStreamEndCapture.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuStreamEndCapture", hStream, phGraph);
            }
            return (int)mh$.invokeExact(hStream, phGraph);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuStreamIsCapturing {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_POINTER,
            cuda_h.C_POINTER
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuStreamIsCapturing");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuStreamIsCapturing}. */
    public static FunctionDescriptor cuStreamIsCapturing$descriptor() {
        return cuStreamIsCapturing.DESC;
    }

    /** Downcall method handle for {@code cuStreamIsCapturing}. */
    public static MethodHandle cuStreamIsCapturing$handle() {
        return cuStreamIsCapturing.HANDLE;
    }

    /** Address of {@code cuStreamIsCapturing}. */
    public static MemorySegment cuStreamIsCapturing$address() {
        return cuStreamIsCapturing.ADDR;
    }

    /** {@code cuStreamIsCapturing}. */
    public static int cuStreamIsCapturing(MemorySegment hStream, MemorySegment captureStatus) {
        var mh$ = cuStreamIsCapturing.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuStreamIsCapturing", hStream, captureStatus);
            }
            return (int)mh$.invokeExact(hStream, captureStatus);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuGraphGetNodes {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_POINTER,
            cuda_h.C_POINTER,
            cuda_h.C_POINTER
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuGraphGetNodes");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuGraphGetNodes}. */
    public static FunctionDescriptor cuGraphGetNodes$descriptor() {
        return cuGraphGetNodes.DESC;
    }

    /** Downcall method handle for {@code cuGraphGetNodes}. */
    public static MethodHandle cuGraphGetNodes$handle() {
        return cuGraphGetNodes.HANDLE;
    }

    /** Address of {@code cuGraphGetNodes}. */
    public static MemorySegment cuGraphGetNodes$address() {
        return cuGraphGetNodes.ADDR;
    }

    /** {@code cuGraphGetNodes}. */
    public static int cuGraphGetNodes(MemorySegment hGraph, MemorySegment nodes, MemorySegment numNodes) {
        var mh$ = cuGraphGetNodes.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuGraphGetNodes", hGraph, nodes, numNodes);
            }
            return (int)mh$.invokeExact(hGraph, nodes, numNodes);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuGraphInstantiateWithFlags {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_POINTER,
            cuda_h.C_POINTER,
            cuda_h.C_LONG_LONG
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuGraphInstantiateWithFlags");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuGraphInstantiateWithFlags}. */
    public static FunctionDescriptor cuGraphInstantiateWithFlags$descriptor() {
        return cuGraphInstantiateWithFlags.DESC;
    }

    /** Downcall method handle for {@code cuGraphInstantiateWithFlags}. */
    public static MethodHandle cuGraphInstantiateWithFlags$handle() {
        return cuGraphInstantiateWithFlags.HANDLE;
    }

    /** Address of {@code cuGraphInstantiateWithFlags}. */
    public static MemorySegment cuGraphInstantiateWithFlags$address() {
        return cuGraphInstantiateWithFlags.ADDR;
    }

    /** {@code cuGraphInstantiateWithFlags}. */
    public static int cuGraphInstantiateWithFlags(MemorySegment phGraphExec, MemorySegment hGraph, long flags) {
        var mh$ = cuGraphInstantiateWithFlags.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuGraphInstantiateWithFlags", phGraphExec, hGraph, flags);
            }
            return (int)mh$.invokeExact(phGraphExec, hGraph, flags);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuGraphLaunch {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_POINTER,
            cuda_h.C_POINTER
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuGraphLaunch");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuGraphLaunch}. */
    public static FunctionDescriptor cuGraphLaunch$descriptor() {
        return cuGraphLaunch.DESC;
    }

    /** Downcall method handle for {@code cuGraphLaunch}. */
    public static MethodHandle cuGraphLaunch$handle() {
        return cuGraphLaunch.HANDLE;
    }

    /** Address of {@code cuGraphLaunch}. */
    public static MemorySegment cuGraphLaunch$address() {
        return cuGraphLaunch.ADDR;
    }

    /** {@code cuGraphLaunch}. */
    public static int cuGraphLaunch(MemorySegment hGraphExec, MemorySegment hStream) {
        var mh$ = cuGraphLaunch.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuGraphLaunch", hGraphExec, hStream);
            }
            return (int)mh$.invokeExact(hGraphExec, hStream);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuGraphExecDestroy {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_POINTER
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuGraphExecDestroy");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuGraphExecDestroy}. */
    public static FunctionDescriptor cuGraphExecDestroy$descriptor() {
        return cuGraphExecDestroy.DESC;
    }

    /** Downcall method handle for {@code cuGraphExecDestroy}. */
    public static MethodHandle cuGraphExecDestroy$handle() {
        return cuGraphExecDestroy.HANDLE;
    }

    /** Address of {@code cuGraphExecDestroy}. */
    public static MemorySegment cuGraphExecDestroy$address() {
        return cuGraphExecDestroy.ADDR;
    }

    /** {@code cuGraphExecDestroy}. */
    public static int cuGraphExecDestroy(MemorySegment hGraphExec) {
        var mh$ = cuGraphExecDestroy.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuGraphExecDestroy", hGraphExec);
            }
            return (int)mh$.invokeExact(hGraphExec);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuGraphDestroy {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_POINTER
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuGraphDestroy");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuGraphDestroy}. */
    public static FunctionDescriptor cuGraphDestroy$descriptor() {
        return cuGraphDestroy.DESC;
    }

    /** Downcall method handle for {@code cuGraphDestroy}. */
    public static MethodHandle cuGraphDestroy$handle() {
        return cuGraphDestroy.HANDLE;
    }

    /** Address of {@code cuGraphDestroy}. */
    public static MemorySegment cuGraphDestroy$address() {
        return cuGraphDestroy.ADDR;
    }

    /** {@code cuGraphDestroy}. */
    public static int cuGraphDestroy(MemorySegment hGraph) {
        var mh$ = cuGraphDestroy.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuGraphDestroy", hGraph);
            }
            return (int)mh$.invokeExact(hGraph);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuEventCreate {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_POINTER,
            cuda_h.C_INT
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuEventCreate");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuEventCreate}. */
    public static FunctionDescriptor cuEventCreate$descriptor() {
        return cuEventCreate.DESC;
    }

    /** Downcall method handle for {@code cuEventCreate}. */
    public static MethodHandle cuEventCreate$handle() {
        return cuEventCreate.HANDLE;
    }

    /** Address of {@code cuEventCreate}. */
    public static MemorySegment cuEventCreate$address() {
        return cuEventCreate.ADDR;
    }

    /** {@code cuEventCreate}. */
    public static int cuEventCreate(MemorySegment phEvent, int Flags) {
        var mh$ = cuEventCreate.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuEventCreate", phEvent, Flags);
            }
            return (int)mh$.invokeExact(phEvent, Flags);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuEventRecord {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_POINTER,
            cuda_h.C_POINTER
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuEventRecord");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuEventRecord}. */
    public static FunctionDescriptor cuEventRecord$descriptor() {
        return cuEventRecord.DESC;
    }

    /** Downcall method handle for {@code cuEventRecord}. */
    public static MethodHandle cuEventRecord$handle() {
        return cuEventRecord.HANDLE;
    }

    /** Address of {@code cuEventRecord}. */
    public static MemorySegment cuEventRecord$address() {
        return cuEventRecord.ADDR;
    }

    /** {@code cuEventRecord}. */
    public static int cuEventRecord(MemorySegment hEvent, MemorySegment hStream) {
        var mh$ = cuEventRecord.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuEventRecord", hEvent, hStream);
            }
            return (int)mh$.invokeExact(hEvent, hStream);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuEventSynchronize {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_POINTER
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuEventSynchronize");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuEventSynchronize}. */
    public static FunctionDescriptor cuEventSynchronize$descriptor() {
        return cuEventSynchronize.DESC;
    }

    /** Downcall method handle for {@code cuEventSynchronize}. */
    public static MethodHandle cuEventSynchronize$handle() {
        return cuEventSynchronize.HANDLE;
    }

    /** Address of {@code cuEventSynchronize}. */
    public static MemorySegment cuEventSynchronize$address() {
        return cuEventSynchronize.ADDR;
    }

    /** {@code cuEventSynchronize}. */
    public static int cuEventSynchronize(MemorySegment hEvent) {
        var mh$ = cuEventSynchronize.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuEventSynchronize", hEvent);
            }
            return (int)mh$.invokeExact(hEvent);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuEventElapsedTime_v2 {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_POINTER,
            cuda_h.C_POINTER,
            cuda_h.C_POINTER
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuEventElapsedTime_v2");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuEventElapsedTime_v2}. */
    public static FunctionDescriptor cuEventElapsedTime_v2$descriptor() {
        return cuEventElapsedTime_v2.DESC;
    }

    /** Downcall method handle for {@code cuEventElapsedTime_v2}. */
    public static MethodHandle cuEventElapsedTime_v2$handle() {
        return cuEventElapsedTime_v2.HANDLE;
    }

    /** Address of {@code cuEventElapsedTime_v2}. */
    public static MemorySegment cuEventElapsedTime_v2$address() {
        return cuEventElapsedTime_v2.ADDR;
    }

    /** {@code cuEventElapsedTime_v2}. */
    public static int cuEventElapsedTime_v2(MemorySegment pMilliseconds, MemorySegment hStart, MemorySegment hEnd) {
        var mh$ = cuEventElapsedTime_v2.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuEventElapsedTime_v2", pMilliseconds, hStart, hEnd);
            }
            return (int)mh$.invokeExact(pMilliseconds, hStart, hEnd);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuEventDestroy_v2 {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_POINTER
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuEventDestroy_v2");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuEventDestroy_v2}. */
    public static FunctionDescriptor cuEventDestroy_v2$descriptor() {
        return cuEventDestroy_v2.DESC;
    }

    /** Downcall method handle for {@code cuEventDestroy_v2}. */
    public static MethodHandle cuEventDestroy_v2$handle() {
        return cuEventDestroy_v2.HANDLE;
    }

    /** Address of {@code cuEventDestroy_v2}. */
    public static MemorySegment cuEventDestroy_v2$address() {
        return cuEventDestroy_v2.ADDR;
    }

    /** {@code cuEventDestroy_v2}. */
    public static int cuEventDestroy_v2(MemorySegment hEvent) {
        var mh$ = cuEventDestroy_v2.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuEventDestroy_v2", hEvent);
            }
            return (int)mh$.invokeExact(hEvent);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuModuleLoadData {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_POINTER,
            cuda_h.C_POINTER
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuModuleLoadData");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuModuleLoadData}. */
    public static FunctionDescriptor cuModuleLoadData$descriptor() {
        return cuModuleLoadData.DESC;
    }

    /** Downcall method handle for {@code cuModuleLoadData}. */
    public static MethodHandle cuModuleLoadData$handle() {
        return cuModuleLoadData.HANDLE;
    }

    /** Address of {@code cuModuleLoadData}. */
    public static MemorySegment cuModuleLoadData$address() {
        return cuModuleLoadData.ADDR;
    }

    /** {@code cuModuleLoadData}. */
    public static int cuModuleLoadData(MemorySegment module, MemorySegment image) {
        var mh$ = cuModuleLoadData.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuModuleLoadData", module, image);
            }
            return (int)mh$.invokeExact(module, image);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuModuleLoadDataEx {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_POINTER,
            cuda_h.C_POINTER,
            cuda_h.C_INT,
            cuda_h.C_POINTER,
            cuda_h.C_POINTER
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuModuleLoadDataEx");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuModuleLoadDataEx}. */
    public static FunctionDescriptor cuModuleLoadDataEx$descriptor() {
        return cuModuleLoadDataEx.DESC;
    }

    /** Downcall method handle for {@code cuModuleLoadDataEx}. */
    public static MethodHandle cuModuleLoadDataEx$handle() {
        return cuModuleLoadDataEx.HANDLE;
    }

    /** Address of {@code cuModuleLoadDataEx}. */
    public static MemorySegment cuModuleLoadDataEx$address() {
        return cuModuleLoadDataEx.ADDR;
    }

    /** {@code cuModuleLoadDataEx}. */
    public static int cuModuleLoadDataEx(MemorySegment module, MemorySegment image, int numOptions, MemorySegment options, MemorySegment optionValues) {
        var mh$ = cuModuleLoadDataEx.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuModuleLoadDataEx", module, image, numOptions, options, optionValues);
            }
            return (int)mh$.invokeExact(module, image, numOptions, options, optionValues);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuModuleUnload {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_POINTER
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuModuleUnload");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuModuleUnload}. */
    public static FunctionDescriptor cuModuleUnload$descriptor() {
        return cuModuleUnload.DESC;
    }

    /** Downcall method handle for {@code cuModuleUnload}. */
    public static MethodHandle cuModuleUnload$handle() {
        return cuModuleUnload.HANDLE;
    }

    /** Address of {@code cuModuleUnload}. */
    public static MemorySegment cuModuleUnload$address() {
        return cuModuleUnload.ADDR;
    }

    /** {@code cuModuleUnload}. */
    public static int cuModuleUnload(MemorySegment hmod) {
        var mh$ = cuModuleUnload.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuModuleUnload", hmod);
            }
            return (int)mh$.invokeExact(hmod);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuModuleGetFunction {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_POINTER,
            cuda_h.C_POINTER,
            cuda_h.C_POINTER
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuModuleGetFunction");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuModuleGetFunction}. */
    public static FunctionDescriptor cuModuleGetFunction$descriptor() {
        return cuModuleGetFunction.DESC;
    }

    /** Downcall method handle for {@code cuModuleGetFunction}. */
    public static MethodHandle cuModuleGetFunction$handle() {
        return cuModuleGetFunction.HANDLE;
    }

    /** Address of {@code cuModuleGetFunction}. */
    public static MemorySegment cuModuleGetFunction$address() {
        return cuModuleGetFunction.ADDR;
    }

    /** {@code cuModuleGetFunction}. */
    public static int cuModuleGetFunction(MemorySegment hfunc, MemorySegment hmod, MemorySegment name) {
        var mh$ = cuModuleGetFunction.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuModuleGetFunction", hfunc, hmod, name);
            }
            return (int)mh$.invokeExact(hfunc, hmod, name);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuFuncSetAttribute {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_POINTER,
            cuda_h.C_INT,
            cuda_h.C_INT
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuFuncSetAttribute");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuFuncSetAttribute}. */
    public static FunctionDescriptor cuFuncSetAttribute$descriptor() {
        return cuFuncSetAttribute.DESC;
    }

    /** Downcall method handle for {@code cuFuncSetAttribute}. */
    public static MethodHandle cuFuncSetAttribute$handle() {
        return cuFuncSetAttribute.HANDLE;
    }

    /** Address of {@code cuFuncSetAttribute}. */
    public static MemorySegment cuFuncSetAttribute$address() {
        return cuFuncSetAttribute.ADDR;
    }

    /** {@code cuFuncSetAttribute}. */
    public static int cuFuncSetAttribute(MemorySegment hfunc, int attrib, int value) {
        var mh$ = cuFuncSetAttribute.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuFuncSetAttribute", hfunc, attrib, value);
            }
            return (int)mh$.invokeExact(hfunc, attrib, value);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuLaunchKernel {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_POINTER,
            cuda_h.C_INT,
            cuda_h.C_INT,
            cuda_h.C_INT,
            cuda_h.C_INT,
            cuda_h.C_INT,
            cuda_h.C_INT,
            cuda_h.C_INT,
            cuda_h.C_POINTER,
            cuda_h.C_POINTER,
            cuda_h.C_POINTER
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuLaunchKernel");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuLaunchKernel}. */
    public static FunctionDescriptor cuLaunchKernel$descriptor() {
        return cuLaunchKernel.DESC;
    }

    /** Downcall method handle for {@code cuLaunchKernel}. */
    public static MethodHandle cuLaunchKernel$handle() {
        return cuLaunchKernel.HANDLE;
    }

    /** Address of {@code cuLaunchKernel}. */
    public static MemorySegment cuLaunchKernel$address() {
        return cuLaunchKernel.ADDR;
    }

    /** {@code cuLaunchKernel}. */
    public static int cuLaunchKernel(MemorySegment f, int gridDimX, int gridDimY, int gridDimZ, int blockDimX, int blockDimY, int blockDimZ, int sharedMemBytes, MemorySegment hStream, MemorySegment kernelParams, MemorySegment extra) {
        var mh$ = cuLaunchKernel.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuLaunchKernel", f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, sharedMemBytes, hStream, kernelParams, extra);
            }
            return (int)mh$.invokeExact(f, gridDimX, gridDimY, gridDimZ, blockDimX, blockDimY, blockDimZ, sharedMemBytes, hStream, kernelParams, extra);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cuLaunchKernelEx {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cuda_h.C_INT,
            cuda_h.C_POINTER,
            cuda_h.C_POINTER,
            cuda_h.C_POINTER,
            cuda_h.C_POINTER
        );

        public static final MemorySegment ADDR = cuda_h.findOrThrow("cuLaunchKernelEx");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cuLaunchKernelEx}. */
    public static FunctionDescriptor cuLaunchKernelEx$descriptor() {
        return cuLaunchKernelEx.DESC;
    }

    /** Downcall method handle for {@code cuLaunchKernelEx}. */
    public static MethodHandle cuLaunchKernelEx$handle() {
        return cuLaunchKernelEx.HANDLE;
    }

    /** Address of {@code cuLaunchKernelEx}. */
    public static MemorySegment cuLaunchKernelEx$address() {
        return cuLaunchKernelEx.ADDR;
    }

    /** {@code cuLaunchKernelEx} ({@code config} is a {@link CUlaunchConfig_st}). */
    public static int cuLaunchKernelEx(MemorySegment config, MemorySegment f, MemorySegment kernelParams, MemorySegment extra) {
        var mh$ = cuLaunchKernelEx.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cuLaunchKernelEx", config, f, kernelParams, extra);
            }
            return (int)mh$.invokeExact(config, f, kernelParams, extra);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }
}
