// The infrastructure page with bots on two platforms: local (simulated bots as child processes)
// and k8s faked at the driver seam by the bot-sim fleet host (SIMULATED_PLATFORM_URL,
// docs/SIMULATION.md). The file runs its own Meeboter server and fleet host on its own fresh
// database (the main e2e server would take these bots). K8s holds 2 bots and local 1, so of five
// bots two wait in the queue; stopping resources drains it. A second user sees none of it.
// Also takes the screenshots of /infrastructure, / and /bots at desktop and phone widths into
// docs/screenshots/. Needs DATABASE_URL and target/debug/meeboter built with the site.
import { test, expect, Page } from "@playwright/test";
import { ChildProcess } from "node:child_process";
import path from "node:path";
import { failOnPageErrors, hydrated, signUp, uniqueEmail } from "./helpers";
import {
  createBot, createDatabase, dropDatabase, E2E_DIR, freePort, requireDatabaseUrl, ROOT, signUpWithApiKey,
  spawnLogged, startServer, stopServer, waitReady,
} from "./platform-server";

const DATABASE = "meeboter_e2e_infra";
const SHOTS = path.join(ROOT, "docs/screenshots");
const DESKTOP = { width: 1280, height: 800 };
const PHONE = { width: 390, height: 844 };

let fleet: ChildProcess | undefined;
let server: ChildProcess | undefined;
let serverUrl = "";

failOnPageErrors();
test.use({ baseURL: async ({}, use) => use(serverUrl) });
test.describe.configure({ mode: "serial", timeout: 120_000 });

test.beforeAll(async () => {
  test.setTimeout(180_000);
  requireDatabaseUrl();
  const fleetPort = await freePort();
  const fleetUrl = `http://127.0.0.1:${fleetPort}`;
  const fleetLog = path.join(E2E_DIR, "infra-fleet.log");
  fleet = spawnLogged(
    path.join(ROOT, "target/debug/meeboter"),
    ["bot-sim", "--fleet", "20", "--listen", `127.0.0.1:${fleetPort}`],
    fleetLog,
    { ...process.env, BOT_SIM_JOIN_SECS: "1", BOT_SIM_HEARTBEAT_SECS: "1" },
  );
  await waitReady("the fleet host", `${fleetUrl}/stats`, fleet, fleetLog);
  const database = createDatabase(DATABASE);
  ({ url: serverUrl, proc: server } = await startServer({
    name: "infrastructure",
    database,
    log: path.join(E2E_DIR, "infra-server.log"),
    env: {
      PLATFORM_PRIORITY: "k8s,local",
      K8S_BOT_LIMIT: "2",
      LOCAL_BOT_LIMIT: "1",
      K8S_QUEUE_TIMEOUT_MS: "1000",
      LOCAL_QUEUE_TIMEOUT_MS: "1000",
      SIMULATED_PLATFORM_URL: fleetUrl,
      BOT_SIM_JOIN_SECS: "1",
      BOT_SIM_HEARTBEAT_SECS: "1",
    },
  }));
});

test.afterAll(async () => {
  await stopServer(server);
  await stopServer(fleet);
  dropDatabase(DATABASE);
});

/** Screenshots of `url` at desktop and phone widths, once `ready` holds; the whole page when
 *  `fullPage` (the infrastructure page's sections are the point), else the first screen. */
async function shoot(page: Page, url: string, name: string, ready: () => Promise<void>, fullPage = false) {
  for (const [size, viewport] of [["desktop", DESKTOP], ["phone", PHONE]] as const) {
    await page.setViewportSize(viewport);
    await page.goto(url);
    await hydrated(page);
    await ready();
    await page.screenshot({ path: path.join(SHOTS, `${name}-${size}.png`), fullPage });
  }
  await page.setViewportSize(DESKTOP);
}

