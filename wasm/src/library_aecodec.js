// What the C++ app asks of the page (web/app.js installs Module.aecHost with these callbacks).
mergeInto(LibraryManager.library, {
  aec_js_pick_file: function (kind) { Module.aecHost && Module.aecHost.pickFile(kind); },
  aec_js_download: function (ptr, size, name) {
    ptr >>>= 0;  // a heap over 2 GiB: pointers are unsigned
    const bytes = HEAPU8.slice(ptr, ptr + size);
    Module.aecHost && Module.aecHost.download(bytes, UTF8ToString(name));
  },
  // A page job's coding: the request (JSON) and its bytes, copied now (the pointer is the caller's).
  aec_js_code: function (request, data, size) {
    data >>>= 0;
    const bytes = size > 0 ? HEAPU8.slice(data, data + size) : null;
    Module.aecHost && Module.aecHost.code(JSON.parse(UTF8ToString(request)), bytes);
  },
  aec_js_cancel: function () { Module.aecHost && Module.aecHost.cancel(); },
  aec_js_compare: function (target) { Module.aecHost && Module.aecHost.compare(target); },
  aec_js_publish: function () { Module.aecHost && Module.aecHost.publish(); },
  aec_js_fetch_member: function (model, member) { Module.aecHost && Module.aecHost.fetchMember(model, member); },
});
