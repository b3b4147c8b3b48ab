// The package's Worker: one WebAssembly core and one model per Worker (index.js makes one per codec).
// Messages: {id, op: 'open', wasm, model} -> info; {id, op: 'encode', image, options} -> {bytes, quality};
// {id, op: 'decode', bytes} -> {width, height, data}. Replies {id, ok, value | error}.
import { openCore } from './core.js';

function serve(scope) {
  let codec = null;
  scope.onmessage = async ({ data: { id, op, ...args } }) => {
    try {
      let value, transfer = [];
      if (op === 'open') {
        codec = (await openCore(args.wasm)).open(args.model);
        value = codec.info;
      } else if (op === 'encode') {
        value = codec.encode(args.image, args.options);
        transfer = [value.bytes.buffer];
      } else if (op === 'decode') {
        value = codec.decode(args.bytes);
        transfer = [value.data.buffer];
      } else if (op === 'close') {
        codec?.close();
        value = true;
      } else {
        throw new Error(`unknown operation '${op}'`);
      }
      scope.postMessage({ id, ok: true, value }, transfer);
    } catch (e) {
      scope.postMessage({ id, ok: false, error: String(e && e.message || e) });
    }
  };
}
serve(self);
