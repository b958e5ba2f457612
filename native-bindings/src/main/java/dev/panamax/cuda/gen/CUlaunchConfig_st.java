// Written by hand in the layout jextract 22 generates for cuda.h (see native-bindings/jextract/).
// Regenerate with native-bindings/jextract/regenerate.sh.

package dev.panamax.cuda.gen;

import java.lang.foreign.AddressLayout;
import java.lang.foreign.GroupLayout;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.SequenceLayout;
import java.lang.foreign.ValueLayout.OfInt;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;

/**
 * The launch of {@code cuLaunchKernelEx}: grid, block, dynamic shared memory, stream and attributes.
 * {@snippet lang=c :
 * struct CUlaunchConfig_st {
 *     unsigned int gridDimX;
 *     unsigned int gridDimY;
 *     unsigned int gridDimZ;
 *     unsigned int blockDimX;
 *     unsigned int blockDimY;
 *     unsigned int blockDimZ;
 *     unsigned int sharedMemBytes;
 *     CUstream hStream;
 *     CUlaunchAttribute *attrs;
 *     unsigned int numAttrs;
 * }
 * }
 */
@SuppressWarnings({"unused", "checkstyle:MethodName"})
public class CUlaunchConfig_st {

    CUlaunchConfig_st() {
        // Should not be called directly
    }

    private static final GroupLayout $LAYOUT = MemoryLayout.structLayout(
        cuda_h.C_INT.withName("gridDimX"),
        cuda_h.C_INT.withName("gridDimY"),
        cuda_h.C_INT.withName("gridDimZ"),
        cuda_h.C_INT.withName("blockDimX"),
        cuda_h.C_INT.withName("blockDimY"),
        cuda_h.C_INT.withName("blockDimZ"),
        cuda_h.C_INT.withName("sharedMemBytes"),
        MemoryLayout.paddingLayout(4),
        cuda_h.C_POINTER.withName("hStream"),
        cuda_h.C_POINTER.withName("attrs"),
        cuda_h.C_INT.withName("numAttrs"),
        MemoryLayout.paddingLayout(4)
    ).withName("CUlaunchConfig_st");

    /** The layout of this struct. */
    public static final GroupLayout layout() {
        return $LAYOUT;
    }

    private static final OfInt gridDimX$LAYOUT = (OfInt)$LAYOUT.select(groupElement("gridDimX"));

    /** Layout of field {@code gridDimX}. */
    public static final OfInt gridDimX$layout() {
        return gridDimX$LAYOUT;
    }

    private static final long gridDimX$OFFSET = 0;

    /** Offset of field {@code gridDimX}. */
    public static final long gridDimX$offset() {
        return gridDimX$OFFSET;
    }

    /** Getter for field {@code gridDimX}. */
    public static int gridDimX(MemorySegment struct) {
        return struct.get(gridDimX$LAYOUT, gridDimX$OFFSET);
    }

    /** Setter for field {@code gridDimX}. */
    public static void gridDimX(MemorySegment struct, int fieldValue) {
        struct.set(gridDimX$LAYOUT, gridDimX$OFFSET, fieldValue);
    }

    private static final OfInt gridDimY$LAYOUT = (OfInt)$LAYOUT.select(groupElement("gridDimY"));

    /** Layout of field {@code gridDimY}. */
    public static final OfInt gridDimY$layout() {
        return gridDimY$LAYOUT;
    }

    private static final long gridDimY$OFFSET = 4;

    /** Offset of field {@code gridDimY}. */
    public static final long gridDimY$offset() {
        return gridDimY$OFFSET;
    }

    /** Getter for field {@code gridDimY}. */
    public static int gridDimY(MemorySegment struct) {
        return struct.get(gridDimY$LAYOUT, gridDimY$OFFSET);
    }

    /** Setter for field {@code gridDimY}. */
    public static void gridDimY(MemorySegment struct, int fieldValue) {
        struct.set(gridDimY$LAYOUT, gridDimY$OFFSET, fieldValue);
    }

    private static final OfInt gridDimZ$LAYOUT = (OfInt)$LAYOUT.select(groupElement("gridDimZ"));

    /** Layout of field {@code gridDimZ}. */
    public static final OfInt gridDimZ$layout() {
        return gridDimZ$LAYOUT;
    }

    private static final long gridDimZ$OFFSET = 8;

    /** Offset of field {@code gridDimZ}. */
    public static final long gridDimZ$offset() {
        return gridDimZ$OFFSET;
    }

    /** Getter for field {@code gridDimZ}. */
    public static int gridDimZ(MemorySegment struct) {
        return struct.get(gridDimZ$LAYOUT, gridDimZ$OFFSET);
    }

    /** Setter for field {@code gridDimZ}. */
    public static void gridDimZ(MemorySegment struct, int fieldValue) {
        struct.set(gridDimZ$LAYOUT, gridDimZ$OFFSET, fieldValue);
    }

    private static final OfInt blockDimX$LAYOUT = (OfInt)$LAYOUT.select(groupElement("blockDimX"));

    /** Layout of field {@code blockDimX}. */
    public static final OfInt blockDimX$layout() {
        return blockDimX$LAYOUT;
    }

    private static final long blockDimX$OFFSET = 12;

    /** Offset of field {@code blockDimX}. */
    public static final long blockDimX$offset() {
        return blockDimX$OFFSET;
    }

    /** Getter for field {@code blockDimX}. */
    public static int blockDimX(MemorySegment struct) {
        return struct.get(blockDimX$LAYOUT, blockDimX$OFFSET);
    }

    /** Setter for field {@code blockDimX}. */
    public static void blockDimX(MemorySegment struct, int fieldValue) {
        struct.set(blockDimX$LAYOUT, blockDimX$OFFSET, fieldValue);
    }

