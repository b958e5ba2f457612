package dev.panamax.cuda;

import dev.panamax.cuda.gen.CUlaunchAttribute_st;
import dev.panamax.cuda.gen.CUlaunchConfig_st;
import dev.panamax.cuda.gen.cuda_h;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;

/**
 * Facade over the CUDA driver API ({@link cuda_h}). Every call checks its {@code CUresult} and
 * throws {@link CudaException} carrying the driver's own error name and text.
 * {@link #available()} never throws: it is false, with a reason from {@link #unavailableReason()},
 * when no driver library, no device or no permission to call native code is present.
 *
 * <p>Device memory is addressed by {@code long} device pointers ({@code CUdeviceptr}). The driver's
 * current context is per thread: {@link Context#makeCurrent()} binds a device's primary context
 * to the calling thread.
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

    /** Throws a {@link CudaException} with an explanation unless CUDA is available. */
    public static void require() {
        if (!STATUS.ok) throw new CudaException("CUDA is not available: " + STATUS.reason);
    }

    private static Status probe() {
        try {
            LibraryRef lib = LibraryRef.find("libcuda.so", "1");
            if (lib.path().isEmpty()) return new Status(false, "no CUDA driver library: " + lib.describe(), 0);
            int rc = cuda_h.cuInit(0);
            if (rc != 0) return new Status(false, "cuInit failed: " + describe(rc) + " (" + lib.describe() + ")", 0);
            try (Arena a = Arena.ofConfined()) {
                MemorySegment n = a.allocate(ValueLayout.JAVA_INT);
                rc = cuda_h.cuDeviceGetCount(n);
                if (rc != 0) return new Status(false, "cuDeviceGetCount failed: " + describe(rc), 0);
                int devices = n.get(ValueLayout.JAVA_INT, 0);
                if (devices == 0) return new Status(false, "the CUDA driver reports no devices", 0);
                return new Status(true, "available", devices);
            }
        } catch (Throwable t) {
            return new Status(false, "CUDA could not be loaded: " + t, 0);
        }
    }

    /** {@code NAME: text} for a {@code CUresult}, from the driver; the number when the driver cannot say. */
    public static String describe(int result) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ValueLayout.ADDRESS);
            String name = cuda_h.cuGetErrorName(result, p) == 0 ? cString(p) : "CUresult " + result;
            String text = cuda_h.cuGetErrorString(result, p) == 0 ? cString(p) : "unknown error";
            return name + ": " + text;
        } catch (Throwable t) {
            return "CUresult " + result;
        }
    }

    private static String cString(MemorySegment pointerToString) {
        MemorySegment s = pointerToString.get(ValueLayout.ADDRESS, 0);
        return s.equals(MemorySegment.NULL) ? "" : s.reinterpret(4096).getString(0, StandardCharsets.UTF_8);
    }

    /** Throws {@link CudaException} naming {@code call} unless {@code result} is {@code CUDA_SUCCESS}. */
    public static void check(int result, String call) {
        if (result != 0) throw new CudaException(call + " failed: " + describe(result), result);
    }

    /** A driver call that writes its result through an out-pointer. */
    @FunctionalInterface
    private interface OutCall {
        int call(MemorySegment out);
    }

    /** Runs {@code c} with an out-parameter of {@code layout}, checks it, and returns the out-parameter. */
    private static MemorySegment out(Arena a, java.lang.foreign.MemoryLayout layout, String name, OutCall c) {
        MemorySegment o = a.allocate(layout);
        check(c.call(o), name);
        return o;
    }

    private static int outInt(String name, OutCall c) {
        try (Arena a = Arena.ofConfined()) {
            return out(a, ValueLayout.JAVA_INT, name, c).get(ValueLayout.JAVA_INT, 0);
        }
    }

    private static long outLong(String name, OutCall c) {
        try (Arena a = Arena.ofConfined()) {
            return out(a, ValueLayout.JAVA_LONG, name, c).get(ValueLayout.JAVA_LONG, 0);
        }
    }

    private static MemorySegment outPointer(String name, OutCall c) {
        try (Arena a = Arena.ofConfined()) {
            return out(a, ValueLayout.ADDRESS, name, c).get(ValueLayout.ADDRESS, 0);
        }
    }

    /** The driver's version, e.g. 13000 for CUDA 13.0. */
    public static int driverVersion() {
        require();
        return outInt("cuDriverGetVersion", cuda_h::cuDriverGetVersion);
    }

    /** Device {@code ordinal} (0-based). */
    public static Device device(int ordinal) {
        require();
        if (ordinal < 0 || ordinal >= STATUS.devices) {
            throw new CudaException("no CUDA device " + ordinal + " (" + STATUS.devices + " present)");
        }
        return new Device(outInt("cuDeviceGet", d -> cuda_h.cuDeviceGet(d, ordinal)), ordinal);
    }

    /** A CUDA device ({@code CUdevice}). */
    public record Device(int handle, int ordinal) {
        /** The device's name, e.g. "NVIDIA H100 80GB HBM3". */
        public String name() {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment s = a.allocate(256);
                check(cuda_h.cuDeviceGetName(s, 256, handle), "cuDeviceGetName");
                return s.getString(0, StandardCharsets.UTF_8);
            }
        }

        /** A {@code CU_DEVICE_ATTRIBUTE_*} value. */
        public int attribute(int attribute) {
            return outInt("cuDeviceGetAttribute(" + attribute + ")", v -> cuda_h.cuDeviceGetAttribute(v, attribute, handle));
        }

        /** Compute capability as major * 10 + minor (90 for an H100). */
        public int computeCapability() {
            return attribute(cuda_h.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR()) * 10
                    + attribute(cuda_h.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR());
        }

        /** Number of streaming multiprocessors. */
        public int multiprocessors() {
            return attribute(cuda_h.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT());
        }

        /** Total device memory in bytes. */
        public long totalMemory() {
            return outLong("cuDeviceTotalMem", v -> cuda_h.cuDeviceTotalMem_v2(v, handle));
        }

        /** Retains this device's primary context (released by {@link Context#close()}). */
        public Context retainPrimaryContext() {
            return new Context(this, outPointer("cuDevicePrimaryCtxRetain", p -> cuda_h.cuDevicePrimaryCtxRetain(p, handle)));
        }
    }

    /** A retained primary context. Closing it releases the retain. */
    public static final class Context implements AutoCloseable {
        private final Device device;
        private final MemorySegment handle;
        private boolean closed;

        private Context(Device device, MemorySegment handle) {
            this.device = device;
            this.handle = handle;
        }

        /** The device this context belongs to. */
        public Device device() {
            return device;
        }

        /** Makes this context current on the calling thread. */
        public void makeCurrent() {
            check(cuda_h.cuCtxSetCurrent(handle), "cuCtxSetCurrent");
        }

        /** Waits for all work in this context (which must be current). */
        public void synchronize() {
            check(cuda_h.cuCtxSynchronize(), "cuCtxSynchronize");
        }

        @Override
        public synchronized void close() {
            if (closed) return;
            closed = true;
            check(cuda_h.cuDevicePrimaryCtxRelease_v2(device.handle), "cuDevicePrimaryCtxRelease");
        }
    }

    // ---- memory (the calling thread must have a current context) ------------------------------

    /** Allocates {@code bytes} of device memory; returns the device pointer. */
    public static long malloc(long bytes) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ValueLayout.JAVA_LONG);
            int rc = cuda_h.cuMemAlloc_v2(p, bytes);
            if (rc != 0) throw new CudaException("cuMemAlloc of " + bytes + " bytes failed: " + describe(rc), rc);
            return p.get(ValueLayout.JAVA_LONG, 0);
        }
    }

    /** Frees device memory from {@link #malloc}. */
    public static void free(long devicePointer) {
        check(cuda_h.cuMemFree_v2(devicePointer), "cuMemFree");
    }

    /**
     * Allocates {@code bytes} of page-locked host memory ({@code cuMemAllocHost}), from which copies
     * to the device are truly asynchronous; free it with {@link #freeHost}.
     */
    public static MemorySegment hostAlloc(long bytes) {
        MemorySegment p = outPointer("cuMemAllocHost", out -> cuda_h.cuMemAllocHost_v2(out, bytes));
        return p.reinterpret(bytes);
    }

    /** Frees page-locked host memory from {@link #hostAlloc}. */
    public static void freeHost(MemorySegment pinned) {
        check(cuda_h.cuMemFreeHost(pinned), "cuMemFreeHost");
    }

    /** {@code {free, total}} device memory in bytes. */
    public static long[] memoryInfo() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment f = a.allocate(ValueLayout.JAVA_LONG), t = a.allocate(ValueLayout.JAVA_LONG);
            check(cuda_h.cuMemGetInfo_v2(f, t), "cuMemGetInfo");
            return new long[]{f.get(ValueLayout.JAVA_LONG, 0), t.get(ValueLayout.JAVA_LONG, 0)};
        }
    }

    /** Sets {@code bytes} bytes at {@code dst} to {@code value}, in stream order. */
    public static void memset(long dst, byte value, long bytes, Stream stream) {
        check(cuda_h.cuMemsetD8Async(dst, value, bytes, Stream.handle(stream)), "cuMemsetD8Async");
    }

    /** Copies host memory to the device; synchronous when {@code stream} is null. */
    public static void copyToDevice(long dst, MemorySegment src, long bytes, Stream stream) {
        if (src.byteSize() < bytes) throw new IllegalArgumentException("host segment of " + src.byteSize() + " bytes is smaller than the " + bytes + " to copy");
        if (stream == null) check(cuda_h.cuMemcpyHtoD_v2(dst, src, bytes), "cuMemcpyHtoD");
        else check(cuda_h.cuMemcpyHtoDAsync_v2(dst, src, bytes, stream.handle), "cuMemcpyHtoDAsync");
    }

    /** Copies device memory to the host; synchronous when {@code stream} is null. */
    public static void copyToHost(MemorySegment dst, long src, long bytes, Stream stream) {
        if (dst.byteSize() < bytes) throw new IllegalArgumentException("host segment of " + dst.byteSize() + " bytes is smaller than the " + bytes + " to copy");
        if (stream == null) check(cuda_h.cuMemcpyDtoH_v2(dst, src, bytes), "cuMemcpyDtoH");
        else check(cuda_h.cuMemcpyDtoHAsync_v2(dst, src, bytes, stream.handle), "cuMemcpyDtoHAsync");
    }

    /** Copies device memory to device memory, in stream order (the default stream when null). */
    public static void copyOnDevice(long dst, long src, long bytes, Stream stream) {
        check(cuda_h.cuMemcpyDtoDAsync_v2(dst, src, bytes, Stream.handle(stream)), "cuMemcpyDtoDAsync");
    }

    /** A CUDA stream. */
    public static final class Stream implements AutoCloseable {
        private final MemorySegment handle;
        private boolean closed;

        private Stream(MemorySegment handle) {
            this.handle = handle;
        }

        /** Creates a stream that does not synchronise with the default stream. */
        public static Stream create() {
            return new Stream(outPointer("cuStreamCreate", p -> cuda_h.cuStreamCreate(p, cuda_h.CU_STREAM_NON_BLOCKING())));
        }

        static MemorySegment handle(Stream s) {
            return s == null ? MemorySegment.NULL : s.handle;
        }

        /** The raw {@code CUstream}. */
        public MemorySegment handle() {
            return handle;
        }

        /** Waits until all work queued on this stream is done. */
        public void synchronize() {
            check(cuda_h.cuStreamSynchronize(handle), "cuStreamSynchronize");
        }

        /**
         * Starts recording this stream's work into a graph instead of running it
         * ({@code cuStreamBeginCapture}, relaxed mode: the calling thread may still allocate
         * device memory). Every call until {@link #endCapture} that queues work here is recorded;
         * one that cannot be (a synchronisation, a copy with pageable host memory) fails and
         * invalidates the capture.
         */
        public void beginCapture() {
            check(cuda_h.cuStreamBeginCapture_v2(handle, cuda_h.CU_STREAM_CAPTURE_MODE_RELAXED()), "cuStreamBeginCapture");
        }

        /**
         * Ends the capture that {@link #beginCapture} started and returns what it recorded; the
         * stream runs its work again either way.
         *
         * @throws CudaException when the capture was invalidated (the driver's message says by what kind of call)
         */
        public Graph endCapture() {
            return new Graph(outPointer("cuStreamEndCapture", p -> cuda_h.cuStreamEndCapture(handle, p)));
        }

        /** Whether this stream is capturing (a capture that has been invalidated still counts until it ends). */
        public boolean isCapturing() {
            return outInt("cuStreamIsCapturing", p -> cuda_h.cuStreamIsCapturing(handle, p)) != cuda_h.CU_STREAM_CAPTURE_STATUS_NONE();
        }

        @Override
        public synchronized void close() {
            if (closed) return;
            closed = true;
            check(cuda_h.cuStreamDestroy_v2(handle), "cuStreamDestroy");
        }
    }

    /** A graph of work recorded by {@link Stream#endCapture}: instantiate it to run it. Closing it destroys it. */
    public static final class Graph implements AutoCloseable {
        private final MemorySegment handle;
        private boolean closed;

        private Graph(MemorySegment handle) {
            this.handle = handle;
        }

        /** Its nodes (kernel launches, copies, memsets). */
        public long nodeCount() {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment n = a.allocate(ValueLayout.JAVA_LONG);
                check(cuda_h.cuGraphGetNodes(handle, MemorySegment.NULL, n), "cuGraphGetNodes");
                return n.get(ValueLayout.JAVA_LONG, 0);
            }
        }

        /** An executable copy of the graph ({@code cuGraphInstantiateWithFlags}); this graph may be closed afterwards. */
        public GraphExec instantiate() {
            return new GraphExec(outPointer("cuGraphInstantiateWithFlags", p -> cuda_h.cuGraphInstantiateWithFlags(p, handle, 0L)));
        }

        @Override
        public synchronized void close() {
            if (closed) return;
            closed = true;
            check(cuda_h.cuGraphDestroy(handle), "cuGraphDestroy");
        }
    }

    /** An instantiated graph: {@link #launch} queues all its work on a stream in one call. Closing it destroys it. */
    public static final class GraphExec implements AutoCloseable {
        private final MemorySegment handle;
        private boolean closed;

        private GraphExec(MemorySegment handle) {
            this.handle = handle;
        }

        /** Queues the graph's work on {@code stream}, in stream order ({@code cuGraphLaunch}). */
        public void launch(Stream stream) {
            if (closed) throw new IllegalStateException("the graph has been destroyed");
            check(cuda_h.cuGraphLaunch(handle, Stream.handle(stream)), "cuGraphLaunch");
        }

        @Override
        public synchronized void close() {
            if (closed) return;
            closed = true;
            check(cuda_h.cuGraphExecDestroy(handle), "cuGraphExecDestroy");
        }
    }

    /** A CUDA event, for timing work on a stream. */
    public static final class Event implements AutoCloseable {
        private final MemorySegment handle;
        private boolean closed;

        private Event(MemorySegment handle) {
            this.handle = handle;
        }

        /** Creates a timing event. */
        public static Event create() {
            return new Event(outPointer("cuEventCreate", p -> cuda_h.cuEventCreate(p, cuda_h.CU_EVENT_DEFAULT())));
        }

        /** Records this event on {@code stream} (the default stream when null). */
        public void record(Stream stream) {
            check(cuda_h.cuEventRecord(handle, Stream.handle(stream)), "cuEventRecord");
        }

        /** Waits for the event. */
        public void synchronize() {
            check(cuda_h.cuEventSynchronize(handle), "cuEventSynchronize");
        }

        /** Milliseconds between {@code start} and this event (both recorded and completed). */
        public float millisSince(Event start) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment ms = a.allocate(ValueLayout.JAVA_FLOAT);
                check(cuda_h.cuEventElapsedTime_v2(ms, start.handle, handle), "cuEventElapsedTime");
                return ms.get(ValueLayout.JAVA_FLOAT, 0);
            }
        }

        @Override
        public synchronized void close() {
            if (closed) return;
            closed = true;
            check(cuda_h.cuEventDestroy_v2(handle), "cuEventDestroy");
        }
    }

    /** A loaded module (PTX or cubin) and the kernels in it. */
    public static final class Module implements AutoCloseable {
        private final MemorySegment handle;
        private final String name;
        private final java.util.concurrent.ConcurrentHashMap<String, Function> functions = new java.util.concurrent.ConcurrentHashMap<>();
        private volatile boolean closed;

        private Module(MemorySegment handle, String name) {
            this.handle = handle;
            this.name = name;
        }

        /**
         * Loads a module image: PTX text (NUL-terminated here), a cubin or a fatbin. {@code name}
         * is used in error messages.
         *
         * @throws IllegalArgumentException if the image is a cubin (ELF) or fatbin cut short, or
         *         one whose headers point past its end: the driver, which is given no length,
         *         would read past it
         * @throws CudaException if the driver refuses the image
         */
        public static Module load(byte[] image, String name) {
            String problem = ModuleImage.problem(image);
            if (problem != null) throw new IllegalArgumentException("module image " + name + ": " + problem);
            try (Arena a = Arena.ofConfined()) {
                MemorySegment img = a.allocate(image.length + 1L);
                MemorySegment.copy(image, 0, img, ValueLayout.JAVA_BYTE, 0, image.length);
                MemorySegment p = a.allocate(ValueLayout.ADDRESS);
                check(cuda_h.cuModuleLoadData(p, img), "cuModuleLoadData(" + name + ")");
                return new Module(p.get(ValueLayout.ADDRESS, 0), name);
            }
        }

        /**
         * The kernel called {@code kernel} (an {@code extern "C"} name), looked up once per module:
         * launches on the hot path reuse the handle.
         */
        public Function function(String kernel) {
            if (closed) throw new IllegalStateException("module " + name + " is unloaded");
            Function f = functions.get(kernel);
            return f != null ? f : functions.computeIfAbsent(kernel, this::lookup);
        }

        private Function lookup(String kernel) {
            try (Arena a = Arena.ofConfined()) {
                MemorySegment p = a.allocate(ValueLayout.ADDRESS);
                check(cuda_h.cuModuleGetFunction(p, handle, a.allocateFrom(kernel)), "cuModuleGetFunction(" + name + ", " + kernel + ")");
                return new Function(p.get(ValueLayout.ADDRESS, 0), name + "." + kernel);
            }
        }

        @Override
        public synchronized void close() {
            if (closed) return;
            closed = true;
            check(cuda_h.cuModuleUnload(handle), "cuModuleUnload(" + name + ")");
        }
    }

    /** A kernel in a loaded module. */
    public static final class Function {
        private final MemorySegment handle;
        private final String name;

        private volatile int maxDynamicShared = -1;

        /** Arguments of a launch that fit each thread's reusable block; more take a block of their own. */
        private static final int INLINE_ARGS = 32;
        /**
         * Per thread, the argument pointers and 8-byte value slots of one launch: {@code 16 *
         * INLINE_ARGS} bytes allocated once per launching thread (freed when the thread is gone),
         * instead of an arena and an allocation per argument on every launch.
         */
        private static final ThreadLocal<MemorySegment> LAUNCH_BLOCK = ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(16L * INLINE_ARGS, 8));
        /** Bytes of a {@code CUlaunchConfig}, which the per-thread configuration block holds first. */
        private static final long CONFIG_BYTES = CUlaunchConfig_st.sizeof();
        /**
         * Per thread, a {@code CUlaunchConfig} and the one {@code CUlaunchAttribute} of a
         * programmatic launch, allocated once per launching thread (zeroed, so the attribute's
         * padding and the rest of its value stay zero).
         */
        private static final ThreadLocal<MemorySegment> LAUNCH_CONFIG =
                ThreadLocal.withInitial(() -> Arena.ofAuto().allocate(CONFIG_BYTES + CUlaunchAttribute_st.sizeof(), 8));

        private Function(MemorySegment handle, String name) {
            this.handle = handle;
            this.name = name;
        }

        /** The module and kernel name. */
        public String name() {
            return name;
        }

        /**
         * Allows this kernel up to {@code bytes} of dynamic shared memory (above the default 48 KiB).
         * Repeating a limit already set makes no driver call, so launches on the hot path may call this each time.
         */
        public void setMaxDynamicSharedMemory(int bytes) {
            if (bytes == maxDynamicShared) return;
            check(cuda_h.cuFuncSetAttribute(handle, cuda_h.CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES(), bytes),
                    "cuFuncSetAttribute(" + name + ")");
            maxDynamicShared = bytes;
        }

        /**
         * Launches the kernel on a {@code grid} of {@code block}s (x, y, z each) with
         * {@code sharedBytes} of dynamic shared memory on {@code stream} (default stream when null).
         * Arguments are passed by value: {@link Integer} as {@code int}, {@link Long} as
         * {@code long} or a device pointer, {@link Float} as {@code float}, {@link Double} as
         * {@code double}, and a {@link MemorySegment} (host memory) as the struct whose bytes it holds.
         */
        public void launch(int[] grid, int[] block, int sharedBytes, Stream stream, Object... args) {
            launch(grid, block, sharedBytes, stream, false, args);
        }

        /**
         * Launches the kernel as {@link #launch} does, with programmatic stream serialization
         * ({@code CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION}, compute capability 9.0
         * and later): the kernel may start before the kernel queued before it on {@code stream}
         * has finished, as soon as every block of that one has executed
         * {@code griddepcontrol.launch_dependents} or ended. Every thread of this kernel must
         * therefore execute {@code griddepcontrol.wait}, which waits for that kernel to finish and
         * its writes to be visible, before it reads what that kernel writes or writes what it
         * reads. A kernel with no such wait races with its predecessor.
         *
         * @throws CudaException if the driver refuses the launch
         */
        public void launchProgrammatic(int[] grid, int[] block, int sharedBytes, Stream stream, Object... args) {
            launch(grid, block, sharedBytes, stream, true, args);
        }

        private void launch(int[] grid, int[] block, int sharedBytes, Stream stream, boolean programmatic, Object[] args) {
            if (grid.length != 3 || block.length != 3) throw new IllegalArgumentException("grid and block need 3 dimensions each");
            if (args.length > INLINE_ARGS) {
                try (Arena a = Arena.ofConfined()) {
                    launch(grid, block, sharedBytes, stream, programmatic, a.allocate(ValueLayout.ADDRESS, args.length), a.allocate(8L * args.length, 8), args);
                }
                return;
            }
            // cuLaunchKernel(Ex) has copied the arguments when it returns, so each thread reuses one block
            MemorySegment block1 = LAUNCH_BLOCK.get();
            launch(grid, block, sharedBytes, stream, programmatic, block1.asSlice(0, 8L * INLINE_ARGS), block1.asSlice(8L * INLINE_ARGS), args);
        }

        private void launch(int[] grid, int[] block, int sharedBytes, Stream stream, boolean programmatic, MemorySegment params, MemorySegment values, Object[] args) {
            for (int i = 0; i < args.length; i++) {
                long at = 8L * i;
                switch (args[i]) {
                    case Integer x -> values.set(ValueLayout.JAVA_INT, at, x);
                    case Long x -> values.set(ValueLayout.JAVA_LONG, at, x);
                    case Float x -> values.set(ValueLayout.JAVA_FLOAT, at, x);
                    case Double x -> values.set(ValueLayout.JAVA_DOUBLE, at, x);
                    case MemorySegment x -> {
                        params.setAtIndex(ValueLayout.ADDRESS, i, x);   // a struct: its own bytes
                        continue;
                    }
                    case null -> throw new IllegalArgumentException(name + ": argument " + i + " is null");
                    default -> throw new IllegalArgumentException(name + ": argument " + i + " has unsupported type " + args[i].getClass().getName());
                }
                params.setAtIndex(ValueLayout.ADDRESS, i, values.asSlice(at, 8));
            }
            if (!programmatic) {
                int rc = cuda_h.cuLaunchKernel(handle, grid[0], grid[1], grid[2], block[0], block[1], block[2], sharedBytes,
                        Stream.handle(stream), params, MemorySegment.NULL);
                if (rc != 0) check(rc, "cuLaunchKernel(" + name + ")");   // the message only when it failed
                return;
            }
            // the driver reads the configuration and its attribute during the call, so each thread reuses one
            MemorySegment config = LAUNCH_CONFIG.get(), attribute = config.asSlice(CONFIG_BYTES);
            CUlaunchConfig_st.gridDimX(config, grid[0]);
            CUlaunchConfig_st.gridDimY(config, grid[1]);
            CUlaunchConfig_st.gridDimZ(config, grid[2]);
            CUlaunchConfig_st.blockDimX(config, block[0]);
            CUlaunchConfig_st.blockDimY(config, block[1]);
            CUlaunchConfig_st.blockDimZ(config, block[2]);
            CUlaunchConfig_st.sharedMemBytes(config, sharedBytes);
            CUlaunchConfig_st.hStream(config, Stream.handle(stream));
            CUlaunchConfig_st.attrs(config, attribute);
            CUlaunchConfig_st.numAttrs(config, 1);
            CUlaunchAttribute_st.id(attribute, cuda_h.CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION());
            CUlaunchAttribute_st.valueInt(attribute, 1);   // programmaticStreamSerializationAllowed
            int rc = cuda_h.cuLaunchKernelEx(config, handle, params, MemorySegment.NULL);
            if (rc != 0) check(rc, "cuLaunchKernelEx(" + name + ", programmatic stream serialization)");
        }
    }
}
