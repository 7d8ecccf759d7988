/** A client identity: PEM file paths for the client certificate and key, and the server's CA. */
export interface ClientTls {
  cert: string;
  key: string;
  ca: string;
}

/** An endpoint under test and who talks to it. */
export interface Target {
  name: "direct" | "gateway" | "nginx";
  url: string;
  tls: ClientTls;
}
