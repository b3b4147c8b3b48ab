// The page side of the aecodec demo: loads the WASM app (threaded when the page is cross-origin isolated),
// the models of models/manifest.json and the sample image; handles files (picker, drag and drop), downloads,
// the browser's JPEG/WebP encoders for the same-size comparison, and the ONNX Runtime Web backend; and exposes
// window.aecodec (documented in web/API.md).

const MAX_FILE_BYTES = 256 << 20;
const $ = (id) => document.getElementById(id);

let M = null;   // the Emscripten module
let C = null;   // wrapped C functions
let ortModule = null;
const ortSessions = new Map();  // model name -> {enc, dec} (or a Promise of it)
let jsBusy = 0;

// ---- the WASM app --------------------------------------------------------------------------------------------

function loadScript(src) {
  return new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = src;
    s.onload = resolve;
    s.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.appendChild(s);
  });
}

function overlay(text, error = false) {
  const o = $('overlay');
  if (text === null) { o.classList.add('hidden'); return; }
  o.classList.remove('hidden');
  o.classList.toggle('error', error);
  $('overlay-text').textContent = text;
}

function heap() { return M.aecHeap(); }

// Copies bytes into the WASM heap, calls fn(ptr, length), frees. Pointers are unsigned (`>>> 0`): the heap
// grows past 2 GiB for a large photo.
function withBytes(bytes, fn) {
  const p = M._malloc(Math.max(1, bytes.length)) >>> 0;
  if (!p) throw new Error('out of memory in the page');
  try {
    heap().set(bytes, p);
    return fn(p, bytes.length);
  } finally {
    M._free(p);
  }
}

function state() { return JSON.parse(C.state()); }

function setJsBusy(delta, label = '') {
  jsBusy = Math.max(0, jsBusy + delta);
  C.setJsBusy(delta, label);
}

function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

async function waitIdle(timeoutMs = 600000) {
  const t0 = performance.now();
  // A job finishes inside a frame: give the main loop the chance to run at least once.
  await sleep(0);
  while (C.busy() || jsBusy > 0) {
    if (performance.now() - t0 > timeoutMs) throw new Error('timed out waiting for the page to finish');
    await sleep(15);
  }
}

async function waitJob(before) {
  while (C.completed() === before) await sleep(10);
}

// ---- files -----------------------------------------------------------------------------------------------------

// Decodes an image with the browser's decoder into straight RGBA (no premultiplication), turned the right way up
// by its EXIF orientation (as the core does for the JPEGs it decodes). `managed`: the browser's colour
// management converts an embedded ICC profile to sRGB, the canvas's colour space (an image without a profile is
// sRGB already and comes out as stored); otherwise the stored values, untouched (the browser's own JPEG and WebP
// of the comparison, made from sRGB pixels).
async function browserDecode(blob, managed = false) {
  const bmp = await createImageBitmap(blob, { colorSpaceConversion: managed ? 'default' : 'none',
                                             premultiplyAlpha: 'none', imageOrientation: 'from-image' });
  const { width: w, height: h } = bmp;
  const s = state().limits;
  if (w > s.max_side || h > s.max_side || w * h > s.max_pixels) {
    bmp.close();
    return { w, h, rgba: null };
  }
  const canvas = document.createElement('canvas');
  canvas.width = w;
  canvas.height = h;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(bmp, 0, 0);
  bmp.close();
  return { w, h, rgba: ctx.getImageData(0, 0, w, h).data };
}

function toBytes(data) {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError('expected bytes (Uint8Array, ArrayBuffer), a Blob/File or a URL');
}

async function resolveSource(src, name) {
  if (typeof src === 'string' || src instanceof URL) {
    const url = String(src);
    const r = await fetch(url);
    if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
    return { bytes: new Uint8Array(await r.arrayBuffer()), name: name || url.split('/').pop() || 'image' };
  }
  if (src instanceof Blob) {
    if (src.size > MAX_FILE_BYTES) throw new Error(`${src.name || name}: file too large (${src.size} bytes)`);
    return { bytes: new Uint8Array(await src.arrayBuffer()), name: name || src.name || 'file' };
  }
  return { bytes: toBytes(src), name: name || 'file' };
}

