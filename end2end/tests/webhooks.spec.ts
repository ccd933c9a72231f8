import { createServer, IncomingHttpHeaders, Server } from "node:http";
import { AddressInfo } from "node:net";
import { test, expect } from "@playwright/test";
import { Webhook } from "standardwebhooks";
import { createApiKey, hydrated, signUp, uniqueEmail, failOnPageErrors } from "./helpers";

const MEET = "https://meet.google.com/abc-defg-hij";

failOnPageErrors();

type Received = { id: string; verified: boolean; type?: string; status?: string };

/** A receiver on 127.0.0.1 that verifies each request with the `standardwebhooks` package. */
async function receiver(): Promise<{ url: string; secret: { value: string }; got: Received[]; server: Server }> {
  const got: Received[] = [];
  const secret = { value: "" };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers as IncomingHttpHeaders)) headers[k] = String(v);
      try {
        const event = new Webhook(secret.value).verify(body, headers) as { type: string; data: { status?: string } };
        got.push({ id: headers["webhook-id"], verified: true, type: event.type, status: event.data.status });
        res.writeHead(204).end();
      } catch {
        got.push({ id: headers["webhook-id"], verified: false });
        res.writeHead(400).end("bad signature");
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}/hooks/meeboter`, secret, got, server };
}

test("an endpoint gets every bot event signed, its log shows the deliveries, and resend sends one again", async ({
  page,
  request,
}) => {
  const hook = await receiver();
  try {
    await signUp(page, "Hooked", uniqueEmail("hooks"));
    const key = await createApiKey(page, "webhooks");

    await page.goto("/webhooks");
    await hydrated(page);
    await expect(page.getByRole("heading", { name: "Webhooks" })).toBeVisible();
    // The bots' callback URLs have their own card (and secret) from the start.
    await expect(page.locator('[data-testid="webhook-endpoint"][data-kind="callback"]')).toContainText(
      "Bot callback URLs",
    );

    // A URL on a private network is refused with a reason a person can act on.
    await page.getByRole("button", { name: "Add endpoint" }).click();
    const dialog = page.getByRole("dialog", { name: "Add endpoint" });
    await dialog.getByLabel("URL").fill("http://10.1.2.3/hook");
    await dialog.getByRole("button", { name: "Add endpoint" }).click();
    await expect(dialog.getByRole("alert")).toContainText("public host");

    // Added: the secret is shown once, in full, then only its first characters.
    await dialog.getByLabel("URL").fill(hook.url);
    await dialog.getByLabel("Description").fill("Playwright receiver");
    await dialog.getByRole("button", { name: "Add endpoint" }).click();
    const secret = await page.getByTestId("secret").textContent();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/=]{44}$/);
    hook.secret.value = secret!;
    await page.getByRole("button", { name: "Done" }).click();
    await expect(page.getByTestId("new-secret")).toHaveCount(0);
    const card = page.locator('[data-testid="webhook-endpoint"][data-kind="endpoint"]');
    await expect(card.getByTestId("endpoint-url")).toHaveText(hook.url);
    await expect(card).toContainText(secret!.slice(0, 10) + "…");
    await expect(card).not.toContainText(secret!);

    // A bot on the local platform goes through its statuses; each one arrives, verified, in order.
    const headers = { "x-api-key": key };
    const created = await request.post("/api/v1/bots", { headers, data: { meetingUrl: MEET, displayName: "Hooked Bot" } });
    expect(created.status()).toBe(201);
    const id = (await created.json()).id as number;
    await expect
      .poll(() => hook.got.filter((g) => g.verified).map((g) => g.status), { timeout: 30_000 })
      .toEqual(["DEPLOYING", "JOINING_CALL", "IN_WAITING_ROOM", "IN_CALL"]);
    expect(hook.got.every((g) => g.verified)).toBe(true);
    expect(new Set(hook.got.map((g) => g.id)).size).toBe(4);

    // The delivery log: status, attempts, response code; resend delivers the same event again.
    await card.getByRole("button", { name: "Deliveries" }).click();
    const log = page.getByRole("dialog", { name: `Deliveries: ${hook.url}` });
    const rows = log.getByTestId("delivery-row");
    await expect(rows).toHaveCount(4);
    await expect(log.getByTestId("delivery-status")).toHaveText(["DELIVERED", "DELIVERED", "DELIVERED", "DELIVERED"]);
    await expect(log.getByTestId("delivery-response").first()).toHaveText("204");
    await expect(log.getByTestId("delivery-attempts").first()).toHaveText("1");
    const first = hook.got[0].id;
    await rows.last().getByRole("button", { name: "Resend" }).click();
    await expect(page.getByTestId("toast").filter({ hasText: `${first} queued again` })).toBeVisible();
    await expect.poll(() => hook.got.length, { timeout: 15_000 }).toBe(5);
    expect(hook.got[4]).toMatchObject({ id: first, verified: true, status: "DEPLOYING" });
    await expect(rows).toHaveCount(5);
    await expect(log.getByTestId("delivery-status").first()).toHaveText("DELIVERED", { timeout: 15_000 });
    await log.getByRole("button", { name: "Close" }).click();

    // Removing the bot from the call: LEAVING and then the rest arrive too.
    const removed = await request.post(`/api/v1/bots/${id}/remove-from-call`, { headers });
    expect(removed.status()).toBe(200);
    await expect
      .poll(() => hook.got.filter((g) => g.verified).map((g) => g.status), { timeout: 30_000 })
      .toContain("DONE");

    // Disable and enable, with toasts; delete asks first.
    await card.getByRole("button", { name: "Disable" }).click();
    await expect(page.getByTestId("toast").filter({ hasText: "Endpoint disabled" })).toBeVisible();
    await expect(card).toContainText("Disabled");
    await card.getByRole("button", { name: "Enable" }).click();
    await expect(page.getByTestId("toast").filter({ hasText: "Endpoint enabled" })).toBeVisible();
    await card.getByRole("button", { name: "Delete" }).click();
    await page.getByRole("dialog", { name: "Delete endpoint" }).getByRole("button", { name: "Delete endpoint" }).click();
    await expect(page.getByTestId("toast").filter({ hasText: "Endpoint deleted" })).toBeVisible();
    await expect(card).toHaveCount(0);
  } finally {
    hook.server.close();
  }
});
