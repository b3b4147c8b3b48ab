// Images as GL textures at any size the page takes: tiles within the context's MAX_TEXTURE_SIZE, and an
// overview for the zoomed-out view of a photo (app.h).
#include <emscripten.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "app.h"

namespace web {

namespace {

// ?max_texture=N (N >= 256): tiles of at most N px a side, so tests can exercise the tiled path with a
// photo smaller than the context's limit.
EM_JS(int, page_max_texture, (), {
  const v = Number(new URLSearchParams(location.search).get('max_texture'));
  return v >= 256 ? Math.floor(v) : 0;
});

GLuint make_texture(const uint8_t* rgb, int w, int h) {
  GLuint id = 0;
  glGenTextures(1, &id);
  glBindTexture(GL_TEXTURE_2D, id);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_LINEAR);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_NEAREST);  // pixel-level zoom shows pixels
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_S, GL_CLAMP_TO_EDGE);
  glTexParameteri(GL_TEXTURE_2D, GL_TEXTURE_WRAP_T, GL_CLAMP_TO_EDGE);
  glPixelStorei(GL_UNPACK_ALIGNMENT, 1);
  glTexImage2D(GL_TEXTURE_2D, 0, GL_RGB8, w, h, 0, GL_RGB, GL_UNSIGNED_BYTE, rgb);
  return id;
}

ImTextureID as_im(GLuint id) {
  return reinterpret_cast<ImTextureID>(static_cast<intptr_t>(id));
}

}  // namespace

int max_texture_side() {
  static int side = 0;
  if (!side) {
    GLint gl = 0;
    glGetIntegerv(GL_MAX_TEXTURE_SIZE, &gl);
    side = std::clamp(int(gl), 2048, 4096);
    if (const int cap = page_max_texture(); cap > 0) side = std::min(side, cap);
  }
  return side;
}

aec::Image box_downscale(const aec::Image& im, int f) {
  const int ow = (im.width + f - 1) / f, oh = (im.height + f - 1) / f;
  aec::Image out(ow, oh);
  std::vector<uint32_t> acc(size_t(ow) * 3);
  for (int oy = 0; oy < oh; ++oy) {
    std::fill(acc.begin(), acc.end(), 0u);
    const int y0 = oy * f, y1 = std::min(im.height, y0 + f);
    for (int y = y0; y < y1; ++y) {
      const uint8_t* row = im.rgb.data() + size_t(y) * im.width * 3;
      for (int x = 0; x < im.width; ++x)
        for (int c = 0; c < 3; ++c) acc[size_t(x / f) * 3 + size_t(c)] += row[size_t(x) * 3 + size_t(c)];
    }
    for (int ox = 0; ox < ow; ++ox) {
      const uint32_t n = uint32_t((y1 - y0) * (std::min(im.width, (ox + 1) * f) - ox * f));
      for (int c = 0; c < 3; ++c)
        out.rgb[(size_t(oy) * ow + ox) * 3 + size_t(c)] =
            uint8_t((acc[size_t(ox) * 3 + size_t(c)] + n / 2) / n);
    }
  }
  return out;
}

void Texture::upload(const aec::Image& im) {
  release();
  if (im.width <= 0 || im.height <= 0) return;
  w = im.width, h = im.height;
  const int side = max_texture_side();
  std::vector<uint8_t> buf;
  for (int y = 0; y < h; y += side)
    for (int x = 0; x < w; x += side) {
      Tile t;
      t.x = x, t.y = y, t.w = std::min(side, w - x), t.h = std::min(side, h - y);
      const uint8_t* src = im.rgb.data() + (size_t(y) * w + x) * 3;
      if (t.w != w) {  // a tile narrower than the image: its rows, contiguous
        buf.resize(size_t(t.w) * t.h * 3);
        for (int r = 0; r < t.h; ++r)
          std::memcpy(buf.data() + size_t(r) * t.w * 3, src + size_t(r) * w * 3, size_t(t.w) * 3);
        src = buf.data();
      }
      t.id = make_texture(src, t.w, t.h);
      tiles.push_back(t);
    }
  if (std::max(w, h) > kOverviewSide) {
    ov_factor = (std::max(w, h) + kOverviewSide - 1) / kOverviewSide;
    const aec::Image small = box_downscale(im, ov_factor);
    ov_w = small.width, ov_h = small.height;
    overview = make_texture(small.rgb.data(), ov_w, ov_h);
  }
}

void Texture::release() {
  for (Tile& t : tiles) glDeleteTextures(1, &t.id);
  tiles.clear();
  if (overview) glDeleteTextures(1, &overview);
  overview = 0, ov_w = ov_h = 0, ov_factor = 1;
  w = h = 0;
}

bool Texture::draw(ImDrawList* dl, const ImVec2& i0, const ImVec2& i1, float device_zoom) const {
  if (tiles.empty()) return false;
  if (overview && device_zoom * float(ov_factor) <= 1.0f) {
    // The overview covers (ov_w * f) x (ov_h * f) image pixels, a little more than the image at a partial
    // box: its UV range ends where the image does.
    dl->AddImage(as_im(overview), i0, i1, ImVec2(0, 0),
                 ImVec2(float(w) / float(ov_w * ov_factor), float(h) / float(ov_h * ov_factor)));
    return true;
  }
  const float sx = (i1.x - i0.x) / float(w), sy = (i1.y - i0.y) / float(h);
  const ImVec2 c0 = dl->GetClipRectMin(), c1 = dl->GetClipRectMax();
  for (const Tile& t : tiles) {
    // Neighbours share their edges' coordinates exactly: no seam, no overlap.
    const ImVec2 a(i0.x + float(t.x) * sx, i0.y + float(t.y) * sy);
    const ImVec2 b(i0.x + float(t.x + t.w) * sx, i0.y + float(t.y + t.h) * sy);
    if (b.x < c0.x || a.x > c1.x || b.y < c0.y || a.y > c1.y) continue;  // off the view
    dl->AddImage(as_im(t.id), a, b);
  }
  return false;
}

}  // namespace web
