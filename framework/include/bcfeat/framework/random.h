// A deterministic random generator for everything that must give the same numbers on every
// machine (synthetic features, bootstrap resamples).
#pragma once

#include <cstdint>

namespace bcfeat {

// Deterministic 64-bit generator (SplitMix64) with uniform and normal draws.
class SeededRandom {
 public:
  explicit SeededRandom(uint64_t seed) : state_(seed) {}
  uint64_t next();
  double uniform();  // [0, 1)
  double normal();   // N(0, 1), Box–Muller
 private:
  uint64_t state_;
};

}  // namespace bcfeat
