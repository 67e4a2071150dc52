import { type CallbackStore, fromLegacyStore, isTesseraStore, toStore } from "../store/legacy.js";
import { storeError } from "../store/record.js";
import {
  isThenable,
  type MaybePromise,
  type SessionPatch,
  type SessionRecord,
  type Store,
} from "../store/types.js";
import { channels, publish } from "./channels.js";
import { Deadlines } from "./deadlines.js";
import { TesseraError } from "./errors.js";
import type { LegacyStore } from "./options.js";
import { type Tombstones, tombstonesOf } from "./tombstones.js";

type Operation = "get" | "set" | "destroy" | "touch";

/**
 * The engine's calls to the store: each one timed for diagnostics_channel, given a deadline
 * when the store keeps none of its own, and failing with a `TesseraError` that names neither
 * the session nor its data (or with the store's own error, for a store written for
 * express-session, as under express-session). A store that answers within the call gets its
 * answer back at once, with no Promise in between.
 */
export class StoreCalls {
  /** The store as the app gave it: `req.sessionStore`. */
  readonly userStore: Store | LegacyStore;
  /** The same store, speaking Tessera's contract. */
  readonly store: Store;
  /** The store's class name, for error messages. */
  readonly name: string;
  /** The store speaks Tessera's contract (else it is wrapped, as written for express-session). */
  readonly native: boolean;
  /** Ids this process destroyed, for writes that go through a `set`, which cannot refuse them. */
  readonly tombstones: Tombstones;
  /** False while the store says it is disconnected (express-session's `disconnect` event). */
  ready = true;
  /** The store calls waiting on `storeTimeoutMs`, or `undefined` when the engine adds none. */
  private readonly deadlines: Deadlines | undefined;
  /**
   * The store's methods that its class defines on each instance (arrow-function fields), as
   * they were when the middleware was made: those are the store's own, not replacements.
   */
  private readonly fieldMethods = new Map<string, unknown>();
  /** The store seen as one written for express-session, for the methods the app replaced. */
  private replacedView: Store | undefined;

  constructor(
    userStore: Store | LegacyStore,
    private readonly storeTimeoutMs: number,
  ) {
    this.userStore = userStore;
    // A store written for express-session fails with its own errors, as under express-session.
    this.store = toStore(userStore as Store | CallbackStore, { ownErrors: true });
    this.native = isTesseraStore(userStore);
    this.tombstones = tombstonesOf(userStore);
    const own = this.native ? (userStore as Store).timeoutMs : undefined;
    if (typeof own !== "number" && storeTimeoutMs > 0)
      this.deadlines = new Deadlines(storeTimeoutMs);
    if (this.native) {
      const store = userStore as unknown as Record<string, unknown>;
      const proto = Object.getPrototypeOf(store) as Record<string, unknown> | null;
      for (const name of ["get", "set", "destroy", "touch"]) {
        if (Object.hasOwn(store, name) && typeof proto?.[name] !== "function") {
          this.fieldMethods.set(name, store[name]);
        }
      }
    }
    this.name = userStore.constructor?.name || "the session store";
    const emitter = userStore as { on?: (event: string, listener: () => void) => unknown };
    if (typeof emitter.on === "function") {
      // express-session's behaviour while a store says it is disconnected: requests go on
      // without a session rather than waiting on a store that cannot answer.
      emitter.on("disconnect", () => {
        this.ready = false;
      });
      emitter.on("connect", () => {
        this.ready = true;
      });
    }
  }

  // Each call goes straight to the store and takes an answer given within the call as it is:
  // no closure, no Promise. Only a Promise answer, or a listener on the store channel, takes
  // the longer way through `settle` / `call`.

  get(id: string): MaybePromise<SessionRecord | undefined> {
    const store = this.storeFor("get");
    const raw = this.isRaw(store);
    if (channels.store.hasSubscribers) return this.call("get", () => store.get(id), raw);
    let answer: MaybePromise<SessionRecord | undefined>;
    try {
      answer = store.get(id);
    } catch (error) {
      throw this.wrap("get", error, raw);
    }
    return isThenable(answer) ? this.settle("get", answer, raw, false) : answer;
  }

  set(id: string, record: SessionRecord, ttlMs: number): MaybePromise<void> {
    const store = this.storeFor("set");
    return this.call("set", () => store.set(id, record, ttlMs), this.isRaw(store));
  }

  destroy(id: string): MaybePromise<void> {
    this.tombstones.add(id);
    const store = this.storeFor("destroy");
    return this.call("destroy", () => store.destroy(id), this.isRaw(store));
  }

  touch(id: string, record: SessionRecord, ttlMs: number): MaybePromise<void> {
    const store = this.storeFor("touch");
    const raw = this.isRaw(store);
    if (channels.store.hasSubscribers) {
      return this.call("touch", () => store.touch(id, record, ttlMs), raw);
    }
    let answer: MaybePromise<void>;
    try {
      answer = store.touch(id, record, ttlMs);
    } catch (error) {
      throw this.wrap("touch", error, raw);
    }
    return isThenable(answer) ? this.settle("touch", answer, raw, false) : answer;
  }

