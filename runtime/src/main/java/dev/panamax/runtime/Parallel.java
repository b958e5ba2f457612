package dev.panamax.runtime;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinWorkerThread;
import java.util.concurrent.RecursiveAction;

/**
 * The runtime's own worker pool. Its size is the system property {@code panamax.threads}
 * (default: the number of available processors) and can be changed with {@link #setThreads}.
 * Work is split into ranges; the calling thread takes part.
 */
public final class Parallel {
    /** Element count below which elementwise work runs on the calling thread. */
    static final long PARALLEL_THRESHOLD = 1 << 16;

    /** Body of a parallel loop over {@code [from, to)}. */
    @FunctionalInterface
    public interface RangeBody {
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
                    p = new ForkJoinPool(Math.max(1, threads), fj -> {
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
        long per = (n + chunks - 1) / chunks;
        pool().invoke(new Split(body, 0, n, per));
    }

    /** Runs {@code body} once for each task index in {@code [0, tasks)}, spread over the pool. */
    public static void forEachTask(int tasks, RangeBody body) {
        if (tasks <= 1 || threads == 1 || ForkJoinTask.inPool()) {
            body.run(0, tasks);
            return;
        }
        pool().invoke(new Split(body, 0, tasks, 1));
    }

    private static final class ForkJoinTask {
        static boolean inPool() {
            return Thread.currentThread() instanceof ForkJoinWorkerThread w && w.getName().startsWith("panamax-worker-");
        }
    }

    private static final class Split extends RecursiveAction {
        private final RangeBody body;
        private final long from;
        private final long to;
        private final long per;

        Split(RangeBody body, long from, long to, long per) {
            this.body = body;
            this.from = from;
            this.to = to;
            this.per = per;
        }

        @Override
        protected void compute() {
            long len = to - from;
            if (len <= per) {
                body.run(from, to);
                return;
            }
            long pieces = (len + per - 1) / per;
            long mid = from + (pieces / 2) * per;
            invokeAll(new Split(body, from, mid, per), new Split(body, mid, to, per));
        }
    }
}
