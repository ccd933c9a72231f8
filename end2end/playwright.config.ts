import { defineConfig } from "@playwright/test";

// Debian's chromium (apt-get install chromium); Playwright's own browser download
// (`npx playwright install`) cannot work without internet.
// Playwright itself adds --headless and a fresh temporary --user-data-dir
// (passing --user-data-dir in args is rejected by Playwright).
// Debian chromium flags: without the background-networking ones, its connections are refused
// by the closed network of CI machines, many at a time.
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export default defineConfig({
  testDir: "./tests",
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  // One retry: an intermittent hydration panic on the list pages was seen once in a full run and
  // not reproduced since (see docs/ARCHITECTURE.md); a real regression fails both attempts.
  retries: 1,
  reporter: [["list"]],
  use: {
    baseURL: process.env.BASE_URL ?? "http://127.0.0.1:3000",
    headless: true,
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: CHROMIUM_ARGS,
    },
    trace: "off",
  },
  projects: [{ name: "debian-chromium", use: { browserName: "chromium" } }],
});
