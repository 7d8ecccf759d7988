import { isIP } from "node:net";

/**
 * PROXY protocol headers (HAProxy's "The PROXY protocol, versions 1 & 2"): sent once by the proxy at the
 * start of the upstream connection so that the receiver learns the original client's address.
 */
export interface Endpoint {
  address: string;
  port: number;
}
export interface ProxiedConnection {
  /** The client as the proxy saw it (the socket's remote end). */
  source: Endpoint;
  /** The address the client connected to (the socket's local end). */
  destination: Endpoint;
}

/** The 12-byte signature that starts every version 2 header. */
export const V2_SIGNATURE = Buffer.from([
  0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
]);

/** "::ffff:1.2.3.4" (an IPv4 client on a dual-stack socket) is the IPv4 address 1.2.3.4. */
export function unmapIPv4(address: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return m?.[1] ?? address;
}

/** Both ends of the connection in one family (4 or 6), or undefined when that cannot be said. */
function family(c: ProxiedConnection | undefined): { src: string; dst: string; family: 4 | 6 } | undefined {
  if (!c) return undefined;
  const src = unmapIPv4(stripZone(c.source.address));
  const dst = unmapIPv4(stripZone(c.destination.address));
  const f = isIP(src);
  if (f === 0 || f !== isIP(dst)) return undefined;
  return { src, dst, family: f as 4 | 6 };
}

const stripZone = (a: string) => a.replace(/%.*$/, "");

/**
 * Version 1, the human-readable form: `PROXY TCP4 <src> <dst> <sport> <dport>\r\n`, or
 * `PROXY UNKNOWN\r\n` when the addresses are not both IPv4 or both IPv6.
 */
export function proxyHeaderV1(c: ProxiedConnection | undefined): Buffer {
  const f = family(c);
  if (!f || !c) return Buffer.from("PROXY UNKNOWN\r\n", "latin1");
  return Buffer.from(
    `PROXY TCP${f.family} ${f.src} ${f.dst} ${c.source.port} ${c.destination.port}\r\n`,
    "latin1",
  );
}

/**
 * Version 2, the binary form: signature, version 2 + command PROXY (0x21), address family + transport
 * (0x11 TCP over IPv4, 0x21 TCP over IPv6, 0x00 unspecified), the length of what follows (big endian),
 * then source address, destination address, source port, destination port, all in network byte order.
 */
export function proxyHeaderV2(c: ProxiedConnection | undefined): Buffer {
  const f = family(c);
  if (!f || !c) return Buffer.concat([V2_SIGNATURE, Buffer.from([0x21, 0x00, 0x00, 0x00])]);
  const bytes = f.family === 4 ? ipv4Bytes : ipv6Bytes;
  const body = Buffer.concat([bytes(f.src), bytes(f.dst), Buffer.alloc(4)]);
  body.writeUInt16BE(c.source.port, body.length - 4);
  body.writeUInt16BE(c.destination.port, body.length - 2);
  const head = Buffer.from([0x21, f.family === 4 ? 0x11 : 0x21, 0x00, 0x00]);
  head.writeUInt16BE(body.length, 2);
  return Buffer.concat([V2_SIGNATURE, head, body]);
}

export function proxyHeader(version: "v1" | "v2", c: ProxiedConnection | undefined): Buffer {
  return version === "v1" ? proxyHeaderV1(c) : proxyHeaderV2(c);
}

export function ipv4Bytes(ip: string): Buffer {
  return Buffer.from(ip.split(".").map(Number));
}

/** The 16 bytes of an IPv6 address in any textual form ("::", an embedded IPv4 tail). */
export function ipv6Bytes(ip: string): Buffer {
  let text = stripZone(ip);
  const dotted = /^(.*:)(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const [a, b, c, d] = dotted.slice(2).map(Number) as [number, number, number, number];
    text = `${dotted[1]}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.includes("::") ? text.split("::") : [text, undefined];
  const groups = (s: string | undefined) => (s ? s.split(":") : []);
  const h = groups(head);
  const t = groups(tail);
  const all = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill("0"), ...t];
  const out = Buffer.alloc(16);
  all.forEach((g, i) => {
    out.writeUInt16BE(Number.parseInt(g, 16), i * 2);
  });
  return out;
}
