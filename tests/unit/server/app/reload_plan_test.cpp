#include "server/app/reload_plan.hpp"

#include <doctest/doctest.h>

#include <string>

namespace {

const std::string kHead = R"(listeners:
  - {address: "127.0.0.1:1123", timescale: utc}
timescales:
  utc: {smear: none}
)";

config::Config parse(const std::string& tail) {
  const config::ParseResult result = config::parse(kHead + tail, "smeard.yaml");
  for (const config::Problem& p : result.problems) FAIL(p.to_string());
  REQUIRE(result.config);
  return *result.config;
}

const std::string kThree = R"(reference:
  sources:
    - {type: sock, path: /run/a.sock, prefer: true}
    - {type: upstream, servers: ["192.0.2.1", "192.0.2.2"], poll: 16}
    - {type: upstream, servers: ["192.0.2.3"]}
  minsources: 2
)";

}  // namespace

TEST_CASE("reload plan: unchanged sources are kept wherever they moved; changed ones are new") {
  const config::Config old = parse(kThree);
  // The first upstream's poll changes, the second is removed, another is added first, and the
  // refclock moves and loses its prefer option (which changes live).
  const config::Config next = parse(R"(reference:
  sources:
    - {type: upstream, servers: ["192.0.2.9"]}
    - {type: upstream, servers: ["192.0.2.1", "192.0.2.2"], poll: 32}
    - {type: sock, path: /run/a.sock}
)");
  const app::ReloadPlan plan = app::plan_reload(old, next, false, 2);
  CHECK(plan.refused.empty());
  REQUIRE(plan.kept_sources.size() == 3);
  CHECK(plan.kept_sources[0] == std::nullopt);
  CHECK(plan.kept_sources[1] == std::nullopt);
  CHECK(plan.kept_sources[2] == 0u);
  CHECK_FALSE(plan.leapdb_changed);
}

TEST_CASE("reload plan: the same settings twice are two sources, each kept once") {
  const config::Config old = parse(R"(reference:
  sources:
    - {type: upstream, servers: ["192.0.2.1"]}
    - {type: upstream, servers: ["192.0.2.1"], poll: 32}
)");
  const config::Config next = parse(R"(reference:
  sources:
    - {type: upstream, servers: ["192.0.2.1"], poll: 32}
    - {type: upstream, servers: ["192.0.2.1"]}
    - {type: upstream, servers: ["192.0.2.1"]}
)");
  const app::ReloadPlan plan = app::plan_reload(old, next, false, 2);
  CHECK(plan.kept_sources == std::vector<std::optional<std::size_t>>{1u, 0u, std::nullopt});
}

TEST_CASE("reload plan: the shorthand and a list of one are the same source") {
  const config::Config old = parse("reference: {type: sock, path: /run/a.sock, holdover: 60}\n");
  const config::Config next = parse("reference:\n  sources: [{type: sock, path: /run/a.sock}]\n  holdover: 120\n");
  CHECK(app::plan_reload(old, next, false, 2).kept_sources == std::vector<std::optional<std::size_t>>{0u});
}

TEST_CASE("reload plan: listeners, workers and NTS need a restart; some settings wait for one") {
  const config::Config old = parse(kThree);
  config::Config next = old;
  next.listeners[0].address.port = 2123;
  next.workers = 3;
  next.metrics.listen.reset();
  next.user = "nobody";
  next.ratelimit.enabled = true;
  const app::ReloadPlan plan = app::plan_reload(old, next, false, 2);
  CHECK(plan.refused == std::vector<std::string>{"smeard.yaml: listeners: listeners and workers can only change with a "
                                                 "restart"});
  CHECK(plan.deferred == std::vector<std::string>{"ratelimit.enabled takes effect at the next restart",
                                                  "user and group take effect at the next restart",
                                                  "metrics.listen takes effect at the next restart"});
  // Adding, moving or retuning a listener's AF_XDP path is a restart too.
  next = old;
  next.listeners[0].xdp.emplace().interface = "eth0";
  CHECK(app::plan_reload(old, next, false, 2).refused.size() == 1);
  config::Config with_xdp = next;
  next.listeners[0].xdp->busy_poll = true;
  CHECK(app::plan_reload(with_xdp, next, false, 2).refused.size() == 1);
  next.listeners[0].xdp->interface = "eth1";
  next.listeners[0].xdp->busy_poll = false;
  CHECK(app::plan_reload(with_xdp, next, false, 2).refused.size() == 1);
  CHECK(app::plan_reload(with_xdp, with_xdp, false, 2).refused.empty());
  next = old;
  next.metrics.max_connections_per_address = 2;
  CHECK(app::plan_reload(old, next, false, 2).deferred ==
        std::vector<std::string>{"metrics.allow and max_connections_per_address take effect at the next restart"});
  next = old;
  next.metrics.allow = {*config::parse_network("127.0.0.1")};
  CHECK(app::plan_reload(old, next, false, 2).deferred.size() == 1);
  next = old;
  next.leapdb.files = {"/elsewhere"};
  CHECK(app::plan_reload(old, next, false, 2).leapdb_changed);
  // `workers: auto` on two cores is two workers: the same layout.
  next = old;
  next.workers = 0;
  config::Config two = old;
  two.workers = 2;
  CHECK(app::plan_reload(two, next, false, 2).refused.empty());
  CHECK_FALSE(app::plan_reload(two, next, false, 3).refused.empty());
}

TEST_CASE("same source: what measures, not how it is selected or where it is written") {
  config::ReferenceSource a;
  a.type = config::ReferenceSource::Type::phc;
  a.device = "/dev/ptp0";
  config::ReferenceSource b = a;
  b.prefer = b.trust = b.require = b.noselect = true;
  b.key = "reference.sources[3]";
  CHECK(app::same_source(a, b));
  b.ptp4l = "/var/run/ptp4l";
  CHECK_FALSE(app::same_source(a, b));
  b = a;
  b.timescale = config::ReferenceSource::Timescale::utc;
  CHECK_FALSE(app::same_source(a, b));
}

TEST_CASE("same source: an upstream entry's kind, name and options are what it measures with") {
  const auto upstream = [](const std::string& servers) {
    return parse("reference: {type: upstream, servers: [" + servers + "]}\nkeys: /etc/k\n").reference.sources[0];
  };
  const config::ReferenceSource base = upstream("{pool: pool.example.net, max_sources: 2}, a.example.net");
  CHECK(app::same_source(base, upstream("{pool: pool.example.net, max_sources: 2}, {server: a.example.net}")));
  CHECK_FALSE(app::same_source(base, upstream("{pool: pool.example.net, max_sources: 3}, a.example.net")));
  CHECK_FALSE(app::same_source(base, upstream("{server: pool.example.net}, a.example.net")));
  CHECK_FALSE(
      app::same_source(base, upstream("{pool: pool.example.net, max_sources: 2}, {server: a.example.net, key: 1}")));
  CHECK_FALSE(
      app::same_source(base, upstream("{pool: pool.example.net, max_sources: 2}, {server: a.example.net, nts: true}")));
  config::ReferenceSource dump = base;
  dump.nts_dump_dir = "/var/lib/smeard/nts";
  CHECK_FALSE(app::same_source(base, dump));
}
