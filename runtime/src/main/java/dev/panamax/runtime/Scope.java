package dev.panamax.runtime;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An explicit lifetime for off-heap tensor memory.
 *
 * <p>Every tensor that an op or a factory creates is allocated in the <em>current</em> scope of
 * the calling thread: the innermost scope opened with {@link #open()} (or entered with
 * {@link #enter()}), or the process-wide {@link #global()} scope when none is open. Closing a
 * scope frees all its memory at once; tensors allocated in it must not be used afterwards
 * (accessing them throws {@link IllegalStateException}, never crashes the JVM).
 *
 * <pre>{@code
 * try (Scope step = Scope.open()) {        // activations and scratch of one step
 *     Tensor y = x.matmul(w).silu();
 * }                                         // all freed here
 * }</pre>
 *
 * <p>Long-lived memory (model weights, KV caches) goes into a scope made with
 * {@link #longLived(String)}, which is not current until entered and lives until closed.
 * Nothing here relies on the garbage collector: {@link #offHeapBytes()} reports exactly what is
 * held. Scopes from {@link #open()} and {@link #longLived(String)} are backed by shared arenas,
 * so kernels may touch their memory from the runtime's worker threads; opening and closing is
 * confined to one thread by convention.
 *
 * <p>Closing a shared arena costs a handshake with every Java thread: 60-80 us on a 2-core
 * machine ({@code ScopeBench} in bench/RESULTS.md), more than the host work of a GPU decode step
 * replayed as a CUDA graph. So such a scope makes its arena at its first host allocation, and a
 * scope that holds only device memory closes with no handshake. For host copies that live on one
 * thread only (a small upload, a read-back), {@link #openConfined()} gives a scope whose arena is
 * confined to the opening thread and closes in well under a microsecond.
 */
public final class Scope implements AutoCloseable {
    private static final AtomicLong ALLOCATED = new AtomicLong();
    private static final AtomicLong SHARED_ARENAS = new AtomicLong();
    private static final ThreadLocal<ArrayDeque<Scope>> STACK = ThreadLocal.withInitial(ArrayDeque::new);
    private static final Scope GLOBAL = new Scope("global", true, false);

    private final String name;
    private final boolean global;
    /** Host memory; a shared scope makes it at its first host allocation (guarded by {@code this}). */
    private volatile Arena arena;
    private final AtomicLong bytes = new AtomicLong();
    private final AtomicLong deviceBytes = new AtomicLong();
    /** Device memory of this scope: backend and pointer pairs, returned at close. */
    private final java.util.List<Object[]> deviceBlocks = new java.util.ArrayList<>();
    private volatile boolean closed;

    private Scope(String name, boolean global, boolean confined) {
        this.name = name;
        this.global = global;
        this.arena = global ? Arena.global() : confined ? Arena.ofConfined() : null;
    }

    /** Opens a new scope and makes it current on this thread until it is closed. */
    public static Scope open() {
        return push(new Scope("scope", false, false));
    }

    /**
     * Opens a new scope whose host memory only this thread may touch, and makes it current on this
     * thread until it is closed. Its close costs no handshake with other threads, so it suits host
     * copies made and used on this thread: a small tensor to upload, a device tensor read back.
     * An op that hands its memory to the runtime's worker threads (large host ops do) fails with
     * {@link WrongThreadException}; use {@link #open()} for those. Device memory allocated in it
     * behaves as in any scope.
     */
    public static Scope openConfined() {
        return push(new Scope("confined scope", false, true));
    }

    private static Scope push(Scope s) {
        STACK.get().push(s);
        return s;
    }

    /**
     * A scope for memory that outlives steps (weights, caches). It is not current: allocate in
     * it inside {@code try (var e = scope.enter()) { ... }}. Close it when done.
     */
    public static Scope longLived(String name) {
        return new Scope(name, false, false);
    }

    /** The process-wide scope used when none is open. It is never freed. */
    public static Scope global() {
        return GLOBAL;
    }

    /** The innermost open scope of this thread, or {@link #global()}. */
    public static Scope current() {
        Scope s = STACK.get().peek();
        return s == null ? GLOBAL : s;
    }

    /**
     * How many shared arenas scopes have made since the JVM started: one for each scope from
     * {@link #open()} or {@link #longLived(String)} that allocated host memory. Each costs a handshake
     * with every thread when its scope closes, so a hot loop (a decode step) should add none. For
     * tests and diagnostics.
     */
    public static long sharedArenasMade() {
        return SHARED_ARENAS.get();
    }

    /** Bytes currently held by all scopes (tensor memory; memory-mapped files are not counted). */
    public static long offHeapBytes() {
        return ALLOCATED.get();
    }

    /** Makes this scope current on this thread until the returned handle is closed. */
    public Entered enter() {
        checkOpen();
        STACK.get().push(this);
        return new Entered(this);
    }

    /** Handle returned by {@link #enter()}; closing it restores the previous current scope. */
    public static final class Entered implements AutoCloseable {
        private final Scope scope;
        private boolean done;

        private Entered(Scope scope) {
            this.scope = scope;
        }

        @Override
        public void close() {
            if (done) return;
            done = true;
            popExpect(scope);
        }
    }

    private static void popExpect(Scope s) {
        ArrayDeque<Scope> st = STACK.get();
        if (st.peek() != s) {
            throw new IllegalStateException("scopes must be closed innermost first (closing " + s.name + " while " + (st.peek() == null ? "none" : st.peek().name) + " is current)");
        }
        st.pop();
    }

    /** Allocates {@code size} zeroed bytes aligned to 64 bytes. */
    MemorySegment allocate(long size) {
        checkOpen();
        MemorySegment seg = arena().allocate(Math.max(size, 1), 64);
        bytes.addAndGet(size);
        ALLOCATED.addAndGet(size);
        return seg.asSlice(0, size);
    }

    /**
     * Allocates {@code size} bytes of device memory on {@code backend} that this scope returns
     * to the device's caching allocator when it closes.
     */
    long allocateDevice(DeviceBackend backend, long size) {
        checkOpen();
        long p = backend.allocate(size);
        synchronized (deviceBlocks) {
            deviceBlocks.add(new Object[]{backend, p});
        }
        deviceBytes.addAndGet(size);
        return p;
    }

    /** Device bytes held by this scope (tensors on GPUs). */
    public long deviceBytes() {
        return deviceBytes.get();
    }

    /** Bytes held by this scope. */
    public long bytes() {
        return bytes.get();
    }

    /** Whether the scope has been closed. */
    public boolean isClosed() {
        return closed;
    }

    /** The arena backing this scope's host memory, made now if this is its first. */
    private Arena arena() {
        Arena a = arena;
        if (a != null) return a;
        synchronized (this) {
            checkOpen();   // after close, no arena may be made that nothing would close
            if (arena == null) {
                arena = Arena.ofShared();
                SHARED_ARENAS.incrementAndGet();
            }
            return arena;
        }
    }

    private void checkOpen() {
        if (closed) throw new IllegalStateException("scope " + name + " is closed");
    }

    /**
     * Frees all memory of this scope. A scope opened with {@link #open()} must be the current one.
     * Closing twice is a no-op; the global scope cannot be closed.
     */
    @Override
    public void close() {
        if (global) throw new IllegalStateException("the global scope cannot be closed");
        if (closed) return;
        ArrayDeque<Scope> st = STACK.get();
        if (st.contains(this)) popExpect(this);
        closed = true;
        ALLOCATED.addAndGet(-bytes.getAndSet(0));
        synchronized (deviceBlocks) {
            for (Object[] b : deviceBlocks) ((DeviceBackend) b[0]).release((Long) b[1]);
            deviceBlocks.clear();
        }
        deviceBytes.set(0);
        Arena a;
        synchronized (this) {
            a = arena;
        }
        if (a != null) a.close();
    }

    @Override
    public String toString() {
        return "Scope[" + name + ", " + bytes.get() + " bytes" + (deviceBytes.get() > 0 ? ", " + deviceBytes.get() + " device bytes" : "")
                + (closed ? ", closed" : "") + "]";
    }
}