test("an administrator sees each platform, stops resources and watches the queue drain", async ({ page, request }) => {
  const key = await signUpWithApiKey(page, "Infra Admin", "infra-admin");
  for (let i = 1; i <= 5; i++) await createBot(request, key, `infra-bot-${i}`);

  await page.goto("/infrastructure");
  await hydrated(page);
  const k8s = page.getByTestId("platform-k8s");
  const local = page.getByTestId("platform-local");
  await expect(k8s.getByTestId("platform-header")).toHaveText("K8s (2/2)", { timeout: 30_000 });
  await expect(local.getByTestId("platform-header")).toHaveText("Local (1/1)", { timeout: 30_000 });
  await expect(k8s.getByTestId("health")).toHaveText("Healthy");
  await expect(k8s.getByTestId("stat")).toHaveCount(4);
  await expect(k8s.getByTestId("resource-row")).toHaveCount(2);
  await expect(local.getByTestId("resource-row")).toHaveCount(1);
  await expect(page.getByTestId("queue-total")).toHaveText("2");
  await expect(page.getByTestId("queued-bot")).toHaveCount(2);
  await expect(page.getByTestId("cost")).toContainText("Estimated cost");
  await expect(page.getByTestId("activity-chart").locator("svg rect").first()).toBeVisible();
  await expect(page.getByText("Users and plans")).toBeVisible();
  await expect(page.getByText(/Waits \d+ s when full/)).toHaveCount(0);
  // A section collapses and opens again.
  await k8s.getByRole("button", { name: /K8s/ }).click();
  await expect(k8s.getByTestId("resource-row")).toHaveCount(0);
  await k8s.getByRole("button", { name: /K8s/ }).click();
  await expect(k8s.getByTestId("resource-row")).toHaveCount(2);

  await shoot(
    page,
    "/infrastructure",
    "infrastructure",
    async () => {
      await expect(page.getByTestId("queue-total")).toHaveText("2");
      await expect(page.getByTestId("platform-k8s").getByTestId("resource-row")).toHaveCount(2);
      await expect(page.getByTestId("activity-chart")).toBeVisible();
    },
    true,
  );
  await shoot(page, "/", "dashboard", async () => {
    await expect(page.getByTestId("queue-badge")).toHaveText("Queue: 2 bots waiting");
    await expect(page.getByTestId("platform-row")).toHaveCount(2);
  });
  await shoot(page, "/bots", "bots", async () => {
    await expect(page.getByTestId("bot-row")).toHaveCount(5);
  });

  // The dashboard's badge leads to the queue.
  await page.goto("/");
  await hydrated(page);
  await page.getByTestId("queue-badge").click();
  await expect(page).toHaveURL(/\/infrastructure#queue$/);
  await hydrated(page);

  // Stop both k8s resources: each frees a place that a queued bot takes.
  for (const left of ["1", "0"]) {
    const row = k8s.getByTestId("resource-row").filter({ hasText: "Running" }).filter({ hasText: "In call" }).first();
    await expect(row).toBeVisible({ timeout: 30_000 });
    await row.getByRole("button", { name: "Stop" }).click();
    const dialog = page.getByRole("dialog");
    await expect(dialog).toContainText("ends FATAL");
    await dialog.getByRole("button", { name: "Stop resource" }).click();
    await expect(k8s.getByRole("status")).toContainText("on K8s");
    await expect(page.getByTestId("queue-total")).toHaveText(left, { timeout: 30_000 });
  }
  await expect(page.getByTestId("queue-empty")).toBeVisible({ timeout: 15_000 });
  await expect(k8s.getByTestId("platform-header")).toHaveText("K8s (2/2)", { timeout: 30_000 });
});

test("a second user's page shows none of the first user's bots", async ({ page }) => {
  await signUp(page, "Infra Other", uniqueEmail("infra-other"));
  await page.goto("/infrastructure");
  await hydrated(page);
  const k8s = page.getByTestId("platform-k8s");
  await expect(k8s.getByTestId("platform-header")).toHaveText("K8s (0/2)");
  await expect(page.getByTestId("platform-local").getByTestId("platform-header")).toHaveText("Local (0/1)");
  await expect(k8s.getByTestId("resources-empty")).toBeVisible();
  await expect(page.getByTestId("queue-total")).toHaveText("0");
  await expect(page.getByTestId("queue-empty")).toBeVisible();
  await expect(page.getByTestId("cost-total").first()).toHaveText("$0.00");
  await expect(page.getByText("Users and plans")).toHaveCount(0);
  await expect(page.locator("body")).not.toContainText("infra-bot");
  await expect(page.locator("body")).not.toContainText("Infra Admin");
  await page.goto("/");
  await hydrated(page);
  await expect(page.getByTestId("platform-row")).toHaveCount(2);
  await expect(page.getByTestId("queue-badge")).toHaveCount(0);
  await expect(page.getByTestId("platform-card")).toContainText("0/2");
});
