// Data-parallel training over PyTorch's c10d: a TCPStore rendezvous that rank 0 hosts, then a process group
// (Gloo for CPU tensors; NCCL for CUDA tensors where the build has it, else Gloo through host memory).
// train_loop.cpp uses it: rank 0 resolves the run and hands every rank the config (through the store) and
// the whole training state (a checkpoint in memory, broadcast), each rank computes its share of the global
// batch, and the gradients are averaged over the ranks every step, one all-reduce per dtype.
//
// A collective that fails (a rank died: its sockets close, so the others fail at once; or a rank stopped
// answering: the others fail after DistOptions::timeout_s) throws an aec::Error that says which rank, what it
// was doing and why; it never hangs past the timeout.
//
// Builds against LibTorch 1.13 (Debian: the c10d headers in libtorch-dev, Gloo's in libgloo-dev) and 2.x,
// where the process groups became c10d::Backend; the c10d headers stay in distributed.cpp. A build without
// them (no Gloo headers, no NCCL) trains one process and refuses --world-size > 1 with a message.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "config.h"

namespace aect {

class DistGroup {
 public:
  // Joins the rendezvous at o.master_addr:o.master_port: rank 0 hosts the store and waits (up to the
  // timeout) until every rank has connected.
  explicit DistGroup(const DistOptions& o);
  ~DistGroup();
  DistGroup(const DistGroup&) = delete;
  DistGroup& operator=(const DistGroup&) = delete;

  int rank() const;
  int world() const;
  // "Gloo", "NCCL", ... once connected.
  std::string backend() const;

  // Rank 0 publishes `text` under `key` through the store and gets it back; the others wait for it and get
  // rank 0's. Rank 0 publishes a failure with publish_failure instead (a no-op on other ranks and once the
  // key is published): the others then throw its message.
  std::string share_text(const std::string& key, const std::string& text);
  void publish_failure(const std::string& key, const std::string& message);

  // Builds the process group for tensors on `device` (every rank calls it).
  void connect(torch::Device device);

  // Rank 0's `bytes` to every rank (the others' are replaced).
  void broadcast_bytes(std::string& bytes, const std::string& what);
  // Averages the gradients of `params` (those that have one) over the ranks: one buffer and one all-reduce
  // per dtype. `stats` (float, may be null) rides along in the float buffer and is summed, not averaged.
  void average_gradients(const std::vector<torch::Tensor>& params, torch::Tensor* stats,
                         const std::string& what);

 private:
  [[noreturn]] void fail(const std::string& what, const std::string& why);
  void allreduce_sum(torch::Tensor& t, const std::string& what);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace aect
