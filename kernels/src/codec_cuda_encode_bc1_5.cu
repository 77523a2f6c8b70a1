// CUDA encoders for BC1–BC5 (instantiations of cuda_encode.cuh's launcher).
#define BCFEAT_CUDA_ENCODE_DEFINITIONS
#include "cuda_encode.cuh"

namespace bcfeat {
namespace cuda_encode {

template void launch_encode_format<FormatId::kBC1>(Quality, const float*, int, int, int, BlockGrid, uint8_t*, cudaStream_t);
template void launch_encode_format<FormatId::kBC2>(Quality, const float*, int, int, int, BlockGrid, uint8_t*, cudaStream_t);
template void launch_encode_format<FormatId::kBC3>(Quality, const float*, int, int, int, BlockGrid, uint8_t*, cudaStream_t);
template void launch_encode_format<FormatId::kBC4Unorm>(Quality, const float*, int, int, int, BlockGrid, uint8_t*, cudaStream_t);
template void launch_encode_format<FormatId::kBC4Snorm>(Quality, const float*, int, int, int, BlockGrid, uint8_t*, cudaStream_t);
template void launch_encode_format<FormatId::kBC5Unorm>(Quality, const float*, int, int, int, BlockGrid, uint8_t*, cudaStream_t);
template void launch_encode_format<FormatId::kBC5Snorm>(Quality, const float*, int, int, int, BlockGrid, uint8_t*, cudaStream_t);

}  // namespace cuda_encode
}  // namespace bcfeat
