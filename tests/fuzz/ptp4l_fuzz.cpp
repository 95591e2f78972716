// ptp4l's management replies: any datagram in. A rejection says why; a reply, whatever it
// holds, can be judged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <variant>

#include "server/reference/ptp4l.hpp"

namespace ptp4l = reference::ptp4l;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto decoded = ptp4l::decode_reply(std::as_bytes(std::span{data, size}));
  if (const auto* rejected = std::get_if<ptp4l::Rejected>(&decoded)) {
    if (rejected->why.empty()) std::abort();
    return 0;
  }
  ptp4l::Answers answers;
  std::visit(
      [&](const auto& body) {
        using Body = std::decay_t<decltype(body)>;
        if constexpr (std::is_same_v<Body, ptp4l::PortDataSet>) answers.ports.push_back(body);
        if constexpr (std::is_same_v<Body, ptp4l::TimeStatus>) answers.time_status = body;
        if constexpr (std::is_same_v<Body, ptp4l::DefaultDataSet>) answers.default_data_set = body;
        if constexpr (std::is_same_v<Body, ptp4l::ParentDataSet>) answers.parent_data_set = body;
        if constexpr (std::is_same_v<Body, ptp4l::ManagementError>) answers.errors.push_back(body);
      },
      std::get<ptp4l::Reply>(decoded).body);
  const ptp4l::Verdict verdict = ptp4l::judge(ptp4l::Observed{answers, {}, {}}, "/var/run/ptp4l");
  // One reply is never a whole round: nothing synchronizes on it alone, and the reason is given.
  if (verdict.synchronized || verdict.why.empty()) std::abort();
  return 0;
}
