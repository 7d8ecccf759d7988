// The Debian packages some e2e tests drive for real (iptables and iproute2 for the node agent,
// containerd, runc, the CNI plugins and busybox-static for the test cluster's node). The
// README's `npm test` must pass on a fresh machine by itself, so the global setup installs what is
// missing when it can (root with apt-get, as on this project's machines); where it cannot, the tests
// that need a package skip with a one-line reason (`missingCommands`), never fail and never pass silently.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { delimiter, join } from "node:path";

/** Commands the e2e suite runs, and the Debian package that brings each. */
export const SYSTEM_COMMANDS: Readonly<Record<string, string>> = {
  iptables: "iptables",
  ip: "iproute2",
  // The test cluster's node (src/devcluster/node.ts): the runtime, the pod network, the test image.
  containerd: "containerd",
  runc: "runc",
  // By its path: iproute2 has a `bridge` command of its own on PATH.
  "/usr/lib/cni/bridge": "containernetworking-plugins",
  busybox: "busybox-static",
  // The Python client of the clients' compatibility suite (test/e2e/clients.test.ts), for Debian's python3.
  "/usr/lib/python3/dist-packages/kubernetes/__init__.py": "python3-kubernetes",
  // The terminal k9s runs in, headless, for the same suite.
  tmux: "tmux",
};

/** Debian's CNI plugins live in /usr/lib/cni, not on PATH. */
const SEARCH = ["/usr/sbin", "/sbin", "/usr/bin", "/bin", "/usr/lib/cni"];

export function hasCommand(name: string, path = process.env.PATH ?? ""): boolean {
  if (name.startsWith("/")) return existsSync(name);
  return [...path.split(delimiter), ...SEARCH].some((dir) => dir && existsSync(join(dir, name)));
}

/** The commands of `wanted` not on this machine. */
export function missingCommands(wanted: readonly string[] = Object.keys(SYSTEM_COMMANDS)): string[] {
  return wanted.filter((c) => !hasCommand(c));
}

/**
 * Installs the packages of missing commands with apt-get when running as root; says what it did.
 * Returns the commands still missing afterwards.
 */
export function ensureSystemCommands(
  log: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): string[] {
  const missing = missingCommands();
  if (missing.length === 0) return [];
  const packages = [...new Set(missing.map((c) => SYSTEM_COMMANDS[c] as string))];
  if (process.platform !== "linux" || process.getuid?.() !== 0 || !hasCommand("apt-get")) {
    log(
      `# e2e: ${missing.join(", ")} missing and not installable here (needs root and apt-get): those tests skip`,
    );
    return missing;
  }
  log(`# e2e: installing ${packages.join(", ")} with apt-get (missing: ${missing.join(", ")})`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const update = spawnSync("apt-get", ["update", "-qq"], { stdio: ["ignore", "ignore", "pipe"], env });
  const install = spawnSync("apt-get", ["install", "-y", "-qq", ...packages], {
    stdio: ["ignore", "ignore", "pipe"],
    env,
  });
  if (update.status !== 0 || install.status !== 0)
    log(
      `# e2e: apt-get failed: ${String(install.stderr || update.stderr)
        .trim()
        .split("\n")
        .at(-1)}`,
    );
  return missingCommands(missing);
}
