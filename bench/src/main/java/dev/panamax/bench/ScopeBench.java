package dev.panamax.bench;

import dev.panamax.runtime.Parallel;
import dev.panamax.runtime.Scope;
import dev.panamax.runtime.Tensor;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

import java.util.concurrent.TimeUnit;

/**
 * What a {@link Scope} costs to open and close around the small host copies of a decode step (a
 * few token ids to upload, a read-back):
 * <ul>
 *   <li>{@code shared}: a scope from {@link Scope#open()} holding one small host tensor. Its close
 *       closes a shared arena, a handshake with every Java thread;</li>
 *   <li>{@code confined} (the baseline): the same tensor in a scope from {@link Scope#openConfined()};</li>
 *   <li>{@code deviceOnly}: a scope from {@link Scope#open()} that allocates no host memory, as a
 *       step that holds only device tensors. It makes no arena, so it closes like the baseline.</li>
 * </ul>
 * The runtime's worker threads are started first (a parallel loop), as in any program that has
 * run a large op: they are among the threads the handshake visits. Trap avoided: the tensor is
 * written, read back and its value returned, so the allocation is not optimised away.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED"})
@State(org.openjdk.jmh.annotations.Scope.Benchmark)
public class ScopeBench {
    /** Worker threads of the runtime's pool. */
    @Param({"2"})
    public int threads;

    /** Starts the runtime's worker threads. */
    @Setup(Level.Trial)
    public void setup() {
        Parallel.setThreads(threads);
        Parallel.forRange(1 << 20, 1, (from, to) -> { });
    }

    /** A shared scope around one host tensor. */
    @Benchmark
    public long shared() {
        try (Scope s = Scope.open()) {
            return Tensor.ofLongs(new long[]{42}, 1, 1).getLong(0, 0);
        }
    }

    /** The baseline: a confined scope around the same tensor. */
    @Benchmark
    public long confined() {
        try (Scope s = Scope.openConfined()) {
            return Tensor.ofLongs(new long[]{42}, 1, 1).getLong(0, 0);
        }
    }

    /** A shared scope with no host allocation. */
    @Benchmark
    public long deviceOnly() {
        try (Scope s = Scope.open()) {
            return s.bytes();
        }
    }
}
