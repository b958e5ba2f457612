package dev.panamax.runtime.io;

import dev.panamax.runtime.Tensor;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A Hugging Face style checkpoint: a folder with {@code config.json} and either
 * {@code model.safetensors} or shards listed in {@code model.safetensors.index.json}, or a single
 * {@code .safetensors} file. Tensors are zero-copy views on memory-mapped files, valid until
 * {@link #close()}.
 */
public final class Checkpoint implements AutoCloseable {
    /** Name of a sharded checkpoint's index file. */
    public static final String INDEX = "model.safetensors.index.json";

    private final Path root;
    private final ConfigJson config;
    private final List<SafetensorsFile> files;
    private final Map<String, SafetensorsFile> owner;

    private Checkpoint(Path root, ConfigJson config, List<SafetensorsFile> files, Map<String, SafetensorsFile> owner) {
        this.root = root;
        this.config = config;
        this.files = files;
        this.owner = owner;
    }

    /**
     * Opens a checkpoint folder or a single safetensors file.
     *
     * @throws SafetensorsFormatException for a malformed file or index, or a folder with no weights
     */
    public static Checkpoint open(Path path) {
        if (Files.isRegularFile(path)) {
            SafetensorsFile f = SafetensorsFile.open(path);
            Map<String, SafetensorsFile> own = new LinkedHashMap<>();
            for (String n : f.names()) own.put(n, f);
            return new Checkpoint(path, null, List.of(f), own);
        }
        if (!Files.isDirectory(path)) throw new SafetensorsFormatException(path, "no such file or folder");
        Path cfgFile = path.resolve("config.json");
        ConfigJson cfg = Files.isRegularFile(cfgFile) ? ConfigJson.read(cfgFile) : null;
        Path index = path.resolve(INDEX);
        Path single = path.resolve("model.safetensors");
        List<SafetensorsFile> opened = new ArrayList<>();
        try {
            Map<String, SafetensorsFile> own = new LinkedHashMap<>();
            if (Files.isRegularFile(index)) {
                ConfigJson idx;
                try {
                    idx = ConfigJson.read(index);
                } catch (ConfigJson.ConfigException e) {
                    throw new SafetensorsFormatException(index, null, e.getMessage(), e);
                }
                Object wm = idx.raw("weight_map");
                if (!(wm instanceof Map<?, ?> map)) throw new SafetensorsFormatException(index, "missing or invalid \"weight_map\"");
                Map<String, SafetensorsFile> byFile = new LinkedHashMap<>();
                for (Map.Entry<?, ?> e : map.entrySet()) {
                    String name = (String) e.getKey();
                    if (!(e.getValue() instanceof String file) || file.contains("/") || file.contains("\\") || file.equals("..") || file.isEmpty()) {
                        throw new SafetensorsFormatException(index, name, "shard file name " + e.getValue() + " is not a plain file name in the folder", null);
                    }
                    SafetensorsFile sf = byFile.get(file);
                    if (sf == null) {
                        Path shard = path.resolve(file);
                        if (!Files.isRegularFile(shard)) throw new SafetensorsFormatException(index, name, "shard " + file + " does not exist", null);
                        sf = SafetensorsFile.open(shard);
                        opened.add(sf);
                        byFile.put(file, sf);
                    }
                    if (!sf.contains(name)) throw new SafetensorsFormatException(sf.path(), name, "listed in " + INDEX + " but missing from the shard", null);
                    own.put(name, sf);
                }
            } else if (Files.isRegularFile(single)) {
                SafetensorsFile f = SafetensorsFile.open(single);
                opened.add(f);
                for (String n : f.names()) own.put(n, f);
            } else {
                throw new SafetensorsFormatException(path, "folder has neither " + INDEX + " nor model.safetensors");
            }
            Checkpoint c = new Checkpoint(path, cfg, List.copyOf(opened), Collections.unmodifiableMap(own));
            opened = null;
            return c;
        } finally {
            if (opened != null) opened.forEach(SafetensorsFile::close);
        }
    }

    /** The folder or file opened. */
    public Path root() {
        return root;
    }

    /** The parsed {@code config.json}, or null when the checkpoint has none. */
    public ConfigJson config() {
        return config;
    }

    /** All tensor names. */
    public List<String> names() {
        return List.copyOf(owner.keySet());
    }

    /** Whether a tensor of that name exists. */
    public boolean contains(String name) {
        return owner.containsKey(name);
    }

    /** Header entry of a tensor. */
    public TensorInfo info(String name) {
        return file(name).info(name);
    }

    /** The file holding a tensor. */
    public SafetensorsFile file(String name) {
        SafetensorsFile f = owner.get(name);
        if (f == null) throw new SafetensorsFormatException(root, name, "no such tensor in the checkpoint", null);
        return f;
    }

    /** A zero-copy view of a tensor. */
    public Tensor tensor(String name) {
        return file(name).tensor(name);
    }

    /** The opened files. */
    public List<SafetensorsFile> files() {
        return files;
    }

    /** Total bytes mapped. */
    public long mappedBytes() {
        long b = 0;
        for (SafetensorsFile f : files) b += f.mappedBytes();
        return b;
    }

    /** Unmaps every file. */
    @Override
    public void close() {
        files.forEach(SafetensorsFile::close);
    }
}
