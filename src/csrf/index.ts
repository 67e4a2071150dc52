export type { CsrfMiddleware, CsrfOptions, CsrfRequest } from "./csrf.js";
export { csrf } from "./csrf.js";
