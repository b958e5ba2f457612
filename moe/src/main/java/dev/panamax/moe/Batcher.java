package dev.panamax.moe;

import dev.panamax.runtime.Autograd;
import dev.panamax.runtime.DType;
import dev.panamax.runtime.Scope;
import dev.panamax.runtime.Tensor;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;

/**
 * Continuous batching: sequences submitted from any thread join one running batch as soon as a
 * slot is free and leave it when they end, so that a sequence never waits for another to finish
 * (vLLM's and Orca's iteration-level scheduling). Between decode steps, each waiting sequence's
 * prompt is prefilled alone into its slot of the batch's KV cache; sequences admitted together
 * with one prompt (a request's n choices) share one prefill, its entries copied to each one's
 * slot. Then one decode step runs every sequence in the batch, each at its own position (its token
 * appended at its own length, attending over its own entries: {@link KvCache#lengths}), on the
 * absorbed MLA path. Each sequence draws its tokens with its own {@link Sampler} from its own row
 * of the logits, so what it generates is what {@link Generator} generates for its prompt alone
 * with that sampler (up to the rounding of a batched product, on some backends).
 *
 * <p>The work runs on one thread of the batcher's own, which alone uses the model while the
 * batcher is open; other work on the model (scoring, say) goes through {@link #call}, which runs
 * it there between steps. The cache has {@code slots} sequences and grows (its contents copied) to
 * the longest sequence admitted; it is kept until {@link #close()}. Decode steps run over the slots
 * up to the last one in use. Nothing is recorded by autograd. A failure in a step ends every
 * sequence of the batch with it; one in a prefill, only that prompt's sequences. CUDA graphs are
 * not used (the batch changes shape from step to step).
 *
 * <p>Prefix reuse: a slot keeps the entries of the sequence that last ended in it (its prompt and
 * all but its last token), and a new sequence takes the free slot whose entries share the longest
 * start with its prompt (on a tie, an empty slot, else the least recently used), so that only the
 * rest of the prompt runs through the model (at least its last token, whose logits draw the first
 * new one). A multi-turn chat, whose next prompt repeats the conversation so far, or prompts
 * behind one long system prompt, skip what they share ({@link #reusedTokens()}).
 */
public final class Batcher implements AutoCloseable {
    /**
     * Receives a sequence's tokens on the batcher's thread: it must not block (hand them to another
     * thread). One that throws ends its own sequence, which then fails with what it threw.
     */
    public interface Listener {
        /** One new token (its stop token included), in order. */
        void token(long id);

        /** The sequence has ended: {@code failure} is null after its stop token, its last token or {@link Sequence#cancel()}. */
        default void done(Throwable failure) {
        }
    }

    /** A submitted sequence: its tokens so far, and a way to end it early. */
    public static final class Sequence {
        private final long[] prompt;
        private final int maxNew;
        private final Set<Long> stop;
        private final Sampler sampler;
        private final Listener listener;
        private final List<Long> tokens = new ArrayList<>();
        private final CompletableFuture<long[]> result = new CompletableFuture<>();
        private volatile boolean cancelled;
        private RuntimeException listenerFailure;   // what its listener threw: it ends the sequence with it
        private int slot = -1, length;   // its slot, and its tokens in the cache (the position of its next one)
        private int reused;              // leading prompt tokens whose entries its slot held already

        private Sequence(long[] prompt, int maxNew, Set<Long> stop, Sampler sampler, Listener listener) {
            this.prompt = prompt;
            this.maxNew = maxNew;
            this.stop = stop;
            this.sampler = sampler;
            this.listener = listener;
        }

        /** Ends the sequence before its next token (it keeps those it has). */
        public void cancel() {
            cancelled = true;
        }

        /** Tokens generated so far. */
        public int tokensSoFar() {
            synchronized (tokens) {
                return tokens.size();
            }
        }

        /** Whether it has ended. */
        public boolean isDone() {
            return result.isDone();
        }

