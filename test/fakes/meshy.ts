/**
 * A wire-true fake of Meshy's text-to-3D API on a loopback port: `POST /openapi/v2/text-to-3d` (preview and
 * refine tasks, `202 {"result": id}`), `GET /openapi/v2/text-to-3d/{id}` (the task object with `status`,
 * `progress`, `model_urls`, `thumbnail_url`, `task_error`, `consumed_credits`) and the result files themselves
 * (a small valid GLB, OBJ, FBX header, USDZ zip and a PNG thumbnail) under `/files/`.
 *
 * Task state lives in the fake, not in any client, so a test can drop an adapter mid-poll and let a new one
 * resume the same task. Each created task takes the next scripted behaviour from a FIFO (how many polls until
 * it succeeds, failure, cancellation, credits); HTTP errors (401, 429 with Retry-After, 500) can be queued for
 * the next matching request.
 */

export const FAKE_MESHY_KEY = 'msy-fake-key-0123456789';
export const MESHY_TEST_KEY = 'msy_dummy_api_key_for_test_mode_12345678';

export interface MeshyTaskScript {
  /** Polls answered `PENDING`/`IN_PROGRESS` before the task succeeds (default 2). */
  pollsBeforeDone?: number;
  /** End as FAILED with this `task_error.message` instead of succeeding. */
  failMessage?: string;
  /** End as CANCELED instead of succeeding. */
  cancel?: boolean;
  /** Never finish. */
  stuck?: boolean;
  /** Credits the task reports (default: preview 20, refine 10; 0 for the test-mode key). */
  credits?: number;
  /** Leave these formats out of `model_urls`. */
  omitFormats?: string[];
}

export interface MeshyErrorScript {
  status: number;
  /** Which requests it applies to (default any). */
  on?: 'create' | 'poll' | 'any';
  retryAfter?: string;
  message?: string;
}

export interface FakeMeshyTask {
  id: string;
  mode: 'preview' | 'refine';
  prompt: string;
  body: any;
  key: string;
  polls: number;
  script: MeshyTaskScript;
  createdAt: number;
}

export interface MeshyRecordedRequest {
  method: string;
  path: string;
  authorization: string | null;
  body: any;
  at: number;
}

export interface FakeMeshy {
  /** API base as the adapter expects it (`…/openapi`). */
  readonly url: string;
  readonly origin: string;
  readonly requests: MeshyRecordedRequest[];
  readonly tasks: Map<string, FakeMeshyTask>;
  /** Keys accepted besides the public test key. */
  keys: Set<string>;
  /** Behaviour of the next created tasks, in order. */
  enqueueTask(...scripts: MeshyTaskScript[]): void;
  /** HTTP errors answered to the next matching requests, in order. */
  enqueueError(...errors: MeshyErrorScript[]): void;
  /** Polls answered for one task so far. */
  polls(taskId: string): number;
  /** Hold every answer this long (to exercise request timeouts). */
  delayMs: number;
  stop(): Promise<void>;
}

// A 1×1 opaque PNG: signature, IHDR, IDAT, IEND with valid CRCs.
const PNG_1X1 = Uint8Array.from(
  atob('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=='),
  (c) => c.charCodeAt(0),
);

/** A minimal glTF 2.0 binary: one triangle, header + JSON chunk + BIN chunk, every length 4-byte aligned. */
export function tinyGlb(): Uint8Array<ArrayBuffer> {
  const positions = new Float32Array([0, 0, 0, 1, 0, 0, 0, 1, 0]);
  const bin = new Uint8Array(positions.buffer);
  const gltf = {
    asset: { version: '2.0', generator: 'gaia fake meshy' },
    scene: 0,
    scenes: [{ nodes: [0] }],
    nodes: [{ mesh: 0 }],
    meshes: [{ primitives: [{ attributes: { POSITION: 0 } }] }],
    buffers: [{ byteLength: bin.byteLength }],
    bufferViews: [{ buffer: 0, byteOffset: 0, byteLength: bin.byteLength }],
    accessors: [
      { bufferView: 0, componentType: 5126, count: 3, type: 'VEC3', min: [0, 0, 0], max: [1, 1, 0] },
    ],
  };
  let json = JSON.stringify(gltf);
  while (json.length % 4) json += ' ';
  const jsonBytes = new TextEncoder().encode(json);
  const total = 12 + 8 + jsonBytes.length + 8 + bin.byteLength;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, 0x46546c67, true); // 'glTF'
  view.setUint32(4, 2, true);
  view.setUint32(8, total, true);
  view.setUint32(12, jsonBytes.length, true);
  view.setUint32(16, 0x4e4f534a, true); // 'JSON'
  out.set(jsonBytes, 20);
  const binAt = 20 + jsonBytes.length;
  view.setUint32(binAt, bin.byteLength, true);
  view.setUint32(binAt + 4, 0x004e4942, true); // 'BIN\0'
  out.set(bin, binAt + 8);
  return out;
}

