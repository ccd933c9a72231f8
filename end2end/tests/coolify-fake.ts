// A fake Coolify API (v4) for the Coolify pool journey (coolify.spec.ts). It answers exactly the
// calls the pool driver makes, shaped as the official OpenAPI document's schemas (Application,
// ApplicationDeploymentQueue, Environment, EnvironmentVariable; the document marks no field of
// them required) and, where the document and the server's code disagree, as the code of
// coollabsio/coolify at 379abb2 (app/Http/Controllers/Api/*.php) answers:
//
// - every path under /api/v1 needs `Authorization: Bearer <token>`: 401 {"message":"Unauthenticated."};
// - GET /version is text/html, the bare version string (OtherController::version);
// - create takes either environment_name or environment_uuid, refuses unknown fields with
//   422 {message, errors}, answers 201 {uuid, domains} and sets build_pack "dockerimage" (not in
//   the document's enum); a new application's status is "exited";
// - start/stop/restart are POST only (since 4.2.0); GET answers 405 with `Allow: POST`;
// - start answers 200 {message} without a deployment_uuid when a deployment of the application is
//   already queued or in progress ("skipped"); with the queue full it answers a deployment_uuid that
//   was never created (the controller ignores queue_full), see `queueFull`;
// - stop sets the status to "exited";
// - GET /deployments/applications/{uuid} answers {count, deployments} (the document says an array);
// - a token without read:sensitive never sees env values (`value`, `real_value`), deployment logs,
//   the application's `id`, `private_key_id`, labels or webhook secrets;
// - unknown uuids are 404 {"message": "... not found."}.
import http from "node:http";
import { randomBytes } from "node:crypto";
import { AddressInfo } from "node:net";
import { readRequest, Received } from "./fake-request";

type Obj = Record<string, any>;

export const FAKE_TOKEN = "3|meeboter-e2e-coolify-token";
export const API = "/api/v1";
export const PROJECT_UUID = "k8w4cg0c0ws0c4kgo4oc8w0g";
export const SERVER_UUID = "ug0g4sc0k4c4wcksoc8w4s0o";
export const ENVIRONMENT_NAME = "production";
export const ENVIRONMENT_UUID = "ts0gcs8kgkwws0oko4w0k80c";
export const DESTINATION_UUID = "y8gg48ksc4w04wc8cwgso8ws";
export const VERSION = "4.3.11";

/** One request as the fake received it. */
export interface Recorded extends Received {
  /** Whether it carried the right bearer token. */
  authorized: boolean;
  /** The status the fake answered. */
  status: number;
}

/** An application as the fake stores it. */
export interface FakeApp {
  id: number;
  uuid: string;
  name: string;
  description: string | null;
  image: string;
  tag: string;
  portsExposes: string;
  limitsCpus: string;
  limitsMemory: string;
  /** Coolify's aggregated container status: `exited`, `starting:unknown`, `running:healthy`, ... */
  status: string;
  /** Environment variables by key (production, not preview). */
  envs: Map<string, FakeEnv>;
  createdAt: string;
  updatedAt: string;
  lastOnlineAt: string;
}

export interface FakeEnv {
  id: number;
  uuid: string;
  key: string;
  value: string | null;
  is_literal: boolean;
  is_multiline: boolean;
  is_preview: boolean;
  is_runtime: boolean;
  is_buildtime: boolean;
  is_shown_once: boolean;
  comment: string | null;
  created_at: string;
  updated_at: string;
}

/** A deployment (ApplicationDeploymentQueue row). */
export interface FakeDeployment {
  id: number;
  deployment_uuid: string;
  appUuid: string;
  /** queued | in_progress | finished | failed | cancelled-by-user */
  status: string;
  created_at: string;
  updated_at: string;
  finished_at: string | null;
}

/** An answer forced on the next matching request (see `failNext`). */
interface Forced {
  method: string;
  path: RegExp;
  status: number;
  body: Obj;
  headers: Record<string, string>;
}

// Coolify's ids: new_public_id(), 24 lowercase letters and digits.
const publicId = () => {
  const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  return [...randomBytes(24)].map((b) => alphabet[b % alphabet.length]).join("");
};
// Laravel's JSON dates: microseconds and Z.
const now = () => new Date().toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
const notFound = (what: string): [number, Obj] => [404, { message: `${what} not found.` }];
const validation = (errors: Record<string, string[]>): [number, Obj] => [422, { message: "Validation failed.", errors }];

