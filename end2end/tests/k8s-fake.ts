// A fake Kubernetes API server for the Platform tab journey (k8s.spec.ts). No real apiserver can
// run here, so this one answers the driver's calls with the driver's schema-validated fixtures
// (app/src/backend/platforms/kubernetes/fixtures), renamed from bot-42 to the Job it was asked to
// create. It keeps what a real server would: Secrets and Jobs stored as posted plus uid,
// timestamps and resourceVersion, canonical quantities (a 1000m limit reads back as "1"), the
// labels and selector the Job controller adds, 409 on a second create, Status bodies for errors,
// 401 without the kubeconfig's token, and garbage collection of a deleted Job's Secret.
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import { randomUUID } from "node:crypto";
import { AddressInfo } from "node:net";
import { readRequest, Received } from "./fake-request";

type Obj = Record<string, any>;

const FIXTURES = path.resolve(__dirname, "../../app/src/backend/platforms/kubernetes/fixtures");
const NS = "meeboter";
const FIXTURE_JOB_UID = "6d1c1c5e-8a9b-4c1d-9e0f-0a1b2c3d4e5f";
export const FAKE_TOKEN = "meeboter-e2e-fake-token";
export const SECRETS = `/api/v1/namespaces/${NS}/secrets`;
export const JOBS = `/apis/batch/v1/namespaces/${NS}/jobs`;
export const PODS = `/api/v1/namespaces/${NS}/pods`;
export const EVENTS = `/api/v1/namespaces/${NS}/events`;
export const POD_METRICS = `/apis/metrics.k8s.io/v1beta1/namespaces/${NS}/pods`;

/** One request as the fake received it. */
/** One request the fake received. */
export type Recorded = Received;

const clone = <T>(o: T): T => JSON.parse(JSON.stringify(o));
const now = () => new Date().toISOString().replace(/\.\d+Z$/, "Z");
const fixtureText = (name: string) => fs.readFileSync(path.join(FIXTURES, name), "utf8");
const fixture = (name: string): Obj => JSON.parse(fixtureText(name));

/** A fixture with bot 42's names, uid and id changed to those of `job`. */
function templated(name: string, job: Obj): Obj {
  const jobName: string = job.metadata.name;
  const id = jobName.replace(/^bot-/, "");
  const text = fixtureText(name)
    .split(FIXTURE_JOB_UID).join(job.metadata.uid)
    .split('"botId": "42"').join(`"botId": "${id}"`)
    .split("bot-42").join(jobName);
  return JSON.parse(text);
}

/** A Status error shaped like the fixtures (status-notfound.json and friends). */
function status(code: number, reason: string, message: string, details?: Obj): Obj {
  const s: Obj = { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason };
  if (details) s.details = details;
  s.code = code;
  return s;
}

const notFound = (kind: string, group: string, name: string) =>
  status(404, "NotFound", `${kind}${group ? "." + group : ""} "${name}" not found`, {
    name, ...(group ? { group } : {}), kind,
  });

/** Quantities as the apiserver writes them back: 1000m is "1", 2048Mi is "2Gi", 0.5 is "500m". */
export function canonicalQuantity(q: string): string {
  const milli = /^(\d+)m$/.exec(q) ?? (/^(\d*)\.(\d{1,3})$/.test(q) ? [q, String(Math.round(Number(q) * 1000))] : null);
  if (milli) {
    const n = Number(milli[1]);
    return n % 1000 === 0 ? String(n / 1000) : `${n}m`;
  }
  const binary = /^(\d+)(Ki|Mi|Gi|Ti)$/.exec(q);
  if (binary) {
    const units = ["Ki", "Mi", "Gi", "Ti"];
    let n = Number(binary[1]);
    let i = units.indexOf(binary[2]);
    while (n > 0 && n % 1024 === 0 && i < units.length - 1) {
      n /= 1024;
      i++;
    }
    return `${n}${units[i]}`;
  }
  return q;
}

function canonicalResources(podSpec: Obj | undefined) {
  for (const c of [...(podSpec?.containers ?? []), ...(podSpec?.initContainers ?? [])]) {
    for (const part of ["limits", "requests"]) {
      const r = c.resources?.[part];
      for (const k of Object.keys(r ?? {})) r[k] = canonicalQuantity(String(r[k]));
    }
  }
  for (const v of podSpec?.volumes ?? []) {
    if (v.emptyDir?.sizeLimit) v.emptyDir.sizeLimit = canonicalQuantity(String(v.emptyDir.sizeLimit));
  }
}

