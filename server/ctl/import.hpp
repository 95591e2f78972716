#pragma once

#include <string_view>
#include <vector>

namespace ctl {

// smearctl import FILE [--out FILE.yaml] [--from chrony|ntpd|ntpd-rs], from its arguments (after
// the command word): reads FILE, writes the smeard configuration to --out or standard output.
int import_command(const std::vector<std::string_view>& args);

}  // namespace ctl
