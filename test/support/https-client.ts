import { request } from "node:https";

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface RawRequest {
  method?: string;
  path: string;
  /** Raw header pairs, sent exactly as given (letter case and repeats preserved). */
  headers?: [string, string][];
  body?: string;
  ca?: string;
  cert?: string;
  key?: string;
}

/** One HTTPS/1.1 request with exact control over headers, for hygiene and hostile-input tests. */
export function rawRequest(base: string, r: RawRequest): Promise<RawResponse> {
  const url = new URL(r.path, base);
  const flat: string[] = [];
  // Raw header arrays get no defaults from node: HTTP/1.1 needs a Host.
  if (!(r.headers ?? []).some(([k]) => k.toLowerCase() === "host")) flat.push("Host", url.host);
  for (const [k, v] of r.headers ?? []) flat.push(k, v);
  if (r.body !== undefined) flat.push("Content-Length", String(Buffer.byteLength(r.body)));
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method: r.method ?? "GET",
        path: r.path,
        headers: flat as unknown as Record<string, string>,
        ca: r.ca,
        cert: r.cert,
        key: r.key,
        agent: false,
        timeout: 20_000,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d) => {
          body += d;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("request timed out")));
    req.on("error", reject);
    req.end(r.body);
  });
}
