import type { IncomingHttpHeaders } from "node:http";
import type { Socket } from "node:net";
import type { FastifyRequest } from "fastify";
import type { SessionSlot } from "../core/view.js";
import { NodeRequestViewBase } from "../node/request-view.js";

/**
 * A Fastify request as the engine reads it: each property read from `request` when asked. The
 * session lives on the request itself (`request.session`, `request.sessionID`).
 */
export class FastifyRequestView extends NodeRequestViewBase {
  constructor(readonly request: FastifyRequest) {
    super();
  }

  get slot(): SessionSlot {
    return this.request;
  }

  protected get headers(): IncomingHttpHeaders {
    return this.request.headers;
  }

  protected get socket(): Socket | undefined {
    return this.request.raw.socket;
  }

  get url(): string {
    return this.request.url;
  }

  /** Fastify's `request.protocol` honours its `trustProxy` setting. */
  get frameworkSecure(): boolean {
    return this.request.protocol === "https";
  }

  get ip(): string | undefined {
    return this.request.ip;
  }
}
