// The Platform tab of a bot on AWS ECS. The file starts its own moto_server (the ECS emulator that
// .config/py-venv.sh installs into target/py-venv; see docs/ECS_EMULATOR.md) on a free port, sets up
// the cluster, the task definitions and the default VPC's network in it, and runs its own Meeboter
// server with PLATFORM_PRIORITY=aws on its own fresh database: the main e2e server (local platform)
// shares the deployment queue of its database and would take these bots. Needs DATABASE_URL
// (./dev test sets it) with the right to create a database, target/debug/meeboter built with the
// site (cargo leptos build) and target/py-venv/bin/moto_server.
import { test, expect, APIRequestContext, Page } from "@playwright/test";
import { ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { failOnPageErrors } from "./helpers";
import {
  createBot, createDatabase, dropDatabase, E2E_DIR, expectEnded, freePort, openPlatformTab, requireDatabaseUrl, ROOT,
  signUpWithApiKey, spawnLogged, startServer, stopNow, stopServer, waitReady,
} from "./platform-server";

const LOG = path.join(E2E_DIR, "ecs-server.log");
const MOTO_LOG = path.join(E2E_DIR, "ecs-moto.log");
const MOTO_SERVER = path.join(ROOT, "target/py-venv/bin/moto_server");
const DATABASE = "meeboter_e2e_ecs";
const REGION = "us-east-1";
const CLUSTER = "meeboter";
/** Meeting platform → task definition family; each has one container `{platform}-bot`. */
const PLATFORMS = ["google-meet", "microsoft-teams", "zoom"] as const;
const family = (platform: string) => `meeboter-${platform}-bot`;

let moto: ChildProcess | undefined;
let motoUrl = "";
let server: ChildProcess | undefined;
let serverUrl = "";
let databaseUrl = "";
/** The subnets the server is configured with (two of moto's default VPC). */
let configuredSubnets: string[] = [];

failOnPageErrors();
test.use({ baseURL: async ({}, use) => use(serverUrl) });
// Sign-up, a key, the deployment and the tab: more than the default 30 s on a slow machine.
test.describe.configure({ timeout: 90_000 });

/** moto routes by the SigV4 credential scope (service and region) and never checks the signature. */
function authorization(service: "ecs" | "ec2"): string {
  return `AWS4-HMAC-SHA256 Credential=testing/20261130/${REGION}/${service}/aws4_request, SignedHeaders=host, Signature=0`;
}

/** One ECS call (awsJson1.1) to moto; fails the test on an error answer. */
async function ecs(operation: string, payload: object): Promise<any> {
  const res = await fetch(`${motoUrl}/`, {
    method: "POST",
    headers: {
      "content-type": "application/x-amz-json-1.1",
      "x-amz-target": `AmazonEC2ContainerServiceV20141113.${operation}`,
      authorization: authorization("ecs"),
    },
    body: JSON.stringify(payload),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`moto ${operation}: HTTP ${res.status}: ${text.slice(0, 500)}`);
  return JSON.parse(text);
}

/** One EC2 Query API call to moto; returns the values of every <tag>…</tag> in the XML answer. */
async function ec2(params: Record<string, string>, tag: string): Promise<string[]> {
  const res = await fetch(`${motoUrl}/`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded; charset=utf-8", authorization: authorization("ec2") },
    body: new URLSearchParams({ Version: "2016-11-15", ...params }).toString(),
  });
  const xml = await res.text();
  if (res.status !== 200) throw new Error(`moto EC2 ${params.Action}: HTTP ${res.status}: ${xml.slice(0, 500)}`);
  return [...xml.matchAll(new RegExp(`<${tag}>([^<]+)</${tag}>`, "g"))].map((m) => m[1]);
}

async function motoApi(pathname: string, payload: object) {
  const res = await fetch(`${motoUrl}${pathname}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(payload),
  });
  if (!res.ok) throw new Error(`moto ${pathname}: HTTP ${res.status}: ${await res.text()}`);
}

/** The task as moto has it (DescribeTasks with its tags), by ARN or id. */
async function describeTask(task: string): Promise<any> {
  const answer = await ecs("DescribeTasks", { cluster: CLUSTER, tasks: [task], include: ["TAGS"] });
  expect(answer.tasks, `moto knows task ${task}`).toHaveLength(1);
  return answer.tasks[0];
}

test.beforeAll(async () => {
  test.setTimeout(180_000);
  requireDatabaseUrl();
  if (!fs.existsSync(MOTO_SERVER)) throw new Error(`${MOTO_SERVER} is missing: run .config/py-venv.sh`);

  // The emulator.
  const motoPort = await freePort();
  motoUrl = `http://127.0.0.1:${motoPort}`;
  moto = spawnLogged(MOTO_SERVER, ["-H", "127.0.0.1", "-p", String(motoPort)], MOTO_LOG);
  await waitReady("moto_server", `${motoUrl}/moto-api/state-manager/get-transition?model_name=ecs::task`, moto, MOTO_LOG);

  // Tasks stay RUNNING until stopped: moto's default moves a task one step towards STOPPED on every
  // DescribeTasks, which the Platform tab and the reconciler call.
  await motoApi("/moto-api/state-manager/set-transition", {
    model_name: "ecs::task",
    transition: { progression: "manual", times: 1_000_000 },
  });
  const subnets = await ec2(
    { Action: "DescribeSubnets", "Filter.1.Name": "default-for-az", "Filter.1.Value.1": "true" },
    "subnetId",
  );
  const groups = await ec2(
    { Action: "DescribeSecurityGroups", "Filter.1.Name": "group-name", "Filter.1.Value.1": "default" },
    "groupId",
  );
  expect(subnets.length, "moto's default VPC has subnets").toBeGreaterThan(1);
  expect(groups, "moto's default VPC has one default security group").toHaveLength(1);
  configuredSubnets = subnets.slice(0, 2);
  await ecs("CreateCluster", { clusterName: CLUSTER, capacityProviders: ["FARGATE", "FARGATE_SPOT"] });
  for (const platform of PLATFORMS) {
    const registered = await ecs("RegisterTaskDefinition", {
      family: family(platform),
      networkMode: "awsvpc",
      requiresCompatibilities: ["FARGATE"],
      cpu: "512",
      memory: "1024",
      // moto needs the container's own memory (it answers 500 with task-level memory only).
      containerDefinitions: [
        { name: `${platform}-bot`, image: `ghcr.io/example/meeboter-${platform}-bot:latest`, memory: 1024, essential: true },
      ],
    });
    expect(registered.taskDefinition.revision).toBe(1);
  }

  // The database and the server.
  databaseUrl = createDatabase(DATABASE);
  const env: NodeJS.ProcessEnv = {
    PLATFORM_PRIORITY: "aws",
    AWS_BOT_LIMIT: "5",
    AWS_REGION: REGION,
    AWS_ENDPOINT_URL: motoUrl,
    AWS_ACCESS_KEY_ID: "testing",
    AWS_SECRET_ACCESS_KEY: "testing",
    AWS_ECS_CLUSTER: CLUSTER,
    AWS_ECS_SUBNETS: configuredSubnets.join(","),
    AWS_ECS_SECURITY_GROUPS: groups[0],
    AWS_ECS_ASSIGN_PUBLIC_IP: "true",
    AWS_ECS_TASK_DEF_GOOGLE_MEET: family("google-meet"),
    AWS_ECS_TASK_DEF_MICROSOFT_TEAMS: family("microsoft-teams"),
    AWS_ECS_TASK_DEF_ZOOM: family("zoom"),
  };
  // Nothing from the machine's own AWS setup may reach the driver: only the static keys above, the
  // emulator's endpoint and launch type FARGATE (no capacity provider strategy).
  for (const name of [
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL_ECS",
    "AWS_ECS_CAPACITY_PROVIDERS",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
  ]) {
    env[name] = undefined;
  }
  env.AWS_CONFIG_FILE = "/dev/null";
  env.AWS_SHARED_CREDENTIALS_FILE = "/dev/null";
  env.AWS_EC2_METADATA_DISABLED = "true";
  ({ url: serverUrl, proc: server } = await startServer({ name: "ECS", database: databaseUrl, env, log: LOG }));
});

test.afterAll(async () => {
  test.setTimeout(60_000);
  await stopServer(server);
  await stopServer(moto);
  if (databaseUrl) dropDatabase(DATABASE);
});

/** Signs up, creates a bot, waits until it is deployed on AWS, opens its Platform tab. Returns the
 *  bot id and its platform identifier (the task ARN, or its id) and the task id. */
async function deployAndOpenPlatformTab(page: Page, request: APIRequestContext, name: string) {
  const key = await signUpWithApiKey(page, "ECS Owner", "ecs");
  const id = await createBot(request, key, name);

  let identifier = "";
  await expect
    .poll(
      async () => {
        const res = await request.get(`/api/v1/bots/${id}`, { headers: { "x-api-key": key } });
        expect(res.status(), await res.text()).toBe(200);
        const bot = await res.json();
        identifier = bot.platformIdentifier ?? "";
        return [bot.deploymentPlatform, identifier !== ""];
      },
      { timeout: 30_000, message: `bot ${id} was never deployed on AWS` },
    )
    .toEqual(["aws", true]);
  const taskId = identifier.split("/").pop()!;
  expect(taskId).toMatch(/^[0-9a-f-]{32,36}$/);

  await openPlatformTab(page, name);
  return { id, identifier, taskId };
}

test("an ECS bot runs as a Fargate task with its environment, and its Platform tab shows the task and its container", async ({
  page,
  request,
}) => {
  const { id, identifier, taskId } = await deployAndOpenPlatformTab(page, request, "ECS bot");

  // What the driver asked for, as moto recorded it.
  const task = await describeTask(identifier);
  expect(task.taskArn.split("/").pop()).toBe(taskId);
  expect(task.clusterArn).toBe(`arn:aws:ecs:${REGION}:123456789012:cluster/${CLUSTER}`);
  expect(task.taskDefinitionArn).toMatch(/:task-definition\/meeboter-google-meet-bot:1$/);
  expect(task.launchType).toBe("FARGATE");
  expect(task.startedBy).toBe("meeboter");
  expect(task.lastStatus).toBe("RUNNING");
  expect(task.tags).toEqual(
    expect.arrayContaining([
      { key: "app", value: "meeboter-bot" },
      { key: "botId", value: String(id) },
      { key: "platform", value: "google-meet" },
    ]),
  );
  const overrides = task.overrides.containerOverrides;
  expect(overrides.map((o: { name: string }) => o.name)).toEqual(["google-meet-bot"]);
  const environment = new Map<string, string>(
    overrides[0].environment.map((e: { name: string; value: string }) => [e.name, e.value]),
  );
  expect(environment.get("BOT_ID")).toBe(String(id));
  expect(environment.get("MILO_URL")).toBe(serverUrl);
  expect(environment.get("MILO_AUTH_TOKEN")).toMatch(/^mbt_[0-9a-f]{64}$/);
  // awsvpc: the task's network interface is in one of the configured subnets.
  const eni = task.attachments.find((a: { type: string }) => a.type === "ElasticNetworkInterface");
  const subnet = eni.details.find((d: { name: string }) => d.name === "subnetId").value;
  expect(configuredSubnets).toContain(subnet);

  // The tab.
  const card = page.getByTestId("aws-task");
  await expect(card).toContainText(taskId);
  await expect(card).toContainText("RUNNING");
  await expect(card).toContainText("meeboter-google-meet-bot:1");
  await expect(card).toContainText("FARGATE");
  await expect(page.getByTestId("aws-containers")).toContainText("google-meet-bot");
  // The bot's secret environment is not on the page.
  await expect(page.getByRole("dialog")).not.toContainText(environment.get("MILO_AUTH_TOKEN")!);
});

test("Stop on the Platform tab ends an ECS bot and stops its task", async ({ page, request }) => {
  const { identifier, taskId } = await deployAndOpenPlatformTab(page, request, "ECS bot to stop");
  const card = page.getByTestId("aws-task");
  await expect(card).toContainText(taskId);
  await expect(card).toContainText("RUNNING");

  await stopNow(page, "Stopped", taskId);

  // moto: StopTask with the driver's reason.
  const task = await describeTask(identifier);
  expect(task.lastStatus).toBe("STOPPED");
  expect(task.desiredStatus).toBe("STOPPED");
  expect(task.stoppedReason).toBe("Stopped by Meeboter");

  // The bot ended: the overview says FATAL, the Stop button is gone and the card shows the task
  // STOPPED.
  await expectEnded(page);
  await expect(page.getByTestId("aws-task")).toContainText("STOPPED");
  await expect(page.getByTestId("aws-task")).toContainText("Stopped by Meeboter");
});
