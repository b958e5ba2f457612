package dev.panamax.cli;

import com.sun.source.tree.ClassTree;
import com.sun.source.tree.CompilationUnitTree;
import com.sun.source.tree.MethodTree;
import com.sun.source.tree.ModifiersTree;
import com.sun.source.tree.Tree;
import com.sun.source.tree.VariableTree;
import com.sun.source.util.DocTrees;
import com.sun.source.util.JavacTask;
import com.sun.source.util.TreePath;
import org.junit.jupiter.api.Test;

import javax.lang.model.element.Modifier;
import javax.tools.JavaCompiler;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The library's public API is documented: in every package a module exports, each public type and
 * each of its public or protected constructors, methods, fields, enum constants and member types has
 * a doc comment (overriding methods inherit theirs). The one exception is jextract's C type
 * layouts ({@code C_INT}, {@code C_POINTER}, ...) in the generated {@code dev.panamax.cuda.gen},
 * which jextract emits without comments. The sources are parsed, not compiled, so the
 * check costs a few seconds. The build's {@code -Xdoclint:all,-missing} checks that the comments
 * that exist are well formed.
 */
class PublicApiDocumentedTest {
    private static final String GENERATED = "dev/panamax/cuda/gen/";
    private static final Pattern EXPORTS = Pattern.compile("^\\s*exports\\s+([\\w.]+)\\s*;", Pattern.MULTILINE);

    @Test
    void everyPublicTypeAndMemberOfAnExportedPackageHasADocComment() throws IOException {
        Path root = Path.of(System.getProperty("panamax.root", "..")).toAbsolutePath().normalize();
        List<Path> modules;
        try (Stream<Path> s = Files.list(root)) {
            modules = s.filter(m -> Files.isRegularFile(m.resolve("src/main/java/module-info.java"))).sorted().toList();
        }
        assertThat(modules).as("library modules under " + root).extracting(m -> m.getFileName().toString())
                .contains("native-bindings", "runtime", "moe", "grpo");
        List<String> undocumented = new ArrayList<>();
        int checked = 0;
        for (Path module : modules) {
            Path src = module.resolve("src/main/java");
            Matcher m = EXPORTS.matcher(Files.readString(src.resolve("module-info.java"), StandardCharsets.UTF_8));
            while (m.find()) {
                Path pkg = src.resolve(m.group(1).replace('.', '/'));
                List<Path> files;
                try (Stream<Path> s = Files.list(pkg)) {
                    files = s.filter(f -> f.toString().endsWith(".java") && !f.endsWith("package-info.java")).sorted().toList();
                }
                checked += check(files, root, undocumented);
            }
        }
        assertThat(checked).as("public declarations checked").isGreaterThan(500);
        assertThat(undocumented).as("public declarations without a doc comment").isEmpty();
    }

    /** Parses {@code files} and adds each undocumented public declaration to {@code out}; returns how many were checked. */
    static int check(List<Path> files, Path root, List<String> out) throws IOException {
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        try (StandardJavaFileManager fm = javac.getStandardFileManager(null, null, StandardCharsets.UTF_8)) {
            JavacTask task = (JavacTask) javac.getTask(null, fm, null, List.of("-proc:none"), null, fm.getJavaFileObjectsFromPaths(files));
            DocTrees docs = DocTrees.instance(task);
            int[] checked = {0};
            for (CompilationUnitTree unit : task.parse()) {
                String file = root.relativize(Path.of(unit.getSourceFile().toUri())).toString();
                for (Tree t : unit.getTypeDecls()) {
                    if (t instanceof ClassTree c && c.getModifiers().getFlags().contains(Modifier.PUBLIC)) {
                        checkType(new TreePath(new TreePath(unit), c), file, docs, out, checked);
                    }
                }
            }
            return checked[0];
        }
    }

    private static void checkType(TreePath type, String file, DocTrees docs, List<String> out, int[] checked) {
        ClassTree c = (ClassTree) type.getLeaf();
        require(type, file, c.getSimpleName().toString(), docs, out, checked);
        boolean iface = c.getKind() == Tree.Kind.INTERFACE || c.getKind() == Tree.Kind.ANNOTATION_TYPE;
        for (Tree member : c.getMembers()) {
            TreePath path = new TreePath(type, member);
            switch (member) {
                case ClassTree nested when visible(nested.getModifiers(), iface) -> checkType(path, file, docs, out, checked);
                case MethodTree method when visible(method.getModifiers(), iface) && !overrides(method) && !isCompactConstructor(method, c) ->
                        require(path, file, c.getSimpleName() + "." + method.getName(), docs, out, checked);
                case VariableTree field when (visible(field.getModifiers(), iface) || isEnumConstant(field, c))
                        && !(file.contains(GENERATED) && field.getName().toString().startsWith("C_")) ->
                        require(path, file, c.getSimpleName() + "." + field.getName(), docs, out, checked);
                default -> { }
            }
        }
    }

    private static void require(TreePath path, String file, String name, DocTrees docs, List<String> out, int[] checked) {
        checked[0]++;
        if (docs.getDocCommentTree(path) == null) out.add(file + ": " + name);
    }

    /** Public or protected; in an interface, anything not private. */
    private static boolean visible(ModifiersTree mods, boolean inInterface) {
        Set<Modifier> f = mods.getFlags();
        return f.contains(Modifier.PUBLIC) || f.contains(Modifier.PROTECTED) || (inInterface && !f.contains(Modifier.PRIVATE));
    }

    private static boolean overrides(MethodTree method) {
        return method.getModifiers().getAnnotations().stream().anyMatch(a -> a.getAnnotationType().toString().equals("Override"));
    }

    /** A record's compact constructor: its doc is the record's {@code @param} tags. */
    private static boolean isCompactConstructor(MethodTree method, ClassTree owner) {
        return owner.getKind() == Tree.Kind.RECORD && method.getName().contentEquals("<init>") && method.getParameters().isEmpty();
    }

    private static boolean isEnumConstant(VariableTree field, ClassTree owner) {
        return owner.getKind() == Tree.Kind.ENUM && field.getInitializer() instanceof com.sun.source.tree.NewClassTree;
    }
}
