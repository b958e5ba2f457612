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
 * ({@code lib64}), the driver's usual folders ({@code /usr/local/nvidia/lib64} of GPU containers,
 * the multiarch and {@code lib64} folders, WSL's), the folders the dynamic loader is configured
 * with ({@code /etc/ld.so.conf} and its includes), and the {@code nvidia/*}{@code /lib} folders of
 * Python wheels: in the active virtual environment, in the environment of each {@code python3} on
 * {@code PATH}, in {@code /opt/*}{@code /.venv} and {@code /opt/*}{@code /venv}, and in the system
 * and user site folders. In each folder the versioned sonames are tried before the bare name
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
        out.add(Path.of("/usr/local/nvidia/lib64"));
        out.add(Path.of("/usr/local/nvidia/lib"));
        out.add(Path.of("/usr/lib/x86_64-linux-gnu"));
        out.add(Path.of("/usr/lib64"));
        out.add(Path.of("/usr/lib/wsl/lib"));
        out.add(Path.of("/usr/lib/aarch64-linux-gnu"));
        out.addAll(loaderConfigFolders(Path.of("/etc/ld.so.conf")));
        for (Path py : pythonSitePackages()) addGlob(out, py.resolve("nvidia"), "*", "lib");
        List<Path> existing = new ArrayList<>();
        for (Path p : out) if (Files.isDirectory(p)) existing.add(p);
        return existing;
    }

    /** Site-packages folders of the Python environments this machine is likely to have. */
    private static List<Path> pythonSitePackages() {
        Set<Path> envs = new LinkedHashSet<>();
        String venv = System.getenv("VIRTUAL_ENV");
        if (venv != null && !venv.isBlank()) envs.add(Path.of(venv));
        String path = System.getenv("PATH");
        if (path != null) {
            for (String dir : path.split(java.io.File.pathSeparator)) {
                if (dir.isBlank()) continue;
                Path bin = Path.of(dir.trim());
                if (Files.isRegularFile(bin.resolve("python3")) && bin.getParent() != null) envs.add(bin.getParent());
            }
        }
        for (String name : new String[]{".venv", "venv"}) {
            Set<Path> found = new LinkedHashSet<>();
            addGlob(found, Path.of("/opt"), "*", name);
            envs.addAll(found);
        }
        envs.add(Path.of("/usr/local"));
        envs.add(Path.of("/usr"));
        envs.add(Path.of(System.getProperty("user.home", "/root"), ".local"));
        List<Path> roots = new ArrayList<>();
        for (Path env : envs) {
            Path lib = env.resolve("lib");
            if (!Files.isDirectory(lib)) continue;
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(lib, "python3*")) {
                for (Path p : ds) {
                    roots.add(p.resolve("site-packages"));
                    roots.add(p.resolve("dist-packages"));
                }
            } catch (IOException ignored) {
                // an unreadable folder is simply not searched
            }
        }
        return roots;
    }

    /**
     * The folders named in a dynamic-loader configuration file such as {@code /etc/ld.so.conf}, with
     * its {@code include} lines (globs allowed in the file name) followed; comments and
     * {@code hwcap} lines are skipped. Unreadable files add nothing.
     */
    static List<Path> loaderConfigFolders(Path conf) {
        List<Path> out = new ArrayList<>();
        readLoaderConfig(conf, out, 0);
        return out;
    }

    private static void readLoaderConfig(Path conf, List<Path> out, int depth) {
        if (depth > 8 || !Files.isRegularFile(conf)) return;
        List<String> lines;
        try {
            lines = Files.readAllLines(conf);
        } catch (IOException | RuntimeException e) {
            return;
        }
        for (String raw : lines) {
            int hash = raw.indexOf('#');
            String line = (hash >= 0 ? raw.substring(0, hash) : raw).trim();
            if (line.isEmpty() || line.startsWith("hwcap")) continue;
            if (line.startsWith("include")) {
                String pattern = line.substring("include".length()).trim();
                if (pattern.isEmpty()) continue;
                Path p = Path.of(pattern);
                if (!p.isAbsolute() && conf.getParent() != null) p = conf.getParent().resolve(p);
                Path dir = p.getParent();
                if (dir == null || !Files.isDirectory(dir)) continue;
                List<Path> matches = new ArrayList<>();
                try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, p.getFileName().toString())) {
                    for (Path m : ds) matches.add(m);
                } catch (IOException | RuntimeException e) {
                    continue;
                }
                matches.sort(null);
                for (Path m : matches) readLoaderConfig(m, out, depth + 1);
            } else {
                for (String dir : line.split("[\\s:,=]+")) {
                    if (dir.startsWith("/")) out.add(Path.of(dir));
                }
            }
        }
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
