package dev.panamax.moe;

import dev.panamax.runtime.Autograd;
import dev.panamax.runtime.DType;
import dev.panamax.runtime.DeviceGraph;
import dev.panamax.runtime.Scope;
import dev.panamax.runtime.Tensor;

/**
 * Decode steps of a model on a GPU, each replayed as one CUDA graph ({@link DeviceGraph}): a
 * step of the V2-Lite-shaped model is dozens of kernels, and launching them one by one from Java
 * costs far more host time than the GPU spends running them. The step reads everything that
 * changes from device memory (the token ids, and the cache's positions: see
 * {@link KvCache}), so the same graph serves every position.
 *
 * <pre>{@code
 * try (KvCache cache = new KvCache(model.config(), 1, 4096, model.device(), DType.BF16);
 *      DecodeGraph decode = new DecodeGraph(model, cache)) {
 *     Tensor logits = model.forward(promptIds, 0, cache, Mla.ABSORBED, true, null);
 *     for (int i = 0; i < 100; i++) {
 *         long[] next = sampler.sample(logits, null);   // drawn on the device
 *         logits = decode.step(next);
 *     }
 * }
 * }</pre>
 *
 * <p>The first step runs as an ordinary forward pass (compiling kernels and filling the memory
 * pools) and the graph is captured right after it; later steps replay it. Each gives the logits
 * an ordinary {@link DeepSeekModel#forward} would, bit for bit, and advances the cache by one
 * token. The routing of the last step ({@link Gate#expertLoad()}) is not kept. Elsewhere than on
 * a GPU each step simply runs the forward pass. Not thread-safe; close it before its cache.
 */
public final class DecodeGraph implements AutoCloseable {
    /** System property: {@code false} makes {@link Generator} decode without graphs. */
    public static final String PROPERTY = "panamax.decodeGraph";

    private final DeepSeekModel model;
    private final KvCache cache;
    private final Scope scope = Scope.longLived("decode graph");
    private final Tensor ids, logits;
    private DeviceGraph graph;

    /**
     * Decode steps of {@code model} over {@code cache}, which must be on the model's device.
     *
     * @throws IllegalArgumentException when the cache is elsewhere
     */
    public DecodeGraph(DeepSeekModel model, KvCache cache) {
        if (!cache.device().equals(model.device())) throw new IllegalArgumentException("the KV cache is on " + cache.device() + ", the model on " + model.device());
        this.model = model;
        this.cache = cache;
        try (var e = scope.enter()) {
            ids = Tensor.zeros(model.device(), DType.I64, cache.batch(), 1);
            logits = Tensor.zeros(model.device(), DType.F32, cache.batch(), 1, model.config().vocabSize());
        }
    }

    /** Whether a graph has been recorded (after the first step, on a GPU). */
    public boolean isRecorded() {
        return graph != null && graph.isRecorded();
    }

    /** The recorded graph's nodes (kernel launches, copies, memsets); 0 before it is recorded or where nothing is. */
    public long nodes() {
        return graph == null ? 0 : graph.nodes();
    }

    /**
     * Decodes one token per sequence at the cache's length and marks it cached.
     *
     * @param tokens one token id per sequence of the cache's batch
     * @return logits (B, 1, V) F32 on the model's device, overwritten by the next step
     * @throws IllegalArgumentException for a wrong count of tokens or an id outside the vocabulary
     * @throws IllegalStateException    when the cache is full
     */
    public Tensor step(long[] tokens) {
        if (tokens.length != cache.batch()) throw new IllegalArgumentException("a decode step takes " + cache.batch() + " tokens, one a sequence; got " + tokens.length);
        long v = model.config().vocabSize();
        for (long t : tokens) if (t < 0 || t >= v) throw new IllegalArgumentException("token id " + t + " out of range for a vocabulary of " + v);
        return run(() -> {
            try (Scope host = Scope.openConfined()) {   // the ids' host copy, on this thread only
                ids.copyFrom(Tensor.ofLongs(tokens, tokens.length, 1));
            }
        });
    }

    /**
     * Decodes one token per sequence whose ids are already on the model's device, such as
     * {@link Sampler#sampleTensor}'s, without reading them: the step is queued behind them, and
     * the host can read them later ({@link Tensor#readLater()}) while the GPU runs it. The ids are
     * not checked against the vocabulary (that would read them): an embedding row out of range
     * reads as NaN.
     *
     * @param tokens I64 ids, one per sequence of the cache's batch (B, or (B, 1)), on the model's device
     * @return logits (B, 1, V) F32 on the model's device, overwritten by the next step
     * @throws IllegalArgumentException for ids of another dtype, count or device
     * @throws IllegalStateException    when the cache is full
     */
    public Tensor step(Tensor tokens) {
        if (tokens.dtype() != DType.I64 || tokens.numel() != cache.batch() || !tokens.device().equals(model.device()))
            throw new IllegalArgumentException("a decode step takes " + cache.batch() + " I64 token ids on " + model.device() + ", one a sequence; got "
                    + tokens.dtype() + tokens.shape() + " on " + tokens.device());
        return run(() -> ids.copyFrom(tokens.reshape(cache.batch(), 1)));
    }

    /** Writes the step's ids by {@code writeIds}, then runs (or records, then replays) the step. */
    private Tensor run(Runnable writeIds) {
        cache.checkRoom(1);
        model.checkPositions(cache.length(), 1);
        try (Scope s = Scope.open(); Autograd.NoGrad ng = Autograd.noGrad()) {   // what the step allocates (no host memory at a replay)
            writeIds.run();
            cache.positions();   // rewritten here (a small upload) if the length moved: a graph reads, never uploads
            if (graph != null) {
                graph.replay();
            } else {
                try (Scope eager = Scope.open()) {   // freed before the capture, which takes the same blocks from the pools
                    logits.copyFrom(stepLogits());     // and compiles the kernels
                }
                graph = DeviceGraph.capture(model.device(), () -> logits.copyFrom(stepLogits()));
            }
        }
        cache.advance(1);
        return logits;
    }

    /** The step's logits (run under {@link #step}'s no-grad, at the capture and at every replay off a GPU). */
    private Tensor stepLogits() {
        return model.logits(ids, cache.length(), cache, Mla.ABSORBED, true, false, null);
    }

    /** Frees the graph and the step's buffers (after the work queued so far). Idempotent. */
    @Override
    public void close() {
        try {
            if (graph != null) graph.close();
        } finally {
            graph = null;
            scope.close();
        }
    }
}
