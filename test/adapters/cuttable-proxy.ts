// A TCP proxy in front of a real server, which a test cuts and restores: an outage of the real
// Redis without stopping it (other test files share it). While cut, live connections are
// dropped and new ones are accepted and closed at once; the port stays the proxy's, so the
// client reconnects to the same address once it is restored.
import { connect, createServer, type Server, type Socket } from "node:net";

export class CuttableProxy {
  readonly #target: { host: string; port: number };
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #cut = false;

  constructor(target: { host: string; port: number }) {
    this.#target = target;
    this.#server = createServer((client) => this.#accept(client));
  }

  /** Starts listening on a free port of 127.0.0.1; resolves the port. */
  start(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(0, "127.0.0.1", () => {
        const address = this.#server.address();
        if (typeof address === "object" && address !== null) resolve(address.port);
        else reject(new Error("the proxy has no port"));
      });
    });
  }

  /** Drops every connection and refuses new ones until {@link restore}. */
  cut(): void {
    this.#cut = true;
    for (const socket of this.#sockets) socket.destroy();
    this.#sockets.clear();
  }

  restore(): void {
    this.#cut = false;
  }

  close(): Promise<void> {
    this.cut();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    if (this.#cut) {
      client.destroy();
      return;
    }
    const upstream = connect(this.#target);
    const pair = [client, upstream];
    for (const socket of pair) {
      this.#sockets.add(socket);
      socket.on("error", () => {});
      socket.on("close", () => {
        this.#sockets.delete(socket);
        for (const other of pair) other.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
