#pragma once
// program.bpf.c, compiled with clang -target bpf at build time and embedded in smeard.

#include <span>

namespace xdp {
std::span<const unsigned char> program_object();
}