const OBJ = new TextEncoder().encode('# gaia fake meshy\nv 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n');
// Binary FBX files open with this 23-byte magic and a little-endian version (7400).
const FBX = (() => {
  const magic = new TextEncoder().encode('Kaydara FBX Binary  ');
  const out = new Uint8Array(27);
  out.set(magic, 0);
  out.set([0x00, 0x1a, 0x00], 20);
  new DataView(out.buffer).setUint32(23, 7400, true);
  return out;
})();
// An empty zip archive (end-of-central-directory record only); USDZ is a zip container.
const USDZ = Uint8Array.from([0x50, 0x4b, 0x05, 0x06, ...new Array(18).fill(0)]);

export async function startFakeMeshy(): Promise<FakeMeshy> {
  const taskQueue: MeshyTaskScript[] = [];
  const errorQueue: MeshyErrorScript[] = [];
  const requests: MeshyRecordedRequest[] = [];
  const tasks = new Map<string, FakeMeshyTask>();
  const glb = tinyGlb();
  let counter = 0;
  const state = { keys: new Set([FAKE_MESHY_KEY]), delayMs: 0 };

  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    idleTimeout: 0,
    async fetch(req) {
      const url = new URL(req.url);
      const origin = url.origin;
      const body = req.method === 'POST' ? await req.json().catch(() => undefined) : undefined;
      requests.push({
        method: req.method,
        path: url.pathname,
        authorization: req.headers.get('authorization'),
        body,
        at: Date.now(),
      });
      if (state.delayMs) await Bun.sleep(state.delayMs);

      if (req.method === 'GET' && url.pathname.startsWith('/files/')) return serveFile(url.pathname.slice(7));

      const isCreate = req.method === 'POST' && url.pathname === '/openapi/v2/text-to-3d';
      const pollMatch = /^\/openapi\/v2\/text-to-3d\/([^/]+)$/.exec(url.pathname);
      const isPoll = req.method === 'GET' && pollMatch !== null;
      if (!isCreate && !isPoll) return Response.json({ message: 'Not Found' }, { status: 404 });

      const errIdx = errorQueue.findIndex(
        (e) => (e.on ?? 'any') === 'any' || (e.on === 'create' && isCreate) || (e.on === 'poll' && isPoll),
      );
      if (errIdx >= 0) {
        const e = errorQueue.splice(errIdx, 1)[0]!;
        return Response.json(
          { message: e.message ?? defaultMessage(e.status) },
          { status: e.status, headers: e.retryAfter ? { 'retry-after': e.retryAfter } : {} },
        );
      }

      const auth = req.headers.get('authorization') ?? '';
      const key = auth.startsWith('Bearer ') ? auth.slice(7) : '';
      if (key !== MESHY_TEST_KEY && !state.keys.has(key)) {
        return Response.json({ message: 'Invalid API key' }, { status: 401 });
      }

      if (isCreate) return create(body, key);
      const task = tasks.get(decodeURIComponent(pollMatch![1]!));
      if (!task || task.key !== key) return Response.json({ message: 'Task not found' }, { status: 404 });
      task.polls++;
      return Response.json(view(task, origin));
    },
  });

  function create(body: any, key: string): Response {
    if (!body || typeof body !== 'object')
      return Response.json({ message: 'Invalid JSON body' }, { status: 400 });
    if (body.mode === 'preview') {
      if (typeof body.prompt !== 'string' || !body.prompt.trim())
        return Response.json({ message: 'prompt is required' }, { status: 400 });
      if (body.prompt.length > 600)
        return Response.json({ message: 'prompt must be at most 600 characters' }, { status: 400 });
      if ('art_style' in body && body.ai_model !== 'meshy-4')
        return Response.json({ message: 'art_style is not supported by this model' }, { status: 400 });
      const poly = body.target_polycount;
      if (poly !== undefined && (!Number.isInteger(poly) || poly < 100 || poly > 300000))
        return Response.json({ message: 'target_polycount must be between 100 and 300000' }, { status: 400 });
      if (body.topology !== undefined && body.topology !== 'quad' && body.topology !== 'triangle')
        return Response.json({ message: 'invalid topology' }, { status: 400 });
    } else if (body.mode === 'refine') {
      const preview = tasks.get(body.preview_task_id);
      if (!preview || preview.key !== key || preview.mode !== 'preview')
        return Response.json({ message: 'preview task not found' }, { status: 400 });
      if (status(preview) !== 'SUCCEEDED')
        return Response.json({ message: 'preview task has not succeeded' }, { status: 400 });
    } else {
      return Response.json({ message: 'mode must be preview or refine' }, { status: 400 });
    }
    const id = `0193${(++counter).toString(16).padStart(4, '0')}-fake-meshy-${crypto.randomUUID().slice(0, 8)}`;
    tasks.set(id, {
      id,
      mode: body.mode,
      prompt: body.mode === 'preview' ? body.prompt : (tasks.get(body.preview_task_id)?.prompt ?? ''),
      body,
      key,
      polls: 0,
      script: taskQueue.shift() ?? {},
      createdAt: Date.now(),
    });
    return Response.json({ result: id }, { status: 202 });
  }

  function status(task: FakeMeshyTask): string {
    const s = task.script;
    const needed = s.pollsBeforeDone ?? 2;
    if (s.stuck || task.polls <= needed) return task.polls <= 1 ? 'PENDING' : 'IN_PROGRESS';
    if (s.failMessage !== undefined) return 'FAILED';
    if (s.cancel) return 'CANCELED';
    return 'SUCCEEDED';
  }

  function view(task: FakeMeshyTask, origin: string): Record<string, unknown> {
    const st = status(task);
    const needed = task.script.pollsBeforeDone ?? 2;
    const done = st === 'SUCCEEDED';
    const progress = done
      ? 100
      : st === 'PENDING'
        ? 0
        : Math.min(99, Math.round((task.polls / (needed + 1)) * 100));
    const finished = st === 'SUCCEEDED' || st === 'FAILED' || st === 'CANCELED';
    const credits =
      task.script.credits ?? (task.key === MESHY_TEST_KEY ? 0 : task.mode === 'preview' ? 20 : 10);
    const modelUrls: Record<string, string> = {};
    if (done) {
      for (const f of ['glb', 'fbx', 'obj', 'mtl', 'usdz']) {
        if (!task.script.omitFormats?.includes(f)) modelUrls[f] = `${origin}/files/${task.id}.${f}`;
      }
    }
    return {
      id: task.id,
      type: task.mode === 'preview' ? 'text-to-3d-preview' : 'text-to-3d-refine',
      mode: task.mode,
      prompt: task.prompt,
      ai_model: task.body.ai_model ?? 'latest',
      topology: task.body.topology,
      target_polycount: task.body.target_polycount,
      model_urls: modelUrls,
      thumbnail_url: done ? `${origin}/files/${task.id}.png` : '',
      video_url: '',
      texture_urls: done && task.mode === 'refine' ? [{ base_color: `${origin}/files/${task.id}.png` }] : [],
      progress,
      preceding_tasks: st === 'PENDING' ? 0 : undefined,
      status: st,
      created_at: task.createdAt,
      started_at: st === 'PENDING' ? 0 : task.createdAt + 1,
      finished_at: finished ? Date.now() : 0,
      task_error: { message: st === 'FAILED' ? task.script.failMessage : '' },
      consumed_credits: finished ? credits : 0,
    };
  }

  function serveFile(name: string): Response {
    const m = /^(.+)\.(glb|fbx|obj|mtl|usdz|png)$/.exec(name);
    const task = m ? tasks.get(m[1]!) : undefined;
    if (!m || !task || status(task) !== 'SUCCEEDED') return new Response('Not Found', { status: 404 });
    const ext = m[2]!;
    const files: Record<string, [Uint8Array<ArrayBuffer>, string]> = {
      glb: [glb, 'model/gltf-binary'],
      fbx: [FBX, 'application/octet-stream'],
      obj: [OBJ, 'text/plain'],
      mtl: [new TextEncoder().encode('newmtl default\nKd 0.8 0.8 0.8\n'), 'text/plain'],
      usdz: [USDZ, 'model/vnd.usdz+zip'],
      png: [PNG_1X1, 'image/png'],
    };
    const [bytes, type] = files[ext]!;
    return new Response(bytes, { headers: { 'content-type': type } });
  }

  const origin = `http://127.0.0.1:${server.port}`;
  return {
    url: `${origin}/openapi`,
    origin,
    requests,
    tasks,
    get keys() {
      return state.keys;
    },
    set keys(v) {
      state.keys = v;
    },
    get delayMs() {
      return state.delayMs;
    },
    set delayMs(v) {
      state.delayMs = v;
    },
    enqueueTask: (...s) => {
      taskQueue.push(...s);
    },
    enqueueError: (...e) => {
      errorQueue.push(...e);
    },
    polls: (id) => tasks.get(id)?.polls ?? 0,
    stop: async () => {
      await server.stop(true);
    },
  };
}

function defaultMessage(status: number): string {
  if (status === 401) return 'Invalid API key';
  if (status === 402) return 'Insufficient credits';
  if (status === 429) return 'Too many requests';
  if (status >= 500) return 'Internal server error';
  return 'Bad request';
}
