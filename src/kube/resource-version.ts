// resourceVersions are opaque to clients, but the ones kube-apiserver makes are etcd revisions in
// decimal: the gateway compares them only when both are such numbers, and never guesses otherwise.

/** -1, 0, 1 for two etcd resourceVersions, or undefined when either is not a number. */
export function compareResourceVersions(a: string, b: string): number | undefined {
  if (!/^\d+$/.test(a) || !/^\d+$/.test(b)) return undefined;
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
