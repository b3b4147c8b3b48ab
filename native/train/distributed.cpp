#include "distributed.h"

#include <torch/version.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <set>
#include <thread>

#include "aecodec/error.h"

// The c10d headers: in Debian's libtorch-dev 1.13 and in PyTorch 2.x's LibTorch. ProcessGroupGloo.hpp is
// empty unless USE_C10D_GLOO is defined (LibTorch's own build defines it) and includes Gloo's headers
// (Debian: libgloo-dev); without them the trainer builds without Gloo.
#if __has_include(<torch/csrc/distributed/c10d/TCPStore.hpp>)
#define AECT_C10D 1
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if __has_include(<gloo/context.h>) && __has_include(<torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>)
#ifndef USE_C10D_GLOO
#define USE_C10D_GLOO 1
#endif
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#define AECT_GLOO 1
#endif
// AECT_NCCL: set by native/train/CMakeLists.txt where a test compile of ProcessGroupNCCL.hpp succeeded
// (LibTorch 2.x with CUDA and NCCL's header), with USE_C10D_NCCL.
#ifdef AECT_NCCL
#include <c10/cuda/CUDAFunctions.h>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#endif

namespace aect {

#ifdef AECT_C10D
namespace {
// 2.x split ProcessGroup into a front end and Backends; Gloo and NCCL are Backends with the same collective
// calls that 1.13's ProcessGroup has.
#if TORCH_VERSION_MAJOR >= 2
using Group = c10d::Backend;
#else
using Group = c10d::ProcessGroup;
#endif
}  // namespace
#endif

struct DistGroup::Impl {
  DistOptions o;
  std::chrono::milliseconds timeout{0};
  std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
  std::string backend = "none";
  bool stage_on_host = false;    // Gloo with CUDA tensors: copy through host memory
  std::set<std::string> shared;  // keys rank 0 has published
  torch::Device device = torch::kCPU;
#ifdef AECT_C10D
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<Group> pg;
#endif
};

namespace {

std::string error_text(const std::exception& e) {
  if (const auto* c = dynamic_cast<const c10::Error*>(&e)) return c->what_without_backtrace();
  return e.what();
}

}  // namespace

void DistGroup::fail(const std::string& what, const std::string& why) {
  const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - impl_->start).count();
  char head[256];
  std::snprintf(head, sizeof head,
                "data-parallel rank %d of %d: %s failed (%.1f s after this rank started): ", impl_->o.rank,
                impl_->o.world_size, what.c_str(), t);
  char tail[192];
  std::snprintf(tail, sizeof tail,
                "another rank stopped (it died, was killed or failed) or did not answer within %g s "
                "(--dist-timeout). ",
                impl_->o.timeout_s);
  throw aec::Error(std::string(head) + tail +
                   "The checkpoint rank 0 last wrote is intact; --resume continues from it. (c10d: " + why +
                   ")");
}

DistGroup::DistGroup(const DistOptions& o) : impl_(std::make_unique<Impl>()) {
  impl_->o = o;
  impl_->timeout = std::chrono::milliseconds(int64_t(o.timeout_s * 1000));
  aec::require(o.world_size >= 1 && o.rank >= 0 && o.rank < o.world_size,
               "train: --rank " + std::to_string(o.rank) + " is not in [0, --world-size " +
                   std::to_string(o.world_size) + ")");
  aec::require(o.master_port > 0 && o.master_port < 65536,
               "train: --master-port " + std::to_string(o.master_port) + " is not a TCP port");
  aec::require(o.timeout_s > 0, "train: --dist-timeout must be positive");
#ifndef AECT_C10D
  throw aec::Error(
      "train: this aecodec-train was built without LibTorch's c10d headers: --world-size must be 1");
#else
  c10d::TCPStoreOptions so;
  so.port = uint16_t(o.master_port);
  so.isServer = o.rank == 0;
  so.numWorkers = size_t(o.world_size);
  so.waitWorkers = true;
  so.timeout = impl_->timeout;
  try {
    impl_->store = c10::make_intrusive<c10d::TCPStore>(o.master_addr, so);
  } catch (const std::exception& e) {
    fail("the rendezvous at " + o.master_addr + ":" + std::to_string(o.master_port) +
             (o.rank == 0 ? " (hosting it)" : ""),
         error_text(e));
  }
#endif
}

DistGroup::~DistGroup() {
#ifdef AECT_C10D
  // The process group's destructor joins its worker threads; after a failed collective a peer may be gone,
  // so a group that failed is left to the process's exit instead of risking a wait on it.
  if (impl_ && impl_->pg && std::uncaught_exceptions() > 0) impl_->pg.release();
#endif
}

int DistGroup::rank() const {
  return impl_->o.rank;
}
int DistGroup::world() const {
  return impl_->o.world_size;
}
std::string DistGroup::backend() const {
  return impl_->backend;
}

std::string DistGroup::share_text(const std::string& key, const std::string& text) {
#ifdef AECT_C10D
  const std::string k = "aect/" + key;
  std::vector<uint8_t> v;
  try {
    if (rank() == 0) {
      impl_->store->set(k, std::vector<uint8_t>(text.begin(), text.end()));
      impl_->shared.insert(key);
      return text;
    }
    v = impl_->store->get(k);
  } catch (const std::exception& e) {
    fail("sharing the " + key + " through the store", error_text(e));
  }
  std::string s(v.begin(), v.end());
  if (!s.empty() && s[0] == '!') {
    try {  // tell rank 0, which hosts the store and waits for this before it exits
      impl_->store->add(k + "/read", 1);
    } catch (const std::exception&) {
    }
    throw aec::Error("data-parallel: rank 0 failed: " + s.substr(1));
  }
  return s;
#else
  (void)key;
  return text;
#endif
}

