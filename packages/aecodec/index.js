// aecodec for pages: const codec = await createCodec({model}); codec.encode(image, {quality}) -> Uint8Array;
// codec.decode(bytes) -> ImageData. `model` is one model file (.aem) or a codec manifest (NAME.codec.json: one
// quality knob over several member models, fetched when a call first needs one). On a page the core runs in
// a Worker of its own (worker.js), threaded (pthreads) where the page is cross-origin isolated; in Node (no
// Worker global) in the calling thread. No module-level mutable state: every createCodec is independent.
const isNode = typeof process === 'object' && !!process.versions?.node && typeof window === 'undefined';

async function bytesOf(src) {
  if (src instanceof Uint8Array) return src;
  if (src instanceof ArrayBuffer) return new Uint8Array(src);
  if (ArrayBuffer.isView(src)) return new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
  if (typeof Blob === 'function' && src instanceof Blob) return new Uint8Array(await src.arrayBuffer());
  if (isNode && (typeof src === 'string' || src instanceof URL) && !/^https?:/.test(String(src))) {
    const fs = await import('node:fs/promises');
    return new Uint8Array(await fs.readFile(src));
  }
  const r = await fetch(src);
  if (!r.ok) throw new Error(`${src}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

const abortError = () => (typeof DOMException === 'function'
  ? new DOMException('the operation was cancelled', 'AbortError')
  : Object.assign(new Error('the operation was cancelled'), { name: 'AbortError' }));

// Whether this context may run the threaded build: cross-origin isolated (SharedArrayBuffer), not Node.
export function canUseThreads() {
  return !isNode && globalThis.crossOriginIsolated === true && typeof SharedArrayBuffer === 'function';
}

// The WebAssembly core, compiled: {threads, module}. threads: how many threads the core runs on (default: the
// device's cores, at most 8, where canUseThreads(), else 1); more than 1 picks the threaded build, which
// needs a cross-origin isolated page (else 1). wasm: the build's .wasm (URL, path, bytes or a compiled
// WebAssembly.Module) if not dist/aecodec-core.wasm (dist/aecodec-core-mt.wasm with threads) beside this
// file. Pass the result to several createCodec calls to compile the core once.
export async function loadCore({ threads, wasm } = {}) {
  const allowed = canUseThreads();
  const want = threads === undefined || threads === null
    ? (allowed ? Math.min(8, globalThis.navigator?.hardwareConcurrency || 1) : 1) : Number(threads);
  if (!(want >= 1)) throw new Error(`threads: a number from 1, not ${threads}`);
  const n = allowed ? Math.min(64, Math.floor(want)) : 1;
  if (typeof WebAssembly.Module === 'function' && wasm instanceof WebAssembly.Module) return { threads: n, module: wasm };
  const src = wasm || new URL(n > 1 ? './dist/aecodec-core-mt.wasm' : './dist/aecodec-core.wasm', import.meta.url);
  let module;
  if (!isNode && (typeof src === 'string' || src instanceof URL) && WebAssembly.compileStreaming) {
    // Streaming compilation (and the browser's code cache); a server that sends another MIME type gets the
    // bytes compiled instead.
    const r = await fetch(src);
    if (!r.ok) throw new Error(`${src}: HTTP ${r.status}`);
    module = await WebAssembly.compileStreaming(r.clone()).catch(async () => WebAssembly.compile(await r.arrayBuffer()));
  } else {
    module = await WebAssembly.compile(await bytesOf(src));
  }
  return { threads: n, module };
}

// Whether a file is a codec manifest (JSON text) rather than a model: a model file is safetensors, 8 bytes
// of header length and then the header's '{'.
function isManifest(bytes) {
  if (bytes.length >= 9 && bytes[8] === 0x7b) {
    const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
    if (n > 0n && n + 8n <= BigInt(bytes.length)) return false;
  }
  let i = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? 3 : 0;  // a UTF-8 byte order mark
  while (i < bytes.length && (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09)) ++i;
  return bytes[i] === 0x7b;
}

// Where a codec's member `name` comes from: the `members` option (a function of the name, or {name: source}),
// else NAME.aem beside the manifest (its URL, or its path in Node).
function memberSource(model, members, name) {
  if (typeof members === 'function') return members(name);
  if (members && typeof members === 'object' && members[name] !== undefined) return members[name];
  if (model instanceof URL) return new URL(`${name}.aem`, model);
  if (typeof model === 'string') {
    if (isNode && !/^https?:/.test(model)) return model.replace(/[^/\\]*$/, '') + `${name}.aem`;
    return new URL(`${name}.aem`, new URL(model, globalThis.location?.href)).href;
  }
  throw new Error('give createCodec the manifest\'s URL or path, or {members} (a function of the member\'s ' +
                  'name, or {name: source}) for a manifest given as bytes');
}

const toImageData = (r) => {
  const out = typeof ImageData === 'function' ? new ImageData(r.data, r.width, r.height)
    : { width: r.width, height: r.height, data: r.data };
  const extra = { quality: r.quality, timings: r.timings };
  if (r.model !== undefined) Object.assign(extra, { model: r.model, modelQuality: r.modelQuality });
  if (r.latent) Object.assign(extra, { latent: r.latent, channelBits: r.channelBits });
  return Object.assign(out, extra);
};
const toFile = (r) => Object.assign(r.bytes, { quality: r.quality, timings: r.timings,
                                               ...(r.trials !== undefined ? { trials: r.trials } : {}),
                                               ...(r.model !== undefined ? { model: r.model,
                                                                              modelQuality: r.modelQuality } : {}) });
const results = {
  encode: toFile,
  decode: toImageData,
  encodeLatent: toFile,
  decodeLatent: (r) => r,
  memberFor: (r) => r,
};

// model: the .aem file or a codec manifest (.codec.json), as a URL, a path in Node, bytes or a Blob. members
// (a manifest only): where its member models come from, a function of the member's name (returning any of
// those, or a Promise of one) or {name: source}; by default NAME.aem beside the manifest's URL or path. A
// member is fetched when a call first needs it (the core's mapping of the knob says which). worker: run the
// core in a Worker (default: where there is a Worker global, i.e. on pages). threads, wasm: as loadCore's
// (threads only in a Worker), or core: what loadCore returned.
export async function createCodec({ model, members, worker = typeof Worker === 'function', threads, wasm, core } = {}) {
  if (!model) throw new Error('createCodec: {model} is required (an .aem file or a .codec.json: URL, path, bytes or Blob)');
  const [modelBytes, loaded] = await Promise.all([
    bytesOf(model), core ? Promise.resolve(core) : loadCore({ threads: worker ? threads : 1, wasm })]);
  if (!worker && loaded.threads > 1) throw new Error('createCodec: a threaded core runs in a Worker (worker: true)');
  const manifest = isManifest(modelBytes);
  let closed = false;
  let tail = Promise.resolve();
  // A codec's members: each one's bytes, fetched once (a restarted Worker gets them again from here).
  const memberBytes = new Map();
  const fetchMember = (name) => {
    if (!memberBytes.has(name)) {
      const p = Promise.resolve().then(() => memberSource(model, members, name)).then(bytesOf);
      memberBytes.set(name, p);
      p.catch(() => memberBytes.delete(name));
    }
    return memberBytes.get(name);
  };
  // Before a codec's call: hands the core the members it says the call needs (an encode's or encodeLatent's
  // by its quality or size, a decode's or decodeLatent's by the file). exec(op, args) runs one of the core
  // codec's calls (needs, add).
  const ensureMembers = async (exec, op, args, signal) => {
    if (!manifest || !['encode', 'decode', 'encodeLatent', 'decodeLatent'].includes(op)) return;
    const options = args[args.length - 1] || {};
    const byFile = op === 'decode' || op === 'decodeLatent';
    const need = await exec('needs', [byFile ? 'decode' : 'encode',
                                      byFile ? args[0] : { quality: options.quality, size: op === 'encode' ? options.size : 0 }]);
    for (const name of need) {
      let bytes;
      try {
        bytes = await fetchMember(name);
      } catch (e) {
        throw new Error(`codec member '${name}': ${e.message || e}`);
      }
      if (signal?.aborted) throw abortError();
      await exec('add', [name, bytes]);
    }
  };
  // Calls run one at a time, in order; `run(op)` runs one when its turn comes.
  const queue = (op, args, { signal } = {}, run) => {
    if (closed) return Promise.reject(new Error('the codec is closed'));
    const turn = tail.then(() => {
      if (signal?.aborted) throw abortError();
      return run();
    }).then(results[op]);
    tail = turn.catch(() => {});
    return turn;
  };

  if (!worker) {
    const { openCore } = await import('./core.js');
    const opened = await openCore(loaded);
    const c = manifest ? opened.openCodec(modelBytes) : opened.open(modelBytes);
    const api = { info: c.info, threads: 1 };
    const exec = async (op, args) => c[op](...args);
    for (const op of ['encode', 'decode', 'encodeLatent', 'decodeLatent'])
      api[op] = (...args) => queue(op, args, args[args.length - 1], async () => {
        await ensureMembers(exec, op, args, args[args.length - 1]?.signal);
        return c[op](...args);
      });
    api.memberFor = (arg = {}) => queue('memberFor', [arg], {}, async () => c.memberFor(arg));
    api.close = () => {
      if (!closed) tail.then(() => c.close());
      closed = true;
    };
    return api;
  }

  // The Worker: started now, and again after a call was cancelled (cancelling terminates it, the only way to
  // stop a call it is running) or it failed.
  let w = null, opened = null, current = null, next = 0;
  const post = (message, transfer = []) => new Promise((resolve, reject) => {
    const id = next++;
    current = { id, resolve, reject, onProgress: message.onProgress };
    delete message.onProgress;
    w.postMessage({ id, ...message }, transfer);
  });
  const stop = (error) => {
    if (w) w.terminate();
    w = null, opened = null;
    const c = current;
    current = null;
    if (c) c.reject(error);
  };
  const start = () => {
    w = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
    w.onmessage = ({ data: { id, ok, value, error, name, progress } }) => {
      if (!current || current.id !== id) return;
      if (progress !== undefined) {
        current.onProgress?.(progress);
        return;
      }
      const c = current;
      current = null;
      if (ok) c.resolve(value);
      else c.reject(name === 'AbortError' ? abortError() : new Error(error));
    };
    w.onerror = (e) => {
      e.preventDefault?.();
      stop(new Error(e.message || 'the codec worker failed'));
    };
    opened = post({ op: 'open', core: loaded, [manifest ? 'manifest' : 'model']: modelBytes });
    return opened;
  };
  const info = await start();
  const call = (op, args) => {
    const options = args[args.length - 1] || {};
    const { signal, onProgress } = options;
    // What the Worker gets: the options without the callback and the signal.
    const rest = { ...options };
    delete rest.signal, delete rest.onProgress;
    return queue(op, args, options, async () => {
      if (!w) await start();
      else await opened;
      if (signal?.aborted) throw abortError();
      const abort = () => stop(abortError());
      signal?.addEventListener('abort', abort, { once: true });
      try {
        await ensureMembers((o, a) => post({ op: o, args: a }), op, args, signal);
        return await post({ op, args: [...args.slice(0, -1), rest], progress: !!onProgress, onProgress });
      } finally {
        signal?.removeEventListener('abort', abort);
      }
    });
  };
  return {
    info,
    threads: loaded.threads,
    encode: (image, options = {}) => call('encode', [image, options]),
    decode: (bytes, options = {}) => call('decode', [bytes, options]),
    encodeLatent: (latent, image, options = {}) => call('encodeLatent', [latent, image, options]),
    decodeLatent: (bytes, options = {}) => call('decodeLatent', [bytes, options]),
    memberFor: (arg = {}) => queue('memberFor', [arg], {}, async () => {
      if (!w) await start();
      else await opened;
      return post({ op: 'memberFor', args: [arg] });
    }),
    close() {
      if (closed) return;
      closed = true;
      tail.then(() => stop(new Error('the codec is closed')));
    },
  };
}