// Opens an image or .aec file; resolves once it is loaded and (by default) coded; rejects with the message the
// page shows when it cannot.
async function openFile(src, { name, encode = true } = {}) {
  await waitIdle();
  const before = state().error_serial;
  let file;
  // Busy while the file downloads (a URL) or is read: the page shows its progress indicator.
  setJsBusy(1, typeof src === 'string' || src instanceof URL ? `Downloading ${String(src).split('/').pop()}`
                                                             : 'Reading the file');
  try {
    file = await resolveSource(src, name);
  } catch (e) {
    C.setError(e.message);
    throw e;
  } finally {
    setJsBusy(-1);
  }
  if (file.bytes.length > MAX_FILE_BYTES) {
    const msg = `${file.name}: file too large (${file.bytes.length} bytes; the page takes up to ${MAX_FILE_BYTES >> 20} MiB)`;
    C.setError(msg);
    throw new Error(msg);
  }
  const rc = withBytes(file.bytes, (p, n) => C.openFile(p, n, file.name, encode ? 1 : 0));
  if (rc === 1 || rc === 2) {
    // 1: not PNG/JPEG/BMP/TGA/.aec: the browser's decoder (WebP, GIF, AVIF, ...). 2: a PNG or JPEG with an ICC
    // profile, which the core here cannot convert: the browser decodes it with its colour management. Either
    // way an embedded profile is converted to sRGB, as the CLI does.
    setJsBusy(1, `Decoding ${file.name}`);
    try {
      let img;
      try {
        img = await browserDecode(new Blob([file.bytes]), true);
      } catch (e) {
        C.setError(`${file.name}: not an image or .aec file this page can read ` +
                   '(PNG, JPEG, WebP, GIF, BMP, TGA, AVIF or .aec), or the file is corrupt');
        img = null;
      }
      if (img) {
        if (!img.rgba) {
          const l = state().limits;
          C.setError(`${file.name}: ${img.w}x${img.h} is over the page's limit (${l.max_side} px a side, ` +
                     `${Math.round(l.max_pixels / 2 ** 20)} Mpx)`);
        } else {
          withBytes(img.rgba, (p) => C.setImageRgba(p, img.w, img.h, file.name, 0, rc === 2 ? 1 : 0));
        }
      }
    } finally {
      setJsBusy(-1);
    }
    const s = state();
    if (s.error_serial === before && encode) C.encode();
  }
  await waitIdle();
  const s = state();
  if (s.error_serial !== before && s.error) throw new Error(s.error);
  return s;
}

// kind 0: an image (image/*: a phone offers its photos and its camera); 1: an .aec file.
function pickFile(kind = 0) { $(kind === 1 ? 'file-aec' : 'file').click(); }

