package dev.panamax.grpo;

import java.io.PrintStream;
import java.util.Locale;

/** A one-line console progress bar with steps and ETA, redrawn in place (a new line per update when not a terminal). */
final class Progress {
    private final PrintStream out;
    private final String label;
    private final int total;
    private final long start = System.nanoTime();
    private final boolean tty = System.console() != null;

    Progress(PrintStream out, String label, int total) {
        this.out = out;
        this.label = label;
        this.total = Math.max(total, 1);
    }

    void update(int done, String info) {
        double f = Math.min(1, done / (double) total);
        int w = 24, fill = (int) Math.round(f * w);
        double elapsed = (System.nanoTime() - start) / 1e9;
        double eta = done == 0 ? 0 : elapsed / done * (total - done);
        String line = String.format(Locale.ROOT, "%-8s [%s%s] %d/%d %s ETA %s  %s", label, "#".repeat(fill), ".".repeat(w - fill),
                done, total, clock(elapsed), clock(eta), info);
        if (tty) out.print("\r" + line);
        else if (done == total || done % Math.max(1, total / 10) == 0) out.println(line);
        out.flush();
    }

    void done() {
        if (tty) out.println();
    }

    private static String clock(double s) {
        long t = Math.round(s);
        return String.format(Locale.ROOT, "%d:%02d", t / 60, t % 60);
    }
}
