// The Platform tab of a bot on Kubernetes. The file runs its own Meeboter server with
// PLATFORM_PRIORITY=k8s, pointed by a kubeconfig at a fake Kubernetes API (k8s-fake.ts) that
// answers with the driver's schema-validated fixtures, and on its own fresh database: the main
// e2e server (local platform) shares the deployment queue of its database and would take these
// bots. Needs DATABASE_URL (./dev test sets it) with the right to create a database, and
// target/debug/meeboter built with the site (cargo leptos build).
import { test, expect, APIRequestContext, Page } from "@playwright/test";
import { ChildProcess, execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { createApiKey, failOnPageErrors, hydrated, signUp, uniqueEmail } from "./helpers";
import { EVENTS, FAKE_TOKEN, FakeKubeApi, JOBS, POD_METRICS, PODS, Recorded, SECRETS } from "./k8s-fake";

const ROOT = path.resolve(__dirname, "../..");
const LOG = path.join(ROOT, "target/e2e/k8s-server.log");
const DATABASE = "meeboter_e2e_k8s";

let fake: FakeKubeApi;
let server: ChildProcess | undefined;
let serverUrl = "";
let tmp = "";
let databaseUrl = "";

failOnPageErrors();
test.use({ baseURL: async ({}, use) => use(serverUrl) });
// Sign-up, a key, the deployment and the tab: more than the default 30 s on a slow machine.
test.describe.configure({ timeout: 90_000 });

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** psql against the cluster's `postgres` database, as in DATABASE_URL. */
function psql(sql: string) {
  const admin = new URL(process.env.DATABASE_URL!);
  admin.pathname = "/postgres";
  execFileSync("psql", ["-qAt", "-v", "ON_ERROR_STOP=1", "-d", admin.toString(), "-c", sql], { stdio: "pipe" });
}

function kubeconfig(server: string): string {
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "  - name: fake",
    "    cluster:",
    `      server: ${server}`,
    "users:",
    "  - name: meeboter",
    "    user:",
    `      token: ${FAKE_TOKEN}`,
    "contexts:",
    "  - name: fake",
    "    context:",
    "      cluster: fake",
    "      user: meeboter",
    "      namespace: meeboter",
    "current-context: fake",
    "",
  ].join("\n");
}

function readyz(url: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get(`${url}/readyz`, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", () => resolve(0));
    req.setTimeout(2_000, () => req.destroy());
  });
}

async function waitReady(url: string, proc: ChildProcess) {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    if ((await readyz(url)) === 200) return;
    if (proc.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const tail = fs.readFileSync(LOG, "utf8").split("\n").slice(-40).join("\n");
  throw new Error(`the k8s server at ${url} did not become ready (exit code ${proc.exitCode}); ${LOG} ends with:\n${tail}`);
}

test.beforeAll(async () => {
  test.setTimeout(180_000);
  if (!process.env.DATABASE_URL) throw new Error("DATABASE_URL is not set: run the journeys through ./dev test");
  fake = await FakeKubeApi.start();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "meeboter-k8s-e2e-"));
  const config = path.join(tmp, "kubeconfig");
  fs.writeFileSync(config, kubeconfig(fake.url));

  psql(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
  psql(`CREATE DATABASE ${DATABASE}`);
  const db = new URL(process.env.DATABASE_URL);
  db.pathname = `/${DATABASE}`;
  databaseUrl = db.toString();

  const port = await freePort();
  serverUrl = `http://127.0.0.1:${port}`;
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    DATABASE_URL: databaseUrl,
    MEEBOTER_ENV: "development",
    PLATFORM_PRIORITY: "k8s",
    K8S_BOT_LIMIT: "5",
    K8S_KUBECONFIG: config,
    K8S_NAMESPACE: "meeboter",
    MILO_URL: serverUrl,
    SIGNUP_RATE_LIMIT: "100000",
  };
  // In-cluster configuration would come before K8S_KUBECONFIG.
  delete env.KUBERNETES_SERVICE_HOST;
  delete env.KUBERNETES_SERVICE_PORT;
  fs.mkdirSync(path.dirname(LOG), { recursive: true });
  const log = fs.openSync(LOG, "w");
  server = spawn(path.join(ROOT, "target/debug/meeboter"), ["serve", "--migrate", "--addr", `127.0.0.1:${port}`], {
    cwd: ROOT,
    env,
    stdio: ["ignore", log, log],
  });
  fs.closeSync(log);
  await waitReady(serverUrl, server);
});

