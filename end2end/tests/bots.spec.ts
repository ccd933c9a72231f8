import { test, expect, Page } from "@playwright/test";
import { hydrated, signUp, uniqueEmail, failOnPageErrors } from "./helpers";

const MEET = "https://meet.google.com/abc-defg-hij";

failOnPageErrors();

async function createKey(page: Page, name: string): Promise<string> {
  await page.goto("/api-keys");
  await hydrated(page);
  await page.getByRole("button", { name: "Create API Key" }).click();
  await page.getByLabel("Name").fill(name);
  await page.getByRole("button", { name: "Create key" }).click();
  const secret = (await page.getByTestId("secret").textContent())!.trim();
  expect(secret).toMatch(/^mbk_[0-9a-f]{64}$/);
  return secret;
}

test("an API key is shown once, works, and stops working when revoked", async ({ page, request }) => {
  await signUp(page, "Key Owner", uniqueEmail("keys"));
  const secret = await createKey(page, "CI key");

  const ok = await request.get("/api/v1/bots", { headers: { "x-api-key": secret } });
  expect(ok.status()).toBe(200);
  expect((await ok.json()).total).toBe(0);

  // The secret is gone once dismissed, and never in the list.
  await page.getByRole("button", { name: "Done" }).click();
  await expect(page.getByTestId("secret")).toHaveCount(0);
  await page.reload();
  await hydrated(page);
  expect(await page.content()).not.toContain(secret);
  const row = page.locator('[data-testid="key-row"][data-key-name="CI key"]');
  await expect(row.getByTestId("key-status")).toHaveText("Active");

  await row.getByRole("button", { name: "Revoke" }).click();
  await page.getByRole("button", { name: "Revoke key" }).click();
  await expect(row.getByTestId("key-status")).toHaveText("Revoked");

  const denied = await request.get("/api/v1/bots", { headers: { "x-api-key": secret } });
  expect(denied.status()).toBe(401);
  expect((await denied.json()).error.message).toContain("revoked");
});

test("quick deploy three bots, watch them join live with logs, remove them from the call", async ({ page }) => {
  await signUp(page, "Deployer", uniqueEmail("deploy"));
  await page.getByLabel("Meeting URL").fill(MEET);
  await expect(page.getByTestId("detected-platform")).toHaveText("Platform: Google Meet");
  await page.getByLabel("Number of Bots").fill("3");
  await page.getByRole("button", { name: "Deploy 3 bots" }).click();
  await expect(page.getByRole("status")).toContainText("3 bot(s) queued");
  await expect(page.getByTestId("recent-bots").locator("li")).toHaveCount(3);

  // The dispatcher starts them on the local platform; the simulated bots join and report.
  const modules: string[] = [];
  page.on("request", (r) => {
    if (r.url().endsWith(".wasm")) modules.push(new URL(r.url()).pathname);
  });
  await page.goto("/bots");
  await hydrated(page);
  const rows = page.getByTestId("bot-row");
  await expect(rows).toHaveCount(3);
  await expect(rows.locator('[data-status="IN_CALL"]')).toHaveCount(3, { timeout: 30_000 });
  await expect(rows.first()).toContainText("Local");

  // Logs arrive live in the details dialog, whose code the table page did not need: it is
  // fetched when a dialog first opens.
  const dialogModule = (m: string) => m.includes("/split_details_dialog_");
  expect(modules.filter(dialogModule)).toEqual([]);
  await rows.first().click();
  await expect(page.getByRole("dialog")).toBeVisible();
  expect(modules.filter(dialogModule)).toHaveLength(1);
  await page.getByRole("tab", { name: "Logs" }).click();
  const lines = page.getByTestId("log-lines");
  await expect(lines).toContainText("Admitted: in the call", { timeout: 15_000 });
  const count = async () => parseInt((await page.getByTestId("log-count").textContent())!.split(" of ")[1], 10);
  const before = await count();
  await expect.poll(count, { timeout: 15_000 }).toBeGreaterThan(before);
  await page.getByLabel("Search logs").fill("Admitted");
  await expect(lines.locator("div")).toHaveCount(1);

  // The screenshot the bot took when it was admitted, served to its owner.
  await page.getByRole("tab", { name: "Screenshots" }).click();
  const shot = page.getByTestId("screenshots").locator("img").first();
  await expect(shot).toBeVisible();
  await expect.poll(() => shot.evaluate((img: HTMLImageElement) => img.naturalWidth)).toBe(160);
  await expect(page.getByTestId("screenshots")).toContainText("state_change · IN_CALL");

  // The Platform tab shows the bot's local process.
  await page.getByRole("tab", { name: "Platform" }).click();
  await expect(page.getByTestId("local-process")).toContainText("Running");
  await expect(page.getByTestId("local-process")).toContainText("PID");
  await expect(page.getByTestId("local-process")).toContainText("Memory (RSS)");
  await page.getByRole("button", { name: "Close" }).click();

  await page.getByLabel("Select all bots on this page").check();
  await page.getByRole("button", { name: "Remove from Call (3)" }).click();
  await page.getByRole("button", { name: "Remove 3 bot(s)" }).click();
  await expect(page.getByRole("status")).toContainText("3 succeeded");
  await expect(rows.locator('[data-status="DONE"]')).toHaveCount(3, { timeout: 20_000 });
  await rows.first().click();
  await expect(page.getByTestId("events")).toContainText("USER_REMOVED_FROM_CALL");
});

