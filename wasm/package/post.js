// Appended to the package's Emscripten modules: a view of the WebAssembly heap that is current after the heap
// has grown (in the threaded build a pool thread can grow it while the calling thread holds an old view).
Module['aecpHeap'] = function () {
  if (wasmMemory.buffer !== buffer) updateGlobalBufferAndViews(wasmMemory.buffer);
  return HEAPU8;
};
