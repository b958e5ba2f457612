package dev.panamax.runtime;

import dev.panamax.cuda.Cuda;

import java.util.Objects;

/**
 * Where a tensor's memory lives and its ops run: the host ({@link #CPU}) or one CUDA GPU
 * ({@link #cuda(int)}). A device is only a name; the GPU is opened (context, stream, cuBLAS,
 * kernels compiled by NVRTC) the first time a tensor is moved to it.
 *
 * <pre>{@code
 * Device d = Device.parse(args.device());          // "cpu", "cuda" or "cuda:1"
 * Tensor x = Tensor.randn(DType.F32, 1, 1.0, 4, 8).to(d);
 * Tensor y = x.matmul(w.to(d)).silu().to(Device.CPU);
 * }</pre>
 */
public final class Device {
    /** The kinds of device. */
    public enum Kind {
        /** The host: Vector API and scalar kernels. */
        CPU,
        /** An NVIDIA GPU through the CUDA driver, cuBLAS and NVRTC. */
        CUDA,
        /**
         * A GPU emulated in host memory with the scalar kernels: runs every device code path
         * (moves, device memory owned by scopes, host fallbacks) without a GPU, for tests and
         * for checking that a program keeps its tensors where it means to. Slow by design.
         */
        EMULATED
    }

    /** The host. */
    public static final Device CPU = new Device(Kind.CPU, 0);

    private final Kind kind;
    private final int ordinal;

    private Device(Kind kind, int ordinal) {
        this.kind = kind;
        this.ordinal = ordinal;
    }

    /** The host-memory emulation of a GPU (see {@link Kind#EMULATED}); always available. */
    public static final Device EMULATED = new Device(Kind.EMULATED, 0);

    /** CUDA device 0. */
    public static Device cuda() {
        return cuda(0);
    }

    /** CUDA device {@code ordinal} (not opened until a tensor is moved to it). */
    public static Device cuda(int ordinal) {
        if (ordinal < 0) throw new IllegalArgumentException("CUDA device ordinal must be >= 0, got " + ordinal);
        return new Device(Kind.CUDA, ordinal);
    }

    /**
     * Parses {@code cpu}, {@code cuda}, {@code cuda:N} or {@code emulated} (case-insensitive).
     *
     * @throws IllegalArgumentException naming the accepted forms
     */
    public static Device parse(String name) {
        String s = Objects.requireNonNull(name, "device").trim().toLowerCase(java.util.Locale.ROOT);
        if (s.equals("cpu")) return CPU;
        if (s.equals("cuda") || s.equals("gpu")) return cuda(0);
        if (s.equals("emulated")) return EMULATED;
        if (s.startsWith("cuda:")) {
            try {
                return cuda(Integer.parseInt(s.substring(5)));
            } catch (NumberFormatException e) {
                // fall through to the message below
            }
        }
        throw new IllegalArgumentException("unknown device \"" + name + "\": use cpu, cuda, cuda:N or emulated");
    }

    /** The kind. */
    public Kind kind() {
        return kind;
    }

    /** The CUDA ordinal (0 for the CPU). */
    public int ordinal() {
        return ordinal;
    }

    /** Whether this is a device other than the host (tensors on it hold device memory). */
    public boolean isDevice() {
        return kind != Kind.CPU;
    }

    /** Whether this is a CUDA device. */
    public boolean isCuda() {
        return kind == Kind.CUDA;
    }

    /**
     * Whether this device can be used here: always for the CPU; for CUDA, when the driver
     * loads and has a device of this ordinal. Never throws.
     */
    public boolean isAvailable() {
        return unavailableReason() == null;
    }

    /** Why this device cannot be used here, or null when it can. Never throws. */
    public String unavailableReason() {
        if (kind != Kind.CUDA) return null;
        if (!Cuda.available()) return Cuda.unavailableReason();
        try {
            int n = Cuda.deviceCount();
            return ordinal < n ? null : "cuda:" + ordinal + " does not exist (the driver reports " + n + " device" + (n == 1 ? "" : "s") + ")";
        } catch (RuntimeException e) {
            return e.getMessage();
        }
    }

