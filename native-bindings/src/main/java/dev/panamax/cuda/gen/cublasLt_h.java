// Written by hand in the layout jextract 22 generates for cublasLt.h (see native-bindings/jextract/).
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
 * Raw FFM bindings to the functions of {@code cublasLt.h} that Panamax uses (cuBLASLt, {@code libcublasLt.so.13} or {@code .12}), one static method
 * per C function with the C name, as jextract generates them. Each function is resolved on its
 * first call; a missing library or symbol throws {@link UnsatisfiedLinkError} naming it. Use the
 * checked facades in {@code dev.panamax.cuda} rather than these.
 */
@SuppressWarnings({"unused", "checkstyle:MethodName"})
public class cublasLt_h {

    cublasLt_h() {
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
    static final dev.panamax.cuda.LibraryRef LIBRARY = dev.panamax.cuda.LibraryRef.find("libcublasLt.so", "13", "12");

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

    private static final int CUBLASLT_MATMUL_DESC_TRANSA = (int)3L;

    /**
     * {@snippet lang=c :
     * enum <anonymous>.CUBLASLT_MATMUL_DESC_TRANSA = 3
     * }
     */
    public static int CUBLASLT_MATMUL_DESC_TRANSA() {
        return CUBLASLT_MATMUL_DESC_TRANSA;
    }

    private static final int CUBLASLT_MATMUL_DESC_TRANSB = (int)4L;

    /**
     * {@snippet lang=c :
     * enum <anonymous>.CUBLASLT_MATMUL_DESC_TRANSB = 4
     * }
     */
    public static int CUBLASLT_MATMUL_DESC_TRANSB() {
        return CUBLASLT_MATMUL_DESC_TRANSB;
    }

    private static final int CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT = (int)5L;

    /**
     * {@snippet lang=c :
     * enum <anonymous>.CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT = 5
     * }
     */
    public static int CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT() {
        return CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT;
    }

    private static final int CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET = (int)6L;

    /**
     * {@snippet lang=c :
     * enum <anonymous>.CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET = 6
     * }
     */
    public static int CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET() {
        return CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET;
    }

    private static final int CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES = (int)1L;

    /**
     * {@snippet lang=c :
     * enum <anonymous>.CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES = 1
     * }
     */
    public static int CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES() {
        return CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES;
    }

    private static final int CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES = (int)5L;

    /**
     * {@snippet lang=c :
     * enum <anonymous>.CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES = 5
     * }
     */
    public static int CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES() {
        return CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES;
    }

    private static final int CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES = (int)6L;

    /**
     * {@snippet lang=c :
     * enum <anonymous>.CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES = 6
     * }
     */
    public static int CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES() {
        return CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES;
    }

    private static final int CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES = (int)7L;

    /**
     * {@snippet lang=c :
     * enum <anonymous>.CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES = 7
     * }
     */
    public static int CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES() {
        return CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES;
    }

    private static final int CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES = (int)8L;

    /**
     * {@snippet lang=c :
     * enum <anonymous>.CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES = 8
     * }
     */
    public static int CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES() {
        return CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES;
    }

    private static class cublasLtCreate {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cublasLt_h.C_INT,
            cublasLt_h.C_POINTER
        );

        public static final MemorySegment ADDR = cublasLt_h.findOrThrow("cublasLtCreate");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cublasLtCreate}. */
    public static FunctionDescriptor cublasLtCreate$descriptor() {
        return cublasLtCreate.DESC;
    }

    /** Downcall method handle for {@code cublasLtCreate}. */
    public static MethodHandle cublasLtCreate$handle() {
        return cublasLtCreate.HANDLE;
    }

    /** Address of {@code cublasLtCreate}. */
    public static MemorySegment cublasLtCreate$address() {
        return cublasLtCreate.ADDR;
    }

    /** {@code cublasLtCreate}. */
    public static int cublasLtCreate(MemorySegment lightHandle) {
        var mh$ = cublasLtCreate.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cublasLtCreate", lightHandle);
            }
            return (int)mh$.invokeExact(lightHandle);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cublasLtDestroy {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cublasLt_h.C_INT,
            cublasLt_h.C_POINTER
        );

