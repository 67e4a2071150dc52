import { IncomingMessage, ServerResponse } from "node:http";

/**
 * Makes adding properties to Express's requests and responses cheap. Express knowledge, so it
 * lives in the Express adapter: node's own objects never need it.
 *
 * Express gives every request and response a prototype of its own app
 * (`Object.setPrototypeOf`). V8 keeps no hidden-class transitions for an object whose prototype
 * was changed, so every property added to it afterwards builds a new hidden class and copies
 * all of the object's property descriptors: about 5 µs a property on a request, more than the
 * rest of a session read. `req.session`, `req.sessionID`, `req.sessionStore`, `res.end` and
 * `res.writeHead` are five such properties, and Express's router adds more after us
 * (`req.params`, `req.route`, ...).
 *
 * An object in dictionary mode adds a property as a hash-table insert instead. Deleting a
 * property that V8 cannot undo by stepping back one hidden class puts the object in dictionary
 * mode at once, for about the cost of one such addition, so this deletes one own data property
 * that Express set (`req.res`, `res.req`) and sets it again with the same value: the object
 * holds what it held, only that key moves to the end of `Object.keys`. Objects whose prototype
 * is still node's own are left alone: their hidden classes are shared and cheap already.
 * Measured on Node 20.19 and 20.20 (V8 11.3), with Express 5.1 to 5.3: `bench/property-cost.ts`
 * measures both costs and prints whether Express's objects end in dictionary mode, a canary for
 * a V8 that changes this.
 */
export function prepareForProperties(req: object, res: object): void {
  if (Object.getPrototypeOf(req) !== IncomingMessage.prototype) reAdd(req, "res");
  if (Object.getPrototypeOf(res) !== ServerResponse.prototype) reAdd(res, "req");
}

function reAdd(object: object, key: string): void {
  // A frozen or sealed object keeps what it has: deleting would fail, or lose the property.
  if (!Object.isExtensible(object)) return;
  const descriptor = Object.getOwnPropertyDescriptor(object, key);
  if (
    descriptor === undefined ||
    !("value" in descriptor) ||
    !descriptor.writable ||
    !descriptor.enumerable ||
    !descriptor.configurable
  ) {
    return;
  }
  // Put back with its original descriptor (a plain writable, enumerable, configurable value).
  if (Reflect.deleteProperty(object, key)) Object.defineProperty(object, key, descriptor);
}
