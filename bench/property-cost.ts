// What adding a property to an Express request costs, and what Tessera does about it. Express
// replaces the prototype of every request and response (Object.setPrototypeOf), and V8 keeps no
// hidden-class transitions for such objects: each property added afterwards builds a new hidden
// class. express-session's API needs three (req.session, req.sessionID, req.sessionStore) and a
// middleware that holds the response needs two more (res.end, res.writeHead). Tessera first puts
// the request and response in dictionary mode (src/express/dictionary-mode.ts), where an added
// property is a hash-table insert.   npx tsx bench/property-cost.ts
// It ends with a canary: whether V8 still puts Express's objects in dictionary mode that way.
import { IncomingMessage } from "node:http";
import { Socket } from "node:net";
import { setFlagsFromString } from "node:v8";
import { prepareForProperties } from "../src/express/dictionary-mode.js";

const socket = new Socket();
const prototype = Object.create(IncomingMessage.prototype) as object;

function time(label: string, run: () => unknown): void {
  for (let i = 0; i < 20_000; i++) run();
  const started = process.cpuUsage();
  const n = 200_000;
  for (let i = 0; i < n; i++) run();
  const used = process.cpuUsage(started);
  console.log(`${label.padEnd(64)} ${((used.user + used.system) / n).toFixed(2).padStart(6)} µs`);
}

type Bag = Record<string, unknown>;
const plain = () => new IncomingMessage(socket) as unknown as Bag;
/** As Express makes it: `req.res` set, then the app's prototype. */
const express = () => {
  const req = new IncomingMessage(socket) as unknown as Bag;
  req.res = {};
  return Object.setPrototypeOf(req, prototype) as Bag;
};
const addThree = (req: Bag) => {
  req.session = 1;
  req.sessionID = 2;
  req.sessionStore = 3;
};

time("a request", plain);
time("a request, 3 properties added", () => addThree(plain()));
time("a request with Express's prototype", express);
time("a request with Express's prototype, 3 properties added", () => addThree(express()));
time("the same, in dictionary mode first (prepareForProperties)", () => {
  const req = express();
  prepareForProperties(req, {});
  addThree(req);
});

// V8's own test of an object's representation: false once its properties are a hash table.
setFlagsFromString("--allow-natives-syntax");
const hasFastProperties = new Function("object", "return %HasFastProperties(object)") as (
  object: object,
) => boolean;
const canary = express();
const before = hasFastProperties(canary);
prepareForProperties(canary, {});
const after = hasFastProperties(canary);
console.log(
  before && !after
    ? `canary: on Node ${process.versions.node} (V8 ${process.versions.v8}) an Express request goes to dictionary mode, as measured`
    : `canary: on Node ${process.versions.node} (V8 ${process.versions.v8}) an Express request did NOT go to dictionary mode (fast before: ${before}, after: ${after}): prepareForProperties no longer does what its comment says; measure again`,
);
