// Reused storage for the layers' large per-call buffers: output tensors and zero-padded inputs. A fresh
// allocation of tens of MiB is mapped anew by malloc, so every 4 KiB page of it faults on first touch and
// std::vector zero-fills all of it besides; the encoder of a 5x5 conv model at 768x512 allocated about
// 120 MiB that way per run, 13 % of its time with 1 thread and about 20 % with 2 (the faults and the zero
// fill of an output tensor run on the calling thread alone). The pool keeps released buffers for the next
// layer or the next image instead, as ONNX Runtime's arena does.
#pragma once
#include <cstddef>
#include <vector>

namespace aec {

// A vector of n floats, contents unspecified (the caller overwrites all of them): a pooled one with room
// for n but not for 2n when the pool holds one (the smallest; one already n or more long needs no zero
// fill), else a new one. Thread-safe.
std::vector<float> pool_take(size_t n);
// Hands v's storage to the pool for a later pool_take; v is left empty. Buffers under 256 KiB (cheap to
// allocate) are freed instead; the pool holds at most 16 buffers and 1 GiB, dropping its oldest first.
void pool_give(std::vector<float>&& v);
// Frees every buffer the pool holds (for a long-lived process that is done coding for a while).
void pool_release();
// Bytes the pool holds now (their capacity).
size_t pool_bytes();

}  // namespace aec
