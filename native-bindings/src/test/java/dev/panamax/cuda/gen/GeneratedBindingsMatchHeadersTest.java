package dev.panamax.cuda.gen;

import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The hand-written bindings must match the C headers: for every function in a symbol list, the
 * binding exists and its descriptor's layouts (return and parameters) are those the header's
 * prototype implies. A wrong descriptor would corrupt the stack on a GPU machine, so this runs
 * wherever the headers are installed ({@code cuda.h} ships with the toolkit on our build machines;
 * {@code cublas_api.h} and {@code nvrtc.h} with the Python wheels on GPU machines). It reads the
 * binding sources, so it needs no library.
 */
class GeneratedBindingsMatchHeadersTest {
    private static final Path MODULE = Path.of("").toAbsolutePath();
    private static final Path GEN = MODULE.resolve("src/main/java/dev/panamax/cuda/gen");

    @TestFactory
    Stream<DynamicTest> cudaDriver() throws IOException {
        return checks("cuda_h", "cuda.symbols", "cuda.h");
    }

    @TestFactory
    Stream<DynamicTest> cublas() throws IOException {
        return checks("cublas_api_h", "cublas.symbols", "cublas_api.h");
    }

    @TestFactory
    Stream<DynamicTest> cublasLt() throws IOException {
        return checks("cublasLt_h", "cublasLt.symbols", "cublasLt.h");
    }

    @TestFactory
    Stream<DynamicTest> nvrtc() throws IOException {
        return checks("nvrtc_h", "nvrtc.symbols", "nvrtc.h");
    }

    /**
     * Handle typedefs as CUDA 13's driver_types.h writes them, with a qualifier before {@code struct}
     * (a GPU machine's headers showed {@code cudaStream_t} read as an int before this was handled).
     */
    @org.junit.jupiter.api.Test
    void handleTypedefsWithQualifiersArePointers() {
        assertThat(kind("cudaStream_t", "typedef __device_builtin__ struct CUstream_st *cudaStream_t;")).isEqualTo("C_POINTER");
        assertThat(kind("cudaStream_t", "typedef struct CUstream_st *cudaStream_t;")).isEqualTo("C_POINTER");
        assertThat(kind("cudaDataType", "typedef __device_builtin__ enum cudaDataType_t cudaDataType;")).isEqualTo("C_INT");
        assertThat(kind("cudaStream_t", "")).isEqualTo("C_INT");
    }

    @org.junit.jupiter.api.Test
    void everyListedSymbolIsBoundAndEveryBindingIsListed() throws IOException {
        for (String[] h : new String[][]{{"cuda_h", "cuda.symbols"}, {"cublas_api_h", "cublas.symbols"}, {"cublasLt_h", "cublasLt.symbols"}, {"nvrtc_h", "nvrtc.symbols"}}) {
            Map<String, List<String>> bound = descriptors(Files.readString(GEN.resolve(h[0] + ".java")), h[0]);
            List<String> listed = symbols(h[1], "--include-function ");
            assertThat(bound.keySet()).as(h[0] + " versus " + h[1]).containsExactlyInAnyOrderElementsOf(listed);
            String source = Files.readString(GEN.resolve(h[0] + ".java"));
            for (String c : symbols(h[1], "--include-constant ")) assertThat(source).as(h[0]).contains("public static int " + c + "()");
        }
    }

    private static List<String> symbols(String file, String prefix) throws IOException {
        List<String> out = new ArrayList<>();
        for (String line : Files.readAllLines(MODULE.resolve("jextract").resolve(file))) {
            if (line.startsWith(prefix)) out.add(line.substring(prefix.length()).trim());
        }
        return out;
    }

