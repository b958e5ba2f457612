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
 * later run skips compilation. A cache entry that cannot be read, that is cut short (which
 * {@link Cuda.Module#load} refuses before the driver sees it), or that the driver refuses (one an
 * incompatible driver wrote, say) is compiled again and replaced, with a warning. The calling
 * thread must have the device's context current.
 */
public final class CudaModules implements AutoCloseable {
    private final int computeCapability;
    private final Path cacheDir;
    private final ConcurrentHashMap<String, Cuda.Module> loaded = new ConcurrentHashMap<>();

    private static final System.Logger LOG = System.getLogger("dev.panamax.runtime.cuda.modules");

    /**
     * Modules for a device of the given compute capability (major * 10 + minor), cached under
     * {@code -Dpanamax.cuda.cache} or {@code ~/.cache/panamax/cuda}.
     */
    public CudaModules(int computeCapability) {
        this(computeCapability, defaultCacheDir());
    }

    /** Modules for a device of the given compute capability, with compiled images cached under {@code cacheDir}. */
    public CudaModules(int computeCapability, Path cacheDir) {
        this.computeCapability = computeCapability;
        this.cacheDir = cacheDir;
    }

    private static Path defaultCacheDir() {
        String dir = System.getProperty("panamax.cuda.cache");
        return dir != null ? Path.of(dir) : Path.of(System.getProperty("user.home"), ".cache", "panamax", "cuda");
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
        return loaded.computeIfAbsent(file, this::load);
    }

    /** Where the compiled image of a kernel file is cached (whether or not it is there yet). */
    Path cachePath(String file) {
        return cachePath(file, CudaSources.source(file));
    }

    private Path cachePath(String file, String source) {
        return cacheDir.resolve(file.replace(".cu", "") + "-sm_" + computeCapability + "-" + key(source, options()) + ".cubin");
    }

    private Cuda.Module load(String file) {
        String source = CudaSources.source(file);
        Path cached = cachePath(file, source);
        byte[] image = null;
        try {
            if (Files.isRegularFile(cached)) image = Files.readAllBytes(cached);
        } catch (IOException e) {
            // an unreadable cache entry is compiled again
        }
        if (image != null) {
            try {
                return Cuda.Module.load(image, file);
            } catch (CudaException | IllegalArgumentException e) {   // refused by the driver, or damaged (cut short)
                LOG.log(System.Logger.Level.WARNING, () -> "the cached image " + cached + " of " + file + " does not load (" + e.getMessage()
                        + "); compiling it again");
            }
        }
        return Cuda.Module.load(compile(file, source, cached), file);
    }

    private byte[] compile(String file, String source, Path cached) {
        Nvrtc.Compiled c = Nvrtc.compile(source, file, options());
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
