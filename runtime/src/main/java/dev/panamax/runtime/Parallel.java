package dev.panamax.runtime;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinWorkerThread;

/**
 * The runtime's own worker pool. Its size is the system property {@code panamax.threads}
 * (default: the number of available processors) and can be changed with {@link #setThreads}.
 * Work is split into ranges; the calling thread takes the first range and the pool's
 * {@code threads - 1} workers the others.
 */
public final class Parallel {
    /** Element count below which elementwise work runs on the calling thread. */
    static final long PARALLEL_THRESHOLD = 1 << 16;

    /** Body of a parallel loop over {@code [from, to)}. */
    @FunctionalInterface
    public interface RangeBody {
        /** Does the work of indices {@code [from, to)}. */
        void run(long from, long to);
    }

    private static volatile ForkJoinPool pool;
    private static volatile int threads = initialThreads();

    private Parallel() {
    }

    private static int initialThreads() {
        String p = System.getProperty("panamax.threads");
        int n = Runtime.getRuntime().availableProcessors();
        if (p != null && !p.isBlank()) {
            try {
                n = Integer.parseInt(p.trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("system property panamax.threads must be a positive integer, got \"" + p + "\"");
            }
            if (n < 1) throw new IllegalArgumentException("system property panamax.threads must be >= 1, got " + n);
        }
        return n;
    }

    /** The number of threads kernels use (the caller included). */
    public static int threads() {
        return threads;
    }

    /** Sets the number of threads kernels use; 1 runs everything on the calling thread. */
    public static synchronized void setThreads(int n) {
        if (n < 1) throw new IllegalArgumentException("threads must be >= 1, got " + n);
        if (n != threads) {
            ForkJoinPool old = pool;
            pool = null;
            threads = n;
            if (old != null) old.shutdown();
        }
    }

    private static ForkJoinPool pool() {
        ForkJoinPool p = pool;
        if (p == null) {
            synchronized (Parallel.class) {
                p = pool;
                if (p == null) {
                    p = new ForkJoinPool(Math.max(1, threads - 1), fj -> {
                        ForkJoinWorkerThread t = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(fj);
                        t.setName("panamax-worker-" + t.getPoolIndex());
                        t.setDaemon(true);
                        return t;
                    }, null, false);
                    pool = p;
                }
            }
        }
        return p;
    }

    /**
     * Runs {@code body} over {@code [0, n)} split into at most {@link #threads()} ranges of at
     * least {@code grain} elements each.
     */
    public static void forRange(long n, long grain, RangeBody body) {
        int t = threads;
        long chunks = Math.min(t, Math.max(1, n / Math.max(1, grain)));
        if (chunks <= 1 || t == 1 || ForkJoinTask.inPool()) {
            body.run(0, n);
            return;
        }
        runChunks(n, (int) chunks, body);
    }

    /** Runs {@code body} once for each task index in {@code [0, tasks)}, spread over the pool. */
    public static void forEachTask(int tasks, RangeBody body) {
        if (tasks <= 1 || threads == 1 || ForkJoinTask.inPool()) {
            body.run(0, tasks);
            return;
        }
        runChunks(tasks, Math.min(tasks, threads), body);
    }

    /**
     * Splits {@code [0, n)} into {@code chunks} ranges: all but the first go to the pool, the first
     * runs on the calling thread, which then waits for the rest. The caller works instead of idling,
     * and one fewer worker has to wake up (a wake-up costs tens of microseconds, which adds up over
     * the hundreds of small ops of a decode step).
     */
    private static void runChunks(long n, int chunks, RangeBody body) {
        ForkJoinPool p = pool();
        java.util.concurrent.ForkJoinTask<?>[] rest = new java.util.concurrent.ForkJoinTask<?>[chunks - 1];
        for (int c = 1; c < chunks; c++) {
            long from = n * c / chunks, to = n * (c + 1) / chunks;
            rest[c - 1] = p.submit(() -> body.run(from, to));
        }
        Throwable failure = null;
        try {
            body.run(0, n / chunks);
        } catch (RuntimeException | Error e) {
            failure = e;
        }
        for (java.util.concurrent.ForkJoinTask<?> f : rest) {
            try {
                f.join();
            } catch (RuntimeException | Error e) {
                if (failure == null) failure = e;
            }
        }
        if (failure instanceof RuntimeException re) throw re;
        if (failure instanceof Error er) throw er;
    }

    private static final class ForkJoinTask {
        static boolean inPool() {
            return Thread.currentThread() instanceof ForkJoinWorkerThread w && w.getName().startsWith("panamax-worker-");
        }
    }
}
