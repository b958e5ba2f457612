// Written by hand in the layout jextract 22 generates for cublas_api.h (see native-bindings/jextract/).
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
 * Raw FFM bindings to the functions of {@code cublas_api.h} that Panamax uses (cuBLAS, {@code libcublas.so.13} or {@code .12}), one static method
 * per C function with the C name, as jextract generates them. Each function is resolved on its
 * first call; a missing library or symbol throws {@link UnsatisfiedLinkError} naming it. Use the
 * checked facades in {@code dev.panamax.cuda} rather than these.
 */
@SuppressWarnings({"unused", "checkstyle:MethodName"})
public class cublas_api_h {

    cublas_api_h() {
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
    static final dev.panamax.cuda.LibraryRef LIBRARY = dev.panamax.cuda.LibraryRef.find("libcublas.so", "13", "12");

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

    private static final int CUBLAS_STATUS_SUCCESS = (int)0L;

    /**
     * {@snippet lang=c :
     * enum <anonymous>.CUBLAS_STATUS_SUCCESS = 0
     * }
     */
    public static int CUBLAS_STATUS_SUCCESS() {
        return CUBLAS_STATUS_SUCCESS;
    }

    private static final int CUBLAS_OP_N = (int)0L;

    /**
     * {@snippet lang=c :
     * enum <anonymous>.CUBLAS_OP_N = 0
     * }
     */
    public static int CUBLAS_OP_N() {
        return CUBLAS_OP_N;
    }

    private static final int CUBLAS_OP_T = (int)1L;

    /**
     * {@snippet lang=c :
     * enum <anonymous>.CUBLAS_OP_T = 1
     * }
     */
    public static int CUBLAS_OP_T() {
        return CUBLAS_OP_T;
    }

    private static final int CUBLAS_DEFAULT_MATH = (int)0L;

    /**
     * {@snippet lang=c :
     * enum <anonymous>.CUBLAS_DEFAULT_MATH = 0
     * }
     */
    public static int CUBLAS_DEFAULT_MATH() {
        return CUBLAS_DEFAULT_MATH;
    }

    private static final int CUBLAS_PEDANTIC_MATH = (int)2L;

    /**
     * {@snippet lang=c :
     * enum <anonymous>.CUBLAS_PEDANTIC_MATH = 2
     * }
     */
    public static int CUBLAS_PEDANTIC_MATH() {
        return CUBLAS_PEDANTIC_MATH;
    }

    private static final int CUBLAS_TF32_TENSOR_OP_MATH = (int)3L;

    /**
     * {@snippet lang=c :
     * enum <anonymous>.CUBLAS_TF32_TENSOR_OP_MATH = 3
     * }
     */
    public static int CUBLAS_TF32_TENSOR_OP_MATH() {
        return CUBLAS_TF32_TENSOR_OP_MATH;
    }

    private static final int CUBLAS_POINTER_MODE_HOST = (int)0L;

    /**
     * {@snippet lang=c :
     * enum <anonymous>.CUBLAS_POINTER_MODE_HOST = 0
     * }
     */
    public static int CUBLAS_POINTER_MODE_HOST() {
        return CUBLAS_POINTER_MODE_HOST;
    }

    private static final int CUBLAS_COMPUTE_32F = (int)68L;

    /**
     * {@snippet lang=c :
     * enum <anonymous>.CUBLAS_COMPUTE_32F = 68
     * }
     */
    public static int CUBLAS_COMPUTE_32F() {
        return CUBLAS_COMPUTE_32F;
    }

    private static final int CUBLAS_COMPUTE_32F_PEDANTIC = (int)69L;

    /**
     * {@snippet lang=c :
     * enum <anonymous>.CUBLAS_COMPUTE_32F_PEDANTIC = 69
     * }
     */
    public static int CUBLAS_COMPUTE_32F_PEDANTIC() {
        return CUBLAS_COMPUTE_32F_PEDANTIC;
    }

    private static final int CUBLAS_COMPUTE_32F_FAST_TF32 = (int)77L;

    /**
     * {@snippet lang=c :
     * enum <anonymous>.CUBLAS_COMPUTE_32F_FAST_TF32 = 77
     * }
     */
    public static int CUBLAS_COMPUTE_32F_FAST_TF32() {
        return CUBLAS_COMPUTE_32F_FAST_TF32;
    }

    private static final int CUBLAS_GEMM_DEFAULT = (int)-1L;

    /**
     * {@snippet lang=c :
     * enum <anonymous>.CUBLAS_GEMM_DEFAULT = -1
     * }
     */
    public static int CUBLAS_GEMM_DEFAULT() {
        return CUBLAS_GEMM_DEFAULT;
    }

    private static final int CUDA_R_32F = (int)0L;

    /**
     * {@snippet lang=c :
     * enum <anonymous>.CUDA_R_32F = 0
     * }
     */
    public static int CUDA_R_32F() {
        return CUDA_R_32F;
    }

    private static final int CUDA_R_64F = (int)1L;

    /**
     * {@snippet lang=c :
     * enum <anonymous>.CUDA_R_64F = 1
     * }
     */
    public static int CUDA_R_64F() {
        return CUDA_R_64F;
    }

    private static final int CUDA_R_16F = (int)2L;

    /**
     * {@snippet lang=c :
     * enum <anonymous>.CUDA_R_16F = 2
     * }
     */
    public static int CUDA_R_16F() {
        return CUDA_R_16F;
    }

    private static final int CUDA_R_16BF = (int)14L;

    /**
     * {@snippet lang=c :
     * enum <anonymous>.CUDA_R_16BF = 14
     * }
     */
    public static int CUDA_R_16BF() {
        return CUDA_R_16BF;
    }

    private static class cublasCreate_v2 {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cublas_api_h.C_INT,
            cublas_api_h.C_POINTER
        );

        public static final MemorySegment ADDR = cublas_api_h.findOrThrow("cublasCreate_v2");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cublasCreate_v2}. */
    public static FunctionDescriptor cublasCreate_v2$descriptor() {
        return cublasCreate_v2.DESC;
    }

