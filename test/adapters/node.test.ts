// The journey suite on a plain node:http server (the app is in apps/node.ts).
import { makeNodeApp } from "./apps/node.js";
import { journey } from "./journey.js";

journey("node:http", makeNodeApp);
