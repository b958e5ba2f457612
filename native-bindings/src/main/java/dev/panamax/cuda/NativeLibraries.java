package dev.panamax.cuda;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Finds NVIDIA shared libraries without a native build step. Folders are searched in this order:
 * the system property {@code panamax.cuda.libpath} (a path list), {@code CUDA_HOME} and
 * {@code CUDA_PATH} ({@code lib64}, {@code lib}), {@code LD_LIBRARY_PATH}, {@code /usr/local/cuda*}
 * ({@code lib64}), the driver's usual folders, and the {@code nvidia/*}{@code /lib} folders of
 * Python wheels. In each folder the versioned sonames are tried before the bare name
 * (runtime-only installs ship only {@code libcublas.so.13} and the like).
 */
public final class NativeLibraries {
    private NativeLibraries() {
    }

    /** Candidate folders, in search order, that exist on this machine. */
    public static List<Path> searchFolders() {
        Set<Path> out = new LinkedHashSet<>();
        addPathList(out, System.getProperty("panamax.cuda.libpath"));
        for (String env : new String[]{"CUDA_HOME", "CUDA_PATH"}) {
            String v = System.getenv(env);
            if (v != null && !v.isBlank()) {
                out.add(Path.of(v, "lib64"));
                out.add(Path.of(v, "lib"));
            }
        }
        addPathList(out, System.getenv("LD_LIBRARY_PATH"));
        addGlob(out, Path.of("/usr/local"), "cuda*", "lib64");
        out.add(Path.of("/usr/lib/x86_64-linux-gnu"));
        out.add(Path.of("/usr/lib64"));
        out.add(Path.of("/usr/lib/wsl/lib"));
        out.add(Path.of("/usr/lib/aarch64-linux-gnu"));
        for (String py : pythonSitePackages()) addGlob(out, Path.of(py, "nvidia"), "*", "lib");
        List<Path> existing = new ArrayList<>();
        for (Path p : out) if (Files.isDirectory(p)) existing.add(p);
        return existing;
    }

    private static List<String> pythonSitePackages() {
        List<String> roots = new ArrayList<>();
        String venv = System.getenv("VIRTUAL_ENV");
        List<Path> bases = new ArrayList<>();
        if (venv != null) bases.add(Path.of(venv, "lib"));
        bases.add(Path.of("/usr/local/lib"));
        bases.add(Path.of("/usr/lib"));
        bases.add(Path.of(System.getProperty("user.home", "/root"), ".local", "lib"));
        for (Path base : bases) {
            if (!Files.isDirectory(base)) continue;
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(base, "python3*")) {
                for (Path p : ds) {
                    roots.add(p.resolve("site-packages").toString());
                    roots.add(p.resolve("dist-packages").toString());
                }
            } catch (IOException ignored) {
                // an unreadable folder is simply not searched
            }
        }
        return roots;
    }

    private static void addPathList(Set<Path> out, String list) {
        if (list == null || list.isBlank()) return;
        for (String s : list.split(java.io.File.pathSeparator)) {
            if (!s.isBlank()) out.add(Path.of(s.trim()));
        }
    }

    private static void addGlob(Set<Path> out, Path dir, String glob, String sub) {
        if (!Files.isDirectory(dir)) return;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, glob)) {
            for (Path p : ds) out.add(p.resolve(sub));
        } catch (IOException ignored) {
            // not searched
        }
    }

    /**
     * The first existing file for {@code baseName} (e.g. {@code "libcublas.so"}) with one of the
     * given version suffixes (e.g. {@code "13", "12"}) tried first, then the bare name.
     */
    public static Optional<Path> find(String baseName, String... versions) {
        for (Path dir : searchFolders()) {
            for (String v : versions) {
                Path p = dir.resolve(baseName + "." + v);
                if (Files.isRegularFile(p)) return Optional.of(p);
            }
            Path p = dir.resolve(baseName);
            if (Files.isRegularFile(p)) return Optional.of(p);
        }
        return Optional.empty();
    }
}
