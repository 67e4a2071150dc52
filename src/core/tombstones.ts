/**
 * Ids destroyed by this process, per store, remembered for a while. A `set` is no conditional
 * write (stores written for express-session have nothing else, and a Tessera store may lack
 * `patch`): a slow request that loaded a session before another request destroyed it (a logout)
 * would bring it back with its `set`. The engine refuses that
 * write when the id is here. Ids are 256 random bits, so remembering one never blocks another.
 */
export class Tombstones {
  private readonly ids = new Map<string, number>();
  constructor(
    private readonly keepMs: number,
    private readonly max: number,
  ) {}

  add(id: string): void {
    const ids = this.ids;
    if (ids.size >= this.max) ids.delete(ids.keys().next().value as string);
    ids.set(id, Date.now() + this.keepMs);
  }

  has(id: string): boolean {
    const until = this.ids.get(id);
    if (until === undefined) return false;
    if (until > Date.now()) return true;
    this.ids.delete(id);
    return false;
  }
}

const tombstonesByStore = new WeakMap<object, Tombstones>();

export function tombstonesOf(store: object): Tombstones {
  let tombstones = tombstonesByStore.get(store);
  if (tombstones === undefined) {
    tombstones = new Tombstones(3_600_000, 100_000);
    tombstonesByStore.set(store, tombstones);
  }
  return tombstones;
}
