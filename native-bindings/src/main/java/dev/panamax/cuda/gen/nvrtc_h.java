// Written by hand in the layout jextract 22 generates for nvrtc.h (see native-bindings/jextract/).
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
 * Raw FFM bindings to the functions of {@code nvrtc.h} that Panamax uses (NVRTC, {@code libnvrtc.so.13} or {@code .12}), one static method
 * per C function with the C name, as jextract generates them. Each function is resolved on its
 * first call; a missing library or symbol throws {@link UnsatisfiedLinkError} naming it. Use the
 * checked facades in {@code dev.panamax.cuda} rather than these.
 */
@SuppressWarnings({"unused", "checkstyle:MethodName"})
public class nvrtc_h {

    nvrtc_h() {
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
    static final dev.panamax.cuda.LibraryRef LIBRARY = dev.panamax.cuda.LibraryRef.find("libnvrtc.so", "13", "12");

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

    private static final int NVRTC_SUCCESS = (int)0L;

    /**
     * {@snippet lang=c :
     * enum <anonymous>.NVRTC_SUCCESS = 0
     * }
     */
    public static int NVRTC_SUCCESS() {
        return NVRTC_SUCCESS;
    }

    private static final int NVRTC_ERROR_COMPILATION = (int)6L;

    /**
     * {@snippet lang=c :
     * enum <anonymous>.NVRTC_ERROR_COMPILATION = 6
     * }
     */
    public static int NVRTC_ERROR_COMPILATION() {
        return NVRTC_ERROR_COMPILATION;
    }

    private static class nvrtcGetErrorString {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            nvrtc_h.C_POINTER,
            nvrtc_h.C_INT
        );

        public static final MemorySegment ADDR = nvrtc_h.findOrThrow("nvrtcGetErrorString");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code nvrtcGetErrorString}. */
    public static FunctionDescriptor nvrtcGetErrorString$descriptor() {
        return nvrtcGetErrorString.DESC;
    }

    /** Downcall method handle for {@code nvrtcGetErrorString}. */
    public static MethodHandle nvrtcGetErrorString$handle() {
        return nvrtcGetErrorString.HANDLE;
    }

    /** Address of {@code nvrtcGetErrorString}. */
    public static MemorySegment nvrtcGetErrorString$address() {
        return nvrtcGetErrorString.ADDR;
    }

    /** {@code nvrtcGetErrorString}. */
    public static MemorySegment nvrtcGetErrorString(int result) {
        var mh$ = nvrtcGetErrorString.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("nvrtcGetErrorString", result);
            }
            return (MemorySegment)mh$.invokeExact(result);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class nvrtcVersion {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            nvrtc_h.C_INT,
            nvrtc_h.C_POINTER,
            nvrtc_h.C_POINTER
        );

