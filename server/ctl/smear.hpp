#pragma once

#include <string_view>
#include <vector>

namespace ctl {

// smearctl smear | unsmear | plot, from their arguments (after the command word).
int smear_command(const std::vector<std::string_view>& args);
int unsmear_command(const std::vector<std::string_view>& args);
int plot_command(const std::vector<std::string_view>& args);

}  // namespace ctl
