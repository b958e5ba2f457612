package dev.panamax.runtime.gpu;

import dev.panamax.cuda.Cuda;
import dev.panamax.cuda.CudaException;
import dev.panamax.cuda.Nvrtc;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Compiles Panamax's kernel files with NVRTC for the GPU at hand ({@code sm_XX} of the device) and
 * loads them, once per file per JVM. Compiled images are cached on disk under
 * {@code -Dpanamax.cuda.cache} (default {@code ~/.cache/panamax/cuda}), keyed by a SHA-256 of the
 * source, the options and NVRTC's version, and written atomically (temp file, then rename), so a
 * later run skips compilation. The calling thread must have the device's context current.
 */
public final class CudaModules implements AutoCloseable {
    private final int computeCapability;
    private final Path cacheDir;
    private final ConcurrentHashMap<String, Cuda.Module> loaded = new ConcurrentHashMap<>();

    /** Modules for a device of the given compute capability (major * 10 + minor). */
    public CudaModules(int computeCapability) {
        this.computeCapability = computeCapability;
        String dir = System.getProperty("panamax.cuda.cache");
        this.cacheDir = dir != null ? Path.of(dir) : Path.of(System.getProperty("user.home"), ".cache", "panamax", "cuda");
    }

    /** NVRTC options used for every file. */
    public List<String> options() {
        return options(computeCapability);
    }

    /**
     * NVRTC options for a compute capability: a real architecture, so that NVRTC emits a cubin;
     * on compute capability 9.0 (H100, H200) its architecture-specific variant {@code sm_90a}, which
     * has the warpgroup instructions (wgmma) of mla_decode_wg64.
     */
    public static List<String> options(int computeCapability) {
        return List.of("--gpu-architecture=sm_" + computeCapability + (computeCapability == 90 ? "a" : ""), "--std=c++17", "-default-device");
    }

    /** The kernel {@code kernel} of {@code file} (one of {@link CudaSources#FILES}). */
    public Cuda.Function function(String file, String kernel) {
        return module(file).function(kernel);
    }

    /** The loaded module of a kernel file, compiling it (or reading the disk cache) on first use. */
    public Cuda.Module module(String file) {
        return loaded.computeIfAbsent(file, f -> Cuda.Module.load(image(f), f));
    }

    private byte[] image(String file) {
        String source = CudaSources.source(file);
        List<String> opts = options();
        String key = key(source, opts);
        Path cached = cacheDir.resolve(file.replace(".cu", "") + "-sm_" + computeCapability + "-" + key + ".cubin");
        try {
            if (Files.isRegularFile(cached)) return Files.readAllBytes(cached);
        } catch (IOException e) {
            // an unreadable cache entry is recompiled
        }
        Nvrtc.Compiled c = Nvrtc.compile(source, file, opts);
        byte[] img = c.image();
        try {
            Files.createDirectories(cacheDir);
            Path tmp = Files.createTempFile(cacheDir, file, ".tmp");
            Files.write(tmp, img);
            Files.move(tmp, cached, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException | UnsupportedOperationException e) {
            // caching is an optimisation: a read-only home still works, only slower to start
        }
        return img;
    }

    private static String key(String source, List<String> options) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update(source.getBytes(StandardCharsets.UTF_8));
            sha.update(String.join(" ", options).getBytes(StandardCharsets.UTF_8));
            int[] v = Nvrtc.version();
            sha.update((v[0] + "." + v[1]).getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(sha.digest(), 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JDK", e);
        }
    }

    @Override
    public void close() {
        CudaException failure = null;
        for (Cuda.Module m : loaded.values()) {
            try {
                m.close();
            } catch (CudaException e) {
                if (failure == null) failure = e;
            }
        }
        loaded.clear();
        if (failure != null) throw failure;
    }
}
