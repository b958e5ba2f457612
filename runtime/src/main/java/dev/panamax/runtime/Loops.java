package dev.panamax.runtime;

import java.util.ArrayList;
import java.util.List;

/**
 * Strided iteration over several operands that share one logical shape. Adjacent dimensions
 * that are contiguous for every operand are merged and size-1 dimensions dropped, so the
 * innermost "run" is as long as possible; kernels then process one run at a time.
 */
final class Loops {
    /** Receives one innermost run: the element offsets of each operand, the run length and each operand's stride in the run. */
    interface RunBody {
        void run(long[] offsets, long n, long[] incs);
    }

    /** A coalesced iteration plan. */
    static final class Plan {
        final long[] outerDims;     // outer dims, outermost first
        final long[][] outerStrides; // [operand][outer dim]
        final long inner;
        final long[] innerIncs;
        final long[] base;
        final long outerCount;

        Plan(long[] outerDims, long[][] outerStrides, long inner, long[] innerIncs, long[] base) {
            this.outerDims = outerDims;
            this.outerStrides = outerStrides;
            this.inner = inner;
            this.innerIncs = innerIncs;
            this.base = base;
            long c = 1;
            for (long d : outerDims) c *= d;
            this.outerCount = inner == 0 ? 0 : c;
        }

        /** Runs the body for outer indices {@code from..to-1}. */
        void forRange(long from, long to, RunBody body) {
            int ops = base.length;
            int r = outerDims.length;
            long[] idx = new long[r];
            long rem = from;
            for (int d = r - 1; d >= 0; d--) {
                idx[d] = rem % outerDims[d];
                rem /= outerDims[d];
            }
            long[] off = new long[ops];
            for (int o = 0; o < ops; o++) {
                long v = base[o];
                for (int d = 0; d < r; d++) v += idx[d] * outerStrides[o][d];
                off[o] = v;
            }
            long[] view = new long[ops];
            for (long it = from; it < to; it++) {
                System.arraycopy(off, 0, view, 0, ops);
                body.run(view, inner, innerIncs);
                for (int d = r - 1; d >= 0; d--) {
                    idx[d]++;
                    for (int o = 0; o < ops; o++) off[o] += outerStrides[o][d];
                    if (idx[d] < outerDims[d]) break;
                    for (int o = 0; o < ops; o++) off[o] -= outerStrides[o][d] * outerDims[d];
                    idx[d] = 0;
                }
            }
        }

        /** Runs every run, in parallel over outer indices when the work is large. */
        void forEach(RunBody body) {
            long total = outerCount * inner;
            if (total >= Parallel.PARALLEL_THRESHOLD && outerCount > 1) {
                Parallel.forRange(outerCount, Math.max(1, Parallel.PARALLEL_THRESHOLD / Math.max(inner, 1)), (a, b) -> forRange(a, b, body));
            } else {
                forRange(0, outerCount, body);
            }
        }
    }

    private Loops() {
    }

    /**
     * Plans an iteration over {@code dims}, with each operand given by its base offset and
     * strides (same rank as dims).
     */
    static Plan plan(long[] dims, long[] base, long[]... strides) {
        int ops = strides.length;
        List<long[]> keptDims = new ArrayList<>();
        List<long[]> keptStrides = new ArrayList<>(); // each entry: strides per operand
        for (int d = 0; d < dims.length; d++) {
            if (dims[d] == 1) continue;
            long[] s = new long[ops];
            for (int o = 0; o < ops; o++) s[o] = strides[o][d];
            if (!keptDims.isEmpty()) {
                long[] prevS = keptStrides.getLast();
                long prevD = keptDims.getLast()[0];
                boolean merge = true;
                for (int o = 0; o < ops; o++) {
                    if (prevS[o] != s[o] * dims[d]) {
                        merge = false;
                        break;
                    }
                }
                if (merge) {
                    keptDims.set(keptDims.size() - 1, new long[]{prevD * dims[d]});
                    keptStrides.set(keptStrides.size() - 1, s);
                    continue;
                }
            }
            keptDims.add(new long[]{dims[d]});
            keptStrides.add(s);
        }
        for (long d : dims) {
            if (d == 0) return new Plan(new long[0], new long[ops][0], 0, new long[ops], base);
        }
        if (keptDims.isEmpty()) {
            return new Plan(new long[0], new long[ops][0], 1, new long[ops], base);
        }
        int r = keptDims.size() - 1;
        long[] outer = new long[r];
        long[][] os = new long[ops][r];
        for (int d = 0; d < r; d++) {
            outer[d] = keptDims.get(d)[0];
            for (int o = 0; o < ops; o++) os[o][d] = keptStrides.get(d)[o];
        }
        long inner = keptDims.get(r)[0];
        long[] incs = keptStrides.get(r).clone();
        return new Plan(outer, os, inner, incs, base);
    }
}
