import type { FastifyRequest } from "fastify";
import type { RequestView, SessionSlot } from "../core/view.js";

/**
 * A Fastify request as the engine reads it: each property read from `request` when asked. The
 * session lives on the request itself (`request.session`, `request.sessionID`).
 */
export class FastifyRequestView implements RequestView {
  constructor(readonly request: FastifyRequest) {}

  get slot(): SessionSlot {
    return this.request;
  }

  get cookieHeader(): string | undefined {
    return this.request.headers.cookie;
  }

  get url(): string {
    return this.request.url;
  }

  get host(): string | undefined {
    const headers = this.request.headers;
    return headers.host ?? (headers[":authority"] as string | undefined);
  }

  get encrypted(): boolean {
    return (this.request.raw.socket as { encrypted?: boolean } | undefined)?.encrypted === true;
  }

  get forwardedProto(): string | undefined {
    const header = this.request.headers["x-forwarded-proto"];
    return Array.isArray(header) ? header[0] : header;
  }

  /** Fastify's `request.protocol` honours its `trustProxy` setting. */
  get frameworkSecure(): boolean {
    return this.request.protocol === "https";
  }

  get userAgent(): string | undefined {
    return this.request.headers["user-agent"];
  }

  get ip(): string | undefined {
    return this.request.ip;
  }
}
