import { x509 } from "../pki/x509.ts";
import { type Finding, ok, problem, warning } from "./types.ts";

const DAY_MS = 24 * 3600 * 1000;
/** Certificates that end within this many days are worth a warning: rotation takes planning. */
export const EXPIRY_WARNING_DAYS = 30;

/** Every certificate in a PEM bundle; unreadable blocks are reported, not silently dropped. */
export function parseBundle(pem: string): { certs: x509.X509Certificate[]; errors: string[] } {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  const certs: x509.X509Certificate[] = [];
  const errors: string[] = [];
  blocks.forEach((block, i) => {
    try {
      certs.push(new x509.X509Certificate(block));
    } catch (err) {
      errors.push(`certificate #${i + 1} cannot be read: ${(err as Error).message}`);
    }
  });
  return { certs, errors };
}

/** The DNS and IP names a certificate is valid for (subject alternative names only, as Go's TLS does). */
export function subjectAltNames(cert: x509.X509Certificate): { dns: string[]; ip: string[] } {
  const items = cert.getExtension(x509.SubjectAlternativeNameExtension)?.names.toJSON() ?? [];
  return {
    dns: items.filter((n) => n.type === "dns").map((n) => n.value),
    ip: items.filter((n) => n.type === "ip").map((n) => n.value),
  };
}

const canonical = (name: string) => name.toLowerCase().replace(/\.$/, "");

/** RFC 6125 matching as TLS clients do it: exact, or a wildcard standing for exactly one leftmost label. */
export function dnsNameMatches(pattern: string, host: string): boolean {
  const p = canonical(pattern);
  const h = canonical(host);
  if (p === h) return true;
  if (!p.startsWith("*.")) return false;
  const dot = h.indexOf(".");
  return dot > 0 && h.slice(dot + 1) === p.slice(2);
}

export function coversHost(cert: x509.X509Certificate, host: string): boolean {
  return subjectAltNames(cert).dns.some((n) => dnsNameMatches(n, host));
}

function daysLeft(cert: x509.X509Certificate, now: Date): number {
  return Math.floor((cert.notAfter.getTime() - now.getTime()) / DAY_MS);
}

/** Expired, not yet valid, or ending soon: the same rules for serving and client certificates. */
export function validityFindings(
  cert: x509.X509Certificate,
  now: Date,
  what: string,
  fix: string,
): Finding[] {
  if (now < cert.notBefore) {
    return [
      problem(
        `${what} is not valid before ${cert.notBefore.toISOString()} (is a clock wrong?)`,
        `check the clocks of the issuing machine and this one, or ${fix}`,
      ),
    ];
  }
  if (now > cert.notAfter) {
    return [problem(`${what} expired on ${cert.notAfter.toISOString()}`, fix)];
  }
  const left = daysLeft(cert, now);
  if (left < EXPIRY_WARNING_DAYS) {
    return [warning(`${what} expires in ${left} day(s), on ${cert.notAfter.toISOString()}`, fix)];
  }
  return [ok(`${what} is valid until ${cert.notAfter.toISOString()} (${left} days)`)];
}

const sameCert = (a: x509.X509Certificate, b: x509.X509Certificate) =>
  Buffer.from(a.rawData).equals(Buffer.from(b.rawData));

async function issues(issuer: x509.X509Certificate, cert: x509.X509Certificate): Promise<boolean> {
  if (issuer.subject !== cert.issuer) return false;
  try {
    return await cert.verify({ publicKey: issuer.publicKey, signatureOnly: true });
  } catch {
    return false;
  }
}

/**
 * Whether the served chain leads to one of the trusted certificates: from the leaf through any
 * intermediates the server sent, checking every signature. Returns the path's subjects, or why not.
 */
export async function chainsTo(
  served: readonly x509.X509Certificate[],
  trusted: readonly x509.X509Certificate[],
): Promise<{ ok: true; path: string[] } | { ok: false; reason: string }> {
  const [leaf, ...intermediates] = served;
  if (!leaf) return { ok: false, reason: "the server sent no certificate" };
  const path = [leaf.subject];
  let current = leaf;
  if (trusted.some((t) => sameCert(t, leaf))) return { ok: true, path };
  for (let depth = 0; depth < 8; depth++) {
    for (const root of trusted) {
      if (await issues(root, current)) return { ok: true, path: [...path, root.subject] };
    }
    let next: x509.X509Certificate | undefined;
    for (const candidate of intermediates) {
      if (!sameCert(candidate, current) && (await issues(candidate, current))) next = candidate;
    }
    if (!next) {
      return {
        ok: false,
        reason: `"${current.subject}" was issued by "${current.issuer}", which is not in the trusted bundle (it holds ${
          trusted.map((t) => `"${t.subject}"`).join(", ") || "nothing"
        })`,
      };
    }
    path.push(next.subject);
    current = next;
  }
  return { ok: false, reason: "the certificate chain is longer than 8 certificates" };
}