    private Stream<DynamicTest> checks(String cls, String symbolFile, String headerName) throws IOException {
        Optional<Path> header = findHeader(headerName);
        assumeTrue(header.isPresent(), headerName + " is not installed here");
        String text = Files.readString(header.get()) + "\n" + typeHeaders();
        final String hdr = text;
        String source = Files.readString(GEN.resolve(cls + ".java"));
        Map<String, List<String>> bound = descriptors(source, cls);
        List<DynamicTest> tests = new ArrayList<>();
        for (String fn : symbols(symbolFile, "--include-function ")) {
            tests.add(DynamicTest.dynamicTest(fn, () -> {
                List<String> expected = fromHeader(hdr, fn, header.get());
                assertThat(bound.get(fn)).as(fn + " in " + cls + ".java versus " + header.get()).isEqualTo(expected);
            }));
        }
        for (String c : symbols(symbolFile, "--include-constant ")) {
            tests.add(DynamicTest.dynamicTest(c, () -> {
                Long expected = constantInHeader(hdr, c);
                assertThat(expected).as("no definition of " + c + " in " + header.get() + " or the type headers beside the toolkit's").isNotNull();
                assertThat(constantInBinding(source, c)).as(c + " in " + cls + ".java versus " + header.get()).isEqualTo(expected);
            }));
        }
        return tests.stream();
    }

    /**
     * driver_types.h and library_types.h (cudaStream_t, cudaDataType) from the first folder that
     * has them: beside the toolkit's headers, or in the Python wheels' cuda_runtime folder.
     */
    private static String typeHeaders() throws IOException {
        StringBuilder out = new StringBuilder();
        for (String extra : new String[]{"driver_types.h", "library_types.h"}) {
            Optional<Path> p = findHeader(extra);
            if (p.isPresent()) out.append(Files.readString(p.get())).append('\n');
        }
        return out.toString();
    }

    /** The value of {@code NAME = value} in an enum, or of {@code #define NAME value}; null when neither is there. */
    static Long constantInHeader(String header, String name) {
        Matcher m = Pattern.compile("(?:\\b" + name + "\\s*=|#define\\s+" + name + "\\s)\\s*\\(?\\s*(-?(?:0x[0-9a-fA-F]+|\\d+))").matcher(header);
        if (!m.find()) return null;
        String v = m.group(1);
        boolean negative = v.startsWith("-");
        if (negative) v = v.substring(1);
        long value = v.startsWith("0x") ? Long.parseLong(v.substring(2), 16) : Long.parseLong(v);
        return negative ? -value : value;
    }

    /** The value a binding class gives {@code NAME} ({@code private static final int NAME = (int)VALUEL;}). */
    static Long constantInBinding(String source, String name) {
        Matcher m = Pattern.compile("static final int " + name + " = \\(int\\)(-?\\d+)L;").matcher(source);
        return m.find() ? Long.parseLong(m.group(1)) : null;
    }

    /**
     * The headers' folders: the system property {@code panamax.cuda.include} (a path list), CUDA_HOME,
     * /usr/local/cuda*, and the Python wheels' nvidia/{name}/include.
     */
    private static Optional<Path> findHeader(String name) throws IOException {
        List<Path> dirs = new ArrayList<>();
        String extra = System.getProperty("panamax.cuda.include", "");
        for (String d : extra.split(java.io.File.pathSeparator)) if (!d.isBlank()) dirs.add(Path.of(d));
        for (String env : new String[]{"CUDA_HOME", "CUDA_PATH"}) {
            String v = System.getenv(env);
            if (v != null && !v.isBlank()) dirs.add(Path.of(v, "include"));
        }
        dirs.add(Path.of("/usr/local/cuda/include"));
        List<String> roots = new ArrayList<>(List.of("/usr/local/lib", "/usr/lib", System.getProperty("user.home") + "/.local/lib"));
        if (System.getenv("VIRTUAL_ENV") != null) roots.add(System.getenv("VIRTUAL_ENV") + "/lib");
        for (String root : roots) {
            Path r = Path.of(root);
            if (!Files.isDirectory(r)) continue;
            try (var pythons = Files.newDirectoryStream(r, "python3*")) {
                for (Path py : pythons) {
                    for (String site : new String[]{"site-packages", "dist-packages"}) {
                        Path nv = py.resolve(site).resolve("nvidia");
                        if (!Files.isDirectory(nv)) continue;
                        try (var libs = Files.newDirectoryStream(nv)) {
                            for (Path lib : libs) dirs.add(lib.resolve("include"));
                        }
                    }
                }
            }
        }
        for (Path d : dirs) if (Files.isRegularFile(d.resolve(name))) return Optional.of(d.resolve(name));
        return Optional.empty();
    }