/** Equality-based selectors (`a=b`, `a==b`, `a!=b`, `a`, `!a`) against a flat map or dotted paths. */
function matches(selector: string | undefined, get: (key: string) => string | undefined): boolean {
  if (!selector) return true;
  return selector.split(",").map((t) => t.trim()).filter(Boolean).every((term) => {
    const ne = term.split("!=");
    if (ne.length === 2) return get(ne[0].trim()) !== ne[1].trim();
    const eq = term.split(/==?/);
    if (eq.length === 2) return get(eq[0].trim()) === eq[1].trim();
    if (term.startsWith("!")) return get(term.slice(1)) === undefined;
    return get(term) !== undefined;
  });
}
const byLabel = (o: Obj) => (k: string) => o.metadata?.labels?.[k];
const byField = (o: Obj) => (k: string) => {
  const v = k.split(".").reduce((acc: any, part) => acc?.[part], o);
  return v === undefined || v === null ? undefined : String(v);
};

/** Deep merge as a JSON merge patch (RFC 7386): null deletes, lists are replaced. */
function mergePatch(target: Obj, patch: Obj): Obj {
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete target[k];
    else if (typeof v === "object" && !Array.isArray(v) && typeof target[k] === "object" && target[k] !== null) {
      mergePatch(target[k], v);
    } else target[k] = clone(v);
  }
  return target;
}

/** JSON patch (RFC 6902) add, replace and remove. */
function jsonPatch(target: Obj, ops: Obj[]): Obj {
  for (const op of ops) {
    const parts = String(op.path).split("/").slice(1).map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
    const last = parts.pop()!;
    const parent = parts.reduce((acc: any, p) => (acc[p] ??= {}), target);
    if (op.op === "remove") {
      if (Array.isArray(parent)) parent.splice(Number(last), 1);
      else delete parent[last];
    } else if (op.op === "add" && Array.isArray(parent)) {
      parent.splice(last === "-" ? parent.length : Number(last), 0, clone(op.value));
    } else if (op.op === "add" || op.op === "replace") parent[last] = clone(op.value);
    else throw new Error(`unsupported JSON patch op ${op.op}`);
  }
  return target;
}

export class FakeKubeApi {
  /** Every request, in order. */
  readonly requests: Recorded[] = [];
  readonly jobs = new Map<string, Obj>();
  readonly secrets = new Map<string, Obj>();
  /** Off: every metrics.k8s.io path answers 404, as on a cluster without metrics-server. */
  metricsAvailable = true;
  url = "";
  private rv = 200000;
  private server = http.createServer((req, res) => this.receive(req, res));

  static async start(): Promise<FakeKubeApi> {
    const fake = new FakeKubeApi();
    await new Promise<void>((resolve) => fake.server.listen(0, "127.0.0.1", resolve));
    fake.url = `http://127.0.0.1:${(fake.server.address() as AddressInfo).port}`;
    return fake;
  }

