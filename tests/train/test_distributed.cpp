// Data-parallel training (native/train/distributed.h): ranks are real aecodec-train processes on loopback.
// Two ranks of one thread each train the same parameters as one process with the same global batch, a run
// resumes under another world size, and a rank that dies or stops answering makes the others fail with a
// message within the timeout while the last checkpoint stays readable.

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <thread>

#include "sample_noise.h"
#include "test_util.h"
#include "torch_test_util.h"
#include "train_loop.h"

// LibTorch's c10 defines a glog-style CHECK (aborts, not a Catch assertion): Catch's must win.
#undef CHECK
#include <catch2/catch.hpp>

using namespace aect;
using namespace aect_test;

namespace {

// A TCP port that was free a moment ago (the kernel's pick for port 0).
int free_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  socklen_t len = sizeof a;
  REQUIRE(getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0);
  close(fd);
  return ntohs(a.sin_port);
}

// aecodec-train train ARGS, output to `log`.
pid_t spawn(const std::vector<std::string>& args, const std::string& log) {
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) dup2(fd, 1), dup2(fd, 2);
    for (const char* v : {"WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"}) unsetenv(v);
    std::vector<char*> argv{const_cast<char*>(AECT_TRAIN_BIN), const_cast<char*>("train")};
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(AECT_TRAIN_BIN, argv.data());
    _exit(127);
  }
  return pid;
}

