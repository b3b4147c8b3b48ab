// aecodec for pages: const codec = await createCodec({model}); codec.encode(image, {quality}) -> Uint8Array;
// codec.decode(bytes) -> ImageData. On a page the core runs in a Worker of its own (worker.js), threaded
// (pthreads) where the page is cross-origin isolated; in Node (no Worker global) in the calling thread. No
// module-level mutable state: every createCodec is independent.
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

const toImageData = (r) => {
  const out = typeof ImageData === 'function' ? new ImageData(r.data, r.width, r.height)
    : { width: r.width, height: r.height, data: r.data };
  const extra = { quality: r.quality, timings: r.timings };
  if (r.latent) Object.assign(extra, { latent: r.latent, channelBits: r.channelBits });
  return Object.assign(out, extra);
};
const toFile = (r) => Object.assign(r.bytes, { quality: r.quality, timings: r.timings,
                                               ...(r.trials !== undefined ? { trials: r.trials } : {}) });
const results = {
  encode: toFile,
  decode: toImageData,
  encodeLatent: toFile,
  decodeLatent: (r) => r,
};

// model: the .aem file (URL, path in Node, bytes or Blob). worker: run the core in a Worker (default: where
// there is a Worker global, i.e. on pages). threads, wasm: as loadCore's (threads only in a Worker), or
// core: what loadCore returned.
export async function createCodec({ model, worker = typeof Worker === 'function', threads, wasm, core } = {}) {
  if (!model) throw new Error('createCodec: {model} is required (an .aem file: URL, path, bytes or Blob)');
  const [modelBytes, loaded] = await Promise.all([
    bytesOf(model), core ? Promise.resolve(core) : loadCore({ threads: worker ? threads : 1, wasm })]);
  if (!worker && loaded.threads > 1) throw new Error('createCodec: a threaded core runs in a Worker (worker: true)');
  let closed = false;
  let tail = Promise.resolve();
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
    const c = (await openCore(loaded)).open(modelBytes);
    const api = { info: c.info, threads: 1 };
    for (const op of ['encode', 'decode', 'encodeLatent', 'decodeLatent'])
      api[op] = (...args) => queue(op, args, args[args.length - 1], () => c[op](...args));
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
    opened = post({ op: 'open', core: loaded, model: modelBytes });
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
    close() {
      if (closed) return;
      closed = true;
      tail.then(() => stop(new Error('the codec is closed')));
    },
  };
}
