// The codec over the WebAssembly core (dist/aecodec-core.{js,wasm}, or dist/aecodec-core-mt.* with threads;
// built by wasm/build.sh from wasm/package/shim.cpp), synchronous, for a Worker (worker.js) or Node. No
// module-level mutable state: each openCore() is its own WebAssembly instance, each core.open() its own model
// and each core.openCodec() its own codec manifest.

const abortError = () => (typeof DOMException === 'function'
  ? new DOMException('the operation was cancelled', 'AbortError')
  : Object.assign(new Error('the operation was cancelled'), { name: 'AbortError' }));

// {module: a compiled WebAssembly.Module of the build, or its .wasm bytes; threads: 1 for the single-threaded
// build, more for the threaded one (pthreads: a Worker of a cross-origin isolated page)}.
export async function openCore({ module, threads = 1 }) {
  const mt = threads > 1;
  const { default: factory } = await (mt ? import('./dist/aecodec-core-mt.js') : import('./dist/aecodec-core.js'));
  const config = { print: () => {}, printErr: (t) => console.warn(t) };
  let failed;
  const failure = new Promise((_, reject) => { failed = reject; });
  if (typeof WebAssembly.Module === 'function' && module instanceof WebAssembly.Module) {
    config.instantiateWasm = (imports, done) => {
      WebAssembly.instantiate(module, imports).then((instance) => done(instance, module), failed);
      return {};
    };
  } else {
    config.wasmBinary = module;
  }
  if (mt) config.aecPoolSize = threads;  // the core's threads, started with the module
  const M = await Promise.race([factory(config), failure]);
  if (mt) M._aecp_set_threads(threads);
  const heap = () => M.aecpHeap();
  const text = new TextDecoder();
  // Copies bytes into the heap (a malloc'ed block); pointers are unsigned (the heap may pass 2 GiB).
  const put = (bytes) => {
    const p = M._malloc(Math.max(1, bytes.length)) >>> 0;
    if (!p) throw new Error('out of memory in the codec');
    heap().set(bytes, p);
    return p;
  };
  // fn(pointer) with bytes in the heap for the call only.
  const withBytes = (bytes, fn) => {
    const p = put(bytes);
    try {
      return fn(p);
    } finally {
      M._free(p);
    }
  };
  // Reads and frees an AecpOut (shim.cpp): {status, width, height, size, quality, data, meta, floats}.
  const take = (o) => {
    o >>>= 0;
    const v = new DataView(heap().buffer);
    const status = v.getInt32(o, true), width = v.getInt32(o + 4, true), height = v.getInt32(o + 8, true);
    const size = v.getInt32(o + 12, true), quality = v.getFloat64(o + 16, true), data = v.getUint32(o + 24, true);
    const metaSize = v.getInt32(o + 28, true), meta = v.getUint32(o + 32, true);
    const floatCount = v.getInt32(o + 36, true), floats = v.getUint32(o + 40, true);
    const bytes = heap().slice(data, data + size);
    const info = metaSize > 0 ? JSON.parse(text.decode(heap().slice(meta, meta + metaSize))) : {};
    const f32 = floatCount > 0 ? new Float32Array(heap().slice(floats, floats + floatCount * 4).buffer) : null;
    M._aecp_out_free(o);
    if (status === 2) throw abortError();
    if (status !== 0) throw new Error(text.decode(bytes));
    return { width, height, quality, bytes, meta: info, floats: f32 };
  };
  // Runs fn with the progress hook the shim calls: onProgress(fraction); a signal that has fired stops the
  // call at its next report.
  const withProgress = (onProgress, signal, fn) => {
    if (signal?.aborted) throw abortError();
    M.aecpProgress = (f) => {
      if (onProgress) onProgress(f);
      return !signal?.aborted;
    };
    try {
      return fn();
    } finally {
      M.aecpProgress = null;
    }
  };
  // An image for the shim: [pointer (malloc'ed, the shim frees it), width, height, channels].
  const pixels = (image) => {
    if (image instanceof ArrayBuffer || ArrayBuffer.isView(image)) {
      const px = image instanceof ArrayBuffer ? new Uint8Array(image)
        : new Uint8Array(image.buffer, image.byteOffset, image.byteLength);
      return [put(px), px.length, 0, 0];
    }
    if (image && image.width > 0 && image.height > 0 && image.data) {
      const { width: w, height: h } = image;
      const px = new Uint8Array(image.data.buffer, image.data.byteOffset, image.data.byteLength);
      const ch = px.length / (w * h);
      if (ch !== 4 && ch !== 3) throw new Error(`image data of ${px.length} bytes for ${w}x${h} (RGBA or RGB)`);
      return [put(px), w, h, ch];
    }
    throw new Error('encode: an ImageData-like {width, height, data} or an image file\'s bytes');
  };
  const latentOf = (r) => r.floats && { channels: r.meta.latent[0], height: r.meta.latent[1],
                                        width: r.meta.latent[2], data: r.floats };
  const asBytes = (b) => (b instanceof Uint8Array ? b : new Uint8Array(b));
  // A codec's result: the member that made (or reads) the file and the member's own quality.
  const member = (r) => (r.meta.model_quality !== undefined ? { model: r.meta.model, modelQuality: r.meta.model_quality }
    : {});
  // A handle out of a call that writes it to *out: [AecpOut, handle].
  const withHandle = (fn) => {
    const slot = M._malloc(4) >>> 0;
    try {
      const out = fn(slot);
      return [out, new DataView(heap().buffer).getUint32(slot, true)];
    } finally {
      M._free(slot);
    }
  };
  const decodeResult = (r, latent) => {
    const out = { width: r.width, height: r.height, quality: r.quality, timings: r.meta.timings,
                  data: new Uint8ClampedArray(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength) };
    if (latent) Object.assign(out, { latent: latentOf(r), channelBits: r.meta.channel_bits });
    return out;
  };
  // encodeLatent through the shim's fn (a model's or a codec's): y {channels, height, width, data:
  // Float32Array}, the exported encoder graph's output for `image` (padded to the stride); image as encode's
  // (its pixels are read only at effort > 0). Returns {bytes, quality, timings} (a codec's adds model and
  // modelQuality).
  const encodeLatentWith = (fn, ptr, y, image, { quality = 0, effort = 0, onProgress, signal } = {}) => {
    if (!(y && y.data instanceof Float32Array && y.data.length === y.channels * y.height * y.width))
      throw new Error('encodeLatent: a latent {channels, height, width, data: Float32Array}');
    if (!(image && image.width > 0 && image.height > 0))
      throw new Error('encodeLatent: the image {width, height, data} the latent was computed from');
    return withProgress(onProgress, signal, () => {
      const [p, w, h, ch] = effort > 0 ? pixels(image) : [M._malloc(1) >>> 0, image.width, image.height, 4];
      const yBytes = new Uint8Array(y.data.buffer, y.data.byteOffset, y.data.byteLength);
      const r = withBytes(yBytes, (yp) =>
        take(fn(ptr, yp, y.channels, y.height, y.width, p, w, h, ch, quality || 0, effort || 0)));
      return { bytes: r.bytes, quality: r.quality, timings: r.meta.timings, ...member(r) };
    });
  };
  // decodeLatent through the shim's fn: {latent, width, height, quality, channelBits, timings} (a codec's
  // adds model and modelQuality).
  const decodeLatentWith = (fn, ptr, aec, signal) => {
    const bytes = asBytes(aec);
    return withProgress(null, signal, () => {
      const r = withBytes(bytes, (p) => take(fn(ptr, p, bytes.length)));
      return { latent: latentOf(r), width: r.width, height: r.height, quality: r.quality,
               channelBits: r.meta.channel_bits, timings: r.meta.timings, ...member(r) };
    });
  };
  return {
    threads: mt ? threads : 1,
    // model: the .aem file's bytes. Returns {info, encode, decode, memberFor, encodeLatent, decodeLatent, close}.
    open(model) {
      const bytes = asBytes(model);
      const [out, ptr] = withHandle((h) => withBytes(bytes, (p) => M._aecp_model_load(p, bytes.length, h)));
      const info = JSON.parse(text.decode(take(out).bytes));
      let closed = false;
      const live = () => { if (closed) throw new Error('the codec is closed'); };
      return {
        info,
        // image: ImageData-like {width, height, data: RGBA (or RGB) bytes}, or an image file's bytes (PNG,
        // JPEG, BMP, TGA). {quality (1-100, variable-rate models), effort (0-9), size (bytes), onProgress,
        // signal}. Returns {bytes: the .aec file, quality: the quality used (0 for a single-rate model),
        // width, height, timings, trials}.
        encode(image, { quality = 0, effort = 0, size = 0, onProgress, signal } = {}) {
          live();
          return withProgress(onProgress, signal, () => {
            const [p, w, h, ch] = pixels(image);
            const r = take(M._aecp_encode(ptr, p, w, h, ch, quality || 0, effort || 0, size || 0));
            return { bytes: r.bytes, quality: r.quality, width: r.width, height: r.height,
                     timings: r.meta.timings, trials: r.meta.trials };
          });
        },
        // bytes: an .aec file made by this model (cross: by another member of its family; up: by this
        // model, a family's medium member with an up decoder, decoded at twice its size). Returns {width,
        // height, data: RGBA Uint8ClampedArray, quality, timings} and with `latent` {latent: {channels,
        // height, width, data: Float32Array}, channelBits}.
        decode(aec, { cross = false, up = false, latent = false, onProgress, signal } = {}) {
          live();
          const bytes = aec instanceof Uint8Array ? aec : new Uint8Array(aec);
          return withProgress(onProgress, signal, () => {
            const r = withBytes(bytes, (p) =>
              take(M._aecp_decode(ptr, p, bytes.length, up ? 2 : cross ? 1 : 0, latent ? 1 : 0)));
            return decodeResult(r, latent);
          });
        },
        // The model itself (memberFor of a codec, for code that takes either): {name, quality, modelQuality}
        // for {quality}, {name} for a file.
        memberFor(arg = {}) {
          live();
          if (ArrayBuffer.isView(arg) || arg instanceof ArrayBuffer) return { name: info.name };
          const q = info.variable_rate ? Math.round((arg.quality || info.default_quality) * 100) / 100 : 0;
          return { name: info.name, quality: q, modelQuality: q };
        },
        // latent: {channels, height, width, data: Float32Array}, the model's exported encoder graph's output
        // for `image` (padded to the stride); image: as encode's (its pixels are read only at effort > 0).
        // Returns {bytes, quality, timings}.
        encodeLatent(y, image, options = {}) {
          live();
          return encodeLatentWith(M._aecp_encode_latent, ptr, y, image, options);
        },
        // The input of the model's exported decoder graph for an .aec file made by this model: {latent,
        // width, height (the image's: the graph's output is cropped to it), quality, channelBits, timings}.
        decodeLatent(aec, { signal } = {}) {
          live();
          return decodeLatentWith(M._aecp_decode_latent, ptr, aec, signal);
        },
        close() {
          if (!closed) M._aecp_model_free(ptr);
          closed = true;
        },
      };
    },
    // manifest: a codec manifest's bytes (NAME.codec.json, codec_manifest.h), parsed and checked by the core.
    // Returns {info, needs, add, memberFor, encode, decode, encodeLatent, decodeLatent, close}: the core's QualityCodec, whose members are loaded
    // from bytes handed over with add(name, bytes); needs(...) says which members a call needs that are not
    // loaded yet (the core's mapping of the knob), so the caller fetches only those.
    openCodec(manifest) {
      const bytes = asBytes(manifest);
      const [out, ptr] = withHandle((h) => withBytes(bytes, (p) => M._aecp_codec_open(p, bytes.length, h)));
      const m = JSON.parse(text.decode(take(out).bytes));
      const info = { kind: 'codec', name: m.name, description: m.description, variable_rate: true,
                     default_quality: m.default_quality,
                     members: m.members.map((x) => ({ name: x.model, quality: x.quality,
                                                      model_quality: x.model_quality })) };
      let closed = false;
      const live = () => { if (closed) throw new Error('the codec is closed'); };
      const names = (r) => JSON.parse(text.decode(r.bytes)).members.map((i) => info.members[i].name);
      return {
        info,
        // The members not loaded yet that a call needs: op 'encode' with {quality} (the member the knob maps
        // it to) or {size} (all: the search runs over the whole knob), op 'decode' with the file (the member
        // its header names). Rejects a quality outside 1-100 or a file no member made with the core's message.
        needs(op, arg = {}) {
          live();
          if (op === 'decode') {
            const file = asBytes(arg);
            return names(withBytes(file, (p) => take(M._aecp_codec_needs(ptr, 2, 0, p, file.length))));
          }
          if (arg.size) return names(take(M._aecp_codec_needs(ptr, 1, 0, 0, 0)));
          return names(take(M._aecp_codec_needs(ptr, 0, arg.quality || 0, 0, 0)));
        },
        // Member `name`'s .aem bytes: loaded now (a file that is not that member is refused). Returns the
        // member's description (as a model's info).
        add(name, model) {
          live();
          const b = asBytes(model);
          const enc = new TextEncoder().encode(name + '\0');
          return withBytes(enc, (n) => withBytes(b, (p) =>
            JSON.parse(text.decode(take(M._aecp_codec_add(ptr, n, p, b.length)).bytes))));
        },
        // As a model's encode: `quality` is the knob's; the result adds `model` (the member that made the
        // file) and `modelQuality` (the member's own quality, which the file records).
        encode(image, { quality = 0, effort = 0, size = 0, onProgress, signal } = {}) {
          live();
          return withProgress(onProgress, signal, () => {
            const [p, w, h, ch] = pixels(image);
            const r = take(M._aecp_codec_encode(ptr, p, w, h, ch, quality || 0, effort || 0, size || 0));
            return { bytes: r.bytes, quality: r.quality, width: r.width, height: r.height,
                     timings: r.meta.timings, trials: r.meta.trials, model: r.meta.model,
                     modelQuality: r.meta.model_quality };
          });
        },
        // As a model's decode, by the member the file names: `quality` is the knob's for the member's
        // recorded quality, `model` and `modelQuality` the member and its own.
        decode(aec, { cross = false, latent = false, onProgress, signal } = {}) {
          live();
          if (cross) throw new Error(`codec '${info.name}': cross-decoding takes a family's model, not a codec`);
          const bytes = asBytes(aec);
          return withProgress(onProgress, signal, () => {
            const r = withBytes(bytes, (p) => take(M._aecp_codec_decode(ptr, p, bytes.length, latent ? 1 : 0)));
            return Object.assign(decodeResult(r, latent), { model: r.meta.model, modelQuality: r.meta.model_quality });
          });
        },
        // Which member a call uses and at what quality, by the core's mapping, without loading it: {quality}
        // (0: the default) gives {name, quality: the knob's, modelQuality: the member's own}; a file's bytes
        // {name} (the member its header names; a file no member made is the core's error).
        memberFor(arg = {}) {
          live();
          if (ArrayBuffer.isView(arg) || arg instanceof ArrayBuffer) {
            const file = asBytes(arg);
            const j = JSON.parse(text.decode(withBytes(file, (p) => take(M._aecp_codec_needs(ptr, 2, 0, p, file.length))).bytes));
            return { name: j.model };
          }
          const q = arg.quality || 0;
          const j = JSON.parse(text.decode(take(M._aecp_codec_needs(ptr, 0, q, 0, 0)).bytes));
          return { name: j.model, quality: j.quality, modelQuality: j.model_quality };
        },
        // As a model's, with `quality` the knob's: `y` is the output of the encoder graph of the member that
        // serves it (memberFor), and the file that member's at its own quality, as encode makes it. The
        // result adds `model` and `modelQuality`.
        encodeLatent(y, image, options = {}) {
          live();
          return encodeLatentWith(M._aecp_codec_encode_latent, ptr, y, image, options);
        },
        // As a model's, by the member the file names (the input of that member's decoder graph); `quality` is
        // the knob's, and the result adds `model` and `modelQuality`.
        decodeLatent(aec, { signal } = {}) {
          live();
          return decodeLatentWith(M._aecp_codec_decode_latent, ptr, aec, signal);
        },
        close() {
          if (!closed) M._aecp_codec_free(ptr);
          closed = true;
        },
      };
    },
  };
}
