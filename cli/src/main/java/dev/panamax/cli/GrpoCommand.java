package dev.panamax.cli;

import dev.panamax.grpo.GrpoConfig;
import dev.panamax.grpo.R1ZeroDemo;
import dev.panamax.runtime.Device;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Locale;

/**
 * {@code panamax demo} and {@code panamax grpo [options]}: the R1-Zero miniature (supervised
 * warm-up, then GRPO with rule-based rewards) with settings from the command line.
 */
final class GrpoCommand {
    private GrpoCommand() {
    }

    static int run(String[] args, PrintStream out, boolean demo) {
        R1ZeroDemo.Settings d = R1ZeroDemo.Settings.defaults();
        int sft = d.sftSteps(), steps = d.grpoSteps(), prompts = d.prompts(), group = d.group(), eval = d.evalProblems();
        int checkpointEvery = d.checkpointEvery();
        boolean resume = false;
        double beta = d.beta(), lr = d.lr(), epsilon = d.epsilon(), epsilonHigh = d.epsilonHigh(), topP = d.topP();
        int topK = d.topK();
        GrpoConfig.LossType loss = d.lossType();
        long seed = d.seed();
        Path outDir = Path.of("panamax-out");
        String task = "addition";
        Device device = d.device();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--resume")) {
                resume = true;
                continue;
            }
            if (i + 1 >= args.length) throw new Main.UsageException("option " + a + " needs a value");
            String v = args[++i];
            try {
                switch (a) {
                    case "--task" -> task = v;
                    case "--warmup-steps" -> sft = Integer.parseInt(v);
                    case "--steps" -> steps = Integer.parseInt(v);
                    case "--prompts" -> prompts = Integer.parseInt(v);
                    case "--group-size" -> group = Integer.parseInt(v);
                    case "--beta" -> beta = Double.parseDouble(v);
                    case "--epsilon" -> epsilon = Double.parseDouble(v);
                    case "--epsilon-high" -> epsilonHigh = Double.parseDouble(v);
                    case "--loss-type" -> loss = GrpoConfig.LossType.parse(v);
                    case "--lr" -> lr = Double.parseDouble(v);
                    case "--top-p" -> topP = Double.parseDouble(v);
                    case "--top-k" -> topK = Integer.parseInt(v);
                    case "--seed" -> seed = Long.parseLong(v);
                    case "--eval" -> eval = Integer.parseInt(v);
                    case "--out" -> outDir = Path.of(v);
                    case "--checkpoint-every" -> checkpointEvery = Integer.parseInt(v);
                    case "--device" -> device = Device.parse(v);
                    default -> throw new Main.UsageException("unknown option " + a);
                }
            } catch (NumberFormatException e) {
                throw new Main.UsageException("option " + a + ": not a number: " + v);
            } catch (IllegalArgumentException e) {
                throw new Main.UsageException("option " + a + ": " + e.getMessage());
            }
        }
        if (!task.equals("addition")) throw new Main.UsageException("unknown task \"" + task + "\" (available: addition)");
        R1ZeroDemo.Settings settings = new R1ZeroDemo.Settings(sft, steps, prompts, group, beta, epsilon, epsilonHigh, loss, lr, seed, eval, checkpointEvery,
                resume, device, topP, topK);
        try {
            settings.grpoConfig();
        } catch (IllegalArgumentException e) {
            throw new Main.UsageException(e.getMessage());
        }
        String why = device.unavailableReason();
        if (why != null) throw new IllegalArgumentException("--device " + device + ": " + why);
        if (demo) out.println("Panamax demo: R1-Zero in miniature (DeepSeek-V3 architecture, GRPO, rule-based rewards), on " + (device.isDevice() ? device : "the CPU"));
        long t0 = System.nanoTime();
        R1ZeroDemo.Result r = R1ZeroDemo.run(settings, outDir, out);
        double seconds = (System.nanoTime() - t0) / 1e9, gain = r.accuracyAfter() - r.accuracyBefore();
        if (Double.isNaN(gain)) out.printf(Locale.ROOT, "GRPO finished in %.0f s (held-out accuracy not measured)%n", seconds);
        else out.printf(Locale.ROOT, "GRPO raised held-out accuracy by %.1f points in %.0f s%n", 100 * gain, seconds);
        return 0;
    }
}
