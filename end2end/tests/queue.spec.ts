// The deployment queue as a user sees it: with room for one bot, the next bots wait in the queue
// and the bots table and the details dialog say where each stands (position, expected start,
// what it waits on). The file runs its own Meeboter server (local platform, LOCAL_BOT_LIMIT=1)
// on its own fresh database, so the main e2e server does not take these bots. Needs
// DATABASE_URL (./dev test sets it) and target/debug/meeboter built with the site.
import { test, expect } from "@playwright/test";
import { ChildProcess } from "node:child_process";
import path from "node:path";
import { failOnPageErrors, hydrated } from "./helpers";
import {
  createBot, createDatabase, dropDatabase, E2E_DIR, requireDatabaseUrl, signUpWithApiKey, startServer, stopServer,
} from "./platform-server";

const LOG = path.join(E2E_DIR, "queue-server.log");
const DATABASE = "meeboter_e2e_queue";

let server: ChildProcess | undefined;
let serverUrl = "";

failOnPageErrors();
test.use({ baseURL: async ({}, use) => use(serverUrl) });
test.describe.configure({ timeout: 90_000 });

test.beforeAll(async () => {
  requireDatabaseUrl();
  const database = createDatabase(DATABASE);
  ({ url: serverUrl, proc: server } = await startServer({
    name: "queue",
    database,
    env: {
      PLATFORM_PRIORITY: "local",
      LOCAL_BOT_LIMIT: "1",
      LOCAL_QUEUE_TIMEOUT_MS: "600000",
      BOT_SIM_JOIN_SECS: "0.5",
      BOT_SIM_HEARTBEAT_SECS: "1",
    },
    log: LOG,
  }));
});

test.afterAll(async () => {
  await stopServer(server);
  dropDatabase(DATABASE);
});

test("queued bots show their position, expected start and what they wait on", async ({ page, request }) => {
  const key = await signUpWithApiKey(page, "Queue Owner", "queue");
  const headers = { "x-api-key": key };

  // One bot runs and is removed, so there is a measured deploy and run to estimate from.
  const first = await createBot(request, key, "First");
  await expect.poll(async () => (await (await request.get(`/api/v1/bots/${first}`, { headers })).json()).status, {
    timeout: 30_000,
  }).toBe("IN_CALL");
  expect((await request.post(`/api/v1/bots/${first}/remove-from-call`, { headers })).status()).toBe(200);
  await expect.poll(async () => (await (await request.get(`/api/v1/bots/${first}`, { headers })).json()).status, {
    timeout: 30_000,
  }).toBe("DONE");

  // Room for one: the second runs, the third and fourth wait, in order.
  const running = await createBot(request, key, "Running");
  await expect.poll(async () => (await (await request.get(`/api/v1/bots/${running}`, { headers })).json()).status, {
    timeout: 30_000,
  }).toBe("IN_CALL");
  // Estimates come from a snapshot of the measurements that each process reuses for 2 s.
  await page.waitForTimeout(2_500);
  const created = await request.post("/api/v1/bots", {
    headers,
    data: { meetingUrl: "https://meet.google.com/abc-defg-hij", displayName: "Waiting One" },
  });
  expect(created.status()).toBe(201);
  const deployment = (await created.json()).deployment;
  expect(deployment).toMatchObject({ success: true, queued: true, queuePosition: 1 });
  expect(deployment.estimatedWaitMs).toBeGreaterThan(0);
  const second = await createBot(request, key, "Waiting Two");
  const api = await (await request.get(`/api/v1/bots/${second}`, { headers })).json();
  expect(api.status).toBe("QUEUED");
  expect(api.queue).toMatchObject({ position: 2, waitingOn: "local is at its limit" });
  expect(api.queue.estimatedWaitMs).toBeGreaterThanOrEqual(deployment.estimatedWaitMs);

  await page.goto("/bots");
  await hydrated(page);
  const row = page.getByTestId("bot-row").filter({ hasText: "Waiting Two" });
  await expect(row.getByTestId("queue-position")).toHaveText(/^#2 · ~\d+ (s|min)/);
  await expect(row.getByTestId("queue-position")).toHaveAttribute("title", "local is at its limit");
  await expect(page.getByTestId("bot-row").filter({ hasText: "Running" }).getByTestId("queue-position")).toHaveCount(0);

  await row.click();
  const dialog = page.getByRole("dialog");
  await expect(dialog.getByTestId("queue-position-detail")).toHaveText("#2");
  await expect(dialog.getByTestId("queue-eta")).toHaveText(/^in ~\d+ (s|min) \(\d\d:\d\d:\d\d UTC\)$/);
  await expect(dialog).toContainText("local is at its limit");
});
