import { expect, Page, test } from "@playwright/test";

export const PASSWORD = "correct horse battery";

/** An email no earlier run used (the database outlives test runs). */
export function uniqueEmail(prefix: string): string {
  return `${prefix}-${Date.now()}-${Math.floor(Math.random() * 1e6)}@example.com`;
}

/** Waits until the wasm has hydrated the page (forms then submit without a full reload). */
export async function hydrated(page: Page) {
  await page.waitForFunction(() => (window as any).__meeboterHydrated === true);
}

export async function signUp(page: Page, name: string, email: string) {
  await page.goto("/auth/sign-up");
  await hydrated(page);
  await page.getByLabel("Name").fill(name);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByLabel("Confirm Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign Up" }).click();
  await expect(page.getByTestId("greeting")).toHaveText(`Welcome to Meeboter, ${name}`);
}

/** Creates an API key on the API Keys page and returns its secret. */
export async function createApiKey(page: Page, name: string): Promise<string> {
  await page.goto("/api-keys");
  await hydrated(page);
  await page.getByRole("button", { name: "Create API Key" }).click();
  await page.getByLabel("Name").fill(name);
  await page.getByRole("button", { name: "Create key" }).click();
  const secret = (await page.getByTestId("secret").textContent())!.trim();
  expect(secret).toMatch(/^mbk_[0-9a-f]{64}$/);
  await page.getByRole("button", { name: "Done" }).click();
  return secret;
}

/** Fails each test of the file on an uncaught page error (a panic, a hydration error), and
 *  prints browser console errors so a failure is readable. */
export function failOnPageErrors() {
  test.beforeEach(async ({ page }) => {
    const errors: string[] = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    page.on("console", (m) => {
      if (m.type() === "error") console.log(`[browser] ${m.text().slice(0, 400)}`);
    });
    (page as any).__errors = errors;
  });
  test.afterEach(async ({ page }) => {
    expect((page as any).__errors).toEqual([]);
  });
}