  async close() {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  requestsTo(method: string, pathname: string): Recorded[] {
    return this.requests.filter((r) => r.method === method && r.pathname === pathname);
  }

  private receive(req: http.IncomingMessage, res: http.ServerResponse) {
    readRequest(req, (rec, raw) => {
      this.requests.push(rec);
      let code: number;
      let answer: Obj | string;
      try {
        rec.body = raw ? JSON.parse(raw) : undefined;
        [code, answer] = req.headers.authorization === `Bearer ${FAKE_TOKEN}`
          ? this.route(rec)
          : [401, fixture("status-unauthorized.json")];
      } catch (e) {
        [code, answer] = [400, status(400, "BadRequest", `the fake could not read the request: ${e}`)];
      }
      res.writeHead(code, { "content-type": typeof answer === "string" ? "text/plain" : "application/json" });
      res.end(typeof answer === "string" ? answer : JSON.stringify(answer));
    });
  }

  private nextRv() {
    return String(++this.rv);
  }

  private route(r: Recorded): [number, Obj | string] {
    const { method, pathname: p, query: q } = r;
    const tail = (prefix: string) => (p.startsWith(prefix + "/") ? p.slice(prefix.length + 1) : undefined);

    if (p === SECRETS && method === "POST") return this.createSecret(r.body);
    const secret = tail(SECRETS);
    if (secret !== undefined && !secret.includes("/")) {
      const stored = this.secrets.get(secret);
      if (!stored) return [404, notFound("secrets", "", secret)];
      if (method === "GET") return [200, stored];
      if (method === "PATCH") return this.patchSecret(stored, r);
      if (method === "DELETE") {
        this.secrets.delete(secret);
        const details = { name: secret, kind: "secrets", uid: stored.metadata.uid };
        return [200, { ...fixture("status-deleted.json"), details }];
      }
    }

    if (p === JOBS && method === "POST") return this.createJob(r.body);
    if (p === JOBS && method === "GET") return [200, this.listJobs(q)];
    const job = tail(JOBS)?.replace(/\/status$/, "");
    if (job !== undefined && !job.includes("/")) {
      const stored = this.jobs.get(job);
      if (!stored) return [404, templated("status-notfound.json", { metadata: { name: job, uid: "" } })];
      if (method === "GET") return [200, this.withRunningStatus(stored)];
      if (method === "DELETE") {
        this.jobs.delete(job);
        // The garbage collector: the Job's pods and owned Secret go with it.
        for (const [name, s] of this.secrets) {
          if ((s.metadata.ownerReferences ?? []).some((o: Obj) => o.uid === stored.metadata.uid)) this.secrets.delete(name);
        }
        return [200, templated("status-deleted.json", stored)];
      }
    }

    if (p === PODS && method === "GET") {
      const items = this.pods().filter(
        (pod) => matches(q.labelSelector, byLabel(pod)) && matches(q.fieldSelector, byField(pod)),
      );
      return [200, { ...fixture("pods.json"), items }];
    }
    if (p === EVENTS && method === "GET") {
      let items = [...this.jobs.values()]
        .flatMap((j) => [...templated("events-job.json", j).items, ...templated("events-pod.json", j).items])
        .filter((e) => matches(q.fieldSelector, byField(e)));
      if (q.limit) items = items.slice(0, Number(q.limit));
      return [200, { ...fixture("events-pod.json"), items }];
    }
    if (p.startsWith("/apis/metrics.k8s.io/")) return this.metrics(r);

    // Cheap reads a health check may make.
    if (p === "/version" && method === "GET") {
      return [200, {
        major: "1", minor: "33", gitVersion: "v1.33.5+k3s1", gitCommit: "0000000000000000000000000000000000000000",
        gitTreeState: "clean", buildDate: "2026-09-10T10:00:00Z", goVersion: "go1.24.6", compiler: "gc",
        platform: "linux/amd64",
      }];
    }
    if (p === `/api/v1/namespaces/${NS}` && method === "GET") {
      return [200, { kind: "Namespace", apiVersion: "v1", metadata: { name: NS, uid: "2f9c1d7e-0a4b-4c6d-8e2f-1a3b5c7d9e0f",
        resourceVersion: "1204", creationTimestamp: "2026-11-01T09:00:00Z", labels: { "kubernetes.io/metadata.name": NS } },
        spec: { finalizers: ["kubernetes"] }, status: { phase: "Active" } }];
    }
    if (p === "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews" && method === "POST") {
      const reason = 'RBAC: allowed by RoleBinding "meeboter-bots/meeboter" of Role "meeboter-bots"';
      return [201, { ...r.body, status: { allowed: true, reason } }];
    }
    return [404, fixture("status-metrics-notfound.json")];
  }

  private createSecret(body: Obj): [number, Obj] {
    const name = body?.metadata?.name;
    if (this.secrets.has(name)) {
      return [409, status(409, "AlreadyExists", `secrets "${name}" already exists`, { name, kind: "secrets" })];
    }
    const s = clone(body);
    s.kind = "Secret";
    s.apiVersion = "v1";
    s.metadata = {
      ...s.metadata, namespace: NS, uid: randomUUID(), resourceVersion: this.nextRv(), creationTimestamp: now(),
    };
    s.type ??= "Opaque";
    // The apiserver folds stringData into data (base64) and never returns stringData.
    for (const [k, v] of Object.entries<string>(s.stringData ?? {})) (s.data ??= {})[k] = Buffer.from(v).toString("base64");
    delete s.stringData;
    this.secrets.set(name, s);
    return [201, s];
  }

  private patchSecret(stored: Obj, r: Recorded): [number, Obj] {
    const type = r.contentType.split(";")[0].trim();
    const merges = ["application/merge-patch+json", "application/strategic-merge-patch+json", "application/apply-patch+yaml"];
    if (type === "application/json-patch+json") jsonPatch(stored, r.body);
    else if (merges.includes(type)) mergePatch(stored, r.body);
    else {
      const accepted = ["application/json-patch+json", ...merges].join(", ");
      const message = `the body of the request was in an unknown format - accepted media types include: ${accepted}`;
      return [415, status(415, "UnsupportedMediaType", message)];
    }
    stored.metadata.resourceVersion = this.nextRv();
    return [200, stored];
  }

  private createJob(body: Obj): [number, Obj] {
    const name = body?.metadata?.name;
    if (!name) {
      const message = 'Job.batch "" is invalid: metadata.name: Required value: name or generateName is required';
      return [422, status(422, "Invalid", message, { kind: "Job", group: "batch" })];
    }
    if (this.jobs.has(name)) return [409, templated("status-conflict.json", { metadata: { name, uid: "" } })];
    const j = clone(body);
    const uid = randomUUID();
    j.kind = "Job";
    j.apiVersion = "batch/v1";
    j.metadata = {
      ...j.metadata, namespace: NS, uid, resourceVersion: this.nextRv(), generation: 1, creationTimestamp: now(),
    };
    const controller = { "batch.kubernetes.io/controller-uid": uid };
    j.spec = {
      parallelism: 1, completions: 1, completionMode: "NonIndexed", suspend: false, manualSelector: false,
      podReplacementPolicy: "TerminatingOrFailed", ...j.spec, selector: { matchLabels: controller },
    };
    j.spec.template.metadata = { ...j.spec.template.metadata, labels: {
      ...j.spec.template.metadata?.labels, ...controller,
      "batch.kubernetes.io/job-name": name, "controller-uid": uid, "job-name": name,
    } };
    canonicalResources(j.spec.template.spec);
    j.status = {};
    this.jobs.set(name, j);
    return [201, j];
  }

  private withRunningStatus(job: Obj): Obj {
    const status = fixture("job-running.json").status;
    status.startTime = job.metadata.creationTimestamp;
    return { ...job, status };
  }

  private listJobs(q: Record<string, string>): Obj {
    const all = [...this.jobs.values()]
      .filter((j) => matches(q.labelSelector, byLabel(j)))
      .map((j) => {
        const { kind, apiVersion, ...item } = this.withRunningStatus(j);
        return item;
      });
    const start = q.continue ? Number(Buffer.from(q.continue, "base64url").toString()) : 0;
    const limit = q.limit ? Number(q.limit) : all.length;
    const items = all.slice(start, start + limit);
    const metadata: Obj = { resourceVersion: String(this.rv) };
    if (start + limit < all.length) {
      metadata.continue = Buffer.from(String(start + limit)).toString("base64url");
      metadata.remainingItemCount = all.length - start - limit;
    }
    return { kind: "JobList", apiVersion: "batch/v1", metadata, items };
  }

  /** The one pod of each stored Job: pods.json's pod with the Job's template. */
  private pods(): Obj[] {
    return [...this.jobs.values()].map((job) => {
      const pod = templated("pods.json", job).items[0];
      const tpl = job.spec.template;
      pod.metadata.labels = clone(tpl.metadata.labels);
      pod.spec.containers = clone(tpl.spec.containers);
      pod.spec.volumes = clone(tpl.spec.volumes ?? []);
      const first = pod.spec.containers[0] ?? {};
      const resources = clone(first.resources ?? {});
      Object.assign(pod.status.containerStatuses[0], { name: first.name, image: first.image, resources });
      return pod;
    });
  }

  private metrics(r: Recorded): [number, Obj] {
    if (!this.metricsAvailable || r.method !== "GET") return [404, fixture("status-metrics-notfound.json")];
    const all = [...this.jobs.values()].map((j) => templated("podmetrics.json", j));
    if (r.pathname === POD_METRICS) {
      const items = all.filter((m) => matches(r.query.labelSelector, byLabel(m))).map(({ kind, apiVersion, ...m }) => m);
      return [200, { kind: "PodMetricsList", apiVersion: "metrics.k8s.io/v1beta1", metadata: {}, items }];
    }
    const pod = r.pathname.startsWith(POD_METRICS + "/") ? r.pathname.slice(POD_METRICS.length + 1) : "";
    const found = all.find((m) => m.metadata.name === pod);
    return found ? [200, found] : [404, notFound("podmetrics", "metrics.k8s.io", pod)];
  }
}
