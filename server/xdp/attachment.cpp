#include "server/xdp/attachment.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "server/xdp/program.hpp"

namespace xdp {
namespace {

using Mode = Settings::Mode;
using ZeroCopy = Settings::ZeroCopy;

// program.bpf.c's struct target.
struct ProgramTarget {
  std::uint8_t ipv6;
  std::uint8_t pad;
  std::uint16_t port;  // network order
  std::array<std::uint8_t, 4> ipv4;
  std::array<std::uint8_t, 16> ipv6_address;
};
static_assert(sizeof(ProgramTarget) == 24);

// libbpf's own messages would go to stderr beside smeard's log; what failed is said there.
int quiet(enum libbpf_print_level, const char*, va_list) { return 0; }

Refusal refusal_for(int error, const std::string& what, const std::string& privilege) {
  if (error == EPERM) return {"no_privilege", what + ": " + std::strerror(error) + " (needs " + privilege + ")"};
  if (error == EBUSY || error == EEXIST) return {"busy", what + ": " + std::strerror(error)};
  if (error == EOPNOTSUPP || error == EPROTONOSUPPORT || error == EINVAL) {
    return {"unsupported", what + ": " + std::strerror(error)};
  }
  return {"error", what + ": " + std::strerror(error)};
}

}  // namespace

unsigned receive_queues(const std::string& interface) {
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    ethtool_channels channels{};
    channels.cmd = ETHTOOL_GCHANNELS;
    ifreq request{};
    std::strncpy(request.ifr_name, interface.c_str(), IFNAMSIZ - 1);
    request.ifr_data = reinterpret_cast<char*>(&channels);
    const bool known = ::ioctl(fd, SIOCETHTOOL, &request) == 0;
    ::close(fd);
    if (known && channels.combined_count + channels.rx_count > 0) return channels.combined_count + channels.rx_count;
  }
  unsigned queues = 0;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/sys/class/net/" + interface + "/queues", error)) {
    if (entry.path().filename().string().starts_with("rx-")) ++queues;
  }
  return queues == 0 ? 1 : queues;
}

std::unique_ptr<Attachment> Attachment::open(const Settings& settings, const Target& target, unsigned queues,
                                             Refusal& refusal) {
  libbpf_set_print(quiet);
  std::unique_ptr<Attachment> attachment{new Attachment()};
  attachment->interface_ = settings.interface;
  const unsigned ifindex = ::if_nametoindex(settings.interface.c_str());
  if (ifindex == 0) {
    refusal = {"no_interface", "no interface named " + settings.interface};
    return nullptr;
  }
  const std::span<const unsigned char> program = program_object();
  bpf_object* object = bpf_object__open_mem(program.data(), program.size(), nullptr);
  if (object == nullptr) {
    refusal = {"error", std::string{"opening the XDP program: "} + std::strerror(errno)};
    return nullptr;
  }
  attachment->object_ = object;
  if (const int e = bpf_object__load(object); e != 0) {
    refusal = refusal_for(-e, "loading the XDP program", "CAP_BPF and CAP_NET_ADMIN");
    // EACCES here is the kernel's verifier refusing the program, not a missing privilege.
    if (-e == EACCES) refusal = {"unsupported", "this kernel's verifier refuses smeard's XDP program"};
    return nullptr;
  }
  ProgramTarget wanted{};
  wanted.ipv6 = target.ipv6 ? 1 : 0;
  wanted.port = htons(target.port);
  std::memcpy(wanted.ipv4.data(), target.address.data(), 4);
  if (target.ipv6) wanted.ipv6_address = target.address;
  const int targets = bpf_object__find_map_fd_by_name(object, "targets");
  const int sockets = bpf_object__find_map_fd_by_name(object, "sockets");
  const std::uint32_t zero = 0;
  if (targets < 0 || sockets < 0 || bpf_map_update_elem(targets, &zero, &wanted, BPF_ANY) != 0) {
    refusal = {"error", std::string{"setting up the XDP program's maps: "} + std::strerror(errno)};
    return nullptr;
  }
  const int program_fd = bpf_program__fd(bpf_object__find_program_by_name(object, "smeard_xdp"));
  const auto attach = [&](std::uint32_t flags) {
    LIBBPF_OPTS(bpf_link_create_opts, options, .flags = flags);
    return bpf_link_create(program_fd, static_cast<int>(ifindex), BPF_XDP, &options);
  };
  int link = -1;
  int error = 0;
  if (settings.mode != Mode::generic) {
    link = attach(XDP_FLAGS_DRV_MODE);
    error = link < 0 ? -link : 0;
  }
  // Only an interface whose driver has no XDP of its own falls back to generic.
  if (link < 0 && settings.mode != Mode::native && (settings.mode == Mode::generic || error == EOPNOTSUPP || error == EINVAL)) {
    link = attach(XDP_FLAGS_SKB_MODE);
    error = link < 0 ? -link : 0;
    attachment->generic_ = true;
  }
  if (link < 0) {
    refusal = refusal_for(error, "attaching the XDP program to " + settings.interface + " (" +
                                     (attachment->generic_ ? "generic" : "native") + " mode)",
                          "CAP_BPF and CAP_NET_ADMIN");
    if (error == EBUSY || error == EEXIST) refusal.problem += ": another XDP program is attached to " + settings.interface;
    return nullptr;
  }
  attachment->link_fd_ = link;

  for (unsigned q = 0; q < queues; ++q) {
    QueueOptions options{settings.interface, q, false, attachment->generic_, settings.busy_poll};
    std::string problem;
    int number = 0;
    std::unique_ptr<Queue> queue;
    const bool try_zero_copy = !attachment->generic_ && settings.zero_copy != ZeroCopy::off;
    if (try_zero_copy) {
      options.zero_copy = true;
      queue = Queue::open(options, problem, number);
    }
    if (!queue && settings.zero_copy != ZeroCopy::on) {
      options.zero_copy = false;
      queue = Queue::open(options, problem, number);
    }
    if (!queue) {
      if (settings.zero_copy == ZeroCopy::on && attachment->generic_) {
        refusal = {"unsupported", "zero_copy: on, but " + settings.interface + " runs the program in generic mode"};
      } else {
        refusal = refusal_for(number, problem, "CAP_NET_RAW, and CAP_IPC_LOCK or a memlock limit of 8 MiB per queue");
        if (number == ENOBUFS || number == ENOMEM) refusal.reason = "no_privilege";
      }
      return nullptr;  // the destructor detaches
    }
    const int fd = queue->fd();
    if (bpf_map_update_elem(sockets, &q, &fd, BPF_ANY) != 0) {
      refusal = {"error", std::string{"adding the AF_XDP socket to the program's map: "} + std::strerror(errno)};
      return nullptr;
    }
    attachment->zero_copy_ = queue->zero_copy();
    attachment->queues_.push_back(std::move(queue));
  }
  return attachment;
}

void Attachment::detach() {
  if (link_fd_ >= 0) ::close(link_fd_);
  link_fd_ = -1;
}

Attachment::~Attachment() {
  detach();
  queues_.clear();
  if (object_ != nullptr) bpf_object__close(object_);
}

}  // namespace xdp
