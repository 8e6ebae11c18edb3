// The one way the UI talks to Canopy: the CloudStack API at /client/api with a session
// (login sets the session key; every call sends it as a parameter, and the browser sends the
// cookies). The UI can do nothing a user could not do with `cs` and the same account.

export type Params = Record<string, string | number | boolean | undefined | null>;
export type Row = Record<string, any>;

export class ApiError extends Error {
  constructor(public code: number, text: string) {
    super(text);
  }
}

export interface Session {
  sessionkey: string;
  username: string;
  userid: string;
  account: string;
  domainid: string;
  domain: string;
  type: string; // "1" root admin, "2" domain admin, "0" user
  timeout: number;
}

export type Role = "admin" | "domainadmin" | "user";

const KEY = "canopy.session";
let session: Session | null = readSession();
let expiredHandler: ((why: string) => void) | null = null;

function readSession(): Session | null {
  try {
    const s = localStorage.getItem(KEY);
    return s ? (JSON.parse(s) as Session) : null;
  } catch {
    return null;
  }
}

export function currentSession(): Session | null {
  return session;
}

export function role(s: Session | null = session): Role {
  if (s?.type === "1") return "admin";
  if (s?.type === "2") return "domainadmin";
  return "user";
}

export function onSessionExpired(f: (why: string) => void) {
  expiredHandler = f;
}

function dropSession() {
  session = null;
  localStorage.removeItem(KEY);
  setProject(null);
}

function body(command: string, params: Params): URLSearchParams {
  const b = new URLSearchParams();
  b.set("command", command);
  b.set("response", "json");
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === "") continue;
    b.set(k, String(v));
  }
  return b;
}

async function post(command: string, params: Params): Promise<Row> {
  let resp: Response;
  try {
    resp = await fetch("/client/api", {
      method: "POST",
      body: body(command, params),
      credentials: "same-origin",
      headers: { "content-type": "application/x-www-form-urlencoded" },
    });
  } catch (e) {
    throw new ApiError(0, `the management server did not answer (${(e as Error).message})`);
  }
  const text = await resp.text();
  let parsed: Row;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ApiError(resp.status, `unexpected answer from the server (HTTP ${resp.status})`);
  }
  const inner = Object.values(parsed)[0] as Row | undefined;
  if (!inner || typeof inner !== "object") {
    throw new ApiError(resp.status, `empty answer from the server (HTTP ${resp.status})`);
  }
  if (inner.errorcode !== undefined || resp.status >= 400) {
    const code = Number(inner.errorcode ?? resp.status);
    const text = String(inner.errortext ?? `HTTP ${resp.status}`);
    throw new ApiError(code, text);
  }
  return inner;
}

export interface Project {
  id: string;
  name: string;
}

const PROJECT_KEY = "canopy.project";
let project: Project | null = readProject();

function readProject(): Project | null {
  try {
    const s = localStorage.getItem(PROJECT_KEY);
    return s ? (JSON.parse(s) as Project) : null;
  } catch {
    return null;
  }
}

/** The project the console works in (null: the account's own resources). */
export function currentProject(): Project | null {
  return project;
}

/** Switches the console into a project (as CloudStack's UI does: every call then carries
 * `projectid`, so lists show the project's resources and what is created belongs to it). */
export function setProject(p: Project | null) {
  project = p;
  if (p) localStorage.setItem(PROJECT_KEY, JSON.stringify(p));
  else localStorage.removeItem(PROJECT_KEY);
}

/** Commands that never take the current project (the project family reads its own). */
function takesProject(command: string): boolean {
  return !/Project/.test(command) && !["login", "logout", "listApis", "listCapabilities", "queryAsyncJobResult"].includes(command);
}

/** One API call with the session; returns the command's response object. */
export async function api(command: string, params: Params = {}): Promise<Row> {
  if (!session) {
    expiredHandler?.("Please log in.");
    throw new ApiError(401, "not logged in");
  }
  const inProject = project && takesProject(command) && params.projectid === undefined && params.account === undefined ? { projectid: project.id } : {};
  try {
    return await post(command, { ...params, ...inProject, sessionkey: session.sessionkey });
  } catch (e) {
    if (e instanceof ApiError && e.code === 401) {
      dropSession();
      expiredHandler?.("Your session has ended (expired or logged out elsewhere). Please log in again.");
    }
    throw e;
  }
}

