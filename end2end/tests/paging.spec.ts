import { test, expect, APIRequestContext, Page } from "@playwright/test";
import { createApiKey, hydrated, signUp, uniqueEmail, failOnPageErrors } from "./helpers";

// Bots for tomorrow stay SCHEDULED: nothing is deployed, so the rows do not change under the test.
async function scheduleBots(request: APIRequestContext, secret: string, count: number, name: string) {
  const tomorrow = new Date(Date.now() + 24 * 3600 * 1000).toISOString();
  for (let i = 1; i <= count; i++) {
    const res = await request.post("/api/v1/bots", {
      headers: { "x-api-key": secret },
      data: { meetingUrl: "https://zoom.us/j/123456", displayName: `${name} ${i}`, startTime: tomorrow },
    });
    expect(res.status(), await res.text()).toBe(201);
  }
}

failOnPageErrors();

async function expectPage(page: Page, label: string, first: string, rows: number) {
  await expect(page.getByTestId("page-label")).toHaveText(label);
  await expect(page.getByTestId("bot-row")).toHaveCount(rows);
  await expect(page.getByTestId("bot-row").first()).toContainText(first);
}

test("the bots table pages forward and back through more than one page", async ({ page, request }) => {
  await signUp(page, "Pager", uniqueEmail("pager"));
  const secret = await createApiKey(page, "paging");
  // The free plan allows 5 bots a day: 3 pages of 2.
  await scheduleBots(request, secret, 5, "Paging bot");

  await page.goto("/bots?pageSize=2");
  await hydrated(page);
  const previous = page.getByRole("button", { name: "Previous" });
  const next = page.getByRole("button", { name: "Next", exact: true });
  await expectPage(page, "Page 1 of 3", "Paging bot 5", 2);
  await expect(page.getByTestId("bots-total")).toHaveText("5 bots");
  // The buttons are labelled with words, not with source code.
  await expect(next).toHaveText("Next");
  await expect(previous).toBeDisabled();
  await expect(next).toBeEnabled();

  await next.click();
  await expectPage(page, "Page 2 of 3", "Paging bot 3", 2);
  await expect(page).toHaveURL(/pageSize=2&cursor=/);
  await expect(previous).toBeEnabled();

  await next.click();
  await expectPage(page, "Page 3 of 3", "Paging bot 1", 1);
  await expect(next).toBeDisabled();

  await previous.click();
  await expectPage(page, "Page 2 of 3", "Paging bot 3", 2);

  await previous.click();
  await expectPage(page, "Page 1 of 3", "Paging bot 5", 2);
  await expect(previous).toBeDisabled();

  // A filter starts again on its first page and keeps the page size.
  await next.click();
  await expectPage(page, "Page 2 of 3", "Paging bot 3", 2);
  await page.getByLabel("Status filter").selectOption("SCHEDULED");
  await expect(page).toHaveURL(/\/bots\?status=SCHEDULED&pageSize=2$/);
  await expectPage(page, "Page 1 of 3", "Paging bot 5", 2);
});

test("at phone width the bots table scrolls inside its card, not the page", async ({ page, request }) => {
  await page.setViewportSize({ width: 375, height: 740 });
  await signUp(page, "Phone Person", uniqueEmail("phone"));
  const secret = await createApiKey(page, "phone");
  await scheduleBots(request, secret, 3, "A bot with a rather long display name");

  await page.goto("/bots?pageSize=2");
  await hydrated(page);
  await expect(page.getByTestId("bot-row")).toHaveCount(2);
  const sizes = await page.evaluate(() => ({
    scroll: document.documentElement.scrollWidth,
    inner: window.innerWidth,
  }));
  expect(sizes.scroll).toBeLessThanOrEqual(sizes.inner);
  // The table is wider than the screen and scrolls sideways inside its card.
  const card = await page
    .getByTestId("bots-table")
    .evaluate((el) => ({ scroll: el.scrollWidth, client: el.clientWidth, right: el.getBoundingClientRect().right }));
  expect(card.scroll).toBeGreaterThan(card.client);
  expect(card.right).toBeLessThanOrEqual(sizes.inner);
  // The pager stays on the screen too.
  const next = await page.getByRole("button", { name: "Next", exact: true }).boundingBox();
  expect(next!.x + next!.width).toBeLessThanOrEqual(sizes.inner);
});
