package dev.panamax.runtime.gpu;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Panamax's CUDA kernels, kept as {@code .cu} resources beside this class and compiled at run time
 * by NVRTC (see {@link CudaModules}). {@link #source} inlines the shared header
 * ({@code common.cuh}) so that NVRTC needs no include path.
 */
public final class CudaSources {
    /** Every kernel file. */
    public static final List<String> FILES = List.of("elementwise.cu", "reduce.cu", "rope.cu", "embedding.cu", "moe.cu", "mla_decode.cu", "optim.cu", "gemv.cu");
    /** The header the kernel files include. */
    public static final String COMMON = "common.cuh";

    private CudaSources() {
    }

    /** The raw text of a resource beside this class. */
    public static String raw(String file) {
        try (InputStream in = CudaSources.class.getResourceAsStream(file)) {
            if (in == null) throw new IllegalArgumentException("no CUDA source " + file + " in dev.panamax.runtime.gpu");
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("reading CUDA source " + file, e);
        }
    }

    /** A kernel file with {@code #include "common.cuh"} replaced by the header's text. */
    public static String source(String file) {
        String src = raw(file);
        String include = "#include \"" + COMMON + "\"";
        if (!src.contains(include)) return src;
        String header = raw(COMMON).replace("#pragma once", "");
        return src.replace(include, "// ---- " + COMMON + " ----\n" + header + "// ---- end of " + COMMON + " ----");
    }
}
