package dev.panamax.runtime;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * An n-dimensional array over off-heap memory: a {@link DType}, a {@link Shape} (dims and
 * strides, in elements) and a storage {@link MemorySegment} with an element offset.
 *
 * <p>Views ({@link #reshape}, {@link #transpose}, {@link #permute}, {@link #narrow},
 * {@link #expand}, {@link #select}, ...) share storage; {@link #contiguous()} copies only when
 * the layout is not already row-major. Every new tensor is allocated in the calling thread's
 * current {@link Scope}. Ops compute in F32 (F64 when an input is F64); BF16/F16 inputs are read
 * as F32, and matmul reads BF16/F16 right-hand sides (weights) directly.
 *
 * <p>Shape letters follow {@code package-info}: B batch, T time, C channels, H heads, D head
 * dim, V vocabulary.
 */
public final class Tensor {
    /** Host storage; {@link MemorySegment#NULL} (length 0, so never readable) for device tensors. */
    final MemorySegment storage;
    /** The device backend holding this tensor's memory, or null on the host. */
    final DeviceBackend backend;
    /** Base device address of the storage (device tensors only). */
    final long devicePointer;
    final DType dtype;
    final Shape shape;
    final long offset;
    /** The scope the storage was allocated in (null for wrapped memory such as mapped files). */
    final Scope home;
    boolean requiresGrad;
    Tensor grad;
    Autograd.Node gradFn;

    Tensor(MemorySegment storage, DType dtype, Shape shape, long offset, Scope home) {
        this(storage, null, 0, dtype, shape, offset, home);
    }

    Tensor(MemorySegment storage, DeviceBackend backend, long devicePointer, DType dtype, Shape shape, long offset, Scope home) {
        this.storage = storage;
        this.backend = backend;
        this.devicePointer = devicePointer;
        this.dtype = dtype;
        this.shape = shape;
        this.offset = offset;
        this.home = home;
    }

    /** A view of this tensor's storage with another layout (the caller records autograd). */
    private Tensor viewOf(Shape s, long off) {
        return new Tensor(storage, backend, devicePointer, dtype, s, off, home);
    }

    // ---- creation ---------------------------------------------------------------------------

    /**
     * Wraps existing memory (for example a memory-mapped file) as a tensor without copying.
     *
     * @param segment storage; must hold every element the shape and offset address
     * @throws IllegalArgumentException if the view would reach outside the segment
     */
    public static Tensor wrap(MemorySegment segment, DType dtype, Shape shape, long offset) {
        long max = offset;
        long min = offset;
        for (int i = 0; i < shape.rank(); i++) {
            long d = shape.dim(i);
            if (d == 0) {
                max = min = offset;
                break;
            }
            long s = shape.stride(i);
            if (s >= 0) max += (d - 1) * s;
            else min += (d - 1) * s;
        }
        if (min < 0 || (shape.numel() > 0 && (max + 1) * dtype.byteSize() > segment.byteSize())) {
            throw new IllegalArgumentException("a " + dtype + " view of shape " + shape + " at offset " + offset + " does not fit in " + segment.byteSize() + " bytes");
        }
        return new Tensor(segment, dtype, shape, offset, null);
    }

    /** A new zero-filled contiguous tensor in the current scope. */
    public static Tensor zeros(DType dtype, long... dims) {
        Shape s = Shape.of(dims);
        long bytes = Math.multiplyExact(s.numel(), (long) dtype.byteSize());
        Scope home = Scope.current();
        return new Tensor(home.allocate(bytes), dtype, s, 0, home);
    }

    /** A new zero-filled contiguous tensor in the current scope, on {@code device}. */
    public static Tensor zeros(Device device, DType dtype, long... dims) {
        return zerosOn(java.util.Objects.requireNonNull(device, "device").backend(), dtype, dims);
    }

    /**
     * {@code src} as a new contiguous tensor of {@code dtype} on {@code device}, allocated in the
     * current scope, with no autograd history; any staging copy (the upload of {@code src} in its
     * own dtype before the conversion) is freed before this returns. For placing weights.
     */
    public static Tensor placed(Tensor src, Device device, DType dtype) {
        Tensor dst = zeros(device, dtype, src.dims());
        try (Autograd.NoGrad ng = Autograd.noGrad(); Scope staging = Scope.open()) {
            // devices hold no F64: narrow on the host first
            dst.copyFrom(src.dtype == DType.F64 && device.isDevice() ? src.to(DType.F32) : src);
        }
        return dst;
    }

    /** A new zero-filled contiguous tensor in the current scope, on {@code backend}'s device (host when null). */
    static Tensor zerosOn(DeviceBackend backend, DType dtype, long... dims) {
        if (backend == null) return zeros(dtype, dims);
        Tensor t = outputOn(backend, dtype, dims);
        backend.zero(t.devicePointer, t.numel() * dtype.byteSize());
        return t;
    }

    /** A new zero-filled contiguous tensor on the same device as {@code like}. */
    static Tensor zerosLike(Tensor like, DType dtype, long... dims) {
        return zerosOn(like.backend, dtype, dims);
    }

    /**
     * A new contiguous tensor on the same device as {@code like} for an op that writes every
     * element before anything reads it: zero-filled in host memory, as every allocation there, but
     * not filled on a device (a fill is a driver call and a GPU operation per op output).
     */
    static Tensor outputLike(Tensor like, DType dtype, long... dims) {
        return like.backend == null ? zeros(dtype, dims) : outputOn(like.backend, dtype, dims);
    }

    /** {@link #outputLike} on a device's backend: not filled. */
    static Tensor outputOn(DeviceBackend backend, DType dtype, long... dims) {
        if (dtype.isFp8()) throw fp8OnDevice(dtype, backend.device());
        Shape s = Shape.of(dims);
        Scope home = Scope.current();
        long p = home.allocateDevice(backend, Math.multiplyExact(s.numel(), (long) dtype.byteSize()));
        return new Tensor(MemorySegment.NULL, backend, p, dtype, s, 0, home);
    }

    /** The refusal of an FP8 tensor on a device ({@code where}): FP8 is a host storage format. */
    static UnsupportedOperationException fp8OnDevice(DType dtype, Object where) {
        return new UnsupportedOperationException(dtype.safetensorsName() + " tensors stay on the host (a storage format), not on " + where
                + ": convert with to(DType) or dequantise with Fp8.dequantizeBlocks first");
    }

    /** A new tensor filled with ones. */
    public static Tensor ones(DType dtype, long... dims) {
        return full(dtype, 1.0, dims);
    }

    /** A new tensor filled with {@code value} (rounded to the dtype). */
    public static Tensor full(DType dtype, double value, long... dims) {
        Tensor t = zeros(dtype, dims);
        if (value != 0.0 || Double.doubleToRawLongBits(value) != 0) t.fillInPlace(value);
        return t;
    }

    /** {@code [0, 1, ..., n-1]}. */
    public static Tensor arange(DType dtype, long n) {
        return arange(dtype, 0, n, 1);
    }

    /** Values {@code start, start+step, ...} strictly below {@code end} (above, for negative steps). */
    public static Tensor arange(DType dtype, double start, double end, double step) {
        if (step == 0 || Double.isNaN(step)) throw new IllegalArgumentException("arange step must be non-zero");
        long n = Math.max(0, (long) Math.ceil((end - start) / step));
        Tensor t = zeros(dtype, n);
        for (long i = 0; i < n; i++) Elem.set(t.storage, dtype, i, start + i * step);
        return t;
    }

    /** Seeded standard-normal values (times {@code std}): the same seed gives the same tensor. */
    public static Tensor randn(DType dtype, long seed, double std, long... dims) {
        Tensor t = zeros(dtype, dims);
        SplittableRandom r = new SplittableRandom(seed);
        long n = t.numel();
        for (long i = 0; i < n; i++) Elem.set(t.storage, dtype, i, r.nextGaussian() * std);
        return t;
    }

    /** Seeded uniform values in {@code [lo, hi)}. */
    public static Tensor uniform(DType dtype, long seed, double lo, double hi, long... dims) {
        Tensor t = zeros(dtype, dims);
        SplittableRandom r = new SplittableRandom(seed);
        long n = t.numel();
        for (long i = 0; i < n; i++) Elem.set(t.storage, dtype, i, lo + (hi - lo) * r.nextDouble());
        return t;
    }

    /** An F32 tensor holding {@code data} (row-major), of shape {@code dims} (default: 1-D). */
    public static Tensor of(float[] data, long... dims) {
        Tensor t = zeros(DType.F32, dimsFor(data.length, dims));
        MemorySegment.copy(data, 0, t.storage, Elem.F32, 0, data.length);
        return t;
    }

    /** An F64 tensor holding {@code data}. */
    public static Tensor of(double[] data, long... dims) {
        Tensor t = zeros(DType.F64, dimsFor(data.length, dims));
        MemorySegment.copy(data, 0, t.storage, Elem.F64, 0, data.length);
        return t;
    }

    /** An I64 tensor holding {@code data}. */
    public static Tensor ofLongs(long[] data, long... dims) {
        Tensor t = zeros(DType.I64, dimsFor(data.length, dims));
        MemorySegment.copy(data, 0, t.storage, Elem.I64, 0, data.length);
        return t;
    }

    /** An I32 tensor holding {@code data}. */
    public static Tensor ofInts(int[] data, long... dims) {
        Tensor t = zeros(DType.I32, dimsFor(data.length, dims));
        MemorySegment.copy(data, 0, t.storage, Elem.I32, 0, data.length);
        return t;
    }

    /** A 0-dimensional F32 tensor. */
    public static Tensor scalar(float v) {
        return of(new float[]{v}, new long[0]);
    }

    private static long[] dimsFor(int n, long[] dims) {
        if (dims == null || (dims.length == 0 && n != 1)) return new long[]{n};
        Shape s = Shape.of(dims);
        if (s.numel() != n) throw new IllegalArgumentException(n + " values do not fill shape " + s);
        return dims;
    }

    // ---- properties -------------------------------------------------------------------------

    /** The element type. */
    public DType dtype() {
        return dtype;
    }

    /** Dims and strides. */
    public Shape shape() {
        return shape;
    }

    /** A copy of the dims. */
    public long[] dims() {
        return shape.dims();
    }

    /** Size of dimension {@code i} (negative counts from the end). */
    public long dim(int i) {
        return shape.dim(i);
    }

    /** Number of dimensions. */
    public int rank() {
        return shape.rank();
    }

    /** Number of elements. */
    public long numel() {
        return shape.numel();
    }

    /** Whether the layout is row-major contiguous. */
    public boolean isContiguous() {
        return shape.isContiguous();
    }

    /** Offset of the first element within {@link #segment()}, in elements. */
    public long storageOffset() {
        return offset;
    }

    /**
     * The host storage this tensor views (shared with other views).
     *
     * @throws UnsupportedOperationException for a tensor on a GPU (move it with {@link #to(Device)})
     */
    public MemorySegment segment() {
        return host();
    }

    /** Host storage, or a clear error for a device tensor reaching a host-only path. */
    MemorySegment host() {
        if (backend != null) {
            throw new UnsupportedOperationException("this operation reads host memory, but the tensor " + this
                    + " is on " + backend.device() + "; move it with to(Device.CPU) first");
        }
        return storage;
    }

    /** The device this tensor's memory is on. */
    public Device device() {
        return backend == null ? Device.CPU : backend.device();
    }

    /**
     * This tensor on {@code target}: itself when already there, else a contiguous copy (host to
     * device, device to host, or through the host between GPUs) in the current scope. Autograd
     * records the move; the gradient moves back.
     *
     * @throws IllegalStateException saying why when the device cannot be used here
     * @throws UnsupportedOperationException for an FP8 tensor bound for a device (FP8 is a host
     *         storage format: dequantise or convert it first)
     */
    public Tensor to(Device target) {
        java.util.Objects.requireNonNull(target, "device");
        if (target.equals(device())) return this;
        if (dtype.isFp8() && target.isDevice()) throw fp8OnDevice(dtype, target);
        if (backend != null && target.isDevice()) return to(Device.CPU).to(target);
        Device from = device();
        Tensor out;
        if (target.isDevice()) {
            DeviceBackend be = target.backend();
            Tensor c = contiguous();
            Scope home = Scope.current();
            long bytes = c.byteSize();
            long p = home.allocateDevice(be, bytes);
            be.upload(c.storage.asSlice(c.offset * dtype.byteSize(), bytes), p, bytes);
            out = new Tensor(MemorySegment.NULL, be, p, dtype, Shape.of(dims()), 0, home);
        } else {
            Tensor c = contiguous();
            out = zeros(dtype, dims());
            backend.download(c.devicePointer + c.offset * dtype.byteSize(), out.storage, c.byteSize());
        }
        return Autograd.record(out, "to(" + target + ")", g -> new Tensor[]{g.to(from)}, this);
    }

    /** The scope this tensor's memory belongs to, or null for wrapped memory (e.g. a mapped file). */
    public Scope scope() {
        return home;
    }

    /** Bytes of one element times the number of elements. */
    public long byteSize() {
        return numel() * dtype.byteSize();
    }

    // ---- element access ---------------------------------------------------------------------

    private long index(long[] idx) {
        if (idx.length != rank()) throw new IllegalArgumentException("index " + Arrays.toString(idx) + " has rank " + idx.length + " but the tensor has shape " + shape);
        long off = offset;
        for (int i = 0; i < idx.length; i++) {
            long d = shape.dim(i);
            if (idx[i] < 0 || idx[i] >= d) throw new IndexOutOfBoundsException("index " + Arrays.toString(idx) + " out of bounds for shape " + shape);
            off += idx[i] * shape.stride(i);
        }
        return off;
    }

    /** A 0-d view of the element at {@code idx} (not recorded by autograd). */
    private Tensor elementView(long[] idx) {
        return viewOf(Shape.of(), index(idx));
    }

    /**
     * {@code read} of a host copy of device tensor t, made in a scope of its own that is freed before
     * returning. The scope is confined: the copy is made and read on this thread, and a confined close
     * costs no handshake with the other threads (a read-back per decode step).
     */
    private static <R> R readOnHost(Tensor t, java.util.function.Function<Tensor, R> read) {
        try (Autograd.NoGrad ng = Autograd.noGrad(); Scope s = Scope.openConfined()) {
            return read.apply(t.to(Device.CPU));
        }
    }

    /** The element at {@code idx} as a double. */
    public double getDouble(long... idx) {
        if (backend != null) return readOnHost(elementView(idx), Tensor::item);
        return Elem.get(storage, dtype, index(idx));
    }

    /** The element at {@code idx} as a long (integers exactly; floats truncated). */
    public long getLong(long... idx) {
        if (backend != null) return readOnHost(elementView(idx), t -> t.getLong());
        return Elem.getLong(storage, dtype, index(idx));
    }

    /** Sets the element at {@code idx} (rounded to the dtype). */
    public void setDouble(double v, long... idx) {
        if (backend != null) {
            index(idx);
            elementView(idx).fillInPlace(v);
            return;
        }
        Elem.set(storage, dtype, index(idx), v);
    }

    /** The single value of a one-element tensor. */
    public double item() {
        if (numel() != 1) throw new IllegalStateException("item() needs one element, the shape is " + shape);
        if (backend != null) return readOnHost(this, Tensor::item);
        return Elem.get(storage, dtype, offset);
    }

    /** All elements in row-major order, converted to float. */
    public float[] toFloatArray() {
        if (backend != null) return readOnHost(this, Tensor::toFloatArray);
        Tensor c = contiguous();
        float[] out = new float[Math.toIntExact(c.numel())];
        if (c.dtype == DType.F32) {
            MemorySegment.copy(c.storage, Elem.F32, c.offset * 4, out, 0, out.length);
        } else {
            for (int i = 0; i < out.length; i++) out[i] = (float) Elem.get(c.storage, c.dtype, c.offset + i);
        }
        return out;
    }

    /** All elements in row-major order, converted to double. */
    public double[] toDoubleArray() {
        if (backend != null) return readOnHost(this, Tensor::toDoubleArray);
        Tensor c = contiguous();
        double[] out = new double[Math.toIntExact(c.numel())];
        for (int i = 0; i < out.length; i++) out[i] = Elem.get(c.storage, c.dtype, c.offset + i);
        return out;
    }

    /** All elements in row-major order as longs. */
    public long[] toLongArray() {
        if (backend != null) return readOnHost(this, Tensor::toLongArray);
        Tensor c = contiguous();
        long[] out = new long[Math.toIntExact(c.numel())];
        for (int i = 0; i < out.length; i++) out[i] = Elem.getLong(c.storage, c.dtype, c.offset + i);
        return out;
    }

    /**
     * Starts copying all elements to the host and returns without waiting: on a GPU the copy is
     * queued behind the work queued so far (at most 64 KiB, and 16 open at once; a larger copy, or
     * one past the 16, is made at once), elsewhere it is made at once. See {@link HostRead}. A
     * strided tensor is first made contiguous where it is, in the current scope.
     *
     * @throws IllegalStateException inside a CUDA graph capture
     */
    public HostRead readLater() {
        long bytes = byteSize();
        MemorySegment data = MemorySegment.ofArray(new long[Math.toIntExact((bytes + 7) / 8)]);
        try (Autograd.NoGrad ng = Autograd.noGrad()) {
            Tensor c = contiguous();
            if (c.backend == null) {
                MemorySegment.copy(c.storage, c.offset * dtype.byteSize(), data, 0, bytes);
                return new HostRead(dtype, dims(), data, null);
            }
            long src = c.devicePointer + c.offset * dtype.byteSize();
            DeviceBackend.PendingDownload pending = c.backend.downloadLater(src, bytes);
            if (pending == null && bytes > 0) {   // through native memory: the driver takes no heap segment
                try (java.lang.foreign.Arena a = java.lang.foreign.Arena.ofConfined()) {
                    MemorySegment staged = a.allocate(bytes, 8);
                    c.backend.download(src, staged, bytes);
                    MemorySegment.copy(staged, 0, data, 0, bytes);
                }
            }
            return new HostRead(dtype, dims(), data, pending);
        }
    }

    // ---- views ------------------------------------------------------------------------------

    private long[] inferDims(long[] dims) {
        long[] d = dims.clone();
        int infer = -1;
        long known = 1;
        for (int i = 0; i < d.length; i++) {
            if (d[i] == -1) {
                if (infer >= 0) throw new IllegalArgumentException("only one dimension can be -1 in " + Arrays.toString(dims));
                infer = i;
            } else {
                if (d[i] < 0) throw new IllegalArgumentException("negative dimension in " + Arrays.toString(dims));
                known *= d[i];
            }
        }
        if (infer >= 0) {
            if (known == 0 || numel() % known != 0) throw new IllegalArgumentException("cannot reshape " + shape + " into " + Arrays.toString(dims));
            d[infer] = numel() / known;
        }
        if (Shape.of(d).numel() != numel()) throw new IllegalArgumentException("cannot reshape " + shape + " (" + numel() + " elements) into " + Arrays.toString(dims));
        return d;
    }

    /** A view with new dims (one may be -1); the tensor must be contiguous. */
    public Tensor view(long... dims) {
        long[] d = inferDims(dims);
        if (!isContiguous()) throw new IllegalStateException("view() needs a contiguous tensor (shape " + shape + "); use reshape()");
        long[] in = dims();
        return Autograd.record(viewOf(Shape.of(d), offset), "view", g -> new Tensor[]{g.reshape(in)}, this);
    }

    /** New dims (one may be -1): a view when contiguous, otherwise a contiguous copy. */
    public Tensor reshape(long... dims) {
        return isContiguous() ? view(dims) : contiguous().view(dims);
    }

    /** Swaps two dims (a view). */
    public Tensor transpose(int d0, int d1) {
        int a = shape.normDim(d0);
        int b = shape.normDim(d1);
        long[] dims = shape.dims();
        long[] st = shape.strides();
        long t = dims[a];
        dims[a] = dims[b];
        dims[b] = t;
        t = st[a];
        st[a] = st[b];
        st[b] = t;
        return Autograd.record(viewOf(Shape.strided(dims, st), offset), "transpose", g -> new Tensor[]{g.transpose(a, b)}, this);
    }

    /** The transpose of the last two dims (a view). */
    public Tensor t() {
        if (rank() < 2) throw new IllegalArgumentException("t() needs rank >= 2, the shape is " + shape);
        return transpose(-2, -1);
    }

    /** Reorders the dims: result dim i is input dim {@code order[i]} (a view). */
    public Tensor permute(int... order) {
        if (order.length != rank()) throw new IllegalArgumentException("permute " + Arrays.toString(order) + " does not match rank " + rank());
        long[] dims = new long[order.length];
        long[] st = new long[order.length];
        boolean[] seen = new boolean[order.length];
        for (int i = 0; i < order.length; i++) {
            int d = shape.normDim(order[i]);
            if (seen[d]) throw new IllegalArgumentException("permute " + Arrays.toString(order) + " repeats a dim");
            seen[d] = true;
            dims[i] = shape.dim(d);
            st[i] = shape.stride(d);
        }
        int[] inverse = new int[order.length];
        for (int i = 0; i < order.length; i++) inverse[shape.normDim(order[i])] = i;
        return Autograd.record(viewOf(Shape.strided(dims, st), offset), "permute", g -> new Tensor[]{g.permute(inverse)}, this);
    }

    /** Elements {@code start .. start+length-1} of dim {@code dim} (a view). */
    public Tensor narrow(int dim, long start, long length) {
        int d = shape.normDim(dim);
        if (start < 0 || length < 0 || start + length > shape.dim(d)) {
            throw new IndexOutOfBoundsException("narrow(" + dim + ", " + start + ", " + length + ") out of range for shape " + shape);
        }
        long[] dims = shape.dims();
        dims[d] = length;
        long[] in = dims();
        return Autograd.record(viewOf(Shape.strided(dims, shape.strides()), offset + start * shape.stride(d)), "narrow", g -> {
            Tensor gx = zerosLike(g, g.dtype, in);
            gx.narrow(d, start, length).copyFrom(g);
            return new Tensor[]{gx};
        }, this);
    }

    /** Elements {@code start} (inclusive) to {@code end} (exclusive) of a dim (a view). */
    public Tensor slice(int dim, long start, long end) {
        return narrow(dim, start, end - start);
    }

    /** Index {@code index} of dim {@code dim}, removing that dim (a view). */
    public Tensor select(int dim, long index) {
        int d = shape.normDim(dim);
        long n = shape.dim(d);
        long i = index < 0 ? index + n : index;
        if (i < 0 || i >= n) throw new IndexOutOfBoundsException("select(" + dim + ", " + index + ") out of range for shape " + shape);
        long[] dims = shape.dims();
        long[] st = shape.strides();
        long[] nd = new long[dims.length - 1];
        long[] ns = new long[dims.length - 1];
        for (int k = 0, j = 0; k < dims.length; k++) {
            if (k == d) continue;
            nd[j] = dims[k];
            ns[j++] = st[k];
        }
        return Autograd.record(viewOf(Shape.strided(nd, ns), offset + i * st[d]), "select", g -> {
            Tensor gx = zerosLike(g, g.dtype, dims);
            gx.select(d, i).copyFrom(g);
            return new Tensor[]{gx};
        }, this);
    }

    /** Inserts a size-1 dim at {@code dim} (a view). */
    public Tensor unsqueeze(int dim) {
        int r = rank();
        int d = dim < 0 ? dim + r + 1 : dim;
        if (d < 0 || d > r) throw new IllegalArgumentException("unsqueeze(" + dim + ") out of range for shape " + shape);
        long[] dims = new long[r + 1];
        long[] st = new long[r + 1];
        for (int i = 0, j = 0; i <= r; i++) {
            if (i == d) {
                dims[i] = 1;
                st[i] = j < r ? shape.stride(j) * shape.dim(j) : 1;
            } else {
                dims[i] = shape.dim(j);
                st[i] = shape.stride(j++);
            }
        }
        return Autograd.record(viewOf(Shape.strided(dims, st), offset), "unsqueeze", g -> new Tensor[]{g.squeeze(d)}, this);
    }

    /** Removes dim {@code dim}, which must have size 1 (a view). */
    public Tensor squeeze(int dim) {
        int d = shape.normDim(dim);
        if (shape.dim(d) != 1) throw new IllegalArgumentException("squeeze(" + dim + ") on a dim of size " + shape.dim(d));
        Tensor out;
        try (Autograd.NoGrad ng = Autograd.noGrad()) {
            out = select(d, 0);
        }
        return Autograd.record(out, "squeeze", g -> new Tensor[]{g.unsqueeze(d)}, this);
    }

    /**
     * Broadcasts to {@code dims} (NumPy rules; -1 keeps a dim; new leading dims allowed): a view
     * with stride 0 on expanded dims.
     */
    public Tensor expand(long... dims) {
        int r = dims.length;
        int k = rank();
        if (r < k) throw new IllegalArgumentException("cannot expand " + shape + " to " + Arrays.toString(dims));
        long[] nd = new long[r];
        long[] ns = new long[r];
        for (int i = 0; i < r; i++) {
            int j = i - (r - k);
            long want = dims[i];
            if (j < 0) {
                if (want < 0) throw new IllegalArgumentException("cannot use -1 for a new dim in expand " + Arrays.toString(dims));
                nd[i] = want;
                ns[i] = 0;
                continue;
            }
            long have = shape.dim(j);
            if (want == -1 || want == have) {
                nd[i] = have;
                ns[i] = shape.stride(j);
            } else if (have == 1) {
                nd[i] = want;
                ns[i] = 0;
            } else {
                throw new IllegalArgumentException("cannot expand " + shape + " to " + Arrays.toString(dims));
            }
        }
        if (Arrays.equals(nd, shape.dims())) return this;
        long[] in = dims();
        return Autograd.record(viewOf(Shape.strided(nd, ns), offset), "expand", g -> new Tensor[]{Autograd.sumTo(g, in)}, this);
    }

    /** This tensor if already contiguous, otherwise a contiguous copy. */
    public Tensor contiguous() {
        return isContiguous() ? this : copy();
    }

    /** A contiguous copy of the same dtype. */
    public Tensor copy() {
        Tensor out = outputLike(this, dtype, dims());
        try (Autograd.NoGrad ng = Autograd.noGrad()) {
            out.copyFrom(this);
        }
        return Autograd.record(out, "copy", g -> new Tensor[]{g}, this);
    }

    /** This tensor converted to {@code target} (this tensor itself when already of that dtype). */
    public Tensor to(DType target) {
        if (target == dtype) return this;
        Tensor out = outputLike(this, target, dims());
        try (Autograd.NoGrad ng = Autograd.noGrad()) {
            out.copyFrom(this);
        }
        DType from = dtype;
        return Autograd.record(out, "to", g -> new Tensor[]{from.isFloating() ? g.to(from == DType.F64 ? DType.F64 : DType.F32) : null}, this);
    }

    /**
     * Copies {@code src} (broadcast to this shape, converted to this dtype) into this tensor,
     * in place.
     */
    public Tensor copyFrom(Tensor src) {
        Autograd.checkInPlace(this, "copyFrom");
        Tensor s;
        try (Autograd.NoGrad ng = Autograd.noGrad()) {
            Tensor moved = src.backend == backend ? src : src.to(device());
            s = moved.expand(dims());
        }
        if (backend != null) {
            backend.copy(s, this);
            return this;
        }
        Loops.Plan plan = Loops.plan(dims(), new long[]{offset, s.offset}, shape.strides(), s.shape.strides());
        if (dtype == s.dtype) {
            rawCopy(plan, s);
        } else if (!dtype.isFloating() && !s.dtype.isFloating()) {
            plan.forEach((off, n, inc) -> {
                for (long i = 0; i < n; i++) Elem.setLong(storage, dtype, off[0] + i * inc[0], Elem.getLong(s.storage, s.dtype, off[1] + i * inc[1]));
            });
        } else {
            plan.forEach((off, n, inc) -> {
                if (n >= 32 && inc[0] == 1 && inc[1] == 1 && Elem.convertRun(storage, dtype, off[0], s.storage, s.dtype, off[1], n)) return;   // long runs
                for (long i = 0; i < n; i++) Elem.set(storage, dtype, off[0] + i * inc[0], Elem.get(s.storage, s.dtype, off[1] + i * inc[1]));
            });
        }
        return this;
    }

    private void rawCopy(Loops.Plan plan, Tensor s) {
        int es = dtype.byteSize();
        plan.forEach((off, n, inc) -> {
            if (inc[0] == 1 && inc[1] == 1) {
                MemorySegment.copy(s.storage, off[1] * es, storage, off[0] * es, n * es);
            } else {
                for (long i = 0; i < n; i++) {
                    MemorySegment.copy(s.storage, (off[1] + i * inc[1]) * es, storage, (off[0] + i * inc[0]) * es, es);
                }
            }
        });
    }

    /** Sets every element to {@code v}, in place. */
    public Tensor fillInPlace(double v) {
        Autograd.checkInPlace(this, "fillInPlace");
        if (backend != null) {
            backend.fill(this, v);
            return this;
        }
        Loops.Plan plan = Loops.plan(dims(), new long[]{offset}, shape.strides());
        plan.forEach((off, n, inc) -> {
            for (long i = 0; i < n; i++) Elem.set(storage, dtype, off[0] + i * inc[0], v);
        });
        return this;
    }

    // ---- elementwise ------------------------------------------------------------------------

    /** {@code this + b} with broadcasting. */
    public Tensor add(Tensor b) {
        return Elementwise.binary(BinaryOp.ADD, this, b);
    }

    /** {@code this - b} with broadcasting. */
    public Tensor sub(Tensor b) {
        return Elementwise.binary(BinaryOp.SUB, this, b);
    }

    /** {@code this * b} with broadcasting. */
    public Tensor mul(Tensor b) {
        return Elementwise.binary(BinaryOp.MUL, this, b);
    }

    /** {@code this / b} with broadcasting. */
    public Tensor div(Tensor b) {
        return Elementwise.binary(BinaryOp.DIV, this, b);
    }

    /** {@code this ^ b} with broadcasting. */
    public Tensor pow(Tensor b) {
        return Elementwise.binary(BinaryOp.POW, this, b);
    }

    /** Elementwise maximum with broadcasting (NaN propagates). */
    public Tensor maximum(Tensor b) {
        return Elementwise.binary(BinaryOp.MAX, this, b);
    }

    /** Elementwise minimum with broadcasting (NaN propagates). */
    public Tensor minimum(Tensor b) {
        return Elementwise.binary(BinaryOp.MIN, this, b);
    }

    /** {@code this + s}. */
    public Tensor add(double s) {
        return Elementwise.binaryScalar(BinaryOp.ADD, this, s);
    }

    /** {@code this - s}. */
    public Tensor sub(double s) {
        return Elementwise.binaryScalar(BinaryOp.SUB, this, s);
    }

    /** {@code this * s}. */
    public Tensor mul(double s) {
        return Elementwise.binaryScalar(BinaryOp.MUL, this, s);
    }

    /** {@code this / s}. */
    public Tensor div(double s) {
        return Elementwise.binaryScalar(BinaryOp.DIV, this, s);
    }

    /** {@code this ^ s}. */
    public Tensor pow(double s) {
        return Elementwise.binaryScalar(BinaryOp.POW, this, s);
    }

    /** In place {@code this += b} (b broadcast to this shape). */
    public Tensor addInPlace(Tensor b) {
        return Elementwise.binaryInPlace(BinaryOp.ADD, this, b);
    }

    /** In place {@code this -= b}. */
    public Tensor subInPlace(Tensor b) {
        return Elementwise.binaryInPlace(BinaryOp.SUB, this, b);
    }

    /** In place {@code this *= b}. */
    public Tensor mulInPlace(Tensor b) {
        return Elementwise.binaryInPlace(BinaryOp.MUL, this, b);
    }

    /** In place {@code this *= s}. */
    public Tensor mulInPlace(double s) {
        return Elementwise.binaryInPlace(BinaryOp.MUL, this, Elementwise.scalarLike(this, s));
    }

    /** In place {@code this += s}. */
    public Tensor addInPlace(double s) {
        return Elementwise.binaryInPlace(BinaryOp.ADD, this, Elementwise.scalarLike(this, s));
    }

    /** Applies a unary op into a new tensor. */
    public Tensor apply(UnaryOp op) {
        return Elementwise.unary(op, this);
    }

    /** {@code -x}. */
    public Tensor neg() {
        return apply(UnaryOp.NEG);
    }

    /** {@code e^x}. */
    public Tensor exp() {
        return apply(UnaryOp.EXP);
    }

    /** Natural log. */
    public Tensor log() {
        return apply(UnaryOp.LOG);
    }

    /** Square root. */
    public Tensor sqrt() {
        return apply(UnaryOp.SQRT);
    }

    /** {@code 1/sqrt(x)}. */
    public Tensor rsqrt() {
        return apply(UnaryOp.RSQRT);
    }

    /** {@code 1/(1+e^-x)}. */
    public Tensor sigmoid() {
        return apply(UnaryOp.SIGMOID);
    }

    /** {@code x * sigmoid(x)}. */
    public Tensor silu() {
        return apply(UnaryOp.SILU);
    }

    /** Hyperbolic tangent. */
    public Tensor tanh() {
        return apply(UnaryOp.TANH);
    }

    /** Absolute value. */
    public Tensor abs() {
        return apply(UnaryOp.ABS);
    }

    /** {@code x * x}. */
    public Tensor square() {
        return apply(UnaryOp.SQUARE);
    }

    // ---- reductions -------------------------------------------------------------------------

    /** Sum over {@code dim}. */
    public Tensor sum(int dim, boolean keepDim) {
        return Reductions.reduce(ReduceOp.SUM, this, dim, keepDim, false);
    }

    /** Sum of all elements (0-dimensional). */
    public Tensor sum() {
        return reshape(-1).sum(0, false);
    }

    /** Mean over {@code dim}. */
    public Tensor mean(int dim, boolean keepDim) {
        return Reductions.reduce(ReduceOp.SUM, this, dim, keepDim, true);
    }

    /** Mean of all elements (0-dimensional). */
    public Tensor mean() {
        return reshape(-1).mean(0, false);
    }

    /** Maximum over {@code dim} (NaN propagates). */
    public Tensor max(int dim, boolean keepDim) {
        return Reductions.reduce(ReduceOp.MAX, this, dim, keepDim, false);
    }

    /** Index (I64) of the first maximum over {@code dim}; NaN counts as the maximum, as in PyTorch. */
    public Tensor argmax(int dim, boolean keepDim) {
        return Reductions.argmax(this, dim, keepDim);
    }

    // ---- linear algebra and nn --------------------------------------------------------------

    /**
     * Matrix product with PyTorch's {@code matmul} rules: (..., M, K) x (..., K, N) with broadcast
     * batch dims; a 1-D operand is treated as a row/column vector. Transposed views are used as
     * they are, without copies. The right operand may be BF16 or F16 (weights).
     */
    public Tensor matmul(Tensor b) {
        return Linalg.matmul(this, b);
    }

    /**
     * {@link #matmul} into {@code out} (shape (..., M, N); F32, F64, BF16 or F16), not recorded by
     * autograd; returns {@code out}. A 16-bit output receives the F32 product rounded once (on a
     * GPU, two operands of its type go to cuBLAS, which writes it directly).
     */
    public Tensor matmulInto(Tensor b, Tensor out) {
        return Linalg.matmulInto(this, b, out, false);
    }

    /** Softmax over {@code dim} (stable; -inf entries get probability 0). */
    public Tensor softmax(int dim) {
        return Nn.softmax(this, dim, false);
    }

    /** Log-softmax over {@code dim}. */
    public Tensor logSoftmax(int dim) {
        return Nn.softmax(this, dim, true);
    }

    /** RMSNorm over the last dim: {@code x / sqrt(mean(x^2) + eps) * weight}, weight (C). */
    public Tensor rmsNorm(Tensor weight, double eps) {
        return Nn.rmsNorm(this, weight, eps);
    }

    /**
     * Rotary embedding on the last dim R in the interleaved-pair convention (pairs
     * {@code (x[2i], x[2i+1])} rotated by angle i); {@code cos}/{@code sin} broadcast to
     * {@code (..., R/2)}.
     */
    public Tensor rope(Tensor cos, Tensor sin) {
        return Nn.rope(this, cos, sin);
    }

    // ---- indexing ---------------------------------------------------------------------------

    /** {@code torch.index_select}: entries {@code index} (1-D integer) of dim {@code dim}. */
    public Tensor indexSelect(int dim, Tensor index) {
        return Indexing.indexSelect(this, dim, index);
    }

    /**
     * {@code torch.gather}: {@code out[..i..] = x[..index[..i..]..]} along {@code dim}. On a GPU it
     * is one kernel, whatever the dim, strides and dtype; an index already in device memory is not
     * checked there, and one out of range gives NaN (0 for an integer tensor).
     */
    public Tensor gather(int dim, Tensor index) {
        return Indexing.gather(this, dim, index);
    }

    /**
     * {@code torch.scatter_add}: a copy of this with {@code src} added at {@code index} along
     * {@code dim}. Values meeting in one element are added in index order, on a GPU too (one kernel,
     * no atomics), so the sums are the host's bit for bit; there a device index out of range is skipped.
     */
    public Tensor scatterAdd(int dim, Tensor index, Tensor src) {
        return Indexing.scatterAdd(this, dim, index, src);
    }

    /**
     * {@code torch.index_add}: a copy of this with slice j of {@code src} along {@code dim} added
     * to slice {@code index[j]} (index 1-D; repeated indices accumulate).
     */
    public Tensor indexAdd(int dim, Tensor index, Tensor src) {
        return Indexing.indexAdd(this, dim, index, src);
    }

    /** In place {@link #scatterAdd}. */
    public Tensor scatterAddInPlace(int dim, Tensor index, Tensor src) {
        return Indexing.scatterAddInPlace(this, dim, index, src);
    }

    /** The k largest (or smallest) values over {@code dim}, sorted, with their I64 indices. */
    public TopK topk(int k, int dim, boolean largest) {
        return Indexing.topk(this, k, dim, largest);
    }

    /** Values and I64 indices returned by {@link #topk}. */
    public record TopK(Tensor values, Tensor indices) {
    }

    /** Splits dim {@code dim} into views of the given sizes. */
    public List<Tensor> split(int dim, long... sizes) {
        return Indexing.split(this, dim, sizes);
    }

    /** A copy where {@code mask} (broadcast; non-zero = true) is set to {@code value}. */
    public Tensor maskedFill(Tensor mask, double value) {
        return Indexing.where(mask, Elementwise.scalarLike(this, value), this);
    }

    /** Concatenates tensors along {@code dim}. */
    public static Tensor concat(List<Tensor> parts, int dim) {
        return Indexing.concat(parts, dim);
    }

    /** {@code cond ? a : b} elementwise with broadcasting ({@code cond} non-zero = true). */
    public static Tensor where(Tensor cond, Tensor a, Tensor b) {
        return Indexing.where(cond, a, b);
    }

    /**
     * Rows of {@code weight} (V, C) picked by integer {@code ids} of any shape: (ids..., C).
     * Ids from the host are checked against V ({@link IndexOutOfBoundsException}). Ids already on
     * the weight's device, with no gradient wanted, are gathered there without the host reading
     * them (so a {@link DeviceGraph} can capture the lookup); an id outside V gives a row of NaN.
     */
    public static Tensor embedding(Tensor weight, Tensor ids) {
        return Indexing.embedding(weight, ids);
    }

    /**
     * An additive causal mask (T, S): 0 where key position {@code s <= t + offset}, -inf elsewhere.
     * {@code offset} is the number of cached positions before the first query.
     */
    public static Tensor causalMask(long t, long s, long offset) {
        return Indexing.causalMask(t, s, offset);
    }

    // ---- autograd ---------------------------------------------------------------------------

    /** Whether gradients flow to (leaf) or through (recorded result) this tensor. */
    public boolean requiresGrad() {
        return requiresGrad;
    }

    /**
     * Marks a leaf tensor (one not produced by a recorded op) as requiring gradients; returns
     * this. Gradients accumulate in {@link #grad()}.
     */
    public Tensor requiresGrad(boolean on) {
        if (gradFn != null) throw new IllegalStateException("requiresGrad can only be set on a leaf tensor; use detach()");
        if (on && !dtype.isFloating()) throw new IllegalArgumentException("only floating-point tensors can require grad, this one is " + dtype);
        requiresGrad = on;
        return this;
    }

    /** Whether this tensor is a leaf of the graph (not produced by a recorded op). */
    public boolean isLeaf() {
        return gradFn == null;
    }

    /** The accumulated gradient of a leaf (F32, or F64 for F64 leaves), or null before any backward. */
    public Tensor grad() {
        return grad;
    }

    /** Sets the accumulated gradient to zero (keeps its memory). */
    public void zeroGrad() {
        if (grad != null) {
            try (Autograd.NoGrad ng = Autograd.noGrad()) {
                grad.fillInPlace(0);
            }
        }
    }

    /** Drops the gradient tensor (its memory stays with its scope). */
    public void clearGrad() {
        grad = null;
    }

    /** The op that produced this tensor, or null for a leaf. */
    public Autograd.Node gradFn() {
        return gradFn;
    }

    /** Backpropagates from this one-element tensor (upstream gradient 1). */
    public void backward() {
        if (numel() != 1) throw new IllegalStateException("backward() without a gradient needs a one-element tensor, the shape is " + shape);
        Tensor seed = zerosLike(this, dtype == DType.F64 ? DType.F64 : DType.F32, dims());
        seed.fillInPlace(1.0);
        Autograd.backward(this, seed);
    }

    /** Backpropagates from this tensor with the given upstream gradient (same dims). */
    public void backward(Tensor gradient) {
        Autograd.backward(this, gradient);
    }

    /** A tensor sharing this one's storage, cut from the graph (no gradient flows through it). */
    public Tensor detach() {
        return viewOf(shape, offset);
    }

    @Override
    public String toString() {
        return "Tensor[" + dtype + " " + shape + (isContiguous() ? "" : " strided " + Arrays.toString(shape.strides())) + "]";
    }
}
