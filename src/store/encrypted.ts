import {
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  randomBytes,
  timingSafeEqual,
} from "node:crypto";
import { TesseraError } from "../core/errors.js";
import { checkStore } from "./hashed-ids.js";
import { TESSERA_STORE } from "./legacy.js";
import { assertTtl, setKey } from "./record.js";
import {
  META_KEY,
  type SessionMeta,
  type SessionPatch,
  type SessionRecord,
  type Store,
} from "./types.js";

/** Options of {@link encryptRecords}. */
export interface EncryptRecordsOptions {
  /**
   * AES-256 keys, each 32 bytes: a Buffer or a base64 string. New records are written with the
   * first; a record is read with whichever key wrote it. To rotate, put a new key first and
   * remove the old one once every session written with it has expired.
   * Generate one with `node -e "console.log(crypto.randomBytes(32).toString('base64'))"`.
   */
  keys: readonly (string | Uint8Array)[];
  /**
   * Called once for each record that is refused: changed in the store, put back from an older
   * copy, moved from another session, past the lifetime it was written with, written with a key
   * no longer listed, or written before encryption was enabled. That record reads as no session.
   * The error never holds the session id or the data.
   * @default a process warning the first time, then nothing
   */
  onError?: (error: TesseraError) => void;
}

/**
 * The inner record: `{ cookie, __tessera: { ...meta, seal }, data }`. `cookie` and `__tessera`
 * stay in clear because the store needs them (the expiry it enforces, the user it indexes);
 * the seal authenticates them. `data` holds every other key, encrypted as one value.
 */
const DATA_KEY = "data";
const SEAL_FIELD = "seal";
/** Format 2. Format 1 (`tsr1.`, each key encrypted on its own) is read as no session. */
const FORMAT = "tsr2";
const KEY_BYTES = 32;
const SALT_BYTES = 16;
const TAG_BYTES = 16;
const KEY_ID_CHARS = 8;
/**
 * Each `data` value has a subkey of its own (from a fresh 128-bit salt) and is its only message,
 * so a fixed IV never repeats under one key (NIST SP 800-38D section 8.2).
 */
const IV = Buffer.alloc(12);
/** SP 800-108 counter-mode input around the salt: counter 1, label, 0x00 … then L = 256 bits. */
const SUBKEY_LABEL = Buffer.from(
  "\u0000\u0000\u0000\u0001tessera record subkey v1\u0000",
  "latin1",
);
const SUBKEY_BITS = Buffer.from([0, 0, 1, 0]);
const SEAL_KEY_LABEL =
  "\u0000\u0000\u0000\u0001tessera record seal v2\u0000\u0000\u0000\u0001\u0000";
/** `tsr2.<key id>.<kind>.<data version>.<deadline ms or 0>.<HMAC-SHA256, base64url>` */
const SEAL_PATTERN =
  /^tsr2\.([A-Za-z0-9_-]{8})\.([wt])\.(\d{1,16})\.(\d{1,16})\.([A-Za-z0-9_-]{43})$/;
/** `tsr2.<key id>.<version>.<base64url of salt, ciphertext, tag>` */
const DATA_PATTERN = /^tsr2\.([A-Za-z0-9_-]{8})\.(\d{1,16})\.([A-Za-z0-9_-]+)$/;
/** Known data versions kept for touch (see `#known`); a miss costs one read. */
const KNOWN_MAX = 4096;
/**
 * How long a known version may stand in for a read: about one request, from its read to its
 * touch. Data that other processes wrote after the known version is accepted under the touch's
 * seal, so the window stays short.
 */
const KNOWN_FRESH_MS = 5000;

/**
 * How a seal refers to the data. `w`: written with that data, in the same store call, so the
 * versions must be equal. `t`: written by touch, which writes only `cookie` and `__tessera`; a
 * request of another process may have written newer data meanwhile, so data at least as new is
 * accepted, provided its user and creation time are the seal's.
 */
