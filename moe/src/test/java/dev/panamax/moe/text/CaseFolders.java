package dev.panamax.moe.text;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** The reference case folders of a test: those under a resource folder, and those under a folder a system property names. */
final class CaseFolders {
    private CaseFolders() {
    }

    /** Every folder holding a {@code cases.json} at or directly under {@code resource} and {@code -Dproperty=DIR}. */
    static List<Path> find(String resource, String property) throws IOException, URISyntaxException {
        List<Path> roots = new ArrayList<>();
        roots.add(Path.of(CaseFolders.class.getResource(resource).toURI()));
        String extra = System.getProperty(property);
        if (extra != null && !extra.isBlank()) {
            Path p = Path.of(extra);
            assertThat(p).as("-D" + property).isDirectory();
            roots.add(p);
        }
        List<Path> out = new ArrayList<>();
        for (Path root : roots) {
            if (Files.isRegularFile(root.resolve("cases.json"))) out.add(root);
            try (Stream<Path> s = Files.list(root)) {
                s.filter(d -> Files.isRegularFile(d.resolve("cases.json"))).sorted().forEach(out::add);
            }
        }
        return out;
    }
}
