import { IncomingMessage, ServerResponse } from "node:http";

/**
 * Makes adding properties to Express's requests and responses cheap.
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
 * `bench/property-cost.ts` measures both.
 */
export function prepareForProperties(req: object, res: object): void {
  if (Object.getPrototypeOf(req) !== IncomingMessage.prototype) reAdd(req, "res");
  if (Object.getPrototypeOf(res) !== ServerResponse.prototype) reAdd(res, "req");
}

function reAdd(object: object, key: string): void {
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
  if (Reflect.deleteProperty(object, key))
    (object as Record<string, unknown>)[key] = descriptor.value;
}