type SealKind = "w" | "t";

interface RecordKey {
  readonly id: string;
  readonly secret: Buffer;
  readonly sealKey: Buffer;
}

/** What a verified record tells a later touch: its data version and its unchanging metadata. */
interface Known {
  readonly version: number;
  /** When this process read or wrote that version, in ms since the epoch. */
  readonly at: number;
  /** `__tessera` without `seenAt`, or `null` for a record without `__tessera`. */
  readonly stable: Readonly<Record<string, unknown>> | null;
}

interface Opened {
  readonly record: SessionRecord;
  readonly known: Known;
}

/** What the inner store keeps for one record. */
interface SealedParts {
  readonly cookie: unknown;
  readonly meta: Record<string, unknown>;
  readonly data: string;
  readonly known: Known;
}

/** Why a record is refused; the reason goes into the error, never the record. */
class RefusedRecord extends Error {}

const NOT_OURS = "it was not written by encryptRecords(), or written before it was enabled";
const FORGED = "authentication failed: it was changed, or moved from another session";

/**
 * A store that encrypts each session's data with AES-256-GCM and authenticates the whole record
 * before the inner store sees it: the data, its set of keys, the `cookie`, Tessera's metadata
 * (user, creation and last-seen times), the session id it belongs to, and how long it may live.
 * `cookie` and `__tessera` stay readable, so the inner store still enforces expiry and keeps the
 * user index.
 *
 * A record that fails authentication reads as no session, and is reported through `onError`.
 * `patch` and `touch` read the record first; see docs/at-rest.md for what that means for
 * parallel requests.
 */
export class EncryptedStore implements Store {
  /** A wrapper speaks Tessera's contract, whatever capabilities its inner store lends it. */
  readonly [TESSERA_STORE] = true;
  declare readonly patch?: NonNullable<Store["patch"]>;
  declare readonly ids?: NonNullable<Store["ids"]>;
  declare readonly entries?: NonNullable<Store["entries"]>;
  declare readonly length?: NonNullable<Store["length"]>;
  declare readonly clear?: NonNullable<Store["clear"]>;
  declare readonly idsForUser?: NonNullable<Store["idsForUser"]>;
  declare readonly destroyForUser?: NonNullable<Store["destroyForUser"]>;
  declare readonly prune?: NonNullable<Store["prune"]>;
  declare readonly close?: NonNullable<Store["close"]>;

  readonly #inner: Store;
  readonly #innerPatch: NonNullable<Store["patch"]> | undefined;
  readonly #keys: readonly RecordKey[];
  readonly #byId: ReadonlyMap<string, RecordKey>;
  readonly #onError: (error: TesseraError) => void;
  /** The writes of each session from this process, one after the other (`#serial`). */
  readonly #queues = new Map<string, Promise<unknown>>();
  /**
   * The newest verified version of recently read or written sessions, so that a touch, which
   * follows a read in the same request, can seal without reading again.
   */
  readonly #known = new Map<string, Known>();
  #lastVersion = 0;

