// Built instead of the .cu files when CUDA is off: the GPU paths report that they are absent.
#include <stdexcept>

#include "astc_codec.h"
#include "bc_codec.h"
#include "bcfeat/kernels/codebook.h"
#include "bcfeat/kernels/device_codec.h"
#include "bcfeat/kernels/feature_decode.h"
#include "bcfeat/kernels/kv_attention.h"
#include "bcfeat/kernels/scalar_codec.h"

namespace bcfeat {

namespace {
[[noreturn]] void no_cuda() { throw std::runtime_error("bcfeat was built without CUDA"); }
}  // namespace

bool cuda_codec_available() { return false; }
std::vector<uint8_t> bc_encode_cuda(const FormatInfo&, const float*, int, int, int, const CodecSettings&) { no_cuda(); }
std::vector<float> bc_decode_cuda(const FormatInfo&, const uint8_t*, int, int, const CodecSettings&) { no_cuda(); }
std::vector<float> bc_decode_texture(const FormatInfo&, const uint8_t*, int, int, const CodecSettings&) { no_cuda(); }
CudaTiming bc_time_encode_cuda(const FormatInfo&, const float*, int, int, int, const CodecSettings&, int) { no_cuda(); }
CudaTiming bc_time_decode_cuda(const FormatInfo&, Backend, const uint8_t*, int, int, const CodecSettings&, int) {
  no_cuda();
}
double measure_copy_bandwidth(int64_t, int) { no_cuda(); }
void bc_encode_device(const FormatInfo&, const float*, int, int, const CodecSettings&, uint8_t*, CudaStream) { no_cuda(); }
void bc_decode_device(const FormatInfo&, Backend, const uint8_t*, int, int, const CodecSettings&, float*, CudaStream) {
  no_cuda();
}
void astc_decode_device(const FormatInfo&, Backend, const uint8_t*, int, int, const CodecSettings&, float*, CudaStream) {
  no_cuda();
}
void int_encode_device(const float*, const GroupGeometry&, int, uint8_t*, uint8_t*, CudaStream) { no_cuda(); }
void int_decode_device(const uint8_t*, const GroupGeometry&, int, float*, CudaStream) { no_cuda(); }
void fp8_encode_device(const float*, const GroupGeometry&, Fp8Spec, uint8_t*, CudaStream) { no_cuda(); }
void fp8_decode_device(const uint8_t*, const GroupGeometry&, Fp8Spec, float*, CudaStream) { no_cuda(); }
void half_encode_device(const float*, int64_t, bool, uint8_t*, CudaStream) { no_cuda(); }
void half_decode_device(const uint8_t*, int64_t, bool, float*, CudaStream) { no_cuda(); }
void decode_spatial_features(const SpatialFeatureDecode&, Backend, const uint8_t*, CudaStream) { no_cuda(); }
DeviceKv::DeviceKv(const CompressedKv&, bool) { no_cuda(); }
DeviceKv::~DeviceKv() = default;
DeviceKv::DeviceKv(DeviceKv&&) noexcept {}
DeviceKv& DeviceKv::operator=(DeviceKv&&) noexcept { return *this; }
void DeviceKv::release() {}
void kv_attention(const KvAttentionParams&, Backend, CudaStream) { no_cuda(); }
void decode_kv_device(const DeviceKv&, ElementType, void*, CudaStream) { no_cuda(); }
std::vector<uint8_t> int_encode_cuda(const float*, const GroupGeometry&, int) { no_cuda(); }
std::vector<float> int_decode_cuda(const uint8_t*, const GroupGeometry&, int) { no_cuda(); }
std::vector<uint8_t> fp8_encode_cuda(const float*, const GroupGeometry&, Fp8Spec) { no_cuda(); }
std::vector<float> fp8_decode_cuda(const uint8_t*, const GroupGeometry&, Fp8Spec) { no_cuda(); }
std::vector<uint8_t> half_encode_cuda(const float*, int64_t, bool) { no_cuda(); }
std::vector<float> half_decode_cuda(const uint8_t*, int64_t, bool) { no_cuda(); }
std::vector<int32_t> codebook_assign_cuda(const float*, const CodebookShape&, const float*) { no_cuda(); }
std::vector<uint16_t> astc_decode_half_cuda(const FormatInfo&, Profile, const uint8_t*, int, int) { no_cuda(); }
CudaTiming astc_time_decode_cuda(const FormatInfo&, Backend, const uint8_t*, int, int, const CodecSettings&, int) {
  no_cuda();
}

}  // namespace bcfeat
