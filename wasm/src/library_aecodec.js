// What the C++ app asks of the page (web/app.js installs Module.aecHost with these callbacks).
mergeInto(LibraryManager.library, {
  aec_js_pick_file: function (kind) { Module.aecHost && Module.aecHost.pickFile(kind); },
  aec_js_download: function (ptr, size, name) {
    ptr >>>= 0;  // a heap over 2 GiB: pointers are unsigned
    const bytes = HEAPU8.slice(ptr, ptr + size);
    Module.aecHost && Module.aecHost.download(bytes, UTF8ToString(name));
  },
  aec_js_run_ort: function (model) { Module.aecHost && Module.aecHost.runOrt(UTF8ToString(model)); },
  aec_js_compare: function (target) { Module.aecHost && Module.aecHost.compare(target); },
  aec_js_publish: function () { Module.aecHost && Module.aecHost.publish(); },
});