  constructor(inner: Store, options: EncryptRecordsOptions) {
    this.#inner = checkStore(inner, "encryptRecords()");
    if (typeof options !== "object" || options === null) {
      throw new TesseraError(
        "ERR_OPTION",
        "encryptRecords() needs { keys }: a list of 32-byte keys.",
      );
    }
    this.#keys = normalizeKeys(options.keys);
    this.#byId = new Map(this.#keys.map((key) => [key.id, key]));
    if (options.onError !== undefined && typeof options.onError !== "function") {
      throw new TesseraError("ERR_OPTION", "encryptRecords() option onError must be a function.");
    }
    this.#onError = options.onError ?? warnOnce();
    this.#innerPatch = inner.patch?.bind(inner);

    // Each optional method exists only when the inner store has it, so the wrapper advertises
    // exactly the inner store's capabilities.
    const own = this as { -readonly [K in keyof EncryptedStore]: EncryptedStore[K] };
    if (this.#innerPatch) {
      own.patch = (id: string, changes: SessionPatch, ttlMs: number) =>
        this.#patch(id, changes, ttlMs);
    }
    if (inner.ids) own.ids = inner.ids.bind(inner);
    if (inner.entries) {
      const entries = inner.entries.bind(inner);
      own.entries = () => this.#openEntries(entries());
    }
    if (inner.length) own.length = inner.length.bind(inner);
    if (inner.clear) {
      const clear = inner.clear.bind(inner);
      own.clear = async () => {
        this.#known.clear();
        await clear();
      };
    }
    if (inner.idsForUser) own.idsForUser = inner.idsForUser.bind(inner);
    if (inner.destroyForUser) own.destroyForUser = inner.destroyForUser.bind(inner);
    if (inner.prune) own.prune = inner.prune.bind(inner);
    if (inner.close) {
      const close = inner.close.bind(inner);
      own.close = async () => {
        this.#known.clear();
        await close();
      };
    }
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    const opened = this.#openOrReport(id, await this.#inner.get(id));
    if (opened === undefined) {
      this.#known.delete(id);
      return undefined;
    }
    this.#remember(id, opened.known);
    return opened.record;
  }