        /**
         * Waits for the end and returns the tokens generated (a stop token included).
         *
         * @throws IllegalStateException carrying the failure that ended it
         */
        public long[] await() throws InterruptedException {
            try {
                return result.get();
            } catch (ExecutionException e) {
                throw new IllegalStateException("generation failed: " + e.getCause().getMessage(), e.getCause());
            }
        }

        private void take(long token) {
            synchronized (tokens) {
                tokens.add(token);
            }
            if (listener == null) return;
            try {
                listener.token(token);
            } catch (RuntimeException e) {
                listenerFailure = e;   // this sequence alone ends, with it
            }
        }

        /** Whether it ends after the token just taken. */
        private boolean ends(long token) {
            return stop.contains(token) || tokens.size() >= maxNew || cancelled || listenerFailure != null;
        }

        private void finish(Throwable failure) {
            if (result.isDone()) return;
            if (failure == null) failure = listenerFailure;
            if (listener != null) {
                try {
                    listener.done(failure);
                } catch (RuntimeException e) {
                    if (failure == null) failure = e;
                }
            }
            if (failure != null) {
                result.completeExceptionally(failure);
            } else {
                long[] out;
                synchronized (tokens) {
                    out = tokens.stream().mapToLong(Long::longValue).toArray();
                }
                result.complete(out);
            }
        }
    }

    private final DeepSeekModel model;
    private final int slots;
    private final DType cacheDtype;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition work = lock.newCondition();
    private final ArrayDeque<Sequence> waiting = new ArrayDeque<>();
    private final ArrayDeque<Runnable> calls = new ArrayDeque<>();
    private final Sampler greedy = Sampler.greedy();   // the greedy rows' draw (its own: a sampler is not shared between threads)
    private final Sequence[] running;
    private final Thread thread;
    private boolean closed;
    private KvCache cache;        // (slots, capacity), made when a batch starts
    private KvCache[] prefixes;   // prefixes[n]: the first n slots as a cache of their own
    private final long[][] held;  // of each free slot, the tokens whose entries it holds (its last sequence's), or null
    private final long[] freedAt; // when each slot's last sequence ended (a count of ends): the oldest is given up first
    private long ends;
    private final AtomicLong steps = new AtomicLong(), stepRows = new AtomicLong(), prefills = new AtomicLong(),
            prefilled = new AtomicLong(), reusedTokens = new AtomicLong();

    /**
     * A batcher of up to {@code slots} sequences at once over {@code model}, with a KV cache of
     * {@code cacheDtype} (F32 or BF16) on the model's device; its thread starts here.
     */
    public Batcher(DeepSeekModel model, int slots, DType cacheDtype) {
        if (slots < 1) throw new IllegalArgumentException("a batcher needs slots >= 1, got " + slots);
        KvCache.checkDtype(cacheDtype);   // here, not when the cache is first made
        this.model = model;
        this.slots = slots;
        this.cacheDtype = cacheDtype;
        this.running = new Sequence[slots];
        this.held = new long[slots][];
        this.freedAt = new long[slots];
        thread = new Thread(this::loop, "panamax batcher");
        thread.setDaemon(true);
        thread.start();
    }

    /** The most sequences in the batch at once. */
    public int slots() {
        return slots;
    }

