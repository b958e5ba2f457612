package dev.panamax.runtime.gpu;

import dev.panamax.cuda.Cublas;
import dev.panamax.cuda.CublasLt;
import dev.panamax.cuda.Cuda;
import dev.panamax.cuda.CudaException;

import java.lang.foreign.MemorySegment;

/**
 * One CUDA device as Panamax uses it: its primary context, a stream on which all work is queued,
 * a cuBLAS handle bound to that stream, a {@link CachingAllocator} for device memory, the
 * compiled kernels ({@link CudaModules}), page-locked staging for small uploads
 * ({@link #upload}) and page-locked slots for read-backs that do not wait ({@link #downloadLater}).
 * Open one per device and close it when done; calls
 * make the context current on the calling thread.
 */
public final class GpuDevice implements AutoCloseable {
    private final Cuda.Context context;
    private final Cuda.Stream stream;
    private final Cublas cublas;
    private final CachingAllocator allocator;
    private final CudaModules modules;
    private final StagingRing staging;
    private final ReadbackSlots readbacks;
    private final Limits limits;
    private final long cublasWorkspace;
    private final long cublasWorkspaceBytes;
    private CublasLt cublasLt;
    private volatile boolean capturing;

    /**
     * The device's attributes that kernel launches size themselves by, read once when it is opened
     * (each read is a driver call).
     *
     * @param computeCapability  major * 10 + minor, e.g. 90
     * @param multiprocessors    streaming multiprocessors
     * @param sharedPerBlockOptIn the most shared memory a block may use once its kernel opts in, in bytes
     */
    public record Limits(int computeCapability, int multiprocessors, int sharedPerBlockOptIn) {
    }
    /**
     * cuBLAS's workspace, set explicitly so that its calls inside a graph capture use memory that
     * outlives the capture (cuBLAS would otherwise allocate its own): 32 MiB on Hopper and later,
     * 4 MiB before, the sizes its documentation recommends.
     */
    private static long cublasWorkspaceBytes(int computeCapability) {
        return computeCapability >= 90 ? 32L << 20 : 4L << 20;
    }

    /** Staging slots for small uploads: 64 of 64 KiB (4 MiB of page-locked host memory). */
    private static final int STAGING_SLOTS = 64;
    private static final long STAGING_SLOT_BYTES = 64 << 10;
    /** Read-back slots: 16 of 64 KiB (1 MiB of page-locked host memory). */
    private static final int READBACK_SLOTS = 16;
    private static final long READBACK_SLOT_BYTES = 64 << 10;

    private GpuDevice(Cuda.Context context, Cuda.Stream stream, Cublas cublas) {
        this.context = context;
        this.stream = stream;
        this.cublas = cublas;
        cublas.setStream(stream);
        this.allocator = new CachingAllocator(new CachingAllocator.Backend() {
            @Override
            public long allocate(long bytes) {
                return Cuda.malloc(bytes);
            }

            @Override
            public void free(long pointer) {
                Cuda.free(pointer);
            }

            @Override
            public boolean isOutOfMemory(RuntimeException e) {
                return e instanceof CudaException c && c.status() == 2; // CUDA_ERROR_OUT_OF_MEMORY
            }
        });
        Cuda.Device d = context.device();
        this.limits = new Limits(d.computeCapability(), d.multiprocessors(),
                d.attribute(dev.panamax.cuda.gen.cuda_h.CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN()));
        this.modules = new CudaModules(limits.computeCapability());
        long bytes = cublasWorkspaceBytes(limits.computeCapability());
        this.cublasWorkspaceBytes = bytes;
        this.cublasWorkspace = Cuda.malloc(bytes);
        try {
            cublas.setWorkspace(cublasWorkspace, bytes);
            this.staging = new StagingRing(STAGING_SLOTS, STAGING_SLOT_BYTES);
        } catch (RuntimeException e) {
            Cuda.free(cublasWorkspace);
            throw e;
        }
        try {
            this.readbacks = new ReadbackSlots(READBACK_SLOTS, READBACK_SLOT_BYTES);
        } catch (RuntimeException e) {
            staging.close();
            Cuda.free(cublasWorkspace);
            throw e;
        }
    }

    /** Opens device {@code ordinal}; throws {@link CudaException} saying why when CUDA is unavailable. */
    public static GpuDevice open(int ordinal) {
        Cuda.Context context = Cuda.device(ordinal).retainPrimaryContext();
        Cuda.Stream stream = null;
        Cublas cublas = null;
        try {
            context.makeCurrent();
            stream = Cuda.Stream.create();
            cublas = Cublas.create();
            return new GpuDevice(context, stream, cublas);
        } catch (RuntimeException e) {
            // release what was made before the failure, keeping the first error
            if (cublas != null) cublas.close();
            if (stream != null) stream.close();
            context.close();
            throw e;
        }
    }