  async set(id: string, record: SessionRecord, ttlMs: number): Promise<void> {
    const ttl = assertTtl(ttlMs);
    return this.#serial(id, async () => {
      const sealed = this.#seal(id, record, this.#nextVersion(0), ttl);
      await this.#inner.set(id, innerRecord(sealed), ttl);
      this.#remember(id, sealed.known);
    });
  }

  async destroy(id: string): Promise<void> {
    this.#known.delete(id);
    return this.#inner.destroy(id);
  }

  /**
   * Moves the expiry and the last-seen time, and seals them. The user, the creation time and the
   * data stay what they are in the store, whatever `record` holds.
   */
  async touch(id: string, record: SessionRecord, ttlMs: number): Promise<void> {
    const ttl = assertTtl(ttlMs);
    const patch = this.#innerPatch;
    if (patch === undefined) {
      // The inner store's touch may write the cookie, the metadata, both, the whole record or
      // nothing (express-session's stores differ). Handing it the stored record unchanged keeps
      // the record whole in every case; only the store's TTL moves, as with RedisStore.
      return this.#serial(id, async () => {
        const raw = await this.#inner.get(id);
        if (this.#openOrReport(id, raw) !== undefined) {
          await this.#inner.touch(id, raw as SessionRecord, ttl);
        }
      });
    }
    return this.#serial(id, async () => {
      let known = this.#known.get(id);
      if (known === undefined || Date.now() - known.at > KNOWN_FRESH_MS) {
        const opened = this.#openOrReport(id, await this.#inner.get(id));
        if (opened === undefined) return;
        known = opened.known;
      }
      const cookie = jsonOf(record.cookie, "cookie");
      const seenAt = record[META_KEY]?.seenAt;
      const meta: Record<string, unknown> = known.stable === null ? {} : { ...known.stable };
      if (known.stable !== null && typeof seenAt === "number") meta.seenAt = seenAt;
      const sealMac = this.#sealOf(id, "t", known.version, Date.now() + ttl, cookie, meta);
      const set: Record<string, unknown> = { [META_KEY]: { ...meta, [SEAL_FIELD]: sealMac } };
      if (cookie !== undefined) set.cookie = cookie;
      // A patch, not the inner touch: it writes both clear parts at once, whatever the store.
      const written = await patch(id, { set, unset: cookie === undefined ? ["cookie"] : [] }, ttl);
      if (!written) this.#known.delete(id);
    });
  }

  /**
   * Reads, checks and rewrites the whole record: a seal over the whole record cannot be merged
   * key by key by the store. Patches from this process are applied one after the other, so none
   * is lost; see docs/at-rest.md for patches of one session from several processes.
   */
  #patch(id: string, changes: SessionPatch, ttlMs: number): Promise<boolean> {
    const ttl = assertTtl(ttlMs);
    const patch = this.#innerPatch as NonNullable<Store["patch"]>;
    return this.#serial(id, async () => {
      const opened = this.#openOrReport(id, await this.#inner.get(id));
      if (opened === undefined) {
        // Missing, expired, or refused: nothing to build on. The engine takes `false` as a
        // session destroyed meanwhile, so the visitor starts afresh.
        this.#known.delete(id);
        return false;
      }
      const record = opened.record as Record<string, unknown>;
      for (const key of changes.unset) delete record[key];
      for (const key of Object.keys(changes.set)) {
        const value = changes.set[key];
        if (value === undefined) delete record[key];
        else setKey(record, key, value);
      }
      const sealed = this.#seal(
        id,
        record as SessionRecord,
        this.#nextVersion(opened.known.version),
        ttl,
      );
      const set: Record<string, unknown> = { [META_KEY]: sealed.meta, [DATA_KEY]: sealed.data };
      if (sealed.cookie !== undefined) set.cookie = sealed.cookie;
      const written = await patch(
        id,
        { set, unset: sealed.cookie === undefined ? ["cookie"] : [] },
        ttl,
      );
      if (written) this.#remember(id, sealed.known);
      else this.#known.delete(id);
      return written;
    });
  }

  async *#openEntries(
    source: AsyncIterable<[string, SessionRecord]>,
  ): AsyncIterable<[string, SessionRecord]> {
    for await (const [id, raw] of source) {
      const opened = this.#openOrReport(id, raw);
      if (opened !== undefined) yield [id, opened.record];
    }
  }

  /** Runs the writes of one session one after the other, so a read-modify-write is not lost. */
  #serial<T>(id: string, work: () => Promise<T>): Promise<T> {
    const previous = this.#queues.get(id);
    const run = previous === undefined ? work() : previous.then(work);
    const tail = run.then(ignore, ignore);
    this.#queues.set(id, tail);
    void tail.then(() => {
      if (this.#queues.get(id) === tail) this.#queues.delete(id);
    });
    return run;
  }

  /**
   * A version above every one this process wrote and above the version the write builds on:
   * the time in ms where clocks allow, so versions from several processes roughly follow time.
   */
  #nextVersion(base: number): number {
    this.#lastVersion = Math.max(Date.now(), this.#lastVersion + 1, base + 1);
    return this.#lastVersion;
  }

  #remember(id: string, known: Known): void {
    const current = this.#known.get(id);
    // Never backwards: a read that started before one of our writes may resolve after it.
    if (current !== undefined && current.version > known.version) return;
    this.#known.delete(id);
    this.#known.set(id, known);
    if (this.#known.size > KNOWN_MAX) {
      const oldest = this.#known.keys().next().value as string;
      this.#known.delete(oldest);
    }
  }

  // ---- sealing ----

  #seal(id: string, record: SessionRecord, version: number, ttl: number): SealedParts {
    const { cookie: rawCookie, [META_KEY]: rawMeta, ...data } = record;
    const cookie = jsonOf(rawCookie, "cookie");
    const meta = rawMeta == null ? {} : jsonOf(rawMeta, META_KEY);
    if (!isObject(meta)) {
      throw new TesseraError(
        "ERR_SESSION_DATA",
        `${META_KEY} must be an object: Tessera writes it.`,
      );
    }
    delete meta[SEAL_FIELD];
    const stable = rawMeta == null ? null : stableOf(meta);
    let plaintext: string;
    try {
      plaintext = JSON.stringify({ d: data, m: stable });
    } catch (cause) {
      throw dataError(data, cause);
    }
    // A deadline only where touch can move it: through the inner store's patch.
    const deadline = this.#innerPatch === undefined ? 0 : Date.now() + ttl;
    const key = this.#keys[0] as RecordKey;
    const salt = randomBytes(SALT_BYTES);
    const cipher = createCipheriv("aes-256-gcm", deriveSubkey(key, salt), IV);
    cipher.setAAD(dataAad(id, version));
    const body = Buffer.concat([
      salt,
      cipher.update(plaintext, "utf8"),
      cipher.final(),
      cipher.getAuthTag(),
    ]);
    return {
      cookie,
      meta: { ...meta, [SEAL_FIELD]: this.#sealOf(id, "w", version, deadline, cookie, meta) },
      data: `${FORMAT}.${key.id}.${version}.${body.toString("base64url")}`,
      known: { version, at: Date.now(), stable },
    };
  }

  #sealOf(
    id: string,
    kind: SealKind,
    version: number,
    deadline: number,
    cookie: unknown,
    meta: Record<string, unknown>,
  ): string {
    const key = this.#keys[0] as RecordKey;
    const mac = sealMac(key, id, kind, version, deadline, cookie, meta).toString("base64url");
    return `${FORMAT}.${key.id}.${kind}.${version}.${deadline}.${mac}`;
  }

  // ---- opening ----

  #openOrReport(id: string, raw: SessionRecord | undefined): Opened | undefined {
    if (raw === undefined) return undefined;
    try {
      return this.#open(id, raw);
    } catch (cause) {
      const reason = cause instanceof RefusedRecord ? cause.message : "its data is not valid";
      const error = new TesseraError(
        "ERR_STORE",
        `encryptRecords() refused a session record (${reason}), so it reads as no session. If keys were rotated, keep the old key listed until its sessions expire; otherwise something other than this app wrote to the store.`,
        { cause },
      );
      try {
        this.#onError(error);
      } catch {
        // A throwing hook must not turn a bad record into a failed request.
      }
      return undefined;
    }
  }

  #open(id: string, raw: SessionRecord): Opened {
    const clearMeta = raw[META_KEY] as unknown;
    const sealed = (raw as Record<string, unknown>)[DATA_KEY];
    if (!isObject(clearMeta) || typeof clearMeta[SEAL_FIELD] !== "string") {
      throw new RefusedRecord(NOT_OURS);
    }
    if (typeof sealed !== "string") throw new RefusedRecord(NOT_OURS);
    const { [SEAL_FIELD]: sealText, ...meta } = clearMeta;
    const cookie = raw.cookie as unknown;

    const seal = SEAL_PATTERN.exec(sealText as string);
    if (seal === null) throw new RefusedRecord(NOT_OURS);
    const [, sealKeyId, kind, sealVersionText, deadlineText, macText] = seal as unknown as [
      string,
      string,
      SealKind,
      string,
      string,
      string,
    ];
    const sealKey = this.#keyOf(sealKeyId);
    const sealVersion = Number(sealVersionText);
    const deadline = Number(deadlineText);
    const expected = sealMac(sealKey, id, kind, sealVersion, deadline, cookie, meta);
    if (!timingSafeEqual(expected, Buffer.from(macText, "base64url"))) {
      throw new RefusedRecord(FORGED);
    }
    if (deadline !== 0 && deadline <= Date.now()) {
      throw new RefusedRecord(
        "it is past the lifetime it was written with: an old copy was put back",
      );
    }

    const data = DATA_PATTERN.exec(sealed);
    if (data === null) throw new RefusedRecord(NOT_OURS);
    const [, dataKeyId, versionText, bodyText] = data as unknown as [
      string,
      string,
      string,
      string,
    ];
    const version = Number(versionText);
    if (kind === "w" ? version !== sealVersion : version < sealVersion) {
      throw new RefusedRecord(
        "its data is older than its seal: an old copy of the data was put back",
      );
    }
    const body = Buffer.from(bodyText, "base64url");
    if (body.length < SALT_BYTES + TAG_BYTES) throw new RefusedRecord("its data is truncated");
    const decipher = createDecipheriv(
      "aes-256-gcm",
      deriveSubkey(this.#keyOf(dataKeyId), body.subarray(0, SALT_BYTES)),
      IV,
    );
    decipher.setAAD(dataAad(id, version));
    decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
    let plaintext: string;
    try {
      plaintext =
        decipher.update(body.subarray(SALT_BYTES, body.length - TAG_BYTES), undefined, "utf8") +
        decipher.final("utf8");
    } catch {
      throw new RefusedRecord(FORGED);
    }
    const content = JSON.parse(plaintext) as { d?: unknown; m?: unknown };
    const stable = content.m;
    if (!isObject(content.d) || (stable !== null && !isObject(stable))) {
      throw new RefusedRecord("its data is not valid");
    }
    // Equal under a `w` seal by construction; under a `t` seal this refuses data of another user
    // or creation time than the metadata the store indexes.
    const matches =
      stable === null
        ? Object.keys(meta).length === 0
        : canonical(stableOf(meta)) === canonical(stable);
    if (!matches) {
      throw new RefusedRecord("its user or creation time is not the one its data was written with");
    }
    // Spread, not assignment: a key named __proto__ stays data.
    const record = { ...content.d } as SessionRecord;
    if (cookie !== undefined) record.cookie = cookie as SessionRecord["cookie"];
    if (stable !== null) record[META_KEY] = meta as unknown as SessionMeta;
    return { record, known: { version, at: Date.now(), stable } };
  }

  #keyOf(keyId: string): RecordKey {
    const key = this.#byId.get(keyId);
    if (key === undefined) throw new RefusedRecord("it was written with a key that is not in keys");
    return key;
  }
}

