// Upstream watch streams per user. An all-namespaces watch holds one upstream watch per visible
// namespace, so the per-user limit on long-running requests alone would let a user who sees 500
// namespaces hold 50,000 apiserver connections with 100 watches. Each of those streams takes a unit
// of the user's budget here; a watch that cannot get its streams is a 429, never a partial view.
export class StreamBudget {
  private readonly held = new Map<string, number>();
  constructor(readonly perUser: number) {}

  /** Takes one stream for the user; false when the user holds the limit already (0 = no limit). */
  take(user: string): boolean {
    const n = this.held.get(user) ?? 0;
    if (this.perUser > 0 && n >= this.perUser) return false;
    this.held.set(user, n + 1);
    return true;
  }

  give(user: string): void {
    const left = (this.held.get(user) ?? 1) - 1;
    if (left > 0) this.held.set(user, left);
    else this.held.delete(user);
  }

  heldBy(user: string): number {
    return this.held.get(user) ?? 0;
  }

  /** Users holding streams now: the map never outlives what is open. */
  get users(): number {
    return this.held.size;
  }
}
