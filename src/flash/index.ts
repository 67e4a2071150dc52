export type {
  FlashFunction,
  FlashMessages,
  FlashMiddleware,
  FlashOptions,
  FlashRequest,
  FlashResponse,
} from "./flash.js";
export { flash } from "./flash.js";