    /** Downcall method handle for {@code cublasCreate_v2}. */
    public static MethodHandle cublasCreate_v2$handle() {
        return cublasCreate_v2.HANDLE;
    }

    /** Address of {@code cublasCreate_v2}. */
    public static MemorySegment cublasCreate_v2$address() {
        return cublasCreate_v2.ADDR;
    }

    /** {@code cublasCreate_v2}. */
    public static int cublasCreate_v2(MemorySegment handle) {
        var mh$ = cublasCreate_v2.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cublasCreate_v2", handle);
            }
            return (int)mh$.invokeExact(handle);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cublasDestroy_v2 {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cublas_api_h.C_INT,
            cublas_api_h.C_POINTER
        );

        public static final MemorySegment ADDR = cublas_api_h.findOrThrow("cublasDestroy_v2");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cublasDestroy_v2}. */
    public static FunctionDescriptor cublasDestroy_v2$descriptor() {
        return cublasDestroy_v2.DESC;
    }

    /** Downcall method handle for {@code cublasDestroy_v2}. */
    public static MethodHandle cublasDestroy_v2$handle() {
        return cublasDestroy_v2.HANDLE;
    }

    /** Address of {@code cublasDestroy_v2}. */
    public static MemorySegment cublasDestroy_v2$address() {
        return cublasDestroy_v2.ADDR;
    }

    /** {@code cublasDestroy_v2}. */
    public static int cublasDestroy_v2(MemorySegment handle) {
        var mh$ = cublasDestroy_v2.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cublasDestroy_v2", handle);
            }
            return (int)mh$.invokeExact(handle);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cublasGetVersion_v2 {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cublas_api_h.C_INT,
            cublas_api_h.C_POINTER,
            cublas_api_h.C_POINTER
        );

        public static final MemorySegment ADDR = cublas_api_h.findOrThrow("cublasGetVersion_v2");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cublasGetVersion_v2}. */
    public static FunctionDescriptor cublasGetVersion_v2$descriptor() {
        return cublasGetVersion_v2.DESC;
    }

    /** Downcall method handle for {@code cublasGetVersion_v2}. */
    public static MethodHandle cublasGetVersion_v2$handle() {
        return cublasGetVersion_v2.HANDLE;
    }

    /** Address of {@code cublasGetVersion_v2}. */
    public static MemorySegment cublasGetVersion_v2$address() {
        return cublasGetVersion_v2.ADDR;
    }

    /** {@code cublasGetVersion_v2}. */
    public static int cublasGetVersion_v2(MemorySegment handle, MemorySegment version) {
        var mh$ = cublasGetVersion_v2.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cublasGetVersion_v2", handle, version);
            }
            return (int)mh$.invokeExact(handle, version);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cublasSetStream_v2 {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cublas_api_h.C_INT,
            cublas_api_h.C_POINTER,
            cublas_api_h.C_POINTER
        );

        public static final MemorySegment ADDR = cublas_api_h.findOrThrow("cublasSetStream_v2");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cublasSetStream_v2}. */
    public static FunctionDescriptor cublasSetStream_v2$descriptor() {
        return cublasSetStream_v2.DESC;
    }

    /** Downcall method handle for {@code cublasSetStream_v2}. */
    public static MethodHandle cublasSetStream_v2$handle() {
        return cublasSetStream_v2.HANDLE;
    }

    /** Address of {@code cublasSetStream_v2}. */
    public static MemorySegment cublasSetStream_v2$address() {
        return cublasSetStream_v2.ADDR;
    }

    /** {@code cublasSetStream_v2}. */
    public static int cublasSetStream_v2(MemorySegment handle, MemorySegment streamId) {
        var mh$ = cublasSetStream_v2.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cublasSetStream_v2", handle, streamId);
            }
            return (int)mh$.invokeExact(handle, streamId);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cublasSetWorkspace_v2 {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cublas_api_h.C_INT,
            cublas_api_h.C_POINTER,
            cublas_api_h.C_POINTER,
            cublas_api_h.C_LONG
        );

        public static final MemorySegment ADDR = cublas_api_h.findOrThrow("cublasSetWorkspace_v2");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cublasSetWorkspace_v2}. */
    public static FunctionDescriptor cublasSetWorkspace_v2$descriptor() {
        return cublasSetWorkspace_v2.DESC;
    }

    /** Downcall method handle for {@code cublasSetWorkspace_v2}. */
    public static MethodHandle cublasSetWorkspace_v2$handle() {
        return cublasSetWorkspace_v2.HANDLE;
    }

    /** Address of {@code cublasSetWorkspace_v2}. */
    public static MemorySegment cublasSetWorkspace_v2$address() {
        return cublasSetWorkspace_v2.ADDR;
    }

    /** {@code cublasSetWorkspace_v2}. */
    public static int cublasSetWorkspace_v2(MemorySegment handle, MemorySegment workspace, long workspaceSizeInBytes) {
        var mh$ = cublasSetWorkspace_v2.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cublasSetWorkspace_v2", handle, workspace, workspaceSizeInBytes);
            }
            return (int)mh$.invokeExact(handle, workspace, workspaceSizeInBytes);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cublasSetMathMode {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cublas_api_h.C_INT,
            cublas_api_h.C_POINTER,
            cublas_api_h.C_INT
        );

        public static final MemorySegment ADDR = cublas_api_h.findOrThrow("cublasSetMathMode");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cublasSetMathMode}. */
    public static FunctionDescriptor cublasSetMathMode$descriptor() {
        return cublasSetMathMode.DESC;
    }

    /** Downcall method handle for {@code cublasSetMathMode}. */
    public static MethodHandle cublasSetMathMode$handle() {
        return cublasSetMathMode.HANDLE;
    }

    /** Address of {@code cublasSetMathMode}. */
    public static MemorySegment cublasSetMathMode$address() {
        return cublasSetMathMode.ADDR;
    }

    /** {@code cublasSetMathMode}. */
    public static int cublasSetMathMode(MemorySegment handle, int mode) {
        var mh$ = cublasSetMathMode.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cublasSetMathMode", handle, mode);
            }
            return (int)mh$.invokeExact(handle, mode);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cublasSetPointerMode_v2 {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cublas_api_h.C_INT,
            cublas_api_h.C_POINTER,
            cublas_api_h.C_INT
        );

        public static final MemorySegment ADDR = cublas_api_h.findOrThrow("cublasSetPointerMode_v2");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cublasSetPointerMode_v2}. */
    public static FunctionDescriptor cublasSetPointerMode_v2$descriptor() {
        return cublasSetPointerMode_v2.DESC;
    }

    /** Downcall method handle for {@code cublasSetPointerMode_v2}. */
    public static MethodHandle cublasSetPointerMode_v2$handle() {
        return cublasSetPointerMode_v2.HANDLE;
    }

    /** Address of {@code cublasSetPointerMode_v2}. */
    public static MemorySegment cublasSetPointerMode_v2$address() {
        return cublasSetPointerMode_v2.ADDR;
    }

    /** {@code cublasSetPointerMode_v2}. */
    public static int cublasSetPointerMode_v2(MemorySegment handle, int mode) {
        var mh$ = cublasSetPointerMode_v2.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cublasSetPointerMode_v2", handle, mode);
            }
            return (int)mh$.invokeExact(handle, mode);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cublasGetStatusName {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cublas_api_h.C_POINTER,
            cublas_api_h.C_INT
        );

        public static final MemorySegment ADDR = cublas_api_h.findOrThrow("cublasGetStatusName");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cublasGetStatusName}. */
    public static FunctionDescriptor cublasGetStatusName$descriptor() {
        return cublasGetStatusName.DESC;
    }

    /** Downcall method handle for {@code cublasGetStatusName}. */
    public static MethodHandle cublasGetStatusName$handle() {
        return cublasGetStatusName.HANDLE;
    }

    /** Address of {@code cublasGetStatusName}. */
    public static MemorySegment cublasGetStatusName$address() {
        return cublasGetStatusName.ADDR;
    }

    /** {@code cublasGetStatusName}. */
    public static MemorySegment cublasGetStatusName(int status) {
        var mh$ = cublasGetStatusName.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cublasGetStatusName", status);
            }
            return (MemorySegment)mh$.invokeExact(status);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cublasGetStatusString {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cublas_api_h.C_POINTER,
            cublas_api_h.C_INT
        );

        public static final MemorySegment ADDR = cublas_api_h.findOrThrow("cublasGetStatusString");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cublasGetStatusString}. */
    public static FunctionDescriptor cublasGetStatusString$descriptor() {
        return cublasGetStatusString.DESC;
    }

    /** Downcall method handle for {@code cublasGetStatusString}. */
    public static MethodHandle cublasGetStatusString$handle() {
        return cublasGetStatusString.HANDLE;
    }

    /** Address of {@code cublasGetStatusString}. */
    public static MemorySegment cublasGetStatusString$address() {
        return cublasGetStatusString.ADDR;
    }

    /** {@code cublasGetStatusString}. */
    public static MemorySegment cublasGetStatusString(int status) {
        var mh$ = cublasGetStatusString.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cublasGetStatusString", status);
            }
            return (MemorySegment)mh$.invokeExact(status);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cublasSgemm_v2 {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cublas_api_h.C_INT,
            cublas_api_h.C_POINTER,
            cublas_api_h.C_INT,
            cublas_api_h.C_INT,
            cublas_api_h.C_INT,
            cublas_api_h.C_INT,
            cublas_api_h.C_INT,
            cublas_api_h.C_POINTER,
            cublas_api_h.C_POINTER,
            cublas_api_h.C_INT,
            cublas_api_h.C_POINTER,
            cublas_api_h.C_INT,
            cublas_api_h.C_POINTER,
            cublas_api_h.C_POINTER,
            cublas_api_h.C_INT
        );

        public static final MemorySegment ADDR = cublas_api_h.findOrThrow("cublasSgemm_v2");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cublasSgemm_v2}. */
    public static FunctionDescriptor cublasSgemm_v2$descriptor() {
        return cublasSgemm_v2.DESC;
    }

    /** Downcall method handle for {@code cublasSgemm_v2}. */
    public static MethodHandle cublasSgemm_v2$handle() {
        return cublasSgemm_v2.HANDLE;
    }

    /** Address of {@code cublasSgemm_v2}. */
    public static MemorySegment cublasSgemm_v2$address() {
        return cublasSgemm_v2.ADDR;
    }

    /** {@code cublasSgemm_v2}. */
    public static int cublasSgemm_v2(MemorySegment handle, int transa, int transb, int m, int n, int k, MemorySegment alpha, MemorySegment A, int lda, MemorySegment B, int ldb, MemorySegment beta, MemorySegment C, int ldc) {
        var mh$ = cublasSgemm_v2.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cublasSgemm_v2", handle, transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
            }
            return (int)mh$.invokeExact(handle, transa, transb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cublasGemmEx {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cublas_api_h.C_INT,
            cublas_api_h.C_POINTER,
            cublas_api_h.C_INT,
            cublas_api_h.C_INT,
            cublas_api_h.C_INT,
            cublas_api_h.C_INT,
            cublas_api_h.C_INT,
            cublas_api_h.C_POINTER,
            cublas_api_h.C_POINTER,
            cublas_api_h.C_INT,
            cublas_api_h.C_INT,
            cublas_api_h.C_POINTER,
            cublas_api_h.C_INT,
            cublas_api_h.C_INT,
            cublas_api_h.C_POINTER,
            cublas_api_h.C_POINTER,
            cublas_api_h.C_INT,
            cublas_api_h.C_INT,
            cublas_api_h.C_INT,
            cublas_api_h.C_INT
        );

        public static final MemorySegment ADDR = cublas_api_h.findOrThrow("cublasGemmEx");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cublasGemmEx}. */
    public static FunctionDescriptor cublasGemmEx$descriptor() {
        return cublasGemmEx.DESC;
    }

    /** Downcall method handle for {@code cublasGemmEx}. */
    public static MethodHandle cublasGemmEx$handle() {
        return cublasGemmEx.HANDLE;
    }

    /** Address of {@code cublasGemmEx}. */
    public static MemorySegment cublasGemmEx$address() {
        return cublasGemmEx.ADDR;
    }

    /** {@code cublasGemmEx}. */
    public static int cublasGemmEx(MemorySegment handle, int transa, int transb, int m, int n, int k, MemorySegment alpha, MemorySegment A, int Atype, int lda, MemorySegment B, int Btype, int ldb, MemorySegment beta, MemorySegment C, int Ctype, int ldc, int computeType, int algo) {
        var mh$ = cublasGemmEx.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cublasGemmEx", handle, transa, transb, m, n, k, alpha, A, Atype, lda, B, Btype, ldb, beta, C, Ctype, ldc, computeType, algo);
            }
            return (int)mh$.invokeExact(handle, transa, transb, m, n, k, alpha, A, Atype, lda, B, Btype, ldb, beta, C, Ctype, ldc, computeType, algo);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cublasGemmStridedBatchedEx {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cublas_api_h.C_INT,
            cublas_api_h.C_POINTER,
            cublas_api_h.C_INT,
            cublas_api_h.C_INT,
            cublas_api_h.C_INT,
            cublas_api_h.C_INT,
            cublas_api_h.C_INT,
            cublas_api_h.C_POINTER,
            cublas_api_h.C_POINTER,
            cublas_api_h.C_INT,
            cublas_api_h.C_INT,
            cublas_api_h.C_LONG_LONG,
            cublas_api_h.C_POINTER,
            cublas_api_h.C_INT,
            cublas_api_h.C_INT,
            cublas_api_h.C_LONG_LONG,
            cublas_api_h.C_POINTER,
            cublas_api_h.C_POINTER,
            cublas_api_h.C_INT,
            cublas_api_h.C_INT,
            cublas_api_h.C_LONG_LONG,
            cublas_api_h.C_INT,
            cublas_api_h.C_INT,
            cublas_api_h.C_INT
        );

        public static final MemorySegment ADDR = cublas_api_h.findOrThrow("cublasGemmStridedBatchedEx");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cublasGemmStridedBatchedEx}. */
    public static FunctionDescriptor cublasGemmStridedBatchedEx$descriptor() {
        return cublasGemmStridedBatchedEx.DESC;
    }

    /** Downcall method handle for {@code cublasGemmStridedBatchedEx}. */
    public static MethodHandle cublasGemmStridedBatchedEx$handle() {
        return cublasGemmStridedBatchedEx.HANDLE;
    }

    /** Address of {@code cublasGemmStridedBatchedEx}. */
    public static MemorySegment cublasGemmStridedBatchedEx$address() {
        return cublasGemmStridedBatchedEx.ADDR;
    }

    /** {@code cublasGemmStridedBatchedEx}. */
    public static int cublasGemmStridedBatchedEx(MemorySegment handle, int transa, int transb, int m, int n, int k, MemorySegment alpha, MemorySegment A, int Atype, int lda, long strideA, MemorySegment B, int Btype, int ldb, long strideB, MemorySegment beta, MemorySegment C, int Ctype, int ldc, long strideC, int batchCount, int computeType, int algo) {
        var mh$ = cublasGemmStridedBatchedEx.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cublasGemmStridedBatchedEx", handle, transa, transb, m, n, k, alpha, A, Atype, lda, strideA, B, Btype, ldb, strideB, beta, C, Ctype, ldc, strideC, batchCount, computeType, algo);
            }
            return (int)mh$.invokeExact(handle, transa, transb, m, n, k, alpha, A, Atype, lda, strideA, B, Btype, ldb, strideB, beta, C, Ctype, ldc, strideC, batchCount, computeType, algo);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }

    private static class cublasGemmGroupedBatchedEx {
        public static final FunctionDescriptor DESC = FunctionDescriptor.of(
            cublas_api_h.C_INT,
            cublas_api_h.C_POINTER,
            cublas_api_h.C_POINTER,
            cublas_api_h.C_POINTER,
            cublas_api_h.C_POINTER,
            cublas_api_h.C_POINTER,
            cublas_api_h.C_POINTER,
            cublas_api_h.C_POINTER,
            cublas_api_h.C_POINTER,
            cublas_api_h.C_INT,
            cublas_api_h.C_POINTER,
            cublas_api_h.C_POINTER,
            cublas_api_h.C_INT,
            cublas_api_h.C_POINTER,
            cublas_api_h.C_POINTER,
            cublas_api_h.C_POINTER,
            cublas_api_h.C_INT,
            cublas_api_h.C_POINTER,
            cublas_api_h.C_INT,
            cublas_api_h.C_POINTER,
            cublas_api_h.C_INT
        );

        public static final MemorySegment ADDR = cublas_api_h.findOrThrow("cublasGemmGroupedBatchedEx");

        public static final MethodHandle HANDLE = Linker.nativeLinker().downcallHandle(ADDR, DESC);
    }

    /** Function descriptor for {@code cublasGemmGroupedBatchedEx}. */
    public static FunctionDescriptor cublasGemmGroupedBatchedEx$descriptor() {
        return cublasGemmGroupedBatchedEx.DESC;
    }

    /** Downcall method handle for {@code cublasGemmGroupedBatchedEx}. */
    public static MethodHandle cublasGemmGroupedBatchedEx$handle() {
        return cublasGemmGroupedBatchedEx.HANDLE;
    }

    /** Address of {@code cublasGemmGroupedBatchedEx}. */
    public static MemorySegment cublasGemmGroupedBatchedEx$address() {
        return cublasGemmGroupedBatchedEx.ADDR;
    }

    /** {@code cublasGemmGroupedBatchedEx}. */
    public static int cublasGemmGroupedBatchedEx(MemorySegment handle, MemorySegment transa_array, MemorySegment transb_array, MemorySegment m_array, MemorySegment n_array, MemorySegment k_array, MemorySegment alpha_array, MemorySegment Aarray, int Atype, MemorySegment lda_array, MemorySegment Barray, int Btype, MemorySegment ldb_array, MemorySegment beta_array, MemorySegment Carray, int Ctype, MemorySegment ldc_array, int group_count, MemorySegment group_size, int computeType) {
        var mh$ = cublasGemmGroupedBatchedEx.HANDLE;
        try {
            if (TRACE_DOWNCALLS) {
                traceDowncall("cublasGemmGroupedBatchedEx", handle, transa_array, transb_array, m_array, n_array, k_array, alpha_array, Aarray, Atype, lda_array, Barray, Btype, ldb_array, beta_array, Carray, Ctype, ldc_array, group_count, group_size, computeType);
            }
            return (int)mh$.invokeExact(handle, transa_array, transb_array, m_array, n_array, k_array, alpha_array, Aarray, Atype, lda_array, Barray, Btype, ldb_array, beta_array, Carray, Ctype, ldc_array, group_count, group_size, computeType);
        } catch (Error | RuntimeException ex) {
           throw ex;
        } catch (Throwable ex$) {
           throw new AssertionError("should not reach here", ex$);
        }
    }
}
