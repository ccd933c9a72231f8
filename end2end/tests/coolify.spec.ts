// Bots on a Coolify pool. The file runs its own Meeboter server with PLATFORM_PRIORITY=coolify,
// pointed at a fake Coolify API (coolify-fake.ts) that answers as Coolify's OpenAPI document and
// server code do, and on its own fresh database: the main e2e server (local platform) shares the
// deployment queue of its database and would take these bots. Needs DATABASE_URL (./dev test sets
// it) with the right to create a database, and target/debug/meeboter built with the site
// (cargo leptos build).
//
// The journey: a Google Meet bot gets slot pool-google-meet-001 (created, its environment set
// with the slot's own token, started), the Platform tab shows the slot and Coolify's status, Stop
// ends the bot and stops the application (the slot stays, idle); a second bot reuses that slot
// with a new token, which opens the slot's config route as a bot would.
import { test, expect, APIRequestContext } from "@playwright/test";
import { ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { failOnPageErrors } from "./helpers";
import {
  DESTINATION_UUID, ENVIRONMENT_NAME, ENVIRONMENT_UUID, FAKE_TOKEN, FakeCoolify, PROJECT_UUID, Recorded, SERVER_UUID,
} from "./coolify-fake";
import {
  createBot, createDatabase, dropDatabase, E2E_DIR, expectEnded, openPlatformTab, requireDatabaseUrl, signUpWithApiKey,
  startServer, stopNow, stopServer,
} from "./platform-server";

const LOG = path.join(E2E_DIR, "coolify-server.log");
const DATABASE = "meeboter_e2e_coolify";
const REGISTRY = "ghcr.io/meeboter-e2e";
const TAG = "e2e";
const IMAGE = `${REGISTRY}/meeboter-google-meet-bot`;
const SLOT = "pool-google-meet-001";
const BOT_TOKEN = /^mbt_[0-9a-f]{64}$/;

let fake: FakeCoolify;
let server: ChildProcess | undefined;
let serverUrl = "";
let databaseUrl = "";

failOnPageErrors();
test.use({ baseURL: async ({}, use) => use(serverUrl) });
// Sign-up, a key, the deployment, and the pool worker's 15 s period before the slot is HEALTHY.
test.describe.configure({ timeout: 150_000 });

test.beforeAll(async () => {
  test.setTimeout(180_000);
  requireDatabaseUrl();
  fake = await FakeCoolify.start();

  databaseUrl = createDatabase(DATABASE);
  ({ url: serverUrl, proc: server } = await startServer({
    name: "Coolify",
    database: databaseUrl,
    env: {
      PLATFORM_PRIORITY: "coolify",
      COOLIFY_BOT_LIMIT: "3",
      COOLIFY_API_URL: fake.apiUrl,
      COOLIFY_API_TOKEN: FAKE_TOKEN,
      COOLIFY_PROJECT_UUID: PROJECT_UUID,
      COOLIFY_SERVER_UUID: SERVER_UUID,
      COOLIFY_ENVIRONMENT_NAME: ENVIRONMENT_NAME,
      COOLIFY_DESTINATION_UUID: DESTINATION_UUID,
      COOLIFY_IMAGE_REGISTRY: REGISTRY,
      COOLIFY_IMAGE_TAG: TAG,
      // The defaults are under test (1 CPU, 2048m).
      COOLIFY_BOT_CPUS: undefined,
      COOLIFY_BOT_MEMORY: undefined,
    },
    log: LOG,
  }));
});

test.afterAll(async () => {
  test.setTimeout(60_000);
  await stopServer(server);
  if (fake) {
    fs.writeFileSync(path.join(E2E_DIR, "coolify-fake-requests.json"), JSON.stringify(fake.requests, null, 2));
    await fake.close();
  }
  if (databaseUrl) dropDatabase(DATABASE);
});

const index = (r: Recorded) => fake.requests.indexOf(r);

/** The start requests the fake got for an application, in order. */
const startsOf = (uuid: string) => fake.requestsTo("POST", `/applications/${uuid}/start`);

/**
 * The environment an application had when it was started the `nth` time (0-based): every bulk
 * env PATCH to it since the previous start (or its creation), merged in order.
 */
function envAtStart(uuid: string, nth: number): Record<string, string> {
  const starts = startsOf(uuid).map(index);
  const from = nth > 0 ? starts[nth - 1] : -1;
  const to = starts[nth];
  const env: Record<string, string> = {};
  for (const r of fake.requestsTo("PATCH", `/applications/${uuid}/envs/bulk`)) {
    const i = index(r);
    if (i > from && i < to) for (const e of r.body?.data ?? []) env[e.key] = e.value;
  }
  return env;
}

/** The slot's config as a bot in it asks for it (`GET /api/v1/bot/slots/{uuid}/config`). */
async function slotConfig(request: APIRequestContext, uuid: string, token: string) {
  return request.get(`/api/v1/bot/slots/${uuid}/config`, { headers: { "x-milo-token": token } });
}

test.describe.serial("a Coolify pool", () => {
  let slotUuid = "";
  let firstToken = "";
  let firstBot = 0;

  test("a bot gets a pool slot with its own token, its Platform tab shows the slot, and Stop frees the slot", async ({
    page,
    request,
  }) => {
    const key = await signUpWithApiKey(page, "Pool Owner", "coolify");
    firstBot = await createBot(request, key, "Coolify bot");

    // The pool had no slot: it creates the first one, sets its environment, then starts it.
    await expect
      .poll(() => fake.appByName(SLOT)?.uuid, { timeout: 30_000, message: `the fake never got application ${SLOT}` })
      .toBeTruthy();
    slotUuid = fake.appByName(SLOT)!.uuid;
    await expect.poll(() => startsOf(slotUuid).length, { timeout: 30_000, message: "the slot was never started" }).toBe(1);

    // The start-up probe read the version and the environment.
    expect(fake.requestsTo("GET", "/version").length).toBeGreaterThan(0);
    const envReads = [
      ...fake.requestsTo("GET", `/projects/${PROJECT_UUID}/${ENVIRONMENT_NAME}`),
      ...fake.requestsTo("GET", `/projects/${PROJECT_UUID}/${ENVIRONMENT_UUID}`),
    ];
    expect(envReads.length, "GET /projects/{project}/{environment}").toBeGreaterThan(0);

    const creates = fake.requestsTo("POST", "/applications/dockerimage");
    expect(creates).toHaveLength(1);
    expect(creates[0].status).toBe(201);
    expect(creates[0].body).toMatchObject({
      project_uuid: PROJECT_UUID,
      server_uuid: SERVER_UUID,
      docker_registry_image_name: IMAGE,
      docker_registry_image_tag: TAG,
      name: SLOT,
      ports_exposes: "3000",
      instant_deploy: false,
      limits_cpus: "1",
      limits_memory: "2048m",
    });
    const place = creates[0].body;
    expect(place.environment_name === ENVIRONMENT_NAME || place.environment_uuid === ENVIRONMENT_UUID).toBe(true);
    if (place.destination_uuid !== undefined) expect(place.destination_uuid).toBe(DESTINATION_UUID);

    // The environment the container starts with: the slot's uuid and a slot token that is
    // neither the owner's API key nor the bot's id.
    const start = startsOf(slotUuid)[0];
    expect(start.status).toBe(200);
    const env = envAtStart(slotUuid, 0);
    expect(env.POOL_SLOT_UUID).toBe(slotUuid);
    firstToken = env.MILO_AUTH_TOKEN;
    expect(firstToken).toMatch(BOT_TOKEN);
    expect(firstToken).not.toBe(key);
    expect(firstToken).not.toBe(String(firstBot));
    if (env.BOT_ID !== undefined) expect(firstToken).not.toBe(env.BOT_ID);
    expect(env.MILO_URL?.replace(/\/$/, "")).toBe(serverUrl);
    expect(env.NODE_ENV).toBe("production");
    expect(env.DOCKER_MEETING_PLATFORM).toBeTruthy();
    expect(fake.envOf(slotUuid).MILO_AUTH_TOKEN).toBe(firstToken);
    // The token travels only in the env PATCH: never in a path, a query, or another body.
    for (const r of fake.requests) {
      expect(r.url).not.toContain(firstToken);
      if (!r.pathname.endsWith("/envs/bulk")) expect(JSON.stringify(r.body ?? null)).not.toContain(firstToken);
    }
    // Every call carried the token.
    expect(fake.requests.filter((r) => !r.authorized).map((r) => `${r.method} ${r.url}`)).toEqual([]);

    // Coolify finishes the deployment and the container runs.
    fake.finishDeployment(slotUuid, "finished", "running:healthy");

    await openPlatformTab(page, "Coolify bot");
    const slot = page.getByTestId("coolify-slot");
    await expect(slot).toContainText(SLOT);
    await expect(slot).toContainText(slotUuid);
    await expect(slot).toContainText(/DEPLOYING|HEALTHY/);
    // The pool worker (every 15 s) sees the finished deployment; the tab refreshes every 10 s.
    await expect(slot).toContainText("HEALTHY", { timeout: 45_000 });
    await expect(page.getByTestId("coolify-app-status")).toContainText("running:healthy", { timeout: 20_000 });
    const dialog = page.getByRole("dialog");
    await expect(dialog).toContainText(IMAGE);
    await expect(dialog).toContainText("2048m");

    // Stop: the bot ends FATAL and the application is stopped, not deleted (the slot stays).
    await stopNow(page, "Stopped");
    await expect
      .poll(() => fake.requestsTo("POST", `/applications/${slotUuid}/stop`).length, { message: "the stop request" })
      .toBeGreaterThan(0);
    expect(fake.requestsTo("DELETE", `/applications/${slotUuid}`)).toHaveLength(0);
    expect(fake.apps.get(slotUuid)?.status).toBe("exited");
    await expectEnded(page);

    // The slot holds no bot now: its token opens nothing.
    const after = await slotConfig(request, slotUuid, firstToken);
    expect(after.status(), await after.text()).not.toBe(200);
  });

  test("a second bot reuses the idle slot with a new token, which opens the slot's config as a bot asks", async ({
    page,
    request,
  }) => {
    expect(slotUuid, "the first test found the slot").not.toBe("");
    const key = await signUpWithApiKey(page, "Second Pool Owner", "coolify2");
    const id = await createBot(request, key, "Coolify bot 2");

    await expect
      .poll(() => startsOf(slotUuid).length, { timeout: 30_000, message: "the idle slot was never started again" })
      .toBe(2);
    // The same application: no second create.
    expect(fake.requestsTo("POST", "/applications/dockerimage")).toHaveLength(1);
    expect(fake.apps.size).toBe(1);

    const env = envAtStart(slotUuid, 1);
    const token = env.MILO_AUTH_TOKEN;
    expect(token).toMatch(BOT_TOKEN);
    expect(token).not.toBe(firstToken);
    expect(token).not.toBe(key);
    expect(env.POOL_SLOT_UUID ?? fake.envOf(slotUuid).POOL_SLOT_UUID).toBe(slotUuid);
    expect(fake.envOf(slotUuid).MILO_AUTH_TOKEN).toBe(token);
    const start = startsOf(slotUuid)[1];
    expect(start.status).toBe(200);

    // The bot in the slot asks which bot it is, with the token it was given (REST and tRPC).
    const config = await slotConfig(request, slotUuid, token);
    expect(config.status(), await config.text()).toBe(200);
    expect(await config.json()).toMatchObject({ id, displayName: "Coolify bot 2" });
    const input = encodeURIComponent(JSON.stringify({ json: { poolSlotUuid: slotUuid } }));
    const trpc = await request.get(`/api/trpc/infrastructure.coolify.pool.getSlot?input=${input}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(trpc.status(), await trpc.text()).toBe(200);
    expect((await trpc.json()).result.data.json).toMatchObject({ id, displayName: "Coolify bot 2" });
    // The slot token also opens its bot's own routes.
    const own = await request.get(`/api/v1/bot/${id}/config`, { headers: { "x-milo-token": token } });
    expect(own.status(), await own.text()).toBe(200);

    // The first bot's token, the owner's API key and no token at all open nothing.
    expect((await slotConfig(request, slotUuid, firstToken)).status()).toBe(401);
    expect((await slotConfig(request, slotUuid, key)).status()).toBe(401);
    expect((await request.get(`/api/v1/bot/slots/${slotUuid}/config`)).status()).toBe(401);
    expect((await request.get(`/api/v1/bot/${firstBot}/config`, { headers: { "x-milo-token": token } })).status()).toBe(401);

    // Its Platform tab shows the same slot.
    await openPlatformTab(page, "Coolify bot 2");
    const slot = page.getByTestId("coolify-slot");
    await expect(slot).toContainText(SLOT);
    await expect(slot).toContainText(slotUuid);
  });
});
