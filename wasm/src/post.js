// Appended to the Emscripten module: a view of the WASM heap that is current after the heap has grown (in the
// threaded build a worker thread can grow it while the page holds an old view).
Module['aecHeap'] = function () {
  if (wasmMemory.buffer !== buffer) updateGlobalBufferAndViews(wasmMemory.buffer);
  return HEAPU8;
};
