#pragma once

#include <string_view>

namespace flavourgraph {

inline constexpr std::string_view kName = "flavourgraph";
inline constexpr std::string_view kVersion = "0.1.0";

}  // namespace flavourgraph
