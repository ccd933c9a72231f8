// The Platform tab of a bot on Kubernetes. The file runs its own Meeboter server with
// PLATFORM_PRIORITY=k8s, pointed by a kubeconfig at a fake Kubernetes API (k8s-fake.ts) that
// answers with the driver's schema-validated fixtures, and on its own fresh database: the main
// e2e server (local platform) shares the deployment queue of its database and would take these
// bots. Needs DATABASE_URL (./dev test sets it) with the right to create a database, and
// target/debug/meeboter built with the site (cargo leptos build).
import { test, expect, APIRequestContext, Page } from "@playwright/test";
import { ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { failOnPageErrors } from "./helpers";
import { EVENTS, FAKE_TOKEN, FakeKubeApi, JOBS, POD_METRICS, PODS, Recorded, SECRETS } from "./k8s-fake";
import {
  createBot, createDatabase, dropDatabase, E2E_DIR, expectEnded, openPlatformTab, requireDatabaseUrl, signUpWithApiKey,
  startServer, stopNow, stopServer,
} from "./platform-server";

const LOG = path.join(E2E_DIR, "k8s-server.log");
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

test.beforeAll(async () => {
  test.setTimeout(180_000);
  requireDatabaseUrl();
  fake = await FakeKubeApi.start();
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "meeboter-k8s-e2e-"));
  const config = path.join(tmp, "kubeconfig");
  fs.writeFileSync(config, kubeconfig(fake.url));

  databaseUrl = createDatabase(DATABASE);
  ({ url: serverUrl, proc: server } = await startServer({
    name: "k8s",
    database: databaseUrl,
    env: {
      PLATFORM_PRIORITY: "k8s",
      K8S_BOT_LIMIT: "5",
      K8S_KUBECONFIG: config,
      K8S_NAMESPACE: "meeboter",
      // In-cluster configuration would come before K8S_KUBECONFIG.
      KUBERNETES_SERVICE_HOST: undefined,
      KUBERNETES_SERVICE_PORT: undefined,
    },
    log: LOG,
  }));
});

test.afterAll(async () => {
  test.setTimeout(60_000);
  await stopServer(server);
  if (fake) {
    fs.writeFileSync(path.join(E2E_DIR, "k8s-fake-requests.json"), JSON.stringify(fake.requests, null, 2));
    await fake.close();
  }
  if (databaseUrl) dropDatabase(DATABASE);
  if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
});

/** Signs up, creates a bot, waits until the driver created its Job, opens its Platform tab. */
async function deployAndOpenPlatformTab(page: Page, request: APIRequestContext, name: string) {
  const key = await signUpWithApiKey(page, "Kube Owner", "k8s");
  const id = await createBot(request, key, name);
  const job = `bot-${id}`;
  await expect.poll(() => fake.jobs.has(job), { timeout: 30_000, message: `the fake never got Job ${job}` }).toBe(true);

  await openPlatformTab(page, name);
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
  await stopNow(page, `Stopped ${job}`);
  expect(fake.jobs.has(job)).toBe(false);
  const deleted = fake.requests.find((r) => r.method === "DELETE" && r.pathname === `${JOBS}/${job}`);
  expect(deleted?.body?.propagationPolicy).toBe("Background");
  // The bot ended: the overview says FATAL and the Stop button is gone.
  await expectEnded(page);
});
