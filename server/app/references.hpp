#pragma once
// The configured sources, opened and polled together, and the one selection among them
// (reference/selector.hpp) that gives the estimate replies are served from.

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "config/config.hpp"
#include "server/ntp/auth.hpp"
#include "server/reference/quality.hpp"
#include "server/reference/selector.hpp"
#include "server/reference/source.hpp"

namespace app {

class References {
 public:
  // Every source opened, or the first problem, naming its entry. `keys`: the keys file in force.
  static std::variant<std::unique_ptr<References>, config::Problem> open(const config::Reference& settings,
                                                                         std::int8_t precision,
                                                                         leapdb::Nanoseconds raw,
                                                                         std::shared_ptr<const ntp::KeyRing> keys);

  // The first problem open() would find, with nothing opened for good (check_source).
  static std::optional<config::Problem> check(const config::Reference& settings, std::int8_t precision,
                                              const std::shared_ptr<const ntp::KeyRing>& keys);

  // A reload, in two steps so that nothing changes until everything else in the reload has
  // worked. `kept[i]`: the current source that new source i continues unchanged (plan_reload).
  // First the sources no current one continues are opened (null where one is kept), or the
  // first problem; then they take their places, the kept ones moved beside them.
  using Opened = std::vector<std::unique_ptr<reference::Source>>;
  std::variant<Opened, config::Problem> open_new(const config::Reference& settings,
                                                 std::span<const std::optional<std::size_t>> kept,
                                                 const std::shared_ptr<const ntp::KeyRing>& keys) const;
  void reconfigure(const config::Reference& settings, std::span<const std::optional<std::size_t>> kept, Opened opened,
                   leapdb::Nanoseconds raw);

  reference::Estimate poll(const reference::Tick& tick);
  // Each source's rows, as the selection judged it.
  std::vector<reference::SourceReport> report() const;
  std::vector<reference::Notice> take_notices();

  reference::HoldoverPolicy policy() const;
  // "upstream", or for several sources their types, "phc+sock+upstream": stable for a configuration.
  std::string types() const;
  std::uint64_t selection_changes() const { return selector_.changes(); }
  // The source replies name now, if one is selected.
  std::optional<std::string> selected() const;

 private:
  struct Member {
    config::ReferenceSource settings;
    std::string name;
    std::unique_ptr<reference::Source> source;
    reference::Estimate estimate;
  };
  References(config::Reference settings, std::vector<Member> members, std::int8_t precision, leapdb::Nanoseconds raw);
  static reference::SelectorSettings selector_settings(const config::Reference& settings);

  config::Reference settings_;
  std::vector<Member> members_;
  std::int8_t precision_;
  reference::Selector selector_;
  std::vector<reference::Notice> notices_;
};

}  // namespace app
