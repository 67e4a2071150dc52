import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes } from "node:crypto";
import { TesseraError } from "../core/errors.js";
import { checkStore } from "./hashed-ids.js";
import { setKey } from "./record.js";
import { META_KEY, type SessionPatch, type SessionRecord, type Store } from "./types.js";

/** Options of {@link encryptRecords}. */
export interface EncryptRecordsOptions {
  /**
   * AES-256 keys, each 32 bytes: a Buffer or a base64 string. New data is encrypted with the
   * first; data is decrypted with whichever key wrote it. To rotate, put a new key first and
   * remove the old one once every session written with it has expired.
   * Generate one with `node -e "console.log(crypto.randomBytes(32).toString('base64'))"`.
   */
  keys: readonly (string | Uint8Array)[];
  /**
   * Called once for each record that cannot be decrypted (tampered, written with a key no
   * longer listed, or written before encryption was enabled); that record reads as no session.
   * The error never holds the session id or the data.
   * @default a process warning the first time, then nothing
   */
  onError?: (error: TesseraError) => void;
}

/** Keys the store needs in clear: the expiry it enforces and the user it indexes. */
const CLEAR_KEYS: ReadonlySet<string> = new Set(["cookie", META_KEY]);
/** Format version 1: `tsr1.<key id>.<base64url of salt, iv, ciphertext, tag>`. */
const PREFIX = "tsr1.";
const KEY_BYTES = 32;
const SALT_BYTES = 16;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_ID_CHARS = 8;
/** SP 800-108 counter-mode input around the salt: counter 1, label, 0x00 … then L = 256 bits. */
const SUBKEY_LABEL = Buffer.from(
  "\u0000\u0000\u0000\u0001tessera record subkey v1\u0000",
  "latin1",
);
const SUBKEY_BITS = Buffer.from([0, 0, 1, 0]);

interface RecordKey {
  readonly id: string;
  readonly secret: Buffer;
}

/** One write's cipher state: a subkey of its own, and a counter for the IVs under it. */
interface Sealer {
  readonly key: RecordKey;
  readonly salt: Buffer;
  readonly subkey: Buffer;
  counter: number;
}

/** Why a value could not be opened; the reason goes into the error, never the value. */
class UnreadableRecord extends Error {}

/**
 * A store that encrypts each top-level data key of a record with AES-256-GCM before the inner
 * store sees it. `cookie` and `__tessera` stay in clear, so the inner store still enforces
 * expiry and keeps the user index, and `patch` still writes only the keys that changed.
 *
 * A record that fails to decrypt reads as no session, and is reported through `onError`.
 */
export class EncryptedStore implements Store {
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
  readonly #keys: readonly RecordKey[];
  readonly #byId: ReadonlyMap<string, RecordKey>;
  readonly #onError: (error: TesseraError) => void;

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

    // Each optional method exists only when the inner store has it, so the wrapper advertises
    // exactly the inner store's capabilities.
    const own = this as { -readonly [K in keyof EncryptedStore]: EncryptedStore[K] };
    if (inner.patch) {
      const patch = inner.patch.bind(inner);
      own.patch = async (id: string, changes: SessionPatch, ttlMs: number) =>
        patch(id, this.#sealPatch(id, changes), ttlMs);
    }
    if (inner.ids) own.ids = inner.ids.bind(inner);
    if (inner.entries) {
      const entries = inner.entries.bind(inner);
      own.entries = () => this.#openEntries(entries());
    }
    if (inner.length) own.length = inner.length.bind(inner);
    if (inner.clear) own.clear = inner.clear.bind(inner);
    if (inner.idsForUser) own.idsForUser = inner.idsForUser.bind(inner);
    if (inner.destroyForUser) own.destroyForUser = inner.destroyForUser.bind(inner);
    if (inner.prune) own.prune = inner.prune.bind(inner);
    if (inner.close) own.close = inner.close.bind(inner);
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    const record = await this.#inner.get(id);
    return record === undefined ? undefined : this.#openOrReport(id, record);
  }

  async set(id: string, record: SessionRecord, ttlMs: number): Promise<void> {
    return this.#inner.set(id, this.#sealRecord(id, record), ttlMs);
  }

  async destroy(id: string): Promise<void> {
    return this.#inner.destroy(id);
  }

  async touch(id: string, record: SessionRecord, ttlMs: number): Promise<void> {
    // Sealed in full: a store written for express-session may implement touch as set.
    return this.#inner.touch(id, this.#sealRecord(id, record), ttlMs);
  }

