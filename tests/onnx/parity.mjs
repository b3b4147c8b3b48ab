// ONNX parity: runs the exported encoder and decoder with ONNX Runtime (CPU) on the input the core saw
// (aec_core_forward's DATADIR) and compares with the core's outputs.
//   node parity.mjs NAME.encoder.onnx NAME.decoder.onnx DATADIR [--tol-latent 1e-3] [--tol-recon 1e-3]
// The decoder is fed the core's dequantised latent (latent_hat.f32), so the two checks are independent: a
// latent error within tolerance can still flip a rounding and must not count against the decoder.
// Prints the max abs differences; exits 1 above a tolerance (or on a shape mismatch, or NaN), 2 on misuse.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';

function usage(msg) {
  console.error(`parity.mjs: ${msg}\nusage: node parity.mjs ENCODER.onnx DECODER.onnx DATADIR ` +
                '[--tol-latent X] [--tol-recon X]');
  process.exit(2);
}

const args = process.argv.slice(2);
const tol = { latent: 1e-3, recon: 1e-3 };
const files = [];
for (let i = 0; i < args.length; ++i) {
  const m = /^--tol-(latent|recon)$/.exec(args[i]);
  if (m) {
    tol[m[1]] = Number(args[++i]);
    if (!(tol[m[1]] >= 0)) usage(`bad value for ${args[i - 1]}`);
  } else {
    files.push(args[i]);
  }
}
if (files.length !== 3) usage('expected three paths');
const [encoderPath, decoderPath, dir] = files;

// Raw little-endian float32 (copied: a small file's Buffer may sit at an unaligned offset in a shared pool).
function readF32(name, dims) {
  const buf = readFileSync(join(dir, name));
  const n = dims.reduce((a, b) => a * b, 1);
  if (buf.length !== n * 4) throw new Error(`${name}: ${buf.length} bytes, expected ${n * 4} for [${dims}]`);
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
}

function compare(what, got, want) {
  if (got.dims.join() !== want.dims.join())
    return { ok: false, text: `${what}: shape [${got.dims}] from ONNX Runtime, [${want.dims}] from the core` };
  let diff = 0, peak = 0;
  for (let i = 0; i < want.data.length; ++i) {
    const d = Math.abs(got.data[i] - want.data[i]);
    diff = d > diff || Number.isNaN(d) ? d : diff;  // NaN sticks, and fails the check below
    peak = Math.max(peak, Math.abs(want.data[i]));
  }
  const ok = diff <= tol[what];
  return { ok, text: `${what}: max abs diff ${diff.toExponential(2)} (tolerance ${tol[what]}, ` +
                     `max |value| ${peak.toPrecision(3)}, shape [${want.dims}])` };
}

async function run(path, inputName, data, dims) {
  const session = await ort.InferenceSession.create(path, { intraOpNumThreads: 2, interOpNumThreads: 1 });
  const out = await session.run({ [inputName]: new ort.Tensor('float32', data, dims) });
  const t = out[session.outputNames[0]];
  return { dims: t.dims.map(Number), data: t.data };
}

try {
  const shapes = JSON.parse(readFileSync(join(dir, 'shapes.json'), 'utf8'));
  const latent = await run(encoderPath, 'image', readF32('input.f32', shapes.input), shapes.input);
  const recon = await run(decoderPath, 'latent', readF32('latent_hat.f32', shapes.latent), shapes.latent);
  const results = [
    compare('latent', latent, { dims: shapes.latent, data: readF32('latent.f32', shapes.latent) }),
    compare('recon', recon, { dims: shapes.recon, data: readF32('recon.f32', shapes.recon) }),
  ];
  for (const r of results) console.log(`${shapes.model} ${r.ok ? 'ok  ' : 'FAIL'} ${r.text}`);
  process.exit(results.every((r) => r.ok) ? 0 : 1);
} catch (e) {
  console.error(`parity.mjs: ${e.message}`);
  process.exit(1);
}
