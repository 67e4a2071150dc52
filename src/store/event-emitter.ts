import type { EventEmitter as NodeEventEmitter } from "node:events";
import { nodeEvents } from "../core/builtins.js";

type Listener = (...args: unknown[]) => void;

interface MinimalEmitter {
  [LISTENERS]?: Map<string | symbol, Listener[]>;
}

const LISTENERS = Symbol("tessera.listeners");

/** The listeners of one event, in a list replaced on each change so `emit` can loop over it. */
function listenersOf(emitter: MinimalEmitter, event: string | symbol): Listener[] {
  return emitter[LISTENERS]?.get(event) ?? [];
}

function setListeners(emitter: MinimalEmitter, event: string | symbol, list: Listener[]): void {
  emitter[LISTENERS] ??= new Map();
  if (list.length === 0) emitter[LISTENERS].delete(event);
  else emitter[LISTENERS].set(event, list);
}

/**
 * An EventEmitter for runtimes without node:events: what a session store uses of node's (`on`,
 * `once`, `off`, `emit`, `listenerCount`, `removeAllListeners`). Like node's, it is a function
 * that `EventEmitter.call(this)` accepts, as express-session's `Store` calls it. It has no
 * `error` event semantics: an unheard `error` is not thrown.
 */
function MinimalEventEmitter(this: unknown): void {}

const methods = {
  on(this: MinimalEmitter, event: string | symbol, listener: Listener) {
    setListeners(this, event, [...listenersOf(this, event), listener]);
    return this;
  },
  once(this: MinimalEmitter, event: string | symbol, listener: Listener) {
    const once: Listener = (...args) => {
      methods.off.call(this, event, once);
      listener(...args);
    };
    (once as { listener?: Listener }).listener = listener;
    return methods.on.call(this, event, once);
  },
  off(this: MinimalEmitter, event: string | symbol, listener: Listener) {
    const list = listenersOf(this, event);
    // The last one added goes first, as node removes it.
    const index = list.findLastIndex(
      (candidate) =>
        candidate === listener || (candidate as { listener?: Listener }).listener === listener,
    );
    if (index !== -1) setListeners(this, event, list.toSpliced(index, 1));
    return this;
  },
  emit(this: MinimalEmitter, event: string | symbol, ...args: unknown[]): boolean {
    const list = listenersOf(this, event);
    for (const listener of list) listener.apply(this, args);
    return list.length > 0;
  },
  listenerCount(this: MinimalEmitter, event: string | symbol): number {
    return listenersOf(this, event).length;
  },
  removeAllListeners(this: MinimalEmitter, event?: string | symbol) {
    if (event === undefined) this[LISTENERS]?.clear();
    else setListeners(this, event, []);
    return this;
  },
};

Object.assign(MinimalEventEmitter.prototype, methods, {
  addListener: methods.on,
  removeListener: methods.off,
});

/**
 * node's EventEmitter, or a minimal one where the runtime has no node:events. The base of
 * express-session's `Store` (src/store/legacy.ts), so old-style stores can emit `connect` and
 * `disconnect`.
 */
export const EventEmitter: typeof NodeEventEmitter =
  nodeEvents?.EventEmitter ?? (MinimalEventEmitter as unknown as typeof NodeEventEmitter);
