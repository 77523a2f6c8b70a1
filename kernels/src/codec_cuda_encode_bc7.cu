// CUDA encoders for BC7 (instantiations of cuda_encode.cuh's launcher).
#define BCFEAT_CUDA_ENCODE_DEFINITIONS
#include "cuda_encode.cuh"

namespace bcfeat {
namespace cuda_encode {

template void launch_encode_format<FormatId::kBC7>(Quality, const float*, int, int, int, BlockGrid, uint8_t*, cudaStream_t);

}  // namespace cuda_encode
}  // namespace bcfeat