/**
 * Wraps a store so each session's data is encrypted at rest with AES-256-GCM and the whole
 * record is authenticated. See {@link EncryptedStore}.
 *
 * @example
 * const store = encryptRecords(new RedisStore({ client }), {
 *   keys: [process.env.SESSION_KEY_2025, process.env.SESSION_KEY_2024],
 *   onError: (error) => logger.warn(error),
 * });
 */
export function encryptRecords(store: Store, options: EncryptRecordsOptions): EncryptedStore {
  return new EncryptedStore(store, options);
}

function innerRecord(sealed: SealedParts): SessionRecord {
  const record: Record<string, unknown> = {};
  if (sealed.cookie !== undefined) record.cookie = sealed.cookie;
  record[META_KEY] = sealed.meta;
  record[DATA_KEY] = sealed.data;
  return record as SessionRecord;
}

function ignore(): void {}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** `__tessera` without what touch moves. */
function stableOf(meta: Record<string, unknown>): Record<string, unknown> {
  const { seenAt: _seenAt, ...stable } = meta;
  return stable;
}

/** The value as the store will give it back: through JSON (Dates become strings). */
function jsonOf(value: unknown, field: string): unknown {
  if (value === undefined) return undefined;
  try {
    const json = JSON.stringify(value);
    return json === undefined ? undefined : JSON.parse(json);
  } catch (cause) {
    throw new TesseraError(
      "ERR_SESSION_DATA",
      `session data under "${field}" cannot be stored: it does not survive JSON (a BigInt or a cycle). Store plain data.`,
      { cause },
    );
  }
}

