package dev.panamax.runtime.gpu;

import org.junit.jupiter.api.Test;

import java.util.HashSet;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The caching allocator over a fake backend that counts and limits real allocations. */
class CachingAllocatorTest {
    static final class FakeBackend implements CachingAllocator.Backend {
        final long capacity;
        long used, next = 0x1000, allocations, frees;
        final java.util.Map<Long, Long> blocks = new java.util.HashMap<>();

        FakeBackend(long capacity) {
            this.capacity = capacity;
        }

        @Override
        public long allocate(long bytes) {
            if (used + bytes > capacity) throw new IllegalStateException("out of memory");
            used += bytes;
            allocations++;
            long p = next;
            next += bytes;
            blocks.put(p, bytes);
            return p;
        }

        @Override
        public void free(long pointer) {
            used -= blocks.remove(pointer);
            frees++;
        }

        @Override
        public boolean isOutOfMemory(RuntimeException e) {
            return e.getMessage().contains("out of memory");
        }
    }

    @Test
    void sizeClasses() {
        assertThat(CachingAllocator.roundUp(0)).isEqualTo(512);
        assertThat(CachingAllocator.roundUp(1)).isEqualTo(512);
        assertThat(CachingAllocator.roundUp(513)).isEqualTo(1024);
        assertThat(CachingAllocator.roundUp((1 << 20) - 1)).isEqualTo(1 << 20);
        assertThat(CachingAllocator.roundUp((1 << 20) + 1)).isEqualTo(2 << 20);
        assertThat(CachingAllocator.roundUp(5L << 20)).isEqualTo(6L << 20);
        assertThatThrownBy(() -> CachingAllocator.roundUp(-1)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void aSteadyLoopMakesNoNewDriverAllocations() {
        FakeBackend fake = new FakeBackend(1L << 30);
        CachingAllocator a = new CachingAllocator(fake);
        for (int step = 0; step < 100; step++) {
            long x = a.allocate(1000), y = a.allocate(3 << 20), z = a.allocate(1000);
            assertThat(Set.of(x, y, z)).hasSize(3);
            a.release(y);
            a.release(x);
            a.release(z);
        }
        assertThat(fake.allocations).isEqualTo(3);
        assertThat(a.liveBytes()).isZero();
        assertThat(a.cachedBytes()).isEqualTo(2 * 1024 + (4L << 20));
        a.emptyCache();
        assertThat(fake.used).isZero();
        assertThat(fake.frees).isEqualTo(3);
    }

    @Test
    void varyingSizesReuseTheSmallestFreeBlockThatFitsWell() {
        FakeBackend fake = new FakeBackend(1L << 30);
        CachingAllocator a = new CachingAllocator(fake);
        long b3 = a.allocate(3000), b4 = a.allocate(4000);   // classes 3072 and 4096
        a.release(b4);
        a.release(b3);
        long p = a.allocate(2000);                           // class 2048: both fit within 2x, the smaller wins
        assertThat(p).isEqualTo(b3);
        assertThat(a.liveBytes()).isEqualTo(3072);
        assertThat(a.cachedBytes()).isEqualTo(4096);
        assertThat(a.allocate(1000)).as("a block of more than twice the class is not taken").isNotIn(b3, b4);
        assertThat(fake.allocations).isEqualTo(3);
        a.release(p);
        assertThat(a.allocate(3000)).as("released to the pool of its own size").isEqualTo(b3);
        // above 1 MiB, at most a quarter more: a 10 MiB block serves 8 MiB requests but not 6 MiB ones
        long m10 = a.allocate(10L << 20);
        a.release(m10);
        assertThat(a.allocate(6L << 20)).isNotEqualTo(m10);
        assertThat(a.allocate(8L << 20)).isEqualTo(m10);
        // rollouts of varying lengths: sizes that wander settle into the blocks already held
        long before = fake.allocations;
        java.util.Random r = new java.util.Random(5);
        for (int step = 0; step < 200; step++) {
            long x = a.allocate(20_000 + r.nextInt(20_000)), y = a.allocate(20_000 + r.nextInt(20_000));
            a.release(x);
            a.release(y);
        }
        assertThat(fake.allocations - before).isLessThanOrEqualTo(4);
    }

    @Test
    void outOfMemoryEmptiesTheCacheAndRetries() {
        FakeBackend fake = new FakeBackend(8L << 20);
        CachingAllocator a = new CachingAllocator(fake);
        long p = a.allocate(6L << 20);
        a.release(p);
        long q = a.allocate(4L << 20);  // another size class: the cached 6 MiB block must go first
        assertThat(fake.frees).isEqualTo(1);
        assertThat(a.liveBytes()).isEqualTo(4L << 20);
        a.release(q);
        assertThatThrownBy(() -> a.allocate(64L << 20)).hasMessageContaining("out of memory");
    }

    @Test
    void releasingTwiceOrForeignPointersFails() {
        CachingAllocator a = new CachingAllocator(new FakeBackend(1 << 20));
        long p = a.allocate(10);
        a.release(p);
        assertThatThrownBy(() -> a.release(p)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("released twice");
        assertThatThrownBy(() -> a.release(12345)).isInstanceOf(IllegalArgumentException.class);
        Set<Long> seen = new HashSet<>();
        for (int i = 0; i < 10; i++) assertThat(seen.add(a.allocate(100))).isTrue();
    }

    @Test
    void aCapturedGraphKeepsTheBlocksItWasHandedUntilItsReservationIsReleased() {
        FakeBackend fake = new FakeBackend(1L << 30);
        CachingAllocator a = new CachingAllocator(fake);
        long before = a.allocate(4096), unrelated = a.allocate(1 << 21);
        a.release(before);                                  // pooled before the capture
        a.beginCapture();
        long scratch = a.allocate(4096);                    // reuses the pooled block
        assertThat(scratch).isEqualTo(before);
        long kept = a.allocate(8192);                       // a block the captured work keeps (still live at the end)
        a.release(scratch);
        long again = a.allocate(4096);                      // freed and handed out again within the capture
        assertThat(again).isEqualTo(scratch);
        a.release(again);
        assertThatThrownBy(a::beginCapture).isInstanceOf(IllegalStateException.class);
        a.release(unrelated);                               // made before the capture, freed during it
        a.emptyCache();                                     // frees it, but keeps every block the capture was handed
        assertThat(fake.blocks).containsKey(scratch).doesNotContainKey(unrelated);
        CachingAllocator.Reservation r = a.endCapture();
        assertThat(r.blocks()).isEqualTo(2);
        assertThat(a.heldBytes()).isEqualTo(4096);
        // nobody else gets the graph's scratch block, nor the kept one once freed
        long other = a.allocate(4096);
        assertThat(other).isNotEqualTo(scratch);
        a.release(kept);
        assertThat(a.heldBytes()).isEqualTo(4096 + 8192);
        assertThat(a.allocate(8192)).isNotEqualTo(kept);
        a.emptyCache();                                     // does not free what the graph holds
        assertThat(fake.blocks).containsKeys(scratch, kept);
        a.release(r);
        a.release(r);                                       // idempotent
        assertThat(a.heldBytes()).isZero();
        assertThat(Set.of(a.allocate(4096), a.allocate(8192))).contains(scratch, kept);
        assertThatThrownBy(a::endCapture).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void aBlockFreedAfterItsReservationIsReleasedIsPooledAgain() {
        FakeBackend fake = new FakeBackend(1L << 30);
        CachingAllocator a = new CachingAllocator(fake);
        a.beginCapture();
        long live = a.allocate(1024);
        CachingAllocator.Reservation r = a.endCapture();
        a.release(r);
        a.release(live);
        assertThat(a.heldBytes()).isZero();
        assertThat(a.cachedBytes()).isEqualTo(1024);
        assertThat(a.allocate(1024)).isEqualTo(live);
    }
}