test.afterAll(async () => {
  test.setTimeout(60_000);
  if (server && server.exitCode === null) {
    const exited = new Promise((r) => server!.once("exit", r));
    server.kill("SIGTERM");
    const timer = setTimeout(() => server!.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(timer);
  }
  if (fake) {
    fs.writeFileSync(path.join(ROOT, "target/e2e/k8s-fake-requests.json"), JSON.stringify(fake.requests, null, 2));
    await fake.close();
  }
  if (databaseUrl) psql(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** Creates a bot through the JSON API and returns its id. */
async function createBot(request: APIRequestContext, key: string, name: string): Promise<number> {
  const res = await request.post("/api/v1/bots", {
    headers: { "x-api-key": key },
    data: { meetingUrl: "https://meet.google.com/abc-defg-hij", displayName: name },
  });
  expect(res.status(), await res.text()).toBe(201);
  return (await res.json()).id;
}

/** Signs up, creates a bot, waits until the driver created its Job, opens its Platform tab. */
async function deployAndOpenPlatformTab(page: Page, request: APIRequestContext, name: string) {
  await signUp(page, "Kube Owner", uniqueEmail("k8s"));
  const key = await createApiKey(page, "k8s");
  const id = await createBot(request, key, name);
  const job = `bot-${id}`;
  await expect.poll(() => fake.jobs.has(job), { timeout: 30_000, message: `the fake never got Job ${job}` }).toBe(true);

  await page.goto("/bots");
  await hydrated(page);
  await page.getByTestId("bot-row").filter({ hasText: name }).click();
  await expect(page.getByRole("dialog")).toBeVisible();
  await page.getByRole("tab", { name: "Platform" }).click();
  return job;
}

test("a Kubernetes bot gets a Secret and a Job, and its Platform tab shows the job, pod, usage and events", async ({
  page,
  request,
}) => {
  fake.metricsAvailable = true;
  const job = await deployAndOpenPlatformTab(page, request, "K8s bot");
  const pod = `${job}-x7k2p`;

  // Deploy: the Secret first, then the Job reading it with envFrom, then the Secret owned by the Job.
  const secretName = `${job}-env`;
  const posted = (to: string, name: string) =>
    fake.requests.findIndex((r) => r.method === "POST" && r.pathname === to && r.body?.metadata?.name === name);
  const secretPost = posted(SECRETS, secretName);
  expect(secretPost, "a Secret POST for the bot").toBeGreaterThanOrEqual(0);
  expect(posted(JOBS, job), "the Job POST, after the Secret").toBeGreaterThan(secretPost);
  const jobPost = fake.requests[posted(JOBS, job)];

  const token = Buffer.from(fake.secrets.get(secretName)!.data.MILO_AUTH_TOKEN, "base64").toString();
  expect(token).toMatch(/^mbt_[0-9a-f]{64}$/);
  expect(JSON.stringify(jobPost.body)).not.toContain(token);
  const container = jobPost.body.spec.template.spec.containers[0];
  expect((container.env ?? []).map((e: { name: string }) => e.name)).not.toContain("MILO_AUTH_TOKEN");
  expect(container.envFrom).toContainEqual(
    expect.objectContaining({ secretRef: expect.objectContaining({ name: secretName }) }),
  );

  const uid = fake.jobs.get(job)!.metadata.uid;
  await expect.poll(() => fake.requestsTo("PATCH", `${SECRETS}/${secretName}`).length, "the Secret PATCH").toBeGreaterThan(0);
  expect(fake.secrets.get(secretName)!.metadata.ownerReferences).toContainEqual(
    expect.objectContaining({ apiVersion: "batch/v1", kind: "Job", name: job, uid }),
  );

  // The tab.
  const jobCard = page.getByTestId("k8s-job");
  await expect(jobCard).toContainText(job);
  await expect(jobCard).toContainText("Running");
  await expect(jobCard).toContainText("k3s-0");
  const podCard = page.getByTestId("k8s-pod");
  await expect(podCard).toContainText(pod);
  await expect(podCard).toContainText("Running");
  await expect(podCard).toContainText("Restarts");
  await expect(podCard).toContainText("0");
  await expect(page.getByTestId("k8s-cpu")).toContainText("180m / 1000m (18%)");
  await expect(page.getByTestId("k8s-memory")).toContainText("650Mi / 2Gi (32%)");
  const events = page.getByTestId("k8s-events");
  for (const reason of ["Scheduled", "Pulled", "Started", "SuccessfulCreate"]) {
    await expect(events.getByRole("row").filter({ hasText: reason })).toHaveCount(1);
  }

  // What the tab read: the Job, its pods by label, events by field selector, the pod's metrics.
  const gets = fake.requests.filter((r) => r.method === "GET");
  expect(gets.some((r) => r.pathname === `${JOBS}/${job}`)).toBe(true);
  expect(gets.some((r) => r.pathname === PODS && (r.query.labelSelector ?? "").includes(`job-name=${job}`))).toBe(true);
  for (const name of [job, pod]) {
    const selected = (r: Recorded) => (r.query.fieldSelector ?? "").includes(`involvedObject.name=${name}`);
    expect(gets.some((r) => r.pathname === EVENTS && selected(r)), `events of ${name}`).toBe(true);
  }
  expect(gets.some((r) => r.pathname === `${POD_METRICS}/${pod}`)).toBe(true);
});

test("without a metrics API the Platform tab of a Kubernetes bot says usage is unavailable", async ({ page, request }) => {
  fake.metricsAvailable = false;
  try {
    const job = await deployAndOpenPlatformTab(page, request, "K8s bot without metrics");
    await expect(page.getByTestId("k8s-job")).toContainText(job);
    await expect(page.getByTestId("k8s-metrics-absent")).toBeVisible();
  } finally {
    fake.metricsAvailable = true;
  }
});

test("Stop on the Platform tab ends a Kubernetes bot and deletes its Job", async ({ page, request }) => {
  const job = await deployAndOpenPlatformTab(page, request, "K8s bot to stop");
  await expect(page.getByTestId("k8s-job")).toContainText(job);
  await page.getByRole("button", { name: "Stop", exact: true }).click();
  await page.getByRole("button", { name: "Stop now" }).click();
  await expect(page.getByRole("status").filter({ hasText: `Stopped ${job}` })).toBeVisible();
  expect(fake.jobs.has(job)).toBe(false);
  const deleted = fake.requests.find((r) => r.method === "DELETE" && r.pathname === `${JOBS}/${job}`);
  expect(deleted?.body?.propagationPolicy).toBe("Background");
  // The bot ended: the overview says FATAL and the Stop button is gone.
  await page.getByRole("tab", { name: "Overview" }).click();
  await expect(page.getByRole("dialog")).toContainText("FATAL");
  await page.getByRole("tab", { name: "Platform" }).click();
  await expect(page.getByRole("button", { name: "Stop", exact: true })).toHaveCount(0);
});
