// Live updates: an open bots table follows changes made elsewhere (here, through the JSON API)
// over the page's server-sent event stream, without a reload; a dropped stream reconnects and
// the page catches up on what it missed. The page mirrors its stream's state on
// <html data-live="open|closed|connecting">.
//
// The file runs two Meeboter replicas of its own on one fresh database: the page's ("A", which
// the second journey restarts to drop the stream) and another ("B") whose API makes a change
// while A is down. Needs DATABASE_URL (./dev test sets it) and target/debug/meeboter built with
// the site.
import { test, expect, Page, APIRequestContext } from "@playwright/test";
import { ChildProcess } from "node:child_process";
import path from "node:path";
import { failOnPageErrors, hydrated } from "./helpers";
import {
  createDatabase, dropDatabase, E2E_DIR, freePort, requireDatabaseUrl, signUpWithApiKey, startServer, stopServer,
} from "./platform-server";

const DATABASE = "meeboter_e2e_live";
const LOG_A = path.join(E2E_DIR, "live-a-server.log");
const LOG_B = path.join(E2E_DIR, "live-b-server.log");

let database = "";
let portA = 0;
let serverA: ChildProcess | undefined;
let serverB: ChildProcess | undefined;
let urlA = "";
let urlB = "";

failOnPageErrors();
test.use({ baseURL: async ({}, use) => use(urlA) });
test.describe.configure({ timeout: 60_000 });

async function startA() {
  ({ url: urlA, proc: serverA } = await startServer({ name: "live A", database, env: {}, log: LOG_A, port: portA }));
}

test.beforeAll(async () => {
  requireDatabaseUrl();
  database = createDatabase(DATABASE);
  portA = await freePort();
  await startA();
  ({ url: urlB, proc: serverB } = await startServer({ name: "live B", database, env: {}, log: LOG_B }));
});

test.afterAll(async () => {
  await stopServer(serverA);
  await stopServer(serverB);
  dropDatabase(DATABASE);
});

/** A bot that waits for tomorrow (SCHEDULED): nothing changes it but the test. */
async function scheduledBot(request: APIRequestContext, key: string, name: string): Promise<number> {
  const tomorrow = new Date(Date.now() + 24 * 3600 * 1000).toISOString();
  const res = await request.post(`${urlA}/api/v1/bots`, {
    headers: { "x-api-key": key },
    data: { meetingUrl: "https://zoom.us/j/123456", displayName: name, startTime: tomorrow },
  });
  expect(res.status()).toBe(201);
  return (await res.json()).id;
}

async function cancel(request: APIRequestContext, base: string, key: string, id: number) {
  const res = await request.post(`${base}/api/v1/bots/${id}/cancel`, { headers: { "x-api-key": key } });
  expect(res.status()).toBe(200);
}

async function openBots(page: Page) {
  await page.goto("/bots");
  await hydrated(page);
  await expect(page.locator("html")).toHaveAttribute("data-live", "open");
}

/** Time left of `budget` ms since `since` (at least 1 ms). */
function left(since: number, budget: number): number {
  return Math.max(1, budget - (Date.now() - since));
}

test("a status change made through the API appears in an open bots table within 1 s", async ({ page, request }) => {
  const key = await signUpWithApiKey(page, "Live Watcher", "live");
  const id = await scheduledBot(request, key, "Watched live");
  await openBots(page);
  const row = page.getByTestId("bot-row").filter({ hasText: "Watched live" });
  await expect(row.getByTestId("status")).toHaveText("Scheduled");

  // The stream is open, so the fallback refetch runs once a minute: only the stream is this quick.
  const cancelled = Date.now();
  await cancel(request, urlA, key, id);
  await expect(row.locator('[data-status="DONE"]')).toHaveCount(1, { timeout: left(cancelled, 1000) });

  // A change made through the other replica reaches this page through PostgreSQL just as fast.
  const created = Date.now();
  const other = await scheduledBot(request, key, "Arrived live");
  const arrived = page.getByTestId("bot-row").filter({ hasText: "Arrived live" });
  await expect(arrived).toBeVisible({ timeout: left(created, 1000) });
  const viaB = Date.now();
  await cancel(request, urlB, key, other);
  await expect(arrived.locator('[data-status="DONE"]')).toHaveCount(1, { timeout: left(viaB, 1000) });
});

test("a dropped stream reconnects and the page catches up on what it missed", async ({ page, request }) => {
  const key = await signUpWithApiKey(page, "Live Reconnect", "live-reconnect");
  const id = await scheduledBot(request, key, "Missed while away");
  await openBots(page);
  const row = page.getByTestId("bot-row").filter({ hasText: "Missed while away" });
  await expect(row.getByTestId("status")).toHaveText("Scheduled");

  // The page's server goes away: its stream ends and the page falls back to polling (which fails).
  await stopServer(serverA);
  await expect(page.locator("html")).toHaveAttribute("data-live", /closed|connecting/);

  // The change happens meanwhile, through the other replica.
  await cancel(request, urlB, key, id);

  // The server comes back: the page reconnects by itself and refetches what it shows at once.
  await startA();
  await expect(page.locator("html")).toHaveAttribute("data-live", "open", { timeout: 20_000 });
  const reopened = Date.now();
  await expect(row.locator('[data-status="DONE"]')).toHaveCount(1, { timeout: left(reopened, 1000) });
});
