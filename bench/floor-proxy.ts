// The reference floor of workload 1: the least a Node.js TLS reverse proxy does per request, with the
// gateway's transport (node:http2 secure server with HTTP/1.1, undici pool, dispatch relay) and
// nothing else: no authentication, no header rules, no impersonation, no metrics or audit. Whatever
// the gateway costs above this is kubegate's own work; the rest is Node's, and bounds any Node gateway.
// Run as its own process: `node --import tsx bench/floor-proxy.ts` with its spec as JSON on stdin;
// prints "listening on URL".
import { readFileSync } from "node:fs";
import { createSecureServer } from "node:http2";
import type { AddressInfo } from "node:net";
import { Pool } from "undici";
import { readSpec } from "./child.ts";

export interface FloorSpec {
  upstream: string;
  /** The proxy's own identity towards kube-apiserver (nginx's), and the cluster CA. */
  upstreamTls: { cert: string; key: string; ca: string };
  /** Serving pair and the CA of the clients' certificates, as the gateway has them. */
  serving: { cert: string; key: string; clientCa: string };
}

const spec = await readSpec<FloorSpec>();
const read = (f: string) => readFileSync(f, "utf8");
const pool = new Pool(spec.upstream, {
  connections: 256,
  pipelining: 1,
  allowH2: false,
  keepAliveTimeout: 30_000,
  connect: {
    ca: read(spec.upstreamTls.ca),
    cert: read(spec.upstreamTls.cert),
    key: read(spec.upstreamTls.key),
  },
});
const server = createSecureServer({
  allowHTTP1: true,
  cert: read(spec.serving.cert),
  key: read(spec.serving.key),
  ca: read(spec.serving.clientCa),
  requestCert: true,
  rejectUnauthorized: true,
});
server.on("request", (req, res) => {
  pool.dispatch(
    { method: req.method as "GET", path: req.url, headers: { accept: String(req.headers.accept ?? "*/*") } },
    {
      onRequestStart() {},
      onResponseStart(_c, code, headers) {
        const h = { ...headers };
        delete h["transfer-encoding"];
        delete h.connection;
        delete h["keep-alive"];
        res.writeHead(code, h);
      },
      onResponseData(c, chunk) {
        if (!res.write(chunk) && !c.paused) {
          c.pause();
          res.once("drain", () => c.resume());
        }
      },
      onResponseEnd() {
        res.end();
      },
      onResponseError() {
        res.destroy();
      },
    },
  );
});
server.listen(0, "127.0.0.1", () => {
  console.log(`listening on https://127.0.0.1:${(server.address() as AddressInfo).port}`);
});
process.once("SIGTERM", () => {
  server.close();
  void pool.close();
  setTimeout(() => process.exit(0), 200).unref();
});
