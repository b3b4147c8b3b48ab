// The codec over the WebAssembly core (dist/aecodec-core.{js,wasm}, built by wasm/build.sh from
// wasm/package/shim.cpp), synchronous, for a Worker (worker.js) or Node. No module-level mutable state: each
// openCore() is its own WebAssembly instance, each core.open() its own model.
import createAecodecCore from './dist/aecodec-core.js';

// wasm: the bytes of dist/aecodec-core.wasm (ArrayBuffer or Uint8Array).
export async function openCore(wasm) {
  const M = await createAecodecCore({ wasmBinary: wasm, print: () => {}, printErr: () => {} });
  const heap = () => M.HEAPU8;
  const put = (bytes) => {
    const p = M._malloc(Math.max(1, bytes.length));
    heap().set(bytes, p);
    return p;
  };
  // Reads and frees an AecpOut (shim.cpp): {status, width, height, size, quality, data}.
  const take = (o) => {
    const v = new DataView(heap().buffer);
    const status = v.getInt32(o, true), width = v.getInt32(o + 4, true), height = v.getInt32(o + 8, true);
    const size = v.getInt32(o + 12, true), quality = v.getFloat64(o + 16, true), data = v.getUint32(o + 24, true);
    const bytes = heap().slice(data, data + size);
    M._aecp_out_free(o);
    if (status !== 0) throw new Error(new TextDecoder().decode(bytes));
    return { width, height, quality, bytes };
  };
  return {
    // model: the .aem file's bytes. Returns {info, encode, decode, close}.
    open(model) {
      const bytes = model instanceof Uint8Array ? model : new Uint8Array(model);
      const p = put(bytes), handle = M._malloc(4);
      let out;
      try {
        out = M._aecp_model_load(p, bytes.length, handle);
      } finally {
        M._free(p);
      }
      const ptr = new DataView(heap().buffer).getUint32(handle, true);
      M._free(handle);
      const info = JSON.parse(new TextDecoder().decode(take(out).bytes));
      let closed = false;
      const live = () => { if (closed) throw new Error('the codec is closed'); };
      return {
        info,
        // image: ImageData-like {width, height, data: RGBA (or RGB) bytes}, or an image file's bytes
        // (PNG, JPEG, BMP, TGA). {quality (1-100, variable-rate models), effort (0-9), size (bytes)}.
        // Returns {bytes: the .aec file, quality: the quality used (0 for a single-rate model)}.
        encode(image, { quality = 0, effort = 0, size = 0 } = {}) {
          live();
          let px, w, h, ch;
          if (image instanceof ArrayBuffer || ArrayBuffer.isView(image)) {
            px = image instanceof ArrayBuffer ? new Uint8Array(image)
              : new Uint8Array(image.buffer, image.byteOffset, image.byteLength);
            w = px.length, h = 0, ch = 0;
          } else if (image && image.width > 0 && image.height > 0 && image.data) {
            w = image.width, h = image.height;
            px = new Uint8Array(image.data.buffer, image.data.byteOffset, image.data.byteLength);
            ch = px.length / (w * h);
            if (ch !== 4 && ch !== 3) throw new Error(`image data of ${px.length} bytes for ${w}x${h} (RGBA or RGB)`);
          } else {
            throw new Error('encode: an ImageData-like {width, height, data} or an image file\'s bytes');
          }
          const p = put(px);
          try {
            const r = take(M._aecp_encode(ptr, p, w, h, ch, quality || 0, effort || 0, size || 0));
            return { bytes: r.bytes, quality: r.quality };
          } finally {
            M._free(p);
          }
        },
        // bytes: an .aec file made by this model. Returns {width, height, data: RGBA Uint8ClampedArray}.
        decode(aec) {
          live();
          const bytes = aec instanceof Uint8Array ? aec : new Uint8Array(aec);
          const p = put(bytes);
          try {
            const r = take(M._aecp_decode(ptr, p, bytes.length));
            return { width: r.width, height: r.height,
                     data: new Uint8ClampedArray(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength) };
          } finally {
            M._free(p);
          }
        },
        close() {
          if (!closed) M._aecp_model_free(ptr);
          closed = true;
        },
      };
    },
  };
}
