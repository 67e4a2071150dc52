// The journey suite on Express 5 (the app is in apps/express.ts).
import { makeExpressApp } from "./apps/express.js";
import { journey } from "./journey.js";

journey("Express", makeExpressApp);