function download(bytes, name) {
  const url = URL.createObjectURL(new Blob([bytes], { type: 'application/octet-stream' }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// ---- JPEG and WebP at the same size ------------------------------------------------------------------------------

function toBlob(canvas, type, quality) {
  return new Promise((resolve) => canvas.toBlob(resolve, type, quality));
}

// The largest quality whose file is at most `target` bytes (bisection on the encoder's quality).
async function matchSize(canvas, type, target) {
  const at = async (q) => {
    const b = await toBlob(canvas, type, q);
    if (!b || b.type !== type) return null;  // the browser has no encoder for this type
    return { blob: b, quality: q, bytes: b.size };
  };
  const lowest = await at(0);
  if (!lowest) return null;
  if (lowest.bytes > target) return { ...lowest, atMin: true };
  let best = lowest, lo = 0, hi = 1;
  const top = await at(1);
  if (top.bytes <= target) return { ...top, atMin: false };
  for (let i = 0; i < 7; ++i) {  // the encoders take integer qualities 0..100: 7 halvings reach them
    const mid = (lo + hi) / 2;
    const r = await at(mid);
    if (r.bytes <= target) { best = r; lo = mid; } else { hi = mid; }
  }
  return { ...best, atMin: false };
}

let compareWorker = null;
let compareSeq = 0;

// Runs the search in the worker (web/compare-worker.js); calls onResult per codec. Falls back to the page's own
// canvas when the browser has no OffscreenCanvas.
function compareInWorker(rgba, w, h, target, onResult) {
  if (typeof OffscreenCanvas !== 'function') return null;
  if (!compareWorker) compareWorker = new Worker('compare-worker.js');
  const id = ++compareSeq;
  return new Promise((resolve, reject) => {
    compareWorker.onmessage = (e) => {
      const m = e.data;
      if (m.id !== id) return;
      if (m.error) reject(new Error(m.error));
      else if (m.done) resolve();
      else onResult(m.result);
    };
    compareWorker.onerror = (e) => reject(new Error(e.message || 'compare worker failed'));
    compareWorker.postMessage({ id, rgba, width: w, height: h, target, types: ['image/jpeg', 'image/webp'] },
                              [rgba.buffer]);
  });
}

async function compare(target) {
  setJsBusy(1, 'Coding the original as JPEG and WebP at the same size');
  try {
    const s = state();
    if (!s.image) return;
    const { width: w, height: h, serial } = s.image;
    const rgba = new Uint8ClampedArray(heap().buffer, C.imageRgba(0) >>> 0, w * h * 4).slice();
    C.imageRgba(-1);  // the core's copy: 96 MB of a 24 Mpx photo
    // Handed to the core one at a time: a photo's is measured by a job (off this thread), which the next
    // one waits for.
    let chain = Promise.resolve();
    const put = (r) => {
      chain = chain.then(async () => {
        if (state().image?.serial !== serial) return;  // a new image came meanwhile
        const kind = r.type === 'image/jpeg' ? 0 : 1;
        const before = C.completed();
        const rc = withBytes(r.rgba, (p) => C.setCompare(kind, p, w, h, r.bytes, target, r.quality, r.atMin ? 1 : 0));
        if (rc === 1) await waitJob(before);
      });
    };
    const inWorker = compareInWorker(rgba, w, h, target, put);
    if (inWorker) {
      await inWorker;
      await chain;
      return;
    }
    const canvas = document.createElement('canvas');
    canvas.width = w;
    canvas.height = h;
    canvas.getContext('2d').putImageData(new ImageData(rgba, w, h), 0, 0);
    for (const type of ['image/jpeg', 'image/webp']) {
      const r = await matchSize(canvas, type, target);
      if (!r) continue;
      const d = await browserDecode(r.blob);
      put({ type, bytes: r.bytes, quality: r.quality, atMin: r.atMin, rgba: d.rgba });
    }
    await chain;
  } catch (e) {
    console.warn('JPEG/WebP comparison failed:', e);
  } finally {
    C.compareDone();
    setJsBusy(-1);
  }
}

// ---- ONNX Runtime Web backend -------------------------------------------------------------------------------------

async function ortSessionsFor(name) {
  const s = state();
  const m = s.models.find((x) => x.name === name);
  if (!ortSessions.has(name)) {
    ortSessions.set(name, (async () => {
      if (!ortModule) {
        ortModule = await import('./ort/ort.wasm.min.mjs');
        ortModule.env.wasm.wasmPaths = new URL('./ort/', location.href).href;
        // ?threads=N sets ONNX Runtime Web's threads too (bench/browser.mjs compares the two at the same count).
        const want = Number(new URLSearchParams(location.search).get('threads'));
        ortModule.env.wasm.numThreads = !self.crossOriginIsolated ? 1
          : want >= 1 ? Math.min(8, Math.floor(want)) : Math.min(4, navigator.hardwareConcurrency || 1);
        ortModule.env.wasm.simd = true;
        // Inference in ONNX Runtime's own worker: its wasm run would otherwise block this (the UI) thread.
        ortModule.env.wasm.proxy = true;
      }
      const man = manifest.models.find((x) => x.name === name);
      if (!man || !man.onnx) throw new Error(`no ONNX graphs for '${name}'`);
      const opts = { executionProviders: ['wasm'], graphOptimizationLevel: 'all' };
      const [enc, dec] = await Promise.all([
        ortModule.InferenceSession.create(new URL(man.onnx.encoder, location.href).href, opts),
        ortModule.InferenceSession.create(new URL(man.onnx.decoder, location.href).href, opts),
      ]);
      return { enc, dec };
    })());
  }
  try {
    return await ortSessions.get(name);
  } catch (e) {
    ortSessions.delete(name);
    if (m) C.setOrtError(name, `could not load the ONNX graphs: ${e.message || e}`);
    throw e;
  }
}

async function runOrt(name) {
  setJsBusy(1, `Running ${name} in ONNX Runtime Web`);
  try {
    const { enc, dec } = await ortSessionsFor(name);
    const inp = JSON.parse(C.ortBegin(name));
    if (inp.error) throw new Error(inp.error);
    const x = new Float32Array(heap().buffer, inp.ptr, 3 * inp.h * inp.w).slice();
    let t0 = performance.now();
    const yOut = await enc.run({ [enc.inputNames[0]]: new ortModule.Tensor('float32', x, [1, 3, inp.h, inp.w]) });
    const encMs = performance.now() - t0;
    const y = yOut[enc.outputNames[0]];
    const [, yc, yh, yw] = y.dims;
    let before = C.completed();
    const { error_serial: errBefore, cancelled: cancelledBefore } = state();
    const yBytes = new Uint8Array(y.data.buffer, y.data.byteOffset, y.data.byteLength);
    if (withBytes(yBytes, (p) => C.ortEncoded(p, yc, yh, yw, encMs)) !== 0) throw new Error('busy');
    await waitJob(before);
    if (state().error_serial !== errBefore) return;  // the core refused (message shown)
    if (state().cancelled !== cancelledBefore) {  // refinement cancelled: no result, no error
      C.ortAbort('');
      return;
    }
    const lat = JSON.parse(C.ortLatent());
    const l = new Float32Array(heap().buffer, lat.ptr, lat.c * lat.h * lat.w).slice();
    t0 = performance.now();
    const xOut = await dec.run({ [dec.inputNames[0]]: new ortModule.Tensor('float32', l, [1, lat.c, lat.h, lat.w]) });
    const decMs = performance.now() - t0;
    const r = xOut[dec.outputNames[0]];
    const [, rc, rh, rw] = r.dims;
    const rBytes = new Uint8Array(r.data.buffer, r.data.byteOffset, r.data.byteLength);
    before = C.completed();
    if (withBytes(rBytes, (p) => C.ortDecoded(p, rc, rh, rw, decMs)) !== 0) throw new Error('busy');
    await waitJob(before);
  } catch (e) {
    C.ortAbort(`ONNX Runtime backend: ${e.message || e}`);
  } finally {
    setJsBusy(-1);
  }
}

// ---- accessible summary ----------------------------------------------------------------------------------------

let publishQueued = false;
function publish() {
  if (publishQueued) return;
  publishQueued = true;
  queueMicrotask(() => {
    publishQueued = false;
    if (!C) return;
    const s = state();
    const parts = [];
    if (s.busy) parts.push(`Working: ${s.busy_label}.`);
    if (s.image) parts.push(`Image ${s.image.name}, ${s.image.width}x${s.image.height}.`);
    const r = s.result;
    if (r) {
      parts.push(`Model ${r.model} (${r.backend === 'ort' ? 'ONNX Runtime' : 'C++ core'}` +
                 `${r.quality ? `, quality ${r.quality}` : ''}` +
                 `${r.target_bytes ? ` for at most ${r.target_bytes} bytes` : ''}` +
                 `${r.effort > 0 ? `, effort ${r.effort}` : ''}): ${r.bytes} bytes, ` +
                 `${r.bpp.toFixed(4)} bpp` +
                 (r.has_reference ? `, PSNR ${r.psnr.toFixed(3)} dB, MS-SSIM ${r.ms_ssim.toFixed(5)}` : '') +
                 (r.encode_ms ? `, encode ${r.encode_ms.toFixed(1)} ms` : '') + `, decode ${r.decode_ms.toFixed(1)} ms.`);
    }
    for (const c of [s.jpeg, s.webp]) {
      if (c) parts.push(`${c.codec.toUpperCase()} at ${c.bytes} bytes: PSNR ${c.psnr.toFixed(3)} dB.`);
    }
    if (s.error) parts.push(`Error: ${s.error}`);
    else if (s.info) parts.push(s.info);
    const text = parts.join(' ');
    const el = $('summary');
    if (el.textContent !== text) el.textContent = text;
    document.documentElement.dataset.busy = s.busy ? '1' : '0';
  });
}

// ---- start -----------------------------------------------------------------------------------------------------

let manifest = { models: [] };
let resolveReady, rejectReady;
const ready = new Promise((res, rej) => { resolveReady = res; rejectReady = rej; });
ready.catch(() => {});

async function loadModels() {
  const r = await fetch('models/manifest.json');
  if (!r.ok) throw new Error(`models/manifest.json: HTTP ${r.status}`);
  manifest = await r.json();
  if (C.setManifest(JSON.stringify(manifest)) < 0) throw new Error(state().error);
  await Promise.all(manifest.models.map(async (m, i) => {
    try {
      const res = await fetch(m.file);
      if (!res.ok) throw new Error(`${m.file}: HTTP ${res.status}`);
      const bytes = new Uint8Array(await res.arrayBuffer());
      withBytes(bytes, (p, n) => C.modelBytes(i, p, n));
    } catch (e) {
      C.modelFailed(i, e.message || String(e));
    }
  }));
}

async function start() {
  if (typeof WebAssembly !== 'object') throw new Error('this browser has no WebAssembly');
  const params = new URLSearchParams(location.search);
  // ?threads=N: threads for the core (default: the browser's core count, at most 8); ?threads=1 with no
  // cross-origin isolation, or ?wasm=st, uses the single-threaded build.
  const want = Number(params.get('threads')) || navigator.hardwareConcurrency || 1;
  const threaded = self.crossOriginIsolated === true && typeof SharedArrayBuffer === 'function' &&
                   params.get('wasm') !== 'st';
  const variant = threaded ? 'aecodec-mt' : 'aecodec-st';
  overlay(`Loading aecodec (${threaded ? 'threaded' : 'single-threaded'} WebAssembly)...`);
  const font = await fetch('assets/ui-font.ttf').then((r) => (r.ok ? r.arrayBuffer() : null)).catch(() => null);
  await loadScript(`${variant}.js`);
  let appReady;
  const appStarted = new Promise((r) => { appReady = r; });
  const canvas = $('canvas');
  M = await createAecodecModule({
    canvas,
    aecThreads: want,
    // threads the core uses (C++ caps at 8) + the job thread, started with the page so no thread waits for one
    aecPoolSize: Math.min(8, want) + 1,
    aecFont: font ? new Uint8Array(font) : null,
    aecHost: { pickFile, download, runOrt, compare, publish },
    aecOnReady: () => appReady(),
    print: (t) => console.log(t),
    printErr: (t) => console.warn(t),
  });
  await appStarted;
  const w = (name, ret, args) => M.cwrap(name, ret, args);
  C = {
    state: w('aec_state_json', 'string', []),
    setManifest: w('aec_set_manifest', 'number', ['string']),
    modelBytes: w('aec_model_bytes', 'number', ['number', 'number', 'number']),
    modelFailed: w('aec_model_failed', null, ['number', 'string']),
    setOrtError: w('aec_set_ort_error', null, ['string', 'string']),
    select: w('aec_select', 'number', ['string', 'string']),
    encode: w('aec_encode', 'number', []),
    crossDecode: w('aec_cross_decode', 'number', []),
    busy: w('aec_busy', 'number', []),
    completed: w('aec_completed', 'number', []),
    setError: w('aec_set_error', null, ['string']),
    setJsBusy: w('aec_set_js_busy', null, ['number', 'string']),
    setView: w('aec_set_view', null, ['number']),
    openFile: w('aec_open_file', 'number', ['number', 'number', 'string', 'number']),
    setImageRgba: w('aec_set_image_rgba', 'number', ['number', 'number', 'number', 'string', 'number', 'number']),
    imageRgba: w('aec_image_rgba', 'number', ['number']),
    resultBytes: w('aec_result_bytes', 'number', []),
    resultSize: w('aec_result_size', 'number', []),
    download: w('aec_download', null, []),
    setCompare: w('aec_set_compare', 'number', ['number', 'number', 'number', 'number', 'number', 'number', 'number', 'number']),
    compareDone: w('aec_compare_done', null, []),
    ortBegin: w('aec_ort_begin', 'string', ['string']),
    ortEncoded: w('aec_ort_encoded', 'number', ['number', 'number', 'number', 'number', 'number']),
    ortLatent: w('aec_ort_latent', 'string', []),
    ortDecoded: w('aec_ort_decoded', 'number', ['number', 'number', 'number', 'number', 'number']),
    ortAbort: w('aec_ort_abort', null, ['string']),
    setEffort: w('aec_set_effort', 'number', ['number']),
    setQuality: w('aec_set_quality', 'number', ['number']),
    encodeToSize: w('aec_encode_to_size', 'number', ['number']),
    cancel: w('aec_cancel', 'number', []),
  };
  overlay(null);
  canvas.focus();

  for (const id of ['file', 'file-aec']) {
    $(id).addEventListener('change', (e) => {
      const f = e.target.files && e.target.files[0];
      e.target.value = '';
      if (f) openFile(f).catch((err) => console.warn(err.message));
    });
  }
  let dragDepth = 0;
  const hint = $('drop-hint');
  window.addEventListener('dragenter', (e) => { e.preventDefault(); if (++dragDepth === 1) hint.classList.add('on'); });
  window.addEventListener('dragleave', () => { if (--dragDepth <= 0) { dragDepth = 0; hint.classList.remove('on'); } });
  window.addEventListener('dragover', (e) => e.preventDefault());
  window.addEventListener('drop', (e) => {
    e.preventDefault();
    dragDepth = 0;
    hint.classList.remove('on');
    const f = e.dataTransfer && e.dataTransfer.files && e.dataTransfer.files[0];
    if (f) openFile(f).catch((err) => console.warn(err.message));
  }, true);

  setJsBusy(1, 'Loading the models');
  try {
    await loadModels();
  } finally {
    setJsBusy(-1);
  }
  const sample = params.get('image') ?? 'assets/sample.png';
  if (sample) await openFile(sample, { name: sample.split('/').pop() }).catch((e) => console.warn(e.message));
  await waitIdle();
}

// ---- window.aecodec ------------------------------------------------------------------------------------------------

function need() { if (!C) throw new Error('aecodec is not ready yet (await aecodec.ready)'); }

async function select({ model, backend, effort, quality } = {}) {
  need();
  await waitIdle();
  if (effort !== undefined && effort !== null) {
    if (!Number.isInteger(effort)) throw new Error(`effort must be an integer (0 to 9), not ${effort}`);
    if (C.setEffort(effort) !== 0) throw new Error(state().error);
  }
  if (C.select(model || '', backend || '') !== 0) throw new Error(state().error);
  if (quality !== undefined && quality !== null) {
    // The selected model's quality (variable-rate models only; the core says why not otherwise).
    if (typeof quality !== 'number' || !Number.isFinite(quality)) {
      const msg = `quality must be a number from 1 to 100, not ${quality}`;
      C.setError(msg);
      throw new Error(msg);
    }
    if (C.setQuality(quality) !== 0) throw new Error(state().error);
  }
}

window.aecodec = {
  version: 1,
  ready,
  state() { need(); return state(); },
  models() { need(); return state().models; },
  result() { need(); return state().result; },
  resultBytes() {
    need();
    const n = C.resultSize();
    const p = C.resultBytes() >>> 0;
    return n ? heap().slice(p, p + n) : null;
  },
  lastError() { need(); return state().error || null; },
  // The current image's pixels as the core codes them (after EXIF orientation and conversion to sRGB).
  originalPixels() {
    need();
    const im = state().image;
    if (!im || !im.width) return null;
    const rgba = new Uint8ClampedArray(heap().buffer, C.imageRgba(0) >>> 0, im.width * im.height * 4).slice();
    C.imageRgba(-1);
    return new ImageData(rgba, im.width, im.height);
  },
  idle: () => waitIdle(),
  async loadImage(src, opts = {}) { need(); return openFile(src, opts); },
  async loadFile(src, opts = {}) { need(); return openFile(src, opts); },
  select,
  async encode({ model, backend, effort, quality, size } = {}) {
    need();
    const hasSize = size !== undefined && size !== null;
    if (hasSize && quality !== undefined && quality !== null)
      throw new Error('encode: give a quality or a size, not both (the size search chooses the quality)');
    if (hasSize && !(Number.isInteger(size) && size > 0))
      throw new Error(`size must be a positive whole number of bytes, not ${size}`);
    await select({ model, backend, effort, quality });
    const s0 = state();
    if (effort > 0) {
      // The page's own control falls back to effort 0 for such a model; a script asked for refinement.
      const m = s0.models.find((x) => x.name === s0.model);
      if (m && m.state === 'loaded' && m.max_effort < effort) {
        const msg = `model '${m.name}' cannot encode at effort ${effort}: ${m.effort_note}`;
        C.setError(msg);
        throw new Error(msg);
      }
    }
    const { error_serial: before, cancelled } = s0;
    if ((hasSize ? C.encodeToSize(size) : C.encode()) !== 0) throw new Error(state().error);
    await waitIdle();
    const s = state();
    if (s.error_serial !== before && s.error) throw new Error(s.error);
    if (s.cancelled !== cancelled) return null;  // cancel(): no result, the previous one stays
    return s.result;
  },
  async cancel() {
    need();
    const ok = C.cancel() === 0;
    if (ok) await waitIdle();
    return ok;
  },
  async crossDecode() {
    need();
    await waitIdle();
    const before = state().error_serial;
    if (C.crossDecode() !== 0) throw new Error(state().error);
    await waitIdle();
    const s = state();
    if (s.error_serial !== before && s.error) throw new Error(s.error);
    return s.cross;
  },
  async compare() { need(); await waitIdle(); const s = state(); return { jpeg: s.jpeg, webp: s.webp }; },
  download() { need(); C.download(); },
  showTab(name) {
    need();
    const i = ['compare', 'latent', 'cross-decode', 'about'].indexOf(name);
    if (i < 0) throw new Error(`unknown tab '${name}' (compare, latent, cross-decode, about)`);
    C.setView(i);
  },
};

start().then(() => resolveReady(window.aecodec), (e) => {
  overlay(`aecodec could not start: ${e.message || e}`, true);
  rejectReady(e);
});