void DistGroup::publish_failure(const std::string& key, const std::string& message) {
#ifdef AECT_C10D
  if (rank() != 0 || impl_->shared.count(key)) return;
  try {
    const std::string s = "!" + message;
    const std::string k = "aect/" + key;
    impl_->store->set(k, std::vector<uint8_t>(s.begin(), s.end()));
    // Rank 0 hosts the store: exiting at once would close it before the others have read the message, and
    // they would fail with a lost connection instead of the reason. Wait (10 s at most) until they have.
    for (int i = 0; i < 200 && impl_->store->add(k + "/read", 0) < impl_->o.world_size - 1; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  } catch (const std::exception&) {  // the others then fail on their own timeout
  }
#else
  (void)key, (void)message;
#endif
}

void DistGroup::connect(torch::Device device) {
#ifdef AECT_C10D
  impl_->device = device;
  auto store = c10::make_intrusive<c10d::PrefixStore>("aect/pg", impl_->store);
  try {
    if (device.is_cuda()) {
#ifdef AECT_NCCL
      c10::cuda::set_device(device.index());
      auto opts = c10d::ProcessGroupNCCL::Options::create();
      opts->timeout = impl_->timeout;
      impl_->pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, rank(), world(), opts);
      impl_->backend = "NCCL";
      return;
#else
      impl_->stage_on_host = true;
#endif
    }
#ifdef AECT_GLOO
    auto opts = c10d::ProcessGroupGloo::Options::create(impl_->timeout);
    const std::string& addr = impl_->o.master_addr;
    if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname && *ifname)
      opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
    else if (addr == "localhost" || addr.rfind("127.", 0) == 0)
      opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    else
      opts->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    impl_->pg = c10::make_intrusive<c10d::ProcessGroupGloo>(store, rank(), world(), opts);
    impl_->backend =
        impl_->stage_on_host ? "Gloo (CUDA tensors through host memory: no NCCL in this build)" : "Gloo";
#else
    throw aec::Error(
        "this aecodec-train was built without Gloo (Debian: install libgloo-dev and rebuild), so it has no "
        "process group for " +
        std::string(device.is_cuda() ? "CUDA tensors without NCCL" : "CPU tensors"));
#endif
  } catch (const aec::Error&) {
    throw;
  } catch (const std::exception& e) {
    fail("connecting the process group", error_text(e));
  }
#else
  (void)device;
#endif
}

void DistGroup::allreduce_sum(torch::Tensor& t, const std::string& what) {
#ifdef AECT_C10D
  try {
    std::vector<torch::Tensor> v{impl_->stage_on_host ? t.to(torch::kCPU) : t};
    impl_->pg->allreduce(v, c10d::AllreduceOptions())->wait();
    if (impl_->stage_on_host) t.copy_(v[0]);
  } catch (const std::exception& e) {
    fail(what, error_text(e));
  }
#else
  (void)t, (void)what;
#endif
}

void DistGroup::broadcast_bytes(std::string& bytes, const std::string& what) {
#ifdef AECT_C10D
  const bool on_device = impl_->device.is_cuda() && !impl_->stage_on_host;
  const torch::Device dev = on_device ? impl_->device : torch::Device(torch::kCPU);
  try {
    c10d::BroadcastOptions opts;
    opts.rootRank = 0;
    std::vector<torch::Tensor> n{torch::tensor({int64_t(bytes.size())}, torch::kLong).to(dev)};
    impl_->pg->broadcast(n, opts)->wait();
    const int64_t size = n[0].to(torch::kCPU).item<int64_t>();
    if (rank() != 0) bytes.assign(size_t(size), '\0');
    torch::Tensor host = torch::from_blob(bytes.data(), {size}, torch::kByte);
    std::vector<torch::Tensor> data{on_device ? host.to(dev) : host};
    impl_->pg->broadcast(data, opts)->wait();
    if (on_device && rank() != 0) host.copy_(data[0]);
  } catch (const std::exception& e) {
    fail(what, error_text(e));
  }
#else
  (void)bytes, (void)what;
#endif
}

void DistGroup::average_gradients(const std::vector<torch::Tensor>& params, torch::Tensor* stats,
                                  const std::string& what) {
  torch::NoGradGuard ng;
  // Every rank runs the same graph, so the same parameters have gradients everywhere and the buffers match.
  std::map<int, std::vector<torch::Tensor>> by_type;
  for (const torch::Tensor& p : params)
    if (p.grad().defined()) by_type[int(p.grad().scalar_type())].push_back(p.grad());
  const bool with_stats = stats && stats->defined();
  if (with_stats && !by_type.count(int(torch::kFloat))) by_type[int(torch::kFloat)];
  const double inv_world = 1.0 / world();
  for (auto& [type, grads] : by_type) {
    std::vector<torch::Tensor> parts;
    for (const torch::Tensor& g : grads) parts.push_back(g.reshape({-1}));
    int64_t n_grads = 0;
    for (const torch::Tensor& p : parts) n_grads += p.numel();
    const bool here = with_stats && type == int(torch::kFloat);
    if (here) parts.push_back(stats->reshape({-1}).to(stats->device(), torch::kFloat));
    torch::Tensor flat = torch::cat(parts);
    allreduce_sum(flat, what);
    flat.narrow(0, 0, n_grads).mul_(inv_world);
    int64_t off = 0;
    for (torch::Tensor& g : grads) {
      g.copy_(flat.narrow(0, off, g.numel()).view(g.sizes()));
      off += g.numel();
    }
    if (here) stats->copy_(flat.narrow(0, off, stats->numel()).view(stats->sizes()));
  }
}

}  // namespace aect