// ApplicationsController::create_application's $allowedFields (with APPLICATION_SETTING_FIELDS).
const CREATE_FIELDS = new Set(
  ("project_uuid environment_name environment_uuid server_uuid destination_uuid type name description is_static is_spa " +
    "is_auto_deploy_enabled is_force_https_enabled is_preview_deployments_enabled domains noindex_domains git_repository " +
    "git_branch git_commit_sha private_key_uuid docker_registry_image_name docker_registry_image_tag build_pack " +
    "install_command build_command start_command ports_exposes ports_mappings custom_network_aliases base_directory " +
    "publish_directory health_check_enabled health_check_type health_check_command health_check_path health_check_port " +
    "health_check_host health_check_method health_check_return_code health_check_scheme health_check_response_text " +
    "health_check_interval health_check_timeout health_check_retries health_check_start_period limits_memory " +
    "limits_memory_swap limits_memory_swappiness limits_memory_reservation limits_cpus limits_cpuset limits_cpu_shares " +
    "custom_labels custom_docker_run_options post_deployment_command post_deployment_command_container " +
    "pre_deployment_command pre_deployment_command_container manual_webhook_secret_github manual_webhook_secret_gitlab " +
    "manual_webhook_secret_bitbucket manual_webhook_secret_gitea redirect github_app_uuid instant_deploy dockerfile " +
    "dockerfile_location docker_compose_location docker_compose_raw docker_compose_custom_start_command " +
    "docker_compose_custom_build_command docker_compose_domains watch_paths use_build_server use_build_secrets " +
    "static_image custom_nginx_configuration is_http_basic_auth_enabled http_basic_auth_username " +
    "http_basic_auth_password connect_to_docker_network force_domain_override autogenerate_domain " +
    "is_container_label_escape_enabled tags is_preserve_repository_enabled preview_url_template max_restart_count " +
    "is_git_submodules_enabled is_git_lfs_enabled is_git_shallow_clone_enabled disable_build_cache " +
    "inject_build_args_to_dockerfile include_source_commit_in_build is_env_sorting_enabled " +
    "is_pr_deployments_public_enabled stop_grace_period docker_images_to_keep is_gzip_enabled is_stripprefix_enabled " +
    "is_raw_compose_deployment_enabled is_log_drain_enabled is_gpu_enabled gpu_driver gpu_count gpu_device_ids " +
    "gpu_options is_consistent_container_name_enabled custom_internal_name").split(" "),
);
// update_by_uuid's $allowedFields: the create list without the placement and source fields.
const UPDATE_FIELDS = new Set(
  [...CREATE_FIELDS].filter(
    (f) =>
      !["project_uuid", "environment_name", "environment_uuid", "server_uuid", "destination_uuid", "type", "is_static",
        "private_key_uuid", "github_app_uuid", "dockerfile", "docker_compose_raw", "autogenerate_domain", "tags"].includes(f),
  ),
);
const ENV_FIELDS = ["key", "value", "is_preview", "is_literal", "is_multiline", "is_shown_once", "is_runtime", "is_buildtime", "comment"];
const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_.]*$/;

export class FakeCoolify {
  /** Every request, in order. */
  readonly requests: Recorded[] = [];
  /** Applications by uuid, in creation order. */
  readonly apps = new Map<string, FakeApp>();
  /** Deployments by deployment uuid, in creation order. */
  readonly deployments = new Map<string, FakeDeployment>();
  /** Destinations of the server; with more than one, create needs destination_uuid. */
  destinations: string[] = [DESTINATION_UUID];
  /** On: start answers a deployment_uuid but queues nothing (Coolify's full deployment queue). */
  queueFull = false;
  url = "";
  private nextId = 1;
  private forced: Forced[] = [];
  private server = http.createServer((req, res) => this.receive(req, res));

  static async start(): Promise<FakeCoolify> {
    const fake = new FakeCoolify();
    await new Promise<void>((resolve) => fake.server.listen(0, "127.0.0.1", resolve));
    fake.url = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
    return fake;
  }

  /** The value for COOLIFY_API_URL. */
  get apiUrl(): string {
    return `${this.url}${API}`;
  }

