package dev.panamax.runtime.io;

import dev.panamax.runtime.DType;

import java.util.Arrays;

/**
 * One entry of a safetensors header.
 *
 * @param name        tensor name
 * @param dtype       element type
 * @param shape       dims
 * @param begin       first byte, relative to the start of the data section
 * @param end         one past the last byte
 */
public record TensorInfo(String name, DType dtype, long[] shape, long begin, long end) {
    /** Number of elements. */
    public long numel() {
        long n = 1;
        for (long d : shape) n *= d;
        return n;
    }

    /** Bytes of data. */
    public long byteSize() {
        return end - begin;
    }

    @Override
    public String toString() {
        return name + " " + dtype.safetensorsName() + " " + Arrays.toString(shape) + " " + byteSize() + " bytes";
    }
}
