// Test images for the codec suites: smooth gradients with texture, and uniform noise.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "bcfeat/kernels/format.h"

// [height][width][4] values in a domain: [0, 1], [-1, 1], HDR 2^-5..2^5 (unsigned half) or
// ±16 (signed half). `opaque`: alpha 1 everywhere (BC1, whose alpha is one bit).
// v in [0, 1] → the domain's test range.
inline float to_test_domain(float v, bcfeat::ValueDomain domain) {
  switch (domain) {
    case bcfeat::ValueDomain::kSnorm: return 2.0f * v - 1.0f;
    case bcfeat::ValueDomain::kUnsignedHalf: return std::exp2(10.0f * v - 5.0f);
    case bcfeat::ValueDomain::kHalf: return 32.0f * v - 16.0f;
    default: return v;
  }
}

// Width of the test range (the PSNR peak).
inline double test_domain_range(bcfeat::ValueDomain domain) {
  switch (domain) {
    case bcfeat::ValueDomain::kSnorm: return 2.0;
    case bcfeat::ValueDomain::kUnsignedHalf: return 32.0;
    case bcfeat::ValueDomain::kHalf: return 32.0;
    default: return 1.0;
  }
}

inline std::vector<float> make_test_image(int width, int height, bool smooth, bcfeat::ValueDomain domain, uint32_t seed,
                                          bool opaque = false) {
  std::vector<float> pixels(static_cast<size_t>(width) * height * 4);
  uint64_t state = seed * 0x9e3779b97f4a7c15ull + 1;
  auto uniform = [&state] {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<float>((state >> 40) & 0xffffff) / 16777216.0f;
  };
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      for (int c = 0; c < 4; ++c) {
        float v;
        if (smooth) {
          v = 0.5f + 0.35f * std::sin(0.11f * x * (c + 1) + 0.07f * y + c) * std::cos(0.05f * y * (2 - c % 2)) +
              0.05f * (uniform() - 0.5f);
        } else {
          v = uniform();
        }
        v = std::fmin(1.0f, std::fmax(0.0f, v));
        if (c == 3 && opaque) v = 1.0f;
        pixels[(static_cast<size_t>(y) * width + x) * 4 + c] = to_test_domain(v, domain);
      }
    }
  }
  return pixels;
}