export interface ServingCheckInput {
  /** What the certificate is for, e.g. "the aggregated server's serving certificate". */
  what: string;
  /** Leaf first, then what else the server sent. */
  served: readonly x509.X509Certificate[];
  /** The caBundle the caller (kube-apiserver) verifies the server with, PEM. */
  caBundlePem: string;
  /** Where the caBundle lives, for messages ("APIService v1.custom.api.local"). */
  caBundleSource: string;
  /** The name kube-apiserver checks, <svc>.<ns>.svc. */
  host: string;
  now: Date;
  /** How to issue a correct certificate. */
  reissue: string;
}

/** The name, trust and validity checks kube-apiserver applies when it dials a Service. */
export async function checkServingCertificate(i: ServingCheckInput): Promise<Finding[]> {
  const leaf = i.served[0];
  if (!leaf) return [problem(`${i.what}: the server sent no certificate`, i.reissue)];
  const findings: Finding[] = [];
  const names = subjectAltNames(leaf);
  const listed = [...names.dns, ...names.ip].join(", ") || "no subject alternative names";
  if (coversHost(leaf, i.host)) {
    findings.push(ok(`${i.what} is valid for ${i.host}`));
  } else {
    findings.push(
      problem(
        `${i.what} is not valid for ${i.host}: it names ${listed} (TLS ignores the CN "${leaf.subjectName.getField("CN").join(", ")}")`,
        i.reissue,
      ),
    );
  }
  const bundle = parseBundle(i.caBundlePem);
  for (const e of bundle.errors) findings.push(warning(`${i.caBundleSource} caBundle: ${e}`));
  if (bundle.certs.length === 0) {
    findings.push(
      problem(
        `${i.caBundleSource} has no caBundle, so kube-apiserver cannot trust any serving certificate`,
        "set caBundle to the base64 PEM of the CA that signed the serving certificate (kubegate manifests does this)",
      ),
    );
  } else {
    const chain = await chainsTo(i.served, bundle.certs);
    if (chain.ok) {
      findings.push(
        ok(`${i.what} chains to the caBundle of ${i.caBundleSource} (${chain.path.join(" <- ")})`),
      );
    } else {
      findings.push(
        problem(
          `${i.what} does not chain to the caBundle of ${i.caBundleSource}: ${chain.reason}`,
          `set the caBundle of ${i.caBundleSource} to the CA that signed the serving certificate, or ${i.reissue}`,
        ),
      );
    }
  }
  findings.push(...validityFindings(leaf, i.now, i.what, i.reissue));
  return findings;
}

/** Who Kubernetes takes a client certificate for, and whether it can be used now and for how long. */
export function checkClientCertificate(cert: x509.X509Certificate, now: Date, source: string): Finding[] {
  const reissue = "issue a new one: kubegate certs client --ca-cert CA --ca-key KEY --cn USER --o GROUP ...";
  const cn = cert.subjectName.getField("CN");
  const groups = cert.subjectName.getField("O");
  const findings: Finding[] = [];
  if (cn.length !== 1 || cn[0] === "") {
    findings.push(
      problem(
        `client certificate ${source} must have exactly one non-empty CN (the user name); it has ${cn.length}`,
        reissue,
      ),
    );
  } else {
    findings.push(
      ok(
        `client certificate ${source}: user "${cn[0]}", groups ${groups.length ? groups.map((g) => `"${g}"`).join(", ") : "none"} (issued by "${cert.issuer}")`,
      ),
    );
  }
  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
  if (eku && !eku.usages.map(String).includes(x509.ExtendedKeyUsage.clientAuth)) {
    findings.push(
      problem(
        `client certificate ${source} is not for client authentication (its extended key usage lacks clientAuth)`,
        reissue,
      ),
    );
  }
  findings.push(...validityFindings(cert, now, `client certificate ${source}`, reissue));
  return findings;
}
