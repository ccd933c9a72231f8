// Live updates: an open bots table follows changes made elsewhere (here, through the JSON API)
// over the page's server-sent event stream, without a reload; a dropped stream reconnects and
// the page catches up on what it missed. The page mirrors its stream's state on
// <html data-live="open|closed|connecting">.
import { test, expect, Page, APIRequestContext } from "@playwright/test";
import { createApiKey, failOnPageErrors, hydrated, signUp, uniqueEmail } from "./helpers";

failOnPageErrors();

/** A bot that waits for tomorrow (SCHEDULED): nothing changes it but the test. */
async function scheduledBot(request: APIRequestContext, key: string, name: string): Promise<number> {
  const tomorrow = new Date(Date.now() + 24 * 3600 * 1000).toISOString();
  const res = await request.post("/api/v1/bots", {
    headers: { "x-api-key": key },
    data: { meetingUrl: "https://zoom.us/j/123456", displayName: name, startTime: tomorrow },
  });
  expect(res.status()).toBe(201);
  return (await res.json()).id;
}

async function cancel(request: APIRequestContext, key: string, id: number) {
  const res = await request.post(`/api/v1/bots/${id}/cancel`, { headers: { "x-api-key": key } });
  expect(res.status()).toBe(200);
}

async function openBots(page: Page) {
  await page.goto("/bots");
  await hydrated(page);
  await expect(page.locator("html")).toHaveAttribute("data-live", "open");
}

test("a status change made through the API appears in an open bots table within 1 s", async ({ page, request }) => {
  await signUp(page, "Live Watcher", uniqueEmail("live"));
  const key = await createApiKey(page, "live");
  const id = await scheduledBot(request, key, "Watched live");
  await openBots(page);
  const row = page.getByTestId("bot-row").filter({ hasText: "Watched live" });
  await expect(row.getByTestId("status")).toHaveText("Scheduled");

  // The stream is open, so the fallback refetch runs once a minute: only the stream can be this quick.
  const started = Date.now();
  await cancel(request, key, id);
  await expect(row.locator('[data-status="DONE"]')).toHaveCount(1, { timeout: Math.max(1, 1000 - (Date.now() - started)) });

  // A bot created meanwhile appears too.
  const created = Date.now();
  await scheduledBot(request, key, "Arrived live");
  await expect(page.getByTestId("bot-row").filter({ hasText: "Arrived live" })).toBeVisible({
    timeout: Math.max(1, 1000 - (Date.now() - created)),
  });
});

test("a dropped stream reconnects and the page catches up on what it missed", async ({ page, request, context }) => {
  await signUp(page, "Live Reconnect", uniqueEmail("live-reconnect"));
  const key = await createApiKey(page, "live");
  const id = await scheduledBot(request, key, "Missed while away");
  await openBots(page);
  const row = page.getByTestId("bot-row").filter({ hasText: "Missed while away" });
  await expect(row.getByTestId("status")).toHaveText("Scheduled");

  // Drop the stream and keep it down: the network goes away, and every reconnect is refused.
  await page.route("**/api/live", (route) => route.abort());
  await context.setOffline(true);
  await expect(page.locator("html")).toHaveAttribute("data-live", /closed|connecting/);
  await context.setOffline(false);

  // The change happens while the page has no stream.
  await cancel(request, key, id);

  // The stream comes back by itself, and the page refetches what it shows at once.
  await page.unroute("**/api/live");
  await expect(page.locator("html")).toHaveAttribute("data-live", "open", { timeout: 15_000 });
  await expect(row.locator('[data-status="DONE"]')).toHaveCount(1, { timeout: 1000 });
});
