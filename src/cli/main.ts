import { Command, CommanderError } from "commander";
import { KubegateError } from "../status/errors.ts";
import { apiserverCommand } from "./apiserver.ts";
import { apiserverProxyCommand } from "./apiserver-proxy.ts";
import { certsCommand } from "./certs.ts";
import { devCommand } from "./dev.ts";
import { doctorCommand } from "./doctor.ts";
import { gatewayCommand } from "./gateway.ts";
import { kubeconfigCommand } from "./kubeconfig.ts";
import { manifestsCommand } from "./manifests.ts";
import { nodeAgentCommand } from "./node-agent.ts";
import { webhookCommand } from "./webhook.ts";

export function buildProgram(): Command {
  const program = new Command("kubegate")
    .description("Multi-tenant gateway to the Kubernetes API")
    .version(process.env.npm_package_version ?? "0.1.0")
    .showHelpAfterError("(add --help for usage)")
    .exitOverride();
  program.addCommand(certsCommand());
  program.addCommand(kubeconfigCommand());
  program.addCommand(gatewayCommand());
  program.addCommand(apiserverCommand());
  program.addCommand(webhookCommand());
  program.addCommand(nodeAgentCommand());
  program.addCommand(apiserverProxyCommand());
  program.addCommand(manifestsCommand());
  program.addCommand(devCommand());
  program.addCommand(doctorCommand());
  for (const cmd of program.commands) {
    cmd.exitOverride().showHelpAfterError("(add --help for usage)");
    for (const sub of cmd.commands) sub.exitOverride().showHelpAfterError("(add --help for usage)");
  }
  return program;
}

/** Runs the CLI; returns the exit code instead of exiting so tests can call it in-process. */
export async function run(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv, { from: "user" });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    if (err instanceof KubegateError) {
      console.error(`error: ${err.message}`);
      return 1;
    }
    console.error(err);
    return 1;
  }
}

if (import.meta.main) {
  process.exitCode = await run(process.argv.slice(2));
}