function dataError(data: Record<string, unknown>, cause: unknown): TesseraError {
  const field = Object.keys(data).find((key) => {
    try {
      JSON.stringify(data[key]);
      return false;
    } catch {
      return true;
    }
  });
  return new TesseraError(
    "ERR_SESSION_DATA",
    `session data under "${field ?? "?"}" cannot be stored: it does not survive JSON (a BigInt or a cycle). Store plain data.`,
    { cause },
  );
}

/**
 * JSON with object keys sorted, so the same value gives the same text whatever order a store
 * gives keys back in (PostgreSQL's jsonb reorders them).
 */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (isObject(value)) {
    const parts: string[] = [];
    for (const key of Object.keys(value).sort()) {
      if (value[key] !== undefined) parts.push(`${JSON.stringify(key)}:${canonical(value[key])}`);
    }
    return `{${parts.join(",")}}`;
  }
  return JSON.stringify(value) ?? "null";
}

/**
 * The seal's MAC: HMAC-SHA256 over the session id, how and to which data version the seal
 * refers, the deadline, the cookie and the metadata. Binding the id refuses a record copied under
 * another session; binding the version refuses older data put back under a newer seal.
 */
function sealMac(
  key: RecordKey,
  id: string,
  kind: SealKind,
  version: number,
  deadline: number,
  cookie: unknown,
  meta: Record<string, unknown>,
): Buffer {
  const input = canonical([
    `${FORMAT} seal`,
    id,
    kind,
    version,
    deadline,
    cookie === undefined ? [] : [cookie],
    meta,
  ]);
  return createHmac("sha256", key.sealKey).update(input, "utf8").digest();
}

