// listeners: the NTP sockets, each serving one timescale.
#include <algorithm>

#include "config/sections.hpp"

namespace config {

namespace {

void read_address(Cursor in, Listener& listener) {
  if (!in.exists()) return;
  listener.location = in.location();
  const auto text = in.string();
  if (!text) return;
  const auto parsed = parse_socket_address(*text);
  if (parsed && parsed->port == 0) {
    in.fail("'" + *text + "' needs a port from 1 to 65535");
  } else if (parsed) {
    listener.address = *parsed;
  } else {
    in.fail("'" + *text + "' is not a numeric address with a port, e.g. \"0.0.0.0:123\" or \"[::]:123\"");
  }
}

std::optional<Xdp> read_xdp(Cursor in) {
  if (!in.exists() || !in.map()) return std::nullopt;
  Xdp xdp;
  Cursor interface = in["interface"].required();
  if (interface.exists()) xdp.location = interface.location();
  if (const auto name = interface.string()) {
    if (valid_interface_name(*name)) {
      xdp.interface = *name;
    } else {
      interface.fail("'" + *name + "' is not an interface name (1 to 15 characters, no '/', ':' or white space)");
    }
  }
  using Mode = Xdp::Mode;
  using ZeroCopy = Xdp::ZeroCopy;
  xdp.mode = in["mode"]
                 .one_of<Mode>({{"auto", Mode::automatic}, {"native", Mode::native}, {"generic", Mode::generic}},
                               "auto, native (in the driver) or generic (after the driver, slower)")
                 .value_or(xdp.mode);
  xdp.zero_copy = in["zero_copy"]
                      .one_of<ZeroCopy>({{"auto", ZeroCopy::automatic}, {"on", ZeroCopy::on}, {"off", ZeroCopy::off}},
                                        "auto, on or off")
                      .value_or(xdp.zero_copy);
  xdp.busy_poll = in["busy_poll"].boolean().value_or(false);
  in.no_other_keys();
  if (xdp.mode == Mode::generic && xdp.zero_copy == ZeroCopy::on) {
    in["zero_copy"].fail("zero-copy needs the driver's XDP: use mode: native or auto");
  }
  return xdp;
}

}  // namespace

void read_listeners(Cursor in, std::vector<Listener>& listeners) {
  if (!in.list()) return;
  if (in.size() == 0) in.fail("at least one listener is needed");
  if (in.size() > 255) in.fail("at most 255 listeners");
  for (Cursor item : in.items()) {
    if (!item.map()) continue;
    Listener listener;
    listener.key = item.path();
    read_address(item["address"].required(), listener);
    Cursor timescale = item["timescale"].required();
    if (timescale.exists()) listener.timescale_location = timescale.location();
    listener.timescale = timescale.non_empty("a timescale name is needed").value_or("");
    Cursor xdp = item["xdp"];
    listener.xdp = read_xdp(xdp);
    if (listener.xdp && listener.address.is_wildcard()) {
      xdp.fail("needs a listener with a specific address: on a wildcard the program would also take NTP requests "
               "routed through this host to others");
    }
    item.no_other_keys();
    // One program per interface: it sends one listener's requests to its sockets.
    const auto same_interface = std::ranges::find_if(listeners, [&](const Listener& other) {
      return listener.xdp && other.xdp && other.xdp->interface == listener.xdp->interface;
    });
    if (same_interface != listeners.end()) {
      xdp["interface"].fail("'" + listener.xdp->interface + "' already serves " + same_interface->key +
                            " through AF_XDP; an interface takes one XDP listener");
    }
    listeners.push_back(std::move(listener));
  }
}

}  // namespace config
