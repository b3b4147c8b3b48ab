// The page side of the aecodec demo: loads the WASM app (threaded when the page is cross-origin isolated) and
// the aecodec package (packages/aecodec, staged as aecodec/: the codec in Workers, threaded likewise), the
// models of models/manifest.json and the sample image; does the page's coding through the package (the app
// asks for it and measures and shows what comes back); handles files (picker, drag and drop), downloads, the
// browser's JPEG/WebP encoders for the same-size comparison, and the ONNX Runtime Web backend; and exposes
// window.aecodec (documented in web/API.md).

const MAX_FILE_BYTES = 256 << 20;
const $ = (id) => document.getElementById(id);

let M = null;   // the Emscripten module
let C = null;   // wrapped C functions
let pkg = null;   // the aecodec package (aecodec/index.js)
let core = null;  // its compiled core, shared by the codecs
const modelFiles = new Map();  // model name -> the .aem file's bytes (a codec's: its .codec.json)
const memberFetches = new Map();  // "model/member" (indices) -> Promise of a codec member's .aem bytes
let ortModule = null;
const ortSessions = new Map();  // model (or codec member) name -> {enc, dec} (or a Promise of it)
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

// The ONNX Runtime sessions of model `name`'s graphs, or for a codec entry of its member `member`'s (each
// member has graphs of its own, fetched when the backend first needs that member).
async function ortSessionsFor(name, member = null) {
  const key = member || name;
  if (!ortSessions.has(key)) {
    ortSessions.set(key, (async () => {
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
      const graphs = member ? man?.members?.find((x) => x.name === member) : man;
      if (!graphs || !graphs.onnx) throw new Error(`no ONNX graphs for '${key}'`);
      const opts = { executionProviders: ['wasm'], graphOptimizationLevel: 'all' };
      const [enc, dec] = await Promise.all([
        ortModule.InferenceSession.create(new URL(graphs.onnx.encoder, location.href).href, opts),
        ortModule.InferenceSession.create(new URL(graphs.onnx.decoder, location.href).href, opts),
      ]);
      return { enc, dec };
    })());
  }
  try {
    return await ortSessions.get(key);
  } catch (e) {
    ortSessions.delete(key);
    C.setOrtError(name, `could not load the ONNX graphs${member ? ` of member '${member}'` : ''}: ${e.message || e}`);
    throw e;
  }
}

// ---- coding through the package -----------------------------------------------------------------------------------

// A codec per model, made when first needed; the two used last stay open (a cross-decode uses two), each a
// Worker with the core and the model. With `member`: a plain codec of that member network of codec entry
// `name` (its .aem, fetched as the codec's own fetches are), for a cross-resolution family whose high member
// it is (a codec does not cross-decode; its member's network does).
const codecs = new Map();  // model name (or "codec/member") -> Promise of the codec, the one used last at the end
const MAX_CODECS = 2;
function codecFor(name, member = null) {
  const key = member ? `${name}/${member}` : name;
  let p = codecs.get(key);
  if (p) {
    codecs.delete(key);
    codecs.set(key, p);
    return p;
  }
  const bytes = modelFiles.get(name);
  if (!bytes) return Promise.reject(new Error(`model '${name}' is not loaded`));
  // A codec (its manifest): the package asks for a member when a call first needs it (the core's mapping of
  // the knob); the page fetches it once, for the package and the app's description alike.
  const i = manifest.models.findIndex((m) => m.name === name);
  const entry = manifest.models[i];
  const fetchNamed = (m) => {
    const k = entry.members.findIndex((x) => x.name === m);
    if (k < 0) throw new Error(`codec '${name}' has no member '${m}' on this site`);
    return fetchMember(i, k);
  };
  if (member) {
    if (!entry?.codec) return Promise.reject(new Error(`model '${name}' is no codec: it has no member '${member}'`));
    p = (async () => pkg.createCodec({ model: await fetchNamed(member), core }))();
  } else {
    p = pkg.createCodec({ model: bytes, members: entry?.codec ? fetchNamed : undefined, core });
  }
  p.catch(() => codecs.delete(key));
  codecs.set(key, p);
  while (codecs.size > MAX_CODECS) {
    const [oldest, old] = codecs.entries().next().value;
    codecs.delete(oldest);
    old.then((c) => c.close(), () => {});
  }
  return p;
}

// An image of the app as the package takes it, {width, height, data: RGB bytes}: 0 the original, 2 the
// original 2x box-downscaled.
function imageRgb(which) {
  const j = JSON.parse(C.imageRgb(which));
  const data = new Uint8Array(heap().buffer, j.ptr >>> 0, j.width * j.height * 3).slice();
  if (which !== 0) C.imageRgb(-1);
  return { width: j.width, height: j.height, data };
}

