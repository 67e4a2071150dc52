import type { IncomingHttpHeaders } from "node:http";
import type { Socket } from "node:net";
import type { RequestView, SessionSlot } from "../core/view.js";

/**
 * What the engine reads the same way from every request that node:http parsed (Express,
 * node:http, Fastify, Koa): the Cookie, Host, X-Forwarded-Proto and User-Agent headers, and
 * whether the socket is TLS. Each adapter's view extends it with what its framework decides:
 * the URL the app sees, its own answer to "is this HTTPS?" and the client's address.
 */
export abstract class NodeRequestViewBase implements RequestView {
  abstract readonly request: object;
  abstract readonly slot: SessionSlot;
  abstract readonly url: string;
  abstract readonly frameworkSecure: boolean;
  abstract readonly ip: string | undefined;
  /** The request's headers, as the framework hands them to the app. */
  protected abstract readonly headers: IncomingHttpHeaders;
  /** The request's connection. */
  protected abstract readonly socket: Socket | undefined;

  get cookieHeader(): string | undefined {
    return this.headers.cookie;
  }

  get host(): string | undefined {
    const headers = this.headers;
    return headers.host ?? (headers[":authority"] as string | undefined);
  }

  get encrypted(): boolean {
    return (this.socket as { encrypted?: boolean } | undefined)?.encrypted === true;
  }

  get forwardedProto(): string | undefined {
    const header = this.headers["x-forwarded-proto"];
    return Array.isArray(header) ? header[0] : header;
  }

  get userAgent(): string | undefined {
    return this.headers["user-agent"];
  }
}
