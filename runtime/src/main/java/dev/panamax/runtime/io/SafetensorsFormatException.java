package dev.panamax.runtime.io;

import java.nio.file.Path;

/**
 * A safetensors file (or a checkpoint folder) is malformed. The message names the file and,
 * where one is involved, the tensor.
 */
public class SafetensorsFormatException extends RuntimeException {
    private final transient Path file;
    private final String tensor;

    /** A problem with the file as a whole. */
    public SafetensorsFormatException(Path file, String problem) {
        this(file, null, problem, null);
    }

    /** A problem with one tensor of the file ({@code tensor} may be null). */
    public SafetensorsFormatException(Path file, String tensor, String problem, Throwable cause) {
        super(file + (tensor == null ? "" : ": tensor \"" + tensor + "\"") + ": " + problem, cause);
        this.file = file;
        this.tensor = tensor;
    }

    /** The file at fault. */
    public Path file() {
        return file;
    }

    /** The tensor at fault, or null. */
    public String tensor() {
        return tensor;
    }
}