const asBytes = (v) => (v instanceof Uint8Array ? v : new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
const latentMeta = (d) => ({ latent: [d.latent.channels, d.latent.height, d.latent.width],
                             channel_bits: d.channelBits });
const progress = (lo, hi) => (f) => C.jobProgress(lo + (hi - lo) * f);

// What the app's page jobs ask for (app.h: start_coding). Each returns {meta, slots: {slot: bytes}}; the slots
// are app.h's Slot (0 the .aec file, 1 an image (RGBA) or the ONNX decoder's output, 2 the latent, 3 to 5
// more images).
const ops = {
  // Encodes the original and decodes the file (a photo's tiles and bands of rows on the progress bar).
  async encode(req, bytes, signal) {
    const codec = await codecFor(req.model);
    const options = { signal, effort: req.effort };
    if (req.size > 0) options.size = req.size;
    else options.quality = req.quality;
    if (req.photo) options.onProgress = progress(0, 0.45);
    else if (req.effort > 0) options.onProgress = progress(0, 1);
    const file = await codec.encode(imageRgb(0), options);
    if (req.photo) C.jobProgress(0.5);
    const back = await codec.decode(file, { latent: true, signal, onProgress: req.photo ? progress(0.5, 0.95) : null });
    return {
      meta: { quality: file.quality, trials: file.trials, encode: file.timings, decode: back.timings,
              member: file.model, ...latentMeta(back) },
      slots: { 0: file, 1: back.data, 2: back.latent.data },
    };
  },
  // Decodes an opened .aec file.
  async decode(req, bytes, signal) {
    const codec = await codecFor(req.model);
    const back = await codec.decode(bytes, { latent: true, signal, onProgress: progress(0, 1) });
    return {
      meta: { quality: back.quality, width: back.width, height: back.height, decode: back.timings, member: back.model,
              ...latentMeta(back) },
      slots: { 0: bytes, 1: back.data, 2: back.latent.data },
    };
  },
  // Cross-resolution decoding within a family: the original coded by the high member and its 2x box-downscaled
  // copy by the medium member (at req.quality, a variable-rate family's; else each member's own rate), then
  // high -> medium (cross-decode) with its baseline (the high file decoded at full size, which the app
  // box-downscales) and medium -> high (cross-decode) with the medium member's own decode (the app upscales it
  // bicubic). Both files are coded before any decode, so every decode runs with its member already at the
  // quality (its gains folded) and the decode times compare. req.high_member: the high member is that member
  // network of codec req.high (a family built on it, as family-medium on channel's), which codes and decodes
  // the high path itself, at its own quality req.quality.
  async cross(req, bytes, signal) {
    const t0 = performance.now();
    const high = await codecFor(req.high, req.high_member || null), medium = await codecFor(req.medium);
    const options = req.quality > 0 ? { quality: req.quality, signal } : { signal };
    const eh = await high.encode(imageRgb(0), options);
    const em = await medium.encode(imageRgb(2), options);
    const h2m = await medium.decode(eh, { cross: true, signal });
    const full = await high.decode(eh, { signal });
    // The medium file at full size: the medium member's up decoder where it has one (docs/family.md), else
    // the high member's decoder.
    const up = !!(medium.info.family && medium.info.family.up_decoder);
    const m2h = up ? await medium.decode(em, { up: true, signal }) : await high.decode(em, { cross: true, signal });
    const own = await medium.decode(em, { signal });
    const size = (im) => [im.width, im.height];
    return {
      meta: { ms: performance.now() - t0, h2m_bytes: eh.length, m2h_bytes: em.length,
              h2m_quality: eh.quality, m2h_quality: em.quality,
              h2m_decode_ms: h2m.timings.total_ms, full_decode_ms: full.timings.total_ms,
              m2h_decode_ms: m2h.timings.total_ms, own_decode_ms: own.timings.total_ms,
              h2m: size(h2m), m2h: size(m2h), own: size(own), full: size(full), up_decoder: up },
      slots: { 1: h2m.data, 3: m2h.data, 4: own.data, 5: full.data },
    };
  },
  // The ONNX Runtime backend: ONNX Runtime runs the model's exported graphs, the package codes the latent
  // between them (refining it at effort > 0).
  // A codec runs the graphs of the member the core's mapping picks for the quality (codec.memberFor), whose
  // latent the package codes at the member's own quality; the decoder graph is that of the member the file
  // names. A member's .aem and graphs are fetched when this first needs them.
  async ort(req, bytes, signal) {
    const name = req.model;
    const codec = await codecFor(name);
    const i = manifest.models.findIndex((m) => m.name === name);
    const entry = manifest.models[i];
    let member = null;
    if (entry?.codec) {
      member = (await codec.memberFor({ quality: req.quality })).name;
      const k = entry.members.findIndex((x) => x.name === member);
      if (k < 0) throw new Error(`codec '${name}' has no member '${member}' on this site`);
      await fetchMember(i, k);  // its stride pads the input; the package takes the same bytes
    }
    const { enc } = await ortSessionsFor(name, member);
    const t0 = performance.now();
    const inp = JSON.parse(C.ortInput(name, member || ''));
    if (inp.error) throw new Error(inp.error);
    const x = new Float32Array(heap().buffer, inp.ptr >>> 0, 3 * inp.h * inp.w).slice();
    let t = performance.now();
    const yOut = await enc.run({ [enc.inputNames[0]]: new ortModule.Tensor('float32', x, [1, 3, inp.h, inp.w]) });
    const encNet = performance.now() - t;
    const y = yOut[enc.outputNames[0]];
    const [, channels, height, width] = y.dims;
    if (signal.aborted) throw new DOMException('cancelled', 'AbortError');
    const image = req.effort > 0 ? imageRgb(0) : { width: state().image.width, height: state().image.height };
    const file = await codec.encodeLatent({ channels, height, width, data: y.data }, image, {
      quality: req.quality, effort: req.effort, signal, onProgress: req.effort > 0 ? progress(0, 1) : null });
    const encodeMs = performance.now() - t0;
    const lat = await codec.decodeLatent(file, { signal });
    const l = lat.latent;
    const { dec } = await ortSessionsFor(name, entry?.codec ? lat.model : null);
    t = performance.now();
    // (ONNX Runtime's worker takes the tensor's buffer: a copy, the latent stays for the heat maps.)
    const xOut = await dec.run({ [dec.inputNames[0]]: new ortModule.Tensor('float32', l.data.slice(),
                                                                           [1, l.channels, l.height, l.width]) });
    const decNet = performance.now() - t;
    const r = xOut[dec.outputNames[0]];
    return {
      meta: {
        quality: file.quality,
        member: file.model,
        encode: { ...file.timings, network_ms: encNet, total_ms: encodeMs },
        decode: { ...lat.timings, network_ms: decNet, total_ms: lat.timings.total_ms + decNet },
        ...latentMeta(lat),
        x: r.dims.slice(1),
      },
      slots: { 0: file, 1: r.data, 2: l.data },
    };
  },
};

// The running page job's coding (one at a time: the app starts one only when idle), and its cancel.
let coding = null;
function code(req, bytes) {
  const ac = new AbortController();
  coding = ac;
  // After the app's call that asked for it has returned.
  Promise.resolve().then(async () => {
    try {
      const r = await ops[req.op](req, bytes, ac.signal);
      if (ac.signal.aborted) throw new DOMException('cancelled', 'AbortError');
      for (const [slot, v] of Object.entries(r.slots)) {
        const b = asBytes(v);
        const p = C.jobSlot(Number(slot), b.length) >>> 0;
        if (!p && b.length) throw new Error('out of memory in the page');
        heap().set(b, p);
      }
      C.jobResult(JSON.stringify(r.meta));
    } catch (e) {
      if (ac.signal.aborted || e.name === 'AbortError') C.jobEnd(1, '');
      else C.jobEnd(0, (req.op === 'ort' ? 'ONNX Runtime backend: ' : '') + (e.message || String(e)));
    } finally {
      if (coding === ac) coding = null;
    }
  });
}
function cancelCoding() { coding?.abort(); }

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

// Member k of codec entry i (its .aem file), fetched once: the download's progress goes to the app (the
// slider's member list) and, while a page job waits for it, to the job's label and progress bar. The bytes go
// to the app (the member's description) and to the package's codec (which asked for them).
function fetchMember(i, k) {
  const key = `${i}/${k}`;
  if (memberFetches.has(key)) return memberFetches.get(key);
  const member = manifest.models[i].members[k];
  const p = (async () => {
    C.memberState(i, k, 1, 0, '');
    const res = await fetch(member.file);
    if (!res.ok) throw new Error(`${member.file}: HTTP ${res.status}`);
    const total = Number(res.headers.get('content-length')) || member.bytes || 0;
    const mb = total ? ` (${(total / 1e6).toFixed(1)} MB)` : '';
    let bytes;
    let jobLabel = null;  // the label of the page job that waits for this download, while it shows the download
    const show = (f) => {
      C.memberState(i, k, 1, f, '');
      if (!coding) return;
      if (jobLabel === null) jobLabel = state().busy_label;
      C.jobLabel(`Downloading ${member.name}.aem${mb}, the codec's member for this quality`);
      C.jobProgress(f);
    };
    if (res.body && total) {
      const reader = res.body.getReader();
      const chunks = [];
      let got = 0, shown = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
        got += value.length;
        if (got - shown >= total / 50) show(Math.min(1, got / total)), shown = got;
      }
      bytes = new Uint8Array(got);
      let o = 0;
      for (const c of chunks) bytes.set(c, o), o += c.length;
    } else {
      bytes = new Uint8Array(await res.arrayBuffer());
    }
    if (coding && jobLabel !== null) C.jobLabel(jobLabel), C.jobProgress(0);
    if (withBytes(bytes, (ptr, n) => C.memberBytes(i, k, ptr, n)) !== 0)
      throw new Error(state().models[i].codec.members[k].error || `${member.file}: not a member of the codec`);
    return bytes;
  })();
  memberFetches.set(key, p);
  p.catch((e) => {
    memberFetches.delete(key);
    C.memberState(i, k, 3, 0, e.message || String(e));
  });
  return p;
}

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
      if (m.codec) {
        // The core reads the manifest (the app's copy); the default quality's member comes with the page,
        // the others when the knob first needs them.
        const k = C.codecManifest(i, new TextDecoder().decode(bytes));
        if (k < 0) return;
        modelFiles.set(m.name, bytes);
        await fetchMember(i, k).catch(() => {});
        return;
      }
      // The app reads the model's description; the package's codecs get the file when they code with it.
      if (withBytes(bytes, (p, n) => C.modelBytes(i, p, n)) === 0) modelFiles.set(m.name, bytes);
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
  // The package does the coding, with the same threads (its threaded build where the app has its own).
  const packageReady = import('./aecodec/index.js').then(async (p) => {
    pkg = p;
    core = await p.loadCore({ threads: threaded ? Math.min(8, want) : 1 });
  });
  packageReady.catch(() => {});
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
    aecHost: { pickFile, download, code, cancel: cancelCoding, compare, publish,
               fetchMember: (i, k) => { fetchMember(i, k).catch((e) => console.warn(e.message || e)); } },
    aecOnReady: () => appReady(),
    print: (t) => console.log(t),
    printErr: (t) => console.warn(t),
  });
  await appStarted;
  await packageReady;
  const w = (name, ret, args) => M.cwrap(name, ret, args);
  C = {
    state: w('aec_state_json', 'string', []),
    setManifest: w('aec_set_manifest', 'number', ['string']),
    modelBytes: w('aec_model_bytes', 'number', ['number', 'number', 'number']),
    modelFailed: w('aec_model_failed', null, ['number', 'string']),
    codecManifest: w('aec_codec_manifest', 'number', ['number', 'string']),
    memberState: w('aec_member_state', null, ['number', 'number', 'number', 'number', 'string']),
    memberBytes: w('aec_member_bytes', 'number', ['number', 'number', 'number', 'number']),
    jobLabel: w('aec_job_label', null, ['string']),
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
    ortInput: w('aec_ort_input', 'string', ['string', 'string']),
    imageRgb: w('aec_image_rgb', 'string', ['number']),
    jobSlot: w('aec_job_slot', 'number', ['number', 'number']),
    jobResult: w('aec_job_result', null, ['string']),
    jobEnd: w('aec_job_end', null, ['number', 'string']),
    jobProgress: w('aec_job_progress', null, ['number']),
    setEffort: w('aec_set_effort', 'number', ['number']),
    setQuality: w('aec_set_quality', 'number', ['number']),
    setCrossQuality: w('aec_set_cross_quality', 'number', ['number']),
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
  // The family's quality first when given (a variable-rate family's; both members share it), as the
  // cross-decode tab's slider sets it.
  async crossDecode({ quality } = {}) {
    need();
    await waitIdle();
    const before = state().error_serial;
    if (quality !== undefined && quality !== null) {
      if (typeof quality !== 'number' || !Number.isFinite(quality)) {
        const msg = `quality must be a number from 1 to 100, not ${quality}`;
        C.setError(msg);
        throw new Error(msg);
      }
      if (C.setCrossQuality(quality) !== 0) throw new Error(state().error);
    }
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