    private static final OfInt blockDimY$LAYOUT = (OfInt)$LAYOUT.select(groupElement("blockDimY"));

    /** Layout of field {@code blockDimY}. */
    public static final OfInt blockDimY$layout() {
        return blockDimY$LAYOUT;
    }

    private static final long blockDimY$OFFSET = 16;

    /** Offset of field {@code blockDimY}. */
    public static final long blockDimY$offset() {
        return blockDimY$OFFSET;
    }

    /** Getter for field {@code blockDimY}. */
    public static int blockDimY(MemorySegment struct) {
        return struct.get(blockDimY$LAYOUT, blockDimY$OFFSET);
    }

    /** Setter for field {@code blockDimY}. */
    public static void blockDimY(MemorySegment struct, int fieldValue) {
        struct.set(blockDimY$LAYOUT, blockDimY$OFFSET, fieldValue);
    }

    private static final OfInt blockDimZ$LAYOUT = (OfInt)$LAYOUT.select(groupElement("blockDimZ"));

    /** Layout of field {@code blockDimZ}. */
    public static final OfInt blockDimZ$layout() {
        return blockDimZ$LAYOUT;
    }

    private static final long blockDimZ$OFFSET = 20;

    /** Offset of field {@code blockDimZ}. */
    public static final long blockDimZ$offset() {
        return blockDimZ$OFFSET;
    }

    /** Getter for field {@code blockDimZ}. */
    public static int blockDimZ(MemorySegment struct) {
        return struct.get(blockDimZ$LAYOUT, blockDimZ$OFFSET);
    }

    /** Setter for field {@code blockDimZ}. */
    public static void blockDimZ(MemorySegment struct, int fieldValue) {
        struct.set(blockDimZ$LAYOUT, blockDimZ$OFFSET, fieldValue);
    }

    private static final OfInt sharedMemBytes$LAYOUT = (OfInt)$LAYOUT.select(groupElement("sharedMemBytes"));

    /** Layout of field {@code sharedMemBytes}. */
    public static final OfInt sharedMemBytes$layout() {
        return sharedMemBytes$LAYOUT;
    }

    private static final long sharedMemBytes$OFFSET = 24;

    /** Offset of field {@code sharedMemBytes}. */
    public static final long sharedMemBytes$offset() {
        return sharedMemBytes$OFFSET;
    }

    /** Getter for field {@code sharedMemBytes}. */
    public static int sharedMemBytes(MemorySegment struct) {
        return struct.get(sharedMemBytes$LAYOUT, sharedMemBytes$OFFSET);
    }

    /** Setter for field {@code sharedMemBytes}. */
    public static void sharedMemBytes(MemorySegment struct, int fieldValue) {
        struct.set(sharedMemBytes$LAYOUT, sharedMemBytes$OFFSET, fieldValue);
    }

    private static final AddressLayout hStream$LAYOUT = (AddressLayout)$LAYOUT.select(groupElement("hStream"));

    /** Layout of field {@code hStream}. */
    public static final AddressLayout hStream$layout() {
        return hStream$LAYOUT;
    }

    private static final long hStream$OFFSET = 32;

    /** Offset of field {@code hStream}. */
    public static final long hStream$offset() {
        return hStream$OFFSET;
    }

    /** Getter for field {@code hStream}. */
    public static MemorySegment hStream(MemorySegment struct) {
        return struct.get(hStream$LAYOUT, hStream$OFFSET);
    }

    /** Setter for field {@code hStream}. */
    public static void hStream(MemorySegment struct, MemorySegment fieldValue) {
        struct.set(hStream$LAYOUT, hStream$OFFSET, fieldValue);
    }

    private static final AddressLayout attrs$LAYOUT = (AddressLayout)$LAYOUT.select(groupElement("attrs"));

    /** Layout of field {@code attrs}. */
    public static final AddressLayout attrs$layout() {
        return attrs$LAYOUT;
    }

    private static final long attrs$OFFSET = 40;

    /** Offset of field {@code attrs}. */
    public static final long attrs$offset() {
        return attrs$OFFSET;
    }

    /** Getter for field {@code attrs}. */
    public static MemorySegment attrs(MemorySegment struct) {
        return struct.get(attrs$LAYOUT, attrs$OFFSET);
    }

    /** Setter for field {@code attrs}. */
    public static void attrs(MemorySegment struct, MemorySegment fieldValue) {
        struct.set(attrs$LAYOUT, attrs$OFFSET, fieldValue);
    }

    private static final OfInt numAttrs$LAYOUT = (OfInt)$LAYOUT.select(groupElement("numAttrs"));

    /** Layout of field {@code numAttrs}. */
    public static final OfInt numAttrs$layout() {
        return numAttrs$LAYOUT;
    }

    private static final long numAttrs$OFFSET = 48;

    /** Offset of field {@code numAttrs}. */
    public static final long numAttrs$offset() {
        return numAttrs$OFFSET;
    }

    /** Getter for field {@code numAttrs}. */
    public static int numAttrs(MemorySegment struct) {
        return struct.get(numAttrs$LAYOUT, numAttrs$OFFSET);
    }

    /** Setter for field {@code numAttrs}. */
    public static void numAttrs(MemorySegment struct, int fieldValue) {
        struct.set(numAttrs$LAYOUT, numAttrs$OFFSET, fieldValue);
    }

    /** Allocates a segment of the struct's size. */
    public static MemorySegment allocate(SegmentAllocator allocator) {
        return allocator.allocate(layout());
    }

    /** The size of the struct in bytes. */
    public static long sizeof() {
        return layout().byteSize();
    }
}