/** A list command: its rows (the one array in the response) and the total count. */
export async function list(command: string, params: Params = {}): Promise<{ items: Row[]; count: number }> {
  const r = await api(command, params);
  const arr = Object.entries(r).find(([k, v]) => Array.isArray(v) && k !== "count");
  const items = (arr ? arr[1] : []) as Row[];
  return { items, count: Number(r.count ?? items.length) };
}

/** All rows of a list command, fetched page by page (bounded). */
export async function listAll(command: string, params: Params = {}): Promise<Row[]> {
  const out: Row[] = [];
  for (let page = 1; page <= 50; page++) {
    const { items, count } = await list(command, { ...params, page, pagesize: 500 });
    out.push(...items);
    if (items.length < 500 || out.length >= count) break;
  }
  return out;
}

export async function login(username: string, password: string, domain: string): Promise<Session> {
  const r = await post("login", { username, password, domain: domain || "/" });
  session = {
    sessionkey: String(r.sessionkey),
    username: String(r.username),
    userid: String(r.userid),
    account: String(r.account),
    domainid: String(r.domainid),
    domain: domain || "/",
    type: String(r.type),
    timeout: Number(r.timeout ?? 0),
  };
  localStorage.setItem(KEY, JSON.stringify(session));
  return session;
}

export async function logout(): Promise<void> {
  if (session) {
    try {
      await post("logout", { sessionkey: session.sessionkey });
    } catch {
      // The session may already be gone; logging out locally is what matters.
    }
  }
  dropSession();
}

// ---- async jobs ----------------------------------------------------------------------------

export interface Job {
  id: string;
  label: string;
  status: "running" | "done" | "failed";
  started: number;
  finished?: number;
  text?: string;
  progress?: number;
}

const jobs: Job[] = [];
const jobListeners = new Set<(j: Job) => void>();

export function trackedJobs(): Job[] {
  return jobs;
}

export function onJob(f: (j: Job) => void): () => void {
  jobListeners.add(f);
  return () => jobListeners.delete(f);
}

function emit(j: Job) {
  for (const f of jobListeners) f(j);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs an API command; when it is asynchronous, follows its job (queryAsyncJobResult) until
 * it ends — at most 30 minutes — and returns the job's result, or throws the job's error
 * text. Every job shows in the jobs panel and ends with a notification.
 */
export async function run(command: string, params: Params, label: string): Promise<Row> {
  const r = await api(command, params);
  if (!r.jobid) return r;
  return follow(String(r.jobid), label);
}

/** Follows an async job (see `run`). */
export async function follow(jobid: string, label: string): Promise<Row> {
  const job: Job = { id: jobid, label, status: "running", started: Date.now() };
  jobs.unshift(job);
  if (jobs.length > 50) jobs.pop();
  emit(job);
  const deadline = Date.now() + 30 * 60_000;
  let wait = 300;
  while (Date.now() < deadline) {
    await sleep(wait);
    wait = Math.min(wait * 1.5, 2000);
    let q: Row;
    try {
      q = await api("queryAsyncJobResult", { jobid: job.id });
    } catch (e) {
      if (e instanceof ApiError && e.code === 401) throw e;
      continue; // a transient failure: ask again
    }
    job.progress = Number(q.jobprocstatus ?? 0);
    if (Number(q.jobstatus) === 0) {
      emit(job);
      continue;
    }
    job.finished = Date.now();
    if (Number(q.jobstatus) === 1) {
      job.status = "done";
      emit(job);
      return (q.jobresult ?? {}) as Row;
    }
    job.status = "failed";
    job.text = String(q.jobresult?.errortext ?? "the job failed");
    emit(job);
    throw new ApiError(Number(q.jobresult?.errorcode ?? 530), job.text);
  }
  job.status = "failed";
  job.text = "still running after 30 minutes; see Events and Jobs";
  emit(job);
  throw new ApiError(0, job.text);
}
