// The package's Worker: one WebAssembly core and one model or codec manifest per Worker (index.js makes one per
// codec). Messages: {id, op: 'open', core: {module, threads}, model | manifest} -> info; {id, op: 'encode' |
// 'decode' | 'encodeLatent' | 'decodeLatent', args: [...], progress} -> the core.js call's result; {id, op:
// 'memberFor', args} -> the member a quality or a file uses; for a manifest also {id, op: 'needs' | 'add',
// args} (the members a call needs; a member's bytes). Replies {id, ok, value | error}, and {id, progress:
// fraction} while a call runs when asked for. One call at a time, in order; the page cancels a call by
// terminating the Worker.
import { openCore } from './core.js';

// The buffers of a result, handed over rather than copied.
function transferables(value) {
  const out = [];
  for (const v of [value?.bytes, value?.data, value?.latent?.data]) if (v?.buffer) out.push(v.buffer);
  return out;
}

function serve(scope) {
  let codec = null;
  let chain = Promise.resolve();
  const handle = async ({ id, op, core, model, manifest, args = [], progress }) => {
    try {
      let value;
      if (op === 'open') {
        const c = await openCore(core);
        codec = manifest ? c.openCodec(manifest) : c.open(model);
        value = codec.info;
      } else if (op === 'needs' || op === 'add' || op === 'memberFor') {
        if (!codec?.[op]) throw new Error('the codec is not open, or not a codec manifest');
        value = codec[op](...args);
      } else if (op === 'close') {
        codec?.close();
        value = true;
      } else if (['encode', 'decode', 'encodeLatent', 'decodeLatent'].includes(op)) {
        if (!codec) throw new Error('the codec is not open');
        const options = { ...(args[args.length - 1] || {}) };
        if (progress) {
          let last = -1;
          options.onProgress = (f) => {
            if (f >= 1 || f - last >= 0.005) {
              last = f;
              scope.postMessage({ id, progress: f });
            }
          };
        }
        value = codec[op](...args.slice(0, -1), options);
      } else {
        throw new Error(`unknown operation '${op}'`);
      }
      scope.postMessage({ id, ok: true, value }, transferables(value));
    } catch (e) {
      scope.postMessage({ id, ok: false, error: String((e && e.message) || e), name: e?.name });
    }
  };
  scope.onmessage = ({ data }) => {
    chain = chain.then(() => handle(data));
  };
}
serve(self);