  /** Only when {@link canPatch}. */
  patch(id: string, patch: SessionPatch, ttlMs: number): MaybePromise<boolean> {
    const store = this.store;
    return this.call("patch", () =>
      (store.patch as NonNullable<Store["patch"]>).call(store, id, patch, ttlMs),
    );
  }

  /** The store has `patch`, and the app did not replace its `set`: then every write goes through that. */
  canPatch(): boolean {
    return typeof this.store.patch === "function" && this.storeFor("set") === this.store;
  }

  /**
   * Touches rewrite the record: the store was written for express-session, so its touch keeps
   * only its own expiry, and the idle timeout is read from the record's last-seen time.
   */
  touchRewrites(idleTimeoutMs: number): boolean {
    return !this.native && idleTimeoutMs > 0;
  }

  /**
   * The store to call for `name`. A method the app replaced on a Tessera store's instance
   * (`store.set = function (sid, sess, cb) {...}`, as test doubles and instrumentation do) is
   * called the way express-session calls it, through the same adapter as a store written for
   * express-session, which looks the method up at each call: what it answers is what happens.
   */
  private storeFor(name: Operation): Store {
    if (!this.native) return this.store;
    const store = this.userStore as unknown as Record<string, unknown>;
    if (!Object.hasOwn(store, name)) return this.store;
    const method = store[name];
    if (typeof method !== "function" || method === this.fieldMethods.get(name)) return this.store;
    // A replacement that declares the contract's one parameter and no callback (`get(id)`,
    // `destroy(id)`) is called as the contract says, and may answer with a value.
    if ((name === "get" || name === "destroy") && method.length === 1) return this.store;
    this.replacedView ??= fromLegacyStore(this.userStore as CallbackStore, { ownErrors: true });
    return this.replacedView;
  }

  /**
   * The store's own errors pass on as they are when the call went to a store written for
   * express-session (or to a method the app replaced), as under express-session.
   */
  private isRaw(store: Store): boolean {
    return !this.native || store !== this.store;
  }

  private wrap(operation: string, error: unknown, raw: boolean): unknown {
    return raw ? error : storeError(this.name, operation, error);
  }

  private report(operation: string, started: number, error?: unknown): void {
    const durationMs = performance.now() - started;
    publish(
      channels.store,
      error === undefined ? { operation, durationMs } : { operation, durationMs, error },
    );
  }

  /**
   * Runs one store call: timed for diagnostics_channel while someone listens, with a deadline
   * when the engine keeps one for this store, and any failure turned into a `TesseraError`
   * (unless `raw`). An answer given within the call is returned as it is, and a failure thrown
   * within it is thrown.
   */
  call<T>(operation: string, run: () => MaybePromise<T>, raw = false): MaybePromise<T> {
    const timed = channels.store.hasSubscribers;
    const started = timed ? performance.now() : 0;
    let answer: MaybePromise<T>;
    try {
      answer = run();
    } catch (error) {
      const wrapped = this.wrap(operation, error, raw);
      if (timed) this.report(operation, started, wrapped);
      throw wrapped;
    }
    if (!isThenable(answer)) {
      if (timed) this.report(operation, started);
      return answer;
    }
    return this.settle(operation, answer, raw, timed, started);
  }

  /** A store's Promise answer, with the deadline, the error wrapping and the timing. */
  private settle<T>(
    operation: string,
    answer: Promise<T>,
    raw: boolean,
    timed: boolean,
    started = 0,
  ): Promise<T> {
    const deadlines = this.deadlines;
    if (deadlines === undefined) {
      if (!timed) {
        return answer.then(undefined, (error: unknown) =>
          Promise.reject(this.wrap(operation, error, raw)),
        );
      }
      return answer.then(
        (value) => {
          this.report(operation, started);
          return value;
        },
        (error: unknown) => {
          const wrapped = this.wrap(operation, error, raw);
          this.report(operation, started, wrapped);
          throw wrapped;
        },
      );
    }
    // One Promise per call, settled by whichever comes first: the store's answer or the deadline.
    return new Promise<T>((resolve, reject) => {
      const deadline = deadlines.add(() => {
        const error = new TesseraError(
          "ERR_STORE_UNAVAILABLE",
          `${this.name} did not answer ${operation} within ${this.storeTimeoutMs} ms: check that its server is running, or raise storeTimeoutMs.`,
        );
        if (timed) this.report(operation, started, error);
        reject(error);
      });
      answer.then(
        (value) => {
          if (!deadlines.settle(deadline)) return;
          if (timed) this.report(operation, started);
          resolve(value);
        },
        (error: unknown) => {
          if (!deadlines.settle(deadline)) return;
          const wrapped = this.wrap(operation, error, raw);
          if (timed) this.report(operation, started, wrapped);
          reject(wrapped);
        },
      );
    });
  }
}
