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