  async *#openEntries(
    source: AsyncIterable<[string, SessionRecord]>,
  ): AsyncIterable<[string, SessionRecord]> {
    for await (const [id, record] of source) {
      const opened = this.#openOrReport(id, record);
      if (opened !== undefined) yield [id, opened];
    }
  }

  #sealRecord(id: string, record: SessionRecord): SessionRecord {
    const sealer = this.#newSealer();
    const sealed: Record<string, unknown> = {};
    for (const key of Object.keys(record)) {
      const value = record[key];
      const stored = CLEAR_KEYS.has(key) ? value : seal(sealer, id, key, value);
      if (stored !== undefined) setKey(sealed, key, stored);
    }
    return sealed as SessionRecord;
  }

  #sealPatch(id: string, patch: SessionPatch): SessionPatch {
    const sealer = this.#newSealer();
    const set: Record<string, unknown> = {};
    for (const key of Object.keys(patch.set)) {
      const value = patch.set[key];
      const stored = CLEAR_KEYS.has(key) ? value : seal(sealer, id, key, value);
      if (stored !== undefined) setKey(set, key, stored);
    }
    return { set, unset: patch.unset };
  }

  #newSealer(): Sealer {
    // A fresh subkey per write keeps random GCM IVs far from their collision bound (2^32
    // messages per key, NIST SP 800-38D section 8.3), however many writes one key sees.
    const key = this.#keys[0] as RecordKey;
    const salt = randomBytes(SALT_BYTES);
    return { key, salt, subkey: deriveSubkey(key, salt), counter: 0 };
  }

  #openOrReport(id: string, record: SessionRecord): SessionRecord | undefined {
    try {
      return this.#open(id, record);
    } catch (cause) {
      const reason = cause instanceof UnreadableRecord ? cause.message : "its data is not valid";
      const error = new TesseraError(
        "ERR_STORE",
        `encryptRecords() could not decrypt a session record (${reason}), so it reads as no session. If keys were rotated, keep the old key listed until its sessions expire.`,
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

  #open(id: string, record: SessionRecord): SessionRecord {
    const opened: Record<string, unknown> = {};
    // Values written by one set or patch share a salt: derive each subkey once per record.
    const subkeys = new Map<string, Buffer>();
    for (const key of Object.keys(record)) {
      const value = record[key];
      setKey(opened, key, CLEAR_KEYS.has(key) ? value : this.#openValue(id, key, value, subkeys));
    }
    return opened as SessionRecord;
  }

  #openValue(id: string, field: string, value: unknown, subkeys: Map<string, Buffer>): unknown {
    if (typeof value !== "string" || !value.startsWith(PREFIX)) {
      throw new UnreadableRecord("a value is not encrypted: written before encryptRecords()?");
    }
    const keyId = value.slice(PREFIX.length, PREFIX.length + KEY_ID_CHARS);
    const key = this.#byId.get(keyId);
    if (key === undefined || value[PREFIX.length + KEY_ID_CHARS] !== ".") {
      throw new UnreadableRecord("it was written with a key that is not in keys");
    }
    const data = Buffer.from(value.slice(PREFIX.length + KEY_ID_CHARS + 1), "base64url");
    if (data.length < SALT_BYTES + IV_BYTES + TAG_BYTES) {
      throw new UnreadableRecord("a value is truncated");
    }
    const salt = data.subarray(0, SALT_BYTES);
    const cacheKey = `${keyId}${salt.toString("base64url")}`;
    let subkey = subkeys.get(cacheKey);
    if (subkey === undefined) {
      subkey = deriveSubkey(key, salt);
      subkeys.set(cacheKey, subkey);
    }
    const iv = data.subarray(SALT_BYTES, SALT_BYTES + IV_BYTES);
    const tag = data.subarray(data.length - TAG_BYTES);
    const decipher = createDecipheriv("aes-256-gcm", subkey, iv);
    decipher.setAAD(additionalData(id, field));
    decipher.setAuthTag(tag);
    let plaintext: string;
    try {
      plaintext =
        decipher.update(
          data.subarray(SALT_BYTES + IV_BYTES, data.length - TAG_BYTES),
          undefined,
          "utf8",
        ) + decipher.final("utf8");
    } catch {
      throw new UnreadableRecord(
        "authentication failed: it was changed, or moved from another session or key",
      );
    }
    return JSON.parse(plaintext);
  }
}

/**
 * Wraps a store so the data of each session is encrypted at rest with AES-256-GCM. See
 * {@link EncryptedStore}.
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

/** The value sealed, or `undefined` for a value JSON drops (undefined, a function). */
function seal(sealer: Sealer, id: string, field: string, value: unknown): string | undefined {
  let json: string | undefined;
  try {
    json = JSON.stringify(value);
  } catch (cause) {
    throw new TesseraError(
      "ERR_SESSION_DATA",
      `session data under "${field}" cannot be stored: it does not survive JSON (a BigInt or a cycle). Store plain data.`,
      { cause },
    );
  }
  if (json === undefined) return undefined;
  // Counter IVs are unique under this write's subkey, which no other write shares.
  const iv = Buffer.alloc(IV_BYTES);
  iv.writeUInt32BE(sealer.counter++, IV_BYTES - 4);
  const cipher = createCipheriv("aes-256-gcm", sealer.subkey, iv);
  cipher.setAAD(additionalData(id, field));
  const body = Buffer.concat([
    sealer.salt,
    iv,
    cipher.update(json, "utf8"),
    cipher.final(),
    cipher.getAuthTag(),
  ]);
  return `${PREFIX}${sealer.key.id}.${body.toString("base64url")}`;
}

/**
 * Binds a value to its session and key, so a value copied into another session, or under
 * another key of the same session, fails to decrypt instead of changing what the app reads.
 */
function additionalData(id: string, field: string): Buffer {
  return Buffer.from(`${PREFIX}${id}\u0000${field}`, "utf8");
}

/**
 * A subkey for one write: HMAC-SHA256 of the key over a label and the write's random salt (the
 * context), a one-block KDF in counter mode (NIST SP 800-108r1, section 4.1). HMAC rather than hkdfSync(), which costs
 * several times more per call in Node.
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
    normalized.push(Object.freeze({ id, secret }));
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
