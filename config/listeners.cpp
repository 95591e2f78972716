// listeners: the NTP sockets, each serving one timescale.
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
    item.no_other_keys();
    listeners.push_back(std::move(listener));
  }
}

}  // namespace config
