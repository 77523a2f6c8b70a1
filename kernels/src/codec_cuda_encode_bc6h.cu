// CUDA encoders for BC6H (instantiations of cuda_encode.cuh's launcher).
#define BCFEAT_CUDA_ENCODE_DEFINITIONS
#include "cuda_encode.cuh"

namespace bcfeat {
namespace cuda_encode {

template void launch_encode_format<FormatId::kBC6HUf16>(Quality, const float*, int, int, int, BlockGrid, uint8_t*, cudaStream_t);
template void launch_encode_format<FormatId::kBC6HSf16>(Quality, const float*, int, int, int, BlockGrid, uint8_t*, cudaStream_t);

}  // namespace cuda_encode
}  // namespace bcfeat
