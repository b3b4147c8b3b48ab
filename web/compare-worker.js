// Web Worker of the demo page: codes the original with the browser's own JPEG or WebP encoder at (at most) a
// target size, choosing the quality by bisection, and returns the decoded pixels. In a worker, so the page keeps
// drawing (and Chromium's canvas encoders are not starved by the page's animation frames).
//   in:  {id, rgba (Uint8ClampedArray), width, height, target, types: ['image/jpeg', 'image/webp']}
//   out: {id, result: {type, bytes, quality, atMin, rgba}} per type, then {id, done: true}; or {id, error}
async function encode(canvas, type, quality) {
  const blob = await canvas.convertToBlob({ type, quality });
  return blob && blob.type === type ? { blob, quality, bytes: blob.size } : null;  // null: no encoder for type
}

// The largest quality whose file has at most `target` bytes.
async function matchSize(canvas, type, target) {
  const lowest = await encode(canvas, type, 0);
  if (!lowest) return null;
  if (lowest.bytes > target) return { ...lowest, atMin: true };
  const top = await encode(canvas, type, 1);
  if (top.bytes <= target) return { ...top, atMin: false };
  let best = lowest, lo = 0, hi = 1;
  for (let i = 0; i < 7; ++i) {  // the encoders take integer qualities 0..100: 7 halvings reach them
    const mid = (lo + hi) / 2;
    const r = await encode(canvas, type, mid);
    if (r.bytes <= target) { best = r; lo = mid; } else { hi = mid; }
  }
  return { ...best, atMin: false };
}

async function decode(blob, width, height) {
  const bmp = await createImageBitmap(blob, { colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  const c = new OffscreenCanvas(width, height);
  const ctx = c.getContext('2d', { willReadFrequently: true });
  ctx.drawImage(bmp, 0, 0);
  bmp.close();
  return ctx.getImageData(0, 0, width, height).data;
}

self.onmessage = async (e) => {
  const { id, rgba, width, height, target, types } = e.data;
  try {
    const canvas = new OffscreenCanvas(width, height);
    canvas.getContext('2d').putImageData(new ImageData(rgba, width, height), 0, 0);
    for (const type of types) {
      const r = await matchSize(canvas, type, target);
      if (!r) continue;
      const px = await decode(r.blob, width, height);
      self.postMessage({ id, result: { type, bytes: r.bytes, quality: r.quality, atMin: r.atMin, rgba: px } },
                       [px.buffer]);
    }
    self.postMessage({ id, done: true });
  } catch (err) {
    self.postMessage({ id, error: String((err && err.message) || err) });
  }
};