    private static final Pattern BINDING = Pattern.compile(
            "private static class (\\w+) \\{\\s*public static final FunctionDescriptor DESC = FunctionDescriptor\\.of\\(([^)]*)\\);");

    /** Function name to layout names (return first) from a binding class's source. */
    static Map<String, List<String>> descriptors(String source, String cls) {
        Map<String, List<String>> out = new LinkedHashMap<>();
        Matcher m = BINDING.matcher(source);
        while (m.find()) {
            List<String> layouts = new ArrayList<>();
            for (String part : m.group(2).split(",")) layouts.add(part.trim().replace(cls + ".", ""));
            out.put(m.group(1), layouts);
        }
        return out;
    }

    /** Layouts implied by the header's prototype of {@code fn} (following a #define alias to it). */
    static List<String> fromHeader(String header, String fn, Path file) {
        String declared = fn;
        Matcher alias = Pattern.compile("#define\\s+(\\w+)\\s+(?:__CUDA_API_PT\\w+\\()?" + fn + "\\)?\\s*\\n").matcher(header);
        if (alias.find()) declared = alias.group(1);
        String[] proto = prototype(header, declared);
        if (proto == null) throw new AssertionError("no prototype of " + fn + " (declared as " + declared + ") in " + file);
        List<String> out = new ArrayList<>();
        out.add(kind(proto[0], header));
        String params = proto[1];
        if (!params.isEmpty() && !params.equals("void")) {
            for (String p : params.split(",")) {
                String t = p.trim();
                // drop the parameter name (the last identifier, unless the type is only one word)
                Matcher named = Pattern.compile("^(.*?[\\s*])(\\w+)(\\s*\\[\\])?$").matcher(t);
                if (named.find() && !named.group(1).isBlank()) t = named.group(1).trim() + (named.group(3) != null ? "*" : "");
                out.add(kind(t, header));
            }
        }
        return out;
    }

    /**
     * The first declaration {@code RET [API] name(PARAMS);} of {@code name}: {return type,
     * parameters}, comments removed; null when there is none.
     */
    private static String[] prototype(String header, String name) {
        Pattern call = Pattern.compile("\\b" + name + "\\s*\\(");
        Matcher m = call.matcher(header);
        while (m.find()) {
            int close = header.indexOf(')', m.end());
            int semi = header.indexOf(';', m.end());
            if (close < 0 || semi < 0 || !header.substring(close + 1, semi).isBlank()) continue;
            int lineStart = header.lastIndexOf('\n', m.start()) + 1;
            String ret = header.substring(lineStart, m.start()).replace("CUDAAPI", "").replace("CUBLASWINAPI", "")
                    .replace("extern", "").replace("\"C\"", "").trim();
            // a declaration's return type is words and stars only (no "* doc text ::", no "x = ")
            if (!ret.matches("[A-Za-z_][\\w ]*\\**") || ret.contains("return")) continue;
            String params = header.substring(m.end(), close).replaceAll("(?s)/\\*.*?\\*/", "").replaceAll("//[^\n]*", "").trim();
            return new String[]{ret, params};
        }
        return null;
    }

    static String kind(String type, String header) {
        String t = type.replace("const", "").replaceAll("\\s+", " ").trim();
        if (t.contains("*")) return "C_POINTER";
        switch (t) {
            case "size_t": return "C_LONG";
            case "unsigned long long", "long long", "long long int", "CUdeviceptr", "int64_t", "uint64_t": return "C_LONG_LONG";
            case "float": return "C_FLOAT";
            case "double": return "C_DOUBLE";
            case "unsigned char", "char": return "C_CHAR";
            default:
        }
        // a handle type: typedef [qualifiers such as __device_builtin__] struct NAME_st *NAME;
        if (Pattern.compile("typedef\\s+(?:\\w+\\s+)*struct\\s+\\w+\\s*\\*\\s*" + Pattern.quote(t) + "\\s*;").matcher(header).find()) return "C_POINTER";
        // a pointer to a named type: typedef cublasLtMatrixLayoutOpaque_t* cublasLtMatrixLayout_t;
        if (Pattern.compile("typedef\\s+\\w+\\s*\\*\\s*" + Pattern.quote(t) + "\\s*;").matcher(header).find()) return "C_POINTER";
        return "C_INT";
    }
}
