#include "bcfeat/framework/bd_rate.h"

#include <algorithm>
#include <cmath>

#include "bcfeat/framework/error.h"

namespace bcfeat {

namespace {

// Piecewise cubic Hermite interpolant through (x_k, y_k), x strictly increasing.
class Pchip {
 public:
  Pchip(std::vector<double> x, std::vector<double> y) : x_(std::move(x)), y_(std::move(y)), m_(x_.size()) {
    const size_t n = x_.size();
    std::vector<double> h(n - 1), delta(n - 1);
    for (size_t k = 0; k + 1 < n; ++k) {
      h[k] = x_[k + 1] - x_[k];
      delta[k] = (y_[k + 1] - y_[k]) / h[k];
    }
    for (size_t k = 1; k + 1 < n; ++k) {
      if (delta[k - 1] * delta[k] <= 0.0) {
        m_[k] = 0.0;
      } else {
        const double w1 = 2.0 * h[k] + h[k - 1], w2 = h[k] + 2.0 * h[k - 1];
        m_[k] = (w1 + w2) / (w1 / delta[k - 1] + w2 / delta[k]);
      }
    }
    m_[0] = edge(h[0], h[1], delta[0], delta[1]);
    m_[n - 1] = edge(h[n - 2], h[n - 3], delta[n - 2], delta[n - 3]);
  }

  double operator()(double x) const {
    size_t k = std::upper_bound(x_.begin(), x_.end(), x) - x_.begin();
    k = std::min(std::max<size_t>(k, 1), x_.size() - 1) - 1;
    const double h = x_[k + 1] - x_[k], t = (x - x_[k]) / h;
    const double t2 = t * t, t3 = t2 * t;
    return (2 * t3 - 3 * t2 + 1) * y_[k] + (t3 - 2 * t2 + t) * h * m_[k] + (-2 * t3 + 3 * t2) * y_[k + 1] +
           (t3 - t2) * h * m_[k + 1];
  }

  // Exact integral over [a, b] within the knots: Simpson's rule is exact for cubics.
  double integral(double a, double b) const {
    double total = 0.0;
    for (size_t k = 0; k + 1 < x_.size(); ++k) {
      const double lo = std::max(a, x_[k]), hi = std::min(b, x_[k + 1]);
      if (hi <= lo) continue;
      total += (hi - lo) / 6.0 * ((*this)(lo) + 4.0 * (*this)(0.5 * (lo + hi)) + (*this)(hi));
    }
    return total;
  }

 private:
  static double sign(double v) { return (v > 0) - (v < 0); }
  static double edge(double h0, double h1, double d0, double d1) {
    double m = ((2.0 * h0 + h1) * d0 - h0 * d1) / (h0 + h1);
    if (sign(m) != sign(d0)) {
      m = 0.0;
    } else if (sign(d0) != sign(d1) && std::fabs(m) > 3.0 * std::fabs(d0)) {
      m = 3.0 * d0;
    }
    return m;
  }

  std::vector<double> x_, y_, m_;
};

Pchip log_rate_curve(std::vector<RatePoint> points, const char* name) {
  if (points.size() < 4) throw_input_error("BD-rate needs at least 4 points per curve; the {} curve has {}", name, points.size());
  std::sort(points.begin(), points.end(), [](const RatePoint& a, const RatePoint& b) { return a.quality < b.quality; });
  std::vector<double> x, y;
  for (const auto& point : points) {
    if (!(point.rate > 0.0) || !std::isfinite(point.quality)) {
      throw_input_error("BD-rate: the {} curve has a point with rate {} and quality {}", name, point.rate, point.quality);
    }
    if (!x.empty() && point.quality <= x.back()) {
      throw_input_error("BD-rate: the {} curve has two points with quality {}", name, point.quality);
    }
    x.push_back(point.quality);
    y.push_back(std::log10(point.rate));
  }
  return Pchip(std::move(x), std::move(y));
}

double min_quality(const std::vector<RatePoint>& points) {
  double v = points.front().quality;
  for (const auto& p : points) v = std::min(v, p.quality);
  return v;
}
double max_quality(const std::vector<RatePoint>& points) {
  double v = points.front().quality;
  for (const auto& p : points) v = std::max(v, p.quality);
  return v;
}

}  // namespace

BdRateResult bd_rate(std::vector<RatePoint> reference, std::vector<RatePoint> test) {
  const Pchip reference_curve = log_rate_curve(reference, "reference");
  const Pchip test_curve = log_rate_curve(test, "test");
  const double low = std::max(min_quality(reference), min_quality(test));
  const double high = std::min(max_quality(reference), max_quality(test));
  if (!(high > low)) throw_input_error("BD-rate: the curves' quality ranges do not overlap");
  const double mean_difference = (test_curve.integral(low, high) - reference_curve.integral(low, high)) / (high - low);
  return {(std::pow(10.0, mean_difference) - 1.0) * 100.0, low, high};
}

}  // namespace bcfeat