    /**
     * Queues a prompt: up to {@code maxNewTokens} tokens are generated after it, drawn by
     * {@code sampler} (this sequence's own: not to be shared), each handed to {@code listener} (may
     * be null) as it comes; a token of {@code stop} ends it (and is kept).
     *
     * @throws IllegalArgumentException for an empty prompt, an id outside the vocabulary,
     *                                  {@code maxNewTokens < 1}, or more positions than the model has
     * @throws IllegalStateException    once the batcher is closed
     */
    public Sequence submit(long[] prompt, int maxNewTokens, Set<Long> stop, Sampler sampler, Listener listener) {
        if (prompt.length == 0) throw new IllegalArgumentException("the prompt is empty");
        if (maxNewTokens < 1) throw new IllegalArgumentException("maxNewTokens must be >= 1, got " + maxNewTokens);
        long vocab = model.config().vocabSize();
        for (int i = 0; i < prompt.length; i++)
            if (prompt[i] < 0 || prompt[i] >= vocab) throw new IllegalArgumentException("prompt token " + i + " is " + prompt[i] + ", outside the vocabulary of " + vocab);
        model.checkPositions(0, (long) prompt.length + maxNewTokens - 1);
        Sequence s = new Sequence(prompt.clone(), maxNewTokens, Set.copyOf(stop), sampler, listener);
        lock.lock();
        try {
            if (closed) throw new IllegalStateException("the batcher is closed");
            waiting.add(s);
            work.signal();
        } finally {
            lock.unlock();
        }
        return s;
    }

