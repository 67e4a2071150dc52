// Why no session middleware for Express can come near bare Express: Express replaces the
// prototype of every request and response (Object.setPrototypeOf), and V8 then builds new hidden
// classes for each property added to them afterwards. express-session's API needs three
// (req.session, req.sessionID, req.sessionStore) and a middleware that holds the response needs
// two more (res.end, res.writeHead).   npx tsx bench/property-cost.ts
import { IncomingMessage } from "node:http";
import { Socket } from "node:net";

const socket = new Socket();
const prototype = Object.create(IncomingMessage.prototype) as object;

function time(label: string, run: () => unknown): void {
  for (let i = 0; i < 20_000; i++) run();
  const started = process.cpuUsage();
  const n = 200_000;
  for (let i = 0; i < n; i++) run();
  const used = process.cpuUsage(started);
  console.log(`${label.padEnd(56)} ${((used.user + used.system) / n).toFixed(2).padStart(6)} µs`);
}

type Bag = Record<string, unknown>;
const plain = () => new IncomingMessage(socket) as unknown as Bag;
const express = () => Object.setPrototypeOf(new IncomingMessage(socket), prototype) as Bag;

time("a request", plain);
time("a request, 3 properties added", () => {
  const req = plain();
  req.session = 1;
  req.sessionID = 2;
  req.sessionStore = 3;
});
time("a request with Express's prototype", express);
time("a request with Express's prototype, 3 properties added", () => {
  const req = express();
  req.session = 1;
  req.sessionID = 2;
  req.sessionStore = 3;
});
