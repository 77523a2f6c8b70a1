// Scalar floating-point storage formats: IEEE binary16, bfloat16, OCP FP8 (E4M3FN, E5M2).
//
// Every conversion from float32 rounds to nearest, ties to even, as hardware conversions
// and numpy/ml_dtypes do. The FP8 conversions saturate finite values to the largest finite
// code (the convention of FP8 training and inference kernels, where a scale maps the
// tensor's range onto the format first); NaN maps to the format's NaN.
#pragma once

#include <cmath>
#include <cstdint>

#include "bcfeat/kernels/host_device.h"

namespace bcfeat {

BCFEAT_HD uint16_t float_to_half_bits(float value) {
  const uint32_t x = bit_cast_value<uint32_t>(value);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t magnitude = x & 0x7fffffffu;
  if (magnitude >= 0x7f800000u) {  // inf or NaN (NaN keeps a quiet payload bit)
    return static_cast<uint16_t>(sign | 0x7c00u | (magnitude > 0x7f800000u ? 0x0200u : 0u));
  }
  if (magnitude >= 0x477ff000u) {  // >= 65520 rounds to infinity
    return static_cast<uint16_t>(sign | 0x7c00u);
  }
  if (magnitude < 0x38800000u) {  // below 2^-14: half subnormal (or zero)
    // Scaling by 2^24 is exact in float32; rintf rounds to nearest even.
    const float scaled = bit_cast_value<float>(magnitude) * 16777216.0f;
    return static_cast<uint16_t>(sign | static_cast<uint32_t>(rintf(scaled)));
  }
  const uint32_t mantissa = magnitude & 0x7fffffu;
  const uint32_t exponent = (magnitude >> 23) - 127u + 15u;
  uint32_t half = (exponent << 10) | (mantissa >> 13);
  const uint32_t rest = mantissa & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) ++half;  // carry may bump exponent
  return static_cast<uint16_t>(sign | half);
}

BCFEAT_HD float half_bits_to_float(uint16_t half) {
  const uint32_t sign = static_cast<uint32_t>(half & 0x8000u) << 16;
  const uint32_t exponent = (half >> 10) & 0x1fu;
  const uint32_t mantissa = half & 0x3ffu;
  if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24
    const float magnitude = static_cast<float>(mantissa) * 5.9604644775390625e-8f;
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 31) {
    return bit_cast_value<float>(sign | 0x7f800000u | (mantissa << 13));
  }
  return bit_cast_value<float>(sign | ((exponent + 112u) << 23) | (mantissa << 13));
}

BCFEAT_HD uint16_t float_to_bfloat16_bits(float value) {
  const uint32_t x = bit_cast_value<uint32_t>(value);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x0040u);
  const uint32_t rounding = 0x7fffu + ((x >> 16) & 1u);
  return static_cast<uint16_t>((x + rounding) >> 16);
}

BCFEAT_HD float bfloat16_bits_to_float(uint16_t bits) {
  return bit_cast_value<float>(static_cast<uint32_t>(bits) << 16);
}

// The fp16 value nearest to `value` on one side: the largest half ≤ value (up = false) or
// the smallest half ≥ value (up = true). Stored ranges and steps are rounded this way so
// they still cover what they describe.
BCFEAT_HD uint16_t half_bits_toward(float value, bool up) {
  uint16_t bits = float_to_half_bits(value);
  const float stored = half_bits_to_float(bits);
  if (up && stored < value) {
    bits = (bits & 0x8000u) ? (bits == 0x8000u ? 1 : static_cast<uint16_t>(bits - 1)) : static_cast<uint16_t>(bits + 1);
  }
  if (!up && stored > value) {
    bits = (bits & 0x8000u) ? static_cast<uint16_t>(bits + 1) : (bits == 0 ? 0x8001u : static_cast<uint16_t>(bits - 1));
  }
  return bits;
}

// Parameters of an FP8 format (OCP 8-bit floating point specification, 2023).
struct Fp8Spec {
  int exponent_bits;
  int mantissa_bits;
  int bias;
  float max_finite;
  uint8_t nan_code;  // positive NaN code
};

constexpr Fp8Spec kFp8E4M3 = {4, 3, 7, 448.0f, 0x7f};
constexpr Fp8Spec kFp8E5M2 = {5, 2, 15, 57344.0f, 0x7e};

// Rounds |value| to the nearest representable magnitude (ties to even), saturating.
BCFEAT_HD uint8_t float_to_fp8_bits(float value, Fp8Spec spec) {
  const uint32_t x = bit_cast_value<uint32_t>(value);
  const uint8_t sign = static_cast<uint8_t>((x >> 24) & 0x80u);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint8_t>(sign | spec.nan_code);
  float magnitude = fabsf(value);
  const int min_normal_exp = 1 - spec.bias;
  // Exponent of the binade holding `magnitude`, clamped to the subnormal range.
  int exp2 = static_cast<int>((bit_cast_value<uint32_t>(magnitude) >> 23) & 0xffu) - 127;
  if (exp2 < min_normal_exp) exp2 = min_normal_exp;
  if (magnitude >= spec.max_finite) {
    magnitude = spec.max_finite;
  } else {
    const float quantum = ldexpf(1.0f, exp2 - spec.mantissa_bits);
    magnitude = rintf(magnitude / quantum) * quantum;  // exact: power-of-two scaling
    if (magnitude > spec.max_finite) magnitude = spec.max_finite;
  }
  // Encode the (now representable) magnitude.
  const float min_normal = ldexpf(1.0f, min_normal_exp);
  uint32_t code;
  if (magnitude < min_normal) {
    code = static_cast<uint32_t>(magnitude / ldexpf(1.0f, min_normal_exp - spec.mantissa_bits));
  } else {
    const uint32_t bits = bit_cast_value<uint32_t>(magnitude);
    const int exponent = static_cast<int>((bits >> 23) & 0xffu) - 127 + spec.bias;
    const uint32_t mantissa = (bits & 0x7fffffu) >> (23 - spec.mantissa_bits);
    code = (static_cast<uint32_t>(exponent) << spec.mantissa_bits) | mantissa;
  }
  return static_cast<uint8_t>(sign | code);
}

BCFEAT_HD float fp8_bits_to_float(uint8_t bits, Fp8Spec spec) {
  const bool negative = (bits & 0x80u) != 0;
  const uint32_t code = bits & 0x7fu;
  if (code == spec.nan_code || (spec.exponent_bits == 5 && code > 0x7cu)) return NAN;
  const uint32_t mantissa_mask = (1u << spec.mantissa_bits) - 1u;
  const int exponent = static_cast<int>(code >> spec.mantissa_bits);
  const float mantissa = static_cast<float>(code & mantissa_mask);
  float magnitude;
  if (exponent == 0) {
    magnitude = ldexpf(mantissa, 1 - spec.bias - spec.mantissa_bits);
  } else if (spec.exponent_bits == 5 && code == 0x7cu) {
    magnitude = INFINITY;
  } else {
    magnitude = ldexpf(1.0f + mantissa / static_cast<float>(1u << spec.mantissa_bits),
                       exponent - spec.bias);
  }
  return negative ? -magnitude : magnitude;
}

}  // namespace bcfeat
