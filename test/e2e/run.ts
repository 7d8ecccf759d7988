import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a program to completion and collects its output; never throws on a non-zero exit. */
export function run(
  command: string,
  args: readonly string[],
  options: { env?: NodeJS.ProcessEnv; input?: string; timeoutMs?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      env: options.env ?? process.env,
      stdio: ["pipe", "pipe", "pipe"],
      timeout: options.timeoutMs ?? 60_000,
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    child.stderr.on("data", (d) => {
      stderr += d;
    });
    child.on("error", reject);
    // A program that exits before reading its input must not fail the test with EPIPE.
    child.stdin.on("error", () => undefined);
    child.on("close", (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
    child.stdin.end(options.input ?? "");
  });
}

/** The real kubectl on this machine. */
export function kubectl(kubeconfig: string, ...args: string[]): Promise<RunResult> {
  return run("kubectl", ["--kubeconfig", kubeconfig, ...args]);
}

const KUBEGATE_BIN = fileURLToPath(new URL("../../bin/kubegate.js", import.meta.url));

/** The kubegate CLI as a user runs it: a separate process through bin/kubegate.js. */
export function kubegate(...args: string[]): Promise<RunResult> {
  return run(process.execPath, [KUBEGATE_BIN, ...args]);
}

/** Awaits a command that must succeed and returns its stdout; a failure fails the test with stderr. */
export async function ok(p: Promise<RunResult>): Promise<string> {
  const r = await p;
  if (r.code !== 0) throw new Error(`command failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

/**
 * A namespace's "default" ServiceAccount, which pods need. With a node, the test cluster's controller
 * manager makes it (maybe already); without one, nobody does: created here, whichever comes first.
 */
export async function defaultServiceAccount(kubeconfig: string, namespace: string): Promise<void> {
  const r = await kubectl(kubeconfig, "create", "serviceaccount", "default", "-n", namespace);
  if (r.code !== 0 && !/already exists/.test(r.stderr))
    throw new Error(`command failed (${r.code}): ${r.stderr}`);
}

/**
 * A pod held by a scheduling gate, so that it is only ever listed: no node runs it, with or without one
 * in the cluster. Creates the namespace's default ServiceAccount first, which a pod needs.
 */
export async function gatedPod(kubeconfig: string, namespace: string, name: string): Promise<void> {
  await defaultServiceAccount(kubeconfig, namespace);
  await ok(
    run("kubectl", ["--kubeconfig", kubeconfig, "apply", "-f", "-"], {
      input: JSON.stringify({
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name, namespace },
        spec: {
          schedulingGates: [{ name: "kubegate.dev/e2e" }],
          containers: [{ name: "c", image: "docker.io/library/busybox:1.35", imagePullPolicy: "Never" }],
        },
      }),
    }),
  );
}
