// What the platform journeys (k8s.spec.ts, ecs.spec.ts, coolify.spec.ts) share. Each of them runs
// its own Meeboter server against its platform's peer (a fake API or an emulator), on its own
// fresh database: the main e2e server (local platform) shares the deployment queue of its database
// and would take their bots. The peers themselves are set up in the specs and their fake files.
import { expect, APIRequestContext, Page } from "@playwright/test";
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import path from "node:path";
import { createApiKey, hydrated, signUp, uniqueEmail } from "./helpers";

/** The repository's root (the servers run there, as `./dev` runs them). */
export const ROOT = path.resolve(__dirname, "../..");
/** Where the journeys write their logs and recorded requests. */
export const E2E_DIR = path.join(ROOT, "target/e2e");
/** The binary `cargo leptos build` builds with the site. */
const MEEBOTER = path.join(ROOT, "target/debug/meeboter");

/** A TCP port on 127.0.0.1 that nothing listens on now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** DATABASE_URL, or an error saying how to run the journeys. */
export function requireDatabaseUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error("DATABASE_URL is not set: run the journeys through ./dev test");
  return url;
}

/** psql against the cluster's `postgres` database, as in DATABASE_URL. */
function psql(sql: string) {
  const admin = new URL(requireDatabaseUrl());
  admin.pathname = "/postgres";
  execFileSync("psql", ["-qAt", "-v", "ON_ERROR_STOP=1", "-d", admin.toString(), "-c", sql], { stdio: "pipe" });
}

/** Creates database `name` afresh (dropping what an earlier run left) in DATABASE_URL's cluster;
 *  returns its URL. */
export function createDatabase(name: string): string {
  dropDatabase(name);
  psql(`CREATE DATABASE ${name}`);
  const db = new URL(requireDatabaseUrl());
  db.pathname = `/${name}`;
  return db.toString();
}

/** Drops database `name`, ending the sessions still open on it. */
export function dropDatabase(name: string) {
  psql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
}

/** The HTTP status of a GET, 0 when there is no answer (within 2 s). */
function httpStatus(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(url, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", () => resolve(0));
    req.setTimeout(2_000, () => req.destroy());
  });
}

/** Waits (up to 120 s) until `url` answers 200; fails with the end of the process's log if it
 *  exits first or never does. */
export async function waitReady(what: string, url: string, proc: ChildProcess, log: string) {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if ((await httpStatus(url)) === 200) return;
    if (proc.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const tail = fs.readFileSync(log, "utf8").split("\n").slice(-40).join("\n");
  throw new Error(`${what} at ${url} did not become ready (exit code ${proc.exitCode}); ${log} ends with:\n${tail}`);
}

/** Starts `command` in the repository's root with its output (stdout and stderr) in the file `log`,
 *  which it truncates. */
export function spawnLogged(
  command: string,
  args: string[],
  log: string,
  env: NodeJS.ProcessEnv = process.env,
): ChildProcess {
  fs.mkdirSync(path.dirname(log), { recursive: true });
  const fd = fs.openSync(log, "w");
  try {
    return spawn(command, args, { cwd: ROOT, env, stdio: ["ignore", fd, fd] });
  } finally {
    fs.closeSync(fd);
  }
}

export interface ServerOptions {
  /** Named in the error when the server does not become ready: "the {name} server". */
  name: string;
  /** The server's DATABASE_URL (from createDatabase). */
  database: string;
  /** The platform's settings, over this process's environment and the journeys' common ones
   *  (development mode, MILO_URL at the server itself, no sign-up rate limit). A variable set to
   *  undefined is removed from the inherited environment. */
  env: NodeJS.ProcessEnv;
  /** The file the server's output goes to. */
  log: string;
  /** The port to listen on (default: a free one); a server restarted on the same port keeps its
   *  pages' origin. */
  port?: number;
}

export interface Server {
  /** http://127.0.0.1:{port}, also the server's MILO_URL. */
  url: string;
  proc: ChildProcess;
}

/** Runs `target/debug/meeboter serve --migrate` on a free port and waits until /readyz answers 200;
 *  stops it again if it does not. */
export async function startServer({ name, database, env, log, port: fixed }: ServerOptions): Promise<Server> {
  const port = fixed ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;
  const merged: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: database,
    MEEBOTER_ENV: "development",
    MILO_URL: url,
    SIGNUP_RATE_LIMIT: "100000",
    ...env,
  };
  for (const [key, value] of Object.entries(merged)) if (value === undefined) delete merged[key];
  const proc = spawnLogged(MEEBOTER, ["serve", "--migrate", "--addr", `127.0.0.1:${port}`], log, merged);
  try {
    await waitReady(`the ${name} server`, `${url}/readyz`, proc, log);
  } catch (e) {
    await stopServer(proc);
    throw e;
  }
  return { url, proc };
}

/** SIGTERM, then SIGKILL if the process has not exited 10 s later; waits for the exit. */
export async function stopServer(proc: ChildProcess | undefined) {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once("exit", r));
  proc.kill("SIGTERM");
  const timer = setTimeout(() => proc.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

/** Signs up a new owner (an unused email starting with `prefix`) and creates an API key named
 *  `prefix`; returns the key's secret. */
export async function signUpWithApiKey(page: Page, owner: string, prefix: string): Promise<string> {
  await signUp(page, owner, uniqueEmail(prefix));
  return createApiKey(page, prefix);
}

/** Creates a Google Meet bot through the JSON API and returns its id. */
export async function createBot(request: APIRequestContext, key: string, name: string): Promise<number> {
  const res = await request.post("/api/v1/bots", {
    headers: { "x-api-key": key },
    data: { meetingUrl: "https://meet.google.com/abc-defg-hij", displayName: name },
  });
  expect(res.status(), await res.text()).toBe(201);
  return (await res.json()).id;
}

/** Opens a bot's details dialog on its Platform tab. */
export async function openPlatformTab(page: Page, name: string) {
  await page.goto("/bots");
  await hydrated(page);
  await page.getByTestId("bot-row").filter({ hasText: name }).click();
  await expect(page.getByRole("dialog")).toBeVisible();
  await page.getByRole("tab", { name: "Platform" }).click();
}

/** Stop → "Stop now" on the open Platform tab; waits for the status message that contains each of
 *  `status`. */
export async function stopNow(page: Page, ...status: string[]) {
  await page.getByRole("button", { name: "Stop", exact: true }).click();
  await page.getByRole("button", { name: "Stop now" }).click();
  let message = page.getByRole("status");
  for (const text of status) message = message.filter({ hasText: text });
  await expect(message).toBeVisible();
}

/** The bot of the open details dialog has ended: its overview says FATAL, and back on the Platform
 *  tab the Stop button is gone. */
export async function expectEnded(page: Page) {
  await page.getByRole("tab", { name: "Overview" }).click();
  await expect(page.getByRole("dialog")).toContainText("FATAL");
  await page.getByRole("tab", { name: "Platform" }).click();
  await expect(page.getByRole("button", { name: "Stop", exact: true })).toHaveCount(0);
}