    /** Makes this device's context current on the calling thread. */
    public void makeCurrent() {
        context.makeCurrent();
    }

    /** The device. */
    public Cuda.Device device() {
        return context.device();
    }

    /** The device's compute capability, multiprocessors and opt-in shared memory, read when it was opened. */
    public Limits limits() {
        return limits;
    }

    /** The stream all of this device's work goes to. */
    public Cuda.Stream stream() {
        return stream;
    }

    /** The cuBLAS handle (on {@link #stream()}). */
    public Cublas cublas() {
        return cublas;
    }

    /**
     * The cuBLASLt handle, created on first use (a GPU whose products all go through {@link #cublas()}
     * never loads libcublasLt). Its products run on {@link #stream()} with {@link #cublasWorkspace()}.
     */
    public synchronized CublasLt cublasLt() {
        if (cublasLt == null) {
            makeCurrent();
            cublasLt = CublasLt.create();
        }
        return cublasLt;
    }

    /**
     * The device address of the workspace that cuBLAS uses, which cuBLASLt products share: both
     * run on {@link #stream()}, one after the other ({@link #cublasWorkspaceBytes()} long).
     */
    public long cublasWorkspace() {
        return cublasWorkspace;
    }

    /** The size of {@link #cublasWorkspace()} in bytes. */
    public long cublasWorkspaceBytes() {
        return cublasWorkspaceBytes;
    }

    /**
     * Times {@code candidates} ways of doing one piece of work on {@link #stream()}: {@code run.accept(i)}
     * queues candidate i's work. Every candidate runs once untimed (loading modules and filling the
     * memory pool), then {@code rounds} times between CUDA events; returns each one's fastest time in
     * milliseconds. Waits for the GPU after each run, so it cannot be called inside a capture.
     */
    public double[] time(int candidates, int rounds, java.util.function.IntConsumer run) {
        checkNotCapturing("timing work");
        makeCurrent();
        double[] best = new double[candidates];
        java.util.Arrays.fill(best, Double.POSITIVE_INFINITY);
        try (Cuda.Event start = Cuda.Event.create(); Cuda.Event end = Cuda.Event.create()) {
            for (int round = 0; round <= rounds; round++) {
                for (int i = 0; i < candidates; i++) {
                    start.record(stream);
                    run.accept(i);
                    end.record(stream);
                    end.synchronize();
                    if (round > 0) best[i] = Math.min(best[i], end.millisSince(start));
                }
            }
        }
        return best;
    }

    /** The device-memory allocator. */
    public CachingAllocator allocator() {
        return allocator;
    }

    /** The compiled kernels. */
    public CudaModules modules() {
        return modules;
    }

    /** Waits for all queued work. */
    public void synchronize() {
        checkNotCapturing("waiting for the GPU");
        stream.synchronize();
    }

    /** Whether a graph is being captured on this device's stream ({@link #capture}): work queued now is recorded, not run. */
    public boolean capturing() {
        return capturing;
    }

    /**
     * Throws where a graph is being captured: {@code what} (a host copy, a wait) cannot be recorded
     * into one, and CUDA would invalidate the capture.
     */
    public void checkNotCapturing(String what) {
        if (capturing) {
            throw new IllegalStateException(what + " cannot be recorded into a CUDA graph: a graph's inputs must already be in device"
                    + " memory when it is captured, and its results are read after it is replayed");
        }
    }

    /**
     * A graph of the work {@code body} queues on this device's stream, recorded (not run) by
     * stream capture. The device memory it is handed meanwhile stays reserved for it (see
     * {@link CachingAllocator.Reservation}) until it is closed. No other thread may queue work on
     * this device during the capture. If {@code body} throws, or queues something a graph cannot
     * hold, nothing is kept and the exception is rethrown.
     */
    public Captured capture(Runnable body) {
        makeCurrent();
        allocator.beginCapture();
        Throwable failure = null;
        Cuda.Graph graph = null;
        try {
            stream.beginCapture();
        } catch (RuntimeException e) {
            allocator.release(allocator.endCapture());
            throw e;
        }
        capturing = true;
        try {
            body.run();
        } catch (RuntimeException | Error e) {
            failure = e;
        } finally {
            capturing = false;
            try {
                graph = stream.endCapture();   // always: the stream must leave capture mode
            } catch (RuntimeException e) {
                if (failure == null) failure = e;
                else failure.addSuppressed(e);
            }
        }
        CachingAllocator.Reservation reservation = allocator.endCapture();
        Cuda.GraphExec exec = null;
        long nodes = 0;
        try {
            if (failure == null) {
                nodes = graph.nodeCount();
                exec = graph.instantiate();
            }
        } catch (RuntimeException e) {
            failure = e;
        } finally {
            if (graph != null) graph.close();
        }
        if (failure != null) {
            allocator.release(reservation);
            if (failure instanceof Error err) throw err;
            throw (RuntimeException) failure;
        }
        return new Captured(exec, reservation, nodes);
    }

