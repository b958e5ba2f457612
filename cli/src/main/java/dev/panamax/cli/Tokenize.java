package dev.panamax.cli;

import dev.panamax.moe.text.ChatTemplate;
import dev.panamax.moe.text.HfTokenizer;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * {@code panamax tokenize PATH [--no-special] TEXT}: the ids of TEXT, one line, then their token
 * strings; {@code panamax tokenize PATH (--chat | --system S) TEXT}: the same for TEXT laid out
 * as a user message by the chat template, after the laid-out text itself;
 * {@code panamax tokenize PATH --decode 1,2,3 [--skip-special]}: the text of the ids.
 */
final class Tokenize {
    private Tokenize() {
    }

    static int run(String[] args, PrintStream out) {
        if (args.length < 2) throw new Main.UsageException("tokenize PATH TEXT, or tokenize PATH --decode 1,2,3");
        HfTokenizer tok = HfTokenizer.load(Path.of(args[0]));
        boolean special = true, skip = false, chat = false;
        String decode = null, text = null, system = null;
        for (int i = 1; i < args.length; i++) {
            switch (args[i]) {
                case "--no-special" -> special = false;
                case "--skip-special" -> skip = true;
                case "--chat" -> chat = true;
                case "--system" -> {
                    if (i + 1 >= args.length) throw new Main.UsageException("--system needs a text");
                    system = args[++i];
                }
                case "--decode" -> {
                    if (i + 1 >= args.length) throw new Main.UsageException("--decode needs ids, as 1,2,3");
                    decode = args[++i];
                }
                default -> {
                    if (text != null) throw new Main.UsageException("one TEXT argument (quote it), got a second: " + args[i]);
                    text = args[i];
                }
            }
        }
        if ((decode == null) == (text == null)) throw new Main.UsageException("give TEXT or --decode 1,2,3, not both");
        if (decode != null && (chat || system != null)) throw new Main.UsageException("--chat and --system lay out a TEXT, not --decode");
        if (decode != null) {
            long[] ids;
            try {
                ids = Generate.ids(decode);
            } catch (NumberFormatException e) {
                throw new Main.UsageException("--decode: not a list of ids: " + decode);
            }
            out.println(tok.decode(ids, skip));
            return 0;
        }
        long[] ids;
        if (chat || system != null) {
            String laidOut = tok.applyChatTemplate(ChatTemplate.conversation(system, text), true);
            out.println(laidOut);
            ids = tok.encode(laidOut, false);
        } else {
            ids = tok.encode(text, special);
        }
        out.println(Arrays.stream(ids).mapToObj(Long::toString).collect(Collectors.joining(",")));
        out.println(Arrays.stream(ids).mapToObj(id -> tok.token(id).orElse("?")).collect(Collectors.joining(" | ")));
        out.println(ids.length + " tokens");
        return 0;
    }
}