  async close() {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  // ---- controls for a test ----

  /** Requests with this method to this API path (without /api/v1), e.g. `requestsTo("POST", "/applications/dockerimage")`. */
  requestsTo(method: string, path: string): Recorded[] {
    return this.requests.filter((r) => r.method === method && r.pathname === API + path);
  }

  /** Every application, as GET /applications answers. */
  listApplications(): Obj[] {
    return [...this.apps.values()].map((a) => this.application(a, false));
  }

  appByName(name: string): FakeApp | undefined {
    return [...this.apps.values()].find((a) => a.name === name);
  }

  /** The application's current env values by key (what its container would get at the next start). */
  envOf(appUuid: string): Record<string, string | null> {
    const app = this.mustApp(appUuid);
    return Object.fromEntries([...app.envs.values()].map((e) => [e.key, e.value]));
  }

  /** Sets an application's status as Coolify's status checker would (`running:healthy`, `exited`, ...). */
  setStatus(appUuid: string, status: string) {
    const app = this.mustApp(appUuid);
    app.status = status;
    app.updatedAt = now();
    if (status.startsWith("running")) app.lastOnlineAt = now();
  }

  /** Deployments of an application, newest first. */
  deploymentsOf(appUuid: string): FakeDeployment[] {
    return [...this.deployments.values()].filter((d) => d.appUuid === appUuid).reverse();
  }

  /**
   * Ends a deployment (by its uuid, or the newest of an application given its uuid) as `finished`
   * (the application then runs, with `appStatus`) or `failed` / `cancelled-by-user` (it stays
   * `exited`).
   */
  finishDeployment(uuid: string, status: "finished" | "failed" | "cancelled-by-user" = "finished", appStatus = "running:healthy") {
    const d = this.deployments.get(uuid) ?? this.deploymentsOf(uuid)[0];
    if (!d) throw new Error(`the fake has no deployment ${uuid}`);
    d.status = status;
    d.updated_at = d.finished_at = now();
    this.setStatus(d.appUuid, status === "finished" ? appStatus : "exited");
  }

  /**
   * Answers the next request with `method` on an API path matching `path` (without /api/v1) with
   * `status` and `body`, e.g. `failNext("POST", /\/start$/, 429, {message: "..."}, {"retry-after": "2"})`.
   */
  failNext(method: string, path: RegExp, status: number, body: Obj, headers: Record<string, string> = {}) {
    this.forced.push({ method, path, status, body, headers });
  }

  /** Creates an application as if someone made it in Coolify's UI (an orphan for the sync worker). */
  addApplication(name: string, image = "ghcr.io/example/other", tag = "latest", status = "exited"): FakeApp {
    const [, created] = this.createApp(
      { name, docker_registry_image_name: image, docker_registry_image_tag: tag, ports_exposes: "3000" },
      false,
    );
    const app = this.apps.get(created.uuid)!;
    app.status = status;
    return app;
  }

  // ---- the server ----

  private mustApp(uuid: string): FakeApp {
    const app = this.apps.get(uuid);
    if (!app) throw new Error(`the fake has no application ${uuid}`);
    return app;
  }

  private receive(req: http.IncomingMessage, res: http.ServerResponse) {
    readRequest(req, (received, raw) => {
      const rec: Recorded = {
        ...received,
        authorized: req.headers.authorization === `Bearer ${FAKE_TOKEN}`,
        status: 0,
      };
      this.requests.push(rec);
      let code: number;
      let answer: Obj | string;
      let headers: Record<string, string> = {};
      try {
        rec.body = raw ? JSON.parse(raw) : undefined;
        [code, answer, headers] = this.answer(rec, raw);
      } catch {
        [code, answer] = [400, { message: "Invalid request.", error: "Invalid JSON." }];
      }
      rec.status = code;
      const type = typeof answer === "string" ? "text/html; charset=UTF-8" : "application/json";
      res.writeHead(code, { "content-type": type, ...headers });
      res.end(typeof answer === "string" ? answer : JSON.stringify(answer));
    });
  }

  private answer(r: Recorded, raw: string): [number, Obj | string, Record<string, string>] {
    if (!r.pathname.startsWith(API + "/")) return [404, { message: "Not found." }, {}];
    const path = r.pathname.slice(API.length);
    if (path === "/health" && r.method === "GET") return [200, "OK", {}];
    // auth:sanctum before anything else.
    if (!r.authorized) return [401, { message: "Unauthenticated." }, {}];
    const i = this.forced.findIndex((f) => f.method === r.method && f.path.test(path));
    if (i >= 0) {
      const [f] = this.forced.splice(i, 1);
      return [f.status, f.body, f.headers];
    }
    // validateIncomingRequest: bodies of create/update calls must be non-empty JSON.
    const takesJson =
      (r.method === "POST" && path === "/applications/dockerimage") ||
      (r.method === "PATCH" && /^\/applications\/[^/]+(\/envs\/bulk)?$/.test(path));
    if (takesJson) {
      if (!r.contentType.startsWith("application/json")) {
        return [400, { message: "Invalid request.", error: "Content-Type must be application/json." }, {}];
      }
      if (!raw || typeof r.body !== "object" || r.body === null || Object.keys(r.body).length === 0) {
        return [400, { message: "Invalid request.", error: "Empty JSON." }, {}];
      }
    }
    const [code, body] = this.route(r.method, path, r.query, r.body);
    return [code, body, code === 405 ? { allow: "POST" } : {}];
  }

  private route(method: string, path: string, q: Record<string, string>, body: any): [number, Obj | string] {
    if (path === "/version" && method === "GET") return [200, VERSION];

    const env = /^\/projects\/([^/]+)\/([^/]+)$/.exec(path);
    if (env && method === "GET" && env[2] !== "environments" && env[2] !== "envs") {
      if (env[1] !== PROJECT_UUID) return notFound("Project");
      if (env[2] !== ENVIRONMENT_NAME && env[2] !== ENVIRONMENT_UUID) return notFound("Environment");
      return [200, this.environment()];
    }

    if (path === "/applications" && method === "GET") return [200, this.listApplications()];
    if (path === "/applications/dockerimage" && method === "POST") return this.createApp(body);

    const deploymentsOfApp = /^\/deployments\/applications\/([^/]+)$/.exec(path);
    if (deploymentsOfApp && method === "GET") {
      if (!this.apps.has(deploymentsOfApp[1])) return [404, { message: "Application not found" }];
      const skip = Number(q.skip ?? 0);
      const take = Number(q.take ?? 10);
      if (!Number.isInteger(skip) || skip < 0 || !Number.isInteger(take) || take < 1) {
        return validation({ take: ["The take field must be at least 1."] });
      }
      const all = this.deploymentsOf(deploymentsOfApp[1]);
      return [200, { count: all.length, deployments: all.slice(skip, skip + take).map((d) => this.deployment(d)) }];
    }
    const deployment = /^\/deployments\/([^/]+)$/.exec(path);
    if (deployment && method === "GET") {
      const d = this.deployments.get(deployment[1]);
      return d ? [200, this.deployment(d)] : notFound("Deployment");
    }

    const action = /^\/applications\/([^/]+)\/(start|stop|restart)$/.exec(path);
    if (action) {
      if (method === "GET") return [405, { message: "This endpoint has changed to a POST request." }];
      if (method !== "POST") return [405, { message: `The ${method} method is not supported for route api/v1${path}. Supported methods: GET, HEAD, POST.` }];
      const app = this.apps.get(action[1]);
      if (!app) return notFound("Application");
      if (action[2] === "stop") {
        this.setStatus(app.uuid, "exited");
        return [200, { message: "Application stopping request queued." }];
      }
      return this.startApp(app);
    }

    const bulk = /^\/applications\/([^/]+)\/envs\/bulk$/.exec(path);
    if (bulk && method === "PATCH") return this.bulkEnvs(bulk[1], body);

    const one = /^\/applications\/([^/]+)$/.exec(path);
    if (one) {
      const app = this.apps.get(one[1]);
      if (!app) return method === "GET" || method === "PATCH" || method === "DELETE" ? [404, { message: "Application not found." }] : [405, { message: "Method not allowed." }];
      if (method === "GET") return [200, this.application(app, true)];
      if (method === "PATCH") return this.updateApp(app, body);
      if (method === "DELETE") {
        this.apps.delete(app.uuid);
        for (const [id, d] of this.deployments) if (d.appUuid === app.uuid) this.deployments.delete(id);
        return [200, { message: "Application deletion request queued." }];
      }
    }
    return [404, { message: "Not found." }];
  }

  /** POST /applications/dockerimage; `placed` false skips the project/server checks (addApplication). */
  private createApp(body: Obj, placed = true): [number, Obj] {
    const extra = Object.keys(body).filter((k) => !CREATE_FIELDS.has(k));
    const errors: Record<string, string[]> = {};
    for (const k of extra) errors[k] = ["This field is not allowed."];
    for (const k of placed ? ["project_uuid", "server_uuid", "docker_registry_image_name"] : []) {
      if (body[k] === undefined || body[k] === null || body[k] === "") errors[k] = [`The ${k.replace(/_/g, " ")} field is required.`];
    }
    for (const k of ["name", "description", "docker_registry_image_tag", "ports_exposes", "limits_cpus", "limits_memory", "destination_uuid"]) {
      if (body[k] !== undefined && body[k] !== null && typeof body[k] !== "string") errors[k] = [`The ${k.replace(/_/g, " ")} field must be a string.`];
    }
    if (typeof body.ports_exposes === "string" && !/^(\d+)(,\d+)*$/.test(body.ports_exposes)) {
      errors.ports_exposes = ["The ports exposes field format is invalid."];
    }
    if (Object.keys(errors).length) return validation(errors);
    if (placed) {
      if (!body.environment_name && !body.environment_uuid) {
        return [422, { message: "You need to provide at least one of environment_name or environment_uuid." }];
      }
      if (body.project_uuid !== PROJECT_UUID) return notFound("Project");
      if (body.environment_name !== ENVIRONMENT_NAME && body.environment_uuid !== ENVIRONMENT_UUID) return notFound("Environment");
      if (body.server_uuid !== SERVER_UUID) return notFound("Server");
      if (this.destinations.length > 1 && body.destination_uuid === undefined) {
        return [400, { message: "Server has multiple destinations and you do not set destination_uuid." }];
      }
      if (this.destinations.length > 1 && !this.destinations.includes(body.destination_uuid)) {
        return validation({ destination_uuid: ["Provided destination_uuid does not belong to the specified server."] });
      }
    }
    const uuid = publicId();
    const at = now();
    const app: FakeApp = {
      id: this.nextId++,
      uuid,
      name: body.name ?? `docker-image-${publicId()}`,
      description: body.description ?? null,
      image: body.docker_registry_image_name,
      tag: body.docker_registry_image_tag ?? "latest",
      portsExposes: body.ports_exposes ?? "80",
      limitsCpus: body.limits_cpus ?? "0",
      limitsMemory: body.limits_memory ?? "0",
      status: "exited",
      envs: new Map(),
      createdAt: at,
      updatedAt: at,
      lastOnlineAt: at,
    };
    this.apps.set(uuid, app);
    let domains: string | null = `http://${uuid}.127.0.0.1.sslip.io`;
    if (body.autogenerate_domain === false) domains = null;
    if (body.instant_deploy === true) this.startApp(app);
    return [201, { uuid, domains }];
  }

  private updateApp(app: FakeApp, body: Obj): [number, Obj] {
    const extra = Object.keys(body).filter((k) => !UPDATE_FIELDS.has(k));
    if (extra.length) return validation(Object.fromEntries(extra.map((k) => [k, ["This field is not allowed."]])));
    if (body.name !== undefined) app.name = body.name;
    if (body.description !== undefined) app.description = body.description;
    if (body.limits_cpus !== undefined) app.limitsCpus = body.limits_cpus;
    if (body.limits_memory !== undefined) app.limitsMemory = body.limits_memory;
    if (body.docker_registry_image_name !== undefined) app.image = body.docker_registry_image_name;
    if (body.docker_registry_image_tag !== undefined) app.tag = body.docker_registry_image_tag;
    if (body.ports_exposes !== undefined) app.portsExposes = body.ports_exposes;
    app.updatedAt = now();
    return [200, { uuid: app.uuid }];
  }

  private bulkEnvs(uuid: string, body: Obj): [number, Obj] {
    const app = this.apps.get(uuid);
    if (!app) return [404, { message: "Application not found" }];
    if (!Array.isArray(body.data) || body.data.length === 0) return [400, { message: "Bulk data is required." }];
    const out: Obj[] = [];
    for (const raw of body.data) {
      const item = Object.fromEntries(Object.entries(raw ?? {}).filter(([k]) => ENV_FIELDS.includes(k))) as Obj;
      const key = typeof item.key === "string" ? item.key.trim() : item.key;
      const errors: Record<string, string[]> = {};
      if (typeof key !== "string" || !key) errors.key = ["The key field is required."];
      else if (!ENV_KEY.test(key)) {
        errors.key = ["The key must start with a letter or underscore and may only contain letters, numbers, underscores, and dots."];
      }
      if (item.value !== undefined && item.value !== null && typeof item.value !== "string") errors.value = ["The value field must be a string."];
      for (const f of ["is_preview", "is_literal", "is_multiline", "is_shown_once", "is_runtime", "is_buildtime"]) {
        if (item[f] !== undefined && typeof item[f] !== "boolean") errors[f] = [`The ${f} field must be true or false.`];
      }
      if (Object.keys(errors).length) return validation(errors);
      // Preview variables live apart from production ones; the fake keeps production ones only.
      if (item.is_preview === true) continue;
      const at = now();
      let env = app.envs.get(key);
      if (env) {
        env.value = item.value ?? null;
        for (const f of ["is_literal", "is_multiline", "is_shown_once", "is_runtime", "is_buildtime"] as const) {
          if (item[f] !== undefined) env[f] = item[f];
        }
        if (item.comment !== undefined) env.comment = item.comment;
        env.updated_at = at;
      } else {
        env = {
          id: this.nextId++, uuid: publicId(), key, value: item.value ?? null, is_literal: item.is_literal ?? false,
          is_multiline: item.is_multiline ?? false, is_preview: false, is_runtime: item.is_runtime ?? true,
          is_buildtime: item.is_buildtime ?? true, is_shown_once: item.is_shown_once ?? false,
          comment: item.comment ?? null, created_at: at, updated_at: at,
        };
        app.envs.set(key, env);
      }
      out.push(this.envVar(env));
    }
    return [201, out];
  }

  private startApp(app: FakeApp): [number, Obj] {
    const running = this.deploymentsOf(app.uuid).find((d) => d.status === "queued" || d.status === "in_progress");
    if (running) return [200, { message: "Deployment already queued for this commit." }];
    const deploymentUuid = publicId();
    if (this.queueFull) return [200, { message: "Deployment request queued.", deployment_uuid: deploymentUuid }];
    const at = now();
    this.deployments.set(deploymentUuid, {
      id: this.nextId++, deployment_uuid: deploymentUuid, appUuid: app.uuid,
      // next_queuable: nothing else deploys on the server, so it starts at once.
      status: "in_progress", created_at: at, updated_at: at, finished_at: null,
    });
    app.status = "starting:unknown";
    app.updatedAt = at;
    return [200, { message: "Deployment request queued.", deployment_uuid: deploymentUuid }];
  }

  // ---- answers shaped as the document's schemas ----

  /** Environment (plus the uuid the real model has and the document omits, and its resources). */
  private environment(): Obj {
    return {
      id: 1, uuid: ENVIRONMENT_UUID, name: ENVIRONMENT_NAME, description: "Meeboter bot pool", project_id: 1,
      applications: [...this.apps.values()].map((a) => this.application(a, false)),
      postgresqls: [], redis: [], mongodbs: [], mysqls: [], mariadbs: [], services: [],
      created_at: "2026-11-01T09:00:00.000000Z", updated_at: "2026-11-01T09:00:00.000000Z",
    };
  }

  /** Application, without what removeSensitiveData hides from a token lacking read:sensitive. */
  private application(a: FakeApp, withSettings: boolean): Obj {
    const o: Obj = {
      uuid: a.uuid, name: a.name, description: a.description,
      fqdn: `http://${a.uuid}.127.0.0.1.sslip.io`, noindex_domains: null, config_hash: a.uuid.slice(0, 32),
      git_repository: "coollabsio/coolify", git_branch: "main", git_commit_sha: "HEAD", git_full_url: null,
      docker_registry_image_name: a.image, docker_registry_image_tag: a.tag, build_pack: "dockerimage",
      static_image: "nginx:alpine", ports_exposes: a.portsExposes, ports_mappings: null, custom_network_aliases: null,
      base_directory: "/", health_check_enabled: false, health_check_path: "/", health_check_port: null,
      health_check_host: "localhost", health_check_method: "GET", health_check_return_code: 200,
      health_check_scheme: "http", health_check_response_text: null, health_check_interval: 5,
      health_check_timeout: 5, health_check_retries: 10, health_check_start_period: 5, health_check_type: "http",
      health_check_command: null, limits_memory: a.limitsMemory, limits_memory_swap: "0",
      limits_memory_swappiness: 60, limits_memory_reservation: "0", limits_cpus: a.limitsCpus, limits_cpuset: null,
      limits_cpu_shares: 1024, status: a.status, preview_url_template: "{{pr_id}}.{{domain}}", max_restart_count: 10,
      destination_type: "App\\Models\\StandaloneDocker", destination_id: 1, source_id: null, environment_id: 1,
      dockerfile_location: "/Dockerfile", dockerfile_target_build: null, docker_compose_location: "/docker-compose.yaml",
      docker_compose_domains: null, docker_compose_custom_start_command: null,
      docker_compose_custom_build_command: null, swarm_replicas: 1, swarm_placement_constraints: null,
      custom_docker_run_options: null, post_deployment_command: null, post_deployment_command_container: null,
      pre_deployment_command: null, pre_deployment_command_container: null, watch_paths: null,
      custom_healthcheck_found: false, redirect: "both", compose_parsing_version: "5",
      custom_nginx_configuration: null, is_http_basic_auth_enabled: false, http_basic_auth_username: null,
      restart_count: 0, last_restart_at: null, last_restart_type: null, last_online_at: a.lastOnlineAt,
      created_at: a.createdAt, updated_at: a.updatedAt, deleted_at: null,
    };
    if (withSettings) {
      o.settings = {
        is_static: false, is_git_submodules_enabled: true, is_git_lfs_enabled: true, is_auto_deploy_enabled: true,
        is_force_https_enabled: true, is_debug_enabled: false, is_preview_deployments_enabled: false,
        is_log_drain_enabled: false, is_gpu_enabled: false, is_include_timestamps: false,
        is_swarm_only_worker_nodes: true, is_raw_compose_deployment_enabled: false, is_build_server_enabled: false,
        is_consistent_container_name_enabled: false, is_gzip_enabled: true, is_stripprefix_enabled: true,
        connect_to_docker_network: false, is_container_label_escape_enabled: true, is_env_sorting_enabled: false,
        is_container_label_readonly_enabled: true, is_preserve_repository_enabled: false, disable_build_cache: false,
        is_spa: false, is_git_shallow_clone_enabled: true, is_pr_deployments_public_enabled: false,
        use_build_secrets: false, inject_build_args_to_dockerfile: true, include_source_commit_in_build: false,
        docker_images_to_keep: 2, stop_grace_period: 30,
      };
    }
    return o;
  }

  /** ApplicationDeploymentQueue, without `logs` (read:sensitive only); the columns a start from the
   *  API leaves null where the document says a plain string (current_process_id, git_type,
   *  commit_message) are left out rather than sent as null. */
  private deployment(d: FakeDeployment): Obj {
    const app = this.apps.get(d.appUuid);
    return {
      id: d.id, application_id: String(app?.id ?? 0), deployment_uuid: d.deployment_uuid, pull_request_id: 0,
      docker_registry_image_tag: null, configuration_hash: null, force_rebuild: false, commit: "HEAD",
      status: d.status, is_webhook: false, is_api: true, restart_only: false, server_id: 0, application_name: app?.name ?? "", server_name: "localhost",
      deployment_url: `/project/${PROJECT_UUID}/environment/${ENVIRONMENT_UUID}/application/${d.appUuid}/deployment/${d.deployment_uuid}`,
      destination_id: "0", only_this_server: false, rollback: false, build_server_id: null,
      horizon_job_id: null, horizon_job_worker: null, finished_at: d.finished_at,
      created_at: d.created_at, updated_at: d.updated_at,
    };
  }

  /** EnvironmentVariable as create_bulk_envs answers a token without read:sensitive: no value. */
  private envVar(e: FakeEnv): Obj {
    return {
      uuid: e.uuid, key: e.key, is_literal: e.is_literal, is_multiline: e.is_multiline, is_preview: e.is_preview,
      is_runtime: e.is_runtime, is_buildtime: e.is_buildtime, is_shared: false, is_shown_once: e.is_shown_once,
      comment: e.comment, version: VERSION, is_really_required: false, is_buildpack_control: false, is_coolify: false,
      created_at: e.created_at, updated_at: e.updated_at,
    };
  }
}