// The exit status of `pid` (-1 after a signal), killing it if it has not ended within `limit_s`.
int wait_exit(pid_t pid, double limit_s, double* took = nullptr) {
  const auto t0 = std::chrono::steady_clock::now();
  int status = 0;
  for (;;) {
    const pid_t r = waitpid(pid, &status, WNOHANG);
    REQUIRE(r >= 0);
    const double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (r == pid) {
      if (took) *took = t;
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    if (t > limit_s) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      FAIL("aecodec-train did not end within " << limit_s << " s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The tiny recipe every run below shares (tiny_config's, as flags), one thread per process.
std::vector<std::string> recipe(const std::string& data, const std::string& out, int steps) {
  // clang-format off
  return {"--arch", "hyperprior", "--N", "16", "--M", "8", "--crop", "64", "--batch", "4", "--lr", "1e-3",
          "--threads", "1", "--valid-every", "0", "--valid", data, "--valid-max-images", "1", "--log-every", "1",
          "--checkpoint-minutes", "100", "--decay-start", "0.5", "--steps", std::to_string(steps),
          "--data", data, "--out", out};
  // clang-format on
}

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& more) {
  a.insert(a.end(), more.begin(), more.end());
  return a;
}

// args with FLAG's value replaced (CLI11 refuses an option given twice).
std::vector<std::string> set_arg(std::vector<std::string> a, const std::string& flag, const std::string& v) {
  for (size_t i = 0; i + 1 < a.size(); ++i)
    if (a[i] == flag) {
      a[i + 1] = v;
      return a;
    }
  return with(a, {flag, v});
}

// One process; returns its exit status.
int run_single(const std::vector<std::string>& args, const std::string& log) {
  return wait_exit(spawn(args, log), 120);
}

// Two ranks on loopback; both must succeed.
void run_two_ranks(const std::vector<std::string>& args, const std::string& log_prefix) {
  const std::string port = std::to_string(free_port());
  const auto common = with(args, {"--world-size", "2", "--master-addr", "127.0.0.1", "--master-port", port});
  const pid_t r1 = spawn(with(common, {"--rank", "1"}), log_prefix + ".rank1.log");
  const pid_t r0 = spawn(with(common, {"--rank", "0"}), log_prefix + ".rank0.log");
  const int s0 = wait_exit(r0, 120), s1 = wait_exit(r1, 120);
  INFO(slurp(log_prefix + ".rank0.log") << slurp(log_prefix + ".rank1.log"));
  REQUIRE(s0 == 0);
  REQUIRE(s1 == 0);
}

double max_param_diff(CodecImpl& a, CodecImpl& b) {
  auto pa = a.named_parameters(), pb = b.named_parameters();
  REQUIRE(pa.size() == pb.size());
  double d = 0;
  for (const auto& kv : pa) d = std::max(d, (kv.value() - pb[kv.key()]).abs().max().item<double>());
  return d;
}

}  // namespace

TEST_CASE("a sample's training noise depends on its place in the global batch, not on the split",
          "[train][dist]") {
  const torch::Tensor like = torch::zeros({4, 3, 5, 7});
  auto draw = [&](int first, int count) {
    SampleNoiseScope scope(77, first);
    torch::Tensor u = uniform_noise_like(like.narrow(0, 0, count), -0.5, 0.5, torch::kFloat);
    torch::Tensor n = normal_noise_like(like.narrow(0, 0, count));
    return std::make_pair(u, n);
  };
  const auto whole = draw(0, 4), front = draw(0, 2), back = draw(2, 2);
  CHECK(torch::equal(whole.first, torch::cat({front.first, back.first})));
  CHECK(torch::equal(whole.second, torch::cat({front.second, back.second})));
  CHECK_FALSE(torch::equal(whole.first[0], whole.first[1]));   // samples differ
  CHECK_FALSE(torch::equal(whole.first[0], whole.second[0]));  // so do a sample's two draws
  CHECK(whole.first.min().item<float>() >= -0.5f);
  CHECK(whole.first.max().item<float>() < 0.5f);
}

TEST_CASE("a global batch's crops do not depend on how it is split", "[train][dist]") {
  const std::string data = make_image_dir("dist-crops");
  const ImageSet set = load_images(data, true);
  BatchSpec spec;
  spec.batch = 6, spec.crop = 32, spec.downscale_prob = 0.5;
  const std::vector<float> whole = make_batch(set, spec, 9, 3);
  std::vector<float> parts = make_batch(set, spec, 9, 3, 0, 2);
  for (const auto& [first, count] : {std::pair{2, 3}, std::pair{5, 1}}) {
    const std::vector<float> p = make_batch(set, spec, 9, 3, first, count);
    parts.insert(parts.end(), p.begin(), p.end());
  }
  CHECK(parts == whole);
  CHECK(make_batch(set, spec, 9, 4) != whole);
}

TEST_CASE("two data-parallel ranks train what one process does, and runs resume under another world size",
          "[train][dist]") {
  const std::string data = make_image_dir("dist-same");
  const std::string one = data + "/one", two = data + "/two", up = data + "/one-then-two",
                    down = data + "/two-then-one";
  // 4 steps; the lr decays (x0.1) for the last two (--decay-start 0.5).
  REQUIRE(run_single(recipe(data, one, 4), one + ".log") == 0);
  run_two_ranks(recipe(data, two, 4), two);
  // Resume with another world size: 1 -> 2 ranks and 2 ranks -> 1. The first 2 steps without the decay
  // (--steps is the total, so 2 of 2 would decay from step 1).
  auto first_half = [&](const std::string& out) {
    return set_arg(recipe(data, out, 2), "--decay-start", "1");
  };
  REQUIRE(run_single(first_half(up), up + ".log") == 0);
  run_two_ranks(with(recipe(data, up, 4), {"--resume"}), up);
  run_two_ranks(first_half(down), down);
  REQUIRE(run_single(with(recipe(data, down, 4), {"--resume"}), down + ".log") == 0);

  // The two ranks computed the same crops, noise and learning rates; what differs is only the order of float
  // sums (each rank's half-batch gradient, then their average, against one sum over the whole batch).
  // Measured: about 1e-7 after the 4 Adam steps (an Adam step moves a weight by up to its lr).
  const double tolerance = 2e-6;
  LoadedRun a = load_run(one, torch::kCPU, false);
  for (const std::string& other : {two, up, down}) {
    LoadedRun b = load_run(other, torch::kCPU, false);
    const double d = max_param_diff(*a.model, *b.model);
    LoadedRun avg_a = load_run(one), avg_b = load_run(other);
    const double d_avg = max_param_diff(*avg_a.model, *avg_b.model);
    std::printf("data-parallel %s: max |param - one process's| = %.3g (moving average %.3g)\n",
                fs::path(other).filename().c_str(), d, d_avg);
    CHECK(d < tolerance);
    CHECK(d_avg < tolerance);
    CHECK(b.state.step == 4);
    CHECK(b.state.images == 16);
  }
  // Rank 0 wrote the run (log rows, final validation); rank 1 wrote nothing of its own.
  const std::string log = slurp(two + "/log.csv");
  CHECK(log.find("train,4,") != std::string::npos);
  CHECK(log.find("valid,4,") != std::string::npos);
  CHECK(slurp(two + ".rank1.log").find("rank 1 of 2") != std::string::npos);
  // The tolerance is far below what one step moves, even at the decayed lr 1e-4: a learning rate, crop or
  // noise that differed by rank would show.
  const std::string three = data + "/three";
  REQUIRE(run_single(recipe(data, three, 3), three + ".log") == 0);
  LoadedRun c = load_run(three, torch::kCPU, false);
  const double step4 = max_param_diff(*a.model, *c.model);
  std::printf("one step (3 -> 4) moves the parameters by up to %.3g\n", step4);
  CHECK(step4 > 20 * tolerance);
}

TEST_CASE("a global batch the ranks cannot share evenly is refused on every rank", "[train][dist]") {
  const std::string data = make_image_dir("dist-uneven");
  const std::string run = data + "/run", port = std::to_string(free_port());
  const auto args =
      with(set_arg(recipe(data, run, 2), "--batch", "3"), {"--world-size", "2", "--master-port", port});
  const pid_t r1 = spawn(with(args, {"--rank", "1"}), run + ".rank1.log");
  const pid_t r0 = spawn(with(args, {"--rank", "0"}), run + ".rank0.log");
  CHECK(wait_exit(r0, 60) != 0);
  CHECK(wait_exit(r1, 60) != 0);
  for (const char* r : {".rank0.log", ".rank1.log"})
    CHECK(slurp(run + r).find("--batch 3 is the global batch") != std::string::npos);
}

TEST_CASE("SIGTERM to one rank stops every rank after the same step, and rank 0 saves", "[train][dist]") {
  const std::string data = make_image_dir("dist-term");
  const std::string run = data + "/run", port = std::to_string(free_port());
  const auto args = with(set_arg(set_arg(recipe(data, run, 100000), "--log-every", "10"), "--valid", ""),
                         {"--world-size", "2", "--master-port", port});
  const pid_t r1 = spawn(with(args, {"--rank", "1"}), run + ".rank1.log");
  const pid_t r0 = spawn(with(args, {"--rank", "0"}), run + ".rank0.log");
  // Past step 100, where every rank takes rank 0's state again.
  for (int i = 0; i < 3000 && slurp(run + "/log.csv").find("train,110,") == std::string::npos; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  kill(r1, SIGTERM);
  const int s1 = wait_exit(r1, 60), s0 = wait_exit(r0, 60);
  const std::string log0 = slurp(run + ".rank0.log"), log1 = slurp(run + ".rank1.log");
  INFO(log0 << log1);
  CHECK(s0 == 0);
  CHECK(s1 == 0);
  CHECK(log0.find("another rank was signalled") != std::string::npos);
  LoadedRun r = load_run(run);
  CHECK(r.state.step > 110);
  CHECK(log1.find("done at step " + std::to_string(r.state.step) + "\n") != std::string::npos);
}

TEST_CASE("a rank that dies or stops answering makes the others fail with a message, not hang",
          "[train][dist]") {
  const std::string data = make_image_dir("dist-kill");
  // Checkpoints after every step, so the kill can land in the middle of a write.
  auto start = [&](const std::string& run, const std::string& timeout) {
    const std::string port = std::to_string(free_port());
    const auto args = with(set_arg(recipe(data, run, 100000), "--checkpoint-minutes", "0"),
                           {"--world-size", "2", "--master-port", port, "--dist-timeout", timeout});
    const pid_t r1 = spawn(with(args, {"--rank", "1"}), run + ".rank1.log");
    const pid_t r0 = spawn(with(args, {"--rank", "0"}), run + ".rank0.log");
    // Training: wait for rank 0's first checkpoint, then a little more.
    for (int i = 0; i < 1500 && !fs::exists(checkpoint_path(run)); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    REQUIRE(fs::exists(checkpoint_path(run)));
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    return std::make_pair(r0, r1);
  };
  auto checkpoint_intact = [&](const std::string& run) {
    auto model = make_codec(load_run(run).cfg);
    TrainState st;
    REQUIRE_NOTHROW(load_checkpoint(run, *model, nullptr, nullptr, st));
    CHECK(st.step >= 1);
    return st.step;
  };

  SECTION("rank 1 is killed: rank 0 fails at once") {
    const std::string run = data + "/kill1";
    auto [r0, r1] = start(run, "30");
    kill(r1, SIGKILL);
    CHECK(wait_exit(r1, 10) == -1);
    double took = 0;
    CHECK(wait_exit(r0, 30, &took) == 1);
    const std::string log = slurp(run + ".rank0.log");
    INFO(log);
    CHECK(took < 10);  // the socket closed: no need to wait for the timeout
    CHECK(log.find("data-parallel rank 0 of 2:") != std::string::npos);
    CHECK(log.find("failed") != std::string::npos);
    std::printf("rank 1 killed: rank 0 failed after %.2f s, checkpoint intact at step %lld\n", took,
                (long long)checkpoint_intact(run));
  }
  SECTION("rank 0 is killed (maybe while it writes a checkpoint): rank 1 fails at once") {
    const std::string run = data + "/kill0";
    auto [r0, r1] = start(run, "30");
    kill(r0, SIGKILL);
    CHECK(wait_exit(r0, 10) == -1);
    double took = 0;
    CHECK(wait_exit(r1, 30, &took) == 1);
    const std::string log = slurp(run + ".rank1.log");
    INFO(log);
    CHECK(took < 10);
    CHECK(log.find("data-parallel rank 1 of 2:") != std::string::npos);
    std::printf("rank 0 killed: rank 1 failed after %.2f s, checkpoint intact at step %lld\n", took,
                (long long)checkpoint_intact(run));
  }
  SECTION("rank 1 stops answering (SIGSTOP): rank 0 fails after --dist-timeout") {
    const std::string run = data + "/stop1";
    auto [r0, r1] = start(run, "3");
    kill(r1, SIGSTOP);
    double took = 0;
    const int status = wait_exit(r0, 40, &took);
    kill(r1, SIGKILL);
    wait_exit(r1, 10);
    const std::string log = slurp(run + ".rank0.log");
    INFO(log);
    CHECK(status == 1);
    CHECK(took > 2);
    CHECK(took < 20);
    CHECK(log.find("did not answer within 3 s (--dist-timeout)") != std::string::npos);
    std::printf("rank 1 stopped: rank 0 failed after %.2f s (timeout 3 s), checkpoint intact at step %lld\n",
                took, (long long)checkpoint_intact(run));
  }
}
