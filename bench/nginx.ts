// nginx as the baseline proxy: plain mTLS in (the same users CA and serving certificate as the
// gateway), mTLS out with a client certificate of its own, keep-alive upstream, no buffering. One
// worker, as the gateway is one node process.
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { freePort } from "../src/devcluster/ports.ts";
import { rawRequest } from "../test/support/https-client.ts";
import type { BenchEnv } from "./setup.ts";

export const NGINX_INSTALL_HINT =
  "nginx is not installed: `apt-get install -y nginx-light` (Debian/Ubuntu) adds the nginx column";

const CANDIDATES = ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/nginx/sbin/nginx"];

/** The nginx binary, or undefined when there is none. */
export function findNginx(): string | undefined {
  const found = CANDIDATES.find((p) => existsSync(p));
  if (found) return found;
  const which = spawnSync("sh", ["-c", "command -v nginx"], { encoding: "utf8" });
  return which.status === 0 && which.stdout.trim() ? which.stdout.trim() : undefined;
}

export interface RunningNginx {
  url: string;
  version: string;
  /** The one worker process, which does all the proxying (for CPU accounting). */
  workerPid?: number;
  stop(): Promise<void>;
}

function config(env: BenchEnv, dir: string, port: number): string {
  const upstreamPort = new URL(env.cluster.server).port;
  const up = env.users.nginxUpstream;
  const tmp = (n: string) => join(dir, "tmp", n);
  return `
worker_processes 1;
daemon off;
pid ${join(dir, "nginx.pid")};
error_log ${join(dir, "error.log")} warn;
events { worker_connections 16384; }
http {
  access_log off;
  client_body_temp_path ${tmp("body")};
  proxy_temp_path ${tmp("proxy")};
  fastcgi_temp_path ${tmp("fastcgi")};
  uwsgi_temp_path ${tmp("uwsgi")};
  scgi_temp_path ${tmp("scgi")};
  upstream apiserver {
    server 127.0.0.1:${upstreamPort};
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port} ssl;
    ssl_certificate ${env.gateway.serving.cert};
    ssl_certificate_key ${env.gateway.serving.key};
    ssl_client_certificate ${env.gateway.usersCa.cert};
    ssl_verify_client on;
    location / {
      proxy_pass https://apiserver;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_ssl_certificate ${up.cert};
      proxy_ssl_certificate_key ${up.key};
      proxy_ssl_trusted_certificate ${env.cluster.ca.cert};
      proxy_ssl_verify on;
      # The apiserver's certificate names localhost and 127.0.0.1; nginx checks DNS names only.
      proxy_ssl_name localhost;
      proxy_ssl_session_reuse on;
      proxy_buffering off;
      proxy_read_timeout 1h;
    }
  }
}
`;
}

export async function startNginx(binary: string, env: BenchEnv, dir: string): Promise<RunningNginx> {
  await mkdir(join(dir, "tmp"), { recursive: true });
  const port = await freePort();
  const conf = join(dir, "nginx.conf");
  await writeFile(conf, config(env, dir, port));
  const version = spawnSync(binary, ["-v"], { encoding: "utf8" }).stderr.trim();
  const child = spawn(binary, ["-p", dir, "-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const url = `https://127.0.0.1:${port}`;
  const [ca, cert, key] = await Promise.all(
    [env.gateway.servingCa.cert, env.users.proxied1.cert, env.users.proxied1.key].map((f) =>
      readFile(f, "utf8"),
    ),
  );
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited during start-up: ${stderr}`);
    const r = await rawRequest(url, { path: "/readyz", ca, cert, key }).catch(() => undefined);
    if (r?.status === 200) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`nginx did not answer /readyz in time (last: ${r?.status} ${r?.body}): ${stderr}`);
    }
    await sleep(100);
  }
  const children = await readFile(`/proc/${child.pid}/task/${child.pid}/children`, "utf8").catch(() => "");
  const workerPid = Number(children.trim().split(/\s+/)[0]) || undefined;
  return {
    url,
    version,
    ...(workerPid ? { workerPid } : {}),
    stop: async () => {
      // SIGQUIT is nginx's graceful stop; SIGTERM its fast one, which is all a benchmark needs.
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
}
