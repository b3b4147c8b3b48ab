// ONNX Runtime (npm onnxruntime-node, CPU) on a model's exported encoder and decoder graphs: the peer that
// bench/run.sh compares the core with. Prints one JSON line: median wall ms of each network.
//   node bench/ort_native.mjs ENCODER.onnx DECODER.onnx WIDTH HEIGHT THREADS [REPEAT]
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const ort = require('../tests/onnx/node_modules/onnxruntime-node');

const [enc, dec, w, h, threads, repeat] = process.argv.slice(2);
const W = +w, H = +h, T = +threads, R = +(repeat || 3);
const opts = { intraOpNumThreads: T, interOpNumThreads: 1, graphOptimizationLevel: 'all' };
const es = await ort.InferenceSession.create(enc, opts);
const ds = await ort.InferenceSession.create(dec, opts);
const x = new Float32Array(3 * W * H);
for (let i = 0; i < x.length; ++i) x[i] = ((i * 2654435761) >>> 24) / 255;  // the same busy content as `aecodec bench`
const image = new ort.Tensor('float32', x, [1, 3, H, W]);
const latent = (await es.run({ [es.inputNames[0]]: image }))[es.outputNames[0]];  // also the warm-up
await ds.run({ [ds.inputNames[0]]: latent });
async function median(fn) {
  const t = [];
  for (let r = 0; r < R; ++r) {
    const t0 = process.hrtime.bigint();
    await fn();
    t.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  t.sort((a, b) => a - b);
  return t[Math.floor(t.length / 2)];
}
const encoder_ms = await median(() => es.run({ [es.inputNames[0]]: image }));
const decoder_ms = await median(() => ds.run({ [ds.inputNames[0]]: latent }));
console.log(JSON.stringify({ runtime: `onnxruntime-node ${ort.env.versions?.common ?? ''}`.trim(), threads: T, encoder_ms, decoder_ms }));
