package dev.panamax.runtime;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reverse-mode automatic differentiation over the runtime's ops.
 *
 * <p>An op whose inputs include a tensor that {@linkplain Tensor#requiresGrad() requires grad}
 * records a {@link Node} on its output: the inputs and a {@link Backward} function, written next
 * to the op's forward. {@link Tensor#backward()} walks the recorded graph in reverse topological
 * order. Gradients <em>accumulate</em> ({@code +=}) into the {@code grad} of leaf tensors; zero
 * them with {@link Tensor#zeroGrad()}. Intermediate gradients live in the current
 * {@link Scope}; a leaf's {@code grad} lives in the scope the leaf was allocated in, so a model's
 * gradients outlive the step that produced them. Inside {@link #noGrad()} nothing is recorded.
 */
public final class Autograd {
    private static final ThreadLocal<int[]> NO_GRAD = ThreadLocal.withInitial(() -> new int[1]);

    private Autograd() {
    }

    /** Computes the gradients of an op's inputs from the gradient of its output. */
    @FunctionalInterface
    public interface Backward {
        /**
         * @param gradOut gradient of the loss with respect to the op's output (same dims)
         * @return one gradient per input, in input order; null where an input needs none
         */
        Tensor[] apply(Tensor gradOut);
    }

    /** A recorded op: its name (for messages), inputs and backward function. */
    public record Node(String op, Tensor[] inputs, Backward backward) {
    }

    /** Disables recording on this thread until closed (nestable). */
    public static NoGrad noGrad() {
        NO_GRAD.get()[0]++;
        return new NoGrad();
    }

    /** Handle of {@link #noGrad()}. */
    public static final class NoGrad implements AutoCloseable {
        private boolean closed;

        private NoGrad() {
        }

        @Override
        public void close() {
            if (!closed) {
                closed = true;
                NO_GRAD.get()[0]--;
            }
        }
    }

    /** Whether ops record the graph on this thread. */
    public static boolean enabled() {
        return NO_GRAD.get()[0] == 0;
    }

    /** Whether an op over these inputs must record a node. */
    static boolean needed(Tensor... inputs) {
        if (!enabled()) return false;
        for (Tensor t : inputs) if (t != null && t.requiresGrad) return true;
        return false;
    }

    /** Records {@code out = op(inputs)} when any input requires grad; returns {@code out}. */
    static Tensor record(Tensor out, String op, Backward backward, Tensor... inputs) {
        if (needed(inputs)) {
            out.requiresGrad = true;
            out.gradFn = new Node(op, inputs, backward);
        }
        return out;
    }

    /** Sums a gradient over broadcast dims so that it has {@code dims} (the inverse of expand). */
    static Tensor sumTo(Tensor g, long[] dims) {
        if (g.shape.hasDims(dims)) return g;
        Tensor r = g;
        int lead = g.rank() - dims.length;
        for (int i = 0; i < lead; i++) r = r.sum(0, false);
        for (int i = 0; i < dims.length; i++) {
            if (dims[i] == 1 && r.dim(i) != 1) r = r.sum(i, true);
        }
        return r;
    }

    /** Refuses in-place writes to tensors that take part in a recorded graph. */
    static void checkInPlace(Tensor t, String op) {
        if (t.requiresGrad && enabled()) {
            throw new IllegalStateException(op + " would modify a tensor that requires grad; do it inside Autograd.noGrad()");
        }
    }

    /** Runs backpropagation from {@code root} with upstream gradient {@code gradRoot}. */
    static void backward(Tensor root, Tensor gradRoot) {
        if (!root.requiresGrad) throw new IllegalStateException("backward() on a tensor that does not require grad (no input of it requires grad)");
        if (!gradRoot.shape.sameDims(root.shape)) {
            throw new IllegalArgumentException("upstream gradient has shape " + gradRoot.shape + ", the tensor " + root.shape);
        }
        List<Tensor> order = topoOrder(root);
        Map<Tensor, Tensor> grads = new IdentityHashMap<>();
        grads.put(root, gradRoot);
        try (NoGrad ignored = noGrad()) {
            for (Tensor t : order) {
                Tensor g = grads.remove(t);
                if (g == null) continue;
                if (t.gradFn == null) {
                    accumulateLeaf(t, g);
                    continue;
                }
                Tensor[] in = t.gradFn.inputs();
                Tensor[] gi = t.gradFn.backward().apply(g);
                for (int i = 0; i < in.length; i++) {
                    Tensor x = in[i];
                    if (x == null || !x.requiresGrad || gi[i] == null) continue;
                    Tensor gx = gi[i];
                    if (!gx.shape.sameDims(x.shape)) {
                        throw new IllegalStateException("backward of " + t.gradFn.op() + " gave a gradient of shape " + gx.shape + " for an input of shape " + x.shape);
                    }
                    Tensor prev = grads.get(x);
                    grads.put(x, prev == null ? gx : prev.add(gx));
                }
            }
        }
    }

    private static void accumulateLeaf(Tensor leaf, Tensor g) {
        DType dt = leaf.dtype == DType.F64 ? DType.F64 : DType.F32;   // the narrow floats accumulate in F32
        if (leaf.grad == null) {
            Scope home = leaf.home != null && !leaf.home.isClosed() ? leaf.home : Scope.current();
            try (Scope.Entered e = home == Scope.current() ? null : home.enter()) {
                leaf.grad = Tensor.zerosLike(leaf, dt, leaf.dims());
            }
        }
        leaf.grad.addInPlace(g);
    }

    /** Tensors reachable from root, root first, each before all of its inputs. */
    private static List<Tensor> topoOrder(Tensor root) {
        List<Tensor> post = new ArrayList<>();
        Set<Tensor> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        ArrayDeque<Object[]> stack = new ArrayDeque<>();
        stack.push(new Object[]{root, 0});
        seen.add(root);
        while (!stack.isEmpty()) {
            Object[] top = stack.peek();
            Tensor t = (Tensor) top[0];
            int i = (int) top[1];
            Tensor[] in = t.gradFn == null ? new Tensor[0] : t.gradFn.inputs();
            if (i < in.length) {
                top[1] = i + 1;
                Tensor x = in[i];
                if (x != null && x.requiresGrad && seen.add(x)) stack.push(new Object[]{x, 0});
            } else {
                stack.pop();
                post.add(t);
            }
        }
        Collections.reverse(post);
        return post;
    }
}
