package dev.panamax.runtime;

import java.lang.foreign.MemorySegment;

/**
 * A tensor's elements on their way to the host, from {@link Tensor#readLater()}. On a GPU the
 * copy is queued behind the work queued so far and {@code readLater} returns at once, so the host
 * can queue more work before it needs the values: the first read waits for the copy, and so for
 * the work queued before it, not after. A generation loop reads a step's tokens after queueing the
 * next step, and the GPU never waits for the host between them. Elsewhere (the CPU, or a copy
 * that cannot be queued) the elements are copied at once.
 *
 * <pre>{@code
 * try (HostRead pending = tokens.readLater()) {
 *     Tensor next = model.forward(...);        // queued behind the copy
 *     long[] drawn = pending.toLongArray();    // waits for the copy only
 * }
 * }</pre>
 *
 * <p>Close it once read: on a GPU it holds one of a few page-locked slots until then. Reads may
 * be repeated until it is closed. Not thread-safe.
 */
public final class HostRead implements AutoCloseable {
    private final DType dtype;
    private final long[] dims;
    private final long numel;
    private final MemorySegment data;   // the elements, row-major, once arrived
    private final boolean queued;
    private DeviceBackend.PendingDownload pending;
    private boolean closed;

    HostRead(DType dtype, long[] dims, MemorySegment data, DeviceBackend.PendingDownload pending) {
        this.dtype = dtype;
        this.dims = dims;
        this.numel = Shape.of(dims).numel();
        this.data = data;
        this.pending = pending;
        this.queued = pending != null;
    }

    /** The elements' dtype. */
    public DType dtype() {
        return dtype;
    }

    /** The tensor's dims when it was read. */
    public long[] dims() {
        return dims.clone();
    }

    /** Whether the copy was queued on a device rather than made at once (it is read when first needed). */
    public boolean wasQueued() {
        return queued;
    }

    private MemorySegment arrived() {
        if (closed) throw new IllegalStateException("read of " + dtype + java.util.Arrays.toString(dims) + " closed");
        if (pending != null) {
            try {
                pending.read(data);
            } finally {
                pending.close();
                pending = null;
            }
        }
        return data;
    }

    /** All elements in row-major order as longs (integers exactly; floats truncated); waits for the copy. */
    public long[] toLongArray() {
        MemorySegment d = arrived();
        long[] out = new long[Math.toIntExact(numel)];
        for (int i = 0; i < out.length; i++) out[i] = Elem.getLong(d, dtype, i);
        return out;
    }

    /** All elements in row-major order, converted to float; waits for the copy. */
    public float[] toFloatArray() {
        MemorySegment d = arrived();
        float[] out = new float[Math.toIntExact(numel)];
        for (int i = 0; i < out.length; i++) out[i] = (float) Elem.get(d, dtype, i);
        return out;
    }

    /** All elements in row-major order, converted to double; waits for the copy. */
    public double[] toDoubleArray() {
        MemorySegment d = arrived();
        double[] out = new double[Math.toIntExact(numel)];
        for (int i = 0; i < out.length; i++) out[i] = Elem.get(d, dtype, i);
        return out;
    }

    /** Frees the copy's slot (after the copy has arrived, if it was never read). Idempotent. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        if (pending != null) {
            DeviceBackend.PendingDownload p = pending;
            pending = null;
            p.close();
        }
    }
}
