// The `model.*` keys of the train experiment. Private to experiments/src.
#pragma once

#include <string>

#include "bcfeat/datasets/shapes_vqa.h"
#include "bcfeat/framework/models/tinyvlm.h"
#include "bcfeat/framework/params.h"

namespace bcfeat {

// Image size and vocabularies come from the data.
struct ModelParams {
  std::string kind = "tinyvlm";
  TinyVlmOptions options;
  void declare(ParamSet& params);
  TinyVlmOptions resolved(const ShapesVqaOptions& data) const;
  void check(const ShapesVqaOptions& data) const;
};

}  // namespace bcfeat
