package dev.panamax.runtime.gpu;

import dev.panamax.cuda.Cuda;

import java.lang.foreign.MemorySegment;

/**
 * Page-locked host memory in fixed slots, each with an event recorded behind the last copy queued
 * through it and a flag saying whether that copy may still be in flight: what {@link StagingRing}
 * (uploads) and {@link ReadbackSlots} (read-backs) share. Closing waits for the copies still in
 * flight, then frees the events and the memory.
 */
abstract class PinnedSlots implements AutoCloseable {
    /** The slots, {@link #slotBytes} each, back to back. */
    final MemorySegment pinned;
    final long slotBytes;
    /** Per slot: the event recorded behind its last copy. */
    final Cuda.Event[] events;
    /** Per slot: whether its last copy may still be in flight (or, for read-backs, is still held). */
    final boolean[] busy;
    boolean closed;

    PinnedSlots(int slots, long slotBytes) {
        this.slotBytes = slotBytes;
        this.pinned = Cuda.hostAlloc(slots * slotBytes);
        this.events = new Cuda.Event[slots];
        this.busy = new boolean[slots];
        try {
            for (int i = 0; i < slots; i++) events[i] = Cuda.Event.create();
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /** Slot {@code i}'s first {@code bytes}. */
    MemorySegment slot(int i, long bytes) {
        return pinned.asSlice(i * slotBytes, bytes);
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        for (int i = 0; i < events.length; i++) {
            if (events[i] == null) continue;
            if (busy[i]) events[i].synchronize();
            events[i].close();
        }
        Cuda.freeHost(pinned);
    }
}
