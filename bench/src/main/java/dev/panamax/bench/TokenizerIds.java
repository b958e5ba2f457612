package dev.panamax.bench;

import dev.panamax.moe.text.HfTokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Collectors;

/** {@code TokenizerIds TOKENIZER TEXT}: prints the ids of the text, comma-separated (for bench/tokenizer/compare.sh). */
public final class TokenizerIds {
    private TokenizerIds() {
    }

    /** Entry point. */
    public static void main(String[] args) throws IOException {
        HfTokenizer tok = HfTokenizer.load(Path.of(args[0]));
        long[] ids = tok.encode(Files.readString(Path.of(args[1])), false);
        System.out.println(Arrays.stream(ids).mapToObj(Long::toString).collect(Collectors.joining(",")));
    }
}
