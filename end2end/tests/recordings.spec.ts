import { test, expect } from "@playwright/test";
import { createApiKey, hydrated, signUp, uniqueEmail, failOnPageErrors } from "./helpers";

const MEET = "https://meet.google.com/abc-defg-hij";

failOnPageErrors();

test("a recording bot's life from the row menu: log level, chat, leave, play the recording, delete", async ({
  page,
  request,
}) => {
  await signUp(page, "Recorder", uniqueEmail("rec"));
  const key = await createApiKey(page, "recordings");
  const headers = { "x-api-key": key };
  const created = await request.post("/api/v1/bots", {
    headers,
    data: { meetingUrl: MEET, displayName: "Recording Bot", recordingEnabled: true },
  });
  expect(created.status()).toBe(201);
  const id = (await created.json()).id as number;

  await page.goto("/bots");
  await hydrated(page);
  const row = page.locator(`[data-testid="bot-row"][data-bot-id="${id}"]`);
  await expect(row.locator('[data-status="IN_CALL"]')).toHaveCount(1, { timeout: 30_000 });
  await expect(row.getByTestId("recording-cell")).toHaveText("Pending");

  // The row menu offers only what applies to a bot in the call.
  await row.getByRole("button", { name: `Actions for bot #${id}` }).click();
  const menu = page.getByRole("menu", { name: `Bot #${id}` });
  await expect(menu.getByRole("menuitem")).toHaveText(["View details", "Remove from call"]);
  await menu.getByRole("menuitem", { name: "View details" }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog).toBeVisible();

  // The log level control reaches the bot; a chat message sent through the API shows its state.
  await dialog.getByTestId("log-level").selectOption("DEBUG");
  await expect(page.getByTestId("toast")).toContainText(`Bot #${id} now logs at DEBUG`);
  const chat = await request.post("/api/v1/chat/send", { headers, data: { botIds: [id], messageText: "Hello from Playwright" } });
  expect(chat.status()).toBe(200);
  await page.getByRole("tab", { name: "Logs" }).click();
  await page.getByRole("tab", { name: "Overview" }).click();
  await expect(dialog.getByTestId("chat-messages")).toContainText("Hello from Playwright");
  await expect(dialog.getByTestId("chat-messages")).toContainText("Sent", { timeout: 15_000 });
  await dialog.getByRole("button", { name: "Close" }).click();

  // Remove from call, from the menu: a toast, then the bot leaves, uploads and ends DONE.
  await row.getByRole("button", { name: `Actions for bot #${id}` }).click();
  await menu.getByRole("menuitem", { name: "Remove from call" }).click();
  await expect(page.getByTestId("toast").filter({ hasText: "asked to leave the call" })).toBeVisible();
  await expect(row.locator('[data-status="DONE"]')).toHaveCount(1, { timeout: 30_000 });
  await expect(row.getByTestId("recording-cell")).toHaveText("View");

  // "View" plays the recording in the browser's own player.
  await row.getByTestId("recording-cell").getByRole("button", { name: "View" }).click();
  await expect(page.getByRole("tab", { name: "Recording" })).toHaveAttribute("aria-selected", "true");
  const player = dialog.getByTestId("recording-player");
  await expect(player).toBeVisible();
  await expect
    .poll(() => player.evaluate((m: HTMLMediaElement) => m.duration), { timeout: 15_000 })
    .toBeGreaterThan(2.5);
  const download = dialog.getByTestId("recording-download");
  await expect(download).toHaveAttribute("href", new RegExp(`^/recordings/${id}/.+\\.wav\\?`));
  const file = await request.get((await download.getAttribute("href"))!);
  expect(file.status()).toBe(200);
  expect(file.headers()["content-disposition"]).toContain("attachment");

  // The overview: how long it was in the call, who spoke when, the events.
  await page.getByRole("tab", { name: "Overview" }).click();
  await expect(dialog.getByTestId("speaker-timeline")).toContainText("participant-1");
  await expect(dialog.getByTestId("speaker-timeline")).toContainText("participant-2");
  await expect(dialog.getByTestId("call-duration")).not.toHaveText("-");
  await expect(dialog.getByTestId("events")).toContainText("USER_REMOVED_FROM_CALL");
  await expect(dialog.getByTestId("log-level")).toBeDisabled();
  await dialog.getByRole("button", { name: "Close" }).click();

  // The same link through the JSON API; then Delete from the menu, after a confirmation.
  const link = await request.get(`/api/v1/bots/${id}/recording`, { headers });
  expect(link.status()).toBe(200);
  expect((await link.json()).contentType).toBe("audio/wav");
  await row.getByRole("button", { name: `Actions for bot #${id}` }).click();
  await expect(menu.getByRole("menuitem")).toHaveText(["View details", "View recording", "Delete"]);
  await menu.getByRole("menuitem", { name: "Delete" }).click();
  await page.getByRole("button", { name: "Delete bot" }).click();
  await expect(page.getByTestId("toast").filter({ hasText: `Bot #${id} was deleted` })).toBeVisible();
  await expect(row).toHaveCount(0);
  expect((await request.get(`/api/v1/bots/${id}/recording`, { headers })).status()).toBe(404);
});

test("a scheduled bot's deployment is cancelled from the row menu", async ({ page, request }) => {
  await signUp(page, "Canceller", uniqueEmail("cancel"));
  const key = await createApiKey(page, "cancel");
  const tomorrow = new Date(Date.now() + 24 * 3600 * 1000).toISOString();
  const created = await request.post("/api/v1/bots", {
    headers: { "x-api-key": key },
    data: { meetingUrl: "https://zoom.us/j/123456", displayName: "Tomorrow", startTime: tomorrow },
  });
  const id = (await created.json()).id as number;
  await page.goto("/bots");
  await hydrated(page);
  const row = page.locator(`[data-testid="bot-row"][data-bot-id="${id}"]`);
  await expect(row.getByTestId("recording-cell")).toHaveText("Off");
  await row.getByRole("button", { name: `Actions for bot #${id}` }).click();
  const menu = page.getByRole("menu", { name: `Bot #${id}` });
  await expect(menu.getByRole("menuitem")).toHaveText(["View details", "Cancel deployment"]);
  await menu.getByRole("menuitem", { name: "Cancel deployment" }).click();
  await expect(page.getByTestId("toast").filter({ hasText: "was cancelled" })).toBeVisible();
  await expect(row.locator('[data-status="DONE"]')).toHaveCount(1);
  // A click outside closes an open menu.
  await row.getByRole("button", { name: `Actions for bot #${id}` }).click();
  await expect(menu).toBeVisible();
  await page.mouse.click(5, 5);
  await expect(menu).toHaveCount(0);
});
