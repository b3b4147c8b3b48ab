// An exponential moving average of a model's parameters (Polyak averaging), which is what validation and
// export use. The background training never ends, so its learning rate never decays; at a constant rate the
// weights of one step are a noisy sample around where training is heading (validation swung by ~1 dB between
// checkpoints 500 steps apart), and their running average is the better model without stopping training.
// The average lives in the checkpoint (runs resumed from a checkpoint without one start it at the weights).
#pragma once
#include <torch/torch.h>

#include <vector>

namespace aect {

class CodecImpl;

class WeightAverage {
 public:
  // decay <= 0 turns it off: update() and the swaps do nothing and nothing is saved.
  WeightAverage(CodecImpl& model, double decay);
  bool enabled() const { return decay_ > 0; }
  int64_t updates() const { return updates_; }

  // After each optimizer step. The effective decay is min(decay, (1 + n) / (10 + n)) for the n-th update
  // since reset(), so a run from scratch does not drag its random initialisation along for thousands of
  // steps.
  void update();
  void reset();  // the average := the current weights (a warm start, a resumed run without an average)

  void save(torch::serialize::OutputArchive& archive) const;
  // false when the archive holds no average or one for another model (the average is then reset()).
  bool load(torch::serialize::InputArchive& archive);

  // Exchanges the model's weights with the average; a second call swaps back.
  void swap();
  // Scope in which the model holds the averaged weights (validation).
  class Applied {
   public:
    explicit Applied(WeightAverage& a) : a_(a) { a_.swap(); }
    ~Applied() { a_.swap(); }
    Applied(const Applied&) = delete;
    Applied& operator=(const Applied&) = delete;

   private:
    WeightAverage& a_;
  };

 private:
  std::vector<torch::Tensor> params_, avg_;
  double decay_;
  int64_t updates_ = 0;
};

}  // namespace aect
