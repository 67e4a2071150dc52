// The packed package in an ES module application.
import { installedPackageSuite } from "./scenarios.js";

installedPackageSuite("module");
