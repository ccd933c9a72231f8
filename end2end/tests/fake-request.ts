// What the platform fakes (k8s-fake.ts, coolify-fake.ts) share: reading a request whole and
// recording it the way the journeys assert on it.
import http from "node:http";

/** One request a fake received. */
export interface Received {
  method: string;
  /** Path and query as sent. */
  url: string;
  pathname: string;
  /** Decoded query parameters. */
  query: Record<string, string>;
  contentType: string;
  /** The JSON body, parsed (undefined when empty); the fake parses it. */
  body: any;
}

/** Reads `req` to its end, then hands `handle` the request as recorded and its raw body. */
export function readRequest(req: http.IncomingMessage, handle: (rec: Received, raw: string) => void) {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const u = new URL(req.url ?? "/", "http://fake");
    const rec: Received = {
      method: req.method ?? "GET",
      url: req.url ?? "/",
      pathname: u.pathname,
      query: Object.fromEntries(u.searchParams),
      contentType: String(req.headers["content-type"] ?? ""),
      body: undefined,
    };
    handle(rec, Buffer.concat(chunks).toString("utf8"));
  });
}