        public static final MemorySegment ADDR = cublasLt_h.findOrThrow("cublasLtDestroy");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cublasLtDestroy}. */
    public static FunctionDescriptor cublasLtDestroy$descriptor() {
        return cublasLtDestroy.DESC;
    }

    /** Downcall method handle for {@code cublasLtDestroy}. */
    public static MethodHandle cublasLtDestroy$handle() {
        return cublasLtDestroy.HANDLE;
    }

    /** Address of {@code cublasLtDestroy}. */
    public static MemorySegment cublasLtDestroy$address() {
        return cublasLtDestroy.ADDR;
    }

    /** {@code cublasLtDestroy}. */
    public static int cublasLtDestroy(MemorySegment lightHandle) {
        var mh$ = cublasLtDestroy.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cublasLtDestroy", lightHandle);
            }
            return (int)mh$.invokeExact(lightHandle);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cublasLtGetVersion {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cublasLt_h.C_LONG
        );

        public static final MemorySegment ADDR = cublasLt_h.findOrThrow("cublasLtGetVersion");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cublasLtGetVersion}. */
    public static FunctionDescriptor cublasLtGetVersion$descriptor() {
        return cublasLtGetVersion.DESC;
    }

    /** Downcall method handle for {@code cublasLtGetVersion}. */
    public static MethodHandle cublasLtGetVersion$handle() {
        return cublasLtGetVersion.HANDLE;
    }

    /** Address of {@code cublasLtGetVersion}. */
    public static MemorySegment cublasLtGetVersion$address() {
        return cublasLtGetVersion.ADDR;
    }

    /** {@code cublasLtGetVersion}. */
    public static long cublasLtGetVersion() {
        var mh$ = cublasLtGetVersion.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cublasLtGetVersion");
            }
            return (long)mh$.invokeExact();
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cublasLtGetStatusName {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cublasLt_h.C_POINTER,
            cublasLt_h.C_INT
        );

        public static final MemorySegment ADDR = cublasLt_h.findOrThrow("cublasLtGetStatusName");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cublasLtGetStatusName}. */
    public static FunctionDescriptor cublasLtGetStatusName$descriptor() {
        return cublasLtGetStatusName.DESC;
    }

    /** Downcall method handle for {@code cublasLtGetStatusName}. */
    public static MethodHandle cublasLtGetStatusName$handle() {
        return cublasLtGetStatusName.HANDLE;
    }

    /** Address of {@code cublasLtGetStatusName}. */
    public static MemorySegment cublasLtGetStatusName$address() {
        return cublasLtGetStatusName.ADDR;
    }

    /** {@code cublasLtGetStatusName}. */
    public static MemorySegment cublasLtGetStatusName(int status) {
        var mh$ = cublasLtGetStatusName.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cublasLtGetStatusName", status);
            }
            return (MemorySegment)mh$.invokeExact(status);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cublasLtGetStatusString {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cublasLt_h.C_POINTER,
            cublasLt_h.C_INT
        );

        public static final MemorySegment ADDR = cublasLt_h.findOrThrow("cublasLtGetStatusString");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cublasLtGetStatusString}. */
    public static FunctionDescriptor cublasLtGetStatusString$descriptor() {
        return cublasLtGetStatusString.DESC;
    }

    /** Downcall method handle for {@code cublasLtGetStatusString}. */
    public static MethodHandle cublasLtGetStatusString$handle() {
        return cublasLtGetStatusString.HANDLE;
    }

    /** Address of {@code cublasLtGetStatusString}. */
    public static MemorySegment cublasLtGetStatusString$address() {
        return cublasLtGetStatusString.ADDR;
    }

    /** {@code cublasLtGetStatusString}. */
    public static MemorySegment cublasLtGetStatusString(int status) {
        var mh$ = cublasLtGetStatusString.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cublasLtGetStatusString", status);
            }
            return (MemorySegment)mh$.invokeExact(status);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cublasLtMatmulDescCreate {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cublasLt_h.C_INT,
            cublasLt_h.C_POINTER,
            cublasLt_h.C_INT,
            cublasLt_h.C_INT
        );

        public static final MemorySegment ADDR = cublasLt_h.findOrThrow("cublasLtMatmulDescCreate");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cublasLtMatmulDescCreate}. */
    public static FunctionDescriptor cublasLtMatmulDescCreate$descriptor() {
        return cublasLtMatmulDescCreate.DESC;
    }

    /** Downcall method handle for {@code cublasLtMatmulDescCreate}. */
    public static MethodHandle cublasLtMatmulDescCreate$handle() {
        return cublasLtMatmulDescCreate.HANDLE;
    }

    /** Address of {@code cublasLtMatmulDescCreate}. */
    public static MemorySegment cublasLtMatmulDescCreate$address() {
        return cublasLtMatmulDescCreate.ADDR;
    }

    /** {@code cublasLtMatmulDescCreate}. */
    public static int cublasLtMatmulDescCreate(MemorySegment matmulDesc, int computeType, int scaleType) {
        var mh$ = cublasLtMatmulDescCreate.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cublasLtMatmulDescCreate", matmulDesc, computeType, scaleType);
            }
            return (int)mh$.invokeExact(matmulDesc, computeType, scaleType);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cublasLtMatmulDescDestroy {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cublasLt_h.C_INT,
            cublasLt_h.C_POINTER
        );

        public static final MemorySegment ADDR = cublasLt_h.findOrThrow("cublasLtMatmulDescDestroy");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cublasLtMatmulDescDestroy}. */
    public static FunctionDescriptor cublasLtMatmulDescDestroy$descriptor() {
        return cublasLtMatmulDescDestroy.DESC;
    }

    /** Downcall method handle for {@code cublasLtMatmulDescDestroy}. */
    public static MethodHandle cublasLtMatmulDescDestroy$handle() {
        return cublasLtMatmulDescDestroy.HANDLE;
    }

    /** Address of {@code cublasLtMatmulDescDestroy}. */
    public static MemorySegment cublasLtMatmulDescDestroy$address() {
        return cublasLtMatmulDescDestroy.ADDR;
    }

    /** {@code cublasLtMatmulDescDestroy}. */
    public static int cublasLtMatmulDescDestroy(MemorySegment matmulDesc) {
        var mh$ = cublasLtMatmulDescDestroy.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cublasLtMatmulDescDestroy", matmulDesc);
            }
            return (int)mh$.invokeExact(matmulDesc);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cublasLtMatmulDescSetAttribute {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cublasLt_h.C_INT,
            cublasLt_h.C_POINTER,
            cublasLt_h.C_INT,
            cublasLt_h.C_POINTER,
            cublasLt_h.C_LONG
        );

        public static final MemorySegment ADDR = cublasLt_h.findOrThrow("cublasLtMatmulDescSetAttribute");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cublasLtMatmulDescSetAttribute}. */
    public static FunctionDescriptor cublasLtMatmulDescSetAttribute$descriptor() {
        return cublasLtMatmulDescSetAttribute.DESC;
    }

    /** Downcall method handle for {@code cublasLtMatmulDescSetAttribute}. */
    public static MethodHandle cublasLtMatmulDescSetAttribute$handle() {
        return cublasLtMatmulDescSetAttribute.HANDLE;
    }

    /** Address of {@code cublasLtMatmulDescSetAttribute}. */
    public static MemorySegment cublasLtMatmulDescSetAttribute$address() {
        return cublasLtMatmulDescSetAttribute.ADDR;
    }

    /** {@code cublasLtMatmulDescSetAttribute}. */
    public static int cublasLtMatmulDescSetAttribute(MemorySegment matmulDesc, int attr, MemorySegment buf, long sizeInBytes) {
        var mh$ = cublasLtMatmulDescSetAttribute.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cublasLtMatmulDescSetAttribute", matmulDesc, attr, buf, sizeInBytes);
            }
            return (int)mh$.invokeExact(matmulDesc, attr, buf, sizeInBytes);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cublasLtMatrixLayoutCreate {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cublasLt_h.C_INT,
            cublasLt_h.C_POINTER,
            cublasLt_h.C_INT,
            cublasLt_h.C_LONG_LONG,
            cublasLt_h.C_LONG_LONG,
            cublasLt_h.C_LONG_LONG
        );

        public static final MemorySegment ADDR = cublasLt_h.findOrThrow("cublasLtMatrixLayoutCreate");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cublasLtMatrixLayoutCreate}. */
    public static FunctionDescriptor cublasLtMatrixLayoutCreate$descriptor() {
        return cublasLtMatrixLayoutCreate.DESC;
    }

    /** Downcall method handle for {@code cublasLtMatrixLayoutCreate}. */
    public static MethodHandle cublasLtMatrixLayoutCreate$handle() {
        return cublasLtMatrixLayoutCreate.HANDLE;
    }

    /** Address of {@code cublasLtMatrixLayoutCreate}. */
    public static MemorySegment cublasLtMatrixLayoutCreate$address() {
        return cublasLtMatrixLayoutCreate.ADDR;
    }

    /** {@code cublasLtMatrixLayoutCreate}. */
    public static int cublasLtMatrixLayoutCreate(MemorySegment matLayout, int type, long rows, long cols, long ld) {
        var mh$ = cublasLtMatrixLayoutCreate.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cublasLtMatrixLayoutCreate", matLayout, type, rows, cols, ld);
            }
            return (int)mh$.invokeExact(matLayout, type, rows, cols, ld);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cublasLtMatrixLayoutDestroy {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cublasLt_h.C_INT,
            cublasLt_h.C_POINTER
        );

        public static final MemorySegment ADDR = cublasLt_h.findOrThrow("cublasLtMatrixLayoutDestroy");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cublasLtMatrixLayoutDestroy}. */
    public static FunctionDescriptor cublasLtMatrixLayoutDestroy$descriptor() {
        return cublasLtMatrixLayoutDestroy.DESC;
    }

    /** Downcall method handle for {@code cublasLtMatrixLayoutDestroy}. */
    public static MethodHandle cublasLtMatrixLayoutDestroy$handle() {
        return cublasLtMatrixLayoutDestroy.HANDLE;
    }

    /** Address of {@code cublasLtMatrixLayoutDestroy}. */
    public static MemorySegment cublasLtMatrixLayoutDestroy$address() {
        return cublasLtMatrixLayoutDestroy.ADDR;
    }

    /** {@code cublasLtMatrixLayoutDestroy}. */
    public static int cublasLtMatrixLayoutDestroy(MemorySegment matLayout) {
        var mh$ = cublasLtMatrixLayoutDestroy.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cublasLtMatrixLayoutDestroy", matLayout);
            }
            return (int)mh$.invokeExact(matLayout);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cublasLtMatrixLayoutSetAttribute {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cublasLt_h.C_INT,
            cublasLt_h.C_POINTER,
            cublasLt_h.C_INT,
            cublasLt_h.C_POINTER,
            cublasLt_h.C_LONG
        );

        public static final MemorySegment ADDR = cublasLt_h.findOrThrow("cublasLtMatrixLayoutSetAttribute");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cublasLtMatrixLayoutSetAttribute}. */
    public static FunctionDescriptor cublasLtMatrixLayoutSetAttribute$descriptor() {
        return cublasLtMatrixLayoutSetAttribute.DESC;
    }

    /** Downcall method handle for {@code cublasLtMatrixLayoutSetAttribute}. */
    public static MethodHandle cublasLtMatrixLayoutSetAttribute$handle() {
        return cublasLtMatrixLayoutSetAttribute.HANDLE;
    }

    /** Address of {@code cublasLtMatrixLayoutSetAttribute}. */
    public static MemorySegment cublasLtMatrixLayoutSetAttribute$address() {
        return cublasLtMatrixLayoutSetAttribute.ADDR;
    }

    /** {@code cublasLtMatrixLayoutSetAttribute}. */
    public static int cublasLtMatrixLayoutSetAttribute(MemorySegment matLayout, int attr, MemorySegment buf, long sizeInBytes) {
        var mh$ = cublasLtMatrixLayoutSetAttribute.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cublasLtMatrixLayoutSetAttribute", matLayout, attr, buf, sizeInBytes);
            }
            return (int)mh$.invokeExact(matLayout, attr, buf, sizeInBytes);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cublasLtMatmulPreferenceCreate {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cublasLt_h.C_INT,
            cublasLt_h.C_POINTER
        );

        public static final MemorySegment ADDR = cublasLt_h.findOrThrow("cublasLtMatmulPreferenceCreate");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cublasLtMatmulPreferenceCreate}. */
    public static FunctionDescriptor cublasLtMatmulPreferenceCreate$descriptor() {
        return cublasLtMatmulPreferenceCreate.DESC;
    }

    /** Downcall method handle for {@code cublasLtMatmulPreferenceCreate}. */
    public static MethodHandle cublasLtMatmulPreferenceCreate$handle() {
        return cublasLtMatmulPreferenceCreate.HANDLE;
    }

    /** Address of {@code cublasLtMatmulPreferenceCreate}. */
    public static MemorySegment cublasLtMatmulPreferenceCreate$address() {
        return cublasLtMatmulPreferenceCreate.ADDR;
    }

    /** {@code cublasLtMatmulPreferenceCreate}. */
    public static int cublasLtMatmulPreferenceCreate(MemorySegment pref) {
        var mh$ = cublasLtMatmulPreferenceCreate.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cublasLtMatmulPreferenceCreate", pref);
            }
            return (int)mh$.invokeExact(pref);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cublasLtMatmulPreferenceDestroy {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cublasLt_h.C_INT,
            cublasLt_h.C_POINTER
        );

        public static final MemorySegment ADDR = cublasLt_h.findOrThrow("cublasLtMatmulPreferenceDestroy");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cublasLtMatmulPreferenceDestroy}. */
    public static FunctionDescriptor cublasLtMatmulPreferenceDestroy$descriptor() {
        return cublasLtMatmulPreferenceDestroy.DESC;
    }

    /** Downcall method handle for {@code cublasLtMatmulPreferenceDestroy}. */
    public static MethodHandle cublasLtMatmulPreferenceDestroy$handle() {
        return cublasLtMatmulPreferenceDestroy.HANDLE;
    }

    /** Address of {@code cublasLtMatmulPreferenceDestroy}. */
    public static MemorySegment cublasLtMatmulPreferenceDestroy$address() {
        return cublasLtMatmulPreferenceDestroy.ADDR;
    }

    /** {@code cublasLtMatmulPreferenceDestroy}. */
    public static int cublasLtMatmulPreferenceDestroy(MemorySegment pref) {
        var mh$ = cublasLtMatmulPreferenceDestroy.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cublasLtMatmulPreferenceDestroy", pref);
            }
            return (int)mh$.invokeExact(pref);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cublasLtMatmulPreferenceSetAttribute {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cublasLt_h.C_INT,
            cublasLt_h.C_POINTER,
            cublasLt_h.C_INT,
            cublasLt_h.C_POINTER,
            cublasLt_h.C_LONG
        );

        public static final MemorySegment ADDR = cublasLt_h.findOrThrow("cublasLtMatmulPreferenceSetAttribute");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cublasLtMatmulPreferenceSetAttribute}. */
    public static FunctionDescriptor cublasLtMatmulPreferenceSetAttribute$descriptor() {
        return cublasLtMatmulPreferenceSetAttribute.DESC;
    }

    /** Downcall method handle for {@code cublasLtMatmulPreferenceSetAttribute}. */
    public static MethodHandle cublasLtMatmulPreferenceSetAttribute$handle() {
        return cublasLtMatmulPreferenceSetAttribute.HANDLE;
    }

    /** Address of {@code cublasLtMatmulPreferenceSetAttribute}. */
    public static MemorySegment cublasLtMatmulPreferenceSetAttribute$address() {
        return cublasLtMatmulPreferenceSetAttribute.ADDR;
    }

    /** {@code cublasLtMatmulPreferenceSetAttribute}. */
    public static int cublasLtMatmulPreferenceSetAttribute(MemorySegment pref, int attr, MemorySegment buf, long sizeInBytes) {
        var mh$ = cublasLtMatmulPreferenceSetAttribute.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cublasLtMatmulPreferenceSetAttribute", pref, attr, buf, sizeInBytes);
            }
            return (int)mh$.invokeExact(pref, attr, buf, sizeInBytes);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cublasLtMatmulAlgoGetHeuristic {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cublasLt_h.C_INT,
            cublasLt_h.C_POINTER,
            cublasLt_h.C_POINTER,
            cublasLt_h.C_POINTER,
            cublasLt_h.C_POINTER,
            cublasLt_h.C_POINTER,
            cublasLt_h.C_POINTER,
            cublasLt_h.C_POINTER,
            cublasLt_h.C_INT,
            cublasLt_h.C_POINTER,
            cublasLt_h.C_POINTER
        );

        public static final MemorySegment ADDR = cublasLt_h.findOrThrow("cublasLtMatmulAlgoGetHeuristic");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cublasLtMatmulAlgoGetHeuristic}. */
    public static FunctionDescriptor cublasLtMatmulAlgoGetHeuristic$descriptor() {
        return cublasLtMatmulAlgoGetHeuristic.DESC;
    }

    /** Downcall method handle for {@code cublasLtMatmulAlgoGetHeuristic}. */
    public static MethodHandle cublasLtMatmulAlgoGetHeuristic$handle() {
        return cublasLtMatmulAlgoGetHeuristic.HANDLE;
    }

    /** Address of {@code cublasLtMatmulAlgoGetHeuristic}. */
    public static MemorySegment cublasLtMatmulAlgoGetHeuristic$address() {
        return cublasLtMatmulAlgoGetHeuristic.ADDR;
    }

    /** {@code cublasLtMatmulAlgoGetHeuristic}. */
    public static int cublasLtMatmulAlgoGetHeuristic(MemorySegment lightHandle, MemorySegment operationDesc, MemorySegment Adesc, MemorySegment Bdesc, MemorySegment Cdesc, MemorySegment Ddesc, MemorySegment preference, int requestedAlgoCount, MemorySegment heuristicResultsArray, MemorySegment returnAlgoCount) {
        var mh$ = cublasLtMatmulAlgoGetHeuristic.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cublasLtMatmulAlgoGetHeuristic", lightHandle, operationDesc, Adesc, Bdesc, Cdesc, Ddesc, preference, requestedAlgoCount, heuristicResultsArray, returnAlgoCount);
            }
            return (int)mh$.invokeExact(lightHandle, operationDesc, Adesc, Bdesc, Cdesc, Ddesc, preference, requestedAlgoCount, heuristicResultsArray, returnAlgoCount);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cublasLtMatmul {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cublasLt_h.C_INT,
            cublasLt_h.C_POINTER,
            cublasLt_h.C_POINTER,
            cublasLt_h.C_POINTER,
            cublasLt_h.C_POINTER,
            cublasLt_h.C_POINTER,
            cublasLt_h.C_POINTER,
            cublasLt_h.C_POINTER,
            cublasLt_h.C_POINTER,
            cublasLt_h.C_POINTER,
            cublasLt_h.C_POINTER,
            cublasLt_h.C_POINTER,
            cublasLt_h.C_POINTER,
            cublasLt_h.C_POINTER,
            cublasLt_h.C_POINTER,
            cublasLt_h.C_LONG,
            cublasLt_h.C_POINTER
        );

        public static final MemorySegment ADDR = cublasLt_h.findOrThrow("cublasLtMatmul");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cublasLtMatmul}. */
    public static FunctionDescriptor cublasLtMatmul$descriptor() {
        return cublasLtMatmul.DESC;
    }

    /** Downcall method handle for {@code cublasLtMatmul}. */
    public static MethodHandle cublasLtMatmul$handle() {
        return cublasLtMatmul.HANDLE;
    }

    /** Address of {@code cublasLtMatmul}. */
    public static MemorySegment cublasLtMatmul$address() {
        return cublasLtMatmul.ADDR;
    }

    /** {@code cublasLtMatmul}. */
    public static int cublasLtMatmul(MemorySegment lightHandle, MemorySegment computeDesc, MemorySegment alpha, MemorySegment A, MemorySegment Adesc, MemorySegment B, MemorySegment Bdesc, MemorySegment beta, MemorySegment C, MemorySegment Cdesc, MemorySegment D, MemorySegment Ddesc, MemorySegment algo, MemorySegment workspace, long workspaceSizeInBytes, MemorySegment stream) {
        var mh$ = cublasLtMatmul.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cublasLtMatmul", lightHandle, computeDesc, alpha, A, Adesc, B, Bdesc, beta, C, Cdesc, D, Ddesc, algo, workspace, workspaceSizeInBytes, stream);
            }
            return (int)mh$.invokeExact(lightHandle, computeDesc, alpha, A, Adesc, B, Bdesc, beta, C, Cdesc, D, Ddesc, algo, workspace, workspaceSizeInBytes, stream);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }
}
