/** Tessera's Express-shaped helpers: `(req, res, next)`, with an error passed to `next`. */
type CallbackMiddleware<Req> = (req: Req, res: object, next: (error?: unknown) => void) => void;

/** Runs an Express-shaped helper on `req`: resolves when it calls `next()`, rejects with its error. */
export function runCallbackMiddleware<Req>(
  middleware: CallbackMiddleware<Req>,
  req: Req,
): Promise<void> {
  return new Promise((resolve, reject) => {
    middleware(req, {}, (error) => (error === undefined ? resolve() : reject(error)));
  });
}
