// aecodec for pages: const codec = await createCodec({model}); codec.encode(image, {quality}) -> Uint8Array;
// codec.decode(bytes) -> ImageData. On a page the core runs in a Worker of its own (worker.js); in Node (no
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

const toImageData = (r) =>
  typeof ImageData === 'function' ? new ImageData(r.data, r.width, r.height) : r;

// model: the .aem file (URL, path in Node, bytes or Blob). worker: run the core in a Worker (default: where
// there is a Worker global, i.e. on pages). wasm: where dist/aecodec-core.wasm is, if not beside this file.
export async function createCodec({ model, worker = typeof Worker === 'function', wasm } = {}) {
  if (!model) throw new Error('createCodec: {model} is required (an .aem file: URL, path, bytes or Blob)');
  const [modelBytes, wasmBytes] = await Promise.all([
    bytesOf(model), bytesOf(wasm || new URL('./dist/aecodec-core.wasm', import.meta.url))]);
  const encodedImage = (r) => Object.assign(r.bytes, { quality: r.quality });
  if (!worker) {
    const { openCore } = await import('./core.js');
    const c = (await openCore(wasmBytes)).open(modelBytes);
    return {
      info: c.info,
      async encode(image, options) { return encodedImage(c.encode(image, options)); },
      async decode(bytes) { return toImageData(c.decode(bytes)); },
      close() { c.close(); },
    };
  }
  const w = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  const pending = new Map();
  let next = 0;
  w.onmessage = ({ data: { id, ok, value, error } }) => {
    const p = pending.get(id);
    pending.delete(id);
    if (ok) p.resolve(value);
    else p.reject(new Error(error));
  };
  w.onerror = (e) => {
    for (const p of pending.values()) p.reject(new Error(e.message || 'the codec worker failed'));
    pending.clear();
  };
  const call = (op, args, transfer = []) => new Promise((resolve, reject) => {
    const id = next++;
    pending.set(id, { resolve, reject });
    w.postMessage({ id, op, ...args }, transfer);
  });
  const info = await call('open', { wasm: wasmBytes, model: modelBytes });
  return {
    info,
    async encode(image, options = {}) { return encodedImage(await call('encode', { image, options })); },
    async decode(bytes) { return toImageData(await call('decode', { bytes })); },
    close() { call('close', {}).finally(() => w.terminate()); },
  };
}
