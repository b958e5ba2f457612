package dev.panamax.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.SymbolLookup;
import java.nio.file.Path;
import java.util.Optional;

/**
 * A native library located by {@link NativeLibraries}, or the reason it could not be. The raw
 * bindings in {@code dev.panamax.cuda.gen} resolve their symbols through one of these, so that a
 * missing library surfaces as an error naming the library and the folders searched, at the first
 * call of a function rather than when a class loads.
 */
public final class LibraryRef {
    private final String soname;
    private final Path path;

    private LibraryRef(String soname, Path path) {
        this.soname = soname;
        this.path = path;
    }

    /** Searches for {@code baseName} with the given version suffixes tried first (see {@link NativeLibraries#find}). */
    public static LibraryRef find(String baseName, String... versions) {
        String name = versions.length == 0 ? baseName : baseName + "." + versions[0];
        return new LibraryRef(name, NativeLibraries.find(baseName, versions).orElse(null));
    }

    /** The file found, if any. */
    public Optional<Path> path() {
        return Optional.ofNullable(path);
    }

    /** Where the library was found, or which library was not found where. */
    public String describe() {
        return path != null ? soname + " at " + path : soname + " was not found in " + NativeLibraries.searchFolders();
    }

    /**
     * A symbol lookup over the library, tied to {@code arena}; over nothing when the library is
     * missing or cannot be loaded (every symbol is then absent).
     */
    public SymbolLookup lookup(Arena arena) {
        if (path == null) return name -> Optional.empty();
        try {
            return SymbolLookup.libraryLookup(path, arena);
        } catch (RuntimeException e) {
            return name -> Optional.empty();
        }
    }
}
