package dev.panamax.runtime.gpu;

import dev.panamax.cuda.Cuda;

import java.lang.foreign.MemorySegment;

/**
 * Page-locked host memory in fixed slots, through which small host-to-device copies (indices,
 * positions, masks) are queued on the stream without waiting for the work before them: the source
 * is copied into a slot, the slot is copied to the device in stream order, and an event marks when
 * the slot may be written again. A copy that does not fit a slot is left to the caller.
 */
final class StagingRing extends PinnedSlots {
    private int next;

    StagingRing(int slots, long slotBytes) {
        super(slots, slotBytes);
    }

    /** The largest copy a slot takes. */
    long slotBytes() {
        return slotBytes;
    }

    /**
     * Queues {@code bytes} of {@code src} for {@code dst} on {@code stream}; false (nothing done)
     * when they do not fit a slot. Waits only when the slot's previous copy is still queued.
     */
    synchronized boolean upload(MemorySegment src, long dst, long bytes, Cuda.Stream stream) {
        if (closed) throw new IllegalStateException("staging ring closed");
        if (bytes > slotBytes) return false;
        int i = next;
        next = (next + 1) % events.length;
        if (busy[i]) events[i].synchronize();
        MemorySegment slot = slot(i, bytes);
        MemorySegment.copy(src, 0, slot, 0, bytes);
        Cuda.copyToDevice(dst, slot, bytes, stream);
        events[i].record(stream);
        busy[i] = true;
        return true;
    }
}
