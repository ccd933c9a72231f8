import { test, expect } from "@playwright/test";
import { hydrated, PASSWORD, signUp, uniqueEmail, failOnPageErrors } from "./helpers";

failOnPageErrors();

test("the landing page names the product and is styled", async ({ page }) => {
  await page.goto("/");
  await expect(page.locator("h1")).toContainText("Meeboter");
  const bg = await page.locator("header").evaluate((el) => getComputedStyle(el).backgroundColor);
  expect(bg).not.toBe("rgba(0, 0, 0, 0)");
  await hydrated(page);
  await expect(page.getByRole("link", { name: "Sign In" }).first()).toBeVisible();
});

test("sign up, greeted by name, sign out, sign in again", async ({ page }) => {
  const email = uniqueEmail("ada");
  await signUp(page, "Ada Lovelace", email);
  await expect(page.getByTestId("user-name").first()).toHaveText("Ada Lovelace");
  await expect(page.getByRole("link", { name: "Bots", exact: true })).toBeVisible();

  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page.locator("h1")).toContainText("Meeboter");
  await expect(page.getByRole("link", { name: "Sign In" }).first()).toBeVisible();

  await page.goto("/auth/sign-in");
  await hydrated(page);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign In" }).click();
  await expect(page.getByTestId("greeting")).toHaveText("Welcome back, Ada Lovelace");
});

test("a wrong password shows an error and sets no session", async ({ page, context }) => {
  const email = uniqueEmail("grace");
  await signUp(page, "Grace Hopper", email);
  await context.clearCookies();

  await page.goto("/auth/sign-in");
  await hydrated(page);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill("not my password at all");
  await page.getByRole("button", { name: "Sign In" }).click();
  await expect(page.getByTestId("form-error")).toHaveText("That email and password do not match an account.");
  const cookies = await context.cookies();
  expect(cookies.filter((c) => c.name === "meeboter_session")).toEqual([]);
});

test("visiting /bots signed out lands on sign-in and comes back after", async ({ page }) => {
  const email = uniqueEmail("alan");
  await signUp(page, "Alan Turing", email);
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page.getByRole("link", { name: "Sign In" }).first()).toBeVisible();

  await page.goto("/bots");
  await expect(page).toHaveURL(/\/auth\/sign-in\?next=\/bots$/);
  await hydrated(page);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign In" }).click();
  await expect(page).toHaveURL(/\/bots$/);
  await expect(page.getByRole("heading", { name: "Bots", exact: true })).toBeVisible();
});

test("an unknown page answers 404", async ({ page }) => {
  const res = await page.goto("/definitely/not/here");
  expect(res?.status()).toBe(404);
  await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
});

test("the menu works on a narrow screen", async ({ page }) => {
  await page.setViewportSize({ width: 375, height: 740 });
  await page.goto("/");
  await hydrated(page);
  await page.getByText("Menu").click();
  await expect(page.getByRole("link", { name: "Docs" }).first()).toBeVisible();
});

test("each page's code is its own wasm module, fetched with the page that needs it", async ({ page }) => {
  const email = uniqueEmail("barbara");
  await signUp(page, "Barbara Liskov", email);
  const modules: string[] = [];
  page.on("request", (r) => {
    const name = new URL(r.url()).pathname.split("/").pop()!;
    if (name.endsWith(".wasm")) modules.push(name);
  });

  // A first visit to the docs: the main bundle and the docs page's module, not the bots page's.
  await page.goto("/docs");
  await hydrated(page);
  expect(modules.some((m) => /^meeboter\.[\w-]{22}\.wasm$/.test(m))).toBe(true);
  expect(modules.some((m) => m.startsWith("split___docs_route_view_"))).toBe(true);
  expect(modules.some((m) => m.startsWith("split___bots_route_view_"))).toBe(false);

  // Navigating in the app fetches the bots page's module, and the page works.
  await page.getByRole("link", { name: "Bots", exact: true }).click();
  await expect(page).toHaveURL(/\/bots$/);
  await expect(page.getByRole("heading", { name: "Bots", exact: true })).toBeVisible();
  expect(modules.some((m) => m.startsWith("split___bots_route_view_"))).toBe(true);
  await page.getByRole("button", { name: "Deploy Bots" }).click();
  await expect(page.getByRole("dialog")).toBeVisible();
});
