// The `ranksort` command line.

import { reportError } from "./error_report.ts";
import { closest, withFlagSuggestion } from "./did_you_mean.ts";
import { packageVersion } from "./version.ts";

interface Command {
  summary: string;
  usage(): Promise<string>;
  run(argv: string[]): Promise<number>;
}

const commands: Record<string, Command> = {
  loss: {
    summary: "compute a loss and its gradient for a golden-format case file",
    usage: async () => (await import("./commands/loss.ts")).lossUsage,
    run: async (argv) => (await import("./commands/loss.ts")).lossCommand(argv),
  },
  "export-op": {
    summary: "write a standalone .onnx model of one loss op (portable function body inside)",
    usage: async () => (await import("./commands/export_op.ts")).exportOpUsage,
    run: async (argv) => (await import("./commands/export_op.ts")).exportOpCommand(argv),
  },
  vjp: {
    summary: "gradients of a model's outputs · cotangents w.r.t. its initializers and inputs",
    usage: async () => (await import("./commands/vjp.ts")).vjpUsage,
    run: async (argv) => (await import("./commands/vjp.ts")).vjpCommand(argv),
  },
  inspect: {
    summary: "what an exported detector is (input, head tensors, post-processing) and a draft adapter",
    usage: async () => (await import("./commands/inspect.ts")).inspectUsage,
    run: async (argv) => (await import("./commands/inspect.ts")).inspectCommand(argv),
  },
  train: {
    summary: "fine-tune an exported detector with RS loss on a COCO-format dataset",
    usage: async () => (await import("./commands/train.ts")).trainUsage,
    run: async (argv) => (await import("./commands/train.ts")).trainCommand(argv),
  },
  eval: {
    summary: "COCO AP/AR and oLRP (pycocotools / LRP-Error numbers) of a COCO results file or a detector",
    usage: async () => (await import("./commands/eval.ts")).evalUsage,
    run: async (argv) => (await import("./commands/eval.ts")).evalCommand(argv),
  },
  predict: {
    summary: "run a detector on images: COCO results JSON and PNGs with boxes drawn",
    usage: async () => (await import("./commands/predict.ts")).predictUsage,
    run: async (argv) => (await import("./commands/predict.ts")).predictCommand(argv),
  },
  report: {
    summary: "write RUN/report.html (loss curves, AP per epoch, PR curves, images with boxes)",
    usage: async () => (await import("./commands/report.ts")).reportUsage,
    run: async (argv) => (await import("./commands/report.ts")).reportCommand(argv),
  },
  "make-data": {
    summary: "write a deterministic synthetic detection dataset in COCO format",
    usage: async () => (await import("./commands/make_data.ts")).makeDataUsage,
    run: async (argv) => (await import("./commands/make_data.ts")).makeDataCommand(argv),
  },
  demo: {
    summary: "fine-tune the bundled detector with RS loss on bundled synthetic data (runs/demo)",
    usage: async () => (await import("./commands/demo_train.ts")).demoTrainUsage,
    run: async (argv) => (await import("./commands/demo_train.ts")).demoTrainCommand(argv),
  },
  "demo-loss": {
    summary: "RS/AP/aLRP kernels on a detection-shaped case: losses, timings, naive comparison",
    usage: async () => (await import("./commands/demo.ts")).demoUsage,
    run: async (argv) => (await import("./commands/demo.ts")).demoCommand(argv),
  },
};

function usage(): string {
  const lines = Object.entries(commands).map(([name, c]) => `  ${name.padEnd(10)} ${c.summary}`);
  return `usage: ranksort <command> [options]     (ranksort --version)\n\ncommands:\n${lines.join("\n")}\n\nranksort <command> --help for a command's options`;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === "--version" || name === "-v" || name === "version") {
    console.log(packageVersion());
    return 0;
  }
  if (!name || name === "help" || name === "--help" || name === "-h") {
    console.log(usage());
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) {
    const guess = closest(name, Object.keys(commands));
    console.error(`ranksort: unknown command "${name}"${guess ? ` (did you mean "${guess}"?)` : ""}\n\n${usage()}`);
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    console.log(await command.usage());
    return 0;
  }
  try {
    return await command.run(rest).catch(async (e: unknown) => {
      throw withFlagSuggestion(e, await command.usage());
    });
  } catch (e) {
    const report = reportError(name, e);
    console.error(report.text);
    return report.exitCode;
  }
}

if ((import.meta as { main?: boolean }).main) {
  process.exitCode = await main(process.argv.slice(2));
}
