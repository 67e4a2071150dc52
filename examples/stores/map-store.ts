// A complete Tessera store: sessions in a Map, each kept as JSON with its expiry. A store for a
// database has the same shape, with the Map's calls replaced by its client's. Explained in
// docs/writing-a-store.md; in your own package, import from "tessera/store" instead.
import {
  applyPatch,
  assertTtl,
  META_KEY,
  type SessionPatch,
  type SessionRecord,
  type Store,
  storeError,
  storeJson,
  TESSERA_STORE,
} from "../../src/store/index.js";

/** One session as kept: its record as JSON, and when it expires (ms since the epoch). */
export type MapEntry = { json: string; expiresAt: number };

/**
 * Keeps sessions in a Map: get, set, destroy, touch, patch, length and clear.
 * @example
 * app.use(session({ secret, store: new MapStore(), resave: false, saveUninitialized: false }));
 */
export class MapStore implements Store {
  /** The contract's mark: the surest sign that session() should call the store as a Tessera store. */
  readonly [TESSERA_STORE] = true;

  /** Takes the Map to keep sessions in, as a database store takes the app's client. */
  constructor(private readonly sessions = new Map<string, MapEntry>()) {}

  async get(id: string): Promise<SessionRecord | undefined> {
    // Parsed on every read: the caller gets a copy, never the stored object.
    return this.run("get", () => {
      const entry = this.live(id);
      return entry && (JSON.parse(entry.json) as SessionRecord);
    });
  }

  async set(id: string, record: SessionRecord, ttlMs: number): Promise<void> {
    this.run("set", () => this.write(id, record, ttlMs));
  }

  async destroy(id: string): Promise<void> {
    this.run("destroy", () => this.sessions.delete(id));
  }

  async touch(id: string, record: SessionRecord, ttlMs: number): Promise<void> {
    // The new expiry with the cookie and bookkeeping that carry it; never the app's data.
    const set: Record<string, unknown> = { cookie: record.cookie };
    if (record[META_KEY] !== undefined) set[META_KEY] = record[META_KEY];
    this.run("touch", () => this.update(id, { set, unset: [] }, ttlMs));
  }

  async patch(id: string, patch: SessionPatch, ttlMs: number): Promise<boolean> {
    return this.run("patch", () => this.update(id, patch, ttlMs));
  }

  async length(): Promise<number> {
    const now = Date.now();
    return this.run(
      "length",
      () => [...this.sessions.values()].filter((e) => e.expiresAt > now).length,
    );
  }

  async clear(): Promise<void> {
    this.run("clear", () => this.sessions.clear());
  }

  /** The entry of a live session. An expired one is deleted, and never returned. */
  private live(id: string): MapEntry | undefined {
    const entry = this.sessions.get(id);
    if (entry === undefined || entry.expiresAt > Date.now()) return entry;
    this.sessions.delete(id);
    return undefined;
  }

  /** Writes the given keys of a live session; `false`, writing nothing, when it is gone. */
  private update(id: string, patch: SessionPatch, ttlMs: number): boolean {
    const entry = this.live(id);
    if (entry === undefined) return false;
    this.write(id, applyPatch(JSON.parse(entry.json) as SessionRecord, patch), ttlMs);
    return true;
  }

  private write(id: string, record: SessionRecord, ttlMs: number): void {
    const expiresAt = Date.now() + assertTtl(ttlMs);
    this.sessions.set(id, { json: storeJson("MapStore", "write", record), expiresAt });
  }

  /** A failure becomes a TesseraError naming the store and the operation, never the session. */
  private run<T>(operation: string, body: () => T): T {
    try {
      return body();
    } catch (cause) {
      throw storeError("MapStore", operation, cause);
    }
  }
}
