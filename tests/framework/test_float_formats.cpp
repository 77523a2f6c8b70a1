// Number formats: fp16, bf16, fp8. Bit-level properties checked exhaustively here; the
// rounding of random values is compared with numpy/ml_dtypes in tests/interop.
#include <cmath>
#include <cstring>

#include "bcfeat/kernels/float_formats.h"
#include "catch.h"

using namespace bcfeat;

namespace {
float from_bits(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}
}  // namespace

TEST_CASE("every finite fp16 value round-trips through float32") {
  for (uint32_t h = 0; h < 65536; ++h) {
    const bool nan = (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu) != 0;
    const float f = half_bits_to_float(static_cast<uint16_t>(h));
    if (nan) {
      CHECK(std::isnan(f));
    } else {
      REQUIRE(float_to_half_bits(f) == h);
    }
  }
}

TEST_CASE("fp16 rounds to nearest even and overflows to infinity") {
  CHECK(float_to_half_bits(1.0f + 1.0f / 2048) == 0x3c00u);                  // tie -> even (down)
  CHECK(float_to_half_bits(1.0f + 3.0f / 2048) == 0x3c02u);                  // tie -> even (up)
  CHECK(float_to_half_bits(65504.0f) == 0x7bffu);
  CHECK(float_to_half_bits(65519.0f) == 0x7bffu);
  CHECK(float_to_half_bits(65520.0f) == 0x7c00u);
  CHECK(float_to_half_bits(-1e30f) == 0xfc00u);
  CHECK(float_to_half_bits(5.9604644775390625e-8f) == 0x0001u);             // smallest subnormal
  CHECK(float_to_half_bits(2.98023223876953125e-8f) == 0x0000u);            // half of it: tie -> 0
  CHECK(float_to_half_bits(from_bits(0x33000001u)) == 0x0001u);             // just above the tie
}

TEST_CASE("bf16 keeps the top 16 bits with round-to-nearest-even") {
  CHECK(float_to_bfloat16_bits(1.0f) == 0x3f80u);
  CHECK(float_to_bfloat16_bits(from_bits(0x3f808000u)) == 0x3f80u);  // tie -> even
  CHECK(float_to_bfloat16_bits(from_bits(0x3f818000u)) == 0x3f82u);  // tie -> even (up)
  CHECK(float_to_bfloat16_bits(from_bits(0x3f808001u)) == 0x3f81u);
  CHECK(std::isnan(bfloat16_bits_to_float(float_to_bfloat16_bits(NAN))));
}

TEST_CASE("fp8 codes decode to the OCP tables and re-encode to themselves") {
  for (const Fp8Spec& spec : {kFp8E4M3, kFp8E5M2}) {
    int finite = 0;
    for (uint32_t code = 0; code < 256; ++code) {
      const float value = fp8_bits_to_float(static_cast<uint8_t>(code), spec);
      if (std::isnan(value) || std::isinf(value)) continue;
      ++finite;
      const uint8_t back = float_to_fp8_bits(value, spec);
      if (value == 0.0f) {
        CHECK((back & 0x7fu) == 0u);
      } else {
        REQUIRE(back == code);
      }
    }
    CHECK(finite == (spec.exponent_bits == 4 ? 254 : 248));
  }
  CHECK(fp8_bits_to_float(0x7e, kFp8E4M3) == 448.0f);
  CHECK(fp8_bits_to_float(0x01, kFp8E4M3) == std::ldexp(1.0f, -9));
  CHECK(fp8_bits_to_float(0x7b, kFp8E5M2) == 57344.0f);
  CHECK(float_to_fp8_bits(1e6f, kFp8E4M3) == 0x7eu);   // saturates
  CHECK(float_to_fp8_bits(-1e6f, kFp8E5M2) == 0xfbu);
  CHECK(float_to_fp8_bits(1.0625f, kFp8E4M3) == 0x38u);  // tie between 1 and 1.125 -> even (1)
}