    /** A captured graph ready to run again and again; closing it gives its memory back. */
    public final class Captured implements AutoCloseable {
        private final Cuda.GraphExec exec;
        private final CachingAllocator.Reservation reservation;
        private final long nodes;
        private boolean closed;

        private Captured(Cuda.GraphExec exec, CachingAllocator.Reservation reservation, long nodes) {
            this.exec = exec;
            this.reservation = reservation;
            this.nodes = nodes;
        }

        /** Queues all of the graph's work on the device's stream with one launch. */
        public void replay() {
            if (closed) throw new IllegalStateException("the graph has been closed");
            makeCurrent();
            checkNotCapturing("replaying a graph");
            exec.launch(stream);
        }

        /** The graph's nodes (kernel launches, copies and memsets). */
        public long nodes() {
            return nodes;
        }

        /** Destroys the graph (after the work queued so far) and releases its memory reservation. */
        @Override
        public synchronized void close() {
            if (closed) return;
            closed = true;
            makeCurrent();
            stream.synchronize();   // a replay still queued uses the reserved blocks
            exec.close();
            allocator.release(reservation);
        }
    }

    /**
     * Copies {@code bytes} of host memory to device memory at {@code dst} in stream order; {@code src}
     * may be reused as soon as this returns. Copies of up to 64 KiB (indices, positions, masks) go
     * through page-locked staging and do not wait for the work queued before them; larger ones wait
     * for the stream.
     */
    public void upload(MemorySegment src, long dst, long bytes) {
        if (bytes == 0) return;
        checkNotCapturing("a copy from the host");
        makeCurrent();
        if (staging.upload(src, dst, bytes, stream)) return;
        Cuda.copyToDevice(dst, src, bytes, stream);
        stream.synchronize();
    }

    /**
     * Queues a copy of {@code bytes} of device memory at {@code src} to the host, behind the work
     * queued so far, and returns without waiting for it; null (nothing queued) when the copy is
     * larger than 64 KiB or 16 earlier ones are still open. The host goes on queueing work while the
     * GPU runs what came before the copy: a decode loop reads step t's tokens after queueing step
     * t + 1.
     *
     * @throws IllegalStateException inside a graph capture
     */
    public Readback downloadLater(long src, long bytes) {
        checkNotCapturing("a copy to the host");
        makeCurrent();
        int slot = readbacks.queue(src, bytes, stream);
        return slot < 0 ? null : new Readback(slot, bytes);
    }

    /** Read-backs queued by {@link #downloadLater} and not yet closed. */
    public int openReadbacks() {
        return readbacks.taken();
    }

    /** A copy to the host queued by {@link #downloadLater}: read it once it is needed, then close it. */
    public final class Readback implements AutoCloseable {
        private final int slot;
        private final long bytes;
        private boolean closed;

        private Readback(int slot, long bytes) {
            this.slot = slot;
            this.bytes = bytes;
        }

        /** The copy's size in bytes. */
        public long bytes() {
            return bytes;
        }

        /**
         * Waits for the copy (and so for the work queued before it, not after), then copies its
         * bytes into {@code dst}.
         *
         * @throws IllegalStateException once closed
         */
        public synchronized void read(MemorySegment dst) {
            if (closed) throw new IllegalStateException("read-back closed");
            if (dst.byteSize() < bytes) throw new IllegalArgumentException("host segment of " + dst.byteSize() + " bytes is smaller than the " + bytes + " read back");
            makeCurrent();
            readbacks.read(slot, dst, bytes);
        }

        /** Frees its page-locked slot, after the copy has arrived. Idempotent. */
        @Override
        public synchronized void close() {
            if (closed) return;
            closed = true;
            makeCurrent();
            readbacks.free(slot);
        }
    }

    @Override
    public void close() {
        context.makeCurrent();
        stream.synchronize();
        modules.close();
        readbacks.close();
        staging.close();
        synchronized (this) {
            if (cublasLt != null) cublasLt.close();
        }
        cublas.close();
        Cuda.free(cublasWorkspace);
        allocator.emptyCache();
        stream.close();
        context.close();
    }
}
