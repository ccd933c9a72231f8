import { test, expect, Browser, Page } from "@playwright/test";
import { hydrated, PASSWORD, signUp, uniqueEmail, failOnPageErrors } from "./helpers";

failOnPageErrors();

async function signIn(page: Page, email: string, password: string) {
  await page.goto("/auth/sign-in");
  await hydrated(page);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign In" }).click();
  await expect(page.getByTestId("greeting")).toHaveText(/^Welcome back, /);
}

/** The same person signed in on another device (its own cookie jar). */
async function otherDevice(browser: Browser, email: string, password: string): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await signIn(page, email, password);
  return page;
}

async function openAccount(page: Page) {
  await page.getByRole("link", { name: "Account", exact: true }).click();
  await expect(page.getByRole("heading", { name: "Account", exact: true })).toBeVisible();
  await hydrated(page);
}

test("changing the password keeps this session and signs out the other device", async ({ page, browser }) => {
  const email = uniqueEmail("pw");
  const fresh = "a brand new passphrase";
  await signUp(page, "Pat Change", email);
  const other = await otherDevice(browser, email, PASSWORD);

  await openAccount(page);
  await page.getByLabel("Current password", { exact: true }).fill("not my password");
  await page.getByLabel("New password", { exact: true }).fill(fresh);
  await page.getByLabel("Confirm new password", { exact: true }).fill(fresh);
  await page.getByRole("button", { name: "Change password" }).click();
  await expect(page.getByTestId("form-error")).toHaveText("Your current password is not correct.");

  await page.getByLabel("Current password", { exact: true }).fill(PASSWORD);
  await page.getByLabel("New password", { exact: true }).fill(fresh);
  await page.getByLabel("Confirm new password", { exact: true }).fill(fresh);
  await page.getByRole("button", { name: "Change password" }).click();
  await expect(page.getByTestId("password-changed")).toBeVisible();

  // This device stays signed in; the other one is sent to sign in.
  await page.goto("/bots");
  await expect(page.getByRole("heading", { name: "Bots", exact: true })).toBeVisible();
  await other.goto("/bots");
  await expect(other).toHaveURL(/\/auth\/sign-in\?next=\/bots$/);
  await other.context().close();

  await page.getByRole("button", { name: "Sign out", exact: true }).click();
  await expect(page.getByRole("link", { name: "Sign In" }).first()).toBeVisible();
  await signIn(page, email, fresh);
});

test("sign out everywhere ends this session and the other device's", async ({ page, browser }) => {
  const email = uniqueEmail("everywhere");
  await signUp(page, "Sam Everywhere", email);
  const other = await otherDevice(browser, email, PASSWORD);

  await openAccount(page);
  await page.getByRole("button", { name: "Sign out everywhere" }).click();
  await expect(page).toHaveURL(/\/auth\/sign-in$/);
  await page.goto("/bots");
  await expect(page).toHaveURL(/\/auth\/sign-in\?next=\/bots$/);
  await other.goto("/bots");
  await expect(other).toHaveURL(/\/auth\/sign-in\?next=\/bots$/);
  await other.context().close();
});

test("pages are served with a Content-Security-Policy that still lets them hydrate", async ({ page }) => {
  const violations: string[] = [];
  page.on("console", (m) => {
    if (m.text().includes("Content Security Policy")) violations.push(m.text());
  });
  const res = await page.goto("/auth/sign-in");
  const csp = res!.headers()["content-security-policy"];
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).toMatch(/script-src 'self' 'nonce-[^']+' 'wasm-unsafe-eval'/);
  await hydrated(page);
  expect(violations).toEqual([]);
});