    /**
     * Backends installed in place of the real ones: the runtime's tests run the device paths on
     * a host-memory emulation of a GPU through this.
     */
    static final java.util.Map<Device, DeviceBackend> INSTALLED = new java.util.concurrent.ConcurrentHashMap<>();

    /** The backend running this device's ops (opened on first use); null for the CPU. */
    DeviceBackend backend() {
        if (kind == Kind.CPU) return null;
        DeviceBackend b = INSTALLED.get(this);
        if (b != null) return b;
        return kind == Kind.EMULATED ? EmulatedDevice.shared() : CudaBackend.get(ordinal);
    }

    /**
     * Waits until all work queued on this device has finished (for timing; reads of device
     * memory wait by themselves). Nothing to do for the CPU.
     */
    public void synchronize() {
        DeviceBackend b = backend();
        if (b != null) b.synchronize();
    }

    /**
     * Records a point in this device's queue of work, to time the work between two such points as
     * the device sees it: {@code end.millisSince(start)}.
     *
     * <p>On a CUDA GPU the point is a CUDA event recorded on the device's stream. The GPU reaches it
     * once the work queued before it has run, so the time between two events is the GPU's over the
     * work queued between them, without the host's time to launch that work or to wait for it, as
     * long as the GPU was still busy when the first was recorded (one recorded on an idle GPU is
     * reached at once, and the time then also counts the host's preparing the first launch after
     * it). To time one kind of call, record the start after the first of several calls and divide
     * by the calls after it:
     * <pre>{@code
     * attend.run();                                    // keeps the GPU busy while the host goes on
     * try (Device.Event start = gpu.record()) {
     *     for (int i = 0; i < 7; i++) attend.run();
     *     try (Device.Event end = gpu.record()) {
     *         double msEach = end.millisSince(start) / 7;   // waits for the GPU
     *     }
     * }
     * }</pre>
     * On the CPU and the emulated device, whose ops have finished when they return, the point is
     * the host's clock ({@link System#nanoTime}) now.
     *
     * @throws IllegalStateException while a graph is being captured on this device ({@link DeviceGraph}),
     *                               and, saying why, where the device cannot be used
     */
    public Event record() {
        DeviceBackend b = backend();
        return new Event(this, b == null ? DeviceBackend.HostMark.now() : b.mark());
    }

    /**
     * A point in a device's queue of work, from {@link Device#record()}. Close it when done with it
     * (on a GPU it holds a CUDA event).
     */
    public static final class Event implements AutoCloseable {
        private final Device device;
        private final DeviceBackend.Mark mark;
        private boolean closed;

        private Event(Device device, DeviceBackend.Mark mark) {
            this.device = device;
            this.mark = mark;
        }

        /** The device whose queue this point is in. */
        public Device device() {
            return device;
        }

        /**
         * Waits until the device has run the work queued before this event, and returns the
         * milliseconds the device took from {@code start} to this event (on a GPU, to within
         * half a microsecond).
         *
         * @param start an event recorded earlier on the same device
         * @throws IllegalArgumentException when {@code start} is another device's
         * @throws IllegalStateException    when either event has been closed
         */
        public double millisSince(Event start) {
            Objects.requireNonNull(start, "start");
            if (!start.device.equals(device)) {
                throw new IllegalArgumentException("cannot time between events of two devices: " + start.device + " and " + device);
            }
            if (closed || start.closed) throw new IllegalStateException("the " + (closed ? "" : "start ") + "event on " + device + " has been closed");
            return mark.millisSince(start.mark);
        }

        /** Frees the event (a CUDA event on a GPU); closing it again does nothing. */
        @Override
        public void close() {
            if (closed) return;
            closed = true;
            mark.close();
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Device d && d.kind == kind && d.ordinal == ordinal;
    }

    @Override
    public int hashCode() {
        return kind.hashCode() * 31 + ordinal;
    }

    /** {@code cpu}, {@code cuda:N} or {@code emulated}. */
    @Override
    public String toString() {
        return switch (kind) {
            case CPU -> "cpu";
            case CUDA -> "cuda:" + ordinal;
            case EMULATED -> "emulated";
        };
    }
}
