// Bjøntegaard delta rate (BD-rate): the average rate difference between two rate–quality
// curves at equal quality, as video coding reports it.
//
// Each curve's log10(rate) is interpolated as a function of quality with a monotone
// piecewise cubic Hermite interpolant (PCHIP, Fritsch–Carlson slopes with the three-point
// end conditions scipy's PchipInterpolator uses), integrated exactly over the quality range
// both curves cover; BD-rate = 10^(mean log-rate difference) − 1, in percent. Negative
// means the test curve needs fewer bits for the same quality.
#pragma once

#include <vector>

namespace bcfeat {

struct RatePoint {
  double rate;     // e.g. bits_per_value (> 0)
  double quality;  // e.g. psnr_db
};

struct BdRateResult {
  double percent;
  double quality_low, quality_high;  // the overlap integrated over
};

// Throws InputError with fewer than 4 points per curve, non-positive rates, repeated
// quality values, or curves whose quality ranges do not overlap.
BdRateResult bd_rate(std::vector<RatePoint> reference, std::vector<RatePoint> test);

}  // namespace bcfeat
