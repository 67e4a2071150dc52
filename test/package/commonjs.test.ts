// The packed package in a CommonJS application, as most express-session apps are.
import { installedPackageSuite } from "./scenarios.js";

installedPackageSuite("commonjs");
