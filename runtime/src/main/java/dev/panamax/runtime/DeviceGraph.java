package dev.panamax.runtime;

import java.util.Objects;

/**
 * A step of device work recorded once and replayed many times: on a CUDA GPU, a CUDA graph, so
 * that a replay costs one launch however many kernels the step makes (a decode step makes dozens,
 * each otherwise a launch and the Java work that prepares it).
 *
 * <pre>{@code
 * Tensor in = Tensor.zeros(Device.cuda(), DType.F32, 4), out = Tensor.zeros(Device.cuda(), DType.F32, 4);
 * try (DeviceGraph g = DeviceGraph.capture(Device.cuda(), () -> out.copyFrom(in.mul(2).exp()))) {
 *     for (float[] x : inputs) {
 *         in.copyFrom(Tensor.of(x, 4));     // inputs go in before the replay
 *         g.replay();
 *         use(out.toFloatArray());          // results come out after it
 *     }
 * }
 * }</pre>
 *
 * <p>The contract of the body: it reads its inputs from tensors that exist before the capture
 * and writes its results into such tensors ({@link Tensor#copyFrom}); the tensors it makes are
 * scoped to it. It must not copy to or from the host, or wait for the device: on a GPU the body
 * is not run while it is recorded, so such calls throw {@link IllegalStateException}. Every
 * replay computes from the inputs' contents at that time; the kernels' shapes, pointers and
 * scalar arguments are those of the capture. The tensors the body reads and writes must outlive
 * the graph, and no other thread may use the device while a capture is open.
 *
 * <p>On a GPU the memory the body's own tensors had stays reserved for the graph until
 * {@link #close()}. Where the device has no graphs (the CPU, the emulated device) nothing is
 * recorded, and each replay runs the body again in a scope of its own, with the same results.
 */
public final class DeviceGraph implements AutoCloseable {
    private final Runnable body;
    private final DeviceBackend.Replayable graph;
    private boolean closed;

    private DeviceGraph(Runnable body, DeviceBackend.Replayable graph) {
        this.body = body;
        this.graph = graph;
    }

    /**
     * Records {@code body}'s work on {@code device} (see the class comment); nothing runs until
     * {@link #replay()}.
     *
     * @throws IllegalStateException when the body copies to or from the host or waits for the GPU
     *                               (it is not recorded; the device is left as it was)
     */
    public static DeviceGraph capture(Device device, Runnable body) {
        Objects.requireNonNull(body, "body");
        DeviceBackend b = device.backend();
        DeviceBackend.Replayable g = b == null ? null : b.captureGraph(() -> {
            try (Scope s = Scope.open()) {
                body.run();
            }
        });
        return new DeviceGraph(body, g);
    }

    /** Whether the work is a recorded graph (a CUDA GPU), rather than the body run again on each replay. */
    public boolean isRecorded() {
        return graph != null;
    }

    /** The recorded graph's nodes (kernel launches, copies, memsets); 0 where nothing is recorded. */
    public long nodes() {
        return graph == null ? 0 : graph.nodes();
    }

    /** Runs the step again: on a GPU, queues the whole graph with one launch (read results as usual, which waits). */
    public void replay() {
        if (closed) throw new IllegalStateException("the device graph has been closed");
        if (graph != null) {
            graph.replay();
            return;
        }
        try (Scope s = Scope.open()) {
            body.run();
        }
    }

    /** Frees the graph and the memory reserved for it (after the replays queued so far). Idempotent. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        if (graph != null) graph.close();
    }
}