test("a bot created through the JSON API appears in the table and can be cancelled", async ({ page, request }) => {
  await signUp(page, "Api User", uniqueEmail("api"));
  const secret = await createKey(page, "script");
  const tomorrow = new Date(Date.now() + 24 * 3600 * 1000).toISOString();
  const res = await request.post("/api/v1/bots", {
    headers: { "x-api-key": secret },
    data: { meetingUrl: "https://zoom.us/j/123456", displayName: "From the API", startTime: tomorrow },
  });
  expect(res.status()).toBe(201);
  await page.goto("/bots");
  await hydrated(page);
  const row = page.getByTestId("bot-row").filter({ hasText: "From the API" });
  await expect(row).toBeVisible();
  await expect(row).toContainText("Zoom");
  await expect(row.getByTestId("status")).toHaveText("Scheduled");

  await page.getByLabel("Select all bots on this page").check();
  await page.getByRole("button", { name: "Cancel Deployments (1)" }).click();
  await page.getByRole("button", { name: "Cancel 1 deployment(s)" }).click();
  await expect(page.getByRole("status")).toContainText("1 succeeded");
  await expect(row.locator('[data-status="DONE"]')).toHaveCount(1);
  await row.click();
  await expect(page.getByTestId("events")).toContainText("USER_CANCELLED_DEPLOYMENT");
});

test("the docs page renders the API reference", async ({ page }) => {
  await page.goto("/docs");
  await expect(page.getByRole("heading", { name: "Meeboter API" })).toBeVisible();
  await expect(page.getByTestId("operations")).toContainText("/api/v1/bots");
});

test("the usage page shows the chart", async ({ page }) => {
  await signUp(page, "Usage Person", uniqueEmail("usage"));
  await page.goto("/usage");
  await hydrated(page);
  await expect(page.getByTestId("usage-chart")).toBeVisible();
  await page.getByRole("button", { name: "Week" }).click();
  await expect(page.getByTestId("usage-chart").locator("rect")).toHaveCount(7);
});

test("a second user sees none of the first user's bots", async ({ page, browser }) => {
  await signUp(page, "First Person", uniqueEmail("first"));
  await page.getByLabel("Meeting URL").fill(MEET);
  await page.getByRole("button", { name: "Deploy bot" }).click();
  await expect(page.getByTestId("recent-bots").locator("li")).toHaveCount(1);

  const other = await browser.newContext();
  const second = await other.newPage();
  await signUp(second, "Second Person", uniqueEmail("second"));
  await second.goto("/bots");
  await hydrated(second);
  await expect(second.getByText("No bots here")).toBeVisible();
  await expect(second.getByTestId("bot-row")).toHaveCount(0);
  await other.close();
});