    /**
     * Runs {@code task} on the batcher's thread between two steps (where it alone uses the model)
     * and returns its result.
     *
     * @throws IllegalStateException once the batcher is closed
     */
    public <T> T call(Supplier<T> task) throws InterruptedException {
        CompletableFuture<T> f = new CompletableFuture<>();
        lock.lock();
        try {
            if (closed) throw new IllegalStateException("the batcher is closed");
            calls.add(() -> {
                try {
                    f.complete(task.get());
                } catch (Throwable t) {
                    f.completeExceptionally(t);
                }
            });
            work.signal();
        } finally {
            lock.unlock();
        }
        try {
            return f.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof RuntimeException r) throw r;
            if (e.getCause() instanceof Error err) throw err;
            throw new IllegalStateException(e.getCause());
        }
    }

    /** Decode steps run so far. */
    public long steps() {
        return steps.get();
    }

    /** Prompts run through the model so far (sequences admitted together with one prompt share one). */
    public long prefills() {
        return prefills.get();
    }

    /** Prompt tokens run through the model by those prefills. */
    public long prefilledTokens() {
        return prefilled.get();
    }

    /** Prompt tokens not run through the model: their entries were in the slot already, left by its last sequence (prefix reuse). */
    public long reusedTokens() {
        return reusedTokens.get();
    }

    /** Sequences decoded in those steps, summed over them (over {@link #steps()}: the mean batch). */
    public long stepRows() {
        return stepRows.get();
    }

    private void loop() {
        try (Autograd.NoGrad ng = Autograd.noGrad()) {
            while (true) {
                Runnable call;
                List<Sequence> admitted = new ArrayList<>();
                lock.lock();
                try {
                    while (!closed && calls.isEmpty() && waiting.isEmpty() && active() == 0) work.awaitUninterruptibly();
                    if (closed) break;
                    call = calls.poll();
                    while (call == null && !waiting.isEmpty()) {
                        // the free slot that holds the longest start of the prompt; on a tie, one that holds
                        // nothing, else the one whose entries are oldest (least recently used), else the lowest
                        int slot = -1, best = -1;
                        for (int i = 0; i < slots; i++) {
                            if (running[i] != null) continue;
                            int shared = shared(held[i], waiting.peek().prompt);
                            if (shared > best || shared == best && held[slot] != null && (held[i] == null || freedAt[i] < freedAt[slot])) {
                                slot = i;
                                best = shared;
                            }
                        }
                        if (slot < 0) break;
                        Sequence s = waiting.poll();
                        s.slot = slot;
                        s.reused = best;
                        held[slot] = null;
                        running[slot] = s;
                        admitted.add(s);
                    }
                } finally {
                    lock.unlock();
                }
                if (call != null) {
                    call.run();
                    continue;
                }
                for (int i = 0; i < admitted.size(); i++) {
                    List<Sequence> same = new ArrayList<>();   // admitted now with the same prompt: prefilled once
                    for (int j = admitted.size() - 1; j > i; j--) {
                        if (Arrays.equals(admitted.get(j).prompt, admitted.get(i).prompt)) same.addFirst(admitted.remove(j));
                    }
                    same.addFirst(admitted.get(i));
                    prefill(same);
                }
                if (active() > 0) step();
            }
        } finally {
            shutDown();
        }
    }

    /** Sequences in the batch. */
    private int active() {
        int n = 0;
        for (Sequence s : running) if (s != null) n++;
        return n;
    }

    /**
     * New sequences of one prompt: the prompt run into the first one's slot (the cache grown to
     * hold them all), its entries copied to the others' slots, and each one's first token drawn
     * from the same logits with its own sampler (n choices of one prompt cost one prefill).
     */
    private void prefill(List<Sequence> same) {
        same.removeIf(s -> {
            if (s.cancelled) end(s, null);
            return s.cancelled;
        });
        if (same.isEmpty()) return;
        Sequence first = same.getFirst();
        int n = first.prompt.length;
        try (Scope step = Scope.open()) {
            int most = 0;
            for (Sequence s : same) most = Math.max(most, n + s.maxNew - 1);
            ensureCapacity(most);
            Tensor logits;
            int from = first.reused;   // the entries before it are in the slot already: its last sequence's
            try (KvCache one = cache.rows(first.slot, 1)) {
                one.advance(from);
                long[] rest = Arrays.copyOfRange(first.prompt, from, n);
                logits = model.forward(Tensor.ofLongs(rest, 1, rest.length), from, one, Mla.ABSORBED, true, null);
            }
            prefills.incrementAndGet();
            prefilled.addAndGet(n - from);
            reusedTokens.addAndGet(from);
            for (Sequence s : same) {
                if (s != first) cache.copySequence(first.slot, s.slot, n);
                long token = s.sampler.sample(logits, new boolean[1])[0];
                s.length = n;
                s.take(token);
                if (s.ends(token)) end(s, null);
            }
        } catch (RuntimeException | Error e) {
            for (Sequence s : same) end(s, e);
        }
    }

    /** One decode step of every sequence in the batch, each at its own position. */
    private void step() {
        int n = 0;
        for (int i = 0; i < slots; i++) if (running[i] != null) n = i + 1;
        long[] ids = new long[n];
        int[] lengths = new int[n];
        for (int i = 0; i < n; i++) {
            Sequence s = running[i];
            if (s == null) {   // a free slot in the prefix: fed token 0 just past the entries it holds, its result unused
                int keep = held[i] == null ? 0 : Math.min(held[i].length, cache.maxLength() - 1);
                if (held[i] != null && keep < held[i].length) held[i] = Arrays.copyOf(held[i], keep);
                lengths[i] = keep;
                continue;
            }
            synchronized (s.tokens) {
                ids[i] = s.tokens.getLast();
            }
            lengths[i] = s.length;
        }
        try (Scope step = Scope.open()) {
            KvCache batch = prefix(n);
            batch.lengths(lengths);
            Tensor logits = model.forward(Tensor.ofLongs(ids, n, 1), batch.length(), batch, Mla.ABSORBED, true, null);
            long[] best = null;   // every row's most likely token, drawn at once (one read-back on a device) where any sequence is greedy
            for (int i = 0; i < n && best == null; i++) if (running[i] != null && running[i].sampler.isGreedy()) best = greedy.sample(logits, null);
            int rows = 0;
            for (int i = 0; i < n; i++) {
                Sequence s = running[i];
                if (s == null) continue;
                rows++;
                s.length++;
                if (s.cancelled) {
                    end(s, null);
                    continue;
                }
                long token = s.sampler.isGreedy() ? best[i] : s.sampler.sample(logits.narrow(0, i, 1), new boolean[1])[0];
                s.take(token);
                if (s.ends(token)) end(s, null);
            }
            stepRows.addAndGet(rows);
            steps.incrementAndGet();
        } catch (RuntimeException | Error e) {
            for (Sequence s : running) if (s != null) end(s, e);
        }
    }

    /**
     * Ends a sequence and frees its slot, which keeps its entries (its prompt and all but its last
     * token) for a later prompt that starts the same way; after a failure, none.
     */
    private void end(Sequence s, Throwable failure) {
        lock.lock();
        try {
            if (s.slot >= 0 && running[s.slot] == s) {
                running[s.slot] = null;
                held[s.slot] = failure != null ? null : entries(s);
                freedAt[s.slot] = ++ends;
            }
        } finally {
            lock.unlock();
        }
        s.finish(failure);
    }

    /** The tokens whose entries a sequence's slot holds: the first {@code length} of its prompt and tokens. */
    private static long[] entries(Sequence s) {
        long[] out = Arrays.copyOf(s.prompt, s.length);
        synchronized (s.tokens) {
            for (int i = s.prompt.length; i < s.length; i++) out[i] = s.tokens.get(i - s.prompt.length);
        }
        return out;
    }

    /** How many leading tokens of {@code prompt} a slot holding {@code entries} can skip: all they share, but its last token. */
    private static int shared(long[] entries, long[] prompt) {
        if (entries == null) return 0;
        int most = Math.min(entries.length, prompt.length - 1), i = 0;
        while (i < most && entries[i] == prompt[i]) i++;
        return i;
    }

    /** The first n slots as a cache (made once for each n, while the cache lasts). */
    private KvCache prefix(int n) {
        if (prefixes[n] == null) prefixes[n] = cache.rows(0, n);
        return prefixes[n];
    }

    /**
     * A cache of at least {@code length} positions a slot: made when there is none, or grown (to
     * twice its capacity at least, the entries of the sequences in it copied) when it is shorter.
     */
    private void ensureCapacity(int length) {
        int capacity = Math.max(length, 16);
        if (cache != null && cache.maxLength() >= length) return;
        KvCache grown;
        if (cache == null) {
            grown = new KvCache(model.config(), slots, capacity, model.device(), cacheDtype);
        } else {
            capacity = (int) Math.min(Math.max(capacity, 2L * cache.maxLength()), model.config().maxPositionEmbeddings());
            grown = new KvCache(model.config(), slots, capacity, model.device(), cacheDtype);
            try (Scope s = Scope.open()) {
                grown.copyEntries(cache);
            } catch (RuntimeException | Error e) {
                grown.close();
                throw e;
            }
        }
        freeCache();
        cache = grown;
        prefixes = new KvCache[slots + 1];
    }

    /** Frees the cache (and its prefixes). */
    private void freeCache() {
        if (prefixes != null) for (KvCache p : prefixes) if (p != null) p.close();
        prefixes = null;
        if (cache != null) cache.close();
        cache = null;
        Arrays.fill(held, null);
    }

    private void shutDown() {
        List<Sequence> left = new ArrayList<>();
        List<Runnable> callsLeft;
        lock.lock();
        try {
            closed = true;
            left.addAll(waiting);
            waiting.clear();
            for (int i = 0; i < slots; i++) {
                if (running[i] != null) left.add(running[i]);
                running[i] = null;
            }
            callsLeft = new ArrayList<>(calls);
            calls.clear();
        } finally {
            lock.unlock();
        }
        IllegalStateException gone = new IllegalStateException("the batcher was closed");
        for (Sequence s : left) s.finish(gone);
        for (Runnable c : callsLeft) c.run();   // run, not dropped: their callers wait for them
        freeCache();
    }

    /**
     * Stops the batcher: sequences not yet ended fail ("the batcher was closed"), the thread ends,
     * the cache is freed. The model is not closed. Idempotent; not to be called from a listener.
     */
    @Override
    public void close() {
        lock.lock();
        try {
            closed = true;
            work.signalAll();
        } finally {
            lock.unlock();
        }
        boolean interrupted = false;
        while (thread.isAlive()) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) Thread.currentThread().interrupt();
    }

    @Override
    public String toString() {
        return "Batcher[" + slots + " slots, " + Arrays.stream(running).filter(s -> s != null).count() + " running]";
    }
}