        public static final MemorySegment ADDR = nvrtc_h.findOrThrow("nvrtcVersion");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code nvrtcVersion}. */
    public static FunctionDescriptor nvrtcVersion$descriptor() {
        return nvrtcVersion.DESC;
    }

    /** Downcall method handle for {@code nvrtcVersion}. */
    public static MethodHandle nvrtcVersion$handle() {
        return nvrtcVersion.HANDLE;
    }

    /** Address of {@code nvrtcVersion}. */
    public static MemorySegment nvrtcVersion$address() {
        return nvrtcVersion.ADDR;
    }

    /** {@code nvrtcVersion}. */
    public static int nvrtcVersion(MemorySegment major, MemorySegment minor) {
        var mh$ = nvrtcVersion.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("nvrtcVersion", major, minor);
            }
            return (int)mh$.invokeExact(major, minor);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class nvrtcCreateProgram {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            nvrtc_h.C_INT,
            nvrtc_h.C_POINTER,
            nvrtc_h.C_POINTER,
            nvrtc_h.C_POINTER,
            nvrtc_h.C_INT,
            nvrtc_h.C_POINTER,
            nvrtc_h.C_POINTER
        );

        public static final MemorySegment ADDR = nvrtc_h.findOrThrow("nvrtcCreateProgram");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code nvrtcCreateProgram}. */
    public static FunctionDescriptor nvrtcCreateProgram$descriptor() {
        return nvrtcCreateProgram.DESC;
    }

    /** Downcall method handle for {@code nvrtcCreateProgram}. */
    public static MethodHandle nvrtcCreateProgram$handle() {
        return nvrtcCreateProgram.HANDLE;
    }

    /** Address of {@code nvrtcCreateProgram}. */
    public static MemorySegment nvrtcCreateProgram$address() {
        return nvrtcCreateProgram.ADDR;
    }

    /** {@code nvrtcCreateProgram}. */
    public static int nvrtcCreateProgram(MemorySegment prog, MemorySegment src, MemorySegment name, int numHeaders, MemorySegment headers, MemorySegment includeNames) {
        var mh$ = nvrtcCreateProgram.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("nvrtcCreateProgram", prog, src, name, numHeaders, headers, includeNames);
            }
            return (int)mh$.invokeExact(prog, src, name, numHeaders, headers, includeNames);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class nvrtcDestroyProgram {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            nvrtc_h.C_INT,
            nvrtc_h.C_POINTER
        );

        public static final MemorySegment ADDR = nvrtc_h.findOrThrow("nvrtcDestroyProgram");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code nvrtcDestroyProgram}. */
    public static FunctionDescriptor nvrtcDestroyProgram$descriptor() {
        return nvrtcDestroyProgram.DESC;
    }

    /** Downcall method handle for {@code nvrtcDestroyProgram}. */
    public static MethodHandle nvrtcDestroyProgram$handle() {
        return nvrtcDestroyProgram.HANDLE;
    }

    /** Address of {@code nvrtcDestroyProgram}. */
    public static MemorySegment nvrtcDestroyProgram$address() {
        return nvrtcDestroyProgram.ADDR;
    }

    /** {@code nvrtcDestroyProgram}. */
    public static int nvrtcDestroyProgram(MemorySegment prog) {
        var mh$ = nvrtcDestroyProgram.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("nvrtcDestroyProgram", prog);
            }
            return (int)mh$.invokeExact(prog);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class nvrtcCompileProgram {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            nvrtc_h.C_INT,
            nvrtc_h.C_POINTER,
            nvrtc_h.C_INT,
            nvrtc_h.C_POINTER
        );

        public static final MemorySegment ADDR = nvrtc_h.findOrThrow("nvrtcCompileProgram");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code nvrtcCompileProgram}. */
    public static FunctionDescriptor nvrtcCompileProgram$descriptor() {
        return nvrtcCompileProgram.DESC;
    }

    /** Downcall method handle for {@code nvrtcCompileProgram}. */
    public static MethodHandle nvrtcCompileProgram$handle() {
        return nvrtcCompileProgram.HANDLE;
    }

    /** Address of {@code nvrtcCompileProgram}. */
    public static MemorySegment nvrtcCompileProgram$address() {
        return nvrtcCompileProgram.ADDR;
    }

    /** {@code nvrtcCompileProgram}. */
    public static int nvrtcCompileProgram(MemorySegment prog, int numOptions, MemorySegment options) {
        var mh$ = nvrtcCompileProgram.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("nvrtcCompileProgram", prog, numOptions, options);
            }
            return (int)mh$.invokeExact(prog, numOptions, options);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class nvrtcGetProgramLogSize {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            nvrtc_h.C_INT,
            nvrtc_h.C_POINTER,
            nvrtc_h.C_POINTER
        );

        public static final MemorySegment ADDR = nvrtc_h.findOrThrow("nvrtcGetProgramLogSize");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code nvrtcGetProgramLogSize}. */
    public static FunctionDescriptor nvrtcGetProgramLogSize$descriptor() {
        return nvrtcGetProgramLogSize.DESC;
    }

    /** Downcall method handle for {@code nvrtcGetProgramLogSize}. */
    public static MethodHandle nvrtcGetProgramLogSize$handle() {
        return nvrtcGetProgramLogSize.HANDLE;
    }

    /** Address of {@code nvrtcGetProgramLogSize}. */
    public static MemorySegment nvrtcGetProgramLogSize$address() {
        return nvrtcGetProgramLogSize.ADDR;
    }

    /** {@code nvrtcGetProgramLogSize}. */
    public static int nvrtcGetProgramLogSize(MemorySegment prog, MemorySegment logSizeRet) {
        var mh$ = nvrtcGetProgramLogSize.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("nvrtcGetProgramLogSize", prog, logSizeRet);
            }
            return (int)mh$.invokeExact(prog, logSizeRet);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class nvrtcGetProgramLog {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            nvrtc_h.C_INT,
            nvrtc_h.C_POINTER,
            nvrtc_h.C_POINTER
        );

        public static final MemorySegment ADDR = nvrtc_h.findOrThrow("nvrtcGetProgramLog");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code nvrtcGetProgramLog}. */
    public static FunctionDescriptor nvrtcGetProgramLog$descriptor() {
        return nvrtcGetProgramLog.DESC;
    }

    /** Downcall method handle for {@code nvrtcGetProgramLog}. */
    public static MethodHandle nvrtcGetProgramLog$handle() {
        return nvrtcGetProgramLog.HANDLE;
    }

    /** Address of {@code nvrtcGetProgramLog}. */
    public static MemorySegment nvrtcGetProgramLog$address() {
        return nvrtcGetProgramLog.ADDR;
    }

    /** {@code nvrtcGetProgramLog}. */
    public static int nvrtcGetProgramLog(MemorySegment prog, MemorySegment log) {
        var mh$ = nvrtcGetProgramLog.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("nvrtcGetProgramLog", prog, log);
            }
            return (int)mh$.invokeExact(prog, log);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class nvrtcGetPTXSize {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            nvrtc_h.C_INT,
            nvrtc_h.C_POINTER,
            nvrtc_h.C_POINTER
        );

        public static final MemorySegment ADDR = nvrtc_h.findOrThrow("nvrtcGetPTXSize");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code nvrtcGetPTXSize}. */
    public static FunctionDescriptor nvrtcGetPTXSize$descriptor() {
        return nvrtcGetPTXSize.DESC;
    }

    /** Downcall method handle for {@code nvrtcGetPTXSize}. */
    public static MethodHandle nvrtcGetPTXSize$handle() {
        return nvrtcGetPTXSize.HANDLE;
    }

    /** Address of {@code nvrtcGetPTXSize}. */
    public static MemorySegment nvrtcGetPTXSize$address() {
        return nvrtcGetPTXSize.ADDR;
    }

    /** {@code nvrtcGetPTXSize}. */
    public static int nvrtcGetPTXSize(MemorySegment prog, MemorySegment ptxSizeRet) {
        var mh$ = nvrtcGetPTXSize.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("nvrtcGetPTXSize", prog, ptxSizeRet);
            }
            return (int)mh$.invokeExact(prog, ptxSizeRet);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class nvrtcGetPTX {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            nvrtc_h.C_INT,
            nvrtc_h.C_POINTER,
            nvrtc_h.C_POINTER
        );

        public static final MemorySegment ADDR = nvrtc_h.findOrThrow("nvrtcGetPTX");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code nvrtcGetPTX}. */
    public static FunctionDescriptor nvrtcGetPTX$descriptor() {
        return nvrtcGetPTX.DESC;
    }

    /** Downcall method handle for {@code nvrtcGetPTX}. */
    public static MethodHandle nvrtcGetPTX$handle() {
        return nvrtcGetPTX.HANDLE;
    }

    /** Address of {@code nvrtcGetPTX}. */
    public static MemorySegment nvrtcGetPTX$address() {
        return nvrtcGetPTX.ADDR;
    }

    /** {@code nvrtcGetPTX}. */
    public static int nvrtcGetPTX(MemorySegment prog, MemorySegment ptx) {
        var mh$ = nvrtcGetPTX.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("nvrtcGetPTX", prog, ptx);
            }
            return (int)mh$.invokeExact(prog, ptx);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class nvrtcGetCUBINSize {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            nvrtc_h.C_INT,
            nvrtc_h.C_POINTER,
            nvrtc_h.C_POINTER
        );

        public static final MemorySegment ADDR = nvrtc_h.findOrThrow("nvrtcGetCUBINSize");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code nvrtcGetCUBINSize}. */
    public static FunctionDescriptor nvrtcGetCUBINSize$descriptor() {
        return nvrtcGetCUBINSize.DESC;
    }

    /** Downcall method handle for {@code nvrtcGetCUBINSize}. */
    public static MethodHandle nvrtcGetCUBINSize$handle() {
        return nvrtcGetCUBINSize.HANDLE;
    }

    /** Address of {@code nvrtcGetCUBINSize}. */
    public static MemorySegment nvrtcGetCUBINSize$address() {
        return nvrtcGetCUBINSize.ADDR;
    }

    /** {@code nvrtcGetCUBINSize}. */
    public static int nvrtcGetCUBINSize(MemorySegment prog, MemorySegment cubinSizeRet) {
        var mh$ = nvrtcGetCUBINSize.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("nvrtcGetCUBINSize", prog, cubinSizeRet);
            }
            return (int)mh$.invokeExact(prog, cubinSizeRet);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class nvrtcGetCUBIN {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            nvrtc_h.C_INT,
            nvrtc_h.C_POINTER,
            nvrtc_h.C_POINTER
        );

        public static final MemorySegment ADDR = nvrtc_h.findOrThrow("nvrtcGetCUBIN");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code nvrtcGetCUBIN}. */
    public static FunctionDescriptor nvrtcGetCUBIN$descriptor() {
        return nvrtcGetCUBIN.DESC;
    }

    /** Downcall method handle for {@code nvrtcGetCUBIN}. */
    public static MethodHandle nvrtcGetCUBIN$handle() {
        return nvrtcGetCUBIN.HANDLE;
    }

    /** Address of {@code nvrtcGetCUBIN}. */
    public static MemorySegment nvrtcGetCUBIN$address() {
        return nvrtcGetCUBIN.ADDR;
    }

    /** {@code nvrtcGetCUBIN}. */
    public static int nvrtcGetCUBIN(MemorySegment prog, MemorySegment cubin) {
        var mh$ = nvrtcGetCUBIN.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("nvrtcGetCUBIN", prog, cubin);
            }
            return (int)mh$.invokeExact(prog, cubin);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }
}
