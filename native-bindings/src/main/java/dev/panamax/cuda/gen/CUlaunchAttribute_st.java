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
 * One attribute of a {@link CUlaunchConfig_st}. The value is the 64-byte union {@code CUlaunchAttributeValue};
 * an attribute whose value is one {@code int} (such as {@code programmaticStreamSerializationAllowed}) holds it
 * in the union's first 4 bytes: {@link #valueInt(MemorySegment, int)}.
 * {@snippet lang=c :
 * struct CUlaunchAttribute_st {
 *     CUlaunchAttributeID id;
 *     char pad[8 - sizeof(CUlaunchAttributeID)];
 *     CUlaunchAttributeValue value;
 * }
 * }
 */
@SuppressWarnings({"unused", "checkstyle:MethodName"})
public class CUlaunchAttribute_st {

    CUlaunchAttribute_st() {
        // Should not be called directly
    }

    private static final GroupLayout $LAYOUT = MemoryLayout.structLayout(
        cuda_h.C_INT.withName("id"),
        MemoryLayout.sequenceLayout(4, cuda_h.C_CHAR).withName("pad"),
        MemoryLayout.sequenceLayout(64, cuda_h.C_CHAR).withName("value")
    ).withName("CUlaunchAttribute_st");

    /** The layout of this struct. */
    public static final GroupLayout layout() {
        return $LAYOUT;
    }

    private static final OfInt id$LAYOUT = (OfInt)$LAYOUT.select(groupElement("id"));

    /** Layout of field {@code id}. */
    public static final OfInt id$layout() {
        return id$LAYOUT;
    }

    private static final long id$OFFSET = 0;

    /** Offset of field {@code id}. */
    public static final long id$offset() {
        return id$OFFSET;
    }

    /** Getter for field {@code id}. */
    public static int id(MemorySegment struct) {
        return struct.get(id$LAYOUT, id$OFFSET);
    }

    /** Setter for field {@code id}. */
    public static void id(MemorySegment struct, int fieldValue) {
        struct.set(id$LAYOUT, id$OFFSET, fieldValue);
    }

    private static final SequenceLayout pad$LAYOUT = (SequenceLayout)$LAYOUT.select(groupElement("pad"));

    /** Layout of field {@code pad}. */
    public static final SequenceLayout pad$layout() {
        return pad$LAYOUT;
    }

    private static final long pad$OFFSET = 4;

    /** Offset of field {@code pad}. */
    public static final long pad$offset() {
        return pad$OFFSET;
    }

    /** Getter for field {@code pad}. */
    public static MemorySegment pad(MemorySegment struct) {
        return struct.asSlice(pad$OFFSET, pad$LAYOUT.byteSize());
    }

    private static final SequenceLayout value$LAYOUT = (SequenceLayout)$LAYOUT.select(groupElement("value"));

    /** Layout of field {@code value}. */
    public static final SequenceLayout value$layout() {
        return value$LAYOUT;
    }

    private static final long value$OFFSET = 8;

    /** Offset of field {@code value}. */
    public static final long value$offset() {
        return value$OFFSET;
    }

    /** Getter for field {@code value}. */
    public static MemorySegment value(MemorySegment struct) {
        return struct.asSlice(value$OFFSET, value$LAYOUT.byteSize());
    }

    /** Sets the value union's first 4 bytes: an attribute whose value is one {@code int}. */
    public static void valueInt(MemorySegment struct, int fieldValue) {
        struct.set(cuda_h.C_INT, value$OFFSET, fieldValue);
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