/** Binds the data to its session and version: copied elsewhere, it fails to decrypt. */
function dataAad(id: string, version: number): Buffer {
  return Buffer.from(`${FORMAT} data\u0000${id}\u0000${version}`, "utf8");
}

/**
 * A subkey for one write: HMAC-SHA256 of the key over a label and the write's random salt (the
 * context), a one-block KDF in counter mode (NIST SP 800-108r1, section 4.1). HMAC rather than
 * hkdfSync(), which costs several times more per call in Node.
 */
function deriveSubkey(key: RecordKey, salt: Buffer): Buffer {
  return createHmac("sha256", key.secret)
    .update(SUBKEY_LABEL)
    .update(salt)
    .update(SUBKEY_BITS)
    .digest();
}

function normalizeKeys(keys: unknown): RecordKey[] {
  const fix = `generate one with: node -e "console.log(crypto.randomBytes(32).toString('base64'))"`;
  if (!Array.isArray(keys) || keys.length === 0) {
    throw new TesseraError(
      "ERR_OPTION",
      `encryptRecords() needs keys: a non-empty array of 32-byte keys (Buffers or base64 strings); ${fix}.`,
    );
  }
  const normalized: RecordKey[] = [];
  const seen = new Set<string>();
  keys.forEach((key: unknown, index) => {
    const secret = decodeKey(key);
    if (secret === undefined) {
      throw new TesseraError(
        "ERR_OPTION",
        `encryptRecords() keys[${index}] is not a 32-byte key (a Buffer, or a base64 string of 32 bytes); ${fix}.`,
      );
    }
    const id = createHash("sha256")
      .update("tessera record key id\u0000")
      .update(secret)
      .digest("base64url")
      .slice(0, KEY_ID_CHARS);
    if (seen.has(id)) {
      throw new TesseraError(
        "ERR_OPTION",
        `encryptRecords() keys[${index}] is listed twice: list each key once.`,
      );
    }
    seen.add(id);
    // A key of its own for the seal (same SP 800-108 construction, another label).
    const sealKey = createHmac("sha256", secret).update(SEAL_KEY_LABEL, "latin1").digest();
    normalized.push(Object.freeze({ id, secret, sealKey }));
  });
  return normalized;
}

function decodeKey(key: unknown): Buffer | undefined {
  if (key instanceof Uint8Array) {
    return key.length === KEY_BYTES ? Buffer.from(key) : undefined;
  }
  if (typeof key !== "string") return undefined;
  const trimmed = key.trim();
  // Strict: Buffer.from() skips characters that are not base64, which would hide a typo.
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) return undefined;
  const secret = Buffer.from(trimmed, "base64");
  return secret.length === KEY_BYTES ? secret : undefined;
}

function warnOnce(): (error: TesseraError) => void {
  let warned = false;
  return (error) => {
    if (warned) return;
    warned = true;
    process.emitWarning(`${error.message} (Further failures are not reported: pass onError.)`, {
      code: error.code,
    });
  };
}
