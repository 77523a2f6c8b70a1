// Every block decoder on arbitrary blocks: byte 0 picks the format, byte 1 the ASTC profile and
// the image width in blocks (1-8); the rest are the blocks (whole rows of them). bcfeat's CPU
// decoder runs on every format; the BC reference decoders too (libastcenc's, the ASTC reference,
// is not bcfeat's code and costs a context per call).
#include "fuzz_target.h"

#include "bcfeat/kernels/format.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace bcfeat;
  if (size < 2) return 0;
  const auto& formats = format_table();
  const FormatInfo& format = formats[data[0] % formats.size()];
  CodecSettings settings;
  settings.threads = 1;
  settings.profile = format.has_profiles && (data[1] & 0x80) ? Profile::kHdr : Profile::kLdr;
  const int blocks_wide = 1 + (data[1] & 7);
  const size_t row_bytes = size_t(blocks_wide) * format.bytes_per_block;
  const int blocks_high = int((size - 2) / row_bytes);
  if (blocks_high == 0) return 0;
  // Widths and heights that are not whole blocks: the decoders crop the last column and row.
  const int width = blocks_wide * format.block_width - ((data[1] >> 3) & 1);
  const int height = blocks_high * format.block_height - ((data[1] >> 4) & 1);
  if (width <= 0 || height <= 0) return 0;
  return fuzz::expect_clean([&] {
    decode_image(format, Backend::kCpu, data + 2, width, height, settings);
    if (format.container == Container::kDds && format.has_decoder(Backend::kReference)) {
      decode_image(format, Backend::kReference, data + 2, width, height, settings);
    }
  });
}
